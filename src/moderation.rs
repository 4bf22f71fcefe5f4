//! Reports to moderators: what a match sends, sealed so that only the
//! moderator can read it, and the outcomes moderators record.
//!
//! A report carries the matched parts themselves (the evidence a human
//! reviewer looks at) and the scanner's matches. It is serialised as JSON and
//! sealed with HPKE (base mode, AES-256-GCM) to the moderator's public key;
//! the relay stores the sealed bytes and learns only their size and time.
//! This is the privacy cost of client-side scanning made concrete: every
//! false positive sends a private photo or text to a stranger.

use serde::{Deserialize, Serialize};

use crate::e2ee;
use crate::message::{Attachment, Message, MessageId};
use crate::scan::{Match, Part, Verdict};

/// HPKE `info` for reports: binds the ciphertext to this use.
const REPORT_INFO: &[u8] = b"cssim moderation report v1";

/// One matched part, as the moderator sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Which part.
    pub part: String,
    /// The text, for text and URL parts.
    pub text: Option<String>,
    /// The attachment's bytes (hex), for attachments.
    pub bytes_hex: Option<String>,
    /// The attachment's size in bytes.
    pub size: usize,
}

/// What a moderator decided about a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The material is what the list says it is.
    Confirmed,
    /// The match was wrong: an innocent message was exposed.
    FalsePositive,
}

impl std::str::FromStr for Outcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "confirmed" => Ok(Outcome::Confirmed),
            "false-positive" | "false_positive" => Ok(Outcome::FalsePositive),
            other => Err(format!(
                "unknown outcome '{other}' (confirmed or false-positive)"
            )),
        }
    }
}

/// A report about one message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Report identifier (hex of 16 random bytes).
    pub id: String,
    /// The account that sent the message.
    pub account: String,
    /// The intended recipient.
    pub recipient: String,
    /// The message's identifier.
    pub message_id: String,
    /// When the message was sent (unix seconds).
    pub sent_at: u64,
    /// The policy in force.
    pub policy: String,
    /// How many matching messages the account had when this was released.
    pub account_matches: u32,
    /// The scanner's matches.
    pub matches: Vec<Match>,
    /// The matched parts.
    pub evidence: Vec<Evidence>,
}

/// Why a sealed report could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Wrong key or tampered ciphertext (deliberately no detail).
    #[error("report cannot be decrypted with this key")]
    Decryption,
    /// Decrypted, but not a report.
    #[error("report is malformed: {0}")]
    Malformed(String),
    /// Sealing failed.
    #[error("sealing failed: {0}")]
    Seal(String),
}

impl Report {
    /// Builds the report for `message` from its verdict.
    pub fn new(message: &Message, verdict: &Verdict, policy: &str, account_matches: u32) -> Report {
        let mut evidence: Vec<Evidence> = Vec::new();
        for m in &verdict.matches {
            let label = m.part.to_string();
            if evidence.iter().any(|e| e.part == label) {
                continue;
            }
            evidence.push(evidence_for(message, &m.part, label));
        }
        Report {
            id: MessageId::random().to_hex(),
            account: message.from.clone(),
            recipient: message.to.clone(),
            message_id: message.id.to_hex(),
            sent_at: message.sent_at,
            policy: policy.to_string(),
            account_matches,
            matches: verdict.matches.clone(),
            evidence,
        }
    }

    /// Seals the report to the moderator's public key.
    pub fn seal(&self, moderator: &e2ee::PublicKey) -> Result<Vec<u8>, Error> {
        let json = serde_json::to_vec(self).map_err(|e| Error::Seal(e.to_string()))?;
        e2ee::seal_to(moderator, REPORT_INFO, &json).map_err(|e| Error::Seal(e.to_string()))
    }

    /// Opens a sealed report with the moderator's identity.
    pub fn open(sealed: &[u8], moderator: &e2ee::Identity) -> Result<Report, Error> {
        let json =
            e2ee::open_from(moderator, REPORT_INFO, sealed).map_err(|_| Error::Decryption)?;
        serde_json::from_slice(&json).map_err(|e| Error::Malformed(e.to_string()))
    }
}

fn evidence_for(message: &Message, part: &Part, label: String) -> Evidence {
    match part {
        Part::Text => Evidence {
            size: message.text.as_ref().map_or(0, String::len),
            text: message.text.clone(),
            bytes_hex: None,
            part: label,
        },
        Part::Url { url } => Evidence {
            size: url.len(),
            text: Some(url.clone()),
            bytes_hex: None,
            part: label,
        },
        Part::Attachment { index, .. } => match message.attachments.get(*index) {
            Some(Attachment::Image { bytes, .. } | Attachment::File { bytes, .. }) => Evidence {
                size: bytes.len(),
                text: None,
                bytes_hex: Some(hex::encode(bytes)),
                part: label,
            },
            Some(Attachment::Link { url }) => Evidence {
                size: url.len(),
                text: Some(url.clone()),
                bytes_hex: None,
                part: label,
            },
            None => Evidence {
                size: 0,
                text: None,
                bytes_hex: None,
                part: label,
            },
        },
    }
}
