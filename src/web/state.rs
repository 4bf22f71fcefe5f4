//! The demo's state behind the page: the workspace, the policy controls,
//! what Alice sent, what Bob received; and the operations the page asks for,
//! each done by the library itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::client::{Device, Received, SendOutcome};
use crate::eval::transform::{self, Chain, Edit, resample};
use crate::hash::{self, Algorithm, pdq};
use crate::message::Attachment;
use crate::moderation::{self, Outcome, Reviewed};
use crate::relay::Overview;
use crate::report::Queue;
use crate::scan::{OnMatch, Policy};
use crate::workspace::{self, Workspace};

use super::guided::{Caption, Guide};

/// The shipped example images: (name, bytes). Listed ones are in the demo
/// hash set; see `examples/images/SOURCES.md`.
pub(crate) const EXAMPLES: [(&str, &[u8]); 8] = [
    (
        "rocket.jpg",
        include_bytes!("../../examples/images/listed/rocket.jpg"),
    ),
    (
        "cat.jpg",
        include_bytes!("../../examples/images/listed/cat.jpg"),
    ),
    (
        "coffee.jpg",
        include_bytes!("../../examples/images/listed/coffee.jpg"),
    ),
    (
        "astronaut.jpg",
        include_bytes!("../../examples/images/benign/astronaut.jpg"),
    ),
    (
        "camera.jpg",
        include_bytes!("../../examples/images/benign/camera.jpg"),
    ),
    (
        "hubble_deep_field.jpg",
        include_bytes!("../../examples/images/benign/hubble_deep_field.jpg"),
    ),
    (
        "seedlings.jpg",
        include_bytes!("../../examples/images/benign/seedlings.jpg"),
    ),
    // The Hubble deep field changed by `cssim attack collide` until its PDQ
    // matches the listed rocket (examples/attacks/README.md has the command).
    (
        "collision.png",
        include_bytes!("../../examples/attacks/collision.png"),
    ),
];

/// The JPEG quality an edited image is sent at when no `jpeg` edit says
/// otherwise (what a messenger does to a photo).
pub const SEND_QUALITY: u8 = 90;

/// The seed of the seeded edits (`noise`, `overlay`): fixed, so the same
/// request gives the same image.
pub const EDIT_SEED: u64 = 1;

/// Longer side of the previews the page shows, in pixels.
const PREVIEW_SIDE: u32 = 320;

/// The policy controls, applied to the next message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Controls {
    /// PDQ match threshold, in bits (0–256).
    pub threshold: u32,
    /// What a match does.
    pub on_match: OnMatch,
    /// Matches an account needs before its reports are released (≥ 1).
    pub account_threshold: u32,
    /// Match PDQ in all eight orientations.
    pub pdq_dihedral: bool,
}

impl Controls {
    fn of(policy: &Policy) -> Controls {
        Controls {
            threshold: policy.threshold(Algorithm::Pdq).0,
            on_match: policy.on_match,
            account_threshold: policy.account_threshold,
            pdq_dihedral: policy.pdq_dihedral,
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.threshold > 256 {
            return Err(format!(
                "threshold {}: a PDQ distance is at most 256 bits",
                self.threshold
            ));
        }
        if self.account_threshold == 0 {
            return Err("account threshold 0: must be at least 1".into());
        }
        Ok(())
    }
}

/// One send from Alice's panel.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SendRequest {
    /// The text, if any.
    pub text: Option<String>,
    /// `example:NAME` (one of the shipped images) or `upload` (the last
    /// upload); none for a text only.
    pub image: Option<String>,
    /// Edits to the image before sending, in the edit grammar of
    /// [`Chain`] (`crop:0.5+resize:0.6+jpeg:70`; empty or `none` for none).
    pub edits: String,
}

/// The image a send carried.
#[derive(Clone, Debug, Serialize)]
pub struct SentImage {
    /// Its name.
    pub name: String,
    /// The edits made: the chain's canonical text (`none` for none).
    pub edits: String,
    /// Width × height as sent.
    pub width: u32,
    /// Height as sent.
    pub height: u32,
    /// Bytes sent.
    pub bytes: usize,
    /// A small JPEG preview, as a `data:` URL.
    pub preview: String,
    /// The PDQ distance to the nearest hash-set entry, as sent.
    pub nearest: Option<Nearest>,
}

