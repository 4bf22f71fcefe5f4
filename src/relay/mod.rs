//! The relay: routes and stores what clients send — envelopes and sealed
//! reports — and cannot read any of it.
//!
//! [`Relay`] is the interface clients use; [`Store`] is the durable
//! implementation (SQLite, embedded in the client by default), [`HttpRelay`]
//! reaches a `Store` served by [`serve`]. Over HTTP every request that acts
//! for someone is signed with that party's Ed25519 key (see `http.rs` and
//! `docs/SECURITY.md`); the embedded store trusts its caller, who can read
//! the database file anyway.
//!
//! Delivery is at least once: a message counts as sent once the store's
//! transaction commits, and the relay answers with a signed [`Receipt`];
//! [`Relay::fetch_inbox`] returns a page of unacknowledged messages without
//! marking them, and only [`Relay::ack`] marks them delivered — after the
//! client has stored them. The client's replay guard makes a redelivery show
//! once.

mod http;
mod store;
mod tls;

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub use http::{HttpRelay, Listener, ServerConfig, ServerHandle, Signer, serve, spawn};
pub use store::{Limits, Store};
pub use tls::ServerTls;

use crate::e2ee::{PublicIdentity, PublicKey, VerifyKey};

/// Key id of the moderator in signed requests (not a valid user name).
pub const MODERATOR_KEY_ID: &str = "@moderator";
/// Key id of the relay operator in signed requests (not a valid user name).
pub const OPERATOR_KEY_ID: &str = "@operator";

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
    /// The report was decided already, and the request did not ask to
    /// change the decision.
    #[error(
        "report {id} is already resolved as {status}: resolve it again with --change to replace the decision (the earlier one stays in its history)"
    )]
    AlreadyResolved {
        /// The id, hex.
        id: String,
        /// The decision on record.
        status: ReportStatus,
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
    /// The relay's TLS certificate is not trusted by this client.
    #[error(
        "relay at {url}: its TLS certificate is not trusted ({reason}); if the relay uses its own \
         certificate authority, give that CA's certificate with `cssim init --relay-ca FILE` or \
         CSSIM_RELAY_CA=FILE"
    )]
    UntrustedCertificate {
        /// Its address.
        url: String,
        /// What the certificate check said.
        reason: String,
    },
    /// A TLS certificate or key file is not usable.
    #[error("{path}: {reason}")]
    Tls {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The server could not listen on its address.
    #[error("{reason}: {addr}")]
    Listen {
        /// The address.
        addr: String,
        /// Why (`address already in use`, …).
        reason: String,
    },
    /// The server answered something unexpected.
    #[error("relay protocol error: {reason}")]
    Protocol {
        /// What was wrong.
        reason: String,
    },
    /// The request is not signed, or its signature, time or nonce is wrong.
    #[error("request refused: {reason}")]
    Unauthorized {
        /// Why.
        reason: String,
    },
    /// The request is authenticated but not allowed for this key.
    #[error("forbidden: {reason}")]
    Forbidden {
        /// Why.
        reason: String,
    },
    /// The relay refused a message whose envelope disagrees with its metadata.
    #[error("message refused: {reason}")]
    Rejected {
        /// Why.
        reason: String,
    },
    /// A per-user quota would be exceeded.
    #[error("quota exceeded for '{user}': {reason}")]
    QuotaExceeded {
        /// Whose quota.
        user: String,
        /// Which limit.
        reason: String,
    },
}

/// A message handed to the relay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMessage {
    /// Message id.
    #[serde(with = "crate::hex_serde")]
    pub id: [u8; 16],
    /// Sender name (routing metadata the relay necessarily sees).
    pub from: String,
    /// Recipient name.
    pub to: String,
    /// Unix time the sender stated.
    pub sent_at: u64,
    /// The sealed envelope (opaque to the relay).
    #[serde(with = "crate::hex_serde")]
    pub envelope: Vec<u8>,
}

