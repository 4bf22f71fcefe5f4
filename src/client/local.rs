//! A device's local state: one SQLite file per identity (`state/NAME.db`,
//! mode 0600 — it holds received plaintext).
//!
//! - `peers`: each contact's keys, pinned on first contact (trust on first
//!   use); `relay_key`: the relay's receipt key, pinned the same way;
//! - `matches` and `pending_reports`: the account's match count and the
//!   sealed reports held until the account threshold;
//! - `inbox`: every message taken from the relay, stored *before* it is
//!   acknowledged, keyed by message id. It is the replay guard too: an id
//!   seen before is never shown again. Shown messages lose their plaintext
//!   and are forgotten after [`RETENTION`] seconds, which bounds the table;
//!   envelopes older than that are refused as stale, so a forgotten id
//!   cannot come back.
//!
//! Every change is one transaction, so a concurrent `send` and `inbox` on
//! the same device serialise on SQLite's lock instead of overwriting each
//! other's state.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::e2ee::{PublicIdentity, PublicKey, VerifyKey};
use crate::workspace::Error;

/// How long (seconds) a received message id is remembered; envelopes older
/// than this are refused.
pub const RETENTION: u64 = 45 * 24 * 3600;

const SCHEMA_VERSION: i64 = 1;
const SCHEMA: &str = "
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE peers (
    name      TEXT PRIMARY KEY,
    x25519    BLOB NOT NULL,
    ed25519   BLOB NOT NULL,
    pinned_at INTEGER NOT NULL
);
CREATE TABLE relay_key (
    one     INTEGER PRIMARY KEY CHECK (one = 1),
    ed25519 BLOB NOT NULL
);
CREATE TABLE pending_reports (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    id        BLOB NOT NULL UNIQUE,
    sealed    BLOB NOT NULL,
    queued_at INTEGER NOT NULL
);
CREATE TABLE inbox (
    id          BLOB PRIMARY KEY,
    received_at INTEGER NOT NULL,
    plaintext   BLOB,
    error       TEXT,
    shown       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX inbox_unshown ON inbox(shown, received_at);
";

/// A held report: its id and sealed bytes.
pub(crate) type HeldReport = ([u8; 16], Vec<u8>);

/// A message stored locally, not yet shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Incoming {
    pub id: [u8; 16],
    /// The message's wire form, once opened and checked.
    pub plaintext: Option<Vec<u8>>,
    /// Why it could not be opened, otherwise.
    pub error: Option<String>,
}

/// The local state database.
pub(crate) struct Local {
    path: PathBuf,
    conn: Connection,
}

use crate::clock::now_unix as now;

