//! `cssim demo`: one narrated end-to-end run of client-side scanning, on a
//! temporary workspace with the shipped stand-in images and demo hash set.
//!
//! Each [`Step`] says who is looking (client, relay, moderator, recipient),
//! what happened, and carries the data behind it; the binary prints the steps
//! (or a JSON transcript) and may pause between them.

use std::path::Path;

use serde::Serialize;

use crate::client::{Device, Received, SendOutcome};
use crate::eval::transform::{self, Edit};
use crate::hash::{self, pdq};
use crate::message::Attachment;
use crate::moderation;
use crate::relay::Overview;
use crate::workspace::{self, Workspace};

/// The stand-in images the demo sends (public domain / CC0; see `examples/images/SOURCES.md`).
const BENIGN_PHOTO: &[u8] = include_bytes!("../examples/images/benign/astronaut.jpg");
/// A listed stand-in: it is in the demo hash set.
const LISTED_PHOTO: &[u8] = include_bytes!("../examples/images/listed/rocket.jpg");

/// Said once in the demo, and in README and docs/SECURITY.md.
pub const LIMITS: &str = "The scanner runs on a device its owner controls: a modified app, an edited policy (on_match = \"warn\") or a deleted state file (which resets the account's match count) turns scanning off, and the relay cannot tell. Client-side scanning constrains unmodified clients only.";

/// Who sees a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Actor {
    /// Setting the stage.
    Setup,
    /// Alice's device: scanning and encryption happen here.
    Client,
    /// The relay operator's view.
    Relay,
    /// The moderator, with the report key.
    Moderator,
    /// Bob, the recipient.
    Recipient,
}

impl Actor {
    /// Whose view, in words: "Alice's device", "relay", ….
    pub fn label(self) -> &'static str {
        match self {
            Actor::Setup => "setup",
            Actor::Client => "Alice's device",
            Actor::Relay => "relay",
            Actor::Moderator => "moderator",
            Actor::Recipient => "Bob's device",
        }
    }
}

/// One step of the demo.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// Step number, from 1.
    pub number: usize,
    /// Short title.
    pub title: String,
    /// Whose view this is.
    pub actor: Actor,
    /// Narration, a line each.
    pub lines: Vec<String>,
    /// The data behind the narration.
    pub data: StepData,
}

/// The data behind one step, by the kind of step. Serialised untagged:
/// each step's `data` is the value itself (a send's outcome, the relay's
/// overview, a list of reports, …), as the web page and `--json` read it.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum StepData {
    /// The keys and the hash set.
    Keys(Keys),
    /// One message sent: what the device did.
    Send(Box<SendOutcome>),
    /// A cropped copy sent: its PDQ distance to the original, and the send.
    Cropped {
        /// PDQ distance between the listed image and the cropped copy, in bits.
        pdq_distance: u32,
        /// What the device did.
        outcome: Box<SendOutcome>,
    },
    /// What the relay holds.
    Relay(Overview),
    /// The reports the moderator opened.
    Moderator(Vec<ReportSummary>),
    /// The messages Bob decrypted.
    Inbox(Vec<InboxItem>),
    /// A mirrored copy sent with and without `pdq_dihedral`.
    Mirrored(Box<Mirrored>),
    /// What client-side scanning cannot promise.
    Limits {
        /// [`LIMITS`].
        limits: String,
    },
}

/// The demo's keys (fingerprints) and hash set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Keys {
    /// Alice's key fingerprint.
    pub alice: String,
    /// Bob's key fingerprint.
    pub bob: String,
    /// The moderator's key fingerprint.
    pub moderator: String,
    /// The hash set on Alice's device.
    pub hashset: HashsetSummary,
}

/// A hash set as the demo names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HashsetSummary {
    /// Its name.
    pub name: String,
    /// Entries, over all algorithms.
    pub entries: u64,
    /// The issuer's name.
    pub issuer: String,
}

