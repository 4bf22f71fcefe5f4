//! The messaging client: scan before send, encrypt end to end, hand to the
//! relay; and the other way, fetch, store, acknowledge and decrypt.
//!
//! A [`Device`] is one identity's phone, loaded once: its keys, its relay
//! connection (requests signed with its key), its local state (pinned peer
//! keys, held reports, received messages; see `local.rs`), the policy and
//! the moderator's key. `send` and `inbox` work on it.
//!
//! Sending one message:
//! 1. build the [`Message`] and check attachment sizes against the policy;
//! 2. scan it ([`Scanner`]) against the workspace's verified hash set;
//! 3. unless the policy blocks it, commit to it (franking), seal it (HPKE
//!    Auth mode, to the recipient's *pinned* key) and send it; it counts as
//!    sent once the relay's transaction commits and the relay's signed
//!    receipt verifies;
//! 4. on a match under a `report` policy, record the send in the device's
//!    outbox *before* it goes (`pending_sends`: the envelope as sent and the
//!    report's draft); once the relay accepted the message, build the
//!    [`Report`] that opens the commitment for the matched parts and carries
//!    the receipt, sign it with the device key, seal it to the moderator and
//!    hold it — counting the match and deleting the outbox row in the same
//!    transaction — until the account has `account_threshold` matches; then
//!    release every held report (as Apple's 2021 design withheld vouchers
//!    below its threshold). A report the relay already has counts as
//!    released.
//!
//! A crash between the relay's receipt and step 4's transaction leaves the
//! outbox row. The next `send`, `inbox` or `inbox --peek` on the device
//! finishes it ([`Device::finish_pending`]): it sends the identical envelope
//! again — the relay answers a retry with the receipt it gave, or stores the
//! message now if it never did (the user asked for it to be sent) — and then
//! holds the report. If the relay refuses the retry, it stored nothing: the
//! row is dropped and no match is counted, exactly as for a send that
//! failed. A delivered message whose send was reported therefore always
//! ends with its report held or released, once.
//!
//! Receiving is at least once: fetch a page, store it locally, acknowledge
//! it; the local store shows each message once however often it comes.

mod local;
mod save;
mod shown;

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::e2ee::{Envelope, Identity, PublicIdentity, VerifyKey};
use crate::franking;
use crate::hashset::{SignedSet, VersionPins};
use crate::message::{Attachment, Message, MessageId};
use crate::moderation::Report;
use crate::relay::{self, OutgoingMessage, Receipt, Relay};
use crate::scan::{Action, Policy, Scanner, Verdict};
use crate::workspace::{Error, Workspace};

pub use local::RETENTION;
use local::{Incoming, Local, PendingSend};
pub use save::{Saved, safe_file_name, save_attachments};
pub use shown::{Inbox, InboxItem, SavedFile};

/// Messages asked for per inbox page.
const PAGE: usize = 200;

/// How old (seconds) an outbox row must be before another command finishes
/// it: longer than a send can be in flight (the HTTP client gives up after
/// 60 s), so a command never finishes the row of a `send` still running in
/// another process. (If it did, the row's transaction would still let only
/// one of them hold the report.)
pub const PENDING_GRACE: u64 = 120;

/// Test hook, debug builds only: `CSSIM_CRASH_AFTER=receipt` aborts the
/// process right after the relay's receipt verified and before the report
/// is held — the crash the outbox exists for. Release builds ignore it.
fn crash_point(point: &str) {
    #[cfg(debug_assertions)]
    if std::env::var_os("CSSIM_CRASH_AFTER").is_some_and(|v| v == point) {
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}

/// Whether a failed send's error is the relay's answer (it refused, and
/// stored nothing) rather than a failure to hear one (it may have stored
/// the message).
fn stored_nothing(e: &relay::Error) -> bool {
    !matches!(
        e,
        relay::Error::Unreachable { .. } | relay::Error::Protocol { .. }
    )
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
    /// Why releasing failed, if it did (the reports stay held and are
    /// released with the next send; the message itself was sent).
    pub release_error: Option<String>,
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
    /// The relay's receipt, when sent (verified against the pinned relay key).
    pub receipt: Option<Receipt>,
    /// The report, when one was made.
    pub report: Option<ReportOutcome>,
    /// Whether the policy lets the sender's app tell them about a match
    /// (always for `warn` and `block`; for `report` only with `notify_sender`).
    pub sender_told: bool,
}

/// One message from the inbox.
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

/// What re-pinning a peer's key did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trusted {
    /// The peer.
    pub peer: String,
    /// The fingerprint pinned before, if any.
    pub previous: Option<String>,
    /// The fingerprint pinned now.
    pub pinned: String,
    /// The safety number to compare with the peer.
    pub safety_number: String,
}

