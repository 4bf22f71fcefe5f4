//! Attacks on the messaging path, one test each (issue 8). Every test
//! performs the attack and checks that it is refused with a clear error and
//! that nothing changed on the server. `docs/SECURITY.md` maps each threat
//! to the test that shows it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use assert_cmd::Command;
use cssim::client::{Device, Received};
use cssim::e2ee::{Envelope, Identity, PublicIdentity, hpke};
use cssim::franking;
use cssim::message::{Attachment, Message, MessageId};
use cssim::moderation::{self, Evidence, Report};
use cssim::relay::{
    self, HttpRelay, MODERATOR_KEY_ID, OPERATOR_KEY_ID, OutgoingMessage, Receipt, Relay,
    ServerConfig, Signer, Store,
};
use sha2::{Digest as _, Sha256};

use crate::util::{Ws, cssim_in, root, workspace};

const LISTED: &str = "examples/images/listed/rocket.jpg";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn relay_db(ws: &Ws) -> rusqlite::Connection {
    rusqlite::Connection::open(ws.path.join("relay.db")).unwrap()
}

fn message_count(ws: &Ws) -> i64 {
    relay_db(ws)
        .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .unwrap()
}

/// A message as a malicious relay would store it, bypassing the relay's own
/// checks (it writes the database directly).
fn plant(ws: &Ws, id: [u8; 16], from: &str, to: &str, sent_at: u64, envelope: &[u8]) {
    relay_db(ws)
        .execute(
            "INSERT INTO messages (id, sender, recipient, sent_at, envelope, stored_at, receipt)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, '{}')",
            rusqlite::params![&id[..], from, to, sent_at as i64, envelope, now() as i64],
        )
        .unwrap();
}

fn bob_sees(ws: &Ws) -> Vec<Received> {
    Device::open(&ws.ws, "bob").unwrap().inbox().unwrap()
}

fn message(id: [u8; 16], from: &str, to: &str, text: &str) -> Message {
    Message {
        id: MessageId(id),
        from: from.into(),
        to: to.into(),
        sent_at: now(),
        text: Some(text.into()),
        attachments: vec![],
    }
}

/// Issue 8.1: with only Alice's and Bob's public keys, Mallory builds a
/// Base-mode envelope "from Alice". Before the fix, `cssim inbox bob`
/// showed it as Alice's.
#[test]
fn a_base_mode_envelope_forging_alice_is_not_shown_as_hers() {
    let ws = workspace();
    let alice = ws.ws.identity("alice").unwrap().public();
    let bob = ws.ws.identity("bob").unwrap().public();
    let m = message([1; 16], "alice", "bob", "send money to mallory");
    let kf = [7u8; 32];
    // The header a real envelope from Alice would have, sealed in Base mode.
    let mallory = Identity::generate();
    let template = Envelope::seal(&mallory, &bob, m.id.0, m.sent_at, [0; 32], b"x")
        .unwrap()
        .to_bytes();
    let header_len = template.len() - 4 - (1 + 16);
    let mut header = template[..header_len].to_vec();
    header[11] = 0; // mode: base
    header[12..44].copy_from_slice(&alice.to_bytes());
    header[100..132].copy_from_slice(&franking::commit(&kf, &m));
    let pk_r = x25519_dalek::PublicKey::from(bob.to_bytes());
    let (enc, mut ctx) =
        hpke::setup_sender(hpke::Aead::Aes256Gcm, &pk_r, b"cssim envelope v2", None).unwrap();
    header[header_len - 32..].copy_from_slice(&enc);
    let ct = ctx
        .seal(&header, &franking::frame(&kf, &m.to_bytes()))
        .unwrap();
    let mut forged = header;
    forged.extend_from_slice(&(ct.len() as u32).to_be_bytes());
    forged.extend_from_slice(&ct);

    // The relay refuses it outright…
    let store = Store::open(&ws.path.join("relay.db")).unwrap();
    let err = store
        .send(&OutgoingMessage {
            id: m.id.0,
            from: "alice".into(),
            to: "bob".into(),
            sent_at: m.sent_at,
            envelope: forged.clone(),
        })
        .unwrap_err();
    assert!(err.to_string().contains("base mode"), "{err}");
    assert_eq!(message_count(&ws), 0, "nothing stored");
    drop(store);
    // …and a malicious relay that stores it anyway gets it shown as
    // unreadable, never as Alice's.
    plant(&ws, m.id.0, "alice", "bob", m.sent_at, &forged);
    let got = bob_sees(&ws);
    assert_eq!(got.len(), 1);
    match &got[0] {
        Received::Unreadable { reason, .. } => {
            assert!(reason.contains("base mode"), "{reason}")
        }
        other => panic!("forged message accepted: {other:?}"),
    }
}

