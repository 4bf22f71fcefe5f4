//! Scanning a message before it is encrypted: [`Policy`] says what to scan
//! and how, [`Scanner::scan`] returns a [`Verdict`] with every match, every
//! part it could not scan, and the time each step took.
//!
//! The scanner asks a [`Matcher`] (a hash set) about each digest; it never
//! encrypts or sends anything.
//!
//! Attachments are classed by content as well as by what the client says: a
//! file whose first bytes are an image's ([`sniff::image_format`]) is also
//! scanned as an image. An image that cannot be hashed perceptually is listed
//! in [`Verdict::unscannable`], and [`Policy::on_unscannable`] decides what
//! that does.

mod policy;
pub mod sniff;

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use policy::{OnMatch, OnUnscannable, Policy, PolicyError};

use crate::hash::{self, Algorithm, Digest, Distance, HashConfig, Threshold};
use crate::hashset::Label;
use crate::message::{Attachment, Message};

/// One entry of a hash set that a digest matched.
///
/// In JSON (and in a report) the label is one string, `category (source)`
/// or `category`, and the entry its hex form: the fields' structure is kept
/// in memory, the output is unchanged.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Hit {
    /// Hamming distance (0 for exact algorithms).
    pub distance: Distance,
    /// The entry's label (category, source), if the set has one.
    #[serde(serialize_with = "wire::label_text")]
    pub label: Option<Label>,
    /// The entry itself, when the set can reveal it (a list; not a Bloom
    /// filter); its algorithm is the match's.
    #[serde(serialize_with = "wire::entry_hex")]
    pub entry: Option<Digest>,
    /// For a Bloom filter: the chance this hit is a false positive.
    pub false_positive_rate: Option<f64>,
}

impl Hit {
    /// The label as shown: `category (source)`, `category`, or `-` without one.
    pub fn label_text(&self) -> String {
        self.label
            .as_ref()
            .map_or_else(|| "-".into(), ToString::to_string)
    }
}

/// Something that can say which entries a digest matches: a hash set.
pub trait Matcher: Send + Sync {
    /// The entries within `threshold` of `digest`.
    fn lookup(&self, digest: &Digest, threshold: Threshold) -> Result<Vec<Hit>, String>;

    /// How images must be hashed to match these entries (EXIF rotation,
    /// JPEG DC route, classic hash size): for a hash set, what its manifest
    /// records. The default is [`HashConfig::default`].
    fn hash_config(&self) -> HashConfig {
        HashConfig::default()
    }
}

impl Matcher for crate::hashset::SignedSet {
    fn lookup(&self, digest: &Digest, threshold: Threshold) -> Result<Vec<Hit>, String> {
        if !self.algorithms().contains(&digest.algorithm()) {
            return Ok(Vec::new());
        }
        let found = crate::hashset::SignedSet::lookup(self, digest, threshold)
            .map_err(|e| e.to_string())?;
        let fpr = found.bloom.as_ref().map(|b| b.compounded_fpr);
        Ok(found
            .matches
            .into_iter()
            .map(|m| Hit {
                distance: m.distance,
                label: m.label,
                entry: m.entry,
                false_positive_rate: fpr,
            })
            .collect())
    }

    fn hash_config(&self) -> HashConfig {
        crate::hashset::SignedSet::hash_config(self)
    }
}

/// Which part of a message matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Part {
    /// The message text.
    Text,
    /// A URL found in the text.
    Url {
        /// The URL (normalised).
        url: String,
    },
    /// An attachment.
    Attachment {
        /// Its position in the message.
        index: usize,
        /// Its name, or URL for links.
        name: String,
    },
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Part::Text => f.write_str("text"),
            Part::Url { url } => write!(f, "url {url}"),
            Part::Attachment { index, name } => write!(f, "attachment #{} {name}", index + 1),
        }
    }
}

/// One match.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "wire::Match")]
pub struct Match {
    /// What matched.
    pub part: Part,
    /// Under which algorithm.
    pub algorithm: Algorithm,
    /// The digest of the part (hex in JSON).
    #[serde(serialize_with = "wire::digest_hex")]
    pub digest: Digest,
    /// The threshold in force.
    pub threshold: Threshold,
    /// The hash-set entry it matched.
    pub hit: Hit,
    /// For a match under [`Policy::pdq_dihedral`] in another orientation
    /// than the part's own: which one (a name from
    /// [`hash::pdq::Dihedral::NAMES`], e.g. `flipx` for a mirror image);
    /// `digest` is then the hash of the part turned that way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orientation: Option<String>,
}

impl std::fmt::Display for Match {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let turned = self
            .orientation
            .as_deref()
            .map_or(String::new(), |o| format!(" (turned {o})"));
        write!(
            f,
            "{} matched via {}{turned} at distance {} (threshold {}), label '{}'",
            self.part,
            self.algorithm,
            self.hit.distance,
            self.threshold,
            self.hit.label_text()
        )
    }
}

/// The JSON form of a match, as reports carry it: the hit's label and entry
/// as text, read back into their types.
mod wire {
    use serde::{Deserialize, Serialize, Serializer};

    use super::{Algorithm, Digest, Distance, Label, Part, Threshold};

    pub(super) fn label_text<S: Serializer>(l: &Option<Label>, s: S) -> Result<S::Ok, S::Error> {
        l.as_ref().map(ToString::to_string).serialize(s)
    }

