//! A device's local state: one SQLite file per identity (`state/NAME.db`,
//! mode 0600 — it holds received plaintext).
//!
//! - `peers`: each contact's keys, pinned on first contact (trust on first
//!   use); `relay_key`: the relay's receipt key, pinned the same way;
//! - `matches` and `pending_reports`: the account's match count and the
//!   sealed reports held until the account threshold;
//! - `pending_sends`: the device's outbox for reportable matches. A send
//!   the policy reports writes a row here *before* the envelope goes to the
//!   relay — the envelope exactly as sent, and the report's unsigned draft
//!   (its evidence, matches, franking key and policy; the receipt and the
//!   count are filled in when it is finished) — and the row is turned into
//!   a held report in one transaction once the relay's receipt is in. A
//!   crash in between leaves the row, and the next command finishes it (see
//!   `Device::finish_pending`). The draft holds plaintext, as the inbox
//!   does; none of it goes to the relay except inside a report sealed to
//!   the moderator;
//! - `inbox`: every message taken from the relay, stored *before* it is
//!   acknowledged, keyed by (sender, message id). It is the replay guard: a sender's id seen before is
//!   never shown again, and another sender using the same id does not hide
//!   it. Shown messages lose their plaintext and are forgotten after
//!   [`RETENTION`] seconds, which bounds the table; envelopes older than
//!   that are refused as stale, so a forgotten id cannot come back.
//!
//! Schema version 3 added `pending_sends`; version 2 the sender to the inbox
//! key. A version-1 file is
//! migrated when opened: its rows keep sender `''` (not recorded), which
//! guards that id for every sender until the row is forgotten, so the
//! migration never lets a redelivery through.
//!
//! A value that does not decode (an id that is not 16 bytes, a held report
//! too short to be sealed, a pinned key that is not 32 bytes) is an error
//! naming the file, the table, the row and the field — never a zero id, an
//! empty report or a silently re-pinned key.
//!
//! Every change is one transaction, so a concurrent `send` and `inbox` on
//! the same device serialise on SQLite's lock instead of overwriting each
//! other's state.

use std::path::{Path, PathBuf};

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::e2ee::{PublicIdentity, PublicKey, VerifyKey};
use crate::workspace::Error;

/// How long (seconds) a received message id is remembered; envelopes older
/// than this are refused.
pub const RETENTION: u64 = 45 * 24 * 3600;

const SCHEMA_VERSION: i64 = 3;
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
    sender      TEXT NOT NULL,
    id          BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    plaintext   BLOB,
    error       TEXT,
    shown       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (sender, id)
);
CREATE INDEX inbox_unshown ON inbox(shown, received_at);
";

/// Version 2 → 3 (and the last step of a fresh schema): the outbox of
/// reportable sends awaiting their receipt.
const MIGRATE_2_TO_3: &str = "
CREATE TABLE pending_sends (
    id         BLOB PRIMARY KEY,
    recipient  TEXT NOT NULL,
    sent_at    INTEGER NOT NULL,
    envelope   BLOB NOT NULL,
    report_id  BLOB NOT NULL,
    draft      BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
";

/// Version 1 → 2: the inbox is keyed by (sender, id). Old rows get sender
/// `''`, which [`Local::known`] treats as any sender.
const MIGRATE_1_TO_2: &str = "
CREATE TABLE inbox_v2 (
    sender      TEXT NOT NULL,
    id          BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    plaintext   BLOB,
    error       TEXT,
    shown       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (sender, id)
);
INSERT INTO inbox_v2 (sender, id, received_at, plaintext, error, shown)
    SELECT '', id, received_at, plaintext, error, shown FROM inbox ORDER BY rowid;
DROP TABLE inbox;
ALTER TABLE inbox_v2 RENAME TO inbox;
CREATE INDEX inbox_unshown ON inbox(shown, received_at);
";

/// The shortest sealed report: an HPKE encapsulated key (32 bytes) and an
/// AES-GCM tag (16 bytes).
const MIN_SEALED_REPORT: usize = 32 + 16;

/// A held report: its id and sealed bytes.
pub(crate) type HeldReport = ([u8; 16], Vec<u8>);

/// A reportable send awaiting the relay's receipt (a `pending_sends` row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PendingSend {
    /// The message id.
    pub id: [u8; 16],
    /// The recipient's name.
    pub to: String,
    /// The time the message states.
    pub sent_at: u64,
    /// The envelope exactly as sent: a retry of it gets the relay's receipt.
    pub envelope: Vec<u8>,
    /// The id the report will carry.
    pub report_id: [u8; 16],
    /// The report's unsigned body, receipt and count still to fill in.
    pub draft: Vec<u8>,
}

