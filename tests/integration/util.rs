//! Helpers that several test files used in identical copies.

use std::path::{Path, PathBuf};
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

/// `cssim` run as a user of the workspace at `ws` (`CSSIM_WORKSPACE`), from
/// the repository's root, never with the crash hook of `crash_window`'s tests.
pub fn cssim_in(ws: &Path) -> Command {
    let mut c = cssim();
    c.env("CSSIM_WORKSPACE", ws)
        .env_remove("CSSIM_CRASH_AFTER")
        .current_dir(root());
    c
}

/// A workspace made by the library in a temporary folder that lives as long
/// as it does.
pub struct Ws {
    /// The temporary folder the workspace is in (removed on drop).
    pub dir: tempfile::TempDir,
    /// The workspace's folder.
    pub path: PathBuf,
    /// The workspace, opened.
    pub ws: cssim::workspace::Workspace,
}

/// A fresh workspace (`Workspace::init`, as `cssim init` makes it).
pub fn workspace() -> Ws {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws");
    let ws = cssim::workspace::Workspace::init(&path, None).unwrap();
    Ws { dir, path, ws }
}

/// `cssim scenario check` and `run` both refuse the scenario at `path`, run
/// in `dir`: exit 2, one line of stderr containing `want`, no output folder.
pub fn refused_in_one_line(path: &Path, dir: &Path, want: &str) {
    for cmd in ["check", "run"] {
        let mut c = cssim();
        c.args(["scenario", cmd]).arg(path).current_dir(dir);
        if cmd == "run" {
            c.args(["--out", "o"]);
        }
        let o = c.output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {err}");
        assert!(err.contains(want), "{cmd}: {err}\n  wanted: {want}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(!dir.join("o").exists());
    }
}

/// A command's standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A command's standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Each line of a command's standard output as a JSON value (`--json`
/// streams).
pub fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `cssim init` of a workspace at `dir/ws` (alice, bob, the moderator, the
/// demo hash set); returns its path.
pub fn init_workspace(dir: &Path) -> PathBuf {
    let ws = dir.join("ws");
    let out = cssim().arg("init").arg(&ws).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("identities: alice, bob, moderator"),
        "{}",
        stdout(&out)
    );
    ws
}

/// `cssim send --from alice --to bob --json` with `args` in workspace `ws`
/// (from the repository root, so `examples/…` paths work); the outcome.
pub fn send_json(ws: &Path, args: &[&str]) -> serde_json::Value {
    let out = cssim()
        .env("CSSIM_WORKSPACE", ws)
        .current_dir(root())
        .args(["send", "--from", "alice", "--to", "bob", "--json"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "send failed: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `cssim keygen --issuer ISSUER -o KEY`: an issuer key pair (`KEY`,
/// `KEY.pub`).
pub fn keygen(key: &Path, issuer: &str) {
    let out = cssim()
        .args(["keygen", "--issuer", issuer, "-o"])
        .arg(key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("fingerprint"), "{}", stdout(&out));
}

/// `cssim hashset build --from FROM --created CREATED --sign KEY -o OUT`
/// and `extra`, from the repository root; must succeed.
pub fn build_set(from: &Path, key: &Path, out: &Path, extra: &[&str]) {
    let o = cssim()
        .current_dir(root())
        .args(["hashset", "build", "--created", "2025-06-01T00:00:00Z"])
        .arg("--from")
        .arg(from)
        .arg("--sign")
        .arg(key)
        .arg("-o")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}