/// Issue 8.1: Mallory (a registered user) authenticates as herself but
/// writes "from alice" inside; or a relay labels her message as Alice's.
#[test]
fn a_plaintext_header_that_disagrees_with_the_authenticated_one_is_refused() {
    let ws = workspace();
    ws.ws.new_identity("mallory").unwrap();
    let mallory = ws.ws.identity("mallory").unwrap();
    let bob = ws.ws.identity("bob").unwrap().public();
    let seal = |m: &Message, id: [u8; 16], time: u64| {
        let kf = [3u8; 32];
        Envelope::seal(
            &mallory,
            &bob,
            id,
            time,
            franking::commit(&kf, m),
            &franking::frame(&kf, &m.to_bytes()),
        )
        .unwrap()
        .to_bytes()
    };
    // 1. Plaintext claims alice; the relay (honest) carries it as mallory's.
    let m1 = message([11; 16], "alice", "bob", "it's alice, honest");
    let store = Store::open(&ws.path.join("relay.db")).unwrap();
    store
        .send(&OutgoingMessage {
            id: m1.id.0,
            from: "mallory".into(),
            to: "bob".into(),
            sent_at: m1.sent_at,
            envelope: seal(&m1, m1.id.0, m1.sent_at),
        })
        .unwrap();
    drop(store);
    // 2. A relay that labels mallory's envelope as alice's. An honest relay
    //    refuses it (the envelope's sender key is not alice's)…
    let m2 = message([12; 16], "alice", "bob", "also alice");
    let store = Store::open(&ws.path.join("relay.db")).unwrap();
    let err = store
        .send(&OutgoingMessage {
            id: m2.id.0,
            from: "alice".into(),
            to: "bob".into(),
            sent_at: m2.sent_at,
            envelope: seal(&m2, m2.id.0, m2.sent_at),
        })
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("sender key is not 'alice''s registered key"),
        "{err}"
    );
    drop(store);
    assert_eq!(message_count(&ws), 1, "only case 1 is stored");
    //    …a malicious one stores it anyway.
    plant(
        &ws,
        m2.id.0,
        "alice",
        "bob",
        m2.sent_at,
        &seal(&m2, m2.id.0, m2.sent_at),
    );
    // 3. Plaintext id and time differ from the authenticated header's.
    let m3 = message([13; 16], "mallory", "bob", "replayed body");
    plant(
        &ws,
        [14; 16],
        "mallory",
        "bob",
        m3.sent_at + 1,
        &seal(&m3, [14; 16], m3.sent_at + 1),
    );

    let got = bob_sees(&ws);
    let reasons: Vec<String> = got
        .iter()
        .map(|r| match r {
            Received::Unreadable { reason, .. } => reason.clone(),
            Received::Message(m) => panic!("accepted: {m:?}"),
        })
        .collect();
    assert_eq!(reasons.len(), 3);
    assert!(
        reasons[0].contains("says it is from 'alice' but the relay carried it from 'mallory'"),
        "{}",
        reasons[0]
    );
    assert!(
        reasons[1].contains("sender key does not belong to 'alice'"),
        "{}",
        reasons[1]
    );
    assert!(reasons[2].contains("id or time differs"), "{}", reasons[2]);
}

/// A relay replays an envelope Bob already read under a new id, delivers
/// one older than the replay window, or one whose franking commitment is
/// not the message's (so no report about it could ever verify).
#[test]
fn replayed_stale_and_uncommitted_envelopes_are_refused() {
    let ws = workspace();
    ws.ws.new_identity("mallory").unwrap();
    let mallory = ws.ws.identity("mallory").unwrap();
    let bob = ws.ws.identity("bob").unwrap().public();
    let seal = |m: &Message, commit_to: &Message| {
        let kf = [4u8; 32];
        Envelope::seal(
            &mallory,
            &bob,
            m.id.0,
            m.sent_at,
            franking::commit(&kf, commit_to),
            &franking::frame(&kf, &m.to_bytes()),
        )
        .unwrap()
        .to_bytes()
    };
    let read = message([21; 16], "mallory", "bob", "read once");
    let read_env = seal(&read, &read);
    plant(&ws, read.id.0, "mallory", "bob", read.sent_at, &read_env);
    assert!(matches!(&bob_sees(&ws)[..], [Received::Message(m)] if m == &read));
    // 1. The same envelope again under another relay id.
    plant(&ws, [22; 16], "mallory", "bob", read.sent_at, &read_env);
    // 2. Sent 50 days ago: past the replay window (45 days).
    let mut old = message([23; 16], "mallory", "bob", "old news");
    old.sent_at -= 50 * 86_400;
    plant(
        &ws,
        old.id.0,
        "mallory",
        "bob",
        old.sent_at,
        &seal(&old, &old),
    );
    // 3. Committed to another text than the one sent.
    let sent = message([24; 16], "mallory", "bob", "what bob reads");
    let other = message([24; 16], "mallory", "bob", "what a report would show");
    plant(
        &ws,
        sent.id.0,
        "mallory",
        "bob",
        sent.sent_at,
        &seal(&sent, &other),
    );

    let reasons: Vec<String> = bob_sees(&ws)
        .iter()
        .map(|r| match r {
            Received::Unreadable { reason, .. } => reason.clone(),
            Received::Message(m) => panic!("accepted: {m:?}"),
        })
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons[0].contains("relay's message id differs"),
        "{}",
        reasons[0]
    );
    assert!(
        reasons[1].contains("beyond the replay window"),
        "{}",
        reasons[1]
    );
    assert!(
        reasons[2].contains("franking commitment does not match"),
        "{}",
        reasons[2]
    );
}

/// A malicious relay swaps the key it signs receipts with (to pass off
/// receipts for messages it never carried): the device pinned the first
/// key and refuses the send's receipt.
#[test]
fn a_changed_relay_receipt_key_is_refused() {
    let ws = workspace();
    let mut alice = Device::open(&ws.ws, "alice").unwrap();
    alice.send("bob", Some("first".into()), vec![]).unwrap();
    relay_db(&ws)
        .execute(
            "UPDATE meta SET value = ?1 WHERE key = 'signing_secret'",
            [&[9u8; 32][..]],
        )
        .unwrap();
    let err = Device::open(&ws.ws, "alice")
        .unwrap()
        .send("bob", Some("second".into()), vec![])
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("the relay's receipt does not verify with its pinned key"),
        "{err}"
    );
}

