//! The relay over HTTP: an axum server in front of a [`Store`], and the
//! blocking client [`HttpRelay`]. Bodies are JSON (bytes as hex); errors come
//! back as the same [`Error`] values, tagged with a `code`.
//!
//! | method | path | who may | body → answer |
//! |---|---|---|---|
//! | POST | `/users` | the new key itself | `{name, x25519, ed25519}` → `{}` |
//! | GET | `/users/{name}` | any user, the moderator, the operator | → `{x25519, ed25519}` |
//! | GET | `/relay-key` | anyone | → `{ed25519}` |
//! | POST | `/messages` | the sender | an [`OutgoingMessage`] → [`Receipt`] |
//! | GET | `/inbox/{name}?limit=N` | `name` | → `[StoredMessage]` (one page) |
//! | POST | `/inbox/{name}/ack` | `name` | `{ids}` → `{acknowledged}` |
//! | POST | `/reports` | any user | `{id, sealed}` → `{}` |
//! | GET | `/reports?status=S` | the moderator | → `[StoredReport]` |
//! | POST | `/reports/{id}/resolve` | the moderator | `{outcome}` → `{}` |
//! | GET | `/overview` | the operator | → [`Overview`] |
//!
//! ## Request signatures
//! Every request but `/relay-key` carries four headers: `Cssim-Key-Id` (a
//! user name, `@moderator` or `@operator`), `Cssim-Time` (unix seconds),
//! `Cssim-Nonce` (16 random bytes, hex) and `Cssim-Signature` (Ed25519,
//! hex) over
//! ```text
//! cssim-request-v1 \n METHOD \n PATH?QUERY \n HOST \n KEY-ID \n TIME \n NONCE \n hex(SHA-256(body))
//! ```
//! (one field a line). This covers what RFC 9421's `@method`,
//! `@target-uri` and `content-digest` components cover. The server refuses a
//! time more than [`MAX_SKEW`] seconds away from its clock and a nonce the
//! same key used before (nonces are kept in the database, so a restart does
//! not reopen the window). A registration is signed by the key it registers,
//! which binds the Ed25519 key to the X25519 key in the same body.
//!
//! Requests whose `Host` is not one of the server's own names are refused
//! (DNS rebinding), and so are browser requests from another origin
//! (`Origin` or `Sec-Fetch-Site` say so). The client always sends (and
//! signs) `Host` as `HOST:PORT`, the port made explicit (80 for `http://`,
//! 443 for `https://`); the server takes a `Host` without a port as its
//! scheme's default port.
//!
//! ## TLS
//! With a [`ServerTls`] in its [`ServerConfig`] the server speaks HTTPS
//! only (see `tls.rs`); the client reaches `https://` relays, trusting
//! Mozilla's roots or the CA file it is given ([`HttpRelay::with_ca`]).
//! Signing is the same with and without TLS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::store::{RequestNonce, now};
use super::tls::{self, ServerTls, TlsListener};
use super::{
    Error, MODERATOR_KEY_ID, OPERATOR_KEY_ID, Outcome, OutgoingMessage, Overview, Receipt, Relay,
    ReportStatus, Store, StoredMessage, StoredReport, keys_from_hex,
};
use crate::e2ee::{Identity, PublicIdentity, VerifyKey};

/// Largest request body the server accepts (a message with attachments, as hex).
const MAX_BODY: usize = 128 << 20;
/// How far a request's time may be from the server's clock, in seconds.
pub const MAX_SKEW: u64 = 300;
/// Messages one inbox page asks for.
const PAGE: usize = 200;

const H_KEY_ID: &str = "cssim-key-id";
const H_TIME: &str = "cssim-time";
const H_NONCE: &str = "cssim-nonce";
const H_SIGNATURE: &str = "cssim-signature";

#[derive(Serialize, Deserialize)]
struct Register {
    name: String,
    x25519: String,
    ed25519: String,
}

