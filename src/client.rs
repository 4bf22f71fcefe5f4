//! The messaging client: scan before send, encrypt end to end, hand to the
//! relay; and the other way, take the inbox and decrypt.
//!
//! Sending one message:
//! 1. build the [`Message`] and check attachment sizes against the policy;
//! 2. scan it ([`Scanner`]) against the workspace's verified hash set;
//! 3. on a match under a `report` policy, build a [`Report`], seal it to the
//!    moderator and keep it in the sender's local state until the account has
//!    `account_threshold` matches — then release every held report to the
//!    relay (as Apple's 2021 design withheld vouchers below its threshold);
//! 4. unless the policy blocks it, seal the message (HPKE Auth mode, so the
//!    recipient knows the sender's key) and send it; it counts as sent once
//!    the relay's transaction commits.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::e2ee::{Envelope, ReplayGuard};
use crate::message::{Attachment, Message, MessageId};
use crate::moderation::Report;
use crate::relay::OutgoingMessage;
use crate::scan::{Action, Scanner, Verdict};
use crate::workspace::{Error, Workspace, write_atomic};

/// A client's local state (`state/NAME.json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientState {
    /// Messages of this account that matched so far.
    pub matches: u32,
    /// Sealed reports held back until the account threshold is reached (hex).
    pub pending_reports: Vec<(String, String)>,
    /// Reports released to the relay so far.
    pub released_reports: u32,
    /// Message ids already received (the client's own replay guard).
    pub seen: Vec<String>,
}

