//! `eval rates`: detection and false-match rates of perceptual hashes on a
//! corpus of real images, under edits, with intervals.
//!
//! - A **genuine pair** is an original and its edited copy (one per image ×
//!   edit chain): the rate at threshold T at which the copy still matches is
//!   the detection rate of that edit.
//! - An **impostor pair** is two distinct originals: the rate at which they
//!   match is the false-match rate. Every pair is counted when that fits,
//!   else N seeded random pairs ([`PairMode`]).
//!
//! Each hash comes from the [`cache`] when a sound record
//! holds it, else it is computed (rayon, one file per task; a file is
//! decoded at most once a run) and appended. PDQ hashes below
//! [`pdq::MIN_QUALITY`] never match (the quality gate every cssim matcher
//! applies): originals below it are left out of PDQ's pairs and counted,
//! edited copies below it count as missed. The engine computes and never
//! prints; [`Progress`] tells the caller how far it is.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::binomial::{self, Method};
use super::cache::{self, Cache};
use super::pairs::{self, Packed};
use crate::hash::{self, Algorithm, Digest, HashConfig, PdqRoute, Threshold, pdq};
use crate::hashset::SignedSet;

pub use super::transform::Chain;

/// Pairs above which `--pairs auto` samples instead of counting all.
pub const AUTO_ALL_PAIRS_LIMIT: u64 = 10_000_000_000;
/// Pairs `--pairs auto` samples above the limit.
pub const AUTO_SAMPLES: u64 = 100_000_000;

/// Which impostor pairs are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PairMode {
    /// Every pair up to [`AUTO_ALL_PAIRS_LIMIT`], else [`AUTO_SAMPLES`] random pairs.
    Auto,
    /// Every pair, however many.
    All,
    /// This many seeded random pairs (every pair when that is fewer).
    Sample(u64),
}

/// What to measure.
#[derive(Debug)]
pub struct Config {
    /// The corpus folder (searched recursively; hidden files skipped).
    pub corpus: PathBuf,
    /// Perceptual algorithms, in the order reported.
    pub algorithms: Vec<Algorithm>,
    /// Edit chains for the genuine pairs.
    pub edits: Vec<Chain>,
    /// Impostor pairs.
    pub pairs: PairMode,
    /// Seed of the sampled pairs and of the edits' random choices.
    pub seed: u64,
    /// PDQ matched against the eight rotations and mirror images.
    pub dihedral: bool,
    /// The threshold rates are reported at (default: each algorithm's own).
    pub threshold: Option<u32>,
    /// The false-match rate a threshold is sought for.
    pub target_fmr: f64,
    /// Derive the rate at which one innocent image matches a list this long.
    pub list_size: Option<u64>,
    /// Closest impostor pairs kept.
    pub closest: usize,
    /// Group originals within this PDQ distance (first algorithm's, without
    /// PDQ) as one image.
    pub dedupe: Option<u32>,
    /// Worker threads (default: rayon's, one per core).
    pub threads: Option<usize>,
    /// Confidence of the intervals.
    pub confidence: f64,
    /// How images are decoded and hashed.
    pub hash: HashConfig,
}

impl Config {
    /// A configuration with the defaults `cssim eval rates` uses.
    pub fn new(corpus: PathBuf, algorithms: Vec<Algorithm>, edits: Vec<Chain>) -> Config {
        Config {
            corpus,
            algorithms,
            edits,
            pairs: PairMode::Auto,
            seed: 0,
            dihedral: false,
            threshold: None,
            target_fmr: 1e-3,
            list_size: None,
            closest: 20,
            dedupe: None,
            threads: None,
            confidence: 0.95,
            hash: HashConfig::default(),
        }
    }

    /// The key text of an original's PDQ hash: [`Config::hashing_key`] and,
    /// on the fast route, the route (edited copies are images in memory, not
    /// JPEG files, so the route never changes their hashes). `half` names the
    /// fast route since it reads baseline JPEGs of 128–511 px at 1/2 scale:
    /// a cache written before then holds those originals' exact hashes.
    fn original_pdq_key(&self) -> String {
        match self.hash.pdq_route {
            PdqRoute::Exact => self.hashing_key(),
            PdqRoute::Fast => format!("{};pdq_route=fast+half", self.hashing_key()),
        }
    }

    /// The hashing configuration as the cache keys on it.
    pub fn hashing_key(&self) -> String {
        format!(
            "classic={}x{};exif_rotate={}",
            hash::classic::VARIANT,
            self.hash.classic_size(),
            self.hash.limits.exif_rotate
        )
    }
}

/// A signed set to measure against (`--set`).
pub struct SetInput<'a> {
    /// The set, verified.
    pub set: &'a SignedSet,
    /// Its file, as given.
    pub path: String,
}

