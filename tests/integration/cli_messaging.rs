//! Scan-before-send messaging through the real binary: init, send, inbox,
//! relay show, moderate, demo — and every kind of bad input the issue lists.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use cssim::message::Attachment;
use predicates::prelude::*;
use tempfile::TempDir;

use crate::util::{init_workspace, root, send_json, stderr, stdout};

const LISTED: &str = "examples/images/listed/rocket.jpg";
const BENIGN: &str = "examples/images/benign/astronaut.jpg";

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
    let path = init_workspace(dir.path());
    Ws { _dir: dir, path }
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
    // --csv: a header, then the same report as a row of fields.
    let csv = cssim(&ws.path)
        .args(["moderate", "list", "--csv"])
        .output()
        .unwrap();
    assert!(csv.status.success(), "{}", stderr(&csv));
    let csv = stdout(&csv);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "ID,STATUS,RECEIVED,ACCOUNT,SUBMITTED_BY,VERIFIED,MATCHES,ACCOUNT_MATCHES,PARTS,PROBLEMS"
    );
    assert_eq!(lines.len(), 2, "{csv}");
    let fields: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(fields[0], reports[0]["id"].as_str().unwrap());
    assert_eq!(fields[1], "open");
    assert_eq!(fields[2], reports[0]["received"].as_str().unwrap());
    assert_eq!(&fields[3..6], ["alice", "alice", "true"]);
    assert_eq!(fields[6], reports[0]["matches"].to_string());
    assert_eq!(fields[7], reports[0]["account_matches"].to_string());
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
    // A report weighs what its evidence weighs: the image's bytes plus a
    // small header, not twice the image (as hex in the JSON once made it).
    let overview = cssim(&ws.path)
        .args(["relay", "show", "--json"])
        .output()
        .unwrap();
    let overview: serde_json::Value = serde_json::from_slice(&overview.stdout).unwrap();
    let sealed = overview["reports"][0]["size"].as_u64().unwrap() as usize;
    assert!(
        sealed > bytes.len() && sealed < bytes.len() + 4096,
        "a report of a {}-byte image is {sealed} bytes",
        bytes.len()
    );
    // One line per report, each matched part named once (the image matched
    // under PDQ and SHA-256 alike), with an RFC 3339 time.
    let listed = cssim(&ws.path).args(["moderate", "list"]).output().unwrap();
    let listed = stdout(&listed);
    assert_eq!(listed.matches("attachment #1").count(), 1, "{listed}");
    assert!(
        listed.contains(&format!("  {}-", now_year())) && listed.contains("Z  open"),
        "{listed}"
    );
    cssim(&ws.path)
        .args(["moderate", "resolve", &id, "--outcome", "false-positive"])
        .assert()
        .success()
        .stdout(predicate::str::contains("resolved: false-positive"));
    cssim(&ws.path)
        .args(["moderate", "list"])
        .assert()
        .stdout(predicate::str::contains("false-positive"));
    // A decision is not silently overwritten ...
    cssim(&ws.path)
        .args(["moderate", "resolve", &id, "--outcome", "confirmed"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "is already resolved as false-positive: resolve it again with --change",
        ));
    // ... but can be changed on request, and both decisions are kept.
    cssim(&ws.path)
        .args([
            "moderate",
            "resolve",
            &id,
            "--outcome",
            "confirmed",
            "--change",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "changed from false-positive to confirmed",
        ));
    let opened = cssim(&ws.path)
        .args(["moderate", "open", &id])
        .output()
        .unwrap();
    let opened = stdout(&opened);
    let decisions: Vec<&str> = opened
        .lines()
        .filter(|l| l.starts_with("decision: "))
        .collect();
    assert_eq!(decisions.len(), 2, "{opened}");
    assert!(decisions[0].starts_with("decision: false-positive at "));
    assert!(decisions[1].starts_with("decision: confirmed at "));
    // The old spelling is refused: one spelling everywhere.
    cssim(&ws.path)
        .args(["moderate", "resolve", &id, "--outcome", "false_positive"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "unknown outcome 'false_positive' (confirmed or false-positive)",
        ));
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
    // Issue 9.10: a blocked message exits 3, so a script can tell.
    let out = cssim(&ws.path)
        .args([
            "send", "--from", "alice", "--to", "bob", "--json", "--attach", LISTED,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    cssim(&ws.path)
        .args(["send", "--from", "alice", "--to", "bob", "--attach", LISTED])
        .assert()
        .code(3)
        .stdout(predicate::str::contains(
            "not sent: the policy blocks messages that match",
        ));
    Command::cargo_bin("cssim")
        .unwrap()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("3 when `send`"));
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
    // The relay's schema checks each id's length, so its integrity check
    // finds the damage when the store opens (a store already open reports
    // the field: relay::store::tests::damaged_ids_keys_and_receipts_…).
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
    // Issue 9.23: each sentence that states a result agrees with the result
    // the same step carries.
    let says = |i: usize, what: &str| {
        steps[i]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains(what))
    };
    let edited = &steps[3]["data"];
    assert_eq!(edited["verdict"]["matches"].as_array().unwrap().len(), 1);
    assert!(says(3, "within the threshold of 31") && says(3, "it is caught"));
    assert!(!says(3, "evades"));
    assert!(says(4, "above the threshold of 31") && says(4, "the cropped copy evades"));
    assert_eq!(steps[4]["title"], "A heavily cropped copy evades");
    assert!(says(5, "it does not decode"));
    assert!(says(7, "verified: signed by alice's device key"));
    assert!(says(
        8,
        "The reported image was delivered too: under a `report` policy"
    ));
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
    // Piped, the narration wraps at 100 columns.
    let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest <= 100, "a line of {widest} columns");
    let flowed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flowed.contains("deleted state file (which resets the account's match count)"),
        "the demo says once what scanning cannot promise"
    );
    assert!(!text.contains('\x1b'));
}

