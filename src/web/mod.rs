//! `cssim demo --serve`: the live demo page for presenters.
//!
//! One page, four panels — Alice's device, the relay, the moderator, Bob's
//! device — on a fresh workspace in a temporary folder (in memory where the
//! system has a large enough tmpfs, `/dev/shm`) (the same setup as
//! [`crate::demo`]: alice, bob, a moderator, the demo hash set). Every
//! action runs the real library: [`crate::client::Device::send`] scans,
//! seals and reports; the relay panel is the operator's
//! [`crate::relay::Overview`]; the moderator panel is
//! [`crate::report::Queue`] from [`crate::moderation::review`]; Bob's panel
//! is what [`crate::client::Device::inbox`] decrypted. The browser only shows
//! the JSON these return; nothing is computed in JavaScript.
//!
//! The page (`static/`) is plain HTML, CSS and JavaScript compiled into the
//! binary; it polls `/api/version` (answered without waiting for the demo's
//! lock) and fetches `/api/state` when it changed, so two browsers on the
//! same server show the same state. A send's verdict is drawn from the send's
//! own response, not from the next poll; Bob's device takes its inbox when
//! the state is next read, not on the sender's time.
//!
//! Surface (see `docs/SECURITY.md`): loopback by default; no request names
//! a file (images are the shipped examples, by name from a fixed list, or an
//! upload kept in memory); uploads are limited in size and must decode as
//! images; requests whose `Host` is not this server's (DNS rebinding) or
//! whose `Origin` is another site are refused; every response carries a
//! Content-Security-Policy that allows only this server's own script and
//! style (no inline script). Stopping the server removes the workspace.

mod guided;
mod http;
mod state;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use guided::Caption;
pub use state::{Controls, Delivered, Nearest, SendRequest, Sent, SentImage, Snapshot};

/// The default upload limit (20 MiB).
pub const DEFAULT_MAX_UPLOAD: u64 = 20 << 20;

/// How the page is served.
#[derive(Clone, Debug)]
pub struct Options {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Largest upload accepted, in bytes.
    pub max_upload: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_upload: DEFAULT_MAX_UPLOAD,
        }
    }
}

/// Why the page could not be served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The temporary workspace could not be made.
    #[error("cannot set up the demo workspace: {0}")]
    Workspace(#[from] crate::workspace::Error),
    /// The temporary folder could not be made or removed.
    #[error("{}: {reason}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The server runtime failed.
    #[error("the server failed: {0}")]
    Runtime(String),
}

/// A running demo server (from [`start`]); [`Server::stop`] or dropping it
/// stops it and removes its temporary workspace.
pub struct Server {
    addr: SocketAddr,
    dir: Option<tempfile::TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<std::sync::mpsc::Receiver<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "web::Server({})", self.addr)
    }
}