#[derive(Serialize, Deserialize)]
struct Keys {
    x25519: String,
    ed25519: String,
}

#[derive(Serialize, Deserialize)]
struct RelayKey {
    ed25519: String,
}

#[derive(Serialize, Deserialize)]
struct SubmitReport {
    id: String,
    sealed: String,
}

#[derive(Serialize, Deserialize)]
struct Ack {
    ids: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Acknowledged {
    acknowledged: usize,
}

#[derive(Serialize, Deserialize)]
struct Resolve {
    outcome: Outcome,
    /// Replace an earlier decision (refused otherwise).
    #[serde(default)]
    change: bool,
}

/// Who signs a client's requests.
#[derive(Clone)]
pub struct Signer {
    /// A user name, [`MODERATOR_KEY_ID`] or [`OPERATOR_KEY_ID`].
    pub key_id: String,
    /// Whose key signs.
    pub identity: Arc<Identity>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({} {:?})", self.key_id, self.identity)
    }
}

/// The bytes a request signature covers.
fn signed_string(
    method: &str,
    target: &str,
    host: &str,
    key_id: &str,
    time: u64,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    format!(
        "cssim-request-v1\n{method}\n{target}\n{host}\n{key_id}\n{time}\n{nonce}\n{}",
        hex::encode(Sha256::digest(body))
    )
    .into_bytes()
}

/// What the server knows beyond its store.
#[derive(Clone, Debug, Default)]
pub struct ServerConfig {
    /// The moderator's signing key: only it may list and resolve reports.
    pub moderator: Option<VerifyKey>,
    /// The operator's signing key: only it may read `/overview`.
    pub operator: Option<VerifyKey>,
    /// Names (`HOST` or `HOST:PORT`) the server answers to besides its
    /// listening address (and `localhost` when that is loopback).
    pub names: Vec<String>,
    /// Serve HTTPS with this certificate and key (plain HTTP without).
    pub tls: Option<ServerTls>,
}

struct App {
    store: Store,
    config: ServerConfig,
    hosts: Vec<String>,
    /// The port a `Host` without one means: 443 over TLS, else 80.
    default_port: u16,
}

/// Who a verified request acts for.
#[derive(Debug, PartialEq, Eq)]
enum Principal {
    User(String),
    Moderator,
    Operator,
}

fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::UnknownUser { .. } | Error::UnknownReport { .. } => StatusCode::NOT_FOUND,
        Error::UserExists { .. } | Error::Duplicate { .. } | Error::AlreadyResolved { .. } => {
            StatusCode::CONFLICT
        }
        Error::InvalidName { .. } | Error::Protocol { .. } => StatusCode::BAD_REQUEST,
        Error::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
        Error::Forbidden { .. } => StatusCode::FORBIDDEN,
        Error::Rejected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Error::QuotaExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn reply<T: Serialize>(r: Result<T, Error>) -> Response {
    match r {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => (status_of(&e), axum::Json(e)).into_response(),
    }
}

fn bytes<const N: usize>(hex_str: &str, field: &str) -> Result<[u8; N], Error> {
    hex::decode(hex_str)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| Error::Protocol {
            reason: format!("field '{field}' must be {N} bytes of hex"),
        })
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::Protocol {
        reason: format!("request body: {e}"),
    })
}

fn unauthorized(reason: impl Into<String>) -> Error {
    Error::Unauthorized {
        reason: reason.into(),
    }
}

fn forbidden(reason: impl Into<String>) -> Error {
    Error::Forbidden {
        reason: reason.into(),
    }
}

impl App {
    /// Verifies a request's signature, time and nonce, recording the nonce;
    /// `own_key` is the key a registration carries in its body.
    fn authenticate(
        &self,
        req: &Signed,
        own_key: Option<(&str, VerifyKey)>,
    ) -> Result<Principal, Error> {
        let (principal, n) = self.verify(req, own_key)?;
        if !self
            .store
            .record_nonce(&n.key_id, &n.nonce, n.time, n.window)?
        {
            return Err(unauthorized("replayed request (nonce already used)"));
        }
        Ok(principal)
    }