/// A served relay on `port`, stopped when dropped.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(db: &Path, port: u16) -> Server {
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cssim"))
        .args([
            "relay",
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--db",
        ])
        .arg(db)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "server did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    server
}

fn init(path: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("cssim")
        .unwrap()
        .env("NO_COLOR", "1")
        .arg("init")
        .arg(path)
        .args(args)
        .assert()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Issue 9.5: a failed init left a half-made folder that blocked the retry
/// ("identity 'alice' already exists").
#[test]
fn init_against_a_dead_relay_leaves_nothing_and_a_retry_succeeds() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep/ws");
    init(&path, &["--relay", &url])
        .code(2)
        .stderr(predicate::str::contains(format!(
            "relay at {url} is unreachable"
        )));
    assert_eq!(
        entries(dir.path()),
        Vec::<String>::new(),
        "no workspace, no temporary folder, no parent folder left behind"
    );
    let _server = serve(&dir.path().join("relay.db"), port);
    init(&path, &["--relay", &url])
        .success()
        .stdout(predicate::str::contains(
            "identities: alice, bob, moderator, operator",
        ));
    assert_eq!(
        entries(&path.join("keys")).len(),
        8,
        "4 identities, 2 files each"
    );
    assert_eq!(
        entries(&dir.path().join("deep")),
        ["ws"],
        "the temporary folder is gone"
    );
    // The embedded relay too: init into an existing empty folder works, and a
    // second init there is refused without touching it.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    init(&empty, &[]).success();
    let before = entries(&empty);
    init(&empty, &[])
        .code(2)
        .stderr(predicate::str::contains("a workspace already exists here"));
    assert_eq!(entries(&empty), before);
    // A folder holding other files: the workspace joins them, workspace.toml
    // last; one holding a workspace's folder is refused, nothing moved.
    let busy = dir.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    init(&busy, &[]).success();
    assert!(busy.join("workspace.toml").exists() && busy.join("notes.txt").exists());
    let clash = dir.path().join("clash");
    std::fs::create_dir_all(clash.join("keys")).unwrap();
    init(&clash, &[]).code(2).stderr(predicate::str::contains(
        "keys: already exists; not overwriting it",
    ));
    assert_eq!(entries(&clash), ["keys"]);
    assert_eq!(entries(&clash.join("keys")), Vec::<String>::new());
    // `init .` builds next to the folder, not inside it.
    let here = dir.path().join("here");
    std::fs::create_dir(&here).unwrap();
    Command::cargo_bin("cssim")
        .unwrap()
        .current_dir(&here)
        .args(["init", "."])
        .assert()
        .success();
    assert!(here.join("workspace.toml").exists());
    assert!(
        !entries(dir.path()).iter().any(|n| n.contains("cssim-init")),
        "no temporary folder left: {:?}",
        entries(dir.path())
    );
}