/// A message stored locally, not yet shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Incoming {
    /// The sender's name, as the relay carried it (checked against the
    /// authenticated sender when the message opened).
    pub sender: String,
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
        // Two processes may race to create or migrate the schema: the first
        // to take the write lock does it, the other finds the version set.
        if version != SCHEMA_VERSION {
            let upgrade = || -> rusqlite::Result<Result<(), String>> {
                if version == 0 {
                    conn.execute_batch("PRAGMA journal_mode=WAL;")?;
                }
                conn.execute_batch("BEGIN IMMEDIATE")?;
                let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                let step = match v {
                    0 => Ok(Some(format!("{SCHEMA}{MIGRATE_2_TO_3}"))),
                    1 => Ok(Some(format!("{MIGRATE_1_TO_2}{MIGRATE_2_TO_3}"))),
                    2 => Ok(Some(MIGRATE_2_TO_3.to_string())),
                    SCHEMA_VERSION => Ok(None),
                    v => Err(format!(
                        "device state version {v}; this build reads versions 1 to {SCHEMA_VERSION} \
                         (made by a newer cssim?)"
                    )),
                };
                match step {
                    Ok(Some(sql)) => conn.execute_batch(&format!(
                        "{sql} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
                    ))?,
                    Ok(None) => conn.execute_batch("COMMIT")?,
                    Err(e) => {
                        conn.execute_batch("ROLLBACK")?;
                        return Ok(Err(e));
                    }
                }
                Ok(Ok(()))
            };
            match upgrade() {
                Ok(Ok(())) => {}
                Ok(Err(reason)) => return Err(invalid(reason)),
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(sql(e));
                }
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

    /// A stored value that does not decode: names the file, table, row
    /// and field.
    fn damaged(&self, table: &str, row: &str, field: &str, what: &str) -> Error {
        damaged(&self.path, table, row, field, what)
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

    /// The peer's pinned keys, if any. A damaged pin is an error, never
    /// "not pinned" (which would silently trust whatever the relay says).
    pub(crate) fn pinned(&self, name: &str) -> Result<Option<PublicIdentity>, Error> {
        let row = self
            .conn
            .query_row(
                "SELECT x25519, ed25519 FROM peers WHERE name = ?1",
                [name],
                |r| Ok((r.get::<_, Value>(0)?, r.get::<_, Value>(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some((x, e)) = row else {
            return Ok(None);
        };
        let row = format!("'{name}'");
        let x = fixed::<32>(x).map_err(|w| self.damaged("peers", &row, "x25519", &w))?;
        let e = fixed::<32>(e).map_err(|w| self.damaged("peers", &row, "ed25519", &w))?;
        Ok(Some(PublicIdentity {
            x25519: PublicKey::from_bytes(x),
            ed25519: VerifyKey::from_bytes(e),
        }))
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
        let k: Option<Value> = self
            .conn
            .query_row("SELECT ed25519 FROM relay_key", [], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?;
        k.map(|k| {
            fixed::<32>(k)
                .map(VerifyKey::from_bytes)
                .map_err(|w| self.damaged("relay_key", "1", "ed25519", &w))
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

    /// Records a reportable send before its envelope goes to the relay.
    pub(crate) fn begin_send(&mut self, p: &PendingSend) -> Result<(), Error> {
        self.write(|c| {
            c.execute(
                "INSERT INTO pending_sends (id, recipient, sent_at, envelope, report_id, draft, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    &p.id[..],
                    p.to,
                    p.sent_at as i64,
                    p.envelope,
                    &p.report_id[..],
                    p.draft,
                    now() as i64
                ],
            )
            .map(drop)
        })
    }

    /// Forgets a pending send the relay refused (it stored nothing).
    pub(crate) fn abandon_send(&mut self, id: &[u8; 16]) -> Result<(), Error> {
        self.write(|c| {
            c.execute("DELETE FROM pending_sends WHERE id = ?1", [&id[..]])
                .map(drop)
        })
    }

    /// The pending sends recorded at or before `created_by` (unix seconds),
    /// oldest first. A damaged row is an error naming it.
    pub(crate) fn pending_sends(&self, created_by: u64) -> Result<Vec<PendingSend>, Error> {
        type Row = (i64, String, i64, Value, Value, Value, Value);
        let rows: Vec<Row> = {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT rowid, recipient, sent_at, id, envelope, report_id, draft
                     FROM pending_sends WHERE created_at <= ?1 ORDER BY created_at, rowid",
                )
                .map_err(|e| self.err(e))?;
            stmt.query_map([created_by as i64], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })
            .and_then(Iterator::collect)
            .map_err(|e| self.err(e))?
        };
        rows.into_iter()
            .map(|(rowid, to, sent_at, id, envelope, report_id, draft)| {
                let row = rowid.to_string();
                let bad = |field: &str, w: String| self.damaged("pending_sends", &row, field, &w);
                Ok(PendingSend {
                    id: fixed::<16>(id).map_err(|w| bad("id", w))?,
                    to,
                    sent_at: sent_at as u64,
                    envelope: bytes(envelope).map_err(|w| bad("envelope", w))?,
                    report_id: fixed::<16>(report_id).map_err(|w| bad("report_id", w))?,
                    draft: bytes(draft).map_err(|w| bad("draft", w))?,
                })
            })
            .collect()
    }

    /// Finishes pending send `id` once its receipt is in: counts one more
    /// match, holds the sealed report `make` builds for that count, and
    /// deletes the pending row — one transaction, so a crash leaves either
    /// the row or the held report, never both or neither, and the count a
    /// report states is the count stored, even with a concurrent send on
    /// the same device. `None` when the
    /// row is gone (another process on this device finished it first):
    /// nothing is counted or held twice.
    pub(crate) fn finish_send<R>(
        &mut self,
        id: &[u8; 16],
        make: impl FnOnce(u32) -> Result<(R, [u8; 16], Vec<u8>), Error>,
    ) -> Result<Option<(u32, R)>, Error> {
        let path = self.path.clone();
        let err = |e: rusqlite::Error| sql_error(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        if tx
            .execute("DELETE FROM pending_sends WHERE id = ?1", [&id[..]])
            .map_err(err)?
            == 0
        {
            return Ok(None);
        }
        let out = hold_in(&tx, &path, make)?;
        tx.commit().map_err(err)?;
        Ok(Some(out))
    }

    /// The held reports, oldest first. One that does not decode is an
    /// error naming its row: it is never submitted empty or under a zero id.
    pub(crate) fn pending(&self) -> Result<Vec<HeldReport>, Error> {
        let rows: Vec<(i64, Value, Value)> = {
            let mut stmt = self
                .conn
                .prepare("SELECT seq, id, sealed FROM pending_reports ORDER BY seq")
                .map_err(|e| self.err(e))?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .and_then(Iterator::collect)
                .map_err(|e| self.err(e))?
        };
        rows.into_iter()
            .map(|(seq, id, sealed)| {
                let row = seq.to_string();
                let id =
                    fixed::<16>(id).map_err(|w| self.damaged("pending_reports", &row, "id", &w))?;
                let sealed = bytes(sealed)
                    .and_then(|b| {
                        if b.len() < MIN_SEALED_REPORT {
                            Err(format!(
                                "is {} bytes, shorter than any sealed report ({MIN_SEALED_REPORT})",
                                b.len()
                            ))
                        } else {
                            Ok(b)
                        }
                    })
                    .map_err(|w| self.damaged("pending_reports", &row, "sealed", &w))?;
                Ok((id, sealed))
            })
            .collect()
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

    /// Whether `sender`'s message `id` was received before. Rows migrated
    /// from version 1 (sender `''`, not recorded) match every sender.
    pub(crate) fn known(&self, sender: &str, id: &[u8; 16]) -> Result<bool, Error> {
        self.conn
            .query_row(
                "SELECT 1 FROM inbox WHERE (sender = ?1 AND id = ?2) OR (sender = '' AND id = ?2)",
                params![sender, &id[..]],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
            .map_err(|e| self.err(e))
    }

    /// Stores received messages (one transaction), ignoring (sender, id)
    /// pairs already stored; returns how many were new.
    pub(crate) fn store(&mut self, items: &[Incoming]) -> Result<usize, Error> {
        self.write(|c| -> rusqlite::Result<usize> {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut n = 0;
            {
                let mut stmt = tx.prepare(
                    "INSERT OR IGNORE INTO inbox (sender, id, received_at, plaintext, error)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                let now = now() as i64;
                for i in items {
                    n += stmt.execute(params![i.sender, &i.id[..], now, i.plaintext, i.error])?;
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

    /// Every stored message not yet shown, oldest first, left unshown
    /// (`inbox --peek`).
    pub(crate) fn unshown(&self) -> Result<Vec<Incoming>, Error> {
        read_unshown(&self.conn).map_err(|e| self.read_error(e))
    }

    /// Every stored message not yet shown, oldest first, handed to `keep`
    /// and then marked shown (its plaintext dropped) in the same
    /// transaction. If `keep` fails, nothing is marked: the messages are
    /// shown again next time.
    pub(crate) fn take_unshown<T>(
        &mut self,
        keep: impl FnOnce(&[Incoming]) -> Result<T, Error>,
    ) -> Result<(Vec<Incoming>, T), Error> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql_error(&path, e))?;
        let items = read_unshown(&tx).map_err(|e| read_error(&path, e))?;
        // On an error the transaction rolls back when dropped.
        let kept = keep(&items)?;
        tx.execute(
            "UPDATE inbox SET shown = 1, plaintext = NULL WHERE shown = 0",
            [],
        )
        .map_err(|e| sql_error(&path, e))?;
        tx.commit().map_err(|e| sql_error(&path, e))?;
        Ok((items, kept))
    }

    fn read_error(&self, e: ReadError) -> Error {
        read_error(&self.path, e)
    }
}

/// Reading stored rows fails either in SQLite or on a value that does not
/// decode.
enum ReadError {
    Sql(rusqlite::Error),
    Damaged {
        row: String,
        field: &'static str,
        what: String,
    },
}

impl From<rusqlite::Error> for ReadError {
    fn from(e: rusqlite::Error) -> ReadError {
        ReadError::Sql(e)
    }
}

/// Counts one more match and holds the report `make` builds for that count,
/// inside the caller's transaction (on an error nothing is written: the
/// transaction rolls back when dropped).
fn hold_in<R>(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    make: impl FnOnce(u32) -> Result<(R, [u8; 16], Vec<u8>), Error>,
) -> Result<(u32, R), Error> {
    let err = |e: rusqlite::Error| sql_error(path, e);
    let before: i64 = tx
        .query_row(
            "SELECT coalesce((SELECT value FROM counters WHERE name = 'matches'), 0)",
            [],
            |r| r.get(0),
        )
        .map_err(err)?;
    let matches = before as u32 + 1;
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
    Ok((matches, out))
}

fn sql_error(path: &Path, e: rusqlite::Error) -> Error {
    Error::Invalid {
        path: path.to_path_buf(),
        reason: format!("device state: {e}"),
    }
}

fn read_error(path: &Path, e: ReadError) -> Error {
    match e {
        ReadError::Sql(e) => sql_error(path, e),
        ReadError::Damaged { row, field, what } => damaged(path, "inbox", &row, field, &what),
    }
}

fn damaged(path: &Path, table: &str, row: &str, field: &str, what: &str) -> Error {
    Error::Invalid {
        path: path.to_path_buf(),
        reason: format!("device state is damaged: table {table}, row {row}, field {field} {what}"),
    }
}

fn read_unshown(conn: &Connection) -> Result<Vec<Incoming>, ReadError> {
    let mut stmt = conn.prepare(
        "SELECT rowid, sender, id, plaintext, error FROM inbox WHERE shown = 0
         ORDER BY received_at, rowid",
    )?;
    let mut rows = stmt.query([])?;
    let mut items = Vec::new();
    while let Some(r) = rows.next()? {
        let id = fixed::<16>(r.get(2)?).map_err(|what| ReadError::Damaged {
            row: r
                .get::<_, i64>(0)
                .map_or_else(|_| "?".into(), |n| n.to_string()),
            field: "id",
            what,
        })?;
        items.push(Incoming {
            sender: r.get(1)?,
            id,
            plaintext: r.get(3)?,
            error: r.get(4)?,
        });
    }
    Ok(items)
}

/// A BLOB value's bytes; anything else is described.
fn bytes(v: Value) -> Result<Vec<u8>, String> {
    match v {
        Value::Blob(b) => Ok(b),
        Value::Null => Err("is NULL, not bytes".into()),
        Value::Integer(_) => Err("is an integer, not bytes".into()),
        Value::Real(_) => Err("is a real number, not bytes".into()),
        Value::Text(_) => Err("is text, not bytes".into()),
    }
}

/// A BLOB value of exactly `N` bytes.
fn fixed<const N: usize>(v: Value) -> Result<[u8; N], String> {
    let b = bytes(v)?;
    let len = b.len();
    b.try_into().map_err(|_| format!("is {len} bytes, not {N}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming(sender: &str, id: u8) -> Incoming {
        Incoming {
            sender: sender.into(),
            id: [id; 16],
            plaintext: Some(vec![id]),
            error: None,
        }
    }

    fn open(dir: &tempfile::TempDir) -> Local {
        Local::open(&dir.path().join("alice.db")).unwrap()
    }

    fn raw(dir: &tempfile::TempDir) -> Connection {
        Connection::open(dir.path().join("alice.db")).unwrap()
    }

    #[test]
    fn the_replay_guard_is_keyed_by_sender_and_id() {
        let dir = tempfile::tempdir().unwrap();
        let mut local = open(&dir);
        assert_eq!(local.store(&[incoming("alice", 7)]).unwrap(), 1);
        assert!(local.known("alice", &[7; 16]).unwrap());
        assert!(
            !local.known("carol", &[7; 16]).unwrap(),
            "another sender's message with the same id is not a replay"
        );
        assert_eq!(local.store(&[incoming("carol", 7)]).unwrap(), 1);
        assert_eq!(local.store(&[incoming("alice", 7)]).unwrap(), 0);
        let (shown, ()) = local.take_unshown(|_| Ok(())).unwrap();
        let senders: Vec<_> = shown.iter().map(|i| i.sender.as_str()).collect();
        assert_eq!(senders, ["alice", "carol"]);
    }

    fn pending(id: u8) -> PendingSend {
        PendingSend {
            id: [id; 16],
            to: "bob".into(),
            sent_at: 1,
            envelope: vec![id; 40],
            report_id: [id + 100; 16],
            draft: vec![1, 2, 3],
        }
    }

    /// The outbox row becomes a held report and a counted match in one
    /// transaction, once: a second finisher (another process, a second
    /// restart) finds nothing to do.
    #[test]
    fn a_pending_send_is_finished_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut local = open(&dir);
        local.begin_send(&pending(1)).unwrap();
        local.begin_send(&pending(2)).unwrap();
        assert_eq!(local.pending_sends(0).unwrap(), [], "none old enough");
        let rows = local.pending_sends(now()).unwrap();
        assert_eq!(rows, [pending(1), pending(2)]);

        // A failing build of the report changes nothing.
        let err = local.finish_send(&[1; 16], |_| -> Result<((), _, _), _> {
            Err(Error::Invalid {
                path: "x".into(),
                reason: "no".into(),
            })
        });
        assert!(err.is_err());
        assert_eq!(local.pending_sends(now()).unwrap().len(), 2);
        assert_eq!(local.report_counts().unwrap(), (0, 0, 0));

        let sealed = vec![7; MIN_SEALED_REPORT];
        let first = local
            .finish_send(&[1; 16], |n| Ok((n, [101; 16], sealed.clone())))
            .unwrap();
        assert_eq!(first, Some((1, 1)));
        let again = local
            .finish_send(&[1; 16], |n| Ok((n, [101; 16], sealed.clone())))
            .unwrap();
        assert_eq!(again, None, "finished once");
        assert_eq!(local.report_counts().unwrap(), (1, 0, 1));
        assert_eq!(local.pending().unwrap(), vec![([101; 16], sealed)]);

        local.abandon_send(&[2; 16]).unwrap();
        assert_eq!(local.pending_sends(now()).unwrap(), []);
        assert_eq!(local.report_counts().unwrap(), (1, 0, 1), "nothing counted");
    }

    #[test]
    fn version_1_state_is_migrated_and_keeps_guarding_old_ids() {
        let dir = tempfile::tempdir().unwrap();
        {
            let c = raw(&dir);
            c.execute_batch(
                "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                 CREATE TABLE peers (name TEXT PRIMARY KEY, x25519 BLOB NOT NULL,
                     ed25519 BLOB NOT NULL, pinned_at INTEGER NOT NULL);
                 CREATE TABLE relay_key (one INTEGER PRIMARY KEY CHECK (one = 1), ed25519 BLOB NOT NULL);
                 CREATE TABLE pending_reports (seq INTEGER PRIMARY KEY AUTOINCREMENT,
                     id BLOB NOT NULL UNIQUE, sealed BLOB NOT NULL, queued_at INTEGER NOT NULL);
                 CREATE TABLE inbox (id BLOB PRIMARY KEY, received_at INTEGER NOT NULL,
                     plaintext BLOB, error TEXT, shown INTEGER NOT NULL DEFAULT 0);
                 CREATE INDEX inbox_unshown ON inbox(shown, received_at);
                 INSERT INTO counters VALUES ('matches', 3);
                 INSERT INTO inbox VALUES (zeroblob(16), 1, NULL, NULL, 1);
                 INSERT INTO inbox VALUES (x'01010101010101010101010101010101', 2, x'2a', NULL, 0);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let mut local = open(&dir);
        let version: i64 = raw(&dir)
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(local.report_counts().unwrap().0, 3, "counters kept");
        assert!(
            local.known("anyone", &[0; 16]).unwrap(),
            "a shown id from before the migration is still refused, whoever sends it"
        );
        let (unshown, ()) = local.take_unshown(|_| Ok(())).unwrap();
        assert_eq!(unshown.len(), 1, "the unshown message is still shown once");
        assert_eq!(unshown[0].plaintext.as_deref(), Some(&[0x2a][..]));
        // A newer version is refused, naming the file.
        raw(&dir).execute_batch("PRAGMA user_version = 9").unwrap();
        let err = Local::open(&dir.path().join("alice.db")).err().unwrap();
        assert!(
            err.to_string().contains("alice.db: device state version 9"),
            "{err}"
        );
    }

    #[test]
    fn damaged_values_are_errors_naming_file_table_row_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let mut local = open(&dir);
        local.begin_send(&pending(5)).unwrap();
        local
            .finish_send(&[5; 16], |_| Ok(((), [5; 16], vec![9; MIN_SEALED_REPORT])))
            .unwrap();
        assert_eq!(
            local.pending().unwrap(),
            vec![([5; 16], vec![9; MIN_SEALED_REPORT])]
        );

        raw(&dir)
            .execute("UPDATE pending_reports SET id = x'0102'", [])
            .unwrap();
        let err = local.pending().unwrap_err().to_string();
        assert!(
            err.contains("alice.db: device state is damaged: table pending_reports, row 1, field id is 2 bytes, not 16"),
            "{err}"
        );
        raw(&dir)
            .execute(
                "UPDATE pending_reports SET id = zeroblob(16), sealed = x''",
                [],
            )
            .unwrap();
        let err = local.pending().unwrap_err().to_string();
        assert!(
            err.contains("field sealed is 0 bytes, shorter than any sealed report"),
            "an empty report is never submitted: {err}"
        );

        local.store(&[incoming("bob", 1)]).unwrap();
        raw(&dir)
            .execute("UPDATE inbox SET id = 'not bytes'", [])
            .unwrap();
        let err = local.take_unshown(|_| Ok(())).unwrap_err().to_string();
        assert!(
            err.contains("table inbox, row 1, field id is text, not bytes"),
            "{err}"
        );
        assert!(local.unshown().is_err());

        let keys = crate::e2ee::Identity::generate().public_identity();
        local.pin("bob", &keys, false).unwrap();
        raw(&dir)
            .execute("UPDATE peers SET x25519 = x'00'", [])
            .unwrap();
        let err = local.pinned("bob").unwrap_err().to_string();
        assert!(
            err.contains("table peers, row 'bob', field x25519 is 1 bytes, not 32"),
            "a damaged pin is not taken for no pin (which would trust any key): {err}"
        );
    }
}
