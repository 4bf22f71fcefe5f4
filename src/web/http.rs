//! The page's HTTP surface: the static files, the JSON endpoints, and the
//! guard every request passes (host and origin checks, security headers).
//!
//! | method, path | what |
//! |---|---|
//! | `GET /`, `/app.js`, `/style.css` | the page (compiled in) |
//! | `GET /api/version` | `{"version": N}`, polled |
//! | `GET /api/state` | [`Snapshot`](super::Snapshot) |
//! | `POST /api/send` | [`SendRequest`](super::SendRequest) → [`Sent`](super::Sent) |
//! | `POST /api/upload` | image bytes (header `X-File-Name` for its label) |
//! | `POST /api/policy` | [`Controls`](super::Controls) for the next message |
//! | `POST /api/reset` | start over |
//! | `POST /api/guided/next` | the guided mode's next step → [`Caption`](super::Caption) |
//! | `GET /api/reports/{id}` | one report, opened |
//! | `POST /api/reports/{id}/resolve` | `{"outcome": "confirmed" \| "false-positive"}` |

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::state::{Controls, Demo, Refusal, SendRequest};
use crate::moderation::Outcome;

const INDEX: &str = include_str!("static/index.html");
const APP_JS: &str = include_str!("static/app.js");
const STYLE: &str = include_str!("static/style.css");

/// The Content-Security-Policy of every response: only this server's own
/// script, style and images (previews are `data:` JPEGs); no inline script,
/// no framing, no plugins, forms and fetches to this server only.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// JSON bodies other than uploads are small.
const MAX_JSON: usize = 64 << 10;

pub(super) struct Shared {
    pub demo: Mutex<Demo>,
    /// The demo's version after the last request: polled without waiting
    /// for a send that holds the lock (nor blocking a server thread on it).
    pub version: AtomicU64,
    pub max_upload: u64,
    pub addr: SocketAddr,
}

type St = State<Arc<Shared>>;

fn lock(shared: &Shared) -> Result<MutexGuard<'_, Demo>, Refusal> {
    shared
        .demo
        .lock()
        .map_err(|_| Refusal::Failed("an earlier request failed mid-way; press Reset".into()))
}

fn error(status: StatusCode, message: String) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

fn reply<T: serde::Serialize>(result: Result<T, Refusal>) -> Response {
    match result {
        Ok(v) => axum::Json(v).into_response(),
        Err(Refusal::Bad(m)) => error(StatusCode::UNPROCESSABLE_ENTITY, m),
        Err(Refusal::Failed(m)) => error(StatusCode::INTERNAL_SERVER_ERROR, m),
    }
}

/// Runs `f` on the demo in a blocking thread (sends hash, seal and write
/// SQLite), one request at a time.
async fn with_demo<T: serde::Serialize + Send + 'static>(
    shared: Arc<Shared>,
    f: impl FnOnce(&mut Demo) -> Result<T, Refusal> + Send + 'static,
) -> Response {
    let result = tokio::task::spawn_blocking(move || {
        let mut demo = lock(&shared)?;
        let result = f(&mut demo);
        shared.version.store(demo.version(), Ordering::Release);
        result
    })
    .await
    .unwrap_or_else(|e| Err(Refusal::Failed(format!("the request failed: {e}"))));
    reply(result)
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| Refusal::Bad(format!("bad request: {e}")))
}

fn file(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn version(State(s): St) -> Response {
    reply::<serde_json::Value>(Ok(json!({ "version": s.version.load(Ordering::Acquire) })))
}

async fn state(State(s): St) -> Response {
    let max_upload = s.max_upload;
    with_demo(s, move |d| d.snapshot(max_upload)).await
}

async fn send(State(s): St, body: Bytes) -> Response {
    with_demo(s, move |d| {
        let req: SendRequest = parse(&body)?;
        d.send(&req)
    })
    .await
}

async fn policy(State(s): St, body: Bytes) -> Response {
    with_demo(s, move |d| {
        let c: Controls = parse(&body)?;
        d.set_controls(c)?;
        Ok(d.controls.clone())
    })
    .await
}

async fn reset(State(s): St) -> Response {
    with_demo(s, |d| d.reset().map(|()| json!({}))).await
}

async fn guided(State(s): St) -> Response {
    with_demo(s, |d| d.guided_next()).await
}

async fn upload(State(s): St, headers: HeaderMap, body: Body) -> Response {
    let limit = s.max_upload;
    let too_big = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "upload refused: larger than the limit of {} MB (--max-upload)",
                limit as f64 / (1 << 20) as f64
            ),
        )
    };
    let bytes = match axum::body::to_bytes(body, usize::try_from(limit).unwrap_or(usize::MAX)).await
    {
        Ok(b) => b,
        Err(_) => return too_big(),
    };
    let name = headers
        .get("x-file-name")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("upload")
        .to_string();
    with_demo(s, move |d| d.upload(&name, bytes.to_vec())).await
}

async fn report(State(s): St, Path(id): Path<String>) -> Response {
    with_demo(s, move |d| d.report(&id)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Resolve {
    outcome: Outcome,
}

async fn resolve(State(s): St, Path(id): Path<String>, body: Bytes) -> Response {
    with_demo(s, move |d| {
        let r: Resolve = parse(&body)?;
        d.resolve(&id, r.outcome).map(|()| json!({}))
    })
    .await
}

/// The names a browser may use for a loopback server.
fn allowed_host(addr: SocketAddr, host: &str) -> bool {
    if !addr.ip().is_loopback() {
        return true;
    }
    let port = addr.port();
    [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        addr.to_string(),
    ]
    .iter()
    .any(|h| h.eq_ignore_ascii_case(host))
}

/// Refuses requests for another host name (DNS rebinding) and from other
/// origins; adds the security headers to every response.
async fn guard(State(s): St, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut response = if !allowed_host(s.addr, &host) {
        error(
            StatusCode::FORBIDDEN,
            format!("host '{host}' is not this server's name"),
        )
    } else if let Some(origin) = headers
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("").to_string())
        .filter(|o| !o.eq_ignore_ascii_case(&format!("http://{host}")))
    {
        error(
            StatusCode::FORBIDDEN,
            format!("cross-origin request from '{origin}' refused"),
        )
    } else {
        next.run(request).await
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { file("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/app.js",
            get(|| async { file("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/style.css",
            get(|| async { file("text/css; charset=utf-8", STYLE) }),
        )
        .route("/api/version", get(version))
        .route("/api/state", get(state))
        .route("/api/send", post(send))
        .route("/api/policy", post(policy))
        .route("/api/reset", post(reset))
        .route("/api/guided/next", post(guided))
        .route("/api/reports/{id}", get(report))
        .route("/api/reports/{id}/resolve", post(resolve))
        .layer(DefaultBodyLimit::max(MAX_JSON))
        .route("/api/upload", post(upload))
        .layer(middleware::from_fn_with_state(shared.clone(), guard))
        .with_state(shared)
}