    /// Verifies a request's signature and time, and returns its nonce for
    /// the caller to record — in the same transaction as the request's
    /// effect, where the store offers one ([`Store::send_once`]).
    fn verify(
        &self,
        req: &Signed,
        own_key: Option<(&str, VerifyKey)>,
    ) -> Result<(Principal, RequestNonce), Error> {
        let Signed {
            method,
            uri,
            headers,
            body,
        } = req;
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    unauthorized(format!("missing {name} header (requests must be signed)"))
                })
        };
        let key_id = header(H_KEY_ID)?;
        let time: u64 = header(H_TIME)?
            .parse()
            .map_err(|_| unauthorized(format!("{H_TIME} is not a number")))?;
        let nonce = header(H_NONCE)?;
        let signature: [u8; 64] = hex::decode(header(H_SIGNATURE)?)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| unauthorized(format!("{H_SIGNATURE} is not 64 bytes of hex")))?;
        if nonce.len() != 32 || hex::decode(nonce).is_err() {
            return Err(unauthorized(format!("{H_NONCE} must be 16 bytes of hex")));
        }
        let now = now();
        if time.abs_diff(now) > MAX_SKEW {
            return Err(unauthorized(format!(
                "stale request: its time {time} is more than {MAX_SKEW} s from the relay's {now}"
            )));
        }
        let (principal, key) = match key_id {
            MODERATOR_KEY_ID => (
                Principal::Moderator,
                self.config
                    .moderator
                    .ok_or_else(|| forbidden("this relay has no moderator key configured"))?,
            ),
            OPERATOR_KEY_ID => (
                Principal::Operator,
                self.config
                    .operator
                    .ok_or_else(|| forbidden("this relay has no operator key configured"))?,
            ),
            name => match own_key {
                Some((own_name, key)) if own_name == name => (Principal::User(name.into()), key),
                Some(_) => {
                    return Err(forbidden(
                        "a registration must be signed by the key it registers",
                    ));
                }
                None => {
                    let keys = self.store.user_keys(name).map_err(|e| match e {
                        Error::UnknownUser { .. } => {
                            unauthorized(format!("unknown key id '{name}'"))
                        }
                        other => other,
                    })?;
                    (Principal::User(name.into()), keys.ed25519)
                }
            },
        };
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let target = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
        let message = signed_string(method.as_str(), target, host, key_id, time, nonce, body);
        key.verify(&message, &signature)
            .map_err(|_| unauthorized(format!("bad signature for key id '{key_id}'")))?;
        // Recorded (by the caller) only once the signature verified, so
        // nobody can burn another key's nonces.
        let nonce = RequestNonce {
            key_id: key_id.to_string(),
            nonce: nonce.as_bytes().to_vec(),
            time,
            window: MAX_SKEW,
        };
        Ok((principal, nonce))
    }

    /// Authenticates `req` and requires that it acts for user `name`.
    fn as_user(&self, req: &Signed, name: &str, what: &str) -> Result<(), Error> {
        only_user(self.authenticate(req, None)?, name, what)
    }

    /// Authenticates `req` and requires the moderator's or operator's key.
    fn as_role(&self, req: &Signed, role: Principal, what: &str) -> Result<(), Error> {
        if self.authenticate(req, None)? == role {
            Ok(())
        } else {
            let who = match role {
                Principal::Operator => "the relay operator",
                _ => "the moderator",
            };
            Err(forbidden(format!("only {who} may {what}")))
        }
    }
}

fn only_user(p: Principal, name: &str, what: &str) -> Result<(), Error> {
    match p {
        Principal::User(u) if u == name => Ok(()),
        _ => Err(forbidden(format!("only '{name}' may {what}"))),
    }
}

/// What a signature covers, taken from a request: method, target, headers
/// and the whole body.
struct Signed {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for Signed {
    type Rejection = Response;