    pub(super) fn digest_hex<S: Serializer>(d: &Digest, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.to_hex())
    }

    pub(super) fn entry_hex<S: Serializer>(d: &Option<Digest>, s: S) -> Result<S::Ok, S::Error> {
        d.as_ref().map(Digest::to_hex).serialize(s)
    }

    #[derive(Deserialize)]
    pub(super) struct Hit {
        distance: Distance,
        label: Option<String>,
        entry: Option<String>,
        false_positive_rate: Option<f64>,
    }

    #[derive(Deserialize)]
    pub(super) struct Match {
        part: Part,
        algorithm: Algorithm,
        digest: String,
        threshold: Threshold,
        hit: Hit,
        #[serde(default)]
        orientation: Option<String>,
    }

    impl TryFrom<Match> for super::Match {
        type Error = String;

        fn try_from(m: Match) -> Result<super::Match, String> {
            let entry = m
                .hit
                .entry
                .map(|e| Digest::from_hex(m.algorithm, &e).map_err(|e| format!("hit entry: {e}")))
                .transpose()?;
            let digest =
                Digest::from_hex(m.algorithm, &m.digest).map_err(|e| format!("digest: {e}"))?;
            Ok(super::Match {
                part: m.part,
                algorithm: m.algorithm,
                digest,
                threshold: m.threshold,
                hit: super::Hit {
                    distance: m.hit.distance,
                    label: m.hit.label.as_deref().map(Label::from_text),
                    entry,
                    false_positive_rate: m.hit.false_positive_rate,
                },
                orientation: m.orientation,
            })
        }
    }
}

/// Why a part could not be scanned as the policy asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// An image that did not decode: corrupt, truncated, empty, over the
    /// size limits, or not an image at all.
    Undecodable,
    /// An image in a format this build does not decode (TIFF, HEIF, AVIF…).
    UnsupportedFormat,
    /// An image whose PDQ quality is below [`Policy::min_pdq_quality`]
    /// (flat or nearly so): its PDQ hash is not matched.
    LowQuality,
}

/// A part the scanner could not hash perceptually. Its exact hashes were
/// still checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unscannable {
    /// Which part.
    pub part: Part,
    /// Why, as data.
    pub cause: Cause,
    /// Why, in words: e.g. `not decoded (corrupt or truncated JPEG data: …)`.
    pub reason: String,
}

impl std::fmt::Display for Unscannable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.part, self.reason)
    }
}

/// What kind of work a [`Timing`] measured, as data (its `step` says it in
/// words, with the part): what `cssim bench` adds up per kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Normalising a text and hashing it and its links.
    HashText,
    /// Hashing a link attachment.
    HashLink,
    /// Decoding an image.
    Decode,
    /// Hashing a part with one algorithm (perceptual or exact).
    Hash,
    /// Hashing an image's eight orientations with PDQ.
    HashDihedral,
    /// Looking a digest up in the hash set.
    Lookup,
}

/// How long one step took.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// The step, e.g. `decode cat.jpg` or `pdq cat.jpg`.
    pub step: String,
    /// Its kind (absent in verdicts stored before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    /// The algorithm of a [`Stage::Hash`] or [`Stage::Lookup`] step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<Algorithm>,
    /// Its duration in microseconds.
    pub micros: u64,
    /// Its duration in nanoseconds (0 in verdicts stored before it was
    /// recorded).
    #[serde(default)]
    pub nanos: u64,
}

/// What the scanner decided, declared in order of severity (a report still
/// delivers the message, a block does not), so that `max` gives the more
/// severe of two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Nothing matched, or the policy allows what was found: send.
    Allow,
    /// Policy `warn`: tell the sender, send.
    Warn,
    /// Policy `report`: send, and report to the moderators.
    Report,
    /// Policy `block`: do not send.
    Block,
}

impl Action {
    /// 0 for allow, 1 warn, 2 report, 3 block (the declaration order).
    pub fn severity(self) -> u8 {
        self as u8
    }
}

impl From<OnMatch> for Action {
    fn from(on: OnMatch) -> Action {
        match on {
            OnMatch::Report => Action::Report,
            OnMatch::Block => Action::Block,
            OnMatch::Warn => Action::Warn,
        }
    }
}

impl From<OnUnscannable> for Action {
    fn from(on: OnUnscannable) -> Action {
        match on {
            OnUnscannable::Allow => Action::Allow,
            OnUnscannable::Warn => Action::Warn,
            OnUnscannable::Report => Action::Report,
            OnUnscannable::Block => Action::Block,
        }
    }
}

/// The outcome of scanning one message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Every match found.
    pub matches: Vec<Match>,
    /// What to do: the more severe of the policy's `on_match` (if anything
    /// matched) and `on_unscannable` (if any part could not be scanned).
    pub action: Action,
    /// Images that could not be hashed perceptually, and why.
    pub unscannable: Vec<Unscannable>,
    /// Time per step, in order.
    pub timings: Vec<Timing>,
    /// Other things worth knowing: parts the policy leaves unscanned, failed
    /// lookups. Unscannable parts are in `unscannable`, not here.
    pub notes: Vec<String>,
    /// Lookups the hash set could not answer (each also a note), as data.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_lookups: Vec<FailedLookup>,
}

/// A lookup the hash set could not answer: the part was hashed, but whether
/// it matched is unknown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedLookup {
    /// Which part.
    pub part: Part,
    /// The digest's algorithm.
    pub algorithm: Algorithm,
    /// What the hash set said.
    pub reason: String,
}

impl Verdict {
    /// Total scanning time.
    pub fn total(&self) -> Duration {
        Duration::from_micros(self.timings.iter().map(|t| t.micros).sum())
    }
}

/// Scans messages under a policy against a hash set.
pub struct Scanner<'a> {
    policy: Policy,
    matcher: &'a dyn Matcher,
    config: HashConfig,
}

