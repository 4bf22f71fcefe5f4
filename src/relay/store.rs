//! The relay's durable store: one SQLite file (WAL mode).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sha2::{Digest as _, Sha256};

use super::{
    Error, MessageMeta, OutgoingMessage, Overview, Relay, ReportMeta, StoredMessage, StoredReport,
    outcome_status, validate_name,
};
use crate::moderation::Outcome;

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE users (
    name       TEXT PRIMARY KEY,
    public_key BLOB NOT NULL CHECK (length(public_key) = 32),
    created    INTEGER NOT NULL
);
CREATE TABLE messages (
    id           BLOB PRIMARY KEY CHECK (length(id) = 16),
    sender       TEXT NOT NULL REFERENCES users(name),
    recipient    TEXT NOT NULL REFERENCES users(name),
    sent_at      INTEGER NOT NULL,
    envelope     BLOB NOT NULL,
    stored_at    INTEGER NOT NULL,
    delivered_at INTEGER
);
CREATE INDEX messages_inbox ON messages(recipient, delivered_at);
CREATE TABLE reports (
    id          BLOB PRIMARY KEY CHECK (length(id) = 16),
    created     INTEGER NOT NULL,
    sealed      BLOB NOT NULL,
    status      TEXT NOT NULL DEFAULT 'open',
    resolved_at INTEGER
);
";

/// The relay's SQLite store. One connection behind a mutex: SQLite
/// serialises writers anyway, and a single connection avoids busy retries.
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Store {
    /// Opens (creating if new) the store at `path`, checking that an
    /// existing file is an intact cssim relay database.
    pub fn open(path: &Path) -> Result<Store, Error> {
        let db_err = |reason: String| Error::Database {
            path: path.display().to_string(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| db_err(crate::hash::describe_io_error(&e)))?;
        }
        let conn = Connection::open(path).map_err(|e| db_err(e.to_string()))?;
        let sql_err = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => {
                db_err("not a SQLite database (corrupt or another kind of file)".into())
            }
            Some(rusqlite::ErrorCode::DatabaseCorrupt) => db_err("the database is corrupt".into()),
            _ => db_err(e.to_string()),
        };
        conn.busy_timeout(std::time::Duration::from_secs(5))
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
                conn.execute_batch(&format!(
                    "PRAGMA journal_mode=WAL; BEGIN; {SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
                ))
                .map_err(sql_err)?;
            }
            (SCHEMA_VERSION, _) => {}
            (0, _) => return Err(db_err("a SQLite database, but not a cssim relay".into())),
            (v, _) => {
                return Err(db_err(format!(
                    "relay schema version {v}; this build reads {SCHEMA_VERSION}"
                )));
            }
        }
        // FULL: a message counts as sent once its commit is on disk, not
        // merely in the WAL's page cache.
        conn.execute_batch("PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;")
            .map_err(sql_err)?;
        Ok(Store {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, Error> {
        // A panic while holding the lock cannot leave SQLite inconsistent
        // (transactions roll back), so a poisoned lock is still usable.
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn).map_err(|e| Error::Database {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        })
    }

    fn user_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
        conn.query_row("SELECT 1 FROM users WHERE name = ?1", [name], |_| Ok(()))
            .optional()
            .map(|o| o.is_some())
    }
}

fn fingerprint(key: &[u8]) -> String {
    hex::encode(&Sha256::digest(key)[..8])
}

