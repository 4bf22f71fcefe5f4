//! Helpers that several test files used in identical copies.

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;

/// The repository's root, which the tests' relative paths (`examples/…`,
/// `tests/data/…`) are relative to.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `cssim` binary, without colour in its output.
pub fn cssim() -> Command {
    let mut c = Command::cargo_bin("cssim").expect("binary built");
    c.env("NO_COLOR", "1");
    c
}

/// A command's standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A command's standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