/// One report the moderator opened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReportSummary {
    /// The report's id.
    pub id: String,
    /// The reported account.
    pub account: String,
    /// How many parts matched.
    pub matches: usize,
    /// Whether every check passed (signature, receipt, franking, digests).
    pub verified: bool,
    /// Bytes of revealed content.
    pub evidence_bytes: usize,
}

/// One message in Bob's inbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InboxItem {
    /// The sender.
    pub from: String,
    /// The text, if any.
    pub text: Option<String>,
    /// Each attachment, described (name, kind, size).
    pub attachments: Vec<String>,
}

/// A mirrored copy of the listed image, sent under the workspace's policy
/// and with `pdq_dihedral = true`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mirrored {
    /// PDQ distance of the copy as sent to the original, in bits.
    pub pdq_distance: u32,
    /// The smallest distance over the copy's eight orientations.
    pub dihedral_distance: u32,
    /// The policy's PDQ threshold.
    pub threshold: u32,
    /// The workspace policy's own `pdq_dihedral`.
    pub pdq_dihedral_policy: bool,
    /// The send under the workspace's policy.
    pub policy: SendOutcome,
    /// The send with `pdq_dihedral = true`.
    pub dihedral: SendOutcome,
}

/// Every step of a run, in order: what `cssim demo --json` prints (an
/// array of steps), through the [`report`](crate::report) exporters.
#[derive(Clone, Debug, Serialize)]
#[serde(transparent)]
pub struct Transcript(pub Vec<Step>);

/// Why the demo could not run.
pub type Error = workspace::Error;

struct Narrator<'f> {
    steps: Vec<Step>,
    on_step: &'f mut dyn FnMut(&Step),
}

impl Narrator<'_> {
    fn step(&mut self, title: &str, actor: Actor, lines: Vec<String>, data: StepData) {
        let step = Step {
            number: self.steps.len() + 1,
            title: title.to_string(),
            actor,
            lines,
            data,
        };
        (self.on_step)(&step);
        self.steps.push(step);
    }
}

fn verdict_lines(o: &SendOutcome) -> Vec<String> {
    let v = &o.verdict;
    let mut lines = vec![format!(
        "scan on Alice's device: {} match(es) in {:.2} ms → {:?}",
        v.matches.len(),
        v.total().as_secs_f64() * 1e3,
        v.action
    )];
    for m in &v.matches {
        lines.push(format!("  {m}"));
    }
    for u in &v.unscannable {
        lines.push(format!("  unscannable: {u}"));
    }
    for n in &v.notes {
        lines.push(format!("  note: {n}"));
    }
    if let Some(r) = &o.report {
        lines.push(format!(
            "  a {}-byte report was sealed to the moderator's key and {}",
            r.sealed_size,
            if r.released_now > 0 {
                "sent to the relay"
            } else {
                "held until the account threshold"
            }
        ));
    }
    if o.sent {
        lines.push(format!(
            "then encrypted end to end (HPKE Auth, AES-256-GCM): {} bytes → {}-byte envelope, sent; the relay signed a receipt",
            o.plaintext_size,
            o.envelope_size.unwrap_or(0)
        ));
    }
    lines
}

fn jpeg_attachment(name: &str, image: &image::RgbImage, quality: u8) -> Attachment {
    Attachment::Image {
        name: name.to_string(),
        bytes: transform::encode_jpeg(image, quality),
    }
}

fn pdq_distance(a: &image::RgbImage, b: &image::RgbImage) -> u32 {
    pdq::hash_image(a).hash.distance(&pdq::hash_image(b).hash).0
}

/// Whether `d` is within `threshold`, in words.
fn against(d: u32, threshold: u32) -> &'static str {
    if d <= threshold { "within" } else { "above" }
}