/// A served relay with alice and bob registered, the moderator's and the
/// operator's keys configured.
struct Served {
    _dir: tempfile::TempDir,
    server: relay::ServerHandle,
    alice: Arc<Identity>,
    bob: Arc<Identity>,
    moderator: Arc<Identity>,
    operator: Arc<Identity>,
}

impl Served {
    fn start() -> Served {
        let dir = tempfile::tempdir().unwrap();
        let (alice, bob, moderator, operator) = (
            Arc::new(Identity::generate()),
            Arc::new(Identity::generate()),
            Arc::new(Identity::generate()),
            Arc::new(Identity::generate()),
        );
        let server = relay::spawn(
            Store::open(&dir.path().join("relay.db")).unwrap(),
            "127.0.0.1:0".parse().unwrap(),
            ServerConfig {
                moderator: Some(moderator.verify_key()),
                operator: Some(operator.verify_key()),
                names: vec![],
                tls: None,
            },
        )
        .unwrap();
        let s = Served {
            _dir: dir,
            server,
            alice,
            bob,
            moderator,
            operator,
        };
        for (name, id) in [("alice", &s.alice), ("bob", &s.bob)] {
            s.client(name, id)
                .register(name, &id.public_identity())
                .unwrap();
        }
        s
    }

    fn client(&self, key_id: &str, identity: &Arc<Identity>) -> HttpRelay {
        HttpRelay::new(&self.server.url()).with_signer(Signer {
            key_id: key_id.into(),
            identity: identity.clone(),
        })
    }

    fn overview(&self) -> relay::Overview {
        self.client(OPERATOR_KEY_ID, &self.operator)
            .overview()
            .unwrap()
    }

    fn message(&self) -> OutgoingMessage {
        let env = Envelope::seal(
            &self.alice,
            &self.bob.public(),
            [1; 16],
            now(),
            [0; 32],
            b"hi",
        )
        .unwrap();
        OutgoingMessage {
            id: [1; 16],
            from: "alice".into(),
            to: "bob".into(),
            sent_at: env.time(),
            envelope: env.to_bytes(),
        }
    }
}

/// A raw request, signed as `docs/SECURITY.md` documents (or not at all).
struct Raw {
    method: &'static str,
    target: String,
    body: Vec<u8>,
}

fn raw_send(
    base: &str,
    r: &Raw,
    sign: Option<(&str, &Identity, u64, &str)>,
    host: Option<&str>,
    extra: &[(&str, &str)],
) -> (u16, String) {
    let authority = base.trim_start_matches("http://").to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{base}{}", r.target);
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some((key_id, id, time, nonce)) = sign {
        let signed = format!(
            "cssim-request-v1\n{}\n{}\n{}\n{key_id}\n{time}\n{nonce}\n{}",
            r.method,
            r.target,
            host.unwrap_or(&authority),
            hex::encode(Sha256::digest(&r.body))
        );
        headers.push(("cssim-key-id".into(), key_id.into()));
        headers.push(("cssim-time".into(), time.to_string()));
        headers.push(("cssim-nonce".into(), nonce.into()));
        headers.push((
            "cssim-signature".into(),
            hex::encode(id.sign(signed.as_bytes())),
        ));
    }
    if let Some(h) = host {
        headers.push(("host".into(), h.into()));
    }
    for (k, v) in extra {
        headers.push(((*k).into(), (*v).into()));
    }
    let resp = if r.method == "GET" {
        let mut q = agent.get(&url);
        for (k, v) in &headers {
            q = q.header(k, v);
        }
        q.call()
    } else {
        let mut q = agent.post(&url);
        for (k, v) in &headers {
            q = q.header(k, v);
        }
        q.content_type("application/json").send(&r.body[..])
    };
    let mut resp = resp.unwrap();
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap_or_default())
}

fn nonce(n: u8) -> String {
    hex::encode([n; 16])
}

