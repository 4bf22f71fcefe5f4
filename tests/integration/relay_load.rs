//! The relay under load and faults, over real HTTP on loopback.
//!
//! - many clients at once: every message delivered exactly once;
//! - the relay process killed with SIGKILL mid-run and restarted on the
//!   same port and database: every acknowledged send is delivered, none twice;
//! - a client that dies between fetching and acknowledging: the relay
//!   delivers again, and the real `Device` shows each message once;
//! - errors travel over HTTP as themselves, and a relay that is not running
//!   is a clear `Unreachable` error.
//!
//! Every loop has a cap and a deadline, every address is loopback, and
//! every server, proxy and child process is stopped on every path (guards
//! with `Drop`).

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cssim::client::{Device, Received};
use cssim::e2ee::{Envelope, Identity, PublicKey, VerifyKey};
use cssim::relay::{
    self, HttpRelay, OPERATOR_KEY_ID, OutgoingMessage, Receipt, Relay, ServerConfig, Signer, Store,
};
use cssim::workspace::{self, Workspace};

/// How long any one phase of a test may take before it fails.
const DEADLINE: Duration = Duration::from_secs(60);
/// Most rounds any polling or retry loop may run.
const MAX_ROUNDS: usize = 100_000;
/// Messages a taker asks for per page.
const PAGE: usize = 100;
/// Pause between retries while the relay is down.
const RETRY_PAUSE: Duration = Duration::from_millis(25);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Panics with `what` once `deadline` has passed.
fn before(deadline: Instant, what: &str) {
    assert!(
        Instant::now() < deadline,
        "{what}: not done within {DEADLINE:?}"
    );
}

/// A message id that says who sent it and which one it was.
fn message_id(sender: usize, seq: usize) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[0] = sender as u8;
    id[1..3].copy_from_slice(&(seq as u16).to_be_bytes());
    id[3..].copy_from_slice(b"relay-load-v1");
    id
}

/// What message `id` says, so the taker can check what it opened.
fn body(id: &[u8; 16]) -> Vec<u8> {
    format!("load message {}", hex::encode(id)).into_bytes()
}

/// One party: its identity and a relay client that signs as it.
struct Party {
    name: String,
    identity: Arc<Identity>,
    relay: HttpRelay,
}

impl Party {
    /// A fresh identity, registered by a request signed with its own key.
    fn register(url: &str, name: &str) -> Party {
        let party = Party::signing_as(url, name, Arc::new(Identity::generate()));
        party
            .relay
            .register(name, &party.identity.public_identity())
            .unwrap_or_else(|e| panic!("registering {name}: {e}"));
        party
    }

    /// A client for `url` signing as `key_id` with `identity`.
    fn signing_as(url: &str, key_id: &str, identity: Arc<Identity>) -> Party {
        let relay = HttpRelay::new(url).with_signer(Signer {
            key_id: key_id.to_string(),
            identity: identity.clone(),
        });
        Party {
            name: key_id.to_string(),
            identity,
            relay,
        }
    }

    /// The same party on a new connection (as after an app restart).
    fn reconnect(&self, url: &str) -> Party {
        Party::signing_as(url, &self.name, self.identity.clone())
    }

    fn public(&self) -> PublicKey {
        self.identity.public()
    }

    /// A real envelope from this party to `to`, as the relay checks it.
    fn message(&self, to: &str, recipient: &PublicKey, id: [u8; 16]) -> OutgoingMessage {
        let sent_at = now();
        let env = Envelope::seal(&self.identity, recipient, id, sent_at, [7; 32], &body(&id))
            .expect("sealing");
        OutgoingMessage {
            id,
            from: self.name.clone(),
            to: to.to_string(),
            sent_at,
            envelope: env.to_bytes(),
        }
    }
}

/// What one recipient's device saw while fetching and acknowledging.
#[derive(Debug, Default)]
struct Taken {
    /// Ids stored locally (each once: the local store is the replay guard).
    stored: HashSet<[u8; 16]>,
    /// Ids whose acknowledgement the relay confirmed.
    confirmed: HashSet<[u8; 16]>,
    /// Ids fetched again after an acknowledgement that failed (allowed:
    /// delivery is at least once).
    redelivered: usize,
    /// Ids fetched again after a confirmed acknowledgement (never allowed).
    twice: Vec<[u8; 16]>,
    /// Pages fetched.
    pages: usize,
    /// Messages the relay said it newly marked delivered.
    acked: usize,
    /// Fetches and acknowledgements that failed (the relay was down).
    errors: usize,
}

