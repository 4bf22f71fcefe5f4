//! What scanning costs a sending device per message, measured on the real
//! pipeline: [`scan::Scanner`] under a policy against a [`SignedSet`], then
//! the HPKE seal, for a text message and for a message with one image —
//! each step's median and 99th percentile over N runs on one thread. This
//! is `cssim bench`; the web page and the scenario simulator's latency
//! figures read the same [`Report`].

use std::time::Instant;

use serde::Serialize;

use crate::e2ee::{self, Envelope, Identity};
use crate::hash::{self, Algorithm, Digest};
use crate::hashset::SignedSet;
use crate::message::{Attachment, Message, MessageId};
use crate::scan::{Matcher, Policy, Scanner, Stage, Timing};

/// A measurement that could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The image did not decode (the bench measures a scannable image).
    #[error("the image {path} does not decode: {reason}")]
    Image {
        /// The image's name.
        path: String,
        /// Why.
        reason: String,
    },
    /// The hash set could not answer a lookup: the figures would leave out
    /// the step that failed.
    #[error("the hash set could not answer a {algorithm} lookup: {reason}")]
    Lookup {
        /// The digest's algorithm.
        algorithm: Algorithm,
        /// What the hash set said.
        reason: String,
    },
    /// Sealing failed.
    #[error("sealing the message failed: {0}")]
    Seal(#[from] e2ee::Error),
}

/// The image scanned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImageInfo {
    /// Its name as given.
    pub path: String,
    /// Its size in bytes.
    pub bytes: usize,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
}

/// Where the hash set came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SetSource {
    /// The shipped demo set.
    Demo {
        /// Its distinct entries.
        entries: u64,
    },
    /// A set file.
    File {
        /// Its path.
        path: String,
        /// Its distinct entries.
        entries: u64,
    },
    /// Random PDQ entries, built and signed in memory.
    Generated {
        /// Its distinct entries.
        entries: u64,
        /// The seed of the entries (and of the Bloom filter).
        seed: u64,
        /// The representations built (`list`, `bloom`).
        representations: Vec<String>,
        /// The size of the signed file.
        file_bytes: usize,
    },
}

/// The hash set measured against.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SetInfo {
    /// Where it came from.
    #[serde(flatten)]
    pub source: SetSource,
    /// A Bloom-only set's PDQ probe radius.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bloom_radius: Option<u32>,
    /// Time to verify its signature and build its index, in µs (to the
    /// nanosecond); none for the demo set, loaded before the clock starts.
    pub load_us: Option<f64>,
    /// One line for people.
    #[serde(skip)]
    pub description: String,
}

/// One measured step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepCost {
    /// `text: seal`, `image: PDQ lookup`, …
    pub step: String,
    /// Median, µs with whole nanoseconds.
    pub median_us: f64,
    /// 99th percentile, µs with whole nanoseconds.
    pub p99_us: f64,
}

/// `cssim bench`'s result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Runs per step.
    pub runs: u32,
    /// The image.
    pub image: ImageInfo,
    /// The hash set.
    pub hashset: SetInfo,
    /// Each step, text message first, then the image message, then the
    /// near-entry lookup.
    pub steps: Vec<StepCost>,
    /// In how many runs the near-entry query found its entry (when the set
    /// has a list to take an entry from).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub near_entry_hits: Option<u32>,
}

/// What to measure.
pub struct Setup<'a> {
    /// The hash set.
    pub set: &'a SignedSet,
    /// Described as.
    pub hashset: SetInfo,
    /// The policy the scanner runs (its image algorithms and thresholds).
    pub policy: Policy,
    /// The image's name and bytes.
    pub image: (&'a str, &'a [u8]),
    /// Runs per step.
    pub runs: u32,
}

/// The text of the text message.
const TEXT: &str = "Are we still on for Saturday? I found the photos from last summer.";

/// A step's name in the report: what kind of work, not which part.
fn step_name(kind: &str, timing: &Timing) -> String {
    let algorithm = timing.algorithm.map(display_name);
    let what = match (timing.stage, algorithm) {
        (Some(Stage::HashText), _) => "normalise + SHA-256".to_string(),
        (Some(Stage::HashLink), _) => "link SHA-256".to_string(),
        (Some(Stage::Decode), _) => "decode".to_string(),
        (Some(Stage::Hash), Some(a)) => a.to_string(),
        (Some(Stage::HashDihedral), _) => "PDQ ×8 orientations".to_string(),
        (Some(Stage::Lookup), Some(_)) if kind == "text" => "lookup".to_string(),
        (Some(Stage::Lookup), Some(a)) => format!("{a} lookup"),
        _ => timing.step.clone(),
    };
    format!("{kind}: {what}")
}

/// How the report names an algorithm: `PDQ`, `SHA-256`, `pHash`.
fn display_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::Pdq => "PDQ",
        Algorithm::Phash => "pHash",
        Algorithm::Dhash => "dHash",
        Algorithm::Ahash => "aHash",
        Algorithm::Sha256 => "SHA-256",
        Algorithm::Md5 => "MD5",
        Algorithm::Text => "text",
    }
}

/// Durations per step name, in first-seen order.
#[derive(Default)]
struct Samples(Vec<(String, Vec<u64>)>);