/// Why a run could not be done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The corpus folder could not be read.
    #[error("corpus {}: {}", path.display(), crate::files::describe_io_error(source))]
    Corpus {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Fewer than two images decoded: there is no pair to count.
    #[error("corpus {}: {found} decodable image{}; at least 2 are needed{}",
            path.display(), if *found == 1 { "" } else { "s" }, skipped_list(skipped))]
    TooFewImages {
        /// The folder.
        path: PathBuf,
        /// Images that decoded.
        found: usize,
        /// The files skipped, with reasons.
        skipped: Vec<Skipped>,
    },
    /// An algorithm that does not compare by distance.
    #[error("'{0}' is not a perceptual algorithm (expected pdq, phash, dhash or ahash)")]
    NotPerceptual(Algorithm),
    /// No algorithm or no edit.
    #[error("nothing to measure: {0}")]
    Empty(&'static str),
    /// The cache could not be read or written.
    #[error(transparent)]
    Cache(#[from] cache::Error),
    /// The worker threads could not be started.
    #[error("cannot start {threads} worker threads: {reason}")]
    Threads {
        /// How many.
        threads: usize,
        /// Why.
        reason: String,
    },
    /// The signed set could not answer.
    #[error("hash set {path}: {source}")]
    Set {
        /// The set's file.
        path: String,
        /// Why.
        source: crate::hashset::Error,
    },
}

/// `; 2 files skipped: a.txt (not an image), b.jpg (…)`, the first
/// [`SKIPPED_LISTED`] by name and how many more.
fn skipped_list(skipped: &[Skipped]) -> String {
    if skipped.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "; {} file{} skipped: ",
        skipped.len(),
        if skipped.len() == 1 { "" } else { "s" }
    );
    let listed: Vec<String> = skipped
        .iter()
        .take(SKIPPED_LISTED)
        .map(|s| format!("{} ({})", s.path.display(), s.reason))
        .collect();
    out.push_str(&listed.join(", "));
    if skipped.len() > SKIPPED_LISTED {
        out.push_str(&format!(" and {} more", skipped.len() - SKIPPED_LISTED));
    }
    out
}

/// Skipped files a [`Error::TooFewImages`] names (the rest are counted).
pub const SKIPPED_LISTED: usize = 10;

/// How far a run is: stages, each with a total, and the position within it.
/// Called from worker threads.
pub trait Progress: Sync {
    /// A stage starts (`hashing`, `impostor pairs pdq`…) with `total` steps.
    fn stage(&self, _name: &str, _total: u64) {}
    /// `done` steps of the current stage are done.
    fn position(&self, _done: u64) {}
}

/// No progress reports.
pub struct Silent;
impl Progress for Silent {}

/// A rate with its interval.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rate {
    /// Events (matches).
    pub events: u64,
    /// Trials (pairs).
    pub trials: u64,
    /// events / trials (0 with no trials).
    pub rate: f64,
    /// Lower bound of the interval.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// Which interval.
    pub interval: Method,
    /// As printed: `3.2e-3 [1.1e-3, 9.0e-3]`, `< 1.4e-4`, `> 0.97`.
    pub text: String,
}

impl Rate {
    /// `events` of `trials` at `confidence`.
    pub fn new(events: u64, trials: u64, confidence: f64) -> Rate {
        let (i, method) = binomial::rate_interval(events, trials, confidence);
        let rate = if trials == 0 {
            0.0
        } else {
            events as f64 / trials as f64
        };
        let text = if trials == 0 {
            "no pairs".to_string()
        } else if events == 0 {
            format!("< {}", short(i.upper))
        } else if events >= trials {
            format!("> {}", short(i.lower))
        } else {
            format!("{} [{}, {}]", short(rate), short(i.lower), short(i.upper))
        };
        Rate {
            events,
            trials,
            rate,
            lower: i.lower,
            upper: i.upper,
            interval: method,
            text,
        }
    }
}

/// Two significant digits, more when a rate just below 1 would round to
/// 1: `0.97`, `0.5`, `0.997`, `3.2e-2`, `1.4e-4`.
pub fn short(x: f64) -> String {
    if x == 0.0 || x == 1.0 {
        return format!("{x}");
    }
    if x < 0.1 {
        return format!("{x:.1e}");
    }
    let mut decimals = 2;
    let mut s = format!("{x:.decimals$}");
    while x < 1.0 && s.starts_with('1') && decimals < 8 {
        decimals += 1;
        s = format!("{x:.decimals$}");
    }
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// A file left out, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The file.
    #[serde(serialize_with = "crate::report::serialize_path")]
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

/// An edit that failed on one image (that pair is left out).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EditFailure {
    /// The image.
    #[serde(serialize_with = "crate::report::serialize_path")]
    pub path: PathBuf,
    /// The chain.
    pub edit: String,
    /// Why.
    pub reason: String,
}

