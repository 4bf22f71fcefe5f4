//! The `cssim` command line: argument parsing, printing and exit codes.
//! All logic a library user would need lives in the `cssim` library.

mod hash_cmd;
mod style;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status when every input was processed.
pub const EXIT_OK: u8 = 0;
/// Exit status when the command ran but some inputs failed (each was reported).
pub const EXIT_SOME_FAILED: u8 = 1;
/// Exit status when the command could not run at all (bad arguments, unreadable key…).
pub const EXIT_ERROR: u8 = 2;

const AFTER_HELP: &str = "\
Exit status: 0 when everything succeeded; 1 when the command ran but some
inputs failed (each failure is reported on stderr, one line each); 2 when the
command could not run (bad arguments, unreadable configuration).

Colour is used on terminals; set NO_COLOR=1 to turn it off.";

/// cssim — a client-side scanning simulator: hash, scan, encrypt and measure.
///
/// Client-side scanning checks each message on the sender's device against a
/// list of hashes of known material before it is encrypted end to end. cssim
/// builds that pipeline from real parts so its false positives, evasions and
/// costs can be measured.
#[derive(Parser, Debug)]
#[command(name = "cssim", version, after_help = AFTER_HELP, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Hash files and folders with perceptual (PDQ, pHash, dHash, aHash) and exact hashes.
    Hash(hash_cmd::HashArgs),
    /// Compare two images: the distance under each algorithm and whether it is a match.
    Compare(hash_cmd::CompareArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Hash(args) => hash_cmd::run_hash(args),
        Command::Compare(args) => hash_cmd::run_compare(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("{}", style::error_line(&format!("{err:#}")));
            ExitCode::from(EXIT_ERROR)
        }
    }
}