/// How near an image came to the list.
#[derive(Clone, Debug, Serialize)]
pub struct Nearest {
    /// Hamming distance to the nearest entry, in bits (the image as sent).
    pub distance: u32,
    /// Nearest in any of the eight orientations.
    pub dihedral_distance: u32,
    /// The PDQ threshold in force.
    pub threshold: u32,
}

/// One send as the page shows it: the request's image and the library's
/// [`SendOutcome`] (what `cssim send --json` prints).
#[derive(Clone, Debug, Serialize)]
pub struct Sent {
    /// 1, 2, … since the last reset.
    pub number: usize,
    /// The text sent.
    pub text: Option<String>,
    /// The image sent.
    pub image: Option<SentImage>,
    /// The policy it was sent under.
    pub controls: Controls,
    /// The send's outcome.
    pub outcome: SendOutcome,
    /// Server time from request to outcome (editing, encoding, scanning,
    /// sealing, relaying), milliseconds.
    pub server_ms: f64,
    /// Where that time went: (stage, milliseconds), in order.
    pub stages: Vec<(String, f64)>,
}

/// A message Bob's device decrypted (the fields of `cssim inbox --json`,
/// and previews of its images).
#[derive(Clone, Debug, Serialize)]
pub struct Delivered {
    /// Message id, hex (or the relay's id for an unreadable one).
    pub id: String,
    /// Sender.
    pub from: String,
    /// Stated send time.
    pub sent_at: u64,
    /// The text.
    pub text: Option<String>,
    /// Attachments, described.
    pub attachments: Vec<String>,
    /// Image previews, as `data:` URLs.
    pub previews: Vec<String>,
    /// Why it could not be opened, if it could not.
    pub error: Option<String>,
}

/// The uploaded image (kept in memory only).
#[derive(Clone, Debug, Serialize)]
pub struct Upload {
    /// The name the browser gave (shown only; never a path).
    pub name: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Size in bytes.
    pub bytes: usize,
    #[serde(skip)]
    data: Arc<Vec<u8>>,
    /// Its pixels, decoded once when it arrived (a send re-decodes nothing).
    #[serde(skip)]
    pixels: Arc<image::RgbImage>,
}

/// Everything the page shows.
#[derive(Clone, Debug, Serialize)]
pub struct Snapshot {
    /// Changes with every change of state.
    pub version: u64,
    /// The policy for the next message.
    pub controls: Controls,
    /// The shipped example images' names.
    pub examples: Vec<&'static str>,
    /// The names of the examples that are in the hash set.
    pub listed: Vec<&'static str>,
    /// The last upload.
    pub upload: Option<Upload>,
    /// The largest upload accepted, in bytes.
    pub max_upload: u64,
    /// What Alice sent, oldest first.
    pub alice: Vec<Sent>,
    /// The relay operator's view (`cssim relay show --json`).
    pub relay: Overview,
    /// The moderator's queue (`cssim moderate list --json`).
    pub queue: Queue,
    /// What Bob decrypted, oldest first.
    pub bob: Vec<Delivered>,
    /// The guided mode's current caption.
    pub guide: Option<Caption>,
}

/// The demo's state.
pub struct Demo {
    root: PathBuf,
    generation: u32,
    pub(crate) ws: Workspace,
    set: crate::hashset::SignedSet,
    pub(crate) controls: Controls,
    version: u64,
    upload: Option<Upload>,
    alice: Vec<Sent>,
    bob: Vec<Delivered>,
    /// A send happened since Bob's device last took its inbox: it does so
    /// before anything reads the state ([`Demo::settle`]), not on the
    /// sender's time.
    bob_behind: bool,
    /// The controls the workspace's policy file holds, when known.
    written: Option<Controls>,
    pub(crate) guide: Guide,
}

/// An image ready to send: its bytes, and its pixels as the recipient
/// decodes them (decoded once, for the preview and the distance).
struct Prepared {
    name: String,
    bytes: Vec<u8>,
    edits: String,
    pixels: Option<Arc<image::RgbImage>>,
}