impl<'a> Scanner<'a> {
    /// A scanner for `policy` over `matcher`, hashing images the way the
    /// matcher's entries were hashed ([`Matcher::hash_config`]): a set
    /// built without EXIF rotation, or with 256-bit pHashes, is matched by
    /// hashes made the same way.
    /// The policy's `pdq_route` decides where PDQ's pixels come from.
    pub fn new(policy: Policy, matcher: &'a dyn Matcher) -> Scanner<'a> {
        let mut config = matcher.hash_config();
        config.pdq_route = policy.pdq_route;
        Scanner {
            policy,
            config,
            matcher,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Scans `message`.
    pub fn scan(&self, message: &Message) -> Verdict {
        let mut run = Run {
            scanner: self,
            verdict: Verdict {
                matches: Vec::new(),
                action: Action::Allow,
                unscannable: Vec::new(),
                timings: Vec::new(),
                notes: Vec::new(),
                failed_lookups: Vec::new(),
            },
        };
        if self.policy.scan_text {
            if let Some(text) = &message.text {
                run.scan_text(text);
            }
        }
        for (index, attachment) in message.attachments.iter().enumerate() {
            run.scan_attachment(index, attachment);
        }
        let mut verdict = run.verdict;
        if !verdict.matches.is_empty() {
            verdict.action = verdict.action.max(self.policy.on_match.into());
        }
        if !verdict.unscannable.is_empty() {
            verdict.action = verdict.action.max(self.policy.on_unscannable.into());
        }
        verdict
    }
}

struct Run<'s, 'a> {
    scanner: &'s Scanner<'a>,
    verdict: Verdict,
}

impl Run<'_, '_> {
    fn time<T>(
        &mut self,
        (stage, algorithm): (Stage, Option<Algorithm>),
        step: impl Into<String>,
        f: impl FnOnce() -> T,
    ) -> T {
        let start = Instant::now();
        let out = f();
        let elapsed = start.elapsed();
        self.verdict.timings.push(Timing {
            step: step.into(),
            stage: Some(stage),
            algorithm,
            micros: elapsed.as_micros() as u64,
            nanos: elapsed.as_nanos() as u64,
        });
        out
    }

    fn check(&mut self, part: Part, digest: Digest) {
        let algorithm = digest.algorithm();
        let threshold = self.scanner.policy.threshold(algorithm);
        let hits = self.time(
            (Stage::Lookup, Some(algorithm)),
            format!("lookup {algorithm} for {part}"),
            || self.scanner.matcher.lookup(&digest, threshold),
        );
        match hits {
            Ok(hits) => {
                for hit in hits {
                    self.verdict.matches.push(Match {
                        part: part.clone(),
                        algorithm,
                        digest: digest.clone(),
                        threshold,
                        hit,
                        orientation: None,
                    });
                }
            }
            Err(e) => self.lookup_failed(part, algorithm, e),
        }
    }

    fn lookup_failed(&mut self, part: Part, algorithm: Algorithm, reason: String) {
        self.verdict
            .notes
            .push(format!("{part}: lookup failed: {reason}"));
        self.verdict.failed_lookups.push(FailedLookup {
            part,
            algorithm,
            reason,
        });
    }

    fn scan_text(&mut self, text: &str) {
        let d = self.time((Stage::HashText, None), "hash text", || {
            hash::text::digests(text)
        });
        self.check(Part::Text, d.text);
        for (url, digest) in d.urls {
            self.check(Part::Url { url }, digest);
        }
    }

    fn scan_attachment(&mut self, index: usize, attachment: &Attachment) {
        let policy = &self.scanner.policy;
        match attachment {
            Attachment::Link { url } if policy.scan_links => {
                let part = Part::Attachment {
                    index,
                    name: url.clone(),
                };
                let digest = self.time((Stage::HashLink, None), format!("hash {part}"), || {
                    hash::text::hash_url(url)
                });
                self.check(part, digest);
            }
            Attachment::Image { name, bytes } if policy.scan_images => {
                let part = Part::Attachment {
                    index,
                    name: name.clone(),
                };
                let exact = exact_only(&policy.image_algorithms);
                self.scan_image(part, bytes, &exact);
            }
            Attachment::File { name, bytes } => self.scan_file(index, name, bytes),
            _ => self
                .verdict
                .notes
                .push(format!("attachment #{} not scanned (policy)", index + 1)),
        }
    }

    /// A file attachment: its exact hashes if the policy scans files, and,
    /// if its content is a picture (a HEIF photo the client did not
    /// recognise, say) and the policy scans images, everything an image gets:
    /// classing by the client's label alone would let a picture through
    /// without a perceptual hash.
    fn scan_file(&mut self, index: usize, name: &str, bytes: &[u8]) {
        let policy = &self.scanner.policy;
        let as_image = policy.scan_images && sniff::image_format(bytes).is_some();
        if !policy.scan_files && !as_image {
            self.verdict
                .notes
                .push(format!("attachment #{} not scanned (policy)", index + 1));
            return;
        }
        let part = Part::Attachment {
            index,
            name: name.to_string(),
        };
        let mut exact = if policy.scan_files {
            policy.file_algorithms.clone()
        } else {
            Vec::new()
        };
        if as_image {
            for a in exact_only(&policy.image_algorithms) {
                if !exact.contains(&a) {
                    exact.push(a);
                }
            }
            self.scan_image(part, bytes, &exact);
        } else {
            self.scan_exact(&part, bytes, &exact);
        }
    }

    fn scan_exact(&mut self, part: &Part, bytes: &[u8], algorithms: &[Algorithm]) {
        for &a in algorithms {
            let digest = match a {
                Algorithm::Sha256 => {
                    self.time((Stage::Hash, Some(a)), format!("sha256 {part}"), || {
                        hash::exact::sha256(bytes)
                    })
                }
                Algorithm::Md5 => self.time((Stage::Hash, Some(a)), format!("md5 {part}"), || {
                    hash::exact::md5(bytes)
                }),
                _ => continue,
            };
            self.check(part.clone(), digest);
        }
    }

    fn unscannable(&mut self, part: Part, cause: Cause, reason: String) {
        let u = Unscannable {
            part,
            cause,
            reason,
        };
        self.verdict.unscannable.push(u);
    }

    /// Runs the `exact` hashes and the policy's perceptual ones over an image.
    fn scan_image(&mut self, part: Part, bytes: &[u8], exact: &[Algorithm]) {
        let algorithms = self.scanner.policy.image_algorithms.clone();
        if !algorithms.iter().any(|a| a.is_perceptual()) {
            // Nothing asks for pixels: the image is scanned as the policy says.
            self.scan_exact(&part, bytes, exact);
            return;
        }
        let config = &self.scanner.config;
        let decoded = self.time((Stage::Decode, None), format!("decode {part}"), || {
            hash::decode_for(bytes, &algorithms, config)
        });
        self.scan_exact(&part, bytes, exact);
        let decoded = match decoded {
            Ok(d) => d,
            Err(e) => {
                let (cause, reason) = match sniff::image_format(bytes) {
                    Some(f) if !f.is_decoded() => (
                        Cause::UnsupportedFormat,
                        format!("not decoded ({f}, a format this build does not decode)"),
                    ),
                    _ => (Cause::Undecodable, format!("not decoded ({e})")),
                };
                self.unscannable(part, cause, format!("{reason}; exact hashes only"));
                return;
            }
        };
        if decoded.pdq_route() == hash::PdqRoute::Fast {
            self.verdict.notes.push(format!(
                "{part}: PDQ from a reduced-scale decode of the JPEG (pdq_route = \"fast\"; not bit-exact)"
            ));
        }
        for a in algorithms.into_iter().filter(|a| a.is_perceptual()) {
            if a == Algorithm::Pdq && self.scanner.policy.pdq_dihedral {
                self.scan_pdq_dihedral(&part, &decoded);
            } else if a == Algorithm::Pdq {
                let Some(pdq) = self.time(
                    (Stage::Hash, Some(Algorithm::Pdq)),
                    format!("pdq {part}"),
                    || decoded.pdq(),
                ) else {
                    continue;
                };
                let min = self.scanner.policy.min_pdq_quality;
                if let Err(low) = hash::pdq::quality_gate(pdq.quality, min) {
                    self.unscannable(part.clone(), Cause::LowQuality, low.to_string());
                    continue;
                }
                self.check(part.clone(), pdq.hash.to_digest());
            } else {
                let config = &self.scanner.config;
                let digest = self.time((Stage::Hash, Some(a)), format!("{a} {part}"), || {
                    decoded.classic(config, a)
                });
                if let Some(d) = digest {
                    self.check(part.clone(), d);
                }
            }
        }
    }
}

impl Run<'_, '_> {
    /// PDQ in all eight orientations ([`Policy::pdq_dihedral`]): each entry
    /// matched is kept once, at its smallest distance (the part's own
    /// orientation first among equals), with the orientation that gave it.
    fn scan_pdq_dihedral(&mut self, part: &Part, decoded: &hash::Decoded) {
        let Some(variants) = self.time(
            (Stage::HashDihedral, Some(Algorithm::Pdq)),
            format!("pdq ×8 orientations {part}"),
            || decoded.pdq_dihedral(),
        ) else {
            return;
        };
        let min = self.scanner.policy.min_pdq_quality;
        if let Err(low) = hash::pdq::quality_gate(variants.quality, min) {
            self.unscannable(part.clone(), Cause::LowQuality, low.to_string());
            return;
        }
        let threshold = self.scanner.policy.threshold(Algorithm::Pdq);
        let matcher = self.scanner.matcher;
        let answers = self.time(
            (Stage::Lookup, Some(Algorithm::Pdq)),
            format!("lookup pdq ×8 for {part}"),
            || {
                variants
                    .hashes
                    .iter()
                    .map(|h| {
                        let digest = h.to_digest();
                        matcher
                            .lookup(&digest, threshold)
                            .map(|hits| (digest, hits))
                    })
                    .collect::<Vec<_>>()
            },
        );
        let mut best: Vec<Match> = Vec::new();
        for (variant, answer) in answers.into_iter().enumerate() {
            let (digest, hits) = match answer {
                Ok(a) => a,
                Err(e) => {
                    self.lookup_failed(part.clone(), Algorithm::Pdq, e);
                    continue;
                }
            };
            for hit in hits {
                let same = best
                    .iter_mut()
                    .find(|m| m.hit.entry == hit.entry && m.hit.label == hit.label);
                if let Some(m) = &same {
                    if m.hit.distance <= hit.distance {
                        continue;
                    }
                }
                let found = Match {
                    part: part.clone(),
                    algorithm: Algorithm::Pdq,
                    digest: digest.clone(),
                    threshold,
                    hit,
                    orientation: (variant > 0)
                        .then(|| hash::pdq::Dihedral::NAMES[variant].to_string()),
                };
                match same {
                    Some(m) => *m = found,
                    None => best.push(found),
                }
            }
        }
        self.verdict.matches.extend(best);
    }
}

/// The exact (non-perceptual) algorithms among `algorithms`.
fn exact_only(algorithms: &[Algorithm]) -> Vec<Algorithm> {
    algorithms
        .iter()
        .copied()
        .filter(|a| !a.is_perceptual())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageId;

    /// Brute force over a list: the simplest correct matcher.
    struct ListMatcher(Vec<(Digest, &'static str)>);

    impl Matcher for ListMatcher {
        fn lookup(&self, digest: &Digest, threshold: Threshold) -> Result<Vec<Hit>, String> {
            Ok(self
                .0
                .iter()
                .filter_map(|(d, label)| {
                    let distance = d.distance(digest)?;
                    threshold.admits(distance).then(|| Hit {
                        distance,
                        label: Some(Label::new(*label)),
                        entry: Some(d.clone()),
                        false_positive_rate: None,
                    })
                })
                .collect())
        }
    }

    fn png(img: &image::RgbImage) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn picture() -> image::RgbImage {
        image::RgbImage::from_fn(160, 120, |x, y| {
            let (fx, fy) = (x as f32, y as f32);
            let v = (128.0 + 120.0 * (fx / 5.0).sin() * (fy / 7.0).cos()) as u8;
            image::Rgb([v, (fx + fy) as u8, 255 - v])
        })
    }

    fn message(text: Option<&str>, attachments: Vec<Attachment>) -> Message {
        Message {
            id: MessageId([1; 16]),
            from: "alice".into(),
            to: "bob".into(),
            sent_at: 0,
            text: text.map(String::from),
            attachments,
        }
    }

    fn listed() -> ListMatcher {
        let img = picture();
        ListMatcher(vec![
            (
                hash::pdq::hash_image(&img).hash.to_digest(),
                "stand-in/pattern",
            ),
            (hash::text::hash("Forbidden  PHRASE"), "stand-in/text"),
            (
                hash::text::hash_url("https://bad.example/x"),
                "stand-in/url",
            ),
        ])
    }

    /// A hash set that cannot answer PDQ lookups.
    struct FailingPdq;

    impl Matcher for FailingPdq {
        fn lookup(&self, digest: &Digest, _: Threshold) -> Result<Vec<Hit>, String> {
            if digest.algorithm() == Algorithm::Pdq {
                Err("index unavailable".into())
            } else {
                Ok(Vec::new())
            }
        }
    }

    #[test]
    fn a_failed_lookup_is_recorded_as_data_and_every_step_has_its_stage() {
        let scanner = Scanner::new(Policy::default(), &FailingPdq);
        let m = message(
            Some("hi"),
            vec![Attachment::Image {
                name: "p.png".into(),
                bytes: png(&picture()),
            }],
        );
        let v = scanner.scan(&m);
        assert_eq!(
            v.failed_lookups,
            vec![FailedLookup {
                part: Part::Attachment {
                    index: 0,
                    name: "p.png".into()
                },
                algorithm: Algorithm::Pdq,
                reason: "index unavailable".into(),
            }]
        );
        assert_eq!(
            v.notes,
            vec!["attachment #1 p.png: lookup failed: index unavailable"]
        );
        let kinds: Vec<_> = v.timings.iter().map(|t| (t.stage, t.algorithm)).collect();
        assert_eq!(
            kinds,
            vec![
                (Some(Stage::HashText), None),
                (Some(Stage::Lookup), Some(Algorithm::Text)),
                (Some(Stage::Decode), None),
                (Some(Stage::Hash), Some(Algorithm::Sha256)),
                (Some(Stage::Lookup), Some(Algorithm::Sha256)),
                (Some(Stage::Hash), Some(Algorithm::Pdq)),
                (Some(Stage::Lookup), Some(Algorithm::Pdq)),
            ]
        );
        for t in &v.timings {
            assert_eq!(t.micros, t.nanos / 1000, "{t:?}");
        }
        // A verdict stored before stages and nanoseconds were recorded still reads.
        let old: Timing = serde_json::from_str(r#"{"step":"decode x","micros":5}"#).unwrap();
        assert_eq!((old.stage, old.nanos), (None, 0));
    }

    #[test]
    fn resized_listed_image_is_reported_with_its_label_and_timings() {
        let matcher = listed();
        let scanner = Scanner::new(Policy::default(), &matcher);
        let small =
            image::imageops::resize(&picture(), 80, 60, image::imageops::FilterType::Triangle);
        let m = message(
            Some("hi"),
            vec![Attachment::Image {
                name: "copy.png".into(),
                bytes: png(&small),
            }],
        );
        let v = scanner.scan(&m);
        assert_eq!(v.action, Action::Report, "{v:?}");
        assert_eq!(v.matches.len(), 1);
        let hit = &v.matches[0];
        assert_eq!(hit.algorithm, Algorithm::Pdq);
        assert_eq!(hit.hit.label_text(), "stand-in/pattern");
        assert!(hit.hit.distance.0 <= 31);
        for step in [
            "hash text",
            "decode attachment #1 copy.png",
            "pdq attachment #1 copy.png",
        ] {
            assert!(
                v.timings.iter().any(|t| t.step == step),
                "no timing for {step}: {:?}",
                v.timings
            );
        }
    }

    #[test]
    fn pdq_dihedral_matches_a_mirrored_copy_once_naming_the_orientation() {
        // A photo: smooth enough that PDQ's downsampling commutes with a
        // flip (a synthetic high-frequency pattern does not, to tens of bits).
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/images/listed/rocket.jpg"
        ))
        .unwrap();
        let photo = hash::decode::decode(&bytes, &hash::decode::Limits::default()).unwrap();
        let listed_as = |img: &image::RgbImage, label| {
            ListMatcher(vec![(hash::pdq::hash_image(img).hash.to_digest(), label)])
        };
        let dihedral = || Policy {
            pdq_dihedral: true,
            ..Policy::default()
        };
        let matcher = listed_as(&photo, "rocket");
        let mirrored = image::imageops::flip_horizontal(&photo);
        let m = message(None, vec![image("mirror.png", png(&mirrored))]);
        let plain = Scanner::new(Policy::default(), &matcher).scan(&m);
        assert_eq!((plain.action, plain.matches.len()), (Action::Allow, 0));
        let v = Scanner::new(dihedral(), &matcher).scan(&m);
        assert_eq!((v.action, v.matches.len()), (Action::Report, 1), "{v:?}");
        assert_eq!(v.matches[0].orientation.as_deref(), Some("flipy"));
        assert!(v.matches[0].hit.distance.0 <= 4, "{v:?}");
        assert!(v.matches[0].to_string().contains("via pdq (turned flipy)"));
        // A picture symmetric left to right matches as is and mirrored, at
        // the same distance: one match, in its own orientation.
        let (w, h) = photo.dimensions();
        let symmetric =
            image::RgbImage::from_fn(w, h, |x, y| *photo.get_pixel(x.min(w - 1 - x), y));
        let matcher = listed_as(&symmetric, "symmetric");
        let v = Scanner::new(dihedral(), &matcher)
            .scan(&message(None, vec![image("s.png", png(&symmetric))]));
        assert_eq!(v.matches.len(), 1, "{v:?}");
        assert_eq!(v.matches[0].orientation, None);
        assert_eq!(v.matches[0].hit.distance, Distance(0));
    }

    #[test]
    fn attachments_get_the_classic_hashes_cssim_hash_gives() {
        // A 600-px JPEG whose pHash from DC coefficients (opt-in) differs
        // from a full decode's (the default); the scanner must use the same
        // route as `hash::digest_bytes`, or a listed file would be off by bits.
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/images/benign/hubble_deep_field.jpg"
        ))
        .unwrap();
        let digest = |config: &HashConfig| {
            hash::digest_bytes(&bytes, &[Algorithm::Phash], config)
                .unwrap()
                .digests[0]
                .clone()
        };
        let listed = digest(&HashConfig::default());
        let mut dc = HashConfig::default();
        dc.jpeg_dc = true;
        assert_ne!(listed, digest(&dc), "this file must tell the routes apart");
        let matcher = ListMatcher(vec![(listed, "stand-in/astronaut")]);
        let policy = Policy {
            image_algorithms: vec![Algorithm::Phash],
            ..Policy::default()
        };
        let scanner = Scanner::new(policy, &matcher);
        let v = scanner.scan(&message(
            None,
            vec![Attachment::Image {
                name: "astronaut.jpg".into(),
                bytes: bytes.clone(),
            }],
        ));
        assert_eq!(v.matches.len(), 1, "{v:?}");
        assert_eq!(v.matches[0].hit.distance, hash::Distance(0));
    }

    #[test]
    fn text_and_urls_match_after_normalisation() {
        let matcher = listed();
        let scanner = Scanner::new(
            Policy {
                on_match: OnMatch::Block,
                ..Policy::default()
            },
            &matcher,
        );
        let v = scanner.scan(&message(Some("  forbidden phrase "), vec![]));
        assert_eq!((v.action, v.matches.len()), (Action::Block, 1));
        let v = scanner.scan(&message(Some("look at HTTPS://BAD.example/x now"), vec![]));
        assert_eq!(
            v.matches[0].part,
            Part::Url {
                url: "https://bad.example/x".into()
            }
        );
        let v = scanner.scan(&message(
            None,
            vec![Attachment::Link {
                url: "https://bad.example/x".into(),
            }],
        ));
        assert_eq!(v.matches.len(), 1);
        let v = scanner.scan(&message(Some("an ordinary message"), vec![]));
        assert_eq!((v.action, v.matches.len()), (Action::Allow, 0));
    }

    #[test]
    fn low_quality_images_are_unscannable_and_unscanned_parts_noted() {
        let flat = image::RgbImage::from_pixel(100, 100, image::Rgb([128, 128, 128]));
        let matcher = ListMatcher(vec![(
            hash::pdq::hash_image(&flat).hash.to_digest(),
            "flat",
        )]);
        let scanner = Scanner::new(
            Policy {
                scan_files: false,
                ..Policy::default()
            },
            &matcher,
        );
        let m = message(
            None,
            vec![
                Attachment::Image {
                    name: "flat.png".into(),
                    bytes: png(&flat),
                },
                Attachment::File {
                    name: "a.bin".into(),
                    bytes: vec![1, 2, 3],
                },
            ],
        );
        let v = scanner.scan(&m);
        assert_eq!(v.action, Action::Warn, "the default on_unscannable");
        assert!(v.matches.is_empty());
        assert_eq!(
            v.unscannable,
            vec![Unscannable {
                part: Part::Attachment {
                    index: 0,
                    name: "flat.png".into()
                },
                cause: Cause::LowQuality,
                reason: "PDQ quality 0 below 50, not matched".into(),
            }]
        );
        assert_eq!(
            v.unscannable[0].to_string(),
            "attachment #1 flat.png: PDQ quality 0 below 50, not matched"
        );
        assert!(
            v.notes.iter().any(|n| n.contains("#2 not scanned")),
            "{:?}",
            v.notes
        );
    }

    const ALL_ON_UNSCANNABLE: [(OnUnscannable, Action); 4] = [
        (OnUnscannable::Allow, Action::Allow),
        (OnUnscannable::Warn, Action::Warn),
        (OnUnscannable::Report, Action::Report),
        (OnUnscannable::Block, Action::Block),
    ];

    /// A real photo with its end-of-image marker cut off: most viewers
    /// still show it.
    fn truncated_rocket() -> Vec<u8> {
        let mut bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/images/listed/rocket.jpg"
        ))
        .unwrap();
        assert_eq!(bytes[bytes.len() - 2..], [0xFF, 0xD9]);
        bytes.truncate(bytes.len() - 2);
        bytes
    }