/// What one send's verdict amounts to, computed from it; `what` names
/// the image ("the mirrored copy").
fn conclusion(o: &SendOutcome, what: &str) -> String {
    let v = &o.verdict;
    match v.matches.first() {
        None => format!("nothing matched ({:?}): {what} evades the list.", v.action),
        Some(m) => format!(
            "it is caught: {} match(es), the first in orientation {} → {:?}.",
            v.matches.len(),
            m.orientation.as_deref().unwrap_or("original"),
            v.action
        ),
    }
}

/// A mirrored copy of a listed image, sent under the workspace's policy
/// and again with `pdq_dihedral = true` (the policy file is put back after).
fn mirrored_step(
    n: &mut Narrator<'_>,
    ws: &Workspace,
    listed: &image::RgbImage,
) -> Result<(), Error> {
    let mirrored = transform::apply(listed, Edit::FlipHorizontal);
    let attachment = jpeg_attachment("rocket-mirrored.jpg", &mirrored, 90);
    let Attachment::Image { bytes, .. } = &attachment else {
        unreachable!("jpeg_attachment makes an image")
    };
    let sent = hash::decode::decode(bytes, &hash::decode::Limits::default()).map_err(|e| {
        Error::Invalid {
            path: "rocket-mirrored.jpg".into(),
            reason: e.to_string(),
        }
    })?;
    let original = pdq::hash_image(listed).hash;
    let d = pdq::hash_image(&sent).hash.distance(&original).0;
    let turned = pdq::hash_image_dihedral(&sent)
        .hashes
        .iter()
        .map(|h| h.distance(&original).0)
        .min()
        .unwrap_or(256);

    let policy_path = ws.root().join(&ws.config().policy);
    let before = std::fs::read(&policy_path).map_err(|e| Error::Invalid {
        path: policy_path.clone(),
        reason: e.to_string(),
    })?;
    let mut device = Device::open(ws, "alice")?;
    let policy = device.policy().clone();
    let t = policy.threshold(hash::Algorithm::Pdq).0;
    let off = device.send("bob", None, vec![attachment.clone()])?;
    let dihedral = crate::scan::Policy {
        pdq_dihedral: true,
        ..policy.clone()
    };
    crate::files::write_atomic(&policy_path, dihedral.to_toml().as_bytes(), false)?;
    let on = Device::open(ws, "alice").and_then(|mut d| d.send("bob", None, vec![attachment]));
    crate::files::write_atomic(&policy_path, &before, false)?;
    let on = on?;

    let mut lines = vec![format!(
        "Back on Alice's device, she sends the listed image mirrored left to right (JPEG quality 90): PDQ distance {d} bits to the original, {} the threshold of {t}; in the best of its eight orientations, {turned} bits ({}).",
        against(d, t),
        against(turned, t)
    )];
    lines.push(format!(
        "With the policy's pdq_dihedral = {} (one lookup, the image as sent):",
        policy.pdq_dihedral
    ));
    lines.extend(verdict_lines(&off));
    lines.push(format!("  → {}", conclusion(&off, "the mirrored copy")));
    lines.push(
        "With pdq_dihedral = true (eight lookups: rotated by 90°, 180°, 270°, and mirrored):"
            .into(),
    );
    lines.extend(verdict_lines(&on));
    lines.push(format!("  → {}", conclusion(&on, "the mirrored copy")));
    n.step(
        "A mirrored copy, with and without pdq_dihedral",
        Actor::Client,
        lines,
        StepData::Mirrored(Box::new(Mirrored {
            pdq_distance: d,
            dihedral_distance: turned,
            threshold: t,
            pdq_dihedral_policy: policy.pdq_dihedral,
            policy: off,
            dihedral: on,
        })),
    );
    Ok(())
}