use crate::clock::now_unix as now;

/// One identity's device, loaded once.
pub struct Device {
    ws: Workspace,
    name: String,
    identity: Arc<Identity>,
    relay: Box<dyn Relay>,
    local: Local,
    policy: Policy,
    hashset: Option<SignedSet>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Device({} in {})", self.name, self.ws.root().display())
    }
}

impl Device {
    /// Loads identity `name`'s device from the workspace.
    pub fn open(ws: &Workspace, name: &str) -> Result<Device, Error> {
        let identity = Arc::new(ws.identity(name)?);
        let relay = ws.relay_with(name, identity.clone())?;
        let local = Local::open(&ws.device_path(name))?;
        Ok(Device {
            ws: ws.clone(),
            name: name.to_string(),
            identity,
            relay,
            local,
            policy: ws.policy()?,
            hashset: None,
        })
    }

    /// The identity's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The relay, as this device reaches it.
    pub fn relay(&self) -> &dyn Relay {
        &*self.relay
    }

    /// (matches, reports released, reports held) of this account.
    pub fn report_counts(&self) -> Result<(u32, u32, usize), Error> {
        self.local.report_counts()
    }

    /// The verified hash set, loaded once. Its version may only go up for
    /// the same issuer and name: a rollback to an older signed set (which a
    /// malicious server could replay to drop entries) is refused.
    fn hashset(&mut self) -> Result<&SignedSet, Error> {
        if self.hashset.is_none() {
            let set = self.ws.hashset()?;
            let pins_path = self
                .ws
                .root()
                .join("state")
                .join(format!("{}.hashset-pins.json", self.name));
            let set_path = self.ws.root().join(&self.ws.config().hashset);
            let mut pins = VersionPins::load(&pins_path)?;
            pins.check_and_record(set.manifest())
                .map_err(|e| e.in_file(&set_path))?;
            pins.save(&pins_path)?;
            self.hashset = Some(set);
        }
        Ok(self.hashset.as_ref().expect("just loaded"))
    }

    /// The peer's keys: pinned on first contact; a key the relay now gives
    /// differently is refused with the safety number to check.
    pub fn peer_keys(&self, peer: &str) -> Result<PublicIdentity, Error> {
        let current = self.relay.user_keys(peer)?;
        match self.local.pinned(peer)? {
            None => self.local.pin(peer, &current, false),
            Some(pinned) if pinned == current => Ok(pinned),
            Some(pinned) => Err(self.key_changed(peer, &pinned, &current)),
        }
    }

    fn key_changed(&self, peer: &str, pinned: &PublicIdentity, now: &PublicIdentity) -> Error {
        Error::KeyChanged {
            peer: peer.to_string(),
            me: self.name.clone(),
            pinned: pinned.x25519.fingerprint(),
            offered: now.x25519.fingerprint(),
            safety_number: self.identity.public_identity().safety_number(now),
        }
    }

    /// Accepts the key the relay now gives for `peer` (after the safety
    /// number was checked with them).
    pub fn trust(&self, peer: &str) -> Result<Trusted, Error> {
        let current = self.relay.user_keys(peer)?;
        let previous = self.local.pinned(peer)?;
        self.local.pin(peer, &current, true)?;
        Ok(Trusted {
            peer: peer.to_string(),
            previous: previous.map(|p| p.x25519.fingerprint()),
            pinned: current.x25519.fingerprint(),
            safety_number: self.identity.public_identity().safety_number(&current),
        })
    }

    /// The relay's receipt key, pinned on first use.
    fn relay_key(&self) -> Result<VerifyKey, Error> {
        match self.local.relay_key()? {
            Some(k) => Ok(k),
            None => self.local.pin_relay_key(&self.relay.relay_key()?),
        }
    }