impl Relay for Store {
    fn register(&self, name: &str, public_key: &[u8; 32]) -> Result<(), Error> {
        validate_name(name)?;
        let inserted = self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO users (name, public_key, created) VALUES (?1, ?2, ?3)",
                params![name, &public_key[..], now()],
            )
        })?;
        if inserted == 0 {
            return Err(Error::UserExists {
                name: name.to_string(),
            });
        }
        Ok(())
    }

    fn public_key(&self, name: &str) -> Result<[u8; 32], Error> {
        let key: Option<Vec<u8>> = self.with(|c| {
            c.query_row(
                "SELECT public_key FROM users WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
        })?;
        key.and_then(|k| k.try_into().ok())
            .ok_or_else(|| Error::UnknownUser {
                name: name.to_string(),
            })
    }

    fn send(&self, m: &OutgoingMessage) -> Result<(), Error> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for who in [&m.from, &m.to] {
                if !Store::user_exists(&tx, who)? {
                    return Ok(Err(Error::UnknownUser { name: who.clone() }));
                }
            }
            let n = tx.execute(
                "INSERT OR IGNORE INTO messages (id, sender, recipient, sent_at, envelope, stored_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![&m.id[..], m.from, m.to, m.sent_at as i64, m.envelope, now()],
            )?;
            if n == 0 {
                return Ok(Err(Error::Duplicate { id: hex::encode(m.id) }));
            }
            tx.commit()?;
            Ok(Ok(()))
        })?
    }

    fn take_inbox(&self, name: &str) -> Result<Vec<StoredMessage>, Error> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if !Store::user_exists(&tx, name)? {
                return Ok(Err(Error::UnknownUser { name: name.to_string() }));
            }
            let msgs = {
                let mut stmt = tx.prepare(
                    "SELECT id, sender, recipient, sent_at, envelope FROM messages
                     WHERE recipient = ?1 AND delivered_at IS NULL ORDER BY stored_at, rowid",
                )?;
                let rows = stmt.query_map([name], |r| {
                    let id: Vec<u8> = r.get(0)?;
                    Ok(StoredMessage {
                        id: id.try_into().unwrap_or([0; 16]),
                        from: r.get(1)?,
                        to: r.get(2)?,
                        sent_at: r.get::<_, i64>(3)? as u64,
                        envelope: r.get(4)?,
                    })
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            tx.execute(
                "UPDATE messages SET delivered_at = ?2 WHERE recipient = ?1 AND delivered_at IS NULL",
                params![name, now()],
            )?;
            tx.commit()?;
            Ok(Ok(msgs))
        })?
    }

    fn submit_report(&self, id: [u8; 16], sealed: &[u8]) -> Result<(), Error> {
        let n = self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO reports (id, created, sealed) VALUES (?1, ?2, ?3)",
                params![&id[..], now(), sealed],
            )
        })?;
        if n == 0 {
            return Err(Error::Duplicate {
                id: hex::encode(id),
            });
        }
        Ok(())
    }

    fn reports(&self, status: Option<&str>) -> Result<Vec<StoredReport>, Error> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, created, sealed, status FROM reports
                 WHERE ?1 IS NULL OR status = ?1 ORDER BY created, rowid",
            )?;
            let rows = stmt.query_map([status], |r| {
                let id: Vec<u8> = r.get(0)?;
                Ok(StoredReport {
                    id: id.try_into().unwrap_or([0; 16]),
                    created: r.get::<_, i64>(1)? as u64,
                    sealed: r.get(2)?,
                    status: r.get(3)?,
                })
            })?;
            rows.collect()
        })
    }

    fn resolve_report(&self, id: [u8; 16], outcome: Outcome) -> Result<(), Error> {
        let n = self.with(|c| {
            c.execute(
                "UPDATE reports SET status = ?2, resolved_at = ?3 WHERE id = ?1",
                params![&id[..], outcome_status(outcome), now()],
            )
        })?;
        if n == 0 {
            return Err(Error::UnknownReport {
                id: hex::encode(id),
            });
        }
        Ok(())
    }

    fn overview(&self) -> Result<Overview, Error> {
        self.with(|c| {
            let users = c
                .prepare("SELECT name, public_key FROM users ORDER BY name")?
                .query_map([], |r| Ok((r.get::<_, String>(0)?, fingerprint(&r.get::<_, Vec<u8>>(1)?))))?
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
                        head: hex::encode(&env[env.len().min(160)..env.len().min(176)]),
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
                        status: r.get(3)?,
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

    fn msg(id: u8, from: &str, to: &str) -> OutgoingMessage {
        OutgoingMessage {
            id: [id; 16],
            from: from.into(),
            to: to.into(),
            sent_at: 1,
            envelope: vec![id; 40],
        }
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("relay.db")).unwrap();
        s.register("alice", &[1; 32]).unwrap();
        s.register("bob", &[2; 32]).unwrap();
        (dir, s)
    }

    #[test]
    fn messages_are_delivered_once_and_duplicates_refused() {
        let (_d, s) = store();
        s.send(&msg(1, "alice", "bob")).unwrap();
        assert_eq!(
            s.send(&msg(1, "alice", "bob")),
            Err(Error::Duplicate {
                id: "01".repeat(16)
            })
        );
        s.send(&msg(2, "alice", "bob")).unwrap();
        let got = s.take_inbox("bob").unwrap();
        assert_eq!(got.iter().map(|m| m.id[0]).collect::<Vec<_>>(), [1, 2]);
        assert!(s.take_inbox("bob").unwrap().is_empty());
        assert!(s.overview().unwrap().messages.iter().all(|m| m.delivered));
    }

    #[test]
    fn unknown_users_and_names_are_refused() {
        let (_d, s) = store();
        assert_eq!(
            s.send(&msg(3, "alice", "carol")),
            Err(Error::UnknownUser {
                name: "carol".into()
            })
        );
        assert!(s.overview().unwrap().messages.is_empty(), "nothing stored");
        assert!(matches!(
            s.register("Bad Name", &[0; 32]),
            Err(Error::InvalidName { .. })
        ));
        assert_eq!(
            s.register("bob", &[0; 32]),
            Err(Error::UserExists { name: "bob".into() })
        );
        assert_eq!(s.public_key("bob").unwrap(), [2; 32]);
    }

    #[test]
    fn reports_are_queued_and_resolved() {
        let (_d, s) = store();
        s.submit_report([7; 16], b"sealed").unwrap();
        assert_eq!(s.reports(Some("open")).unwrap().len(), 1);
        s.resolve_report([7; 16], Outcome::FalsePositive).unwrap();
        assert_eq!(
            s.reports(Some("false_positive")).unwrap()[0].sealed,
            b"sealed"
        );
        assert!(matches!(
            s.resolve_report([8; 16], Outcome::Confirmed),
            Err(Error::UnknownReport { .. })
        ));
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
}