/// An error to show in the page: its message, and whether the request was
/// at fault (400s) or the demo (500).
#[derive(Debug)]
pub enum Refusal {
    /// The request asked for something invalid.
    Bad(String),
    /// The demo failed.
    Failed(String),
}

impl From<workspace::Error> for Refusal {
    fn from(e: workspace::Error) -> Refusal {
        Refusal::Failed(e.to_string())
    }
}

impl From<crate::relay::Error> for Refusal {
    fn from(e: crate::relay::Error) -> Refusal {
        Refusal::Failed(e.to_string())
    }
}

fn decode(bytes: &[u8]) -> Result<image::RgbImage, hash::decode::DecodeError> {
    hash::decode::decode(bytes, &hash::decode::Limits::default())
}

/// A `data:` URL of a small JPEG of `image`.
pub(crate) fn preview(image: &image::RgbImage) -> String {
    let (w, h) = image.dimensions();
    let longer = w.max(h).max(1);
    let small = if longer > PREVIEW_SIDE {
        let scale = PREVIEW_SIDE as f32 / longer as f32;
        resample::resize(
            image,
            ((w as f32 * scale).round() as u32).max(1),
            ((h as f32 * scale).round() as u32).max(1),
            resample::Filter::Triangle,
        )
    } else {
        image.clone()
    };
    format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(transform::encode_jpeg(&small, 80))
    )
}

fn preview_bytes(bytes: &[u8]) -> Option<String> {
    decode(bytes).ok().map(|i| preview(&i))
}

impl Demo {
    /// A fresh workspace under `root`.
    pub fn new(root: &Path) -> Result<Demo, workspace::Error> {
        let ws = Workspace::init(&root.join("ws-1"), None)?;
        let set = ws.hashset()?;
        let controls = Controls::of(&ws.policy()?);
        Ok(Demo {
            root: root.to_path_buf(),
            generation: 1,
            ws,
            set,
            controls,
            version: 1,
            upload: None,
            alice: Vec::new(),
            bob: Vec::new(),
            bob_behind: false,
            written: None,
            guide: Guide::default(),
        })
    }

    /// The state version (changes with every change).
    pub fn version(&self) -> u64 {
        self.version
    }

    pub(crate) fn touch(&mut self) {
        self.version += 1;
    }

    /// Starts over: a new workspace (the old one is removed), default policy.
    pub fn reset(&mut self) -> Result<(), Refusal> {
        let old = self.ws.root().to_path_buf();
        self.generation += 1;
        let ws = Workspace::init(&self.root.join(format!("ws-{}", self.generation)), None)?;
        self.set = ws.hashset()?;
        self.controls = Controls::of(&ws.policy()?);
        self.ws = ws;
        self.upload = None;
        self.alice.clear();
        self.bob.clear();
        self.bob_behind = false;
        self.written = None;
        self.guide = Guide::default();
        let _ = std::fs::remove_dir_all(&old);
        self.touch();
        Ok(())
    }

    /// Sets the policy for the next message.
    pub fn set_controls(&mut self, controls: Controls) -> Result<(), Refusal> {
        controls.check().map_err(Refusal::Bad)?;
        self.controls = controls;
        self.touch();
        Ok(())
    }

    /// Keeps an upload in memory, if it decodes as an image.
    pub fn upload(&mut self, name: &str, data: Vec<u8>) -> Result<Upload, Refusal> {
        let image = decode(&data).map_err(|e| {
            Refusal::Bad(format!(
                "{}: not an image this demo can read ({e})",
                shown_name(name)
            ))
        })?;
        let upload = Upload {
            name: shown_name(name),
            width: image.width(),
            height: image.height(),
            bytes: data.len(),
            data: Arc::new(data),
            pixels: Arc::new(image),
        };
        self.upload = Some(upload.clone());
        self.touch();
        Ok(upload)
    }