/// The corpus as read.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Corpus {
    /// The folder.
    #[serde(serialize_with = "crate::report::serialize_path")]
    pub path: PathBuf,
    /// Files found.
    pub files: usize,
    /// Images that decoded (the originals).
    pub images: usize,
    /// Files skipped, with reasons.
    pub skipped: Vec<Skipped>,
    /// Edits that failed.
    pub edit_failures: Vec<EditFailure>,
    /// With `--dedupe`: originals grouped with another (left out of the
    /// impostor pairs; one image per group stays).
    pub deduplicated: usize,
    /// With `--dedupe`: groups of more than one image.
    pub duplicate_groups: usize,
}

/// Impostor pairs of one algorithm.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Impostor {
    /// Pairs counted.
    pub pairs: u64,
    /// Whether they were sampled (else: every pair of `images`).
    pub sampled: bool,
    /// Originals the pairs are drawn from.
    pub images: usize,
    /// `histogram[d]`: pairs at distance exactly d.
    pub histogram: Vec<u64>,
    /// False-match rate at the threshold.
    pub false_match: Rate,
    /// The closest pairs, nearest first (the first is the smallest distance).
    pub closest: Vec<ClosestPair>,
}

/// Two originals and their distance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClosestPair {
    /// The distance.
    pub distance: u32,
    /// One file.
    #[serde(serialize_with = "crate::report::serialize_path")]
    pub a: PathBuf,
    /// The other.
    #[serde(serialize_with = "crate::report::serialize_path")]
    pub b: PathBuf,
}

/// Genuine pairs of one algorithm and edit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Genuine {
    /// The edit chain (canonical text).
    pub edit: String,
    /// Pairs (originals with an edited copy).
    pub pairs: u64,
    /// `histogram[d]`: pairs at distance exactly d (pairs gated by PDQ
    /// quality are in `pairs` but in no bin: they never match).
    pub histogram: Vec<u64>,
    /// Edited copies below PDQ's quality floor (counted as missed).
    pub below_quality: u64,
    /// Detection rate at the threshold.
    pub detection: Rate,
}

/// The threshold that meets a target false-match rate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TargetThreshold {
    /// The target.
    pub target_fmr: f64,
    /// The largest threshold whose measured rate is at most the target.
    pub measured: Option<u32>,
    /// The largest threshold whose interval's upper bound is at most the
    /// target (none when too few pairs to show a rate that low).
    pub bounded: Option<u32>,
}

/// The equal-error threshold: where the miss rate (over every genuine pair
/// of every edit) and the false-match rate are closest.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EqualError {
    /// The threshold.
    pub threshold: u32,
    /// Miss rate there.
    pub miss_rate: f64,
    /// False-match rate there.
    pub false_match_rate: f64,
}

/// The chance that one innocent image matches a list of N entries.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ListRate {
    /// Derived (1 − (1 − p)^N from the pair rate and its interval), not measured.
    pub derived: bool,
    /// N.
    pub entries: u64,
    /// The rate.
    pub rate: f64,
    /// From the pair rate's lower bound.
    pub lower: f64,
    /// From the pair rate's upper bound.
    pub upper: f64,
}

/// Originals matched against a signed set (measured via its index).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SetRate {
    /// The set's file.
    pub set: String,
    /// Entries of this algorithm in it.
    pub entries: usize,
    /// The threshold used.
    pub threshold: u32,
    /// Originals that matched an entry, of those looked up.
    pub matched: Rate,
}

/// One algorithm's results.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlgorithmResult {
    /// `pdq`, `phash`…
    pub algorithm: String,
    /// Bits per hash.
    pub bits: u32,
    /// Matched against rotations and mirror images.
    pub dihedral: bool,
    /// The threshold the rates are given at.
    pub threshold: u32,
    /// Originals left out below PDQ's quality floor.
    pub below_quality: usize,
    /// Impostor pairs.
    pub impostor: Impostor,
    /// Genuine pairs, one entry per edit.
    pub genuine: Vec<Genuine>,
    /// The threshold for the target false-match rate.
    pub threshold_for_target: TargetThreshold,
    /// The equal-error threshold (none without genuine pairs).
    pub equal_error: Option<EqualError>,
    /// `--list-size`.
    pub list: Option<ListRate>,
    /// `--set`.
    pub set: Option<SetRate>,
}

/// What the run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Hashes computed (one per image × edit × algorithm not in the cache).
    pub hashes_computed: u64,
    /// Hashes read from the cache.
    pub hashes_cached: u64,
    /// Files decoded.
    pub images_decoded: u64,
    /// Originals read from the cache's pixel store instead of decoded
    /// ([`cache::pixels`]).
    pub images_from_pixel_cache: u64,
    /// Edits applied.
    pub edits_applied: u64,
    /// Corrupt cache lines skipped (their hashes were recomputed).
    pub corrupt_cache_lines: usize,
    /// Originals whose PDQ came from their JPEG's DC image or 1/2-scale
    /// decode (`--pdq-route fast`: JPEGs at least [`hash::PDQ_FAST_MIN_SIDE`]
    /// px on the shorter side, baseline ones of at least
    /// [`hash::PDQ_FAST_HALF_MIN_SIDE`]); 0 on the exact route.
    pub pdq_fast_route: u64,
}