    /// Scans, seals, sends and (on a reportable match) reports one message.
    pub fn send(
        &mut self,
        to: &str,
        text: Option<String>,
        attachments: Vec<Attachment>,
    ) -> Result<SendOutcome, Error> {
        self.finish_pending()?;
        let max = self.policy.max_attachment_bytes;
        for a in &attachments {
            if let Attachment::Image { name, bytes } | Attachment::File { name, bytes } = a {
                if bytes.len() as u64 > max {
                    return Err(Error::Invalid {
                        path: name.into(),
                        reason: format!(
                            "attachment is {} bytes; the policy allows at most {max}",
                            bytes.len()
                        ),
                    });
                }
            }
        }
        let recipient = self.peer_keys(to)?;
        let message = Message {
            id: MessageId::random(),
            from: self.name.clone(),
            to: to.to_string(),
            sent_at: now(),
            text,
            attachments,
        };
        let policy = self.policy.clone();
        let verdict = Scanner::new(policy.clone(), self.hashset()?).scan(&message);
        let sender_told = match verdict.action {
            Action::Allow => false,
            Action::Warn | Action::Block => true,
            Action::Report => policy.notify_sender,
        };
        let message_bytes = message.to_bytes();
        let mut outcome = SendOutcome {
            message_id: message.id.to_hex(),
            verdict,
            sent: false,
            plaintext_size: message_bytes.len(),
            envelope_size: None,
            seal_micros: None,
            receipt: None,
            report: None,
            sender_told,
        };
        if outcome.verdict.action == Action::Block {
            return Ok(outcome);
        }
        let start = Instant::now();
        let franking_key = franking::new_key();
        let envelope = Envelope::seal(
            &self.identity,
            &recipient.x25519,
            message.id.0,
            message.sent_at,
            franking::commit(&franking_key, &message),
            &franking::frame(&franking_key, &message_bytes),
        )?;
        let bytes = envelope.to_bytes();
        outcome.seal_micros = Some(start.elapsed().as_micros() as u64);
        outcome.envelope_size = Some(bytes.len());
        let relay_key = self.relay_key()?;
        let outgoing = OutgoingMessage {
            id: message.id.0,
            from: self.name.clone(),
            to: to.to_string(),
            sent_at: message.sent_at,
            envelope: bytes,
        };
        // A reportable send goes into the outbox before it goes out.
        let pending = if outcome.verdict.action == Action::Report {
            let report_id = MessageId::random();
            let draft = Report::new(
                report_id,
                &message,
                &outcome.verdict,
                &policy.name,
                0,
                &franking_key,
                unsigned_receipt(),
            )
            .to_body()
            .map_err(|e| Error::Invalid {
                path: self.ws.device_path(&self.name),
                reason: format!("cannot draft the report: {e}"),
            })?;
            let p = PendingSend {
                id: message.id.0,
                to: to.to_string(),
                sent_at: message.sent_at,
                envelope: outgoing.envelope.clone(),
                report_id: report_id.0,
                draft,
            };
            self.local.begin_send(&p)?;
            Some(p)
        } else {
            None
        };
        let receipt = match self.relay.send(&outgoing) {
            Ok(r) => r,
            Err(e) => {
                // Refused: nothing was stored, so nothing is reported. Not
                // heard: the row stays and the next command finishes it.
                if let Some(p) = &pending {
                    if stored_nothing(&e) {
                        self.local.abandon_send(&p.id)?;
                    }
                }
                return Err(e.into());
            }
        };
        check_receipt(&receipt, &relay_key, &outgoing)?;
        crash_point("receipt");
        outcome.sent = true;
        if let Some(p) = pending {
            outcome.report = Some(self.report(&policy, p, receipt.clone())?);
        }
        outcome.receipt = Some(receipt);
        Ok(outcome)
    }

