//! The relay's durable store: one SQLite file (WAL mode, `synchronous=FULL`,
//! created 0600 — it holds the relay's receipt-signing key).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    Error, MessageMeta, Outcome, OutgoingMessage, Overview, Receipt, Relay, ReportMeta,
    ReportStatus, Resolution, StoredMessage, StoredReport, validate_name,
};
use crate::e2ee::{Envelope, Identity, PublicIdentity, PublicKey, VerifyKey};

const SCHEMA_VERSION: i64 = 3;

const SCHEMA: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE users (
    name    TEXT PRIMARY KEY,
    x25519  BLOB NOT NULL CHECK (length(x25519) = 32),
    ed25519 BLOB NOT NULL CHECK (length(ed25519) = 32),
    created INTEGER NOT NULL
);
CREATE TABLE messages (
    id           BLOB PRIMARY KEY CHECK (length(id) = 16),
    sender       TEXT NOT NULL REFERENCES users(name),
    recipient    TEXT NOT NULL REFERENCES users(name),
    sent_at      INTEGER NOT NULL,
    envelope     BLOB NOT NULL,
    stored_at    INTEGER NOT NULL,
    receipt      TEXT NOT NULL,
    delivered_at INTEGER
);
CREATE INDEX messages_inbox ON messages(recipient, delivered_at);
CREATE TABLE reports (
    id           BLOB PRIMARY KEY CHECK (length(id) = 16),
    created      INTEGER NOT NULL,
    submitted_by TEXT NOT NULL,
    sealed       BLOB NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open',
    resolved_at  INTEGER
);
CREATE TABLE resolutions (
    report_id BLOB NOT NULL REFERENCES reports(id),
    outcome   TEXT NOT NULL,
    at        INTEGER NOT NULL
);
CREATE INDEX resolutions_report ON resolutions(report_id);
CREATE TABLE nonces (
    key_id TEXT NOT NULL,
    nonce  BLOB NOT NULL,
    time   INTEGER NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX nonces_time ON nonces(time);
";

/// From schema 2: each earlier decision becomes the first entry of its
/// report's history, and `false_positive` is spelt `false-positive`.
const MIGRATE_2_TO_3: &str = "BEGIN;
CREATE TABLE resolutions (
    report_id BLOB NOT NULL REFERENCES reports(id),
    outcome   TEXT NOT NULL,
    at        INTEGER NOT NULL
);
CREATE INDEX resolutions_report ON resolutions(report_id);
UPDATE reports SET status = 'false-positive' WHERE status = 'false_positive';
INSERT INTO resolutions (report_id, outcome, at)
    SELECT id, status, coalesce(resolved_at, created) FROM reports WHERE status != 'open';
PRAGMA user_version = 3;
COMMIT;";

/// A verified request's nonce, to be recorded with the request's effect.
#[derive(Clone, Debug)]
pub(super) struct RequestNonce {
    /// Whose key signed the request.
    pub key_id: String,
    /// The nonce as sent (hex text).
    pub nonce: Vec<u8>,
    /// The request's time.
    pub time: u64,
    /// Seconds a request's time may be off; nonces older than twice this
    /// are forgotten.
    pub window: u64,
}

/// Per-user limits on what the relay holds for a recipient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Undelivered messages one inbox may hold.
    pub inbox_messages: u64,
    /// Undelivered envelope bytes one inbox may hold.
    pub inbox_bytes: u64,
    /// Seconds an undelivered message is kept before it expires.
    pub undelivered_ttl: u64,
    /// Envelope bytes one inbox page may carry (at least one message is
    /// always returned, whatever its size).
    pub page_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            inbox_messages: 10_000,
            inbox_bytes: 1 << 30,
            undelivered_ttl: 30 * 24 * 3600,
            page_bytes: 24 << 20,
        }
    }
}

/// The relay's SQLite store. One connection behind a mutex: SQLite
/// serialises writers anyway, and a single connection avoids busy retries.
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
    signer: Identity,
    limits: Limits,
}

pub(super) use crate::clock::now_unix as now;

impl Store {
    /// Opens (creating if new) the store at `path` with default [`Limits`],
    /// checking that an existing file is an intact cssim relay database.
    pub fn open(path: &Path) -> Result<Store, Error> {
        Store::open_with(path, Limits::default())
    }

