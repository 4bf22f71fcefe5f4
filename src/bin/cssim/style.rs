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