/// Everything a run measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Results {
    /// The corpus.
    pub corpus: Corpus,
    /// One per algorithm.
    pub algorithms: Vec<AlgorithmResult>,
    /// What was computed and what was cached.
    pub stats: Stats,
}

/// The hash kind cached for an algorithm.
fn kind(algorithm: Algorithm, dihedral: bool) -> &'static str {
    match algorithm {
        Algorithm::Pdq if dihedral => "pdq8",
        a => a.name(),
    }
}

/// Bits of one hash of `algorithm` under `config`.
pub fn bits(algorithm: Algorithm, config: &HashConfig) -> u32 {
    match algorithm {
        Algorithm::Pdq => 256,
        _ => config.classic_size() * config.classic_size(),
    }
}

/// The hashes of one file: per chain (the original first), per algorithm.
struct FileHashes {
    path: PathBuf,
    hashes: Vec<Option<Vec<cache::Value>>>,
}

/// Runs the measurement.
pub fn run(
    config: &Config,
    cache: &Cache,
    set: Option<&SetInput<'_>>,
    progress: &dyn Progress,
) -> Result<Results, Error> {
    if config.algorithms.is_empty() {
        return Err(Error::Empty("no algorithm"));
    }
    if let Some(&a) = config.algorithms.iter().find(|a| !a.is_perceptual()) {
        return Err(Error::NotPerceptual(a));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads.unwrap_or(0))
        .build()
        .map_err(|e| Error::Threads {
            threads: config.threads.unwrap_or(0),
            reason: e.to_string(),
        })?;
    pool.install(|| run_in_pool(config, cache, set, progress))
}

fn run_in_pool(
    config: &Config,
    cache: &Cache,
    set: Option<&SetInput<'_>>,
    progress: &dyn Progress,
) -> Result<Results, Error> {
    let files = list_files(&config.corpus).map_err(|source| Error::Corpus {
        path: config.corpus.clone(),
        source,
    })?;
    let mut chains = vec![Chain::identity()];
    chains.extend(config.edits.iter().cloned());
    let stats = Counters::default();
    let skipped = Mutex::new(Vec::new());
    let failures = Mutex::new(Vec::new());
    progress.stage("hashing", files.len() as u64);
    let done = AtomicU64::new(0);
    let mut hashed: Vec<FileHashes> = files
        .par_iter()
        .map(|path| {
            let r = hash_file(config, cache, &chains, path, &stats);
            progress.position(done.fetch_add(1, Ordering::Relaxed) + 1);
            r
        })
        .collect::<Result<Vec<_>, Error>>()?
        .into_iter()
        .filter_map(|r| match r {
            FileOutcome::Hashed(h, fails) => {
                failures
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(fails);
                Some(h)
            }
            FileOutcome::Skipped(s) => {
                skipped.lock().unwrap_or_else(|p| p.into_inner()).push(s);
                None
            }
        })
        .collect();
    let mut skipped = skipped.into_inner().unwrap_or_else(|p| p.into_inner());
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    if hashed.len() < 2 {
        return Err(Error::TooFewImages {
            path: config.corpus.clone(),
            found: hashed.len(),
            skipped,
        });
    }
    hashed.sort_by(|a, b| a.path.cmp(&b.path));
    let mut corpus = Corpus {
        path: config.corpus.clone(),
        files: files.len(),
        images: hashed.len(),
        skipped,
        edit_failures: failures.into_inner().unwrap_or_else(|p| p.into_inner()),
        ..Corpus::default()
    };
    corpus
        .edit_failures
        .sort_by(|a, b| (&a.path, &a.edit).cmp(&(&b.path, &b.edit)));
    let keep = dedupe(config, &hashed, &mut corpus);
    let mut algorithms = Vec::new();
    for (ai, &algorithm) in config.algorithms.iter().enumerate() {
        algorithms.push(measure(
            config, &hashed, &keep, &chains, ai, algorithm, set, progress,
        )?);
    }
    let stats = Stats {
        hashes_computed: stats.computed.load(Ordering::Relaxed),
        hashes_cached: stats.cached.load(Ordering::Relaxed),
        images_decoded: stats.decoded.load(Ordering::Relaxed),
        images_from_pixel_cache: stats.pixels_cached.load(Ordering::Relaxed),
        edits_applied: stats.edits.load(Ordering::Relaxed),
        corrupt_cache_lines: cache.corrupt_lines,
        pdq_fast_route: hashed
            .iter()
            .filter(|f| f.hashes[0].as_ref().is_some_and(|h| h.iter().any(|v| v.dc)))
            .count() as u64,
    };
    Ok(Results {
        corpus,
        algorithms,
        stats,
    })
}

#[derive(Default)]
struct Counters {
    computed: AtomicU64,
    cached: AtomicU64,
    decoded: AtomicU64,
    pixels_cached: AtomicU64,
    edits: AtomicU64,
}

enum FileOutcome {
    Hashed(FileHashes, Vec<EditFailure>),
    Skipped(Skipped),
}

