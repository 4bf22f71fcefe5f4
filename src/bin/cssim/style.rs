//! Terminal styling: colour only on a terminal, never with `NO_COLOR`.

use std::io::IsTerminal;

/// Whether stdout should get colour.
pub fn stdout_colour() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Whether stderr should get colour.
pub fn stderr_colour() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Wraps `s` in an ANSI colour when `on`.
pub fn paint(s: &str, code: &str, on: bool) -> String {
    if on {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// `error: …` for stderr, red on terminals.
pub fn error_line(msg: &str) -> String {
    format!("{} {msg}", paint("error:", "1;31", stderr_colour()))
}

/// `warning: …` for stderr, yellow on terminals.
pub fn warning_line(msg: &str) -> String {
    format!("{} {msg}", paint("warning:", "1;33", stderr_colour()))
}

/// An input that could not be processed, as `--json` prints it: one line
/// `{"path": …, "error": …}` on stdout, and nothing on stderr (the
/// convention every `--json` command follows; without `--json` the same
/// failure is one `error: …` line on stderr). The exit status is then 1.
pub fn json_failure(path: &std::path::Path, message: &str) -> String {
    use cssim::report::{Exporter, Failure, Json};
    let failure = Failure {
        path: path.to_path_buf(),
        error: message.to_string(),
    };
    // A `Failure` is two strings: it always serialises.
    Json::lines()
        .record(&failure)
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

/// The exporter `--json` / `--csv` choose (a table otherwise).
pub fn format(json: bool, csv: bool) -> cssim::report::Format {
    use cssim::report::Format;
    match (json, csv) {
        (true, _) => Format::Json,
        (_, true) => Format::Csv,
        _ => Format::Table,
    }
}

/// What starts a stream of `T` in `format` (a table's header line).
pub fn header<T: cssim::report::Tabular>(format: cssim::report::Format) -> String {
    use cssim::report::{Csv, Exporter, Format, Json, Table};
    match format {
        Format::Table => Table::coloured(stdout_colour()).header::<T>(),
        Format::Json => Json::lines().header::<T>(),
        Format::Csv => Csv.header::<T>(),
    }
}

/// One result of a stream in `format` (a JSON line, a table's rows).
pub fn record<T: cssim::report::Tabular>(
    format: cssim::report::Format,
    result: &T,
) -> Result<String, cssim::report::Error> {
    use cssim::report::{Csv, Exporter, Format, Json, Table};
    match format {
        Format::Table => Table::coloured(stdout_colour()).record(result),
        Format::Json => Json::lines().record(result),
        Format::Csv => Csv.record(result),
    }
}