    /// Writes the controls into the workspace's policy file, so the next
    /// device opened scans under them (unless it holds them already).
    fn write_policy(&mut self) -> Result<(), Refusal> {
        if self.written.as_ref() == Some(&self.controls) {
            return Ok(());
        }
        let mut policy = self.ws.policy()?;
        policy
            .thresholds
            .insert(Algorithm::Pdq, self.controls.threshold);
        policy.on_match = self.controls.on_match;
        policy.account_threshold = self.controls.account_threshold;
        policy.pdq_dihedral = self.controls.pdq_dihedral;
        let path = self.ws.root().join(&self.ws.config().policy);
        crate::files::write_atomic(&path, policy.to_toml().as_bytes(), false)
            .map_err(|e| Refusal::Failed(e.to_string()))?;
        self.written = Some(self.controls.clone());
        Ok(())
    }

    /// The image a request names, edited (pixels edited once, from the
    /// upload's pixels decoded when it arrived) and encoded as sent; `stage`
    /// is told as each step ends.
    fn image_for(
        &self,
        req: &SendRequest,
        stage: &mut impl FnMut(&str),
    ) -> Result<Option<Prepared>, Refusal> {
        let Some(which) = req.image.as_deref() else {
            return Ok(None);
        };
        let (name, original, pixels): (String, &[u8], Option<&Arc<image::RgbImage>>) =
            if which == "upload" {
                let u = self
                    .upload
                    .as_ref()
                    .ok_or_else(|| Refusal::Bad("no image uploaded yet".into()))?;
                (u.name.clone(), &u.data, Some(&u.pixels))
            } else if let Some(n) = which.strip_prefix("example:") {
                let (name, bytes) = EXAMPLES
                    .iter()
                    .find(|(e, _)| *e == n)
                    .ok_or_else(|| Refusal::Bad(format!("no example image named '{n}'")))?;
                (name.to_string(), bytes, None)
            } else {
                return Err(Refusal::Bad(format!(
                    "image '{which}': expected example:NAME or upload"
                )));
            };
        let text = req.edits.trim();
        let chain = if text.is_empty() {
            Chain::identity()
        } else {
            Chain::parse(text).map_err(|e| Refusal::Bad(format!("edits '{text}': {e}")))?
        };
        let words = chain.to_string();
        if chain.is_identity() {
            // Sent as it is: the pixels the recipient decodes are the ones
            // decoded on upload (the same decoder, the same bytes).
            return Ok(Some(Prepared {
                name,
                bytes: original.to_vec(),
                edits: words,
                pixels: pixels.cloned(),
            }));
        }
        let decoded;
        let image: &image::RgbImage = match pixels {
            Some(p) => p,
            None => {
                decoded = decode(original).map_err(|e| Refusal::Bad(format!("{name}: {e}")))?;
                stage("decode the original");
                &decoded
            }
        };
        // A last `jpeg:Q` is how the image is sent, not a round trip
        // before another encoding at SEND_QUALITY.
        let (edits, quality) = match chain.edits().split_last() {
            Some((Edit::Jpeg(q), rest)) => (Chain::new(rest.to_vec()), *q),
            _ => (chain.clone(), SEND_QUALITY),
        };
        let edited = edits
            .apply(image, EDIT_SEED)
            .map_err(|e| Refusal::Bad(format!("edits '{words}': {e}")))?;
        stage("edit");
        let bytes = transform::try_encode_jpeg(&edited, quality)
            .map_err(|e| Refusal::Failed(format!("encoding the edited image: {e}")))?;
        stage("encode the JPEG sent");
        let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
        Ok(Some(Prepared {
            name: format!("{stem}-edited.jpg"),
            bytes,
            edits: words,
            pixels: None,
        }))
    }

    /// The nearest list entry: one PDQ pass gives the hash as sent (the
    /// first of the eight orientations) and the other seven.
    fn nearest(&self, image: &image::RgbImage) -> Option<Nearest> {
        let hashes = pdq::hash_image_dihedral(image).hashes;
        let distance = self.set.nearest(&hashes[0].to_digest())?.0;
        let dihedral_distance = hashes
            .iter()
            .filter_map(|h| self.set.nearest(&h.to_digest()))
            .map(|d| d.0)
            .min()
            .unwrap_or(distance);
        Some(Nearest {
            distance,
            dihedral_distance,
            threshold: self.controls.threshold,
        })
    }