/// Every file under `dir`, sorted; hidden files and folders left out (a
/// folder below `dir` that cannot be read is skipped; `dir` itself is an
/// error). `eval rates`' corpus and the scenario library are listed alike.
pub(crate) fn list_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut first = true;
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if first => return Err(e),
            Err(_) => continue,
        };
        first = false;
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn hash_file(
    config: &Config,
    cache: &Cache,
    chains: &[Chain],
    path: &Path,
    stats: &Counters,
) -> Result<FileOutcome, Error> {
    let skip = |reason: String| {
        Ok(FileOutcome::Skipped(Skipped {
            path: path.to_path_buf(),
            reason,
        }))
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return skip(crate::files::describe_io_error(&e)),
    };
    if bytes.len() as u64 > config.hash.limits.max_file_bytes {
        return skip(format!(
            "{} bytes, over the limit of {}",
            bytes.len(),
            config.hash.limits.max_file_bytes
        ));
    }
    let content: [u8; 32] = Sha256::digest(&bytes).into();
    let hashing = config.hashing_key();
    let original_pdq = config.original_pdq_key();
    let kinds: Vec<&str> = config
        .algorithms
        .iter()
        .map(|&a| kind(a, config.dihedral))
        .collect();
    // Per chain, per algorithm: the key and the cached value, if any.
    let mut slots: Vec<Vec<(cache::Key, Option<cache::Value>)>> = chains
        .iter()
        .enumerate()
        .map(|(ci, c)| {
            // An edit may draw random choices from the seed; the original does not.
            let text = if ci == 0 {
                c.to_string()
            } else {
                format!("{c} seed={}", config.seed)
            };
            kinds
                .iter()
                .zip(&config.algorithms)
                .map(|(k, &a)| {
                    let h = if ci == 0 && a == Algorithm::Pdq {
                        &original_pdq
                    } else {
                        &hashing
                    };
                    let key = cache::key(&content, &text, k, h);
                    (key, cache.get(&key).cloned())
                })
                .collect()
        })
        .collect();
    let missing = slots.iter().flatten().filter(|(_, v)| v.is_none()).count() as u64;
    stats.cached.fetch_add(
        slots.iter().flatten().count() as u64 - missing,
        Ordering::Relaxed,
    );
    let mut failures = Vec::new();
    let mut records = Vec::new();
    // On the fast route, a JPEG original's PDQ comes from its DC image or
    // its 1/2-scale decode.
    let pdq_slot = config.algorithms.iter().position(|&a| a == Algorithm::Pdq);
    if let Some(ai) =
        pdq_slot.filter(|&ai| config.hash.pdq_route == PdqRoute::Fast && slots[0][ai].1.is_none())
    {
        let decoded = match hash::decode_for(&bytes, &[Algorithm::Pdq], &config.hash) {
            Ok(d) => d,
            Err(e) => return skip(e.to_string()),
        };
        if decoded.pdq_route() == PdqRoute::Fast {
            let value = if config.dihedral {
                decoded.pdq_dihedral().map(|d| cache::Value {
                    bytes: d.hashes.iter().flat_map(|h| h.0).collect(),
                    quality: d.quality.0,
                    dc: true,
                })
            } else {
                decoded.pdq().map(|p| cache::Value {
                    bytes: p.hash.0.to_vec(),
                    quality: p.quality.0,
                    dc: true,
                })
            };
            if let Some(value) = value {
                stats.computed.fetch_add(1, Ordering::Relaxed);
                records.push((slots[0][ai].0, kinds[ai].to_string(), value.clone()));
                slots[0][ai].1 = Some(value);
            }
        }
    }
    let missing = slots.iter().flatten().filter(|(_, v)| v.is_none()).count();
    if missing > 0 {
        let limits = &config.hash.limits;
        let pixels = cache.pixels();
        let original = match pixels.and_then(|p| p.get(&content, limits)) {
            Some(img) => {
                stats.pixels_cached.fetch_add(1, Ordering::Relaxed);
                img
            }
            None => {
                let img = match hash::decode::decode(&bytes, limits) {
                    Ok(img) => img,
                    Err(e) => return skip(e.to_string()),
                };
                stats.decoded.fetch_add(1, Ordering::Relaxed);
                if let Some(p) = pixels {
                    p.put(&content, limits, &img);
                }
                img
            }
        };
        for (ci, chain) in chains.iter().enumerate() {
            if slots[ci].iter().all(|(_, v)| v.is_some()) {
                continue;
            }
            let edited;
            let image = if ci == 0 {
                &original
            } else {
                stats.edits.fetch_add(1, Ordering::Relaxed);
                match chain.apply(&original, edit_seed(config.seed, &content)) {
                    Ok(img) => {
                        edited = img;
                        &edited
                    }
                    Err(e) => {
                        failures.push(EditFailure {
                            path: path.to_path_buf(),
                            edit: chain.to_string(),
                            reason: e.to_string(),
                        });
                        continue;
                    }
                }
            };
            let mut grey = None;
            for (ai, &algorithm) in config.algorithms.iter().enumerate() {
                if slots[ci][ai].1.is_some() {
                    continue;
                }
                let value = cache::Value::of_image(
                    image,
                    algorithm,
                    config.dihedral,
                    &config.hash,
                    &mut grey,
                );
                stats.computed.fetch_add(1, Ordering::Relaxed);
                records.push((slots[ci][ai].0, kinds[ai].to_string(), value.clone()));
                slots[ci][ai].1 = Some(value);
            }
        }
    }
    cache.append(&records)?;
    let hashes = slots
        .into_iter()
        .map(|s| s.into_iter().map(|(_, v)| v).collect::<Option<Vec<_>>>())
        .collect();
    Ok(FileOutcome::Hashed(
        FileHashes {
            path: path.to_path_buf(),
            hashes,
        },
        failures,
    ))
}