/// Runs the demo in `dir` (which must not hold a workspace), calling
/// `on_step` after each step; returns every step.
///
/// Every sentence that states a result is computed from that result (a
/// distance, a verdict, a verification), so a changed image, policy or
/// threshold can never make the demo say something false.
pub fn run(dir: &Path, on_step: &mut dyn FnMut(&Step)) -> Result<Transcript, Error> {
    let mut n = Narrator {
        steps: Vec::new(),
        on_step,
    };
    let ws = Workspace::init(dir, None)?;
    let mut alice = Device::open(&ws, "alice")?;
    keys_step(&mut n, &ws)?;

    let text = alice.send(
        "bob",
        Some("Lunch at noon? The usual place.".into()),
        vec![],
    )?;
    n.step(
        "A benign text",
        Actor::Client,
        verdict_lines(&text),
        StepData::Send(Box::new(text)),
    );
    let photo = alice.send(
        "bob",
        Some("Look what I saw at the museum".into()),
        vec![Attachment::Image {
            name: "astronaut.jpg".into(),
            bytes: BENIGN_PHOTO.to_vec(),
        }],
    )?;
    n.step(
        "A benign photo",
        Actor::Client,
        verdict_lines(&photo),
        StepData::Send(Box::new(photo)),
    );

    let listed =
        hash::decode::decode(LISTED_PHOTO, &hash::decode::Limits::default()).map_err(|e| {
            Error::Invalid {
                path: "rocket.jpg".into(),
                reason: e.to_string(),
            }
        })?;
    let resized = resized_step(&mut n, &mut alice, &listed)?;
    cropped_step(&mut n, &mut alice, &listed)?;
    damaged_step(&mut n, &mut alice)?;
    relay_step(&mut n, &ws)?;
    moderator_step(&mut n, &ws)?;
    inbox_step(&mut n, &ws, &resized)?;
    mirrored_step(&mut n, &ws, &listed)?;
    n.step(
        "What client-side scanning cannot promise",
        Actor::Setup,
        vec![LIMITS.into()],
        StepData::Limits {
            limits: LIMITS.into(),
        },
    );
    Ok(Transcript(n.steps))
}

fn keys_step(n: &mut Narrator<'_>, ws: &Workspace) -> Result<(), Error> {
    let set = ws.hashset()?;
    let manifest = set.manifest();
    let alice = ws.identity("alice")?.public();
    let bob = ws.identity("bob")?.public();
    let moderator = ws.moderator_key()?;
    n.step(
        "Keys and the hash set",
        Actor::Setup,
        vec![
            format!("Alice {} and Bob {} each have an X25519 key pair; the relay knows only their public keys.", alice.fingerprint(), bob.fingerprint()),
            format!("The moderator {} holds the key that opens reports.", moderator.fingerprint()),
            format!(
                "Alice's device holds the hash set '{}' ({} entries, signed by '{}', signature verified). Its entries are innocuous stand-in images.",
                manifest.name, manifest.total_entries(), manifest.issuer.name
            ),
        ],
        StepData::Keys(Keys {
            alice: alice.fingerprint(),
            bob: bob.fingerprint(),
            moderator: moderator.fingerprint(),
            hashset: HashsetSummary {
                name: manifest.name.clone(),
                entries: manifest.total_entries(),
                issuer: manifest.issuer.name.clone(),
            },
        }),
    );
    Ok(())
}

/// The PDQ threshold Alice's device scans with.
fn pdq_threshold(device: &Device) -> u32 {
    device.policy().threshold(hash::Algorithm::Pdq).0
}

/// A resized, recompressed copy of the listed image; returns the send.
fn resized_step(
    n: &mut Narrator<'_>,
    alice: &mut Device,
    listed: &image::RgbImage,
) -> Result<SendOutcome, Error> {
    let edited = transform::apply(listed, Edit::Resize(0.6));
    let sent = alice.send(
        "bob",
        None,
        vec![jpeg_attachment("rocket-small.jpg", &edited, 70)],
    )?;
    let d = pdq_distance(listed, &edited);
    let t = pdq_threshold(alice);
    let mut lines = vec![format!(
        "Alice sends a copy of a listed stand-in image, resized to 60% and recompressed as JPEG quality 70: PDQ distance {d} bits to the original, {} the threshold of {t}.",
        against(d, t)
    )];
    lines.extend(verdict_lines(&sent));
    lines.push(format!("  → {}", conclusion(&sent, "the edited copy")));
    n.step(
        "A resized, recompressed copy of a listed image",
        Actor::Client,
        lines,
        StepData::Send(Box::new(sent.clone())),
    );
    Ok(sent)
}