/// A message as the relay delivers it (the same fields).
pub type StoredMessage = OutgoingMessage;

/// The relay's signed statement that it accepted a message: the evidence,
/// later, that a reported message really travelled (see `crate::franking`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Message id, hex.
    pub message_id: String,
    /// Sender name (authenticated by the relay).
    pub from: String,
    /// Recipient name.
    pub to: String,
    /// The time the sender stated.
    pub sent_at: u64,
    /// The franking commitment from the envelope header, hex.
    pub commitment: String,
    /// SHA-256 of the whole envelope, hex.
    pub envelope_sha256: String,
    /// When the relay stored it (unix seconds).
    pub stored_at: u64,
    /// The relay's Ed25519 signature over the fields above, hex.
    pub signature: String,
}

impl Receipt {
    /// The bytes the relay signs.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = b"cssim relay receipt v1\n".to_vec();
        for field in [
            self.message_id.as_str(),
            &self.from,
            &self.to,
            &self.sent_at.to_string(),
            &self.commitment,
            &self.envelope_sha256,
            &self.stored_at.to_string(),
        ] {
            out.extend_from_slice(field.as_bytes());
            out.push(b'\n');
        }
        out
    }

    /// Checks the relay's signature.
    pub fn verify(&self, relay_key: &VerifyKey) -> Result<(), crate::e2ee::Error> {
        let sig: [u8; 64] = hex::decode(&self.signature)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or(crate::e2ee::Error::BadSignature)?;
        relay_key.verify(&self.signed_bytes(), &sig)
    }

    /// SHA-256 of an envelope, hex, as receipts state it.
    pub fn envelope_digest(envelope: &[u8]) -> String {
        hex::encode(Sha256::digest(envelope))
    }
}

/// A sealed report in the moderation queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReport {
    /// Report id.
    #[serde(with = "crate::hex_serde")]
    pub id: [u8; 16],
    /// When the relay received it (unix seconds).
    pub created: u64,
    /// The user whose signed request submitted it (over HTTP, authenticated).
    pub submitted_by: String,
    /// The sealed bytes (only the moderator can open them).
    #[serde(with = "crate::hex_serde")]
    pub sealed: Vec<u8>,
    /// Open, or the moderator's latest decision.
    pub status: ReportStatus,
    /// Every decision recorded on it, oldest first.
    #[serde(default)]
    pub history: Vec<Resolution>,
}

/// A moderator's decision on a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The material is what the list says it is.
    Confirmed,
    /// The match was wrong: an innocent message was exposed.
    FalsePositive,
}

/// Where a report stands in the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReportStatus {
    /// Not decided yet.
    Open,
    /// Decided: confirmed.
    Confirmed,
    /// Decided: a false positive.
    FalsePositive,
}

/// One decision in a report's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// What was decided.
    pub outcome: Outcome,
    /// When (unix seconds).
    pub at: u64,
}

impl Outcome {
    /// The one spelling used everywhere: `confirmed`, `false-positive`.
    pub fn as_str(self) -> &'static str {
        ReportStatus::from(self).as_str()
    }
}

impl ReportStatus {
    /// The one spelling used everywhere: `open`, `confirmed`, `false-positive`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Open => "open",
            ReportStatus::Confirmed => "confirmed",
            ReportStatus::FalsePositive => "false-positive",
        }
    }
}

impl From<Outcome> for ReportStatus {
    fn from(o: Outcome) -> ReportStatus {
        match o {
            Outcome::Confirmed => ReportStatus::Confirmed,
            Outcome::FalsePositive => ReportStatus::FalsePositive,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for ReportStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Outcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "confirmed" => Ok(Outcome::Confirmed),
            "false-positive" => Ok(Outcome::FalsePositive),
            other => Err(format!(
                "unknown outcome '{other}' (confirmed or false-positive)"
            )),
        }
    }
}