/// The seed of an edit's random choices for one file: the run's seed mixed
/// with the file's content hash (the scenario library uses the same, so an
/// (image, edit) pair is the same image in both).
pub(crate) fn edit_seed(seed: u64, content: &[u8; 32]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&content[..8]);
    seed ^ u64::from_le_bytes(b)
}

/// With `--dedupe T`: groups originals within T (PDQ if measured, else the
/// first algorithm) and keeps the first of each group. Returns which
/// originals are kept.
fn dedupe(config: &Config, hashed: &[FileHashes], corpus: &mut Corpus) -> Vec<bool> {
    let mut keep = vec![true; hashed.len()];
    let Some(t) = config.dedupe else {
        return keep;
    };
    let ai = config
        .algorithms
        .iter()
        .position(|&a| a == Algorithm::Pdq)
        .unwrap_or(0);
    let algorithm = config.algorithms[ai];
    let b = bits(algorithm, &config.hash);
    let bytes = (b / 8) as usize;
    let present: Vec<usize> = (0..hashed.len())
        .filter(|&i| hashed[i].hashes[0].is_some())
        .collect();
    let packed = Packed::from_bytes(
        b,
        present
            .iter()
            .map(|&i| &original(&hashed[i], ai).bytes[..bytes]),
    );
    let mut parent: Vec<usize> = (0..present.len()).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for pair in pairs::pairs_within(&packed, t) {
        let (ra, rb) = (root(&mut parent, pair.a), root(&mut parent, pair.b));
        if ra != rb {
            parent[ra.max(rb)] = ra.min(rb);
        }
    }
    let mut sizes = vec![0usize; present.len()];
    for i in 0..present.len() {
        let r = root(&mut parent, i);
        sizes[r] += 1;
        if r != i {
            keep[present[i]] = false;
        }
    }
    corpus.deduplicated = keep.iter().filter(|k| !**k).count();
    corpus.duplicate_groups = sizes.iter().filter(|&&s| s > 1).count();
    keep
}

fn original(f: &FileHashes, ai: usize) -> &cache::Value {
    // Files without original hashes are never in `hashed` (they are skipped).
    &f.hashes[0].as_ref().expect("original hashed")[ai]
}