    fn image(name: &str, bytes: Vec<u8>) -> Attachment {
        Attachment::Image {
            name: name.into(),
            bytes,
        }
    }

    fn with(on_match: OnMatch, on_unscannable: OnUnscannable) -> Policy {
        Policy {
            on_match,
            on_unscannable,
            ..Policy::default()
        }
    }

    #[test]
    fn actions_are_ordered_by_severity() {
        use Action::*;
        let mut all = [Block, Report, Allow, Warn];
        all.sort();
        assert_eq!(all, [Allow, Warn, Report, Block]);
        assert_eq!(all.map(Action::severity), [0, 1, 2, 3]);
        assert_eq!(Report.max(Block), Block);
        assert_eq!(Report.max(Warn), Report);
    }

    #[test]
    fn a_truncated_jpeg_is_unscannable_and_the_policy_decides() {
        let bytes = truncated_rocket();
        let matcher = listed();
        for (on_unscannable, expected) in ALL_ON_UNSCANNABLE {
            let scanner = Scanner::new(with(OnMatch::Report, on_unscannable), &matcher);
            let v = scanner.scan(&message(
                Some("hi"),
                vec![image("rocket.jpg", bytes.clone())],
            ));
            assert_eq!(v.action, expected, "{on_unscannable:?}");
            assert!(v.matches.is_empty());
            assert_eq!(v.unscannable.len(), 1, "{v:?}");
            let u = &v.unscannable[0];
            assert_eq!(
                u.part,
                Part::Attachment {
                    index: 0,
                    name: "rocket.jpg".into()
                }
            );
            assert_eq!(u.cause, Cause::Undecodable);
            assert_eq!(
                u.to_string(),
                "attachment #1 rocket.jpg: not decoded (corrupt or truncated JPEG data: \
                 truncated: no end-of-image marker after the scan data); exact hashes only"
            );
            // The exact hash was still looked up.
            assert!(
                v.timings
                    .iter()
                    .any(|t| t.step == "sha256 attachment #1 rocket.jpg"),
                "{:?}",
                v.timings
            );
        }
    }

