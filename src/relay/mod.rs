//! The relay: routes and stores what clients send — envelopes and sealed
//! reports — and cannot read any of it.
//!
//! [`Relay`] is the interface clients use; [`Store`] is the durable
//! implementation (SQLite, embedded in the client by default), [`HttpRelay`]
//! reaches a `Store` served by [`serve`] on a loopback address. A message is
//! sent once the store's transaction commits; [`Relay::take_inbox`] returns
//! undelivered messages and marks them delivered in the same transaction, so
//! each is delivered exactly once.

mod http;
mod store;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use http::{HttpRelay, ServerHandle, serve, spawn};
pub use store::Store;

use crate::moderation::Outcome;

/// What can go wrong talking to a relay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Error {
    /// No user of that name.
    #[error("unknown user '{name}'")]
    UnknownUser {
        /// The name.
        name: String,
    },
    /// A user of that name exists.
    #[error("user '{name}' already exists")]
    UserExists {
        /// The name.
        name: String,
    },
    /// A message or report with that id was already stored.
    #[error("duplicate id {id}: already stored")]
    Duplicate {
        /// The id, hex.
        id: String,
    },
    /// No report with that id.
    #[error("unknown report {id}")]
    UnknownReport {
        /// The id, hex.
        id: String,
    },
    /// A user name breaks the naming rule.
    #[error("invalid user name '{name}': use 1–64 characters a-z, 0-9, _ or -")]
    InvalidName {
        /// The name.
        name: String,
    },
    /// The database file is not usable.
    #[error("{path}: {reason}")]
    Database {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The relay server could not be reached.
    #[error("relay at {url} is unreachable: {reason}")]
    Unreachable {
        /// Its address.
        url: String,
        /// Why.
        reason: String,
    },
    /// The server answered something unexpected.
    #[error("relay protocol error: {reason}")]
    Protocol {
        /// What was wrong.
        reason: String,
    },
}

/// A message handed to the relay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMessage {
    /// Message id.
    #[serde(with = "hex_array")]
    pub id: [u8; 16],
    /// Sender name (routing metadata the relay necessarily sees).
    pub from: String,
    /// Recipient name.
    pub to: String,
    /// Unix time the sender stated.
    pub sent_at: u64,
    /// The sealed envelope (opaque to the relay).
    #[serde(with = "hex_vec")]
    pub envelope: Vec<u8>,
}

/// A message as the relay delivers it (the same fields).
pub type StoredMessage = OutgoingMessage;

/// A sealed report in the moderation queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReport {
    /// Report id.
    #[serde(with = "hex_array")]
    pub id: [u8; 16],
    /// When the relay received it (unix seconds).
    pub created: u64,
    /// The sealed bytes (only the moderator can open them).
    #[serde(with = "hex_vec")]
    pub sealed: Vec<u8>,
    /// `open`, `confirmed` or `false_positive`.
    pub status: String,
}

/// What the relay holds, as its operator sees it: metadata and sizes, never content.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    /// Users and their key fingerprints.
    pub users: Vec<(String, String)>,
    /// Every stored message's metadata.
    pub messages: Vec<MessageMeta>,
    /// Every report's metadata.
    pub reports: Vec<ReportMeta>,
}

/// Metadata of one stored message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageMeta {
    /// Message id, hex.
    pub id: String,
    /// Sender.
    pub from: String,
    /// Recipient.
    pub to: String,
    /// Stated send time.
    pub sent_at: u64,
    /// Envelope size in bytes.
    pub size: usize,
    /// Whether the recipient has taken it.
    pub delivered: bool,
    /// The first bytes of the envelope, hex: what "ciphertext" looks like.
    pub head: String,
}

/// Metadata of one report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportMeta {
    /// Report id, hex.
    pub id: String,
    /// Received at.
    pub created: u64,
    /// Sealed size in bytes.
    pub size: usize,
    /// Status.
    pub status: String,
}

impl fmt::Display for Overview {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "users ({}):", self.users.len())?;
        for (name, fp) in &self.users {
            writeln!(f, "  {name:<12} key {fp}")?;
        }
        writeln!(f, "messages ({}):", self.messages.len())?;
        for m in &self.messages {
            writeln!(
                f,
                "  {}  {} → {}  {} bytes  {}  ciphertext {}…",
                &m.id[..12],
                m.from,
                m.to,
                m.size,
                if m.delivered { "delivered" } else { "waiting" },
                m.head
            )?;
        }
        writeln!(f, "sealed reports ({}):", self.reports.len())?;
        for r in &self.reports {
            writeln!(f, "  {}  {} bytes  {}", &r.id[..12], r.size, r.status)?;
        }
        Ok(())
    }
}

/// A relay, embedded or remote.
pub trait Relay: Send + Sync {
    /// Registers a user's X25519 public key.
    fn register(&self, name: &str, public_key: &[u8; 32]) -> Result<(), Error>;
    /// A user's public key.
    fn public_key(&self, name: &str) -> Result<[u8; 32], Error>;
    /// Stores a message for its recipient; sent once this returns.
    fn send(&self, message: &OutgoingMessage) -> Result<(), Error>;
    /// Takes every undelivered message for `name`, marking them delivered.
    fn take_inbox(&self, name: &str) -> Result<Vec<StoredMessage>, Error>;
    /// Queues a sealed report.
    fn submit_report(&self, id: [u8; 16], sealed: &[u8]) -> Result<(), Error>;
    /// Reports, optionally only those with `status`.
    fn reports(&self, status: Option<&str>) -> Result<Vec<StoredReport>, Error>;
    /// Records a moderator's decision.
    fn resolve_report(&self, id: [u8; 16], outcome: Outcome) -> Result<(), Error>;
    /// What the relay holds.
    fn overview(&self) -> Result<Overview, Error>;
}

/// Opens a relay: `http://HOST:PORT` reaches a served one, anything else is
/// a database path for an embedded store.
pub fn connect(spec: &str) -> Result<Box<dyn Relay>, Error> {
    if spec.starts_with("http://") {
        Ok(Box::new(HttpRelay::new(spec)))
    } else {
        Ok(Box::new(Store::open(std::path::Path::new(spec))?))
    }
}

/// Checks a user name: 1–64 of `a-z 0-9 _ -`.
pub fn validate_name(name: &str) -> Result<(), Error> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            name: name.to_string(),
        })
    }
}

fn outcome_status(o: Outcome) -> &'static str {
    match o {
        Outcome::Confirmed => "confirmed",
        Outcome::FalsePositive => "false_positive",
    }
}

mod hex_vec {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        hex::decode(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

mod hex_array {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8; 16], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 16], D::Error> {
        let v = hex::decode(String::deserialize(d)?).map_err(serde::de::Error::custom)?;
        v.try_into()
            .map_err(|_| serde::de::Error::custom("expected 16 bytes"))
    }
}