#[allow(clippy::too_many_arguments)]
fn measure(
    config: &Config,
    hashed: &[FileHashes],
    keep: &[bool],
    chains: &[Chain],
    ai: usize,
    algorithm: Algorithm,
    set: Option<&SetInput<'_>>,
    progress: &dyn Progress,
) -> Result<AlgorithmResult, Error> {
    let b = bits(algorithm, &config.hash);
    let width = (b / 8) as usize;
    let dihedral = config.dihedral && algorithm == Algorithm::Pdq;
    let threshold = config
        .threshold
        .unwrap_or(algorithm.default_threshold().0)
        .min(b);
    let gated = |v: &cache::Value| {
        algorithm == Algorithm::Pdq
            && pdq::quality_gate(pdq::Quality(v.quality), pdq::MIN_QUALITY).is_err()
    };
    // Originals with a sound hash of this algorithm.
    let usable: Vec<usize> = (0..hashed.len())
        .filter(|&i| !gated(original(&hashed[i], ai)))
        .collect();
    let below_quality = hashed.len() - usable.len();
    // Impostors: the usable originals dedupe kept.
    let impostors: Vec<usize> = usable.iter().copied().filter(|&i| keep[i]).collect();
    let mut packed = Packed::from_bytes(
        b,
        impostors
            .iter()
            .map(|&i| &original(&hashed[i], ai).bytes[..width]),
    );
    if dihedral {
        packed = packed.with_variants(
            8,
            impostors
                .iter()
                .flat_map(|&i| original(&hashed[i], ai).bytes.chunks_exact(width)),
        );
    }
    let all = pairs::pair_count(impostors.len());
    let sample = match config.pairs {
        PairMode::All => None,
        PairMode::Sample(n) if n < all => Some(n),
        PairMode::Sample(_) => None,
        PairMode::Auto if all > AUTO_ALL_PAIRS_LIMIT => Some(AUTO_SAMPLES),
        PairMode::Auto => None,
    };
    progress.stage(
        &format!("impostor pairs {algorithm}"),
        sample.unwrap_or(all),
    );
    let count = match sample {
        None => pairs::all_pairs(&packed, config.closest, &|d| progress.position(d)),
        Some(n) => pairs::sampled_pairs(&packed, n, config.seed, config.closest),
    };
    let fm_events: u64 = count.histogram[..=threshold as usize].iter().sum();
    let impostor = Impostor {
        pairs: count.pairs,
        sampled: sample.is_some(),
        images: impostors.len(),
        false_match: Rate::new(fm_events, count.pairs, config.confidence),
        closest: count
            .closest
            .iter()
            .map(|p| ClosestPair {
                distance: p.distance,
                a: hashed[impostors[p.a]].path.clone(),
                b: hashed[impostors[p.b]].path.clone(),
            })
            .collect(),
        histogram: count.histogram,
    };
    // Genuine pairs.
    let mut genuine = Vec::new();
    for (ci, chain) in chains.iter().enumerate().skip(1) {
        let mut histogram = vec![0u64; b as usize + 1];
        let (mut pairs_n, mut low) = (0u64, 0u64);
        for &i in &usable {
            let Some(edited) = hashed[i].hashes[ci].as_ref() else {
                continue;
            };
            pairs_n += 1;
            let e = &edited[ai];
            if gated(e) {
                low += 1;
                continue;
            }
            let o = &original(&hashed[i], ai).bytes[..width];
            let d = e
                .bytes
                .chunks_exact(width)
                .map(|v| hash::hamming(v, o).0)
                .min()
                .unwrap_or(b);
            histogram[d as usize] += 1;
        }
        let events = histogram[..=threshold as usize].iter().sum();
        genuine.push(Genuine {
            edit: chain.to_string(),
            pairs: pairs_n,
            histogram,
            below_quality: low,
            detection: Rate::new(events, pairs_n, config.confidence),
        });
    }
    let list = config.list_size.map(|n| {
        let r = &impostor.false_match;
        let f = |p: f64| 1.0 - (1.0 - p).powf(n as f64);
        ListRate {
            derived: true,
            entries: n,
            rate: f(r.rate),
            lower: f(r.lower),
            upper: f(r.upper),
        }
    });
    let set = match set {
        Some(s) => measure_set(config, s, hashed, &impostors, ai, algorithm, threshold)?,
        None => None,
    };
    Ok(AlgorithmResult {
        algorithm: algorithm.name().to_string(),
        bits: b,
        dihedral,
        threshold,
        below_quality,
        threshold_for_target: target_threshold(&impostor, config.target_fmr, config.confidence),
        equal_error: equal_error(&impostor, &genuine),
        impostor,
        genuine,
        list,
        set,
    })
}

fn measure_set(
    config: &Config,
    s: &SetInput<'_>,
    hashed: &[FileHashes],
    originals: &[usize],
    ai: usize,
    algorithm: Algorithm,
    threshold: u32,
) -> Result<Option<SetRate>, Error> {
    if !s.set.algorithms().contains(&algorithm) {
        return Ok(None);
    }
    let set_err = |source| Error::Set {
        path: s.path.clone(),
        source,
    };
    let entries = s.set.entries(algorithm).map_err(set_err)?.len();
    let width = (bits(algorithm, &config.hash) / 8) as usize;
    let t = config
        .threshold
        .map(Threshold)
        .or_else(|| s.set.default_threshold(algorithm))
        .unwrap_or(Threshold(threshold));
    let mut matched = 0u64;
    for &i in originals {
        let d = Digest::new(algorithm, original(&hashed[i], ai).bytes[..width].to_vec());
        if !s.set.lookup(&d, t).map_err(set_err)?.matches.is_empty() {
            matched += 1;
        }
    }
    Ok(Some(SetRate {
        set: s.path.clone(),
        entries,
        threshold: t.0,
        matched: Rate::new(matched, originals.len() as u64, config.confidence),
    }))
}

fn cumulative(h: &[u64]) -> Vec<u64> {
    h.iter()
        .scan(0u64, |acc, &c| {
            *acc += c;
            Some(*acc)
        })
        .collect()
}

fn target_threshold(impostor: &Impostor, target: f64, confidence: f64) -> TargetThreshold {
    let cum = cumulative(&impostor.histogram);
    let n = impostor.pairs;
    let mut out = TargetThreshold {
        target_fmr: target,
        measured: None,
        bounded: None,
    };
    if n == 0 {
        return out;
    }
    for (t, &events) in cum.iter().enumerate() {
        if events as f64 / n as f64 <= target {
            out.measured = Some(t as u32);
        }
        if binomial::rate_interval(events, n, confidence).0.upper <= target {
            out.bounded = Some(t as u32);
        }
    }
    out
}