/// Issue 8.2: every endpoint that acts for someone refuses an unsigned
/// request, a request signed with the wrong key, and a request signed by
/// someone it does not act for — and nothing changes on the server.
#[test]
fn every_endpoint_refuses_unsigned_wrongly_signed_and_foreign_requests() {
    let s = Served::start();
    let url = s.server.url();
    s.client("alice", &s.alice).send(&s.message()).unwrap();
    s.client("alice", &s.alice)
        .submit_report("alice", [5; 16], b"sealed")
        .unwrap();
    let before = s.overview();
    let m = serde_json::to_vec(&s.message()).unwrap();
    let endpoints: Vec<(Raw, &str)> = vec![
        (
            Raw {
                method: "GET",
                target: "/users/bob".into(),
                body: vec![],
            },
            "a user",
        ),
        (
            Raw {
                method: "POST",
                target: "/messages".into(),
                body: m.clone(),
            },
            "alice",
        ),
        (
            Raw {
                method: "GET",
                target: "/inbox/bob".into(),
                body: vec![],
            },
            "bob",
        ),
        (
            Raw {
                method: "POST",
                target: "/inbox/bob/ack".into(),
                body: format!("{{\"ids\":[\"{}\"]}}", "01".repeat(16)).into_bytes(),
            },
            "bob",
        ),
        (
            Raw {
                method: "POST",
                target: "/reports".into(),
                body: format!("{{\"id\":\"{}\",\"sealed\":\"00\"}}", "09".repeat(16)).into_bytes(),
            },
            "a user",
        ),
        (
            Raw {
                method: "GET",
                target: "/reports".into(),
                body: vec![],
            },
            MODERATOR_KEY_ID,
        ),
        (
            Raw {
                method: "POST",
                target: format!("/reports/{}/resolve", "05".repeat(16)),
                body: br#"{"outcome":"false_positive"}"#.to_vec(),
            },
            MODERATOR_KEY_ID,
        ),
        (
            Raw {
                method: "GET",
                target: "/overview".into(),
                body: vec![],
            },
            OPERATOR_KEY_ID,
        ),
    ];
    let mallory = Identity::generate();
    let mut n = 0u8;
    for (req, owner) in &endpoints {
        // Unsigned.
        let (status, body) = raw_send(&url, req, None, None, &[]);
        assert_eq!(
            status, 401,
            "{} {} unsigned: {body}",
            req.method, req.target
        );
        assert!(body.contains("must be signed"), "{body}");
        // Signed as the rightful party but with Mallory's key.
        let key_id = match *owner {
            "a user" => "alice",
            other => other,
        };
        n += 1;
        let (status, body) = raw_send(
            &url,
            req,
            Some((key_id, &mallory, now(), &nonce(n))),
            None,
            &[],
        );
        assert_eq!(
            status, 401,
            "{} {} wrong key: {body}",
            req.method, req.target
        );
        assert!(body.contains("bad signature"), "{body}");
        // Correctly signed by someone the request does not act for.
        if !matches!(*owner, "a user" | "alice") {
            n += 1;
            let (status, body) = raw_send(
                &url,
                req,
                Some(("alice", &s.alice, now(), &nonce(n))),
                None,
                &[],
            );
            assert_eq!(
                status, 403,
                "{} {} as alice: {body}",
                req.method, req.target
            );
        }
    }
    // Alice cannot send as bob.
    let env = Envelope::seal(&s.bob, &s.alice.public(), [2; 16], now(), [0; 32], b"x").unwrap();
    let as_bob = OutgoingMessage {
        id: [2; 16],
        from: "bob".into(),
        to: "alice".into(),
        sent_at: env.time(),
        envelope: env.to_bytes(),
    };
    let err = s.client("alice", &s.alice).send(&as_bob).unwrap_err();
    assert!(matches!(err, relay::Error::Forbidden { .. }), "{err}");
    // Mallory cannot register a key under a name signed by another key.
    let body = serde_json::json!({"name": "eve", "x25519": hex::encode(s.alice.public().to_bytes()),
                                  "ed25519": hex::encode(s.alice.verify_key().to_bytes())});
    let req = Raw {
        method: "POST",
        target: "/users".into(),
        body: serde_json::to_vec(&body).unwrap(),
    };
    let (status, _) = raw_send(
        &url,
        &req,
        Some(("eve", &mallory, now(), &nonce(200))),
        None,
        &[],
    );
    assert_eq!(status, 401);

    // The rightful parties still get through.
    let reports = s
        .client(MODERATOR_KEY_ID, &s.moderator)
        .reports(None)
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].submitted_by, "alice");
    let after = s.overview();
    assert_eq!(after, before, "nothing changed on the server");
    assert_eq!(after.reports[0].status, cssim::relay::ReportStatus::Open);
    assert!(!after.messages[0].delivered);
}

/// Issue 8.2: a captured request replayed, a stale one, one for another
/// Host (DNS rebinding) and a cross-origin browser request are refused.
#[test]
fn replayed_stale_rebound_and_cross_origin_requests_are_refused() {
    let s = Served::start();
    let url = s.server.url();
    let host = url.trim_start_matches("http://").to_string();
    let fetch = Raw {
        method: "GET",
        target: "/inbox/bob".into(),
        body: vec![],
    };
    let (status, _) = raw_send(
        &url,
        &fetch,
        Some(("bob", &s.bob, now(), &nonce(1))),
        None,
        &[],
    );
    assert_eq!(status, 200);
    let (status, body) = raw_send(
        &url,
        &fetch,
        Some(("bob", &s.bob, now(), &nonce(1))),
        None,
        &[],
    );
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("replayed request"), "{body}");
    let (status, body) = raw_send(
        &url,
        &fetch,
        Some(("bob", &s.bob, now() - 3600, &nonce(2))),
        None,
        &[],
    );
    assert_eq!(status, 401);
    assert!(body.contains("stale request"), "{body}");
    let (status, body) = raw_send(
        &url,
        &fetch,
        Some(("bob", &s.bob, now(), &nonce(3))),
        Some("attacker.example:80"),
        &[],
    );
    assert_eq!(status, 403);
    assert!(body.contains("is not this relay's name"), "{body}");
    let (status, body) = raw_send(
        &url,
        &fetch,
        Some(("bob", &s.bob, now(), &nonce(4))),
        None,
        &[("origin", "http://attacker.example")],
    );
    assert_eq!(status, 403);
    assert!(body.contains("cross-origin"), "{body}");
    let (status, body) = raw_send(
        &url,
        &fetch,
        Some(("bob", &s.bob, now(), &nonce(6))),
        None,
        &[("sec-fetch-site", "cross-site")],
    );
    assert_eq!(status, 403);
    assert!(body.contains("cross-site request"), "{body}");
    let same_origin = format!("http://{host}");
    let (status, _) = raw_send(
        &url,
        &fetch,
        Some(("bob", &s.bob, now(), &nonce(5))),
        None,
        &[("origin", same_origin.as_str())],
    );
    assert_eq!(status, 200, "a same-origin request passes");
}