    /// Alice sends to Bob: edited and encoded here, then scanned, sealed,
    /// relayed and (on a match) reported by [`Device::send`]. Bob's device
    /// takes its inbox before the state is next read ([`Demo::settle`]).
    pub fn send(&mut self, req: &SendRequest) -> Result<Sent, Refusal> {
        self.settle()?;
        let start = Instant::now();
        let mut stages = Vec::new();
        let mut lap = Instant::now();
        let mut stage = |name: &str| {
            stages.push((name.to_string(), lap.elapsed().as_secs_f64() * 1e3));
            lap = Instant::now();
        };
        let text = req.text.clone().filter(|t| !t.trim().is_empty());
        let image = self.image_for(req, &mut stage)?;
        if text.is_none() && image.is_none() {
            return Err(Refusal::Bad(
                "nothing to send: write a text or pick an image".into(),
            ));
        }
        let mut attachments = Vec::new();
        let mut sent_image = None;
        let mut pixels_sent = None;
        if let Some(Prepared {
            name,
            bytes,
            edits,
            pixels,
        }) = image
        {
            let pixels = match pixels {
                Some(p) => Some(p),
                None => {
                    let p = decode(&bytes).ok().map(Arc::new);
                    stage("decode as sent");
                    p
                }
            };
            let nearest = pixels.as_deref().and_then(|i| self.nearest(i));
            stage("nearest entry (PDQ ×8)");
            sent_image = Some(SentImage {
                name: name.clone(),
                edits,
                width: pixels.as_ref().map_or(0, |i| i.width()),
                height: pixels.as_ref().map_or(0, |i| i.height()),
                bytes: bytes.len(),
                preview: String::new(),
                nearest,
            });
            pixels_sent = pixels;
            attachments.push(Attachment::Image { name, bytes });
        }
        self.write_policy()?;
        stage("write the policy");
        // The preview is drawn on another thread while Alice's device
        // scans, seals and sends (it is only for the page to show).
        let (outcome, preview) = std::thread::scope(|scope| {
            let preview = pixels_sent.map(|p| scope.spawn(move || preview(&p)));
            let outcome = Device::open(&self.ws, "alice").and_then(|mut alice| {
                stage("open Alice's device");
                alice.send("bob", text.clone(), attachments)
            });
            let preview = preview.map(|p| p.join().unwrap_or_default());
            (outcome, preview)
        });
        let outcome = outcome?;
        if let (Some(image), Some(preview)) = (&mut sent_image, preview) {
            image.preview = preview;
        }
        let scan_ms = outcome
            .verdict
            .timings
            .iter()
            .map(|t| t.nanos as f64 / 1e6)
            .sum::<f64>();
        let send_ms = lap.elapsed().as_secs_f64() * 1e3;
        stages.push(("scan (its steps)".into(), scan_ms));
        stages.push((
            "seal (HPKE), relay, report (the preview alongside)".into(),
            (send_ms - scan_ms).max(0.0),
        ));
        let server_ms = start.elapsed().as_secs_f64() * 1e3;
        let sent = Sent {
            number: self.alice.len() + 1,
            text,
            image: sent_image,
            controls: self.controls.clone(),
            outcome,
            server_ms,
            stages,
        };
        self.alice.push(sent.clone());
        self.bob_behind = true;
        self.touch();
        Ok(sent)
    }

    /// Brings the state up to date before it is read: Bob's device takes
    /// its inbox if a message was sent since it last did.
    pub fn settle(&mut self) -> Result<(), Refusal> {
        if self.bob_behind {
            self.take_bobs_inbox()?;
            self.bob_behind = false;
        }
        Ok(())
    }

    fn take_bobs_inbox(&mut self) -> Result<(), Refusal> {
        for r in Device::open(&self.ws, "bob")?.inbox()? {
            self.bob.push(match r {
                Received::Message(m) => Delivered {
                    id: m.id.to_hex(),
                    from: m.from.clone(),
                    sent_at: m.sent_at,
                    text: m.text.clone(),
                    attachments: m.attachments.iter().map(Attachment::describe).collect(),
                    previews: m
                        .attachments
                        .iter()
                        .filter_map(|a| match a {
                            Attachment::Image { bytes, .. } => preview_bytes(bytes),
                            _ => None,
                        })
                        .collect(),
                    error: None,
                },
                Received::Unreadable { id, reason } => Delivered {
                    id,
                    from: String::new(),
                    sent_at: 0,
                    text: None,
                    attachments: Vec::new(),
                    previews: Vec::new(),
                    error: Some(reason),
                },
            });
        }
        Ok(())
    }

