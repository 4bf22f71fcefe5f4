//! Issue 8's standard, "a crash never loses an acknowledged message", on the
//! sending device: a `cssim send` killed after the relay's receipt and
//! before the report is held (the `CSSIM_CRASH_AFTER=receipt` test hook of
//! debug builds) leaves its outbox row, and the next command on the device
//! holds and releases the report — once. `docs/SECURITY.md` ("A crash").

use cssim::client::{Device, PENDING_GRACE, Received};
use cssim::moderation;

use crate::util::{Ws, cssim_in, workspace};

const LISTED: &str = "examples/images/listed/rocket.jpg";

fn relay_db(ws: &Ws) -> rusqlite::Connection {
    rusqlite::Connection::open(ws.path.join("relay.db")).unwrap()
}

fn alice_db(ws: &Ws) -> rusqlite::Connection {
    rusqlite::Connection::open(ws.ws.device_path("alice")).unwrap()
}

fn count(c: &rusqlite::Connection, table: &str) -> i64 {
    c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// (matches, released, held) on alice's device.
fn alice_counts(ws: &Ws) -> (u32, u32, usize) {
    Device::open(&ws.ws, "alice")
        .unwrap()
        .report_counts()
        .unwrap()
}

/// Reports in the moderator's queue, and how many verified.
fn moderator_view(ws: &Ws) -> (usize, usize) {
    let m = ws.ws.identity("moderator").unwrap();
    let relay = ws.ws.relay_as("moderator").unwrap();
    let all = moderation::review(&*relay, &m, None).unwrap();
    let verified = all
        .iter()
        .filter(|r| r.verification.as_ref().is_some_and(|v| v.verified))
        .count();
    (all.len(), verified)
}

/// `cssim send` of the listed image from alice to bob, killed right after
/// the relay's receipt.
fn send_and_crash(ws: &Ws) {
    let out = cssim_in(&ws.path)
        .env("CSSIM_CRASH_AFTER", "receipt")
        .args(["send", "--from", "alice", "--to", "bob", "--attach", LISTED])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the send was meant to crash");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(6), "killed by SIGABRT");
    }
}

/// Makes alice's outbox rows older than the grace a running send gets.
fn age_outbox(ws: &Ws) {
    alice_db(ws)
        .execute(
            "UPDATE pending_sends SET created_at = created_at - ?1",
            [PENDING_GRACE as i64 + 1],
        )
        .unwrap();
}

fn run(ws: &Ws, args: &[&str]) {
    cssim_in(&ws.path).args(args).assert().success();
}

#[test]
fn a_send_killed_after_the_receipt_is_reported_by_the_next_command_once() {
    let ws = workspace();
    send_and_crash(&ws);
    // The relay stored and acknowledged the message; the device died
    // before holding the report. Without the outbox this is where the
    // match was lost: delivered, unreported, uncounted.
    assert_eq!(count(&relay_db(&ws), "messages"), 1);
    assert_eq!(alice_counts(&ws), (0, 0, 0));
    assert_eq!(moderator_view(&ws), (0, 0));
    assert_eq!(count(&alice_db(&ws), "pending_sends"), 1);

    // A command within the grace leaves the row alone: it could belong to
    // a send still running in another process.
    run(&ws, &["inbox", "alice"]);
    assert_eq!(count(&alice_db(&ws), "pending_sends"), 1);
    assert_eq!(alice_counts(&ws), (0, 0, 0));

    // Past the grace, the next command finishes it: the identical envelope
    // gets the relay's original receipt, the report is held and (threshold
    // 1) released, and it verifies.
    age_outbox(&ws);
    run(&ws, &["inbox", "alice"]);
    assert_eq!(count(&alice_db(&ws), "pending_sends"), 0);
    assert_eq!(alice_counts(&ws), (1, 1, 0), "the match is counted");
    assert_eq!(moderator_view(&ws), (1, 1), "one report, verified");
    assert_eq!(count(&relay_db(&ws), "messages"), 1, "no second message");

    // Two more starts (an inbox, a send) change nothing: finished once.
    run(&ws, &["inbox", "alice"]);
    run(
        &ws,
        &["send", "--from", "alice", "--to", "bob", "--text", "hi"],
    );
    assert_eq!(alice_counts(&ws), (1, 1, 0));
    assert_eq!(moderator_view(&ws), (1, 1));

    // Bob gets the reported message and the text, each once.
    let got = Device::open(&ws.ws, "bob").unwrap().inbox().unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|r| matches!(r, Received::Message(_))));
}

/// The relay never stored the message (the crash came first, or its
/// transaction did not commit): the retry stores it now — the user asked
/// for it to be sent — and it is reported as any send. If the relay refuses
/// the retry, nothing was delivered: the row is dropped and nothing counted.
#[test]
fn an_outbox_row_the_relay_never_stored_is_sent_now_or_dropped_if_refused() {
    let ws = workspace();
    send_and_crash(&ws);
    relay_db(&ws).execute("DELETE FROM messages", []).unwrap();
    age_outbox(&ws);
    run(&ws, &["inbox", "alice", "--peek"]);
    assert_eq!(count(&relay_db(&ws), "messages"), 1, "sent now");
    assert_eq!(alice_counts(&ws), (1, 1, 0));
    assert_eq!(moderator_view(&ws), (1, 1));

    send_and_crash(&ws);
    assert_eq!(count(&alice_db(&ws), "pending_sends"), 1);
    let id: Vec<u8> = alice_db(&ws)
        .query_row("SELECT id FROM pending_sends", [], |r| r.get(0))
        .unwrap();
    let db = relay_db(&ws);
    db.execute("DELETE FROM messages WHERE id = ?1", [&id])
        .unwrap();
    assert_eq!(count(&db, "messages"), 1);
    db.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON messages
         BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    )
    .unwrap();
    age_outbox(&ws);
    run(&ws, &["inbox", "alice"]);
    assert_eq!(count(&alice_db(&ws), "pending_sends"), 0, "dropped");
    assert_eq!(alice_counts(&ws), (1, 1, 0), "not counted");
    assert_eq!(
        moderator_view(&ws),
        (1, 1),
        "no report of an undelivered message"
    );
}