    async fn from_request(req: Request, _state: &S) -> Result<Signed, Response> {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
            reply::<()>(Err(Error::Protocol {
                reason: format!("request body: {e}"),
            }))
        })?;
        Ok(Signed {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
        })
    }
}

type St = State<Arc<App>>;

async fn register(State(app): St, req: Signed) -> Response {
    reply((|| {
        let b: Register = parse(&req.body)?;
        let keys = keys_from_hex(&b.x25519, &b.ed25519).ok_or_else(|| Error::Protocol {
            reason: "fields 'x25519' and 'ed25519' must be 32 bytes of hex".into(),
        })?;
        app.authenticate(&req, Some((&b.name, keys.ed25519)))?;
        app.store.register(&b.name, &keys).map(|_| json!({}))
    })())
}

async fn user_keys(State(app): St, Path(name): Path<String>, req: Signed) -> Response {
    reply(app.authenticate(&req, None).and_then(|_| {
        app.store.user_keys(&name).map(|k| Keys {
            x25519: hex::encode(k.x25519.to_bytes()),
            ed25519: hex::encode(k.ed25519.to_bytes()),
        })
    }))
}

async fn relay_key(State(app): St) -> Response {
    reply(app.store.relay_key().map(|k| RelayKey {
        ed25519: hex::encode(k.to_bytes()),
    }))
}

async fn send(State(app): St, req: Signed) -> Response {
    reply((|| {
        // Verified before the body is even parsed; the nonce is recorded in
        // the transaction that stores the message (one synchronous commit).
        let (p, nonce) = app.verify(&req, None)?;
        let m: OutgoingMessage = parse(&req.body)?;
        only_user(p, &m.from, "send as themselves")?;
        app.store.send_once(&m, &nonce)
    })())
}

#[derive(Deserialize)]
struct Page {
    limit: Option<usize>,
}

async fn fetch(
    State(app): St,
    Path(name): Path<String>,
    Query(q): Query<Page>,
    req: Signed,
) -> Response {
    reply((|| {
        app.as_user(&req, &name, "read this inbox")?;
        app.store
            .fetch_inbox(&name, q.limit.unwrap_or(PAGE).min(10_000))
    })())
}

async fn ack(State(app): St, Path(name): Path<String>, req: Signed) -> Response {
    reply((|| {
        let (p, nonce) = app.verify(&req, None)?;
        only_user(p, &name, "acknowledge this inbox")?;
        let b: Ack = parse(&req.body)?;
        let ids = b
            .ids
            .iter()
            .map(|i| bytes::<16>(i, "ids"))
            .collect::<Result<Vec<_>, _>>()?;
        app.store
            .ack_once(&name, &ids, &nonce)
            .map(|acknowledged| Acknowledged { acknowledged })
    })())
}

async fn submit_report(State(app): St, req: Signed) -> Response {
    reply((|| {
        let by = match app.authenticate(&req, None)? {
            Principal::User(u) => u,
            _ => return Err(forbidden("reports are submitted by users' devices")),
        };
        let b: SubmitReport = parse(&req.body)?;
        let id = bytes::<16>(&b.id, "id")?;
        let sealed = hex::decode(&b.sealed).map_err(|_| Error::Protocol {
            reason: "field 'sealed' must be hex".into(),
        })?;
        app.store.submit_report(&by, id, &sealed).map(|_| json!({}))
    })())
}

#[derive(Deserialize)]
struct StatusFilter {
    status: Option<String>,
}

async fn list_reports(State(app): St, Query(q): Query<StatusFilter>, req: Signed) -> Response {
    reply((|| {
        app.as_role(&req, Principal::Moderator, "list reports")?;
        let status = q
            .status
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|reason| Error::Protocol { reason })?;
        app.store.reports(status)
    })())
}