    /// Opens the store with `limits`.
    pub fn open_with(path: &Path, limits: Limits) -> Result<Store, Error> {
        let db_err = |reason: String| Error::Database {
            path: path.display().to_string(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| db_err(crate::files::describe_io_error(&e)))?;
        }
        // Create the file 0600 before SQLite opens it: it will hold the
        // relay's signing secret and every user's metadata.
        if !path.exists() {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            match options.open(path) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(db_err(crate::files::describe_io_error(&e))),
            }
        }
        let conn = Connection::open(path).map_err(|e| db_err(e.to_string()))?;
        let sql_err = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => {
                db_err("not a SQLite database (corrupt or another kind of file)".into())
            }
            Some(rusqlite::ErrorCode::DatabaseCorrupt) => db_err("the database is corrupt".into()),
            _ => db_err(e.to_string()),
        };
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql_err)?;
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(sql_err)?;
        if check != "ok" {
            return Err(db_err(format!("integrity check failed: {check}")));
        }
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql_err)?;
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(sql_err)?;
        match (version, tables) {
            (0, 0) => {
                let key = Identity::generate();
                conn.execute_batch(&format!("PRAGMA journal_mode=WAL; BEGIN; {SCHEMA}"))
                    .map_err(sql_err)?;
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('signing_secret', ?1)",
                    [&key.secret_bytes()[..]],
                )
                .map_err(sql_err)?;
                conn.execute_batch(&format!("PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"))
                    .map_err(sql_err)?;
            }
            (SCHEMA_VERSION, _) => {}
            (2, _) => {
                // Version 3 keeps every decision (resolutions) and spells
                // the outcome one way.
                conn.execute_batch(MIGRATE_2_TO_3).map_err(sql_err)?;
            }
            (0, _) => return Err(db_err("a SQLite database, but not a cssim relay".into())),
            (v, _) => {
                return Err(db_err(format!(
                    "relay schema version {v}; this build reads {SCHEMA_VERSION} (start a new relay database)"
                )));
            }
        }
        // FULL: a message counts as sent once its commit is on disk, not
        // merely in the WAL's page cache.
        conn.execute_batch("PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;")
            .map_err(sql_err)?;
        let secret: Vec<u8> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'signing_secret'",
                [],
                |r| r.get(0),
            )
            .map_err(sql_err)?;
        let secret: [u8; 32] = secret
            .try_into()
            .map_err(|_| db_err("the relay's signing key is damaged".into()))?;
        Ok(Store {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
            signer: Identity::from_secret(&secret),
            limits,
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, Error> {
        // A panic while holding the lock cannot leave SQLite inconsistent
        // (transactions roll back), so a poisoned lock is still usable.
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn).map_err(|e| Error::Database {
            path: self.path.display().to_string(),
            reason: match &e {
                rusqlite::Error::FromSqlConversionFailure(_, _, cause) => cause
                    .downcast_ref::<Damaged>()
                    .map_or_else(|| e.to_string(), ToString::to_string),
                _ => e.to_string(),
            },
        })
    }

    /// A user's keys; damaged keys are an error naming the user and the
    /// field, never "unknown user".
    fn keys_of(conn: &Connection, name: &str) -> rusqlite::Result<Option<PublicIdentity>> {
        conn.query_row(
            "SELECT x25519, ed25519 FROM users WHERE name = ?1",
            [name],
            |r| {
                let row = format!("'{name}'");
                Ok(PublicIdentity {
                    x25519: PublicKey::from_bytes(fixed(r, 0, "users", &row, "x25519")?),
                    ed25519: VerifyKey::from_bytes(fixed(r, 1, "users", &row, "ed25519")?),
                })
            },
        )
        .optional()
    }

    /// Records a request nonce; `false` if `key_id` used it before. Nonces
    /// older than `window` seconds are forgotten (their requests are
    /// refused as stale anyway).
    pub fn record_nonce(
        &self,
        key_id: &str,
        nonce: &[u8],
        time: u64,
        window: u64,
    ) -> Result<bool, Error> {
        let n = RequestNonce {
            key_id: key_id.to_string(),
            nonce: nonce.to_vec(),
            time,
            window,
        };
        self.with(|c| Store::insert_nonce(c, &n))
    }

    /// Inserts `n` (forgetting expired nonces first); `false` if its key
    /// used it before. Runs inside the caller's transaction, if any.
    fn insert_nonce(c: &Connection, n: &RequestNonce) -> rusqlite::Result<bool> {
        c.execute(
            "DELETE FROM nonces WHERE time < ?1",
            [now().saturating_sub(2 * n.window) as i64],
        )?;
        let inserted = c.execute(
            "INSERT OR IGNORE INTO nonces (key_id, nonce, time) VALUES (?1, ?2, ?3)",
            params![n.key_id, n.nonce, n.time as i64],
        )?;
        Ok(inserted == 1)
    }

    /// Runs `f` in one immediate transaction that first records `nonce`
    /// (when given): the request's nonce and its effect reach the disk in
    /// one synchronous commit instead of two. A replayed nonce changes
    /// nothing. The transaction commits even when `f` refuses the request
    /// (its partial writes, if any, are only housekeeping), so a refused
    /// request cannot be replayed either.
    fn in_transaction<T>(
        &self,
        nonce: Option<&RequestNonce>,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<Result<T, Error>>,
    ) -> Result<T, Error> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if let Some(n) = nonce {
                if !Store::insert_nonce(&tx, n)? {
                    return Ok(Err(Error::Unauthorized {
                        reason: "replayed request (nonce already used)".into(),
                    }));
                }
            }
            let result = f(&tx)?;
            tx.commit()?;
            Ok(result)
        })?
    }

    /// [`Relay::send`], recording the request's nonce in the same
    /// transaction (a replayed nonce is refused and stores nothing).
    pub(super) fn send_once(
        &self,
        m: &OutgoingMessage,
        nonce: &RequestNonce,
    ) -> Result<Receipt, Error> {
        self.in_transaction(Some(nonce), |tx| self.send_in(tx, m))
    }

    /// [`Relay::ack`], recording the request's nonce in the same transaction.
    pub(super) fn ack_once(
        &self,
        name: &str,
        ids: &[[u8; 16]],
        nonce: &RequestNonce,
    ) -> Result<usize, Error> {
        self.in_transaction(Some(nonce), |tx| Store::ack_in(tx, name, ids).map(Ok))
    }

    fn send_in(
        &self,
        tx: &rusqlite::Transaction<'_>,
        m: &OutgoingMessage,
    ) -> rusqlite::Result<Result<Receipt, Error>> {
        let limits = self.limits;
        // A retry of a message already stored gets the same receipt, before
        // any other check: it was checked when it was stored, and a sender
        // finishing a send after a crash (`crate::client`) must get its
        // receipt even if a key changed since. A different message under a
        // taken id is a duplicate.
        let existing: Option<(Vec<u8>, String, String, String)> = tx
            .query_row(
                "SELECT envelope, sender, recipient, receipt FROM messages WHERE id = ?1",
                [&m.id[..]],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        if let Some((envelope, sender, recipient, receipt)) = existing {
            if envelope != m.envelope || sender != m.from || recipient != m.to {
                return Ok(Err(Error::Duplicate {
                    id: hex::encode(m.id),
                }));
            }
            return Ok(serde_json::from_str::<Receipt>(&receipt).map_err(|e| Error::Database {
                path: self.path.display().to_string(),
                reason: format!(
                    "the database is damaged: table messages, row with id {}, field receipt does not decode ({e})",
                    hex::encode(m.id)
                ),
            }));
        }
        let mut keys = Vec::with_capacity(2);
        for who in [&m.from, &m.to] {
            match Store::keys_of(tx, who)? {
                Some(k) => keys.push(k),
                None => return Ok(Err(Error::UnknownUser { name: who.clone() })),
            }
        }
        let commitment = match Store::check_envelope(m, &keys[0], &keys[1]) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        let now = now();
        // Only this recipient's expired messages: the (recipient,
        // delivered_at) index finds them, where a table-wide purge would
        // scan every message on every send.
        tx.execute(
            "DELETE FROM messages WHERE recipient = ?1 AND delivered_at IS NULL AND stored_at < ?2",
            params![m.to, now.saturating_sub(limits.undelivered_ttl) as i64],
        )?;
        let (count, bytes): (i64, i64) = tx.query_row(
            "SELECT count(*), coalesce(sum(length(envelope)), 0) FROM messages
             WHERE recipient = ?1 AND delivered_at IS NULL",
            [&m.to],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if count as u64 >= limits.inbox_messages {
            return Ok(Err(Error::QuotaExceeded {
                user: m.to.clone(),
                reason: format!(
                    "the inbox holds {count} undelivered messages, the most it may hold"
                ),
            }));
        }
        if bytes as u64 + m.envelope.len() as u64 > limits.inbox_bytes {
            return Ok(Err(Error::QuotaExceeded {
                user: m.to.clone(),
                reason: format!(
                    "{} more bytes would exceed the inbox's {} undelivered bytes ({bytes} held)",
                    m.envelope.len(),
                    limits.inbox_bytes
                ),
            }));
        }
        let receipt = self.sign_receipt(m, commitment, now);
        tx.execute(
            "INSERT INTO messages (id, sender, recipient, sent_at, envelope, stored_at, receipt)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                &m.id[..],
                m.from,
                m.to,
                m.sent_at as i64,
                m.envelope,
                now as i64,
                serde_json::to_string(&receipt).unwrap_or_default()
            ],
        )?;
        Ok(Ok(receipt))
    }

    fn ack_in(
        tx: &rusqlite::Transaction<'_>,
        name: &str,
        ids: &[[u8; 16]],
    ) -> rusqlite::Result<usize> {
        let mut n = 0;
        let mut stmt = tx.prepare(
            "UPDATE messages SET delivered_at = ?3
             WHERE id = ?1 AND recipient = ?2 AND delivered_at IS NULL",
        )?;
        let now = now() as i64;
        for id in ids {
            n += stmt.execute(params![&id[..], name, now])?;
        }
        Ok(n)
    }

    fn sign_receipt(&self, m: &OutgoingMessage, commitment: [u8; 32], stored_at: u64) -> Receipt {
        let mut r = Receipt {
            message_id: hex::encode(m.id),
            from: m.from.clone(),
            to: m.to.clone(),
            sent_at: m.sent_at,
            commitment: hex::encode(commitment),
            envelope_sha256: Receipt::envelope_digest(&m.envelope),
            stored_at,
            signature: String::new(),
        };
        r.signature = hex::encode(self.signer.sign(&r.signed_bytes()));
        r
    }

    /// The relay's check of a message against its own directory: the
    /// envelope must name the registered keys of sender and recipient, and
    /// the id and time the metadata states.
    fn check_envelope(
        m: &OutgoingMessage,
        from: &PublicIdentity,
        to: &PublicIdentity,
    ) -> Result<[u8; 32], Error> {
        let reject = |reason: String| Error::Rejected { reason };
        let env = Envelope::from_bytes(&m.envelope).map_err(|e| reject(e.to_string()))?;
        if env.sender() != from.x25519 {
            return Err(reject(format!(
                "the envelope's sender key is not '{}''s registered key",
                m.from
            )));
        }
        if env.recipient() != to.x25519 {
            return Err(reject(format!(
                "the envelope's recipient key is not '{}''s registered key",
                m.to
            )));
        }
        if env.message_id() != m.id || env.time() != m.sent_at {
            return Err(reject(
                "the envelope's message id or time differs from the request's".into(),
            ));
        }
        Ok(env.commitment())
    }
}