impl Local {
    pub(crate) fn open(path: &Path) -> Result<Local, Error> {
        let invalid = |reason: String| Error::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        if !path.exists() {
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                o.mode(0o600);
            }
            if let Err(source) = o.open(path) {
                if source.kind() != std::io::ErrorKind::AlreadyExists {
                    return Err(Error::Io {
                        path: path.to_path_buf(),
                        source,
                    });
                }
            }
        }
        let sql = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => {
                invalid("device state is not a SQLite database (corrupt?)".into())
            }
            _ => invalid(format!("device state: {e}")),
        };
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(sql)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql)?;
        match version {
            // Two processes may race to create the schema: the first to take
            // the write lock creates it, the other finds the version set.
            0 => conn
                .execute_batch("PRAGMA journal_mode=WAL;")
                .and_then(|()| conn.execute_batch("BEGIN IMMEDIATE"))
                .and_then(|()| conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)))
                .and_then(|v| {
                    if v == 0 {
                        conn.execute_batch(&format!(
                            "{SCHEMA} PRAGMA user_version={SCHEMA_VERSION};"
                        ))?;
                    }
                    conn.execute_batch("COMMIT")
                })
                .map_err(sql)?,
            SCHEMA_VERSION => {}
            v => {
                return Err(invalid(format!(
                    "device state version {v}; this build reads {SCHEMA_VERSION}"
                )));
            }
        }
        conn.execute_batch("PRAGMA synchronous=FULL;")
            .map_err(sql)?;
        Ok(Local {
            path: path.to_path_buf(),
            conn,
        })
    }

    /// Runs `f` on the connection, naming the state file in any error.
    fn write<T>(
        &mut self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, Error> {
        f(&mut self.conn).map_err(|e| Error::Invalid {
            path: self.path.clone(),
            reason: format!("device state: {e}"),
        })
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        Error::Invalid {
            path: self.path.clone(),
            reason: format!("device state: {e}"),
        }
    }

    fn counter(&self, name: &str) -> Result<u32, Error> {
        self.conn
            .query_row("SELECT value FROM counters WHERE name = ?1", [name], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .map(|v| v.unwrap_or(0) as u32)
            .map_err(|e| self.err(e))
    }

    /// (matches, reports released, reports held).
    pub(crate) fn report_counts(&self) -> Result<(u32, u32, usize), Error> {
        let held: i64 = self
            .conn
            .query_row("SELECT count(*) FROM pending_reports", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok((
            self.counter("matches")?,
            self.counter("released")?,
            held as usize,
        ))
    }

    /// The peer's pinned keys, if any.
    pub(crate) fn pinned(&self, name: &str) -> Result<Option<PublicIdentity>, Error> {
        self.conn
            .query_row(
                "SELECT x25519, ed25519 FROM peers WHERE name = ?1",
                [name],
                |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
            .map(|o| {
                o.and_then(|(x, e)| {
                    Some(PublicIdentity {
                        x25519: PublicKey::from_bytes(x.try_into().ok()?),
                        ed25519: VerifyKey::from_bytes(e.try_into().ok()?),
                    })
                })
            })
    }

    /// Pins (or, with `replace`, re-pins) a peer's keys. Without `replace`
    /// an existing pin is kept; returns the keys now pinned.
    pub(crate) fn pin(
        &self,
        name: &str,
        keys: &PublicIdentity,
        replace: bool,
    ) -> Result<PublicIdentity, Error> {
        let sql = if replace {
            "INSERT OR REPLACE INTO peers (name, x25519, ed25519, pinned_at) VALUES (?1, ?2, ?3, ?4)"
        } else {
            "INSERT OR IGNORE INTO peers (name, x25519, ed25519, pinned_at) VALUES (?1, ?2, ?3, ?4)"
        };
        self.conn
            .execute(
                sql,
                params![
                    name,
                    &keys.x25519.to_bytes()[..],
                    &keys.ed25519.to_bytes()[..],
                    now() as i64
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.pinned(name)?.unwrap_or(*keys))
    }

    /// The relay's pinned receipt key, if any.
    pub(crate) fn relay_key(&self) -> Result<Option<VerifyKey>, Error> {
        let k: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT ed25519 FROM relay_key", [], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?;
        k.map(|k| {
            k.try_into()
                .map(VerifyKey::from_bytes)
                .map_err(|_| Error::Invalid {
                    path: self.path.clone(),
                    reason: "device state: the pinned relay key is damaged".into(),
                })
        })
        .transpose()
    }

    /// Pins the relay's receipt key unless one is pinned (a concurrent
    /// device may have won); returns the key pinned.
    pub(crate) fn pin_relay_key(&self, key: &VerifyKey) -> Result<VerifyKey, Error> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO relay_key (one, ed25519) VALUES (1, ?1)",
                [&key.to_bytes()[..]],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.relay_key()?.unwrap_or(*key))
    }

    /// Counts one more match and holds the sealed report `make` builds for
    /// that count, in one transaction: the count a report states is the
    /// count stored, even with a concurrent send on the same device, and a
    /// crash leaves either both or neither.
    pub(crate) fn hold_report<R>(
        &mut self,
        make: impl FnOnce(u32) -> Result<(R, [u8; 16], Vec<u8>), Error>,
    ) -> Result<(u32, R), Error> {
        let path = self.path.clone();
        let err = |e: rusqlite::Error| Error::Invalid {
            path: path.clone(),
            reason: format!("device state: {e}"),
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let before: i64 = tx
            .query_row(
                "SELECT coalesce((SELECT value FROM counters WHERE name = 'matches'), 0)",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        let matches = before as u32 + 1;
        // On an error here the transaction rolls back when dropped.
        let (out, id, sealed) = make(matches)?;
        tx.execute(
            "INSERT OR REPLACE INTO counters (name, value) VALUES ('matches', ?1)",
            [i64::from(matches)],
        )
        .map_err(err)?;
        tx.execute(
            "INSERT INTO pending_reports (id, sealed, queued_at) VALUES (?1, ?2, ?3)",
            params![&id[..], sealed, now() as i64],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok((matches, out))
    }

    /// The held reports, oldest first.
    pub(crate) fn pending(&self) -> Result<Vec<HeldReport>, Error> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, sealed FROM pending_reports ORDER BY seq")
            .map_err(|e| self.err(e))?;
        stmt.query_map([], |r| {
            let id: Vec<u8> = r.get(0)?;
            Ok((id.try_into().unwrap_or([0; 16]), r.get(1)?))
        })
        .and_then(Iterator::collect)
        .map_err(|e| self.err(e))
    }

    /// A held report reached the relay: forget it, count it.
    pub(crate) fn released(&mut self, id: &[u8; 16]) -> Result<(), Error> {
        self.write(|c| -> rusqlite::Result<()> {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if tx.execute("DELETE FROM pending_reports WHERE id = ?1", [&id[..]])? == 1 {
                tx.execute(
                    "INSERT INTO counters (name, value) VALUES ('released', 1)
                     ON CONFLICT(name) DO UPDATE SET value = value + 1",
                    [],
                )?;
            }
            tx.commit()
        })
    }

    /// Whether message `id` was received before.
    pub(crate) fn known(&self, id: &[u8; 16]) -> Result<bool, Error> {
        self.conn
            .query_row("SELECT 1 FROM inbox WHERE id = ?1", [&id[..]], |_| Ok(()))
            .optional()
            .map(|o| o.is_some())
            .map_err(|e| self.err(e))
    }

    /// Stores received messages (one transaction), ignoring ids already
    /// stored; returns how many were new.
    pub(crate) fn store(&mut self, items: &[Incoming]) -> Result<usize, Error> {
        self.write(|c| -> rusqlite::Result<usize> {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut n = 0;
            {
                let mut stmt = tx.prepare(
                    "INSERT OR IGNORE INTO inbox (id, received_at, plaintext, error) VALUES (?1, ?2, ?3, ?4)",
                )?;
                let now = now() as i64;
                for i in items {
                    n += stmt.execute(params![&i.id[..], now, i.plaintext, i.error])?;
                }
            }
            tx.execute(
                "DELETE FROM inbox WHERE shown = 1 AND received_at < ?1",
                [now().saturating_sub(RETENTION) as i64],
            )?;
            tx.commit()?;
            Ok(n)
        })
    }

    /// Every stored message not yet shown, oldest first, marked shown (and
    /// its plaintext dropped) in the same transaction.
    pub(crate) fn take_unshown(&mut self) -> Result<Vec<Incoming>, Error> {
        self.write(|c| -> rusqlite::Result<Vec<Incoming>> {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let items = {
                let mut stmt = tx.prepare(
                    "SELECT id, plaintext, error FROM inbox WHERE shown = 0 ORDER BY received_at, rowid",
                )?;
                stmt.query_map([], |r| {
                    let id: Vec<u8> = r.get(0)?;
                    Ok(Incoming {
                        id: id.try_into().unwrap_or([0; 16]),
                        plaintext: r.get(1)?,
                        error: r.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?
            };
            tx.execute(
                "UPDATE inbox SET shown = 1, plaintext = NULL WHERE shown = 0",
                [],
            )?;
            tx.commit()?;
            Ok(items)
        })
    }
}