async fn resolve(State(app): St, Path(id): Path<String>, req: Signed) -> Response {
    reply((|| {
        app.as_role(&req, Principal::Moderator, "resolve reports")?;
        let b: Resolve = parse(&req.body)?;
        app.store
            .resolve_report(bytes::<16>(&id, "id")?, b.outcome, b.change)
            .map(|_| json!({}))
    })())
}

async fn overview(State(app): St, req: Signed) -> Response {
    reply((|| {
        app.as_role(&req, Principal::Operator, "read the overview")?;
        app.store.overview()
    })())
}

/// Refuses requests for another host name (DNS rebinding) and browser
/// requests from another origin, before any handler runs.
async fn guard(State(app): St, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let with_port = host_with_port(host, app.default_port);
    if !app.hosts.iter().any(|h| h.eq_ignore_ascii_case(&with_port)) {
        return reply::<()>(Err(forbidden(format!(
            "host '{host}' is not this relay's name (expected one of: {})",
            app.hosts.join(", ")
        ))));
    }
    if let Some(origin) = headers.get(axum::http::header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let same = ["http://", "https://"].iter().any(|s| {
            origin
                .strip_prefix(s)
                .is_some_and(|o| o.eq_ignore_ascii_case(host))
        });
        if !same {
            return reply::<()>(Err(forbidden(format!(
                "cross-origin request from '{origin}' refused"
            ))));
        }
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site != "same-origin" && site != "none" {
            return reply::<()>(Err(forbidden(format!(
                "cross-site request ({site}) refused"
            ))));
        }
    }
    next.run(request).await
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/users", post(register))
        .route("/users/{name}", get(user_keys))
        .route("/relay-key", get(relay_key))
        .route("/messages", post(send))
        .route("/inbox/{name}", get(fetch))
        .route("/inbox/{name}/ack", post(ack))
        .route("/reports", post(submit_report).get(list_reports))
        .route("/reports/{id}/resolve", post(resolve))
        .route("/overview", get(overview))
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

/// Whether a `Host` value (`HOST:PORT`, `[IPv6]:PORT`) names a port.
fn has_port(host: &str) -> bool {
    host.rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
}

/// `host` with its port made explicit: `default_port` (the scheme's) when
/// it names none.
fn host_with_port(host: &str, default_port: u16) -> String {
    if has_port(host) || host.is_empty() {
        host.to_string()
    } else {
        format!("{host}:{default_port}")
    }
}

/// The `Host` values a server bound to `addr` answers to.
fn host_names(addr: SocketAddr, names: &[String]) -> Vec<String> {
    let port = addr.port();
    let mut hosts = vec![addr.to_string()];
    if addr.ip().is_loopback() {
        hosts.push(format!("localhost:{port}"));
    }
    for n in names {
        // `HOST:PORT` as given; a bare `HOST` (or `[IPv6]`) gets our port.
        hosts.push(if has_port(n) {
            n.clone()
        } else {
            format!("{n}:{port}")
        });
    }
    hosts
}

/// A running server started by [`spawn`].
pub struct ServerHandle {
    addr: SocketAddr,
    scheme: &'static str,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, or `https://ADDR` when it serves TLS.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Stops the server and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Error::Protocol {
            reason: format!("cannot start the server runtime: {e}"),
        })
}

/// A bound listening socket, not yet serving. `cssim relay serve` binds
/// before it opens the database, so that a busy port fails before anything
/// is created.
#[derive(Debug)]
pub struct Listener {
    socket: std::net::TcpListener,
    addr: SocketAddr,
}

impl Listener {
    /// Binds `addr` (port 0 picks a free port); a busy port is
    /// [`Error::Listen`] ("address already in use: ADDR").
    pub fn bind(addr: SocketAddr) -> Result<Listener, Error> {
        let listen_err = |e: std::io::Error| Error::Listen {
            addr: addr.to_string(),
            reason: match e.kind() {
                std::io::ErrorKind::AddrInUse => "address already in use".into(),
                std::io::ErrorKind::AddrNotAvailable => {
                    "address not available on this machine".into()
                }
                std::io::ErrorKind::PermissionDenied => "permission denied".into(),
                _ => format!("cannot listen ({e})"),
            },
        };
        let socket = std::net::TcpListener::bind(addr).map_err(listen_err)?;
        socket.set_nonblocking(true).map_err(listen_err)?;
        let addr = socket.local_addr().map_err(listen_err)?;
        Ok(Listener { socket, addr })
    }