/// A stored value that does not decode (the schema's checks were bypassed,
/// or the file was damaged): the table, row and field, and what is wrong.
#[derive(Debug)]
struct Damaged(String);

impl std::fmt::Display for Damaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Damaged {}

fn damaged(idx: usize, table: &str, row: &str, field: &str, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        idx,
        rusqlite::types::Type::Blob,
        Box::new(Damaged(format!(
            "the database is damaged: table {table}, row {row}, field {field} {what}"
        ))),
    )
}

/// Column `idx` parsed as `T` (a report status or outcome), or an error
/// naming it.
fn parsed<T: std::str::FromStr>(
    r: &rusqlite::Row<'_>,
    idx: usize,
    table: &str,
    row: &str,
    field: &str,
) -> rusqlite::Result<T> {
    let text: String = r.get(idx)?;
    text.parse()
        .map_err(|_| damaged(idx, table, row, field, format!("is '{text}'")))
}

/// Column `idx` as exactly `N` bytes, or an error naming it.
fn fixed<const N: usize>(
    r: &rusqlite::Row<'_>,
    idx: usize,
    table: &str,
    row: &str,
    field: &str,
) -> rusqlite::Result<[u8; N]> {
    use rusqlite::types::ValueRef;
    match r.get_ref(idx)? {
        ValueRef::Blob(b) => b.try_into().map_err(|_| {
            damaged(
                idx,
                table,
                row,
                field,
                format!("is {} bytes, not {N}", b.len()),
            )
        }),
        other => Err(damaged(
            idx,
            table,
            row,
            field,
            format!("is {}, not bytes", other.data_type()),
        )),
    }
}