/// Fetches, opens and stores, then acknowledges, page by page, until
/// `done` is set and the inbox is empty. `senders` are the keys each
/// envelope's authenticated sender must match.
fn take(
    party: &Party,
    senders: &HashMap<String, PublicKey>,
    done: &AtomicBool,
    deadline: Instant,
) -> Taken {
    let mut t = Taken::default();
    for _ in 0..MAX_ROUNDS {
        before(deadline, &format!("{}'s inbox", party.name));
        // Read before fetching: anything sent before `done` was set is in
        // this fetch or an earlier one.
        let finished = done.load(SeqCst);
        let page = match party.relay.fetch_inbox(&party.name, PAGE) {
            Ok(p) => p,
            Err(e) => {
                // Tolerated while the relay restarts, never once every
                // sender has finished (nor after a failure elsewhere).
                assert!(!finished, "{}: fetch failed at the end: {e}", party.name);
                t.errors += 1;
                thread::sleep(RETRY_PAUSE);
                continue;
            }
        };
        if page.is_empty() {
            if finished {
                return t;
            }
            thread::sleep(Duration::from_millis(10));
            continue;
        }
        t.pages += 1;
        for m in &page {
            if t.confirmed.contains(&m.id) {
                t.twice.push(m.id);
            } else if !t.stored.insert(m.id) {
                t.redelivered += 1;
            } else {
                let env = Envelope::from_bytes(&m.envelope).expect("a well-formed envelope");
                let opened = env.open(&party.identity).expect("the envelope opens");
                assert_eq!(opened.plaintext, body(&m.id), "content intact");
                assert_eq!(Some(&opened.sender), senders.get(&m.from), "sender");
            }
        }
        let ids: Vec<[u8; 16]> = page.iter().map(|m| m.id).collect();
        match party.relay.ack(&party.name, &ids) {
            Ok(n) => {
                t.acked += n;
                t.confirmed.extend(ids);
            }
            Err(_) => t.errors += 1,
        }
    }
    panic!(
        "{}'s inbox: still going after {MAX_ROUNDS} rounds",
        party.name
    );
}

/// Sets its flag when dropped: takers stop once the senders are done,
/// whether they finished or a panic unwinds the test.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

/// The operator's view of the relay: how many messages it holds and how
/// many of them are marked delivered.
fn delivered_in_overview(operator: &Party, sent: &HashSet<[u8; 16]>) -> (usize, usize) {
    let overview = operator
        .relay
        .overview()
        .expect("the operator reads the overview");
    let ids: HashSet<[u8; 16]> = overview
        .messages
        .iter()
        .map(|m| {
            hex::decode(&m.id)
                .ok()
                .and_then(|v| v.try_into().ok())
                .expect("hex id")
        })
        .collect();
    assert_eq!(&ids, sent, "the relay holds exactly the messages sent");
    (
        overview.messages.len(),
        overview.messages.iter().filter(|m| m.delivered).count(),
    )
}

/// An operator identity and the server configuration that trusts it.
fn operator() -> (Arc<Identity>, ServerConfig) {
    let identity = Arc::new(Identity::generate());
    let config = ServerConfig {
        operator: Some(identity.verify_key()),
        ..ServerConfig::default()
    };
    (identity, config)
}

const CLIENTS: usize = 8;
const PER_CLIENT: usize = 500;
const RECIPIENTS: [&str; 3] = ["r0", "r1", "r2"];