    /// The address bound (with the port chosen, if 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Inside the runtime: the tokio listener.
    fn into_tokio(self) -> Result<tokio::net::TcpListener, Error> {
        let addr = self.addr;
        tokio::net::TcpListener::from_std(self.socket).map_err(|e| Error::Listen {
            addr: addr.to_string(),
            reason: format!("cannot listen ({e})"),
        })
    }
}

fn app(store: Store, addr: SocketAddr, config: ServerConfig) -> Arc<App> {
    let hosts = host_names(addr, &config.names);
    let default_port = if config.tls.is_some() { 443 } else { 80 };
    Arc::new(App {
        store,
        config,
        hosts,
        default_port,
    })
}

/// Serves on `listener` (plain HTTP, or HTTPS with `config.tls`) until
/// `stop` resolves.
async fn run(
    listener: Listener,
    store: Store,
    config: ServerConfig,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let addr = listener.addr;
    let tcp = listener.into_tokio()?;
    let tls = config.tls.clone();
    let router = router(app(store, addr, config));
    let served = match tls {
        Some(tls) => {
            let tls_listener = TlsListener::new(tcp, &tls).map_err(|e| Error::Listen {
                addr: addr.to_string(),
                reason: format!("cannot listen ({e})"),
            })?;
            axum::serve(tls_listener, router)
                .with_graceful_shutdown(stop)
                .await
        }
        None => axum::serve(tcp, router).with_graceful_shutdown(stop).await,
    };
    served.map_err(|e| Error::Protocol {
        reason: e.to_string(),
    })
}

/// Serves `store` on `listener` until the process ends.
pub fn serve(listener: Listener, store: Store, config: ServerConfig) -> Result<(), Error> {
    runtime()?.block_on(run(listener, store, config, std::future::pending()))
}

/// Serves `store` on `addr` (port 0 picks one) from a background thread.
pub fn spawn(store: Store, addr: SocketAddr, config: ServerConfig) -> Result<ServerHandle, Error> {
    let listener = Listener::bind(addr)?;
    let bound = listener.local_addr();
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let rt = runtime()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let _ = rt.block_on(run(listener, store, config, async move {
            let _ = rx.await;
        }));
    });
    Ok(ServerHandle {
        addr: bound,
        scheme,
        stop: Some(tx),
        thread: Some(thread),
    })
}

/// A client for a served relay.
pub struct HttpRelay {
    base: String,
    authority: String,
    agent: ureq::Agent,
    signer: Option<Signer>,
}

impl HttpRelay {
    /// A client for `base` (`http://HOST:PORT` or `https://HOST:PORT`) that
    /// signs nothing (it can only read the relay's key until given a
    /// [`Signer`]). Over `https://` it trusts Mozilla's root certificates.
    pub fn new(base: &str) -> HttpRelay {
        HttpRelay::build(base, ureq::tls::RootCerts::WebPki)
    }

    /// A client for `base` that, over `https://`, trusts only the
    /// certificate authorities in the PEM file `ca` (for a relay whose
    /// certificate is signed by its own CA, or self-signed).
    pub fn with_ca(base: &str, ca: &std::path::Path) -> Result<HttpRelay, Error> {
        Ok(HttpRelay::build(base, tls::client_roots(Some(ca))?))
    }

