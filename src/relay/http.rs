//! The relay over HTTP: an axum server in front of a [`Store`], and the
//! blocking client [`HttpRelay`]. Bodies are JSON (bytes as hex); errors come
//! back as the same [`Error`] values, tagged with a `code`.
//!
//! | method | path | body → answer |
//! |---|---|---|
//! | POST | `/users` | `{name, key}` → `{}` |
//! | GET | `/users/{name}` | → `{key}` |
//! | POST | `/messages` | an [`OutgoingMessage`] → `{}` |
//! | POST | `/inbox/{name}/take` | → `[StoredMessage]` |
//! | POST | `/reports` | `{id, sealed}` → `{}` |
//! | GET | `/reports?status=S` | → `[StoredReport]` |
//! | POST | `/reports/{id}/resolve` | `{outcome}` → `{}` |
//! | GET | `/overview` | → [`Overview`] |

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Json, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Error, OutgoingMessage, Overview, Relay, Store, StoredMessage, StoredReport};
use crate::moderation::Outcome;

/// Largest request body the server accepts (a message with attachments, as hex).
const MAX_BODY: usize = 128 << 20;

#[derive(Serialize, Deserialize)]
struct Register {
    name: String,
    key: String,
}

#[derive(Serialize, Deserialize)]
struct Key {
    key: String,
}

#[derive(Serialize, Deserialize)]
struct SubmitReport {
    id: String,
    sealed: String,
}

#[derive(Serialize, Deserialize)]
struct Resolve {
    outcome: Outcome,
}

#[derive(Deserialize)]
struct StatusFilter {
    status: Option<String>,
}

fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::UnknownUser { .. } | Error::UnknownReport { .. } => StatusCode::NOT_FOUND,
        Error::UserExists { .. } | Error::Duplicate { .. } => StatusCode::CONFLICT,
        Error::InvalidName { .. } | Error::Protocol { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn reply<T: Serialize>(r: Result<T, Error>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => (status_of(&e), Json(e)).into_response(),
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

fn router(store: Arc<Store>) -> Router {
    Router::new()
        .route(
            "/users",
            post(|State(s): State<Arc<Store>>, Json(b): Json<Register>| async move {
                reply(bytes::<32>(&b.key, "key").and_then(|k| s.register(&b.name, &k)).map(|_| json!({})))
            }),
        )
        .route(
            "/users/{name}",
            get(|State(s): State<Arc<Store>>, Path(name): Path<String>| async move {
                reply(s.public_key(&name).map(|k| Key { key: hex::encode(k) }))
            }),
        )
        .route(
            "/messages",
            post(|State(s): State<Arc<Store>>, Json(m): Json<OutgoingMessage>| async move {
                reply(s.send(&m).map(|_| json!({})))
            }),
        )
        .route(
            "/inbox/{name}/take",
            post(|State(s): State<Arc<Store>>, Path(name): Path<String>| async move {
                reply(s.take_inbox(&name))
            }),
        )
        .route(
            "/reports",
            post(|State(s): State<Arc<Store>>, Json(b): Json<SubmitReport>| async move {
                let r = bytes::<16>(&b.id, "id").and_then(|id| {
                    let sealed = hex::decode(&b.sealed).map_err(|_| Error::Protocol {
                        reason: "field 'sealed' must be hex".into(),
                    })?;
                    s.submit_report(id, &sealed)
                });
                reply(r.map(|_| json!({})))
            })
            .get(|State(s): State<Arc<Store>>, Query(q): Query<StatusFilter>| async move {
                reply(s.reports(q.status.as_deref()))
            }),
        )
        .route(
            "/reports/{id}/resolve",
            post(
                |State(s): State<Arc<Store>>, Path(id): Path<String>, Json(b): Json<Resolve>| async move {
                    reply(bytes::<16>(&id, "id").and_then(|id| s.resolve_report(id, b.outcome)).map(|_| json!({})))
                },
            ),
        )
        .route(
            "/overview",
            get(|State(s): State<Arc<Store>>| async move { reply(s.overview()) }),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(store)
}

/// A running server started by [`spawn`].
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
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

fn bind_error(addr: SocketAddr, e: std::io::Error) -> Error {
    Error::Unreachable {
        url: format!("http://{addr}"),
        reason: format!("cannot listen: {e}"),
    }
}

/// Serves `store` on `addr` until the process ends.
pub fn serve(store: Store, addr: SocketAddr) -> Result<(), Error> {
    let rt = runtime()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| bind_error(addr, e))?;
        axum::serve(listener, router(Arc::new(store)))
            .await
            .map_err(|e| Error::Protocol {
                reason: e.to_string(),
            })
    })
}