impl Server {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The temporary folder holding the demo's workspace (removed on stop).
    pub fn folder(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), |d| d.path())
    }

    /// Whether it listens on a loopback address only.
    pub fn loopback_only(&self) -> bool {
        self.addr.ip().is_loopback()
    }

    /// Stops the server (waiting up to two seconds for open requests) and
    /// removes the workspace; the folder's removal error, if any.
    pub fn stop(mut self) -> Result<(), Error> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), Error> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(done) = self.done.take() {
            let _ = done.recv_timeout(Duration::from_secs(2));
        }
        match self.dir.take() {
            Some(dir) => {
                let path = dir.path().to_path_buf();
                dir.close().map_err(|e| Error::Folder {
                    path,
                    reason: crate::files::describe_io_error(&e),
                })
            }
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Binds `options.listen`, sets up a fresh workspace in a temporary folder
/// and serves the page from a background thread.
pub fn start(options: &Options) -> Result<Server, Error> {
    let listen_err = |e: std::io::Error| Error::Listen {
        addr: options.listen.to_string(),
        reason: match e.kind() {
            std::io::ErrorKind::AddrInUse => "address already in use".into(),
            std::io::ErrorKind::AddrNotAvailable => "address not available on this machine".into(),
            std::io::ErrorKind::PermissionDenied => "permission denied".into(),
            _ => e.to_string(),
        },
    };
    let socket = std::net::TcpListener::bind(options.listen).map_err(listen_err)?;
    socket.set_nonblocking(true).map_err(listen_err)?;
    let addr = socket.local_addr().map_err(listen_err)?;
    let builder = || {
        let mut b = tempfile::Builder::new();
        b.prefix("cssim-demo-");
        b
    };
    let dir = memory_folder()
        .and_then(|m| builder().tempdir_in(m).ok())
        .map_or_else(|| builder().tempdir(), Ok)
        .map_err(|e| Error::Folder {
            path: std::env::temp_dir(),
            reason: crate::files::describe_io_error(&e),
        })?;
    let demo = state::Demo::new(dir.path())?;
    let shared = Arc::new(http::Shared {
        version: std::sync::atomic::AtomicU64::new(demo.version()),
        demo: Mutex::new(demo),
        max_upload: options.max_upload,
        addr,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Error::Runtime(e.to_string()))?;
    let listener = {
        let _guard = runtime.enter();
        tokio::net::TcpListener::from_std(socket).map_err(listen_err)?
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        runtime.block_on(async move {
            let _ = axum::serve(listener, http::router(shared))
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.await;
                })
                .await;
        });
        // Requests still open (a slow poll) are dropped with the runtime.
        runtime.shutdown_timeout(Duration::from_millis(500));
        let _ = done_tx.send(());
    });
    Ok(Server {
        addr,
        dir: Some(dir),
        stop: Some(stop_tx),
        done: Some(done_rx),
    })
}

/// The smallest RAM-backed folder worth using for the workspace (1 GiB).
const MIN_MEMORY_FOLDER: u64 = 1 << 30;

/// A RAM-backed folder for the temporary workspace, when the system has one
/// of at least [`MIN_MEMORY_FOLDER`] (Linux's `/dev/shm`, a tmpfs): the
/// relay's and the devices' SQLite stores commit with `synchronous=FULL`,
/// and on a disk those flushes were most of a send's time (8 ms each on the
/// loaded test machine, several per send); in memory they cost nothing, and
/// the demo's keys never reach the disk. `None`: the system's temporary
/// folder is used.
fn memory_folder() -> Option<&'static Path> {
    let shm = Path::new("/dev/shm");
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    let options = mounts.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(1) == Some(&"/dev/shm") && f.get(2) == Some(&"tmpfs")).then(|| f.get(3).copied())
    })??;
    // Without size=, a tmpfs gets half the memory.
    let size = options
        .split(',')
        .find_map(|o| o.strip_prefix("size="))
        .map_or(Some(u64::MAX), tmpfs_size)?;
    (size >= MIN_MEMORY_FOLDER && shm.is_dir()).then_some(shm)
}

/// A tmpfs `size=` option in bytes (`24684084k`, `64m`, `1g`, `1048576`);
/// `None` for a percentage or anything else.
fn tmpfs_size(text: &str) -> Option<u64> {
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, ""),
    };
    let n: u64 = digits.parse().ok()?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

/// Serves the page until Ctrl-C (SIGINT), then stops and removes the
/// temporary workspace. `on_start` is called once the server listens.
pub fn serve(options: &Options, on_start: impl FnOnce(&Server)) -> Result<(), Error> {
    let server = start(options)?;
    on_start(&server);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| Error::Runtime(e.to_string()))?;
    runtime
        .block_on(tokio::signal::ctrl_c())
        .map_err(|e| Error::Runtime(format!("cannot wait for Ctrl-C: {e}")))?;
    server.stop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_sizes_read_as_mounts_write_them() {
        assert_eq!(tmpfs_size("24684084k"), Some(24_684_084 << 10));
        assert_eq!(tmpfs_size("64m"), Some(64 << 20));
        assert_eq!(tmpfs_size("1G"), Some(1 << 30));
        assert_eq!(tmpfs_size("1048576"), Some(1 << 20));
        assert_eq!(tmpfs_size("50%"), None);
        assert_eq!(tmpfs_size(""), None);
    }
}