/// Issue 8.2, with a send's and an acknowledgement's nonce recorded in
/// the same transaction as their effect: a captured send or
/// acknowledgement replayed is refused and changes nothing, and a replay
/// of a send the relay refused is refused as a replay.
#[test]
fn replayed_sends_and_acknowledgements_are_refused() {
    let s = Served::start();
    let url = s.server.url();
    // A request signed by `user` under nonce `n`; sent twice with the same
    // nonce, the second is a captured request replayed.
    let signed = |raw: &Raw, user: &str, key: &Identity, n: u8| {
        raw_send(&url, raw, Some((user, key, now(), &nonce(n))), None, &[])
    };
    let m = s.message();
    let send = Raw {
        method: "POST",
        target: "/messages".into(),
        body: serde_json::to_vec(&m).unwrap(),
    };
    let (status, body) = signed(&send, "alice", &s.alice, 1);
    assert_eq!(status, 200, "{body}");
    let (status, body) = signed(&send, "alice", &s.alice, 1);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("replayed request"), "{body}");
    assert_eq!(s.overview().messages.len(), 1, "stored once");

    // A send the relay refuses (the envelope is sealed to bob, the request
    // says alice): its replay is a replay, not a second try.
    let mut wrong = s.message();
    wrong.id = [2; 16];
    wrong.to = "alice".into();
    let refused = Raw {
        method: "POST",
        target: "/messages".into(),
        body: serde_json::to_vec(&wrong).unwrap(),
    };
    let (status, body) = signed(&refused, "alice", &s.alice, 2);
    assert_eq!(status, 422, "{body}");
    let (status, body) = signed(&refused, "alice", &s.alice, 2);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("replayed request"), "{body}");

    let ack = Raw {
        method: "POST",
        target: "/inbox/bob/ack".into(),
        body: format!("{{\"ids\":[\"{}\"]}}", hex::encode(m.id)).into_bytes(),
    };
    let (status, body) = signed(&ack, "bob", &s.bob, 3);
    assert_eq!((status, body.as_str()), (200, "{\"acknowledged\":1}"));
    // The relay forgets the acknowledgement; the captured one replayed
    // does not mark the message again.
    rusqlite::Connection::open(s._dir.path().join("relay.db"))
        .unwrap()
        .execute("UPDATE messages SET delivered_at = NULL", [])
        .unwrap();
    let (status, body) = signed(&ack, "bob", &s.bob, 3);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("replayed request"), "{body}");
    let meta = s.overview().messages;
    assert_eq!(meta.len(), 1);
    assert!(
        !meta[0].delivered,
        "the replayed acknowledgement changed nothing"
    );
}

fn listed_bytes() -> Vec<u8> {
    std::fs::read(root().join(LISTED)).unwrap()
}

/// The listed stand-in image as an attachment: it matches the demo set.
fn listed_image() -> Vec<Attachment> {
    vec![Attachment::Image {
        name: "rocket.jpg".into(),
        bytes: listed_bytes(),
    }]
}

fn moderator_view(ws: &Ws) -> Vec<moderation::Reviewed> {
    let m = ws.ws.identity("moderator").unwrap();
    let relay = ws.ws.relay_as("moderator").unwrap();
    moderation::review(&*relay, &m, None).unwrap()
}

