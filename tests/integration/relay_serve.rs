//! `cssim relay serve` through the real binary: HTTPS with a certificate
//! made in the test (rcgen), clients that do and do not trust it, a plain
//! HTTP client on the TLS port, bad certificate files, the warning for a
//! non-loopback address, and a busy port (issue 8.2 TLS, issue 9.6).
//!
//! Every server is a child process listening on loopback port 0 (it prints
//! the address it bound), stopped by a guard on every path.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command as StdCommand, Stdio};
use std::time::Duration;

use assert_cmd::Command;
use assert_cmd::cargo::cargo_bin;

use crate::util::stderr;

fn cssim() -> Command {
    let mut c = Command::cargo_bin("cssim").unwrap();
    c.env("NO_COLOR", "1")
        .env_remove("CSSIM_RELAY_CA")
        .env_remove("CSSIM_WORKSPACE");
    c
}

/// A certificate for `localhost` and `127.0.0.1`, self-signed (so the
/// certificate is its own CA file) with the common name `name`, and its
/// key, as PEM files in a folder.
struct Cert {
    dir: tempfile::TempDir,
}

impl Cert {
    fn new(name: &str) -> Cert {
        let dir = tempfile::tempdir().unwrap();
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
        Cert { dir }
    }

    fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    fn key(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }
}

/// A child process, killed (by its own id) and reaped when dropped.
struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `cssim relay serve`, stopped when dropped.
struct Relay {
    _child: Kill,
    addr: SocketAddr,
    /// Every line it printed to stderr up to "relay serving".
    log: String,
    _stderr: BufReader<ChildStderr>,
}

impl Relay {
    /// Starts the relay on `listen` (port 0) with `args`, and waits for the
    /// line that says where it serves; panics with its output if it exits.
    fn start(listen: &str, db: &Path, args: &[&std::ffi::OsStr]) -> Relay {
        let mut child = Kill(
            StdCommand::new(cargo_bin("cssim"))
                .env("NO_COLOR", "1")
                .args(["relay", "serve", "--listen", listen, "--db"])
                .arg(db)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
        let mut log = String::new();
        // Bounded: the relay prints "relay serving" or exits (end of file).
        loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap() == 0 {
                panic!("the relay exited before serving:\n{log}");
            }
            log.push_str(&line);
            if let Some(url) = line
                .strip_prefix("relay serving ")
                .and_then(|l| l.split(" on ").nth(1))
            {
                let addr = url
                    .split("://")
                    .nth(1)
                    .and_then(|a| a.split_whitespace().next())
                    .unwrap()
                    .parse()
                    .unwrap();
                return Relay {
                    _child: child,
                    addr,
                    log,
                    _stderr: stderr,
                };
            }
        }
    }

    fn start_tls(cert: &Cert, db: &Path) -> Relay {
        Relay::start(
            "127.0.0.1:0",
            db,
            &[
                "--tls-cert".as_ref(),
                cert.cert().as_os_str(),
                "--tls-key".as_ref(),
                cert.key().as_os_str(),
            ],
        )
    }
}