    /// Finishes the outbox: every reportable send recorded more than
    /// [`PENDING_GRACE`] seconds ago whose report was never held (the
    /// device stopped between the relay's receipt and holding it). Each
    /// identical envelope is sent again, which gets the relay's receipt
    /// (stored before) or stores it now; then its report is held, and
    /// released at the threshold, exactly as the send would have. A retry
    /// the relay refuses stored nothing: the row is dropped, no match
    /// counted. Returns how many reports were held. `send`, `inbox` and
    /// `peek` call it first; it prints nothing (under a `report` policy the
    /// sender may not be told of a match).
    pub fn finish_pending(&mut self) -> Result<usize, Error> {
        let rows = self
            .local
            .pending_sends(now().saturating_sub(PENDING_GRACE))?;
        if rows.is_empty() {
            return Ok(0);
        }
        let relay_key = self.relay_key()?;
        let policy = self.policy.clone();
        let mut held = 0;
        for p in rows {
            let outgoing = OutgoingMessage {
                id: p.id,
                from: self.name.clone(),
                to: p.to.clone(),
                sent_at: p.sent_at,
                envelope: p.envelope.clone(),
            };
            match self.relay.send(&outgoing) {
                Ok(receipt) => {
                    check_receipt(&receipt, &relay_key, &outgoing)?;
                    if self.report(&policy, p, receipt)?.sealed_size > 0 {
                        held += 1;
                    }
                }
                Err(e) if stored_nothing(&e) => self.local.abandon_send(&p.id)?,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(held)
    }

    /// Holds the report of outbox row `p` now that its receipt is in (one
    /// transaction: count, hold, delete the row) and releases the held
    /// reports at the threshold.
    fn report(
        &mut self,
        policy: &Policy,
        p: PendingSend,
        receipt: Receipt,
    ) -> Result<ReportOutcome, Error> {
        let moderator = self.ws.moderator_key()?;
        let identity = self.identity.clone();
        let state = self.ws.device_path(&self.name);
        let keys = self.ws.root().join("keys");
        let finished = self.local.finish_send(&p.id, |matches| {
            let mut report = Report::from_body(&p.draft).map_err(|e| Error::Invalid {
                path: state.clone(),
                reason: format!(
                    "device state is damaged: table pending_sends, message {}, field draft: {e}",
                    hex::encode(p.id)
                ),
            })?;
            report.account_matches = matches;
            report.receipt = receipt;
            let sealed = report
                .seal(&identity, &moderator)
                .map_err(|e| Error::Invalid {
                    path: keys.clone(),
                    reason: e.to_string(),
                })?;
            Ok((sealed.len(), p.report_id, sealed))
        })?;
        // `None`: another process on this device finished the row first
        // (only possible past PENDING_GRACE); its report is held once, and
        // this one has no size of its own to state.
        let (account_matches, sealed_size) = match finished {
            Some(done) => done,
            None => (self.local.report_counts()?.0, 0),
        };
        let (released_now, release_error) = if account_matches >= policy.account_threshold {
            self.release_reports()
        } else {
            (0, None)
        };
        Ok(ReportOutcome {
            report_id: hex::encode(p.report_id),
            sealed_size,
            account_matches,
            account_threshold: policy.account_threshold,
            released_now,
            held: self.local.report_counts()?.2,
            release_error,
        })
    }

    /// Submits every held report; a duplicate means an earlier attempt got
    /// through before the device could record it, which is success.
    fn release_reports(&mut self) -> (usize, Option<String>) {
        let pending = match self.local.pending() {
            Ok(p) => p,
            Err(e) => return (0, Some(e.to_string())),
        };
        let mut released = 0;
        for (id, sealed) in pending {
            match self.relay.submit_report(&self.name, id, &sealed) {
                Ok(()) | Err(relay::Error::Duplicate { .. }) => {}
                Err(e) => return (released, Some(e.to_string())),
            }
            if let Err(e) = self.local.released(&id) {
                return (released, Some(e.to_string()));
            }
            released += 1;
        }
        (released, None)
    }

    /// Fetches every waiting message page by page, stores each locally,
    /// acknowledges the page, then returns (once) every message not shown
    /// before.
    pub fn inbox(&mut self) -> Result<Vec<Received>, Error> {
        self.inbox_then(|_| Ok(())).map(|(received, ())| received)
    }

    /// Like [`Device::inbox`], but hands the messages to `keep` (to save
    /// attachments, say) before marking them shown: if `keep` fails, they
    /// stay unshown and come again with the next inbox.
    pub fn inbox_then<T>(
        &mut self,
        keep: impl FnOnce(&[Received]) -> Result<T, Error>,
    ) -> Result<(Vec<Received>, T), Error> {
        self.finish_pending()?;
        // Bounded: a relay that never stops answering cannot loop us forever.
        for _ in 0..100_000 {
            let Some(ids) = self.fetch_page()? else {
                break;
            };
            if self.relay.ack(&self.name, &ids)? == 0 {
                break;
            }
        }
        let mut received = Vec::new();
        let (_, kept) = self.local.take_unshown(|items| {
            received = items.iter().map(decode).collect();
            keep(&received)
        })?;
        Ok((received, kept))
    }

    /// Shows without acknowledging: fetches the first page the relay
    /// offers (up to 200 messages), stores what is new, and returns every
    /// stored message not yet shown — acknowledging nothing and marking
    /// nothing shown, so the relay offers them again and the next
    /// [`Device::inbox`] shows them.
    pub fn peek(&mut self) -> Result<Vec<Received>, Error> {
        self.finish_pending()?;
        self.fetch_page()?;
        Ok(self.local.unshown()?.iter().map(decode).collect())
    }

    /// Fetches one page, opens and stores what is new (keyed by sender and
    /// id: a redelivery is skipped); the ids of the whole page, or `None`
    /// when the relay has nothing waiting.
    fn fetch_page(&mut self) -> Result<Option<Vec<[u8; 16]>>, Error> {
        let page = self.relay.fetch_inbox(&self.name, PAGE)?;
        if page.is_empty() {
            return Ok(None);
        }
        let mut incoming = Vec::with_capacity(page.len());
        for m in &page {
            if self.local.known(&m.from, &m.id)? {
                continue;
            }
            let (plaintext, error) = match self.open_one(m) {
                Ok(msg) => (Some(msg.to_bytes()), None),
                Err(reason) => (None, Some(reason)),
            };
            incoming.push(Incoming {
                sender: m.from.clone(),
                id: m.id,
                plaintext,
                error,
            });
        }
        self.local.store(&incoming)?;
        Ok(Some(page.iter().map(|m| m.id).collect()))
    }

    /// Opens one stored message and checks that everything the plaintext
    /// says agrees with what was authenticated.
    fn open_one(&self, m: &relay::StoredMessage) -> Result<Message, String> {
        let env = Envelope::from_bytes(&m.envelope).map_err(|e| e.to_string())?;
        if env.message_id() != m.id {
            return Err("the relay's message id differs from the envelope's".into());
        }
        if env.time().saturating_add(RETENTION) < now() {
            return Err(format!(
                "stale: sent more than {} days ago, beyond the replay window",
                RETENTION / 86_400
            ));
        }
        // The replay guard is the inbox table, keyed by (sender, id) and
        // checked before this (`Local::known`, then the insert's primary
        // key); the stale check above bounds how long it must remember.
        let opened = env.open(&self.identity).map_err(|e| e.to_string())?;
        let (franking_key, body) =
            franking::unframe(&opened.plaintext).ok_or("not a cssim message (no franking key)")?;
        let msg = Message::from_bytes(body).map_err(|e| e.to_string())?;
        if msg.id.0 != opened.message_id || msg.sent_at != opened.time {
            return Err("the message's id or time differs from its authenticated header".into());
        }
        if msg.to != self.name {
            return Err(format!("addressed to '{}', not to '{}'", msg.to, self.name));
        }
        if msg.from != m.from {
            return Err(format!(
                "the message says it is from '{}' but the relay carried it from '{}'",
                msg.from, m.from
            ));
        }
        if franking::commit(&franking_key, &msg) != opened.commitment {
            return Err("the franking commitment does not match the message".into());
        }
        let pinned = match self.local.pinned(&msg.from).map_err(|e| e.to_string())? {
            Some(p) => p,
            None => self.peer_keys(&msg.from).map_err(|e| e.to_string())?,
        };
        if pinned.x25519 != opened.sender {
            let current = self.relay.user_keys(&msg.from).ok();
            return Err(match current {
                Some(c) if c.x25519 == opened.sender => {
                    self.key_changed(&msg.from, &pinned, &c).to_string()
                }
                _ => format!("sender key does not belong to '{}'", msg.from),
            });
        }
        Ok(msg)
    }
}

/// A receipt's place in a report draft, filled when the receipt comes.
fn unsigned_receipt() -> Receipt {
    Receipt {
        message_id: String::new(),
        from: String::new(),
        to: String::new(),
        sent_at: 0,
        commitment: String::new(),
        envelope_sha256: String::new(),
        stored_at: 0,
        signature: String::new(),
    }
}

/// The relay's receipt must verify with its pinned key and be for the
/// envelope sent.
fn check_receipt(receipt: &Receipt, key: &VerifyKey, sent: &OutgoingMessage) -> Result<(), Error> {
    let reason = if receipt.verify(key).is_err() {
        "the relay's receipt does not verify with its pinned key"
    } else if receipt.message_id != hex::encode(sent.id)
        || receipt.from != sent.from
        || receipt.to != sent.to
        || receipt.envelope_sha256 != Receipt::envelope_digest(&sent.envelope)
    {
        "the relay's receipt is for another message"
    } else {
        return Ok(());
    };
    Err(Error::Relay(relay::Error::Protocol {
        reason: reason.into(),
    }))
}

/// A stored message as shown.
fn decode(i: &Incoming) -> Received {
    match (&i.plaintext, &i.error) {
        (Some(p), _) => match Message::from_bytes(p) {
            Ok(m) => Received::Message(m),
            Err(e) => Received::Unreadable {
                id: hex::encode(i.id),
                reason: e.to_string(),
            },
        },
        (None, e) => Received::Unreadable {
            id: hex::encode(i.id),
            reason: e.clone().unwrap_or_else(|| "unreadable".into()),
        },
    }
}