#[test]
fn eight_concurrent_clients_every_message_delivered_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let (op, config) = operator();
    let server = relay::spawn(
        Store::open(&dir.path().join("relay.db")).unwrap(),
        "127.0.0.1:0".parse().unwrap(),
        config,
    )
    .unwrap();
    let url = server.url();
    let operator = Party::signing_as(&url, OPERATOR_KEY_ID, op);
    let relay_key = HttpRelay::new(&url).relay_key().unwrap();
    let senders: Vec<Party> = (0..CLIENTS)
        .map(|c| Party::register(&url, &format!("c{c}")))
        .collect();
    let recipients: Vec<Party> = RECIPIENTS
        .iter()
        .map(|r| Party::register(&url, r))
        .collect();
    let sender_keys: HashMap<String, PublicKey> = senders
        .iter()
        .map(|p| (p.name.clone(), p.public()))
        .collect();
    let to: Vec<(String, PublicKey)> = recipients
        .iter()
        .map(|p| (p.name.clone(), p.public()))
        .collect();

    let done = AtomicBool::new(false);
    let deadline = Instant::now() + DEADLINE;
    let start = Instant::now();
    let (sent, taken) = thread::scope(|s| {
        let takers: Vec<_> = recipients
            .iter()
            .map(|r| s.spawn(|| take(r, &sender_keys, &done, deadline)))
            .collect();
        let sending: Vec<_> = senders
            .iter()
            .enumerate()
            .map(|(c, p)| {
                let to = &to;
                s.spawn(move || {
                    let mut ids = Vec::with_capacity(PER_CLIENT);
                    for i in 0..PER_CLIENT {
                        before(deadline, &p.name);
                        let (name, key) = &to[i % to.len()];
                        let m = p.message(name, key, message_id(c, i));
                        let receipt = p
                            .relay
                            .send(&m)
                            .unwrap_or_else(|e| panic!("{} message {i}: {e}", p.name));
                        receipt.verify(&relay_key).expect("the receipt verifies");
                        assert_eq!(receipt.message_id, hex::encode(m.id));
                        ids.push(m.id);
                    }
                    ids
                })
            })
            .collect();
        let finished = SetOnDrop(&done);
        let sent: Vec<[u8; 16]> = sending
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        drop(finished);
        let taken: Vec<Taken> = takers.into_iter().map(|h| h.join().unwrap()).collect();
        (sent, taken)
    });
    let elapsed = start.elapsed();

    let sent: HashSet<[u8; 16]> = sent.into_iter().collect();
    assert_eq!(sent.len(), CLIENTS * PER_CLIENT, "distinct ids sent");
    let mut delivered: HashMap<[u8; 16], usize> = HashMap::new();
    for t in &taken {
        assert_eq!(t.errors, 0, "no request failed: {t:?}");
        assert_eq!(t.redelivered, 0, "nothing fetched again after its ack");
        assert!(t.twice.is_empty(), "no id seen twice across pages");
        assert_eq!(t.acked, t.stored.len(), "each ack newly marked its page");
        for id in &t.stored {
            *delivered.entry(*id).or_default() += 1;
        }
    }
    assert_eq!(
        delivered.len(),
        CLIENTS * PER_CLIENT,
        "every message delivered"
    );
    assert!(
        delivered.values().all(|&n| n == 1),
        "no message delivered to two recipients"
    );
    assert_eq!(
        delivered.keys().copied().collect::<HashSet<_>>(),
        sent,
        "what was delivered is what was sent"
    );
    let per_recipient: Vec<usize> = taken.iter().map(|t| t.stored.len()).collect();
    let expected: Vec<usize> = (0..RECIPIENTS.len())
        .map(|r| {
            (0..PER_CLIENT)
                .filter(|i| i % RECIPIENTS.len() == r)
                .count()
                * CLIENTS
        })
        .collect();
    assert_eq!(per_recipient, expected, "each recipient got its share");
    assert_eq!(
        delivered_in_overview(&operator, &sent),
        (CLIENTS * PER_CLIENT, CLIENTS * PER_CLIENT),
        "the operator sees every message delivered"
    );
    eprintln!(
        "load: {} messages from {CLIENTS} clients delivered once each to {} recipients in {} pages, {elapsed:.1?}",
        sent.len(),
        RECIPIENTS.len(),
        taken.iter().map(|t| t.pages).sum::<usize>()
    );
    server.stop();
}

/// `cssim relay serve` running as a child process; killed on drop.
struct RelayProcess {
    child: Child,
}