/// Issue 8.2: `init`, `send` and `inbox` over HTTPS end to end, trusting
/// the relay's certificate through `--relay-ca` (copied into the
/// workspace); the `Host` guard accepts the relay's DNS name (`localhost`)
/// over TLS as it does its address.
#[test]
fn init_send_and_inbox_work_over_https() {
    let cert = Cert::new("cssim test relay");
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start_tls(&cert, &dir.path().join("relay.db"));
    assert!(
        relay.log.contains(&format!("on https://{}", relay.addr)),
        "{}",
        relay.log
    );
    assert!(!relay.log.contains("plain HTTP"), "{}", relay.log);
    let url = format!("https://localhost:{}", relay.addr.port());
    let ws = dir.path().join("ws");
    let given = dir.path().join("given-ca.pem");
    std::fs::copy(cert.cert(), &given).unwrap();
    let other = Cert::new("another relay");
    cssim()
        // The CA given to init wins over CSSIM_RELAY_CA.
        .env("CSSIM_RELAY_CA", other.cert())
        .args(["init", "--relay", &url, "--relay-ca"])
        .arg(&given)
        .arg(&ws)
        .assert()
        .success()
        .stdout(predicates::str::contains("relay CA:   relay-ca.pem"));
    let toml = std::fs::read_to_string(ws.join("workspace.toml")).unwrap();
    assert!(toml.contains("relay_ca = \"relay-ca.pem\""), "{toml}");
    // The workspace keeps its own copy of the CA.
    std::fs::remove_file(&given).unwrap();
    cssim()
        .env("CSSIM_WORKSPACE", &ws)
        .args([
            "send", "--from", "alice", "--to", "bob", "--text", "over tls",
        ])
        .assert()
        .success();
    let out = cssim()
        .env("CSSIM_WORKSPACE", &ws)
        .args(["inbox", "bob"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("from alice") && shown.contains("over tls"),
        "{shown}"
    );
    // For later commands CSSIM_RELAY_CA takes precedence over the
    // workspace's CA: another CA is refused.
    let out = cssim()
        .env("CSSIM_WORKSPACE", &ws)
        .env("CSSIM_RELAY_CA", other.cert())
        .args(["inbox", "bob"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("(UnknownIssuer)"), "{}", stderr(&out));
}

/// Issue 8.2: `CSSIM_RELAY_CA` alone (no `--relay-ca`) trusts a relay
/// reached by its IP address; without it that workspace refuses the
/// relay's certificate.
#[test]
fn the_relay_ca_can_come_from_the_environment() {
    let cert = Cert::new("cssim test relay");
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start_tls(&cert, &dir.path().join("relay.db"));
    let url = format!("https://{}", relay.addr);
    let ws = dir.path().join("ws");
    cssim()
        .env("CSSIM_RELAY_CA", cert.cert())
        .args(["init", "--relay", &url])
        .arg(&ws)
        .assert()
        .success();
    let toml = std::fs::read_to_string(ws.join("workspace.toml")).unwrap();
    assert!(!toml.contains("relay_ca"), "{toml}");
    cssim()
        .env("CSSIM_WORKSPACE", &ws)
        .env("CSSIM_RELAY_CA", cert.cert())
        .args([
            "send",
            "--from",
            "bob",
            "--to",
            "alice",
            "--text",
            "by address",
        ])
        .assert()
        .success();
    let out = cssim()
        .env("CSSIM_WORKSPACE", &ws)
        .args(["inbox", "alice"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("(UnknownIssuer)"), "{}", stderr(&out));
    let out = cssim()
        .env("CSSIM_WORKSPACE", &ws)
        .env("CSSIM_RELAY_CA", cert.cert())
        .args(["inbox", "alice"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("by address"));
}

/// Issue 8.2: a client that does not trust the relay's certificate
/// refuses it with a clear certificate error and writes nothing; a CA file
/// that is not the relay's is refused the same way.
#[test]
fn a_client_without_the_ca_refuses_the_certificate() {
    let cert = Cert::new("cssim test relay");
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start_tls(&cert, &dir.path().join("relay.db"));
    let url = format!("https://{}", relay.addr);
    let ws = dir.path().join("ws");
    // `cssim init --relay RELAY [--relay-ca CA] ws` fails with status 2
    // and writes nothing; its stderr.
    let refused = |relay: &str, ca: Option<&Path>| {
        let mut c = cssim();
        c.args(["init", "--relay", relay]);
        if let Some(ca) = ca {
            c.arg("--relay-ca").arg(ca);
        }
        let out = c.arg(&ws).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(!ws.exists(), "nothing written");
        stderr(&out)
    };
    assert_eq!(
        refused(&url, None).trim(),
        format!(
            "error: relay at {url}: its TLS certificate is not trusted (it is signed by an issuer \
             this client does not trust (UnknownIssuer)); if the relay uses its own certificate \
             authority, give that CA's certificate with `cssim init --relay-ca FILE` or \
             CSSIM_RELAY_CA=FILE"
        )
    );

    let other = Cert::new("another relay");
    let err = refused(&url, Some(&other.cert()));
    assert!(err.contains("UnknownIssuer"), "{err}");

    // A CA is for an https:// relay only.
    assert_eq!(
        refused(&format!("http://{}", relay.addr), Some(&cert.cert())).trim(),
        "error: --relay-ca is for an https:// relay (--relay https://HOST:PORT)"
    );

    // A CA file that does not exist, or holds no certificate, is named.
    let missing = dir.path().join("missing-ca.pem");
    assert_eq!(
        refused(&url, Some(&missing)).trim(),
        format!("error: {}: no such file", missing.display())
    );
    let err = refused(&url, Some(&cert.key()));
    assert!(
        err.contains("key.pem: no '-----BEGIN CERTIFICATE-----' block"),
        "{err}"
    );
    assert!(!ws.exists(), "nothing written");
}

/// Issue 8.2: a plain-HTTP client on the TLS port gets one clear error
/// (the relay answers a plain `400` saying to use https://), not a hang;
/// and an https:// client on a plain relay fails as unreachable.
#[test]
fn plain_http_against_the_tls_port_fails_clearly() {
    let cert = Cert::new("cssim test relay");
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start_tls(&cert, &dir.path().join("relay.db"));
    let ws = dir.path().join("ws");
    let out = cssim()
        .args(["init", "--relay", &format!("http://{}", relay.addr)])
        .arg(&ws)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        "error: relay protocol error: this relay serves HTTPS only: use an https:// relay address"
    );
    assert!(!ws.exists());

    // What any HTTP client sees on the wire.
    let mut tcp = TcpStream::connect(relay.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    tcp.write_all(b"GET /relay-key HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n")
            && answer.contains("this relay serves HTTPS only"),
        "{answer}"
    );

    // The other way round: https:// to a relay that speaks plain HTTP.
    let plain = Relay::start("127.0.0.1:0", &dir.path().join("plain.db"), &[]);
    let out = cssim()
        .args(["init", "--relay", &format!("https://{}", plain.addr)])
        .arg(&ws)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "error: relay at https://{} is unreachable",
            plain.addr
        )),
        "{err}"
    );
    assert!(!ws.exists());
}