fn equal_error(impostor: &Impostor, genuine: &[Genuine]) -> Option<EqualError> {
    let pairs: u64 = genuine.iter().map(|g| g.pairs).sum();
    if pairs == 0 || impostor.pairs == 0 {
        return None;
    }
    let mut pooled = vec![0u64; impostor.histogram.len()];
    for g in genuine {
        for (p, c) in pooled.iter_mut().zip(&g.histogram) {
            *p += c;
        }
    }
    let det = cumulative(&pooled);
    let fm = cumulative(&impostor.histogram);
    (0..det.len())
        .map(|t| {
            let miss = 1.0 - det[t] as f64 / pairs as f64;
            let fmr = fm[t] as f64 / impostor.pairs as f64;
            (t, miss, fmr)
        })
        .min_by(|a, b| (a.1 - a.2).abs().total_cmp(&(b.1 - b.2).abs()))
        .map(|(t, miss, fmr)| EqualError {
            threshold: t as u32,
            miss_rate: miss,
            false_match_rate: fmr,
        })
}

/// A small PNG of an image file (longer side `side` pixels) for reports.
pub fn thumbnail_png(path: &Path, side: u32, config: &HashConfig) -> Option<Vec<u8>> {
    let bytes = std::fs::read(path).ok()?;
    let img = hash::decode::decode(&bytes, &config.limits).ok()?;
    let thumb = image::DynamicImage::ImageRgb8(img).thumbnail(side, side);
    let mut out = std::io::Cursor::new(Vec::new());
    thumb.write_to(&mut out, image::ImageFormat::Png).ok()?;
    Some(out.into_inner())
}

/// The configuration as `results.json` records it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConfigRecord {
    /// The corpus folder.
    pub corpus: String,
    /// Algorithms.
    pub algorithms: Vec<String>,
    /// Edit chains (canonical text).
    pub edits: Vec<String>,
    /// Impostor pairs: `auto`, `all` or a number of samples.
    pub pairs: PairMode,
    /// Seed.
    pub seed: u64,
    /// Dihedral PDQ.
    pub dihedral: bool,
    /// The threshold asked for (none: each algorithm's default).
    pub threshold: Option<u32>,
    /// Target false-match rate.
    pub target_fmr: f64,
    /// `--list-size`.
    pub list_size: Option<u64>,
    /// `--set`.
    pub set: Option<String>,
    /// `--dedupe`.
    pub dedupe: Option<u32>,
    /// Closest pairs kept.
    pub closest: usize,
    /// Confidence of the intervals.
    pub confidence: f64,
    /// How images were hashed (what the cache keys on besides content and edit).
    pub hashing: String,
    /// Where PDQ's pixels came from: `exact`, or `fast` (a JPEG original's
    /// DC image or 1/2-scale decode).
    pub pdq_route: PdqRoute,
    /// Worker threads (none: one per core).
    pub threads: Option<usize>,
}

impl Config {
    /// The configuration as `results.json` records it.
    pub fn record(&self, set: Option<&str>) -> ConfigRecord {
        ConfigRecord {
            corpus: self.corpus.to_string_lossy().into_owned(),
            algorithms: self
                .algorithms
                .iter()
                .map(|a| a.name().to_string())
                .collect(),
            edits: self.edits.iter().map(ToString::to_string).collect(),
            pairs: self.pairs,
            seed: self.seed,
            dihedral: self.dihedral,
            threshold: self.threshold,
            target_fmr: self.target_fmr,
            list_size: self.list_size,
            set: set.map(str::to_string),
            dedupe: self.dedupe,
            closest: self.closest,
            confidence: self.confidence,
            hashing: self.hashing_key(),
            pdq_route: self.hash.pdq_route,
            threads: self.threads,
        }
    }
}

/// `results.json`: the tool, version, command and configuration, then the
/// results.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Document {
    /// `cssim eval rates`.
    pub tool: &'static str,
    /// cssim's version.
    pub version: &'static str,
    /// The command line that produced it.
    pub command: Vec<String>,
    /// The configuration.
    pub config: ConfigRecord,
    /// The results.
    #[serde(flatten)]
    pub results: Results,
}

impl Document {
    /// A document for results produced by `command` under `config`.
    pub fn new(command: Vec<String>, config: ConfigRecord, results: Results) -> Document {
        Document {
            tool: "cssim eval rates",
            version: env!("CARGO_PKG_VERSION"),
            command,
            config,
            results,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_print_as_bounds_at_zero_and_all() {
        assert_eq!(short(0.021_3), "2.1e-2");
        assert_eq!(short(0.997_4), "0.997");
        assert_eq!(short(0.5), "0.5");
        assert_eq!(Rate::new(0, 20_910, 0.95).text, "< 1.4e-4");
        assert_eq!(Rate::new(10, 10, 0.95).text, "> 0.74");
        assert_eq!(Rate::new(5, 10, 0.95).text, "0.5 [0.24, 0.76]");
        assert_eq!(Rate::new(0, 0, 0.95).text, "no pairs");
    }
}