impl Samples {
    fn push(&mut self, name: String, nanos: u64) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => v.push(nanos),
            None => self.0.push((name, vec![nanos])),
        }
    }

    /// Adds a scan's timings (steps of the same name in one scan summed:
    /// two lookups of one algorithm are one step's cost) and returns their
    /// total.
    fn scan(&mut self, kind: &str, timings: &[Timing]) -> u64 {
        let mut run = Samples::default();
        for t in timings {
            let name = step_name(kind, t);
            match run.0.iter_mut().find(|(n, _)| *n == name) {
                Some((_, v)) => v[0] += t.nanos,
                None => run.0.push((name, vec![t.nanos])),
            }
        }
        let mut total = 0;
        for (name, v) in run.0 {
            total += v[0];
            self.push(name, v[0]);
        }
        total
    }
}

/// The value at quantile `q` (nearest rank) of a non-empty sample.
fn quantile(sorted: &[u64], q: f64) -> u64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

/// Microseconds with whole nanoseconds: what the clock measured, no more.
fn micros(nanos: u64) -> f64 {
    nanos as f64 / 1e3
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed().as_nanos() as u64)
}

/// A listed PDQ hash with 8 bits flipped: a query that hits.
fn near_entry(set: &SignedSet) -> Option<Digest> {
    set.list()?;
    let entries = set.entries(Algorithm::Pdq).ok()?;
    let (first, _) = entries.first()?;
    let mut b = first.bytes().to_vec();
    for byte in b.iter_mut().step_by(4) {
        *byte ^= 0x01;
    }
    Some(Digest::new(Algorithm::Pdq, b))
}

fn message(text: Option<&str>, attachments: Vec<Attachment>) -> Message {
    Message {
        id: MessageId::random(),
        from: "alice".into(),
        to: "bob".into(),
        sent_at: 0,
        text: text.map(String::from),
        attachments,
    }
}

/// Fails on the first lookup the set could not answer.
fn answered(verdict: &crate::scan::Verdict) -> Result<(), Error> {
    match verdict.failed_lookups.first() {
        Some(f) => Err(Error::Lookup {
            algorithm: f.algorithm,
            reason: f.reason.clone(),
        }),
        None => Ok(()),
    }
}

/// Measures `setup.runs` text messages and image messages through the
/// scanner and the seal, and (when the set has a list) a query near a
/// listed PDQ hash.
pub fn measure(setup: Setup<'_>) -> Result<Report, Error> {
    let Setup {
        set,
        hashset,
        policy,
        image: (image_name, image_bytes),
        runs,
    } = setup;
    let limits = hash::decode::Limits::default();
    let (width, height) = hash::decode::decode(image_bytes, &limits)
        .map(|i| i.dimensions())
        .map_err(|e| Error::Image {
            path: image_name.to_string(),
            reason: e.to_string(),
        })?;
    let pdq_threshold = policy.threshold(Algorithm::Pdq);
    let scanner = Scanner::new(policy, set);
    let (alice, bob) = (Identity::generate(), Identity::generate());
    let seal = |msg: &Message| {
        Envelope::seal(&alice, &bob.public(), msg.id.0, 0, [0; 32], &msg.to_bytes())
            .map(|e| e.to_bytes())
    };
    let near = near_entry(set);
    let mut text = Samples::default();
    let mut image = Samples::default();
    let mut near_samples = Vec::new();
    let mut near_hits = 0u32;
    for _ in 0..runs {
        let msg = message(Some(TEXT), Vec::new());
        let verdict = scanner.scan(&msg);
        answered(&verdict)?;
        let scanned = text.scan("text", &verdict.timings);
        let (sealed, nanos) = timed(|| seal(&msg));
        sealed?;
        text.push("text: seal".into(), nanos);
        text.push("text: total".into(), scanned + nanos);

        let msg = message(
            None,
            vec![Attachment::Image {
                name: image_name.to_string(),
                bytes: image_bytes.to_vec(),
            }],
        );
        let verdict = scanner.scan(&msg);
        answered(&verdict)?;
        if let Some(u) = verdict.unscannable.first() {
            return Err(Error::Image {
                path: image_name.to_string(),
                reason: u.reason.clone(),
            });
        }
        let scanned = image.scan("image", &verdict.timings);
        let (sealed, nanos) = timed(|| seal(&msg));
        sealed?;
        image.push("image: seal".into(), nanos);
        image.push("image: total".into(), scanned + nanos);

        if let Some(q) = &near {
            let (hits, nanos) = timed(|| Matcher::lookup(set, q, pdq_threshold));
            let hits = hits.map_err(|reason| Error::Lookup {
                algorithm: Algorithm::Pdq,
                reason,
            })?;
            near_samples.push(nanos);
            near_hits += u32::from(!hits.is_empty());
        }
    }
    let mut all = text.0;
    all.extend(image.0);
    if near.is_some() {
        all.push(("lookup: PDQ near an entry".into(), near_samples));
    }
    let steps = all
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(step, mut v)| {
            v.sort_unstable();
            StepCost {
                step,
                median_us: micros(quantile(&v, 0.5)),
                p99_us: micros(quantile(&v, 0.99)),
            }
        })
        .collect();
    Ok(Report {
        runs,
        image: ImageInfo {
            path: image_name.to_string(),
            bytes: image_bytes.len(),
            width,
            height,
        },
        hashset,
        steps,
        near_entry_hits: near.map(|_| near_hits),
    })
}