/// Issue 8.2: a missing or malformed certificate or key is one clear
/// error naming the file, before the database is created; the two flags
/// go together.
#[test]
fn bad_certificate_files_are_named_and_nothing_is_created() {
    let cert = Cert::new("cssim test relay");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let other = Cert::new("another relay");
    let missing = dir.path().join("missing.pem");
    let cases: [(&Path, &Path, String); 4] = [
        (
            &missing,
            &cert.key(),
            format!("{}: no such file", missing.display()),
        ),
        (
            &garbage,
            &cert.key(),
            format!(
                "{}: no '-----BEGIN CERTIFICATE-----' block (expected the relay's certificate chain in PEM form)",
                garbage.display()
            ),
        ),
        (
            &cert.cert(),
            &cert.cert(),
            format!(
                "{}: no private key block ('-----BEGIN PRIVATE KEY-----', 'RSA PRIVATE KEY' or 'EC PRIVATE KEY')",
                cert.cert().display()
            ),
        ),
        (
            &cert.cert(),
            &other.key(),
            format!(
                "{}: cannot be used with the certificate in {}",
                other.key().display(),
                cert.cert().display()
            ),
        ),
    ];
    for (c, k, want) in cases {
        let out = cssim()
            .args(["relay", "serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(&db)
            .arg("--tls-cert")
            .arg(c)
            .arg("--tls-key")
            .arg(k)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{want}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.starts_with(&format!("error: {want}")), "{err}");
        assert!(!db.exists(), "no database created");
    }
    let out = cssim()
        .args(["relay", "serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .arg("--tls-cert")
        .arg(cert.cert())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--tls-key"), "{}", stderr(&out));
    assert!(!db.exists());
}

/// Issue 8.2: a non-loopback address without TLS prints a warning; with
/// TLS it does not. (The relay binds 0.0.0.0 port 0 for a moment; nothing
/// but this test connects to it.)
#[test]
fn a_non_loopback_address_warns_only_without_tls() {
    let cert = Cert::new("cssim test relay");
    let dir = tempfile::tempdir().unwrap();
    let plain = Relay::start("0.0.0.0:0", &dir.path().join("a.db"), &[]);
    assert!(
        plain
            .log
            .contains("is not loopback and this relay speaks plain HTTP")
            && plain.log.contains("--tls-cert/--tls-key"),
        "{}",
        plain.log
    );
    drop(plain);
    let tls = Relay::start(
        "0.0.0.0:0",
        &dir.path().join("b.db"),
        &[
            "--tls-cert".as_ref(),
            cert.cert().as_os_str(),
            "--tls-key".as_ref(),
            cert.key().as_os_str(),
        ],
    );
    assert!(!tls.log.contains("plain HTTP"), "{}", tls.log);
    assert!(tls.log.contains("on https://0.0.0.0:"), "{}", tls.log);
}

/// Issue 9.6: a busy port is refused before the database is created, with
/// one line saying so, not a client-side "unreachable".
#[test]
fn a_busy_port_is_refused_before_the_database_is_created() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let out = cssim()
        .args(["relay", "serve", "--listen", &addr.to_string(), "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!("error: address already in use: {addr}\n")
    );
    assert!(!db.exists(), "no relay.db created");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
