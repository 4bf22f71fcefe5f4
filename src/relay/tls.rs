//! TLS for a served relay (rustls with the `ring` provider).
//!
//! - [`ServerTls`]: the server's certificate chain and private key, read
//!   from PEM files (`cssim relay serve --tls-cert/--tls-key`);
//! - [`TlsListener`]: accepts TCP connections and completes each handshake
//!   in its own task, so one slow or silent client never holds up the
//!   others; a client that speaks plain HTTP to the TLS port gets a plain
//!   `400` saying to use `https://` instead of a hang or binary noise;
//! - [`client_roots`]: the certificate authorities an `https://` client
//!   trusts: Mozilla's roots (`webpki-roots`) or the CA file a user gives.
//!
//! TLS adds confidentiality of metadata and request signatures against the
//! network; it is not what authenticates requests (each is signed, see
//! `http.rs`) nor what protects content (end-to-end encrypted).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::Error;

/// How long a client may take to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The first byte of a TLS record carrying a handshake (a ClientHello).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;
/// Handshaken connections waiting for the server to take them.
const QUEUE: usize = 64;

fn tls_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Tls {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

fn read_pem(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| tls_err(path, crate::files::describe_io_error(&e)))
}

/// Every `CERTIFICATE` block of a PEM file, in order; errors name `path`.
fn certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem = read_pem(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_err(path, format!("not a PEM file: {e}")))?;
    if certs.is_empty() {
        return Err(tls_err(
            path,
            format!("no '-----BEGIN CERTIFICATE-----' block (expected {what} in PEM form)"),
        ));
    }
    Ok(certs)
}

/// The rustls provider cssim uses everywhere: `ring` (no C/cmake build).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A relay server's TLS identity: certificate chain and private key.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerTls")
    }
}

impl ServerTls {
    /// Reads the certificate chain (`cert`, PEM, the server's certificate
    /// first) and its private key (`key`, PEM: PKCS#8, PKCS#1 or SEC1).
    /// Each error names the file at fault.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<ServerTls, Error> {
        let chain = certificates(cert, "the relay's certificate chain")?;
        let pem = zeroize::Zeroizing::new(read_pem(key)?);
        let private = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
            rustls::pki_types::pem::Error::NoItemsFound => tls_err(
                key,
                "no private key block ('-----BEGIN PRIVATE KEY-----', 'RSA PRIVATE KEY' or 'EC PRIVATE KEY')",
            ),
            other => tls_err(key, format!("not a PEM private key: {other}")),
        })?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_err(cert, e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, private)
            .map_err(|e| {
                tls_err(
                    key,
                    format!(
                        "cannot be used with the certificate in {}: {e}",
                        cert.display()
                    ),
                )
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls {
            config: Arc::new(config),
        })
    }
}

/// The certificate authorities an `https://` client trusts: those in the
/// PEM file `ca`, or (without one) Mozilla's roots as shipped by
/// `webpki-roots`.
pub(super) fn client_roots(ca: Option<&Path>) -> Result<ureq::tls::RootCerts, Error> {
    let Some(ca) = ca else {
        return Ok(ureq::tls::RootCerts::WebPki);
    };
    let certs = certificates(
        ca,
        "the certificate of the CA that signed the relay's certificate",
    )?;
    Ok(certs
        .iter()
        .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
        .into())
}

/// The rustls error inside a client-side failure, if the failure was TLS.
pub(super) fn rustls_error(e: &ureq::Error) -> Option<&rustls::Error> {
    match e {
        ureq::Error::Rustls(r) => Some(r),
        ureq::Error::Io(io) => io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
        _ => None,
    }
}

/// What a certificate check failure means, in words (the rustls name in
/// parentheses).
pub(super) fn describe_certificate_error(e: &rustls::CertificateError) -> String {
    use rustls::CertificateError as C;
    let debug = format!("{e:?}");
    let (words, name) = match e {
        C::UnknownIssuer => (
            "it is signed by an issuer this client does not trust",
            "UnknownIssuer",
        ),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            ("it is not valid for this host name", "NotValidForName")
        }
        C::BadSignature => (
            "its signature does not verify with the trusted CA's key",
            "BadSignature",
        ),
        C::Expired | C::ExpiredContext { .. } => ("it has expired", "Expired"),
        C::NotValidYet | C::NotValidYetContext { .. } => ("it is not valid yet", "NotValidYet"),
        _ if debug.contains("CaUsedAsEndEntity") => (
            "it is a CA certificate (basicConstraints CA:TRUE) used as the relay's own; \
             the relay needs a certificate with CA:FALSE",
            "CaUsedAsEndEntity",
        ),
        _ => return debug,
    };
    format!("{words} ({name})")
}

/// A listener handing out connections whose TLS handshake completed.
pub(super) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
    accept_task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl TlsListener {
    /// Starts accepting on `tcp` (call inside the runtime).
    pub(super) fn new(tcp: TcpListener, tls: &ServerTls) -> std::io::Result<TlsListener> {
        let addr = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(tls.config.clone());
        let (tx, ready) = mpsc::channel(QUEUE);
        let accept_task = tokio::spawn(accept_loop(tcp, acceptor, tx));
        Ok(TlsListener {
            ready,
            addr,
            accept_task,
        })
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let (stream, peer) = match tcp.accept().await {
            Ok(c) => c,
            Err(e) if is_connection_error(&e) => continue,
            // Out of file descriptors and the like: wait, as axum does.
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(stream, acceptor));
            if let Ok(Some(tls)) = handshake.await {
                let _ = tx.send((tls, peer)).await;
            }
        });
    }
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// Completes the TLS handshake, or answers a plain-HTTP request with a
/// `400` that says to use `https://` (and `None`).
async fn handshake(stream: TcpStream, acceptor: TlsAcceptor) -> Option<TlsStream<TcpStream>> {
    let mut first = [0u8; 1];
    let n = stream.peek(&mut first).await.ok()?;
    if n == 1 && first[0] != TLS_HANDSHAKE_RECORD && first[0].is_ascii_alphabetic() {
        refuse_plain_http(stream).await;
        return None;
    }
    acceptor.accept(stream).await.ok()
}

/// Most bytes of a plain-HTTP request read (and dropped) before closing.
const PLAIN_DRAIN: usize = 1 << 20;

async fn refuse_plain_http(mut stream: TcpStream) {
    let body = serde_json::to_string(&Error::Protocol {
        reason: "this relay serves HTTPS only: use an https:// relay address".into(),
    })
    .unwrap_or_default();
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(answer.as_bytes()).await.is_err() {
        return;
    }
    let _ = stream.shutdown().await;
    // Read what the client still sends until it closes: closing with
    // unread bytes would reset the connection, and the client might lose
    // the answer.
    let mut buf = [0u8; 8192];
    let mut total = 0;
    while total < PLAIN_DRAIN {
        match tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => total += n,
            _ => break,
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept task never ends while the listener lives; should
            // it, serve nothing more rather than spin.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}