    fn build(base: &str, roots: ureq::tls::RootCerts) -> HttpRelay {
        let tls_config = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(roots)
            .build();
        // No pooled connections: a request on a pooled connection the server
        // has meanwhile closed fails after sending. A fresh loopback
        // connection per request costs little and never does.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .timeout_connect(Some(Duration::from_secs(2)))
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .tls_config(tls_config)
            .build()
            .into();
        let base = base.trim_end_matches('/').to_string();
        let (scheme, rest) = base.split_once("://").unwrap_or(("http", base.as_str()));
        let host = rest.split('/').next().unwrap_or("");
        // The port made explicit, so that the `Host` signed and sent is the
        // same whatever a library does with default ports.
        let authority = if has_port(host) {
            host.to_string()
        } else {
            let port = if scheme == "https" { 443 } else { 80 };
            format!("{host}:{port}")
        };
        HttpRelay {
            base,
            authority,
            agent,
            signer: None,
        }
    }

    /// The same client, signing every request with `signer`.
    pub fn with_signer(mut self, signer: Signer) -> HttpRelay {
        self.signer = Some(signer);
        self
    }

    fn unreachable(&self, e: ureq::Error) -> Error {
        match tls::rustls_error(&e) {
            Some(rustls::Error::InvalidCertificate(why)) => Error::UntrustedCertificate {
                url: self.base.clone(),
                reason: tls::describe_certificate_error(why),
            },
            _ => Error::Unreachable {
                url: self.base.clone(),
                reason: e.to_string(),
            },
        }
    }

    /// The four signature headers for a request.
    fn sign(
        &self,
        signer: &Signer,
        method: &str,
        target: &str,
        body: &[u8],
    ) -> [(&'static str, String); 4] {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).expect("the operating system's random source failed");
        let nonce = hex::encode(nonce);
        let time = now();
        let msg = signed_string(
            method,
            target,
            &self.authority,
            &signer.key_id,
            time,
            &nonce,
            body,
        );
        [
            (H_KEY_ID, signer.key_id.clone()),
            (H_TIME, time.to_string()),
            (H_NONCE, nonce),
            (H_SIGNATURE, hex::encode(signer.identity.sign(&msg))),
        ]
    }

    fn request<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        target: &str,
        body: Option<Vec<u8>>,
        signer: Option<&Signer>,
    ) -> Result<T, Error> {
        let url = format!("{}{target}", self.base);
        let signer = signer.or(self.signer.as_ref());
        let payload = body.unwrap_or_default();
        let headers = signer.map(|s| self.sign(s, method, target, &payload));
        let host = ("host", self.authority.clone());
        let resp = if method == "GET" {
            let mut req = self.agent.get(&url);
            for (k, v) in headers.iter().flatten().chain([&host]) {
                req = req.header(*k, v);
            }
            req.call()
        } else {
            let mut req = self.agent.post(&url);
            for (k, v) in headers.iter().flatten().chain([&host]) {
                req = req.header(*k, v);
            }
            req.content_type("application/json").send(&payload[..])
        };
        let mut resp = resp.map_err(|e| self.unreachable(e))?;
        let ok = resp.status().is_success();
        let body: Value = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY as u64 * 2)
            .read_json()
            .map_err(|e| Error::Protocol {
                reason: format!("unreadable answer: {e}"),
            })?;
        if ok {
            serde_json::from_value(body).map_err(|e| Error::Protocol {
                reason: e.to_string(),
            })
        } else {
            Err(
                serde_json::from_value(body.clone()).unwrap_or(Error::Protocol {
                    reason: format!("server error: {body}"),
                }),
            )
        }
    }

    fn json(body: &impl Serialize) -> Option<Vec<u8>> {
        Some(serde_json::to_vec(body).unwrap_or_default())
    }
}

impl Relay for HttpRelay {
    fn register(&self, name: &str, keys: &PublicIdentity) -> Result<(), Error> {
        super::validate_name(name)?;
        let body = Register {
            name: name.into(),
            x25519: hex::encode(keys.x25519.to_bytes()),
            ed25519: hex::encode(keys.ed25519.to_bytes()),
        };
        self.request::<Value>("POST", "/users", HttpRelay::json(&body), None)
            .map(|_| ())
    }