    /// How many messages Bob's device has decrypted.
    pub fn delivered(&mut self) -> Result<usize, Refusal> {
        self.settle()?;
        Ok(self.bob.len())
    }

    /// The relay operator's view.
    pub fn overview(&self) -> Result<Overview, Refusal> {
        Ok(self.ws.relay_as(&self.ws.config().operator)?.overview()?)
    }

    /// Every report, opened and checked with the moderator's key.
    pub fn review(&self) -> Result<Vec<Reviewed>, Refusal> {
        let moderator = self.ws.identity(&self.ws.config().moderator)?;
        let relay = self.ws.relay_as(&self.ws.config().moderator)?;
        Ok(moderation::review(&*relay, &moderator, None)?)
    }

    /// One report as the moderator opens it: the report, its checks, its
    /// history and its evidence (images as previews).
    pub fn report(&self, id: &str) -> Result<serde_json::Value, Refusal> {
        let reviewed = self.review()?;
        let r = find(&reviewed, id)?;
        let opened = r
            .opened
            .as_ref()
            .map_err(|e| Refusal::Bad(format!("report {id} cannot be opened: {e}")))?;
        let evidence: Vec<_> = opened
            .report
            .evidence
            .iter()
            .map(|e| {
                serde_json::json!({
                    "part": e.part, "size": e.size, "text": e.text,
                    "preview": e.bytes.as_deref().and_then(preview_bytes),
                })
            })
            .collect();
        Ok(serde_json::json!({
            "id": hex::encode(r.stored.id),
            "status": r.stored.status,
            "received": crate::clock::rfc3339_from_unix(r.stored.created),
            "verification": r.verification,
            "history": r.stored.history,
            "report": opened.report,
            "evidence": evidence,
        }))
    }

    /// Records the moderator's decision on report `id`.
    pub fn resolve(&mut self, id: &str, outcome: Outcome) -> Result<(), Refusal> {
        let reviewed = self.review()?;
        let r = find(&reviewed, id)?;
        let relay = self.ws.relay_as(&self.ws.config().moderator)?;
        relay.resolve_report(r.stored.id, outcome, true)?;
        self.touch();
        Ok(())
    }

    /// Everything the page shows (Bob's inbox taken first).
    pub fn snapshot(&mut self, max_upload: u64) -> Result<Snapshot, Refusal> {
        self.settle()?;
        Ok(Snapshot {
            version: self.version,
            controls: self.controls.clone(),
            examples: EXAMPLES.iter().map(|(n, _)| *n).collect(),
            listed: EXAMPLES[..3].iter().map(|(n, _)| *n).collect(),
            upload: self.upload.clone(),
            max_upload,
            alice: self.alice.clone(),
            relay: self.overview()?,
            queue: Queue::of(&self.review()?),
            bob: self.bob.clone(),
            guide: self.guide.caption.clone(),
        })
    }
}

/// `%XX` escapes decoded (the page sends the file name URL-encoded, as a
/// header must be ASCII); invalid escapes are kept as they are.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A name fit to show: the file name only, 80 characters at most.
fn shown_name(name: &str) -> String {
    let name = percent_decode(name);
    let leaf = name.rsplit(['/', '\\']).next().unwrap_or("");
    let leaf: String = leaf.chars().filter(|c| !c.is_control()).take(80).collect();
    if leaf.is_empty() {
        "upload".into()
    } else {
        leaf
    }
}

fn find<'r>(reviewed: &'r [Reviewed], id: &str) -> Result<&'r Reviewed, Refusal> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Refusal::Bad(format!(
            "report id '{id}': expected 32 hex digits"
        )));
    }
    reviewed
        .iter()
        .find(|r| hex::encode(r.stored.id) == id.to_ascii_lowercase())
        .ok_or_else(|| Refusal::Bad(format!("no report {id}")))
}