    #[test]
    fn a_low_quality_image_is_unscannable_and_the_policy_decides() {
        let flat = image::RgbImage::from_pixel(100, 100, image::Rgb([40, 90, 200]));
        // Listed by PDQ: a match must not count below the quality floor.
        let matcher = ListMatcher(vec![(
            hash::pdq::hash_image(&flat).hash.to_digest(),
            "flat",
        )]);
        for (on_unscannable, expected) in ALL_ON_UNSCANNABLE {
            let scanner = Scanner::new(with(OnMatch::Block, on_unscannable), &matcher);
            let v = scanner.scan(&message(None, vec![image("flat.png", png(&flat))]));
            assert_eq!(v.action, expected, "{on_unscannable:?}");
            assert!(v.matches.is_empty(), "{v:?}");
            assert_eq!(v.unscannable.len(), 1);
            assert_eq!(v.unscannable[0].cause, Cause::LowQuality);
            assert_eq!(
                v.unscannable[0].to_string(),
                "attachment #1 flat.png: PDQ quality 0 below 50, not matched"
            );
        }
        // With the floor at 0 the same image is scanned and matches.
        let scanner = Scanner::new(
            Policy {
                min_pdq_quality: 0,
                ..with(OnMatch::Block, OnUnscannable::Allow)
            },
            &matcher,
        );
        let v = scanner.scan(&message(None, vec![image("flat.png", png(&flat))]));
        assert_eq!((v.action, v.matches.len()), (Action::Block, 1));
        assert!(v.unscannable.is_empty());
    }

