//! Reports to moderators: what a match sends, sealed so that only the
//! moderator can read it, and the outcomes moderators record.
//!
//! A report carries the matched parts themselves (the evidence a human
//! reviewer looks at) and the scanner's matches. It is serialised as JSON
//! followed by the evidence's raw bytes (so a report costs what its evidence
//! weighs, not twice that as hex would), and sealed with HPKE (base mode,
//! AES-256-GCM) to the moderator's public key; the relay stores the sealed
//! bytes and learns only their size and time.
//! This is the privacy cost of client-side scanning made concrete: every
//! false positive sends a private photo or text to a stranger.
//!
//! A report must not be forgeable, or anyone could frame anyone. So it is
//! signed with the sending device's Ed25519 key, carries the relay's signed
//! [`Receipt`] for the message, and opens the message's franking commitment
//! (`crate::franking`) for the revealed parts only. [`OpenedReport::verify`]
//! checks all three; the moderator's view says whether a report verified.

use serde::{Deserialize, Serialize};

use crate::e2ee::{self, Identity, VerifyKey};
use crate::franking;
use crate::message::{Attachment, Message, MessageId};
use crate::relay::Receipt;
pub use crate::relay::{Outcome, ReportStatus};
use crate::scan::{Match, Part, Verdict};

/// HPKE `info` for reports: binds the ciphertext to this use.
const REPORT_INFO: &[u8] = b"cssim moderation report v2";
/// Domain of the device's signature over a report.
const SIGNATURE_DOMAIN: &[u8] = b"cssim report signature v2\n";
/// Sealed plaintext: magic, the 64-byte signature, then the signed body:
/// the JSON's length (u32, big-endian), the report's JSON, and the bytes of
/// each evidence that carries bytes, in evidence order.
const SEALED_MAGIC: &[u8; 4] = b"CSR3";

/// One matched part, as the moderator sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Which part.
    pub part: String,
    /// Its position among the message's committed parts (0 the text, then
    /// each attachment from 1).
    pub index: usize,
    /// The attachment's kind byte (1 image, 2 file, 3 link) and name, for
    /// recomputing its committed digest.
    pub kind: Option<u8>,
    /// The attachment's name.
    pub name: Option<String>,
    /// The text, for text and URL parts (the whole text: it is one part).
    pub text: Option<String>,
    /// The attachment's bytes. Not part of the JSON: they follow it raw in
    /// the sealed report.
    #[serde(skip)]
    pub bytes: Option<Vec<u8>>,
    /// The part's size in bytes.
    pub size: usize,
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
    /// The franking key, hex: opens the commitment in the receipt.
    pub franking_key: String,
    /// SHA-256 of every part of the message (hex), in commitment order.
    pub part_digests: Vec<String>,
    /// The relay's receipt for the message.
    pub receipt: Receipt,
}

/// A report as the moderator opened it: the report, and the signature and
/// bytes it was signed over.
#[derive(Clone, Debug)]
pub struct OpenedReport {
    /// The report.
    pub report: Report,
    signature: [u8; 64],
    body: Vec<u8>,
}

/// What checking a report found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Every check passed.
    pub verified: bool,
    /// The checks that failed, one line each.
    pub problems: Vec<String>,
}