/// Issue 8.3: a genuine report verifies; Mallory framing Alice (a report
/// "from alice" she sealed and submitted), and a report about a message
/// the relay never carried, do not.
#[test]
fn forged_reports_are_shown_as_not_verified() {
    let ws = workspace();
    let sent = Device::open(&ws.ws, "alice")
        .unwrap()
        .send("bob", None, listed_image())
        .unwrap();
    assert_eq!(sent.report.as_ref().unwrap().released_now, 1);
    let genuine = moderator_view(&ws);
    assert_eq!(genuine.len(), 1);
    let v = genuine[0].verification.clone().unwrap();
    assert!(v.verified, "{v}");

    ws.ws.new_identity("mallory").unwrap();
    let mallory = ws.ws.identity("mallory").unwrap();
    let moderator_pk = ws.ws.moderator_key().unwrap();
    let store = Store::open(&ws.path.join("relay.db")).unwrap();
    // Framing: a copy of the genuine report's content, re-signed by Mallory.
    let real = genuine[0].opened.as_ref().unwrap().report.clone();
    let mut framed = real.clone();
    framed.id = "aa".repeat(16);
    store
        .submit_report(
            "mallory",
            [0xaa; 16],
            &framed.seal(&mallory, &moderator_pk).unwrap(),
        )
        .unwrap();
    // A report about a message never sent: made-up receipt and evidence.
    let m = message([0xbb; 16], "mallory", "bob", "innocent words");
    let kf = [1u8; 32];
    let fake = Report {
        id: "bb".repeat(16),
        account: "mallory".into(),
        recipient: "bob".into(),
        message_id: m.id.to_hex(),
        sent_at: m.sent_at,
        policy: "default".into(),
        account_matches: 1,
        matches: vec![],
        evidence: vec![Evidence {
            part: "text".into(),
            index: 0,
            kind: None,
            name: None,
            text: m.text.clone(),
            bytes: None,
            size: 14,
        }],
        franking_key: hex::encode(kf),
        part_digests: franking::part_digests(&m).iter().map(hex::encode).collect(),
        receipt: Receipt {
            message_id: m.id.to_hex(),
            from: "mallory".into(),
            to: "bob".into(),
            sent_at: m.sent_at,
            commitment: hex::encode(franking::commit(&kf, &m)),
            envelope_sha256: "00".repeat(32),
            stored_at: now(),
            signature: hex::encode(mallory.sign(b"not the relay")),
        },
    };
    store
        .submit_report(
            "mallory",
            [0xbb; 16],
            &fake.seal(&mallory, &moderator_pk).unwrap(),
        )
        .unwrap();
    // Doctored evidence: the genuine report with other image bytes.
    let mut doctored = real.clone();
    doctored.id = "cc".repeat(16);
    doctored.evidence[0].bytes = Some(b"another picture".to_vec());
    doctored.evidence[0].size = 15;
    let alice = ws.ws.identity("alice").unwrap();
    store
        .submit_report(
            "alice",
            [0xcc; 16],
            &doctored.seal(&alice, &moderator_pk).unwrap(),
        )
        .unwrap();
    // Doctored evidence whose digest list was doctored to match: only the
    // commitment the relay carried gives it away.
    let mut reopened = real.clone();
    reopened.id = "dd".repeat(16);
    reopened.evidence[0].bytes = Some(b"another picture".to_vec());
    reopened.evidence[0].size = 15;
    let i = reopened.evidence[0].index;
    reopened.part_digests[i] = hex::encode(reopened.evidence[0].digest());
    store
        .submit_report(
            "alice",
            [0xdd; 16],
            &reopened.seal(&alice, &moderator_pk).unwrap(),
        )
        .unwrap();
    // A genuine receipt for one message (id ee), whose commitment the
    // sender made over another (id ef), attached to a report about the
    // other one.
    let bob_pk = ws.ws.identity("bob").unwrap().public();
    let kf = [2u8; 32];
    let claimed = message([0xef; 16], "alice", "bob", "claimed");
    let carried = message([0xee; 16], "alice", "bob", "carried");
    let env = Envelope::seal(
        &alice,
        &bob_pk,
        carried.id.0,
        carried.sent_at,
        franking::commit(&kf, &claimed),
        &franking::frame(&kf, &carried.to_bytes()),
    )
    .unwrap();
    let receipt = store
        .send(&OutgoingMessage {
            id: carried.id.0,
            from: "alice".into(),
            to: "bob".into(),
            sent_at: carried.sent_at,
            envelope: env.to_bytes(),
        })
        .unwrap();
    let other = Report {
        id: "ef".repeat(16),
        message_id: claimed.id.to_hex(),
        sent_at: claimed.sent_at,
        evidence: vec![],
        franking_key: hex::encode(kf),
        part_digests: franking::part_digests(&claimed)
            .iter()
            .map(hex::encode)
            .collect(),
        receipt,
        ..real.clone()
    };
    store
        .submit_report(
            "alice",
            [0xef; 16],
            &other.seal(&alice, &moderator_pk).unwrap(),
        )
        .unwrap();
    drop(store);

    let view = moderator_view(&ws);
    let by_id = |prefix: &str| {
        view.iter()
            .find(|r| hex::encode(r.stored.id).starts_with(prefix))
            .and_then(|r| r.verification.clone())
            .unwrap()
    };
    let framed = by_id("aaaa");
    assert!(!framed.verified);
    assert!(
        framed
            .problems
            .iter()
            .any(|p| p.contains("not signed by account 'alice''s key")),
        "{framed}"
    );
    assert!(
        framed
            .problems
            .iter()
            .any(|p| p.contains("submitted by 'mallory'")),
        "{framed}"
    );
    let fake = by_id("bbbb");
    assert!(!fake.verified);
    assert_eq!(
        fake.problems,
        ["the relay's receipt does not verify"],
        "{fake}"
    );
    let doctored = by_id("cccc");
    assert!(!doctored.verified);
    assert!(
        doctored
            .problems
            .iter()
            .any(|p| p.contains("is not the part the message committed to")),
        "{doctored}"
    );
    let reopened = by_id("dddd");
    assert_eq!(
        reopened.problems,
        ["the franking opening does not match the commitment the relay carried"],
        "{reopened}"
    );
    let other = by_id("efef");
    assert_eq!(
        other.problems,
        ["the receipt is for another message"],
        "{other}"
    );
    // The CLI shows it too.
    let out = cssim_in(&ws.path)
        .args(["moderate", "list"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("[verified]").count(), 1, "{text}");
    assert_eq!(text.matches("NOT VERIFIED").count(), 5, "{text}");
}

fn set_policy(ws: &Ws, line: &str) {
    let p = ws.path.join("policy.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    let key = line.split('=').next().unwrap().trim();
    // At the top: later lines may be inside a [table].
    let mut out = vec![line.to_string()];
    out.extend(
        text.lines()
            .filter(|l| !l.trim_start().starts_with(key))
            .map(String::from),
    );
    std::fs::write(&p, out.join("\n") + "\n").unwrap();
}

/// Issue 8.5: a JPEG with its last two bytes cut (most viewers still show
/// it) is unscannable; each `on_unscannable` value decides.
#[test]
fn a_truncated_image_follows_on_unscannable() {
    let mut bytes = listed_bytes();
    bytes.truncate(bytes.len() - 2);
    for (value, action, sent, reported) in [
        ("allow", "allow", true, false),
        ("warn", "warn", true, false),
        ("report", "report", true, true),
        ("block", "block", false, false),
    ] {
        let ws = workspace();
        set_policy(&ws, &format!("on_unscannable = \"{value}\""));
        let out = Device::open(&ws.ws, "alice")
            .unwrap()
            .send(
                "bob",
                None,
                vec![Attachment::Image {
                    name: "cut.jpg".into(),
                    bytes: bytes.clone(),
                }],
            )
            .unwrap();
        assert_eq!(
            format!("{:?}", out.verdict.action).to_lowercase(),
            action,
            "{value}"
        );
        assert_eq!(out.verdict.unscannable.len(), 1, "{value}");
        assert_eq!(out.sent, sent, "{value}");
        assert_eq!(message_count(&ws), i64::from(sent), "{value}");
        assert_eq!(out.report.is_some(), reported, "{value}");
        if reported {
            let view = moderator_view(&ws);
            let o = view[0].opened.as_ref().unwrap();
            assert_eq!(
                o.report.evidence.len(),
                1,
                "the unscannable image is the evidence"
            );
            assert!(view[0].verification.as_ref().unwrap().verified);
        }
    }
}

/// Issue 8.7: the relay substitutes Bob's key (a malicious relay's way to
/// read Alice's messages). Alice's device refuses and explains; after
/// `cssim id trust` it sends again.
#[test]
fn a_changed_peer_key_is_refused_until_trusted() {
    let ws = workspace();
    cssim_in(&ws.path)
        .args(["send", "--from", "alice", "--to", "bob", "--text", "first"])
        .assert()
        .success();
    let evil = Identity::generate().public_identity();
    relay_db(&ws)
        .execute(
            "UPDATE users SET x25519 = ?1, ed25519 = ?2 WHERE name = 'bob'",
            rusqlite::params![&evil.x25519.to_bytes()[..], &evil.ed25519.to_bytes()[..]],
        )
        .unwrap();
    let out = cssim_in(&ws.path)
        .args(["send", "--from", "alice", "--to", "bob", "--text", "secret"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the relay now gives a different key for 'bob'"),
        "{err}"
    );
    assert!(err.contains("cssim id trust bob --as alice"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert_eq!(message_count(&ws), 1, "nothing sent to the substituted key");
    let trust = cssim_in(&ws.path)
        .args(["id", "trust", "bob", "--as", "alice"])
        .output()
        .unwrap();
    assert!(trust.status.success());
    let text = String::from_utf8_lossy(&trust.stdout);
    assert!(text.contains(&evil.x25519.fingerprint()), "{text}");
    let sn = alice_safety(&ws, &evil);
    assert!(text.contains(&sn), "{text}");
    cssim_in(&ws.path)
        .args([
            "send",
            "--from",
            "alice",
            "--to",
            "bob",
            "--text",
            "after checking",
        ])
        .assert()
        .success();
}

fn alice_safety(ws: &Ws, peer: &PublicIdentity) -> String {
    ws.ws
        .identity("alice")
        .unwrap()
        .public_identity()
        .safety_number(peer)
}

/// Issue 8.6: a crash after a report reached the relay but before the
/// device recorded it left the report held; releasing it again meets a
/// duplicate, which is success (before: every later send failed).
#[test]
fn releasing_a_report_the_relay_already_has_is_success() {
    let ws = workspace();
    set_policy(&ws, "account_threshold = 2");
    let mut alice = Device::open(&ws.ws, "alice").unwrap();
    let first = alice.send("bob", None, listed_image()).unwrap();
    assert_eq!(first.report.as_ref().unwrap().held, 1);
    // The "crash": the held report reached the relay, the device never knew.
    let state = rusqlite::Connection::open(ws.path.join("state/alice.db")).unwrap();
    let (id, sealed): (Vec<u8>, Vec<u8>) = state
        .query_row("SELECT id, sealed FROM pending_reports", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    Store::open(&ws.path.join("relay.db"))
        .unwrap()
        .submit_report("alice", id.try_into().unwrap(), &sealed)
        .unwrap();
    let second = alice.send("bob", None, listed_image()).unwrap();
    let r = second.report.unwrap();
    assert_eq!(r.release_error, None);
    assert_eq!((r.released_now, r.held, r.account_matches), (2, 0, 2));
    assert_eq!(moderator_view(&ws).len(), 2, "each report once");
}

/// Issue 9.2: the relay fails while storing the message (here a trigger
/// that aborts the insert, as a full disk would) — after the scan matched.
/// Before the fix the report was filed before the send, so a failed send
/// still reported and counted; each retry counted again.
#[test]
fn a_failed_send_files_no_report() {
    let ws = workspace();
    relay_db(&ws)
        .execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON messages
             BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
        )
        .unwrap();
    let mut alice = Device::open(&ws.ws, "alice").unwrap();
    let err = alice.send("bob", None, listed_image()).unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(alice.report_counts().unwrap(), (0, 0, 0));
    assert!(moderator_view(&ws).is_empty());
    assert_eq!(message_count(&ws), 0);
    // The retry succeeds and counts once.
    relay_db(&ws).execute_batch("DROP TRIGGER refuse").unwrap();
    let ok = alice.send("bob", None, listed_image()).unwrap();
    assert_eq!(ok.report.unwrap().account_matches, 1);
    assert_eq!(alice.report_counts().unwrap(), (1, 1, 0));
    assert_eq!(moderator_view(&ws).len(), 1);
}

/// Issue 8.8: an unknown relay scheme (`ftp://`; `https://` is served
/// since the relay has TLS, see tests/integration/relay_serve.rs) is refused, not taken
/// for a file name; a secret key readable by others is refused.
#[test]
fn unknown_relay_schemes_and_open_key_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("cssim")
        .unwrap()
        .args(["init", "--relay", "ftp://relay.example"])
        .arg(dir.path().join("ws"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unsupported scheme 'ftp://'"), "{err}");
    assert!(!dir.path().join("ws").exists(), "nothing written");
    assert!(!Path::new("ftp:").exists());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let ws = workspace();
        let key = ws.path.join("keys/alice.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = cssim_in(&ws.path)
            .args(["send", "--from", "alice", "--to", "bob", "--text", "x"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("alice.key: permissions 0644 are too open"),
            "{err}"
        );
        let db = ws.path.join("relay.db");
        let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "relay.db is private");
    }
}

/// Issue 8.4: a redelivered message (the device crashed after storing it,
/// before acknowledging) is shown once.
#[test]
fn a_redelivery_is_shown_once() {
    let ws = workspace();
    Device::open(&ws.ws, "alice")
        .unwrap()
        .send("bob", Some("once".into()), vec![])
        .unwrap();
    let got = bob_sees(&ws);
    assert_eq!(got.len(), 1);
    // The relay forgets the acknowledgement (as if the ack never arrived).
    relay_db(&ws)
        .execute("UPDATE messages SET delivered_at = NULL", [])
        .unwrap();
    assert!(
        bob_sees(&ws).is_empty(),
        "redelivered, stored before: not shown again"
    );
    let pending: i64 = relay_db(&ws)
        .query_row(
            "SELECT count(*) FROM messages WHERE delivered_at IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(pending, 0, "and acknowledged this time");
}

/// Issue 9.22: the device's replay guard is keyed by (sender, id), as the
/// envelope's is. Carol's message under an id Alice used before is hers,
/// not a replay of Alice's: before the fix Bob never saw it.
#[test]
fn two_senders_using_the_same_message_id_are_both_shown() {
    let ws = workspace();
    ws.ws.new_identity("carol").unwrap();
    let bob = ws.ws.identity("bob").unwrap().public();
    let seal = |from: &str, m: &Message| {
        let kf = [7u8; 32];
        Envelope::seal(
            &ws.ws.identity(from).unwrap(),
            &bob,
            m.id.0,
            m.sent_at,
            franking::commit(&kf, m),
            &franking::frame(&kf, &m.to_bytes()),
        )
        .unwrap()
        .to_bytes()
    };
    let id = [31; 16];
    let from_alice = message(id, "alice", "bob", "alice's words");
    plant(
        &ws,
        id,
        "alice",
        "bob",
        from_alice.sent_at,
        &seal("alice", &from_alice),
    );
    assert!(matches!(&bob_sees(&ws)[..], [Received::Message(m)] if m == &from_alice));
    // The relay forgets the delivered message (one relay purging, or
    // another relay): the id is free for Carol's.
    relay_db(&ws).execute("DELETE FROM messages", []).unwrap();
    let from_carol = message(id, "carol", "bob", "carol's words");
    plant(
        &ws,
        id,
        "carol",
        "bob",
        from_carol.sent_at,
        &seal("carol", &from_carol),
    );
    assert!(
        matches!(&bob_sees(&ws)[..], [Received::Message(m)] if m == &from_carol),
        "carol's message is shown though alice used its id"
    );
    // Alice's, redelivered, is still a replay.
    relay_db(&ws).execute("DELETE FROM messages", []).unwrap();
    plant(
        &ws,
        id,
        "alice",
        "bob",
        from_alice.sent_at,
        &seal("alice", &from_alice),
    );
    assert!(bob_sees(&ws).is_empty(), "alice's id is still guarded");
}

/// A 0600 copy of the committed demo issuer key (git checks it out 0644,
/// and cssim refuses a secret key others may read).
fn private_demo_issuer_key(ws: &Ws) -> PathBuf {
    let key = ws.dir.path().join("demo-issuer.key");
    std::fs::copy(root().join("hashsets/demo-issuer.key"), &key).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    key
}

/// Issue 8.8: a device that accepted version 2 of a hash set refuses the
/// older, validly signed version 1 (a rollback that would drop entries).
#[test]
fn a_rolled_back_hash_set_is_refused() {
    let ws = workspace();
    let set = ws.path.join("hashsets/demo.hashset");
    let v1 = std::fs::read(&set).unwrap();
    let key = private_demo_issuer_key(&ws);
    cssim_in(&ws.path)
        .args(["hashset", "build", "--from", "examples/images/listed"])
        .args(["--algo", "pdq,sha256", "--repr", "list", "--revision", "2"])
        .arg("--sign")
        .arg(&key)
        .args(["--seed", "1"])
        .args(["--created", "2026-11-26T00:00:00Z", "--name", "demo", "-o"])
        .arg(&set)
        .assert()
        .success();
    cssim_in(&ws.path)
        .args([
            "send", "--from", "alice", "--to", "bob", "--text", "with v2",
        ])
        .assert()
        .success();
    std::fs::write(&set, &v1).unwrap();
    let out = cssim_in(&ws.path)
        .args([
            "send", "--from", "alice", "--to", "bob", "--text", "with v1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("demo.hashset")
            && err.contains("version 1 of 'demo'")
            && err.contains("older than version 2 already accepted"),
        "{err}"
    );
    assert_eq!(message_count(&ws), 1, "nothing sent under the old set");
}