/// Issue 9.5: init always registered alice and bob, so a second workspace
/// could not join a relay. With --users it can, and its users message the
/// first workspace's users directly: each device pins the other's key from
/// the relay's directory on first contact, with no key import.
#[test]
fn two_workspaces_with_different_users_share_one_relay() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let _server = serve(&dir.path().join("relay.db"), port);
    let first = dir.path().join("first");
    let second = dir.path().join("second");
    init(&first, &["--relay", &url]).success();
    init(&second, &["--relay", &url, "--users", "carol,dave"])
        .success()
        .stdout(predicate::str::contains(
            "identities: carol, dave, moderator, operator",
        ));
    // The default names are taken: refused, and nothing is left behind.
    let third = dir.path().join("third");
    init(&third, &["--relay", &url])
        .code(2)
        .stderr(predicate::str::contains(
            "user 'alice' is already registered on the relay",
        ));
    assert!(!third.exists());
    // Joining without registering anyone.
    init(&third, &["--relay", &url, "--users", ""])
        .success()
        .stdout(predicate::str::contains("identities: moderator, operator"));

    cssim(&first)
        .args([
            "send",
            "--from",
            "alice",
            "--to",
            "carol",
            "--text",
            "hello carol",
        ])
        .assert()
        .success();
    cssim(&second)
        .args(["inbox", "carol"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("from alice").and(predicate::str::contains("hello carol")),
        );
    cssim(&second)
        .args([
            "send", "--from", "carol", "--to", "alice", "--text", "hi alice",
        ])
        .assert()
        .success();
    cssim(&first)
        .args(["inbox", "alice"])
        .assert()
        .success()
        .stdout(predicate::str::contains("from carol").and(predicate::str::contains("hi alice")));
}

/// Issue 9.7: commands found the workspace only as ./cssim-workspace or -w.
#[test]
fn commands_find_the_workspace_from_a_subfolder() {
    let ws = workspace();
    let sub = ws.path.join("hashsets");
    let run = |dir: &Path, args: &[&str]| {
        let mut c = Command::cargo_bin("cssim").unwrap();
        c.env("NO_COLOR", "1")
            .env_remove("CSSIM_WORKSPACE")
            .current_dir(dir)
            .args(args);
        c.assert()
    };
    run(
        &sub,
        &[
            "send", "--from", "alice", "--to", "bob", "--text", "found it",
        ],
    )
    .success();
    run(&ws.path, &["inbox", "bob"])
        .success()
        .stdout(predicate::str::contains("found it"));
    // The fallback: ./cssim-workspace below the current folder.
    let dir = tempfile::tempdir().unwrap();
    init(&dir.path().join("cssim-workspace"), &["--users", "erin"]).success();
    run(dir.path(), &["inbox", "erin"])
        .success()
        .stdout("erin: no new messages\n");
    // Nowhere.
    let nowhere = tempfile::tempdir().unwrap();
    run(nowhere.path(), &["inbox", "bob"])
        .code(2)
        .stderr(predicate::str::contains(
            "no cssim workspace here: no workspace.toml in",
        ));
}