fn cropped_step(
    n: &mut Narrator<'_>,
    alice: &mut Device,
    listed: &image::RgbImage,
) -> Result<(), Error> {
    let cropped = transform::apply(listed, Edit::CropCentre(0.5));
    let sent = alice.send(
        "bob",
        None,
        vec![jpeg_attachment("rocket-crop.jpg", &cropped, 90)],
    )?;
    let d = pdq_distance(listed, &cropped);
    let t = pdq_threshold(alice);
    let mut lines = vec![format!(
        "Alice sends the same image cropped to its central 50%: PDQ distance {d} bits, {} the threshold of {t}.",
        against(d, t)
    )];
    lines.extend(verdict_lines(&sent));
    lines.push(format!("  → {}", conclusion(&sent, "the cropped copy")));
    let title = if sent.verdict.matches.is_empty() {
        "A heavily cropped copy evades"
    } else {
        "A heavily cropped copy is still caught"
    };
    n.step(
        title,
        Actor::Client,
        lines,
        StepData::Cropped {
            pdq_distance: d,
            outcome: Box::new(sent),
        },
    );
    Ok(())
}

fn damaged_step(n: &mut Narrator<'_>, alice: &mut Device) -> Result<(), Error> {
    let damaged = &LISTED_PHOTO[..LISTED_PHOTO.len() - 2];
    let sent = alice.send(
        "bob",
        None,
        vec![Attachment::Image {
            name: "rocket-damaged.jpg".into(),
            bytes: damaged.to_vec(),
        }],
    )?;
    let policy = alice.policy().on_unscannable;
    let first = if sent.verdict.unscannable.is_empty() {
        format!(
            "Alice sends the listed image with its last two bytes cut: it still decoded, so it was hashed as usual (on_unscannable = \"{policy}\" did not come into play)."
        )
    } else {
        format!(
            "Alice sends the listed image with its last two bytes cut: most viewers still show it, but it does not decode, so no perceptual hash can be computed. The policy decides (on_unscannable = \"{policy}\")."
        )
    };
    let mut lines = vec![first];
    lines.extend(verdict_lines(&sent));
    n.step(
        "A damaged image cannot be scanned",
        Actor::Client,
        lines,
        StepData::Send(Box::new(sent)),
    );
    Ok(())
}

fn relay_step(n: &mut Narrator<'_>, ws: &Workspace) -> Result<(), Error> {
    let overview = ws.relay_as(&ws.config().operator)?.overview()?;
    let mut lines = vec![format!(
        "The relay stores {} envelopes and {} sealed report(s). It sees who wrote to whom, when, and how big — not what.",
        overview.messages.len(),
        overview.reports.len()
    )];
    for m in &overview.messages {
        lines.push(format!(
            "  message {}… {} → {}, {} bytes, ciphertext starts {}…",
            &m.id[..8],
            m.from,
            m.to,
            m.size,
            &m.head[..16.min(m.head.len())]
        ));
    }
    for r in &overview.reports {
        lines.push(format!(
            "  report {}… {} bytes, sealed to the moderator",
            &r.id[..8],
            r.size
        ));
    }
    n.step(
        "What the relay saw",
        Actor::Relay,
        lines,
        StepData::Relay(overview),
    );
    Ok(())
}