    fn user_keys(&self, name: &str) -> Result<PublicIdentity, Error> {
        super::validate_name(name).map_err(|_| Error::UnknownUser { name: name.into() })?;
        let k: Keys = self.request("GET", &format!("/users/{name}"), None, None)?;
        keys_from_hex(&k.x25519, &k.ed25519).ok_or_else(|| Error::Protocol {
            reason: "the relay sent malformed keys".into(),
        })
    }

    fn relay_key(&self) -> Result<VerifyKey, Error> {
        let k: RelayKey = self.request("GET", "/relay-key", None, None)?;
        bytes::<32>(&k.ed25519, "ed25519").map(VerifyKey::from_bytes)
    }

    fn send(&self, message: &OutgoingMessage) -> Result<Receipt, Error> {
        self.request("POST", "/messages", HttpRelay::json(message), None)
    }

    fn fetch_inbox(&self, name: &str, limit: usize) -> Result<Vec<StoredMessage>, Error> {
        super::validate_name(name).map_err(|_| Error::UnknownUser { name: name.into() })?;
        self.request("GET", &format!("/inbox/{name}?limit={limit}"), None, None)
    }

    fn ack(&self, name: &str, ids: &[[u8; 16]]) -> Result<usize, Error> {
        super::validate_name(name).map_err(|_| Error::UnknownUser { name: name.into() })?;
        let body = Ack {
            ids: ids.iter().map(hex::encode).collect(),
        };
        let a: Acknowledged = self.request(
            "POST",
            &format!("/inbox/{name}/ack"),
            HttpRelay::json(&body),
            None,
        )?;
        Ok(a.acknowledged)
    }

    fn submit_report(&self, _by: &str, id: [u8; 16], sealed: &[u8]) -> Result<(), Error> {
        let body = SubmitReport {
            id: hex::encode(id),
            sealed: hex::encode(sealed),
        };
        self.request::<Value>("POST", "/reports", HttpRelay::json(&body), None)
            .map(|_| ())
    }

    fn reports(&self, status: Option<ReportStatus>) -> Result<Vec<StoredReport>, Error> {
        match status {
            Some(s) => self.request(
                "GET",
                &format!("/reports?status={}", s.as_str()),
                None,
                None,
            ),
            None => self.request("GET", "/reports", None, None),
        }
    }

    fn resolve_report(&self, id: [u8; 16], outcome: Outcome, change: bool) -> Result<(), Error> {
        self.request::<Value>(
            "POST",
            &format!("/reports/{}/resolve", hex::encode(id)),
            HttpRelay::json(&Resolve { outcome, change }),
            None,
        )
        .map(|_| ())
    }

    fn overview(&self) -> Result<Overview, Error> {
        self.request("GET", "/overview", None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_without_a_port_means_the_schemes_default_port() {
        assert_eq!(host_with_port("relay.example", 443), "relay.example:443");
        assert_eq!(
            host_with_port("relay.example:8443", 443),
            "relay.example:8443"
        );
        assert_eq!(host_with_port("[::1]", 80), "[::1]:80");
        assert_eq!(host_with_port("[::1]:7878", 80), "[::1]:7878");
        assert_eq!(host_with_port("", 443), "");
    }

    #[test]
    fn the_client_signs_and_sends_host_with_an_explicit_port() {
        assert_eq!(
            HttpRelay::new("https://relay.example").authority,
            "relay.example:443"
        );
        assert_eq!(
            HttpRelay::new("http://relay.example/").authority,
            "relay.example:80"
        );
        assert_eq!(
            HttpRelay::new("https://127.0.0.1:8443").authority,
            "127.0.0.1:8443"
        );
        // A name given to the server without a port gets the port it
        // listens on; the bare name then matches a request on the default port.
        let hosts = host_names("0.0.0.0:443".parse().unwrap(), &["relay.example".into()]);
        assert!(hosts.contains(&host_with_port("relay.example", 443)));
    }
}