    #[test]
    fn a_match_and_an_unscannable_part_give_the_more_severe_action() {
        let matcher = listed();
        let listed_copy = image("copy.png", png(&picture()));
        let cut = image("rocket.jpg", truncated_rocket());
        for (on_match, on_unscannable, expected) in [
            (OnMatch::Report, OnUnscannable::Block, Action::Block),
            (OnMatch::Block, OnUnscannable::Warn, Action::Block),
            (OnMatch::Warn, OnUnscannable::Report, Action::Report),
            (OnMatch::Report, OnUnscannable::Warn, Action::Report),
            (OnMatch::Report, OnUnscannable::Allow, Action::Report),
            (OnMatch::Warn, OnUnscannable::Allow, Action::Warn),
        ] {
            let scanner = Scanner::new(with(on_match, on_unscannable), &matcher);
            let v = scanner.scan(&message(None, vec![listed_copy.clone(), cut.clone()]));
            assert_eq!(v.action, expected, "{on_match:?} + {on_unscannable:?}");
            assert_eq!(v.matches.len(), 1);
            assert_eq!(v.matches[0].hit.label_text(), "stand-in/pattern");
            assert_eq!(v.unscannable.len(), 1);
            assert_eq!(
                v.unscannable[0].part,
                Part::Attachment {
                    index: 1,
                    name: "rocket.jpg".into()
                }
            );
        }
        // Each alone gives its own action.
        let scanner = Scanner::new(with(OnMatch::Warn, OnUnscannable::Block), &matcher);
        assert_eq!(
            scanner.scan(&message(None, vec![listed_copy])).action,
            Action::Warn
        );
        assert_eq!(
            scanner.scan(&message(None, vec![cut])).action,
            Action::Block
        );
    }