impl ClientState {
    fn load(ws: &Workspace, name: &str) -> Result<ClientState, Error> {
        let path = ws.state_path(name);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Invalid {
                path,
                reason: format!("client state is corrupt: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ClientState::default()),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    fn save(&self, ws: &Workspace, name: &str) -> Result<(), Error> {
        let bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        write_atomic(&ws.state_path(name), &bytes)
    }
}

impl ReplayGuard for ClientState {
    fn check_and_record(&mut self, _sender: &[u8; 32], message_id: &[u8; 16]) -> bool {
        let id = hex::encode(message_id);
        if self.seen.contains(&id) {
            return false;
        }
        self.seen.push(id);
        true
    }
}

/// What the report step did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportOutcome {
    /// The report's id.
    pub report_id: String,
    /// Size of the sealed report in bytes.
    pub sealed_size: usize,
    /// The account's matches, this one included.
    pub account_matches: u32,
    /// The policy's account threshold.
    pub account_threshold: u32,
    /// Reports released to the relay by this send (0 while below the threshold).
    pub released_now: usize,
    /// Reports still held on the device.
    pub held: usize,
}

/// What `send` did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SendOutcome {
    /// The message id.
    pub message_id: String,
    /// The scan verdict.
    pub verdict: Verdict,
    /// Whether the message went to the relay (false when blocked).
    pub sent: bool,
    /// Plaintext size in bytes.
    pub plaintext_size: usize,
    /// Envelope size in bytes, when sent.
    pub envelope_size: Option<usize>,
    /// Time to seal, in microseconds.
    pub seal_micros: Option<u64>,
    /// The report, when one was made.
    pub report: Option<ReportOutcome>,
    /// Whether the policy lets the sender's app tell them about a match
    /// (always for `warn` and `block`; for `report` only with `notify_sender`).
    pub sender_told: bool,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Scans, reports, seals and sends one message from `from` to `to`.
pub fn send(
    ws: &Workspace,
    from: &str,
    to: &str,
    text: Option<String>,
    attachments: Vec<Attachment>,
) -> Result<SendOutcome, Error> {
    let policy = ws.policy()?;
    for a in &attachments {
        if let Attachment::Image { name, bytes } | Attachment::File { name, bytes } = a {
            if bytes.len() as u64 > policy.max_attachment_bytes {
                return Err(Error::Invalid {
                    path: name.into(),
                    reason: format!(
                        "attachment is {} bytes; the policy allows at most {}",
                        bytes.len(),
                        policy.max_attachment_bytes
                    ),
                });
            }
        }
    }
    let sender = ws.identity(from)?;
    let relay = ws.relay()?;
    let recipient = crate::e2ee::PublicKey::from_bytes(relay.public_key(to)?);
    let hashset = ws.hashset()?;
    let message = Message {
        id: MessageId::random(),
        from: from.to_string(),
        to: to.to_string(),
        sent_at: now(),
        text,
        attachments,
    };
    let scanner = Scanner::new(policy.clone(), &hashset);
    let verdict = scanner.scan(&message);

    let report = if verdict.action == Action::Report {
        Some(report_match(ws, &policy, &message, &verdict, &*relay)?)
    } else {
        None
    };
    let plaintext = message.to_bytes();
    let sender_told = match verdict.action {
        Action::Allow => false,
        Action::Warn | Action::Block => true,
        Action::Report => policy.notify_sender,
    };
    let mut outcome = SendOutcome {
        message_id: message.id.to_hex(),
        verdict,
        sent: false,
        plaintext_size: plaintext.len(),
        envelope_size: None,
        seal_micros: None,
        report,
        sender_told,
    };
    if outcome.verdict.action == Action::Block {
        return Ok(outcome);
    }
    let start = Instant::now();
    let envelope = Envelope::seal(
        &sender,
        &recipient,
        message.id.0,
        message.sent_at,
        &plaintext,
    )?;
    let bytes = envelope.to_bytes();
    outcome.seal_micros = Some(start.elapsed().as_micros() as u64);
    outcome.envelope_size = Some(bytes.len());
    relay.send(&OutgoingMessage {
        id: message.id.0,
        from: from.to_string(),
        to: to.to_string(),
        sent_at: message.sent_at,
        envelope: bytes,
    })?;
    outcome.sent = true;
    Ok(outcome)
}

fn report_match(
    ws: &Workspace,
    policy: &crate::scan::Policy,
    message: &Message,
    verdict: &Verdict,
    relay: &dyn crate::relay::Relay,
) -> Result<ReportOutcome, Error> {
    let mut state = ClientState::load(ws, &message.from)?;
    state.matches += 1;
    let report = Report::new(message, verdict, &policy.name, state.matches);
    let sealed = report
        .seal(&ws.moderator_key()?)
        .map_err(|e| Error::Invalid {
            path: ws.root().join("keys"),
            reason: e.to_string(),
        })?;
    let sealed_size = sealed.len();
    state
        .pending_reports
        .push((report.id.clone(), hex::encode(&sealed)));
    // Saved before release: a crash between here and the relay loses nothing.
    state.save(ws, &message.from)?;
    let mut released_now = 0;
    if state.matches >= policy.account_threshold {
        while let Some((id, sealed_hex)) = state.pending_reports.first().cloned() {
            let id_bytes = decode_id(&id);
            let sealed = hex::decode(&sealed_hex).unwrap_or_default();
            relay.submit_report(id_bytes, &sealed)?;
            state.pending_reports.remove(0);
            state.released_reports += 1;
            released_now += 1;
            state.save(ws, &message.from)?;
        }
    }
    Ok(ReportOutcome {
        report_id: report.id,
        sealed_size,
        account_matches: state.matches,
        account_threshold: policy.account_threshold,
        released_now,
        held: state.pending_reports.len(),
    })
}

fn decode_id(hex_id: &str) -> [u8; 16] {
    let mut id = [0u8; 16];
    if let Ok(b) = hex::decode(hex_id) {
        if b.len() == 16 {
            id.copy_from_slice(&b);
        }
    }
    id
}

/// One message taken from the inbox.
#[derive(Clone, Debug, PartialEq)]
pub enum Received {
    /// Decrypted and authenticated.
    Message(Message),
    /// Could not be opened; the reason.
    Unreadable {
        /// The message id, as the relay gave it.
        id: String,
        /// Why.
        reason: String,
    },
}

/// Takes `name`'s inbox from the relay and decrypts every message.
pub fn inbox(ws: &Workspace, name: &str) -> Result<Vec<Received>, Error> {
    let identity = ws.identity(name)?;
    let relay = ws.relay()?;
    let mut state = ClientState::load(ws, name)?;
    let stored = relay.take_inbox(name)?;
    let mut out = Vec::with_capacity(stored.len());
    for m in stored {
        let id = hex::encode(m.id);
        let opened = Envelope::from_bytes(&m.envelope)
            .and_then(|env| env.open(&identity, &mut state))
            .map_err(|e| e.to_string())
            .and_then(|o| {
                let msg = Message::from_bytes(&o.plaintext).map_err(|e| e.to_string())?;
                let expected = relay.public_key(&msg.from).map_err(|e| e.to_string())?;
                if expected != o.sender.to_bytes() {
                    return Err(format!("sender key does not belong to '{}'", msg.from));
                }
                Ok(msg)
            });
        out.push(match opened {
            Ok(msg) => Received::Message(msg),
            Err(reason) => Received::Unreadable { id, reason },
        });
    }
    state.save(ws, name)?;
    Ok(out)
}