impl std::fmt::Display for Verification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.verified {
            f.write_str("verified")
        } else {
            write!(f, "NOT VERIFIED: {}", self.problems.join("; "))
        }
    }
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
    /// Builds report `id` for `message` from its verdict, once the relay has
    /// accepted the message (`receipt`) sent under `franking_key`.
    pub fn new(
        id: MessageId,
        message: &Message,
        verdict: &Verdict,
        policy: &str,
        account_matches: u32,
        franking_key: &[u8; 32],
        receipt: Receipt,
    ) -> Report {
        let mut evidence: Vec<Evidence> = Vec::new();
        for m in &verdict.matches {
            let label = m.part.to_string();
            if evidence.iter().any(|e| e.part == label) {
                continue;
            }
            evidence.push(evidence_for(message, &m.part, label));
        }
        // Under `on_unscannable = "report"` the parts that could not be
        // scanned are the evidence.
        for u in &verdict.unscannable {
            let label = u.part.to_string();
            if evidence.iter().any(|e| e.part == label) {
                continue;
            }
            evidence.push(evidence_for(message, &u.part, label));
        }
        Report {
            id: id.to_hex(),
            account: message.from.clone(),
            recipient: message.to.clone(),
            message_id: message.id.to_hex(),
            sent_at: message.sent_at,
            policy: policy.to_string(),
            account_matches,
            matches: verdict.matches.clone(),
            evidence,
            franking_key: hex::encode(franking_key),
            part_digests: franking::part_digests(message)
                .iter()
                .map(hex::encode)
                .collect(),
            receipt,
        }
    }

    /// Signs the report with the sending device's key and seals it to the
    /// moderator's public key.
    pub fn seal(&self, device: &Identity, moderator: &e2ee::PublicKey) -> Result<Vec<u8>, Error> {
        let body = self.body()?;
        let signature = device.sign(&[SIGNATURE_DOMAIN, &body].concat());
        let plaintext = [SEALED_MAGIC.as_slice(), &signature, &body].concat();
        e2ee::seal_to(moderator, REPORT_INFO, &plaintext).map_err(|e| Error::Seal(e.to_string()))
    }

    /// The signed body: JSON length, JSON, then the evidence's bytes.
    fn body(&self) -> Result<Vec<u8>, Error> {
        let json = serde_json::to_vec(self).map_err(|e| Error::Seal(e.to_string()))?;
        let json_len =
            u32::try_from(json.len()).map_err(|_| Error::Seal("report JSON over 4 GiB".into()))?;
        let mut body = Vec::with_capacity(4 + json.len() + self.evidence_len());
        body.extend_from_slice(&json_len.to_be_bytes());
        body.extend_from_slice(&json);
        for e in self.evidence.iter().filter(|e| e.carries_bytes()) {
            let bytes = e.bytes.as_deref().unwrap_or_default();
            if bytes.len() != e.size {
                return Err(Error::Seal(format!(
                    "evidence {}: {} bytes, but its size says {}",
                    e.part,
                    bytes.len(),
                    e.size
                )));
            }
            body.extend_from_slice(bytes);
        }
        Ok(body)
    }

    fn evidence_len(&self) -> usize {
        let carried = self.evidence.iter().filter(|e| e.carries_bytes());
        carried.map(|e| e.size).sum()
    }

    /// Opens a sealed report with the moderator's identity. Nothing is
    /// verified yet: see [`OpenedReport::verify`].
    pub fn open(sealed: &[u8], moderator: &e2ee::Identity) -> Result<OpenedReport, Error> {
        let plaintext =
            e2ee::open_from(moderator, REPORT_INFO, sealed).map_err(|_| Error::Decryption)?;
        let rest = plaintext
            .strip_prefix(SEALED_MAGIC.as_slice())
            .ok_or_else(|| Error::Malformed("not a signed cssim report".into()))?;
        let (signature, body) = rest
            .split_first_chunk::<64>()
            .ok_or_else(|| Error::Malformed("truncated signature".into()))?;
        Ok(OpenedReport {
            report: Report::from_body(body)?,
            signature: *signature,
            body: body.to_vec(),
        })
    }

    /// The unsigned body (JSON, then the evidence's bytes): what a device
    /// keeps of a report it cannot finish yet (see `crate::client`).
    pub(crate) fn to_body(&self) -> Result<Vec<u8>, Error> {
        self.body()
    }

    /// Reads a body written by [`Report::to_body`] (or signed in a sealed
    /// report).
    pub(crate) fn from_body(body: &[u8]) -> Result<Report, Error> {
        let (json_len, rest) = body
            .split_first_chunk::<4>()
            .ok_or_else(|| Error::Malformed("truncated body".into()))?;
        let json_len = u32::from_be_bytes(*json_len) as usize;
        if rest.len() < json_len {
            return Err(Error::Malformed(format!(
                "JSON of {json_len} bytes in a body of {}",
                rest.len()
            )));
        }
        let (json, mut tail) = rest.split_at(json_len);
        let mut report: Report =
            serde_json::from_slice(json).map_err(|e| Error::Malformed(e.to_string()))?;
        for e in report.evidence.iter_mut().filter(|e| e.carries_bytes()) {
            if tail.len() < e.size {
                return Err(Error::Malformed(format!(
                    "evidence {} says {} bytes, {} remain",
                    e.part,
                    e.size,
                    tail.len()
                )));
            }
            let (bytes, rest) = tail.split_at(e.size);
            e.bytes = Some(bytes.to_vec());
            tail = rest;
        }
        if !tail.is_empty() {
            return Err(Error::Malformed(format!(
                "{} bytes after the last evidence",
                tail.len()
            )));
        }
        Ok(report)
    }
}

