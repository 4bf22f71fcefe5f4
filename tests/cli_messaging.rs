//! Scan-before-send messaging through the real binary: init, send, inbox,
//! relay show, moderate, demo — and every kind of bad input the issue lists.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use predicates::prelude::*;
use tempfile::TempDir;

const LISTED: &str = "examples/images/listed/rocket.jpg";
const BENIGN: &str = "examples/images/benign/astronaut.jpg";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn cssim(ws: &Path) -> Command {
    let mut c = Command::cargo_bin("cssim").expect("binary");
    c.env("NO_COLOR", "1")
        .env("CSSIM_WORKSPACE", ws)
        .current_dir(root());
    c
}

struct Ws {
    _dir: TempDir,
    path: PathBuf,
}

fn workspace() -> Ws {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws");
    Command::cargo_bin("cssim")
        .unwrap()
        .arg("init")
        .arg(&path)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "identities: alice, bob, moderator",
        ));
    Ws { _dir: dir, path }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn send_json(ws: &Path, args: &[&str]) -> serde_json::Value {
    let out = cssim(ws)
        .args(["send", "--from", "alice", "--to", "bob", "--json"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "send failed: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn relay_message_count(ws: &Path) -> usize {
    let out = cssim(ws)
        .args(["relay", "show", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["messages"].as_array().unwrap().len()
}

#[test]
fn a_text_travels_encrypted_and_the_relay_never_sees_it() {
    let ws = workspace();
    let secret_text = "meet me by the old oak at seven";
    let v = send_json(&ws.path, &["--text", secret_text]);
    assert_eq!(v["verdict"]["action"], "allow");
    assert_eq!(v["sent"], true);
    let shown = cssim(&ws.path).args(["relay", "show"]).output().unwrap();
    assert!(shown.status.success());
    assert!(stdout(&shown).contains("alice → bob"));
    assert!(
        !stdout(&shown).contains("oak"),
        "the relay view shows no plaintext"
    );
    let db = std::fs::read(ws.path.join("relay.db")).unwrap();
    assert!(
        !db.windows(8).any(|w| w == b"old oak "),
        "the database holds no plaintext"
    );
    cssim(&ws.path)
        .args(["inbox", "bob"])
        .assert()
        .success()
        .stdout(predicate::str::contains(secret_text));
    // Delivered exactly once.
    cssim(&ws.path)
        .args(["inbox", "bob"])
        .assert()
        .success()
        .stdout("bob: no new messages\n");
}

#[test]
fn a_listed_image_is_reported_delivered_and_moderated() {
    let ws = workspace();
    let v = send_json(&ws.path, &["--attach", LISTED]);
    assert_eq!(v["verdict"]["action"], "report");
    let matches = v["verdict"]["matches"].as_array().unwrap();
    assert!(
        matches
            .iter()
            .any(|m| m["algorithm"] == "pdq" && m["hit"]["distance"] == 0)
    );
    assert!(matches.iter().any(|m| m["algorithm"] == "sha256"));
    assert_eq!(v["report"]["released_now"], 1);
    assert_eq!(v["sent"], true);
    assert_eq!(
        v["sender_told"], false,
        "the default policy does not tell the sender"
    );
    let benign = send_json(&ws.path, &["--attach", BENIGN, "--text", "hi"]);
    assert_eq!(benign["verdict"]["action"], "allow");

    let list = cssim(&ws.path)
        .args(["moderate", "list", "--json"])
        .output()
        .unwrap();
    let reports: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), 1, "only the listed image was reported");
    assert_eq!(reports[0]["account"], "alice");
    let id = reports[0]["id"].as_str().unwrap()[..8].to_string();
    let evidence = ws.path.join("evidence");
    cssim(&ws.path)
        .args(["moderate", "open", &id, "--save"])
        .arg(&evidence)
        .assert()
        .success()
        .stdout(predicate::str::contains("label 'stand-in"));
    let saved: Vec<_> = std::fs::read_dir(&evidence).unwrap().collect();
    assert_eq!(saved.len(), 1);
    let bytes = std::fs::read(saved[0].as_ref().unwrap().path()).unwrap();
    assert_eq!(
        bytes,
        std::fs::read(root().join(LISTED)).unwrap(),
        "the evidence is the image itself"
    );
    cssim(&ws.path)
        .args(["moderate", "resolve", &id, "--outcome", "false-positive"])
        .assert()
        .success();
    cssim(&ws.path)
        .args(["moderate", "list"])
        .assert()
        .stdout(predicate::str::contains("false_positive"));
    // Bob received both messages, the reported one included.
    cssim(&ws.path)
        .args(["inbox", "bob"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("rocket.jpg").and(predicate::str::contains("astronaut.jpg")),
        );
}

#[test]
fn block_policy_and_account_threshold() {
    let ws = workspace();
    let policy = ws.path.join("policy.toml");
    std::fs::write(&policy, "on_match = \"block\"\n").unwrap();
    let v = send_json(&ws.path, &["--attach", LISTED]);
    assert_eq!(
        (v["verdict"]["action"].as_str(), v["sent"].as_bool()),
        (Some("block"), Some(false))
    );
    assert_eq!(relay_message_count(&ws.path), 0);

    std::fs::write(&policy, "account_threshold = 2\n").unwrap();
    let first = send_json(&ws.path, &["--attach", LISTED]);
    assert_eq!(first["report"]["released_now"], 0);
    assert_eq!(first["report"]["held"], 1);
    let out = cssim(&ws.path)
        .args(["moderate", "list", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );
    let second = send_json(&ws.path, &["--attach", LISTED]);
    assert_eq!(
        second["report"]["released_now"], 2,
        "both reports released at the threshold"
    );
}

#[test]
fn new_identities_register_and_can_receive() {
    let ws = workspace();
    cssim(&ws.path)
        .args(["id", "new", "carol"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("created identity carol ("));
    send_json(&ws.path, &["--text", "welcome carol"]);
    let out = cssim(&ws.path)
        .args([
            "send", "--from", "alice", "--to", "carol", "--text", "hi carol", "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    cssim(&ws.path)
        .args(["inbox", "carol"])
        .assert()
        .success()
        .stdout(predicate::str::contains("hi carol"));
    cssim(&ws.path)
        .args(["id", "new", "Carol!"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid user name 'Carol!'"));
}

#[test]
fn unknown_recipient_is_refused_and_nothing_is_stored() {
    let ws = workspace();
    cssim(&ws.path)
        .args(["send", "--from", "alice", "--to", "carol", "--text", "hi"])
        .assert()
        .code(2)
        .stderr("error: unknown user 'carol'\n");
    assert_eq!(relay_message_count(&ws.path), 0);
}

#[test]
fn missing_and_corrupt_key_files_name_the_file() {
    let ws = workspace();
    let key = ws.path.join("keys/alice.key");
    std::fs::write(&key, "this is not a key").unwrap();
    cssim(&ws.path)
        .args(["send", "--from", "alice", "--to", "bob", "--text", "hi"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("alice.key: not a key file"));
    std::fs::remove_file(&key).unwrap();
    cssim(&ws.path)
        .args(["send", "--from", "alice", "--to", "bob", "--text", "hi"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no identity 'alice'"));
    assert_eq!(relay_message_count(&ws.path), 0);
}

#[test]
fn unreadable_and_oversized_attachments_are_refused() {
    let ws = workspace();
    cssim(&ws.path)
        .args([
            "send",
            "--from",
            "alice",
            "--to",
            "bob",
            "--attach",
            "/nonexistent/cat.jpg",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "/nonexistent/cat.jpg: no such file",
        ));
    std::fs::write(ws.path.join("policy.toml"), "max_attachment_bytes = 1000\n").unwrap();
    cssim(&ws.path)
        .args(["send", "--from", "alice", "--to", "bob", "--attach", LISTED])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("the policy allows at most 1000"));
    assert_eq!(relay_message_count(&ws.path), 0);
}

#[test]
fn malformed_policy_names_the_field() {
    let ws = workspace();
    std::fs::write(ws.path.join("policy.toml"), "scan_imgaes = false\n").unwrap();
    cssim(&ws.path)
        .args(["send", "--from", "alice", "--to", "bob", "--text", "hi"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("policy.toml").and(predicate::str::contains("scan_imgaes")),
        );
}

#[test]
fn corrupt_relay_database_is_refused_and_left_as_it_was() {
    let ws = workspace();
    let db = ws.path.join("relay.db");
    let garbage = vec![0xA5u8; 4096];
    std::fs::write(&db, &garbage).unwrap();
    let _ = std::fs::remove_file(ws.path.join("relay.db-wal"));
    let _ = std::fs::remove_file(ws.path.join("relay.db-shm"));
    cssim(&ws.path)
        .args(["send", "--from", "alice", "--to", "bob", "--text", "hi"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("relay.db: not a SQLite database"));
    assert_eq!(std::fs::read(&db).unwrap(), garbage);
}

#[test]
fn relay_not_running_is_a_clear_error_and_writes_nothing() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws");
    Command::cargo_bin("cssim")
        .unwrap()
        .arg("init")
        .arg(&path)
        .args(["--relay", &format!("http://127.0.0.1:{port}")])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "relay at http://127.0.0.1:{port} is unreachable"
        )));
    assert!(!path.join("workspace.toml").exists());
    assert!(
        !path.join("keys").exists(),
        "no keys written for a workspace that was not made"
    );
}

#[test]
fn a_tampered_envelope_is_reported_not_shown() {
    let ws = workspace();
    send_json(&ws.path, &["--text", "original words"]);
    let conn = rusqlite::Connection::open(ws.path.join("relay.db")).unwrap();
    let mut env: Vec<u8> = conn
        .query_row("SELECT envelope FROM messages", [], |r| r.get(0))
        .unwrap();
    let last = env.len() - 1;
    env[last] ^= 1;
    conn.execute("UPDATE messages SET envelope = ?1", [&env])
        .unwrap();
    drop(conn);
    let out = cssim(&ws.path).args(["inbox", "bob"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("decryption failed"),
        "{}",
        stderr(&out)
    );
    assert!(!stdout(&out).contains("original words"));
}

#[test]
fn served_relay_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new(assert_cmd::cargo::cargo_bin("cssim"))
        .args([
            "relay",
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--db",
        ])
        .arg(dir.path().join("served.db"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "server did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let path = dir.path().join("ws");
    let result = std::panic::catch_unwind(|| {
        Command::cargo_bin("cssim")
            .unwrap()
            .arg("init")
            .arg(&path)
            .args(["--relay", &format!("http://127.0.0.1:{port}")])
            .assert()
            .success();
        send_json(&path, &["--text", "over http"]);
        cssim(&path)
            .args(["inbox", "bob"])
            .assert()
            .success()
            .stdout(predicate::str::contains("over http"));
    });
    let _ = server.kill();
    let _ = server.wait();
    result.unwrap();
}

#[test]
fn demo_runs_and_tells_the_story() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("cssim")
        .unwrap()
        .args(["demo", "--json", "--keep"])
        .arg(dir.path().join("ws"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let steps: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = steps.as_array().unwrap();
    assert_eq!(steps.len(), 11);
    assert_eq!(steps[1]["data"]["verdict"]["action"], "allow");
    assert_eq!(steps[2]["data"]["verdict"]["action"], "allow");
    assert_eq!(steps[3]["data"]["verdict"]["action"], "report");
    assert!(
        steps[4]["data"]["pdq_distance"].as_u64().unwrap() > 31,
        "the crop evades"
    );
    assert_eq!(steps[4]["data"]["outcome"]["verdict"]["action"], "allow");
    assert_eq!(
        steps[5]["data"]["verdict"]["action"], "warn",
        "a damaged image is unscannable: the default policy warns"
    );
    assert_eq!(
        steps[5]["data"]["verdict"]["unscannable"][0]["cause"],
        "undecodable"
    );
    // A mirrored copy evades the default policy and is caught with pdq_dihedral.
    let mirrored = &steps[9]["data"];
    assert_eq!(mirrored["pdq_dihedral_policy"], false);
    assert!(
        mirrored["pdq_distance"].as_u64().unwrap() > 31,
        "{mirrored}"
    );
    assert!(mirrored["dihedral_distance"].as_u64().unwrap() <= 31);
    assert_eq!(mirrored["policy"]["verdict"]["action"], "allow");
    assert_eq!(mirrored["dihedral"]["verdict"]["action"], "report");
    assert!(
        mirrored["dihedral"]["verdict"]["matches"][0]["orientation"].is_string(),
        "{mirrored}"
    );
    let steps = &steps[1..];
    assert_eq!(steps[5]["actor"], "relay");
    assert_eq!(steps[5]["data"]["reports"].as_array().unwrap().len(), 1);
    assert_eq!(
        steps[6]["data"].as_array().unwrap().len(),
        1,
        "the moderator opens one report"
    );
    assert_eq!(
        steps[6]["data"][0]["verified"], true,
        "signed, receipted, franked"
    );
    assert_eq!(
        steps[7]["data"].as_array().unwrap().len(),
        5,
        "Bob gets all five messages"
    );
    // Plain text when piped: no escape codes.
    let plain = Command::cargo_bin("cssim")
        .unwrap()
        .arg("demo")
        .output()
        .unwrap();
    assert!(plain.status.success());
    let text = stdout(&plain);
    assert!(text.contains("Step 9: Bob's inbox"));
    assert!(
        text.contains("deleted state file (which resets the account's match count)"),
        "the demo says once what scanning cannot promise"
    );
    assert!(!text.contains('\x1b'));
}