    #[test]
    fn an_unscannable_image_is_still_matched_by_its_exact_hash() {
        let bytes = truncated_rocket();
        let matcher = ListMatcher(vec![(hash::exact::sha256(&bytes), "stand-in/cut")]);
        let scanner = Scanner::new(with(OnMatch::Report, OnUnscannable::Allow), &matcher);
        let v = scanner.scan(&message(None, vec![image("rocket.jpg", bytes)]));
        assert_eq!(v.action, Action::Report);
        assert_eq!(v.matches.len(), 1);
        assert_eq!(v.matches[0].algorithm, Algorithm::Sha256);
        assert_eq!(v.unscannable.len(), 1);
    }

    #[test]
    fn pictures_in_formats_not_decoded_are_unscannable_even_sent_as_files() {
        let tiff = b"II*\0\x08\0\0\0\0\0".to_vec();
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\0\0".to_vec();
        let matcher = listed();
        let scanner = Scanner::new(with(OnMatch::Report, OnUnscannable::Block), &matcher);
        let v = scanner.scan(&message(
            None,
            vec![
                image("scan.tif", tiff.clone()),
                Attachment::File {
                    name: "IMG_0001.HEIC".into(),
                    bytes: heic.clone(),
                },
                Attachment::File {
                    name: "todo.txt".into(),
                    bytes: b"P1 priority: fix the build".to_vec(),
                },
            ],
        ));
        assert_eq!(v.action, Action::Block);
        let found: Vec<String> = v.unscannable.iter().map(|u| u.to_string()).collect();
        assert_eq!(
            found,
            [
                "attachment #1 scan.tif: not decoded (TIFF, a format this build does not decode); exact hashes only",
                "attachment #2 IMG_0001.HEIC: not decoded (HEIF, a format this build does not decode); exact hashes only",
            ]
        );
        assert!(
            v.unscannable
                .iter()
                .all(|u| u.cause == Cause::UnsupportedFormat)
        );
        // A policy that does not scan images does not ask for pixels, so
        // nothing is unscannable; neither does one with exact hashes only.
        for policy in [
            Policy {
                scan_images: false,
                ..with(OnMatch::Report, OnUnscannable::Block)
            },
            Policy {
                image_algorithms: vec![Algorithm::Sha256],
                ..with(OnMatch::Report, OnUnscannable::Block)
            },
        ] {
            let scanner = Scanner::new(policy, &matcher);
            let v = scanner.scan(&message(
                None,
                vec![
                    image("scan.tif", tiff.clone()),
                    Attachment::File {
                        name: "IMG_0001.HEIC".into(),
                        bytes: heic.clone(),
                    },
                ],
            ));
            assert_eq!((v.action, v.unscannable.len()), (Action::Allow, 0), "{v:?}");
        }
    }