impl RelayProcess {
    /// Starts the relay binary on `addr` with `db`, and waits until it
    /// answers (retrying while the port is still being released).
    fn start(addr: SocketAddr, db: &Path, operator_key: &Path, log: &Path) -> RelayProcess {
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = format!("http://{addr}");
        for _ in 0..40 {
            before(deadline, "starting the relay");
            let log_file = std::fs::File::create(log).unwrap();
            let child = Command::new(env!("CARGO_BIN_EXE_cssim"))
                .args(["relay", "serve", "--listen", &addr.to_string(), "--db"])
                .arg(db)
                .arg("--operator-key")
                .arg(operator_key)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .expect("the cssim binary starts");
            let mut process = RelayProcess { child };
            for _ in 0..200 {
                if process.child.try_wait().unwrap().is_some() {
                    break; // exited: most likely the port is not free yet
                }
                if HttpRelay::new(&url).relay_key().is_ok() {
                    return process;
                }
                thread::sleep(Duration::from_millis(25));
            }
            drop(process);
            thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "the relay did not start on {addr}: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }

    /// Kills the process with SIGKILL (no chance to flush or clean up).
    fn sigkill(mut self) {
        self.child.kill().expect("SIGKILL");
        let status = self.child.wait().expect("reaped");
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status}");
        }
        #[cfg(not(unix))]
        let _ = status;
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (bound and released; the relay binds it next).
fn free_loopback_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// What one sender got while the relay was killed and restarted.
#[derive(Debug, Default)]
struct Sent {
    /// Messages whose send returned a receipt, with it.
    acknowledged: Vec<(OutgoingMessage, Receipt)>,
    /// Messages acknowledged only on a retry.
    retried: usize,
    /// Failed attempts in all.
    failures: usize,
}

/// Sends `count` messages, retrying the same envelope until the relay
/// acknowledges it.
fn send_retrying(
    p: &Party,
    sender: usize,
    to: &[(String, PublicKey)],
    count: usize,
    acked_total: &AtomicUsize,
    deadline: Instant,
) -> Sent {
    let mut out = Sent::default();
    for i in 0..count {
        let (name, key) = &to[i % to.len()];
        let m = p.message(name, key, message_id(sender, i));
        let mut attempts = 0;
        // An identical retry gets the stored message's receipt: a
        // `Duplicate` would mean the retry path is broken, and fails the test.
        let receipt = loop {
            before(deadline, &format!("{} message {i}", p.name));
            assert!(
                attempts < MAX_ROUNDS,
                "{} message {i}: too many attempts",
                p.name
            );
            match p.relay.send(&m) {
                Ok(r) => break r,
                // The relay is down, or died while answering.
                Err(relay::Error::Unreachable { .. } | relay::Error::Protocol { .. }) => {
                    attempts += 1;
                    out.failures += 1;
                    thread::sleep(RETRY_PAUSE);
                }
                Err(e) => panic!("{} message {i}: {e}", p.name),
            }
        };
        if attempts > 0 {
            out.retried += 1;
        }
        out.acknowledged.push((m, receipt));
        acked_total.fetch_add(1, SeqCst);
    }
    out
}

const KILL_SENDERS: usize = 4;
const KILL_PER_SENDER: usize = 150;

#[test]
fn relay_killed_with_sigkill_and_restarted_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let log = dir.path().join("relay.log");
    let operator_identity = Arc::new(Identity::generate());
    let operator_key = dir.path().join("operator.pub");
    operator_identity
        .public_identity()
        .write(&operator_key)
        .unwrap();
    let addr = free_loopback_addr();
    let url = format!("http://{addr}");
    let mut server = Some(RelayProcess::start(addr, &db, &operator_key, &log));
    let relay_key: VerifyKey = HttpRelay::new(&url).relay_key().unwrap();

    let senders: Vec<Party> = (0..KILL_SENDERS)
        .map(|c| Party::register(&url, &format!("s{c}")))
        .collect();
    let recipients: Vec<Party> = ["k0", "k1"]
        .iter()
        .map(|r| Party::register(&url, r))
        .collect();
    let sender_keys: HashMap<String, PublicKey> = senders
        .iter()
        .map(|p| (p.name.clone(), p.public()))
        .collect();
    let to: Vec<(String, PublicKey)> = recipients
        .iter()
        .map(|p| (p.name.clone(), p.public()))
        .collect();
    let total = KILL_SENDERS * KILL_PER_SENDER;

    let acked_total = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    let deadline = Instant::now() + DEADLINE;
    let (sent, taken, killed_after) = thread::scope(|s| {
        let takers: Vec<_> = recipients
            .iter()
            .map(|r| s.spawn(|| take(r, &sender_keys, &done, deadline)))
            .collect();
        let sending: Vec<_> = senders
            .iter()
            .enumerate()
            .map(|(c, p)| {
                let (to, acked_total) = (&to, &acked_total);
                s.spawn(move || send_retrying(p, c, to, KILL_PER_SENDER, acked_total, deadline))
            })
            .collect();
        let finished = SetOnDrop(&done);
        // Kill it a third of the way through, while every sender is busy.
        for _ in 0..MAX_ROUNDS {
            before(deadline, "waiting for a third of the sends");
            if acked_total.load(SeqCst) >= total / 3 {
                break;
            }
            thread::sleep(Duration::from_millis(2));
        }
        let killed_after = acked_total.load(SeqCst);
        server.take().expect("running").sigkill();
        // Down long enough that senders and takers notice.
        thread::sleep(Duration::from_millis(300));
        server = Some(RelayProcess::start(addr, &db, &operator_key, &log));
        let sent: Vec<Sent> = sending.into_iter().map(|h| h.join().unwrap()).collect();
        drop(finished);
        let taken: Vec<Taken> = takers.into_iter().map(|h| h.join().unwrap()).collect();
        (sent, taken, killed_after)
    });

    assert_eq!(
        HttpRelay::new(&url).relay_key().unwrap(),
        relay_key,
        "the restarted relay signs with the same key"
    );
    let acknowledged: HashMap<[u8; 16], &(OutgoingMessage, Receipt)> = sent
        .iter()
        .flat_map(|s| &s.acknowledged)
        .map(|a| (a.0.id, a))
        .collect();
    let retried: usize = sent.iter().map(|s| s.retried).sum();
    let failures: usize = sent.iter().map(|s| s.failures).sum();
    assert_eq!(
        acknowledged.len(),
        total,
        "every message acknowledged in the end"
    );
    assert!(
        retried > 0,
        "the kill interrupted some sends (else it was not in the middle)"
    );
    for (m, r) in acknowledged.values() {
        r.verify(&relay_key).expect("every receipt verifies");
        assert_eq!(r.message_id, hex::encode(m.id));
    }

    let mut delivered: HashMap<[u8; 16], usize> = HashMap::new();
    for t in &taken {
        assert!(t.twice.is_empty(), "no message fetched again after its ack");
        for id in &t.stored {
            *delivered.entry(*id).or_default() += 1;
        }
    }
    for id in acknowledged.keys() {
        assert_eq!(
            delivered.get(id),
            Some(&1),
            "acknowledged message {} delivered once",
            hex::encode(id)
        );
    }
    assert!(delivered.values().all(|&n| n == 1), "none delivered twice");
    let all: HashSet<[u8; 16]> = delivered.keys().copied().collect();
    assert_eq!(all.len(), total, "every message delivered");

    // A retry of an acknowledged envelope after the restart returns the
    // same receipt, and stores nothing new.
    let operator = Party::signing_as(&url, OPERATOR_KEY_ID, operator_identity);
    let by_name: HashMap<&str, &Party> = senders.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut resent = 0;
    for (m, r) in acknowledged.values().step_by(10) {
        let again = by_name[m.from.as_str()]
            .reconnect(&url)
            .relay
            .send(m)
            .unwrap();
        assert_eq!(&again, r, "same receipt for the same envelope");
        resent += 1;
    }
    assert_eq!(
        delivered_in_overview(&operator, &all),
        (total, total),
        "the operator sees every message once, delivered"
    );
    let redelivered: usize = taken.iter().map(|t| t.redelivered).sum();
    let taker_errors: usize = taken.iter().map(|t| t.errors).sum();
    eprintln!(
        "sigkill after {killed_after}/{total} acknowledged sends: {retried} sends retried \
         ({failures} failed attempts), {} delivered once, \
         {redelivered} redelivered after a lost ack, {taker_errors} taker requests failed, \
         {resent} resends got the same receipt",
        all.len()
    );
}

/// A loopback TCP proxy in front of a relay that, while `drop_acks` is set,
/// loses every acknowledgement: the request never reaches the relay and the
/// client's connection closes unanswered — the relay's view of a client
/// that stored a page and died before acknowledging it.
struct AckDropper {
    addr: SocketAddr,
    drop_acks: Arc<AtomicBool>,
    dropped: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AckDropper {
    /// Listens on a loopback port; [`AckDropper::forward_to`] starts it.
    fn bind() -> (TcpListener, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        (listener, addr)
    }

    fn forward_to(listener: TcpListener, upstream: SocketAddr) -> AckDropper {
        let addr = listener.local_addr().unwrap();
        let drop_acks = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        listener.set_nonblocking(true).unwrap();
        let (d, n, st) = (drop_acks.clone(), dropped.clone(), stop.clone());
        let thread = thread::spawn(move || {
            let deadline = Instant::now() + 2 * DEADLINE;
            while !st.load(SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((client, _)) => {
                        let (d, n) = (d.clone(), n.clone());
                        thread::spawn(move || {
                            let _ = proxy_one(client, upstream, &d, &n);
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        AckDropper {
            addr,
            drop_acks,
            dropped,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for AckDropper {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Carries one request (ureq opens a connection per request) to
/// `upstream` and its answer back, unless it is an acknowledgement that
/// is to be lost.
fn proxy_one(
    mut client: TcpStream,
    upstream: SocketAddr,
    drop_acks: &AtomicBool,
    dropped: &AtomicUsize,
) -> std::io::Result<()> {
    let timeout = Some(Duration::from_secs(10));
    client.set_nonblocking(false)?;
    client.set_read_timeout(timeout)?;
    let mut head = Vec::new();
    let mut buf = [0u8; 8192];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = client.read(&mut buf)?;
        if n == 0 || head.len() > 1 << 20 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(head.split(|&b| b == b'\r').next().unwrap_or(b""));
    let mut parts = line.split(' ');
    let is_ack = parts.next() == Some("POST")
        && parts
            .next()
            .is_some_and(|p| p.starts_with("/inbox/") && p.ends_with("/ack"));
    if is_ack && drop_acks.load(SeqCst) {
        dropped.fetch_add(1, SeqCst);
        return client.shutdown(Shutdown::Both);
    }
    let mut up = TcpStream::connect_timeout(&upstream, Duration::from_secs(2))?;
    up.set_read_timeout(timeout)?;
    up.write_all(&head)?;
    let (mut from_client, mut to_up) = (client.try_clone()?, up.try_clone()?);
    let forward = thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_up);
        let _ = to_up.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut up, &mut client);
    let _ = client.shutdown(Shutdown::Both);
    let _ = forward.join();
    Ok(())
}

#[test]
fn a_client_that_fetched_but_never_acknowledged_gets_the_messages_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = relay::spawn(
        Store::open(&dir.path().join("relay.db")).unwrap(),
        "127.0.0.1:0".parse().unwrap(),
        ServerConfig::default(),
    )
    .unwrap();
    let url = server.url();
    let alice = Party::register(&url, "alice");
    let bob = Party::register(&url, "bob");
    let ids: Vec<[u8; 16]> = (0..5).map(|i| message_id(1, i)).collect();
    for id in &ids {
        alice
            .relay
            .send(&alice.message("bob", &bob.public(), *id))
            .unwrap();
    }

    // Fetches a page, stores nothing, acknowledges nothing, dies.
    let first: Vec<[u8; 16]> = bob
        .reconnect(&url)
        .relay
        .fetch_inbox("bob", 3)
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(first, ids[..3], "a page of three, oldest first");

    // A fresh client for bob gets all five, the first page again included.
    let fresh = bob.reconnect(&url);
    let again: Vec<[u8; 16]> = fresh
        .relay
        .fetch_inbox("bob", 10)
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(again, ids, "nothing was lost by the dead client");
    assert_eq!(fresh.relay.ack("bob", &again).unwrap(), 5);
    assert!(fresh.relay.fetch_inbox("bob", 10).unwrap().is_empty());
    assert_eq!(fresh.relay.ack("bob", &again).unwrap(), 0, "idempotent");
    server.stop();
}

fn texts(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| match r {
            Received::Message(m) => m.text.clone().unwrap_or_default(),
            Received::Unreadable { id, reason } => panic!("message {id} unreadable: {reason}"),
        })
        .collect()
}

#[test]
fn a_device_that_dies_between_storing_and_acknowledging_shows_each_message_once() {
    let dir = tempfile::tempdir().unwrap();
    let (listener, proxy_addr) = AckDropper::bind();
    let server = relay::spawn(
        Store::open(&dir.path().join("relay.db")).unwrap(),
        "127.0.0.1:0".parse().unwrap(),
        ServerConfig {
            // The client signs for the proxy's address, which it connects to.
            names: vec![proxy_addr.to_string()],
            ..ServerConfig::default()
        },
    )
    .unwrap();
    let proxy = AckDropper::forward_to(listener, server.addr());
    let ws_dir: PathBuf = dir.path().join("ws");
    let ws = Workspace::init(&ws_dir, Some(&format!("http://{}", proxy.addr))).unwrap();

    let sent = ["one", "two", "three"];
    let mut alice = Device::open(&ws, "alice").unwrap();
    for text in sent {
        let outcome = alice.send("bob", Some(text.into()), vec![]).unwrap();
        assert!(outcome.sent, "{text} sent");
    }

    // Bob's device fetches the page and stores it, and the acknowledgement
    // never reaches the relay: to the relay, the device died before acking.
    proxy.drop_acks.store(true, SeqCst);
    let mut bob = Device::open(&ws, "bob").unwrap();
    let err = bob.inbox().expect_err("the acknowledgement was lost");
    assert!(
        matches!(
            err,
            workspace::Error::Relay(relay::Error::Unreachable { .. })
        ),
        "{err}"
    );
    drop(bob);
    assert_eq!(proxy.dropped.load(SeqCst), 1, "one acknowledgement lost");
    proxy.drop_acks.store(false, SeqCst);
    let waiting = ws.relay_as("bob").unwrap().fetch_inbox("bob", 10).unwrap();
    assert_eq!(waiting.len(), 3, "the relay still holds all three for bob");

    // Restarted, the device is sent all three again and shows each once.
    let mut bob = Device::open(&ws, "bob").unwrap();
    assert_eq!(texts(&bob.inbox().unwrap()), sent, "each shown once");
    assert!(bob.inbox().unwrap().is_empty(), "and never again");
    let mut bob = Device::open(&ws, "bob").unwrap();
    assert!(bob.inbox().unwrap().is_empty(), "nor after another restart");
    // A redelivery of messages already shown (the relay forgets the
    // acknowledgements) is not shown again: the device's replay guard.
    rusqlite::Connection::open(dir.path().join("relay.db"))
        .unwrap()
        .execute("UPDATE messages SET delivered_at = NULL", [])
        .unwrap();
    assert!(bob.inbox().unwrap().is_empty(), "a redelivery is not shown");
    assert!(
        ws.relay_as("bob")
            .unwrap()
            .fetch_inbox("bob", 10)
            .unwrap()
            .is_empty(),
        "all acknowledged"
    );
    assert_eq!(proxy.dropped.load(SeqCst), 1);
    drop(proxy);
    server.stop();
}

#[test]
fn errors_travel_over_http_as_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let server = relay::spawn(
        Store::open(&dir.path().join("r.db")).unwrap(),
        "127.0.0.1:0".parse().unwrap(),
        ServerConfig::default(),
    )
    .unwrap();
    let url = server.url();
    let alice = Party::register(&url, "alice");
    assert_eq!(
        alice
            .relay
            .register("alice", &alice.identity.public_identity()),
        Err(relay::Error::UserExists {
            name: "alice".into()
        })
    );
    assert_eq!(
        alice.relay.user_keys("bob"),
        Err(relay::Error::UnknownUser { name: "bob".into() })
    );
    let stranger = Identity::generate().public();
    assert_eq!(
        alice.relay.send(&alice.message("bob", &stranger, [5; 16])),
        Err(relay::Error::UnknownUser { name: "bob".into() })
    );
    let bob = Party::register(&url, "bob");
    alice
        .relay
        .send(&alice.message("bob", &bob.public(), [5; 16]))
        .unwrap();
    // Sealing again makes a new envelope (a fresh ephemeral key) under the
    // same id: a different message, not a retry.
    let other = alice.message("bob", &bob.public(), [5; 16]);
    assert_eq!(
        alice.relay.send(&other),
        Err(relay::Error::Duplicate {
            id: hex::encode([5u8; 16])
        })
    );
    assert!(matches!(
        bob.relay.fetch_inbox("alice", 10),
        Err(relay::Error::Forbidden { .. })
    ));
    server.stop();
}

#[test]
fn a_relay_that_is_not_running_is_a_clear_error() {
    let addr = free_loopback_addr();
    let url = format!("http://{addr}");
    let start = Instant::now();
    let err = HttpRelay::new(&url).relay_key().unwrap_err();
    assert!(matches!(err, relay::Error::Unreachable { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("relay at {url} is unreachable")),
        "{err}"
    );
    let signed = Party::signing_as(&url, "alice", Arc::new(Identity::generate()));
    let err = signed.relay.fetch_inbox("alice", 10).unwrap_err();
    assert!(matches!(err, relay::Error::Unreachable { .. }), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}