impl std::str::FromStr for ReportStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(ReportStatus::Open),
            "confirmed" => Ok(ReportStatus::Confirmed),
            "false-positive" => Ok(ReportStatus::FalsePositive),
            other => Err(format!(
                "unknown report status '{other}' (open, confirmed or false-positive)"
            )),
        }
    }
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
    pub status: ReportStatus,
}

/// A relay, embedded or remote.
pub trait Relay: Send + Sync {
    /// Registers a user's public keys (X25519 and the Ed25519 key bound to it).
    fn register(&self, name: &str, keys: &PublicIdentity) -> Result<(), Error>;
    /// A user's public keys, as the relay's directory states them.
    fn user_keys(&self, name: &str) -> Result<PublicIdentity, Error>;
    /// The key the relay signs receipts with.
    fn relay_key(&self) -> Result<VerifyKey, Error>;
    /// Stores a message for its recipient; sent once this returns the
    /// relay's receipt. Sending the same message again returns the same
    /// receipt (a retry after a lost answer is safe).
    fn send(&self, message: &OutgoingMessage) -> Result<Receipt, Error>;
    /// Up to `limit` of `name`'s unacknowledged messages, oldest first (and
    /// never more bytes than one reply may carry); nothing is marked.
    fn fetch_inbox(&self, name: &str, limit: usize) -> Result<Vec<StoredMessage>, Error>;
    /// Marks `ids` delivered (after the client stored them); returns how
    /// many were newly marked. Unknown or already acknowledged ids are ignored.
    fn ack(&self, name: &str, ids: &[[u8; 16]]) -> Result<usize, Error>;
    /// Queues a sealed report submitted by user `by`.
    fn submit_report(&self, by: &str, id: [u8; 16], sealed: &[u8]) -> Result<(), Error>;
    /// Reports, optionally only those with `status`.
    fn reports(&self, status: Option<ReportStatus>) -> Result<Vec<StoredReport>, Error>;
    /// Records a moderator's decision.
    fn resolve_report(&self, id: [u8; 16], outcome: Outcome, change: bool) -> Result<(), Error>;
    /// What the relay holds.
    fn overview(&self) -> Result<Overview, Error>;
}

/// Opens a relay: `http://HOST:PORT` or `https://HOST:PORT` reaches a
/// served one (requests signed by `signer`, if given; over `https://` the
/// relay's certificate must chain to the CA in the PEM file `ca`, or
/// without one to Mozilla's roots), a path is a database for an embedded
/// store, and any other scheme (`ftp://`…) is refused rather than taken for
/// a file name.
pub fn connect(
    spec: &str,
    signer: Option<Signer>,
    ca: Option<&std::path::Path>,
) -> Result<Box<dyn Relay>, Error> {
    match spec.split_once("://") {
        Some(("http" | "https", _)) => {
            let relay = match ca {
                Some(ca) if spec.starts_with("https://") => HttpRelay::with_ca(spec, ca)?,
                _ => HttpRelay::new(spec),
            };
            Ok(Box::new(match signer {
                Some(s) => relay.with_signer(s),
                None => relay,
            }))
        }
        Some((scheme, _)) => Err(Error::Unreachable {
            url: spec.to_string(),
            reason: format!(
                "unsupported scheme '{scheme}://' (use http://HOST:PORT or https://HOST:PORT for a served relay, or a database path)"
            ),
        }),
        None => Ok(Box::new(Store::open(std::path::Path::new(spec))?)),
    }
}

/// Reads a user's keys from the wire form: two 32-byte hex keys.
pub(crate) fn keys_from_hex(x25519: &str, ed25519: &str) -> Option<PublicIdentity> {
    let x: [u8; 32] = hex::decode(x25519).ok()?.try_into().ok()?;
    let e: [u8; 32] = hex::decode(ed25519).ok()?.try_into().ok()?;
    Some(PublicIdentity {
        x25519: PublicKey::from_bytes(x),
        ed25519: VerifyKey::from_bytes(e),
    })
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