    #[test]
    fn a_listed_picture_sent_as_a_file_is_matched_perceptually() {
        let matcher = listed();
        let scanner = Scanner::new(Policy::default(), &matcher);
        let v = scanner.scan(&message(
            None,
            vec![Attachment::File {
                name: "copy.dat".into(),
                bytes: png(&picture()),
            }],
        ));
        assert_eq!(v.action, Action::Report);
        assert_eq!(v.matches.len(), 1);
        assert_eq!(v.matches[0].algorithm, Algorithm::Pdq);
        assert!(v.unscannable.is_empty());
    }

    #[test]
    fn unscannable_parts_serialise_with_the_verdict() {
        let matcher = listed();
        let scanner = Scanner::new(Policy::default(), &matcher);
        let v = scanner.scan(&message(
            None,
            vec![image("rocket.jpg", truncated_rocket())],
        ));
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["action"], "warn");
        assert_eq!(
            json["unscannable"][0]["part"],
            serde_json::json!({"kind": "attachment", "index": 0, "name": "rocket.jpg"})
        );
        assert_eq!(json["unscannable"][0]["cause"], "undecodable");
        let back: Verdict = serde_json::from_value(json).unwrap();
        assert_eq!(back, v);
    }

    /// The hit's label and entry are typed in memory, but a match's JSON (what
    /// `--json` prints and a report carries) is the same text as before, and
    /// reads back into the same value.
    #[test]
    fn a_match_writes_its_label_and_entry_as_text_and_reads_them_back() {
        let entry = Digest::from_hex(Algorithm::Pdq, &"ab".repeat(32)).unwrap();
        let m = Match {
            part: Part::Attachment {
                index: 0,
                name: "a.jpg".into(),
            },
            algorithm: Algorithm::Pdq,
            digest: Digest::from_hex(Algorithm::Pdq, &"cd".repeat(32)).unwrap(),
            threshold: Threshold(31),
            hit: Hit {
                distance: Distance(3),
                label: Some(Label::new("demo").with_source("test list")),
                entry: Some(entry),
                false_positive_rate: None,
            },
            orientation: None,
        };
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["hit"]["label"], "demo (test list)");
        assert_eq!(json["hit"]["entry"], "ab".repeat(32));
        assert_eq!(json["digest"], "cd".repeat(32), "the part's digest is hex");
        assert_eq!(serde_json::from_value::<Match>(json).unwrap(), m);
        let mut plain = m.clone();
        plain.hit.label = Some(Label::new("demo"));
        plain.hit.entry = None;
        let json = serde_json::to_value(&plain).unwrap();
        assert_eq!(json["hit"]["label"], "demo");
        assert!(json["hit"]["entry"].is_null());
        assert_eq!(serde_json::from_value::<Match>(json).unwrap(), plain);
        assert_eq!(plain.hit.label_text(), "demo");
        let mut bad = serde_json::to_value(&m).unwrap();
        bad["hit"]["entry"] = "zz".into();
        assert!(serde_json::from_value::<Match>(bad).is_err());
        // The part's digest is typed too: a report whose digest is not a
        // PDQ hash does not read.
        let mut bad = serde_json::to_value(&m).unwrap();
        bad["digest"] = "cd".into();
        let e = serde_json::from_value::<Match>(bad)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("digest:"), "{e}");
    }
}