fn moderator_step(n: &mut Narrator<'_>, ws: &Workspace) -> Result<(), Error> {
    let mod_id = ws.identity(&ws.config().moderator)?;
    let mut lines = Vec::new();
    let mut reports = Vec::new();
    let moderator_relay = ws.relay_as(&ws.config().moderator)?;
    for reviewed in moderation::review(&*moderator_relay, &mod_id, None)? {
        let opened = match &reviewed.opened {
            Ok(opened) => opened,
            Err(e) => {
                lines.push(format!("a report could not be opened: {e}"));
                continue;
            }
        };
        let r = &opened.report;
        let verification = reviewed
            .verification
            .clone()
            .unwrap_or(moderation::Verification {
                verified: false,
                problems: vec!["not checked".into()],
            });
        let checks = if verification.verified {
            format!(
                "verified: signed by {}'s device key, about a message the relay's receipt shows it carried, evidence matching the message's commitment",
                r.account
            )
        } else {
            verification.to_string()
        };
        lines.push(format!(
            "Report {}…: account '{}' sent a message to '{}' — {checks}.",
            &r.id[..8],
            r.account,
            r.recipient,
        ));
        for m in &r.matches {
            lines.push(format!(
                "  {} matched '{}' via {} at distance {}",
                m.part,
                m.hit.label_text(),
                m.algorithm,
                m.hit.distance
            ));
        }
        for e in &r.evidence {
            lines.push(format!(
                "  evidence: {} ({} bytes) — a human now looks at this content",
                e.part, e.size
            ));
        }
        reports.push(ReportSummary {
            id: r.id.clone(),
            account: r.account.clone(),
            matches: r.matches.len(),
            verified: verification.verified,
            evidence_bytes: r.evidence.iter().map(|e| e.size).sum(),
        });
    }
    if reports.is_empty() {
        lines.push("No report reached the moderator.".into());
    } else {
        lines.push(
            "Only the reported parts are revealed; every other message stays end-to-end encrypted."
                .into(),
        );
    }
    n.step(
        "What the moderator sees",
        Actor::Moderator,
        lines,
        StepData::Moderator(reports),
    );
    Ok(())
}

/// Bob's inbox; `reported` is the send the demo expects a report for.
fn inbox_step(n: &mut Narrator<'_>, ws: &Workspace, reported: &SendOutcome) -> Result<(), Error> {
    let inbox = Device::open(ws, "bob")?.inbox()?;
    let mut lines = vec![format!(
        "Bob takes his inbox and decrypts {} message(s):",
        inbox.len()
    )];
    let mut items = Vec::new();
    let mut got_reported = false;
    for r in &inbox {
        match r {
            Received::Message(m) => {
                got_reported |= m.id.to_hex() == reported.message_id;
                let atts: Vec<String> = m.attachments.iter().map(Attachment::describe).collect();
                lines.push(format!(
                    "  from {}: {}{}",
                    m.from,
                    m.text.as_deref().unwrap_or(""),
                    if atts.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", atts.join(", "))
                    }
                ));
                items.push(InboxItem {
                    from: m.from.clone(),
                    text: m.text.clone(),
                    attachments: atts,
                });
            }
            Received::Unreadable { id, reason } => lines.push(format!("  message {id}: {reason}")),
        }
    }
    let was_reported = reported.report.is_some();
    lines.push(match (was_reported, got_reported) {
        (true, true) => format!(
            "The reported image was delivered too: under a `{}` policy, scanning does not stop the message, it tells someone about it.",
            format!("{:?}", reported.verdict.action).to_lowercase()
        ),
        (true, false) => "The reported image was not delivered: the policy stopped it.".into(),
        (false, true) => "The edited copy of the listed image was delivered without a report.".into(),
        (false, false) => "The edited copy of the listed image was not delivered.".into(),
    });
    n.step(
        "Bob's inbox",
        Actor::Recipient,
        lines,
        StepData::Inbox(items),
    );
    Ok(())
}