/// A message row (`SELECT rowid, id, sender, recipient, sent_at, envelope`).
fn row_message(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredMessage> {
    let row = r.get::<_, i64>(0)?.to_string();
    Ok(StoredMessage {
        id: fixed(r, 1, "messages", &row, "id")?,
        from: r.get(2)?,
        to: r.get(3)?,
        sent_at: r.get::<_, i64>(4)? as u64,
        envelope: r.get(5)?,
    })
}

impl Relay for Store {
    fn register(&self, name: &str, keys: &PublicIdentity) -> Result<(), Error> {
        validate_name(name)?;
        let inserted = self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO users (name, x25519, ed25519, created) VALUES (?1, ?2, ?3, ?4)",
                params![
                    name,
                    &keys.x25519.to_bytes()[..],
                    &keys.ed25519.to_bytes()[..],
                    now() as i64
                ],
            )
        })?;
        if inserted == 0 {
            return Err(Error::UserExists {
                name: name.to_string(),
            });
        }
        Ok(())
    }

    fn user_keys(&self, name: &str) -> Result<PublicIdentity, Error> {
        self.with(|c| Store::keys_of(c, name))?
            .ok_or_else(|| Error::UnknownUser {
                name: name.to_string(),
            })
    }

    fn relay_key(&self) -> Result<VerifyKey, Error> {
        Ok(self.signer.verify_key())
    }

    fn send(&self, m: &OutgoingMessage) -> Result<Receipt, Error> {
        self.in_transaction(None, |tx| self.send_in(tx, m))
    }

    fn fetch_inbox(&self, name: &str, limit: usize) -> Result<Vec<StoredMessage>, Error> {
        let limits = self.limits;
        self.with(|c| {
            if Store::keys_of(c, name)?.is_none() {
                return Ok(Err(Error::UnknownUser {
                    name: name.to_string(),
                }));
            }
            let mut stmt = c.prepare(
                "SELECT rowid, id, sender, recipient, sent_at, envelope FROM messages
                 WHERE recipient = ?1 AND delivered_at IS NULL AND stored_at >= ?3
                 ORDER BY stored_at, rowid LIMIT ?2",
            )?;
            let mut out = Vec::new();
            let mut bytes = 0u64;
            let cutoff = now().saturating_sub(limits.undelivered_ttl) as i64;
            let mut rows = stmt.query(params![name, limit.max(1) as i64, cutoff])?;
            while let Some(r) = rows.next()? {
                let m = row_message(r)?;
                bytes += m.envelope.len() as u64;
                if !out.is_empty() && bytes > limits.page_bytes {
                    break;
                }
                out.push(m);
            }
            Ok(Ok(out))
        })?
    }

    fn ack(&self, name: &str, ids: &[[u8; 16]]) -> Result<usize, Error> {
        self.in_transaction(None, |tx| Store::ack_in(tx, name, ids).map(Ok))
    }

    fn submit_report(&self, by: &str, id: [u8; 16], sealed: &[u8]) -> Result<(), Error> {
        let n = self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO reports (id, created, submitted_by, sealed) VALUES (?1, ?2, ?3, ?4)",
                params![&id[..], now() as i64, by, sealed],
            )
        })?;
        if n == 0 {
            return Err(Error::Duplicate {
                id: hex::encode(id),
            });
        }
        Ok(())
    }

    fn reports(&self, status: Option<ReportStatus>) -> Result<Vec<StoredReport>, Error> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT rowid, id, created, submitted_by, sealed, status FROM reports
                 WHERE ?1 IS NULL OR status = ?1 ORDER BY created, rowid",
            )?;
            let mut history = c.prepare(
                "SELECT rowid, outcome, at FROM resolutions WHERE report_id = ?1 ORDER BY at, rowid",
            )?;
            let rows = stmt.query_map([status.map(ReportStatus::as_str)], |r| {
                let row = r.get::<_, i64>(0)?.to_string();
                let id: [u8; 16] = fixed(r, 1, "reports", &row, "id")?;
                Ok(StoredReport {
                    id,
                    created: r.get::<_, i64>(2)? as u64,
                    submitted_by: r.get(3)?,
                    sealed: r.get(4)?,
                    status: parsed(r, 5, "reports", &row, "status")?,
                    history: Vec::new(),
                })
            })?;
            let mut reports = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            for report in &mut reports {
                report.history = history
                    .query_map([&report.id[..]], |r| {
                        let row = r.get::<_, i64>(0)?.to_string();
                        Ok(Resolution {
                            outcome: parsed(r, 1, "resolutions", &row, "outcome")?,
                            at: r.get::<_, i64>(2)? as u64,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
            }
            Ok(reports)
        })
    }

    fn resolve_report(&self, id: [u8; 16], outcome: Outcome, change: bool) -> Result<(), Error> {
        let current = self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // A status that does not parse is damage, named like any other,
            // never taken for "open" (which would let a decision be replaced).
            let current: Option<ReportStatus> = tx
                .query_row(
                    "SELECT rowid, status FROM reports WHERE id = ?1",
                    [&id[..]],
                    |r| {
                        let row = r.get::<_, i64>(0)?.to_string();
                        parsed(r, 1, "reports", &row, "status")
                    },
                )
                .optional()?;
            let Some(status) = current else {
                return Ok(None);
            };
            if status != ReportStatus::Open && !change {
                return Ok(Some(status));
            }
            let now = now() as i64;
            tx.execute(
                "UPDATE reports SET status = ?2, resolved_at = ?3 WHERE id = ?1",
                params![&id[..], outcome.as_str(), now],
            )?;
            tx.execute(
                "INSERT INTO resolutions (report_id, outcome, at) VALUES (?1, ?2, ?3)",
                params![&id[..], outcome.as_str(), now],
            )?;
            tx.commit()?;
            Ok(Some(ReportStatus::Open))
        })?;
        match current {
            None => Err(Error::UnknownReport {
                id: hex::encode(id),
            }),
            Some(ReportStatus::Open) => Ok(()),
            Some(status) => Err(Error::AlreadyResolved {
                id: hex::encode(id),
                status,
            }),
        }
    }

    fn overview(&self) -> Result<Overview, Error> {
        self.with(|c| {
            let users = c
                .prepare("SELECT name, x25519 FROM users ORDER BY name")?
                .query_map([], |r| Ok((r.get::<_, String>(0)?, crate::keys::fingerprint(&r.get::<_, Vec<u8>>(1)?))))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let messages = c
                .prepare(
                    "SELECT id, sender, recipient, sent_at, envelope, delivered_at IS NOT NULL
                     FROM messages ORDER BY stored_at, rowid",
                )?
                .query_map([], |r| {
                    let env: Vec<u8> = r.get(4)?;
                    Ok(MessageMeta {
                        id: hex::encode(r.get::<_, Vec<u8>>(0)?),
                        from: r.get(1)?,
                        to: r.get(2)?,
                        sent_at: r.get::<_, i64>(3)? as u64,
                        size: env.len(),
                        delivered: r.get(5)?,
                        head: hex::encode(&env[env.len().min(200)..env.len().min(216)]),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let reports = c
                .prepare("SELECT id, created, length(sealed), status FROM reports ORDER BY created, rowid")?
                .query_map([], |r| {
                    Ok(ReportMeta {
                        id: hex::encode(r.get::<_, Vec<u8>>(0)?),
                        created: r.get::<_, i64>(1)? as u64,
                        size: r.get::<_, i64>(2)? as usize,
                        status: parsed(r, 3, "reports", "", "status")?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Overview {
                users,
                messages,
                reports,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixture {
        _dir: tempfile::TempDir,
        store: Store,
        alice: Identity,
        bob: Identity,
    }

    fn fixture_with(limits: Limits) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with(&dir.path().join("relay.db"), limits).unwrap();
        let (alice, bob) = (Identity::generate(), Identity::generate());
        store.register("alice", &alice.public_identity()).unwrap();
        store.register("bob", &bob.public_identity()).unwrap();
        Fixture {
            _dir: dir,
            store,
            alice,
            bob,
        }
    }

    fn fixture() -> Fixture {
        fixture_with(Limits::default())
    }

    fn msg(f: &Fixture, id: u8, len: usize) -> OutgoingMessage {
        let env = Envelope::seal(
            &f.alice,
            &f.bob.public(),
            [id; 16],
            1,
            [id; 32],
            &vec![0; len],
        )
        .unwrap();
        OutgoingMessage {
            id: [id; 16],
            from: "alice".into(),
            to: "bob".into(),
            sent_at: 1,
            envelope: env.to_bytes(),
        }
    }

    #[test]
    fn delivery_is_at_least_once_until_acknowledged() {
        let f = fixture();
        let s = &f.store;
        let m1 = msg(&f, 1, 10);
        let r1 = s.send(&m1).unwrap();
        r1.verify(&s.relay_key().unwrap()).unwrap();
        assert_eq!(r1.commitment, hex::encode([1u8; 32]));
        assert_eq!(s.send(&m1).unwrap(), r1, "a retry gets the same receipt");
        let mut other = msg(&f, 1, 11);
        other.id = [1; 16];
        assert!(matches!(s.send(&other), Err(Error::Duplicate { .. })));
        s.send(&msg(&f, 2, 10)).unwrap();
        let got = s.fetch_inbox("bob", 100).unwrap();
        assert_eq!(got.iter().map(|m| m.id[0]).collect::<Vec<_>>(), [1, 2]);
        // Not acknowledged: fetched again.
        assert_eq!(s.fetch_inbox("bob", 100).unwrap().len(), 2);
        assert_eq!(
            s.ack("alice", &[[1; 16]]).unwrap(),
            0,
            "not alice's message"
        );
        assert_eq!(s.ack("bob", &[[1; 16]]).unwrap(), 1);
        assert_eq!(s.ack("bob", &[[1; 16]]).unwrap(), 0, "idempotent");
        let got = s.fetch_inbox("bob", 100).unwrap();
        assert_eq!(got.iter().map(|m| m.id[0]).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn an_identical_retry_gets_its_receipt_before_key_checks_but_not_for_another_sender() {
        let f = fixture();
        let s = &f.store;
        let m = msg(&f, 7, 10);
        let receipt = s.send(&m).unwrap();
        // Bob's keys change after the message was stored (an operator
        // rotation): a fresh send to him would now fail its envelope check,
        // yet the sender finishing an interrupted send gets its receipt.
        let new_bob = Identity::generate().public_identity();
        s.conn
            .lock()
            .unwrap()
            .execute(
                "UPDATE users SET x25519 = ?1, ed25519 = ?2 WHERE name = 'bob'",
                rusqlite::params![
                    &new_bob.x25519.to_bytes()[..],
                    &new_bob.ed25519.to_bytes()[..]
                ],
            )
            .unwrap();
        assert!(s.send(&msg(&f, 8, 10)).is_err(), "a new send is checked");
        assert_eq!(s.send(&m).unwrap(), receipt, "the retry gets its receipt");
        // The same envelope and id under another sender or recipient is not
        // a retry: no receipt for someone else's message.
        let eve = Identity::generate();
        s.register("eve", &eve.public_identity()).unwrap();
        for (from, to) in [("eve", "bob"), ("alice", "eve")] {
            let mut replayed = m.clone();
            replayed.from = from.into();
            replayed.to = to.into();
            assert!(
                matches!(s.send(&replayed), Err(Error::Duplicate { .. })),
                "{from} → {to}"
            );
        }
    }

    #[test]
    fn pages_respect_count_and_bytes_but_always_carry_one() {
        let f = fixture_with(Limits {
            page_bytes: 1500,
            ..Limits::default()
        });
        for id in 1..=5 {
            f.store.send(&msg(&f, id, 400)).unwrap();
        }
        assert_eq!(f.store.fetch_inbox("bob", 1).unwrap().len(), 1);
        // Each envelope is 616 bytes: two fit in 1500, three do not.
        assert_eq!(f.store.fetch_inbox("bob", 100).unwrap().len(), 2);
        f.store.send(&msg(&f, 9, 5000)).unwrap();
        f.store
            .ack("bob", &[[1; 16], [2; 16], [3; 16], [4; 16], [5; 16]])
            .unwrap();
        assert_eq!(
            f.store.fetch_inbox("bob", 100).unwrap().len(),
            1,
            "an over-page message still comes"
        );
    }

    #[test]
    fn quotas_refuse_with_a_clear_error_and_store_nothing() {
        let f = fixture_with(Limits {
            inbox_messages: 2,
            ..Limits::default()
        });
        f.store.send(&msg(&f, 1, 10)).unwrap();
        f.store.send(&msg(&f, 2, 10)).unwrap();
        let err = f.store.send(&msg(&f, 3, 10)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "quota exceeded for 'bob': the inbox holds 2 undelivered messages, the most it may hold"
        );
        assert_eq!(f.store.overview().unwrap().messages.len(), 2);
        let f = fixture_with(Limits {
            inbox_bytes: 1000,
            ..Limits::default()
        });
        f.store.send(&msg(&f, 1, 100)).unwrap();
        let err = f.store.send(&msg(&f, 2, 900)).unwrap_err().to_string();
        assert!(
            err.contains("would exceed the inbox's 1000 undelivered bytes"),
            "{err}"
        );
    }

    #[test]
    fn undelivered_messages_expire() {
        let f = fixture_with(Limits {
            undelivered_ttl: 60,
            ..Limits::default()
        });
        f.store.send(&msg(&f, 1, 10)).unwrap();
        // Made 100 s old: past the 60 s TTL.
        f.store
            .with(|c| c.execute("UPDATE messages SET stored_at = stored_at - 100", []))
            .unwrap();
        assert!(
            f.store.fetch_inbox("bob", 10).unwrap().is_empty(),
            "an expired message is not delivered"
        );
        f.store.send(&msg(&f, 2, 10)).unwrap();
        assert_eq!(
            f.store.overview().unwrap().messages.len(),
            1,
            "and is purged by the next send to its recipient"
        );
        let left: Vec<u8> = f
            .store
            .fetch_inbox("bob", 10)
            .unwrap()
            .iter()
            .map(|m| m.id[0])
            .collect();
        assert_eq!(left, [2]);
    }

    #[test]
    fn envelopes_that_disagree_with_the_directory_are_rejected() {
        let f = fixture();
        // Sealed by someone who is not alice, sent as alice.
        let eve = Identity::generate();
        let env = Envelope::seal(&eve, &f.bob.public(), [4; 16], 1, [0; 32], b"x").unwrap();
        let m = OutgoingMessage {
            id: [4; 16],
            from: "alice".into(),
            to: "bob".into(),
            sent_at: 1,
            envelope: env.to_bytes(),
        };
        let err = f.store.send(&m).unwrap_err().to_string();
        assert!(
            err.contains("sender key is not 'alice''s registered key"),
            "{err}"
        );
        // Sealed by alice, but to someone who is not bob.
        let stranger = Identity::generate();
        let env = Envelope::seal(&f.alice, &stranger.public(), [6; 16], 1, [0; 32], b"x").unwrap();
        let m = OutgoingMessage {
            id: [6; 16],
            from: "alice".into(),
            to: "bob".into(),
            sent_at: 1,
            envelope: env.to_bytes(),
        };
        let err = f.store.send(&m).unwrap_err().to_string();
        assert!(
            err.contains("recipient key is not 'bob''s registered key"),
            "{err}"
        );
        let mut m2 = msg(&f, 5, 10);
        m2.sent_at = 2;
        assert!(
            f.store
                .send(&m2)
                .unwrap_err()
                .to_string()
                .contains("id or time")
        );
        assert!(f.store.overview().unwrap().messages.is_empty());
    }

    #[test]
    fn unknown_users_and_names_are_refused() {
        let f = fixture();
        let s = &f.store;
        let mut m = msg(&f, 3, 10);
        m.to = "carol".into();
        assert_eq!(
            s.send(&m),
            Err(Error::UnknownUser {
                name: "carol".into()
            })
        );
        assert!(s.overview().unwrap().messages.is_empty(), "nothing stored");
        let k = Identity::generate().public_identity();
        assert!(matches!(
            s.register("Bad Name", &k),
            Err(Error::InvalidName { .. })
        ));
        assert_eq!(
            s.register("bob", &k),
            Err(Error::UserExists { name: "bob".into() })
        );
        assert_eq!(s.user_keys("bob").unwrap(), f.bob.public_identity());
    }

    #[test]
    fn reports_are_queued_and_resolved() {
        let f = fixture();
        let s = &f.store;
        s.submit_report("alice", [7; 16], b"sealed").unwrap();
        assert_eq!(s.reports(Some(ReportStatus::Open)).unwrap().len(), 1);
        assert_eq!(s.reports(None).unwrap()[0].submitted_by, "alice");
        s.resolve_report([7; 16], Outcome::FalsePositive, false)
            .unwrap();
        assert_eq!(
            s.reports(Some(ReportStatus::FalsePositive)).unwrap()[0].sealed,
            b"sealed"
        );
        assert!(matches!(
            s.resolve_report([8; 16], Outcome::Confirmed, false),
            Err(Error::UnknownReport { .. })
        ));
    }

    #[test]
    fn a_decision_is_changed_only_on_request_and_kept_in_the_history() {
        let f = fixture();
        let s = &f.store;
        s.submit_report("alice", [7; 16], b"sealed").unwrap();
        s.resolve_report([7; 16], Outcome::Confirmed, false)
            .unwrap();
        let e = s
            .resolve_report([7; 16], Outcome::FalsePositive, false)
            .unwrap_err();
        assert_eq!(
            e,
            Error::AlreadyResolved {
                id: hex::encode([7; 16]),
                status: ReportStatus::Confirmed
            }
        );
        assert_eq!(s.reports(None).unwrap()[0].status, ReportStatus::Confirmed);
        s.resolve_report([7; 16], Outcome::FalsePositive, true)
            .unwrap();
        let r = &s.reports(None).unwrap()[0];
        assert_eq!(r.status, ReportStatus::FalsePositive);
        let outcomes: Vec<Outcome> = r.history.iter().map(|h| h.outcome).collect();
        assert_eq!(outcomes, [Outcome::Confirmed, Outcome::FalsePositive]);
    }

    #[test]
    fn a_damaged_status_is_an_error_not_an_open_report() {
        let f = fixture();
        f.store.submit_report("alice", [7; 16], b"a").unwrap();
        f.store
            .resolve_report([7; 16], Outcome::Confirmed, false)
            .unwrap();
        f.store
            .with(|c| c.execute("UPDATE reports SET status = 'confirmd'", []))
            .unwrap();
        let e = f
            .store
            .resolve_report([7; 16], Outcome::FalsePositive, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("table reports, row 1, field status is 'confirmd'"),
            "{e}"
        );
    }

    #[test]
    fn a_version_2_database_is_migrated_with_its_decisions() {
        let f = fixture();
        f.store.submit_report("alice", [7; 16], b"a").unwrap();
        f.store.submit_report("alice", [8; 16], b"b").unwrap();
        let path = f.store.path.clone();
        drop(f.store);
        // Back to what version 2 held: no history, the old spelling.
        let c = Connection::open(&path).unwrap();
        c.execute_batch(
            "DROP TABLE resolutions;
             UPDATE reports SET status = 'false_positive', resolved_at = 1000 WHERE id = x'07070707070707070707070707070707';
             PRAGMA user_version = 2;",
        )
        .unwrap();
        drop(c);
        let s = Store::open(&path).unwrap();
        let reports = s.reports(None).unwrap();
        assert_eq!(reports[0].status, ReportStatus::FalsePositive);
        assert_eq!(
            reports[0].history,
            [Resolution {
                outcome: Outcome::FalsePositive,
                at: 1000
            }]
        );
        assert_eq!(reports[1].status, ReportStatus::Open);
        assert!(reports[1].history.is_empty());
    }

    #[test]
    fn nonces_are_single_use() {
        let f = fixture();
        let t = now();
        assert!(f.store.record_nonce("alice", b"n1", t, 300).unwrap());
        assert!(!f.store.record_nonce("alice", b"n1", t, 300).unwrap());
        assert!(f.store.record_nonce("bob", b"n1", t, 300).unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn the_database_is_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("relay.db");
        Store::open(&p).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_corrupt_database_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("relay.db");
        let garbage = vec![0x5au8; 8192];
        std::fs::write(&p, &garbage).unwrap();
        let err = Store::open(&p).err().expect("refused").to_string();
        assert!(
            err.contains("relay.db") && err.contains("not a SQLite database"),
            "{err}"
        );
        assert_eq!(std::fs::read(&p).unwrap(), garbage);
    }

    #[test]
    fn damaged_ids_keys_and_receipts_are_errors_naming_the_field() {
        let f = fixture();
        let s = &f.store;
        s.send(&msg(&f, 1, 10)).unwrap();
        s.submit_report("alice", [3; 16], b"sealed").unwrap();
        // What a damaged file or a tool that bypasses the schema's checks
        // leaves behind.
        let c = Connection::open(f._dir.path().join("relay.db")).unwrap();
        c.execute_batch(
            "PRAGMA ignore_check_constraints = ON;
             UPDATE messages SET id = x'0102';
             UPDATE reports SET id = x'03';
             UPDATE users SET x25519 = x'00' WHERE name = 'alice';",
        )
        .unwrap();
        let err = s.fetch_inbox("bob", 10).unwrap_err().to_string();
        assert!(
            err.contains("relay.db: the database is damaged: table messages, row 1, field id is 2 bytes, not 16"),
            "never a zero id: {err}"
        );
        let err = s.reports(None).unwrap_err().to_string();
        assert!(
            err.contains("table reports, row 1, field id is 1 bytes, not 16"),
            "{err}"
        );
        let err = s.user_keys("alice").unwrap_err().to_string();
        assert!(
            err.contains("table users, row 'alice', field x25519 is 1 bytes, not 32"),
            "a damaged key is not an unknown user: {err}"
        );
        c.execute_batch(
            "UPDATE users SET x25519 = zeroblob(32) WHERE name = 'alice';
             UPDATE messages SET id = x'02020202020202020202020202020202', receipt = 'garbage';",
        )
        .unwrap();
        let m2 = msg(&f, 2, 10);
        c.execute(
            "UPDATE messages SET envelope = ?1, sender = 'alice'",
            [&m2.envelope],
        )
        .unwrap();
        c.execute(
            "UPDATE users SET x25519 = ?1 WHERE name = 'alice'",
            [&f.alice.public().to_bytes()[..]],
        )
        .unwrap();
        let err = s.send(&m2).unwrap_err().to_string();
        assert!(
            err.contains("field receipt does not decode"),
            "a retry whose stored receipt is damaged is not called a duplicate: {err}"
        );
    }
}