impl OpenedReport {
    /// Checks the report: signed by `account_key` (the reported account's
    /// key, from the directory), submitted by that account, about a message
    /// the relay signed a receipt for (`relay_key`), whose commitment the
    /// report opens, with every revealed part matching its committed digest.
    pub fn verify(
        &self,
        account_key: &VerifyKey,
        relay_key: &VerifyKey,
        submitted_by: &str,
    ) -> Verification {
        let r = &self.report;
        let mut problems = Vec::new();
        if account_key
            .verify(&[SIGNATURE_DOMAIN, &self.body].concat(), &self.signature)
            .is_err()
        {
            problems.push(format!("not signed by account '{}''s key", r.account));
        }
        if submitted_by != r.account {
            problems.push(format!(
                "submitted by '{submitted_by}', not by account '{}'",
                r.account
            ));
        }
        let rc = &r.receipt;
        if rc.verify(relay_key).is_err() {
            problems.push("the relay's receipt does not verify".into());
        }
        if rc.message_id != r.message_id
            || rc.from != r.account
            || rc.to != r.recipient
            || rc.sent_at != r.sent_at
        {
            problems.push("the receipt is for another message".into());
        }
        let digests: Option<Vec<[u8; 32]>> = r
            .part_digests
            .iter()
            .map(|d| hex::decode(d).ok()?.try_into().ok())
            .collect();
        let key: Option<[u8; 32]> = hex::decode(&r.franking_key)
            .ok()
            .and_then(|k| k.try_into().ok());
        let id: Option<[u8; 16]> = hex::decode(&r.message_id)
            .ok()
            .and_then(|k| k.try_into().ok());
        match (digests, key, id) {
            (Some(digests), Some(key), Some(id)) => {
                let c = franking::commit_digests(
                    &key,
                    &id,
                    r.sent_at,
                    &r.account,
                    &r.recipient,
                    &digests,
                );
                if hex::encode(c) != rc.commitment {
                    problems.push(
                        "the franking opening does not match the commitment the relay carried"
                            .into(),
                    );
                }
                for e in &r.evidence {
                    if digests.get(e.index) != Some(&e.digest()) {
                        problems.push(format!(
                            "evidence {} is not the part the message committed to",
                            e.part
                        ));
                    }
                }
            }
            _ => problems.push("malformed franking opening".into()),
        }
        Verification {
            verified: problems.is_empty(),
            problems,
        }
    }
}

/// One report in the queue, as the moderator reviews it.
#[derive(Clone, Debug)]
pub struct Reviewed {
    /// What the relay stored.
    pub stored: crate::relay::StoredReport,
    /// The opened report, or why it could not be opened.
    pub opened: Result<OpenedReport, String>,
    /// The checks, when it opened.
    pub verification: Option<Verification>,
}

/// Opens and verifies every report in `relay`'s queue (optionally only
/// those with `status`) with the moderator's identity. Each account's key
/// comes from the relay's directory, as does the relay's receipt key.
pub fn review(
    relay: &dyn crate::relay::Relay,
    moderator: &Identity,
    status: Option<ReportStatus>,
) -> Result<Vec<Reviewed>, crate::relay::Error> {
    let relay_key = relay.relay_key()?;
    let mut out = Vec::new();
    for stored in relay.reports(status)? {
        let opened = Report::open(&stored.sealed, moderator).map_err(|e| e.to_string());
        let verification = match &opened {
            Ok(o) => Some(match relay.user_keys(&o.report.account) {
                Ok(keys) => o.verify(&keys.ed25519, &relay_key, &stored.submitted_by),
                Err(e) => Verification {
                    verified: false,
                    problems: vec![format!("account '{}': {e}", o.report.account)],
                },
            }),
            Err(_) => None,
        };
        out.push(Reviewed {
            stored,
            opened,
            verification,
        });
    }
    Ok(out)
}

impl Evidence {
    /// Whether the part's bytes travel with the report, after its JSON:
    /// files and images do; a link's URL, like the text, is in `text`.
    pub fn carries_bytes(&self) -> bool {
        matches!(self.kind, Some(kind) if kind != 3)
    }

    /// The digest this evidence must have among the committed parts.
    pub fn digest(&self) -> [u8; 32] {
        match (self.kind, &self.bytes) {
            (None, _) => franking::text_digest(self.text.as_deref()),
            (Some(3), _) => {
                franking::attachment_digest(3, "", self.text.as_deref().unwrap_or("").as_bytes())
            }
            (Some(kind), Some(b)) => {
                franking::attachment_digest(kind, self.name.as_deref().unwrap_or(""), b)
            }
            (Some(_), None) => [0; 32],
        }
    }
}

/// The evidence for one matched part. A URL found in the text reveals the
/// whole text: the text is one committed part.
fn evidence_for(message: &Message, part: &Part, label: String) -> Evidence {
    let text_part = |label| Evidence {
        size: message.text.as_ref().map_or(0, String::len),
        index: 0,
        kind: None,
        name: None,
        text: message.text.clone(),
        bytes: None,
        part: label,
    };
    match part {
        Part::Text | Part::Url { .. } => text_part(label),
        Part::Attachment { index, .. } => match message.attachments.get(*index) {
            Some(a) => {
                let (kind, name, data) = franking::attachment_parts(a);
                let is_link = matches!(a, Attachment::Link { .. });
                Evidence {
                    size: data.len(),
                    index: index + 1,
                    kind: Some(kind),
                    name: Some(name.to_string()),
                    text: is_link.then(|| String::from_utf8_lossy(data).into_owned()),
                    bytes: (!is_link).then(|| data.to_vec()),
                    part: label,
                }
            }
            None => Evidence {
                size: 0,
                index: usize::MAX,
                kind: None,
                name: None,
                text: None,
                bytes: None,
                part: label,
            },
        },
    }
}
