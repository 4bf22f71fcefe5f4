//! The relay served over HTTP on loopback: concurrency, exactly-once delivery,
//! and a clear error when no relay is running.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use cssim::relay::{self, HttpRelay, OutgoingMessage, Relay, Store};

const CLIENTS: usize = 8;
const PER_CLIENT: usize = 500;
const RECIPIENTS: [&str; 3] = ["r0", "r1", "r2"];

#[test]
fn eight_concurrent_clients_every_message_delivered_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = relay::spawn(
        Store::open(&dir.path().join("relay.db")).unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let url = server.url();
    let setup = HttpRelay::new(&url);
    for c in 0..CLIENTS {
        setup.register(&format!("c{c}"), &[c as u8; 32]).unwrap();
    }
    for r in RECIPIENTS {
        setup.register(r, &[9; 32]).unwrap();
    }

    let delivered: Arc<Mutex<HashMap<[u8; 16], usize>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let takers: Vec<_> = (0..2)
        .map(|t| {
            let (url, delivered, done) = (url.clone(), delivered.clone(), done.clone());
            std::thread::spawn(move || {
                let client = HttpRelay::new(&url);
                let mut rounds = 0;
                loop {
                    let finished = done.load(Ordering::SeqCst);
                    for r in RECIPIENTS.iter().skip(t % 2) {
                        for m in client.take_inbox(r).unwrap() {
                            *delivered.lock().unwrap().entry(m.id).or_default() += 1;
                        }
                    }
                    rounds += 1;
                    if finished {
                        return rounds;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            })
        })
        .collect();
    let senders: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let url = url.clone();
            std::thread::spawn(move || {
                let client = HttpRelay::new(&url);
                for i in 0..PER_CLIENT {
                    let mut id = [0u8; 16];
                    id[0] = c as u8;
                    id[1..3].copy_from_slice(&(i as u16).to_be_bytes());
                    let m = OutgoingMessage {
                        id,
                        from: format!("c{c}"),
                        to: RECIPIENTS[i % RECIPIENTS.len()].into(),
                        sent_at: i as u64,
                        envelope: vec![(i % 251) as u8; 64 + i % 200],
                    };
                    client.send(&m).unwrap();
                }
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    done.store(true, Ordering::SeqCst);
    for t in takers {
        assert!(t.join().unwrap() >= 1);
    }
    // A last sweep after every taker stopped.
    for r in RECIPIENTS {
        for m in setup.take_inbox(r).unwrap() {
            *delivered.lock().unwrap().entry(m.id).or_default() += 1;
        }
    }
    let delivered = delivered.lock().unwrap();
    assert_eq!(
        delivered.len(),
        CLIENTS * PER_CLIENT,
        "every message delivered"
    );
    assert!(
        delivered.values().all(|&n| n == 1),
        "no message delivered twice"
    );
    let overview = setup.overview().unwrap();
    assert_eq!(overview.messages.len(), CLIENTS * PER_CLIENT);
    assert!(overview.messages.iter().all(|m| m.delivered));
    server.stop();
}

#[test]
fn errors_travel_over_http_as_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let server = relay::spawn(
        Store::open(&dir.path().join("r.db")).unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let client = HttpRelay::new(&server.url());
    client.register("alice", &[1; 32]).unwrap();
    assert_eq!(
        client.register("alice", &[1; 32]),
        Err(relay::Error::UserExists {
            name: "alice".into()
        })
    );
    assert_eq!(
        client.public_key("bob"),
        Err(relay::Error::UnknownUser { name: "bob".into() })
    );
    let m = OutgoingMessage {
        id: [5; 16],
        from: "alice".into(),
        to: "bob".into(),
        sent_at: 0,
        envelope: vec![1; 20],
    };
    assert_eq!(
        client.send(&m),
        Err(relay::Error::UnknownUser { name: "bob".into() })
    );
    server.stop();
}

#[test]
fn a_relay_that_is_not_running_is_a_clear_error() {
    // Bind and drop a listener to find a port that is closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = HttpRelay::new(&format!("http://127.0.0.1:{port}"));
    let start = std::time::Instant::now();
    let err = client.public_key("alice").unwrap_err();
    assert!(matches!(err, relay::Error::Unreachable { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("relay at http://127.0.0.1:{port} is unreachable")),
        "{err}"
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}