/// Issue 9.8: attachments are saved under names the sender cannot turn
/// into paths, and never over an existing file.
#[test]
fn inbox_save_writes_attachments_under_safe_names() {
    let ws = workspace();
    let lib = cssim::workspace::Workspace::open(&ws.path).unwrap();
    let photo = std::fs::read(root().join(BENIGN)).unwrap();
    let send = |name: &str, bytes: &[u8]| {
        cssim::client::Device::open(&lib, "alice")
            .unwrap()
            .send(
                "bob",
                None,
                vec![
                    Attachment::File {
                        name: name.into(),
                        bytes: bytes.to_vec(),
                    },
                    Attachment::Image {
                        name: "astronaut.jpg".into(),
                        bytes: photo.clone(),
                    },
                ],
            )
            .unwrap()
    };
    send("../../x", b"first");
    send("../../x", b"second");
    let out_dir = ws.path.join("a/b/saved");
    let out = cssim(&ws.path)
        .args(["inbox", "bob", "--save"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!(
            "saved \"../../x\" to {}",
            out_dir.join("x").display()
        )),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        entries(&out_dir),
        ["astronaut-1.jpg", "astronaut.jpg", "x", "x-1"]
    );
    assert_eq!(std::fs::read(out_dir.join("x")).unwrap(), b"first");
    assert_eq!(std::fs::read(out_dir.join("x-1")).unwrap(), b"second");
    assert_eq!(std::fs::read(out_dir.join("astronaut.jpg")).unwrap(), photo);
    assert!(!ws.path.join("a/x").exists() && !ws.path.join("x").exists());
    // A folder that cannot be written: the messages stay unshown.
    send("y", b"third");
    std::fs::write(ws.path.join("blocker"), b"a file, not a folder").unwrap();
    cssim(&ws.path)
        .args(["inbox", "bob", "--save"])
        .arg(ws.path.join("blocker"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("blocker"));
    cssim(&ws.path)
        .args(["inbox", "bob", "--save"])
        .arg(&out_dir)
        .assert()
        .success()
        .stdout(predicate::str::contains("saved \"y\""));
    assert_eq!(std::fs::read(out_dir.join("y")).unwrap(), b"third");
}

/// Issue 9.8: --peek shows without acknowledging, and the device's
/// show-once guard does not hide the messages from the next inbox.
#[test]
fn inbox_peek_shows_without_acknowledging() {
    let ws = workspace();
    send_json(&ws.path, &["--text", "first"]);
    send_json(&ws.path, &["--text", "second"]);
    let delivered = |ws: &Path| {
        let out = cssim(ws)
            .args(["relay", "show", "--json"])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["delivered"] == true)
            .count()
    };
    for _ in 0..2 {
        cssim(&ws.path)
            .args(["inbox", "bob", "--peek"])
            .assert()
            .success()
            .stdout(
                predicate::str::contains("first")
                    .and(predicate::str::contains("second"))
                    .and(predicate::str::contains("(peek: nothing acknowledged")),
            );
        assert_eq!(delivered(&ws.path), 0, "peek acknowledges nothing");
    }
    let out = cssim(&ws.path)
        .args(["inbox", "bob", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let texts: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts, ["first", "second"], "shown by the next inbox");
    assert_eq!(delivered(&ws.path), 2);
    cssim(&ws.path)
        .args(["inbox", "bob"])
        .assert()
        .success()
        .stdout("bob: no new messages\n");
    cssim(&ws.path)
        .args(["inbox", "bob", "--peek"])
        .assert()
        .success()
        .stdout("bob: no new messages\n");
}

/// Issue 9.9: a text longer than the shell's argument limit, from a file
/// or from standard input.
#[test]
fn long_texts_come_from_a_file_or_standard_input() {
    let ws = workspace();
    let text: String = (0..300_000)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let file = ws.path.join("long.txt");
    std::fs::write(&file, &text).unwrap();
    let v = send_json(&ws.path, &["--text-file", file.to_str().unwrap()]);
    assert_eq!(v["sent"], true);
    let out = cssim(&ws.path)
        .args([
            "send", "--from", "alice", "--to", "bob", "--text", "-", "--json",
        ])
        .write_stdin(format!("{text}!"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cssim(&ws.path)
        .args(["inbox", "bob", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(got.len(), 2);
    assert!(got[0] == text, "the file's text arrives whole");
    assert!(
        got[1].len() == 300_001 && got[1].ends_with('!'),
        "stdin's too"
    );
    // Not text, too long, or both options: refused, nothing sent.
    std::fs::write(&file, b"caf\xe9").unwrap();
    cssim(&ws.path)
        .args(["send", "--from", "alice", "--to", "bob", "--text-file"])
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "long.txt: not UTF-8 text (invalid byte at offset 3)",
        ));
    std::fs::write(ws.path.join("policy.toml"), "max_attachment_bytes = 1000\n").unwrap();
    cssim(&ws.path)
        .args(["send", "--from", "alice", "--to", "bob", "--text", "-"])
        .write_stdin(text.clone())
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "standard input: the text is more than 1000 bytes",
        ));
    cssim(&ws.path)
        .args([
            "send",
            "--from",
            "alice",
            "--to",
            "bob",
            "--text",
            "a",
            "--text-file",
        ])
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot be used with"));
    assert_eq!(relay_message_count(&ws.path), 2);
}

/// Issue 9.20: corrupt device and relay state are errors naming the file
/// and the field; a held report with a damaged id is not submitted.
#[test]
fn corrupt_state_is_an_error_naming_the_file_and_field() {
    let ws = workspace();
    std::fs::write(ws.path.join("policy.toml"), "account_threshold = 2\n").unwrap();
    let first = send_json(&ws.path, &["--attach", LISTED]);
    assert_eq!(first["report"]["held"], 1);
    rusqlite::Connection::open(ws.path.join("state/alice.db"))
        .unwrap()
        .execute("UPDATE pending_reports SET id = x'0102'", [])
        .unwrap();
    let second = send_json(&ws.path, &["--attach", LISTED]);
    let error = second["report"]["release_error"].as_str().unwrap();
    assert!(
        error.contains("alice.db: device state is damaged: table pending_reports, row 1, field id is 2 bytes, not 16"),
        "{error}"
    );
    assert_eq!(second["report"]["released_now"], 0);
    let out = cssim(&ws.path)
        .args(["moderate", "list", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        serde_json::json!([]),
        "nothing submitted under a zero id"
    );
    // The relay's schema checks each id's length, so its integrity check
    // finds the damage when the store opens (a store already open reports
    // the field: relay::store::tests::damaged_ids_keys_and_receipts_…).
    let conn = rusqlite::Connection::open(ws.path.join("relay.db")).unwrap();
    conn.execute_batch(
        "PRAGMA ignore_check_constraints = ON; UPDATE messages SET id = x'00' WHERE rowid = 1;",
    )
    .unwrap();
    cssim(&ws.path)
        .args(["inbox", "bob"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "relay.db: integrity check failed: CHECK constraint failed in messages",
        ));
}

/// Issue 9.5: the same, with a shared database file instead of a served
/// relay (a relative path is relative to the workspace, and means the same
/// while init builds the workspace next to its final place).
#[test]
fn two_workspaces_share_one_relay_database() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let second = dir.path().join("second");
    init(&first, &["--relay", "../shared.db"]).success();
    init(&second, &["--relay", "../shared.db", "--users", "carol"]).success();
    assert!(dir.path().join("shared.db").exists());
    assert!(!first.join("relay.db").exists() && !second.join("relay.db").exists());
    cssim(&first)
        .args([
            "send",
            "--from",
            "bob",
            "--to",
            "carol",
            "--text",
            "one relay file",
        ])
        .assert()
        .success();
    cssim(&second)
        .args(["inbox", "carol"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("from bob").and(predicate::str::contains("one relay file")),
        );
}

#[test]
fn the_workspace_names_the_issuer_key_as_the_repository_does() {
    // One name for the demo issuer's public key: hashsets/demo-issuer.key.pub.
    let ws = workspace();
    let copied = std::fs::read(ws.path.join("hashsets/demo-issuer.key.pub")).unwrap();
    assert_eq!(
        copied,
        std::fs::read(root().join("hashsets/demo-issuer.key.pub")).unwrap()
    );
    assert!(!ws.path.join("hashsets/demo-issuer.pub").exists());
}

/// The current year, for checking that times are shown as RFC 3339.
fn now_year() -> u64 {
    cssim::clock::rfc3339_from_unix(cssim::clock::now_unix())[..4]
        .parse()
        .unwrap()
}