/// Serves `store` on `addr` (port 0 picks one) from a background thread.
pub fn spawn(store: Store, addr: SocketAddr) -> Result<ServerHandle, Error> {
    let rt = runtime()?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(|e| bind_error(addr, e))?;
    let bound = listener.local_addr().map_err(|e| bind_error(addr, e))?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = router(Arc::new(store));
    let thread = std::thread::spawn(move || {
        rt.block_on(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
    });
    Ok(ServerHandle {
        addr: bound,
        stop: Some(tx),
        thread: Some(thread),
    })
}

/// A client for a served relay.
pub struct HttpRelay {
    base: String,
    agent: ureq::Agent,
}

impl HttpRelay {
    /// A client for `base` (`http://HOST:PORT`).
    pub fn new(base: &str) -> HttpRelay {
        // No pooled connections: a request on a pooled connection the server
        // has meanwhile closed fails after sending, and a POST such as
        // take-inbox cannot be retried blindly (the server may have done it).
        // A fresh loopback connection per request costs little and never does.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .timeout_connect(Some(Duration::from_secs(2)))
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .into();
        HttpRelay {
            base: base.trim_end_matches('/').to_string(),
            agent,
        }
    }

    fn unreachable(&self, e: ureq::Error) -> Error {
        Error::Unreachable {
            url: self.base.clone(),
            reason: e.to_string(),
        }
    }

    fn finish<T: serde::de::DeserializeOwned>(
        &self,
        resp: Result<axum::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, Error> {
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

    fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, Error> {
        let r = self
            .agent
            .post(format!("{}{path}", self.base))
            .send_json(body);
        self.finish(r)
    }

    fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        let r = self.agent.get(format!("{}{path}", self.base)).call();
        self.finish(r)
    }
}

impl Relay for HttpRelay {
    fn register(&self, name: &str, public_key: &[u8; 32]) -> Result<(), Error> {
        super::validate_name(name)?;
        let body = Register {
            name: name.into(),
            key: hex::encode(public_key),
        };
        self.post::<Value>("/users", &body).map(|_| ())
    }

    fn public_key(&self, name: &str) -> Result<[u8; 32], Error> {
        super::validate_name(name).map_err(|_| Error::UnknownUser { name: name.into() })?;
        let k: Key = self.get(&format!("/users/{name}"))?;
        bytes::<32>(&k.key, "key")
    }

    fn send(&self, message: &OutgoingMessage) -> Result<(), Error> {
        self.post::<Value>("/messages", message).map(|_| ())
    }

    fn take_inbox(&self, name: &str) -> Result<Vec<StoredMessage>, Error> {
        super::validate_name(name).map_err(|_| Error::UnknownUser { name: name.into() })?;
        self.post(&format!("/inbox/{name}/take"), &json!({}))
    }

    fn submit_report(&self, id: [u8; 16], sealed: &[u8]) -> Result<(), Error> {
        let body = SubmitReport {
            id: hex::encode(id),
            sealed: hex::encode(sealed),
        };
        self.post::<Value>("/reports", &body).map(|_| ())
    }

    fn reports(&self, status: Option<&str>) -> Result<Vec<StoredReport>, Error> {
        match status {
            Some(s) => self.get(&format!("/reports?status={s}")),
            None => self.get("/reports"),
        }
    }

    fn resolve_report(&self, id: [u8; 16], outcome: Outcome) -> Result<(), Error> {
        self.post::<Value>(
            &format!("/reports/{}/resolve", hex::encode(id)),
            &Resolve { outcome },
        )
        .map(|_| ())
    }

    fn overview(&self) -> Result<Overview, Error> {
        self.get("/overview")
    }
}
