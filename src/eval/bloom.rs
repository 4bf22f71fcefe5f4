//! How often a Bloom set's lookups are false positives, measured, against
//! the rate the set states.
//!
//! A Bloom-only hash set states a false-positive rate per probe `p` (in its
//! manifest: `cssim hashset info`) and, for a lookup at radius `r`, the
//! compounded chance `1 − (1 − p)^probes` that at least one of its probes is
//! false (`cssim hashset check`). [`run`] checks both statements: for each
//! set size, target rate and radius (a *cell*) it builds a filter of random
//! PDQ entries exactly as [`crate::hashset::Builder`] does, makes lookups of
//! random non-member digests through the same probing code a lookup uses,
//! and counts
//!
//! - **per probe**: probes the filter admitted, out of all probes made;
//! - **per lookup**: lookups with at least one admitted probe.
//!
//! Each count gets an exact (Clopper–Pearson) interval ([`binomial`]); the
//! set's statement *agrees* when it lies inside. Probes of one lookup are
//! distinct digests, so under the filter's hashing they are independent
//! trials given the filter, as lookups are; the binomial model holds at both
//! levels. Many cells are judged at once, so the verdict uses intervals at
//! the Bonferroni level `1 − (1 − family)/comparisons`: with a correct
//! filter, the chance that *any* cell disagrees is at most `1 − family`.
//! The plain 95% interval of each count is reported too.
//!
//! Random 256-bit queries are non-members: the chance that one lies within
//! radius 2 of any of 10⁶ random entries is about 2⁻²⁰⁰. Everything random
//! derives from [`Config::seed`] (ChaCha8, one stream per cell and chunk),
//! so a run is repeatable whatever the number of threads.
//!
//! [`binomial`]: super::binomial

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::Serialize;
use sha2::Digest as _;

use super::binomial::{Interval, clopper_pearson};
use crate::hash::Algorithm;
use crate::hashset::bloom::{Filter, MAX_PROBES, compounded_fpr, probe_count};

/// Set sizes measured by default: 1 to 10⁶ entries.
pub const DEFAULT_SIZES: [u64; 7] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];
/// Radii measured by default.
pub const DEFAULT_RADII: [u32; 3] = [0, 1, 2];
/// Target rates per probe: the builder's default (what shipped sets use)
/// and 10⁻², at which every cell sees thousands of false positives, so the
/// statement is tested to within a few percent.
pub const DEFAULT_TARGET_FPRS: [f64; 2] = [crate::hashset::DEFAULT_FPR, 1e-2];
/// Probes per cell by default; at 10⁻⁶ that is about 20 expected false
/// positives a cell.
pub const DEFAULT_PROBES: u64 = 20_000_000;
/// The confidence that no cell disagrees when the filter is correct.
pub const FAMILY_CONFIDENCE: f64 = 0.95;
/// PDQ digests: 256 bits.
const DIGEST_BYTES: usize = 32;
/// Probes per parallel chunk of lookups (at least one lookup a chunk).
const CHUNK_PROBES: u64 = 1 << 18;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An option is out of range.
    #[error("{option}: {reason}")]
    Config {
        /// The option.
        option: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Building or probing a filter failed.
    #[error(transparent)]
    HashSet(#[from] crate::hashset::Error),
}

/// What to measure.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Config {
    /// Set sizes (entries).
    pub sizes: Vec<u64>,
    /// Probe radii.
    pub radii: Vec<u32>,
    /// Target false-positive rates per probe the filters are sized for.
    pub target_fprs: Vec<f64>,
    /// Probes per cell; the lookups of a cell are `probes / probes per lookup`
    /// (at least one). Ignored when `lookups` is set.
    pub probes: u64,
    /// Lookups per cell, whatever the radius.
    pub lookups: Option<u64>,
    /// The seed of every random choice.
    pub seed: u64,
    /// The confidence that no cell disagrees when the filter is correct.
    pub family_confidence: f64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            sizes: DEFAULT_SIZES.to_vec(),
            radii: DEFAULT_RADII.to_vec(),
            target_fprs: DEFAULT_TARGET_FPRS.to_vec(),
            probes: DEFAULT_PROBES,
            lookups: None,
            seed: 0,
            family_confidence: FAMILY_CONFIDENCE,
        }
    }
}

/// A measured count against a stated rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// The rate the set states.
    pub stated: f64,
    /// Trials (probes or lookups).
    pub trials: u64,
    /// False positives among them.
    pub false_positives: u64,
    /// `false_positives / trials`.
    pub measured: f64,
    /// The exact 95% interval of the measured rate.
    pub interval_95: Interval,
    /// The exact interval at the report's per-comparison confidence.
    pub interval: Interval,
    /// Whether `stated` lies in `interval`.
    pub agrees: bool,
}

impl Comparison {
    fn new(stated: f64, trials: u64, false_positives: u64, confidence: f64) -> Comparison {
        let interval = clopper_pearson(false_positives, trials, confidence);
        Comparison {
            stated,
            trials,
            false_positives,
            measured: false_positives as f64 / trials.max(1) as f64,
            interval_95: clopper_pearson(false_positives, trials, 0.95),
            interval,
            agrees: interval.contains(stated),
        }
    }
}

/// One set size, target rate and radius.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cell {
    /// Entries in the set.
    pub entries: u64,
    /// The rate per probe the filter was sized for.
    pub target_fpr: f64,
    /// Bits in the filter.
    pub filter_bits: u64,
    /// Hash functions per item (`k`).
    pub hashes: u32,
    /// The probe radius.
    pub radius: u32,
    /// Probes per lookup at this radius.
    pub probes_per_lookup: u64,
    /// Lookups made.
    pub lookups: u64,
    /// Admitted probes against the stated rate per probe.
    pub per_probe: Comparison,
    /// Lookups with a hit against the stated compounded rate.
    pub per_lookup: Comparison,
}

/// The result of [`run`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The algorithm the sets hold.
    pub algorithm: Algorithm,
    /// What was measured.
    pub config: Config,
    /// Comparisons judged (two a cell).
    pub comparisons: u64,
    /// The confidence of each comparison's `interval` (Bonferroni).
    pub comparison_confidence: f64,
    /// The cells, by target rate, size and radius.
    pub cells: Vec<Cell>,
    /// Whether every comparison agrees.
    pub all_agree: bool,
}

/// How far a [`run`] has got, for a progress bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Probes made so far, over all cells.
    pub probes_done: u64,
    /// Probes the whole run makes.
    pub probes_total: u64,
    /// The size of the set being built or probed.
    pub entries: u64,
}

/// Lookups a cell makes at `probes_per_lookup`.
fn lookups_for(config: &Config, probes_per_lookup: u64) -> u64 {
    config
        .lookups
        .unwrap_or_else(|| config.probes / probes_per_lookup)
        .max(1)
}

fn check(config: &Config) -> Result<(), Error> {
    let bad = |option, reason: String| Err(Error::Config { option, reason });
    if config.sizes.is_empty() || config.sizes.contains(&0) {
        return bad("sizes", "need at least one size, each at least 1".into());
    }
    if let Some(&n) = config.sizes.iter().find(|&&n| n > 100_000_000) {
        return bad("sizes", format!("{n} entries is more than 10⁸"));
    }
    if config.radii.is_empty() {
        return bad("radius", "need at least one radius".into());
    }
    let bits = (DIGEST_BYTES * 8) as u32;
    if let Some(&r) = config
        .radii
        .iter()
        .find(|&&r| probe_count(bits, r) > MAX_PROBES)
    {
        return bad(
            "radius",
            format!(
                "radius {r} needs {} probes a lookup (at most {MAX_PROBES})",
                probe_count(bits, r)
            ),
        );
    }
    if config.target_fprs.is_empty() {
        return bad("fpr", "need at least one target rate".into());
    }
    if !(0.0..1.0).contains(&config.family_confidence) || config.family_confidence == 0.0 {
        return bad(
            "confidence",
            format!("{} is not in (0, 1)", config.family_confidence),
        );
    }
    if config.probes == 0 && config.lookups.is_none() {
        return bad("probes", "must be at least 1".into());
    }
    Ok(())
}

/// A ChaCha8 stream for one purpose, derived from the run's seed.
fn rng(seed: u64, parts: &[u64]) -> ChaCha8Rng {
    let mut h = sha2::Sha256::new();
    h.update(b"cssim eval bloom v1\0");
    h.update(seed.to_le_bytes());
    for p in parts {
        h.update(p.to_le_bytes());
    }
    ChaCha8Rng::from_seed(h.finalize().into())
}

/// Builds a filter of `entries` random PDQ digests, as the builder does.
fn build(config: &Config, entries: u64, target_fpr: f64) -> Result<Filter, Error> {
    let mut r = rng(config.seed, &[0, entries]);
    let mut digests = vec![0u8; entries as usize * DIGEST_BYTES];
    r.fill_bytes(&mut digests);
    Ok(Filter::build(
        Algorithm::Pdq,
        DIGEST_BYTES,
        digests.chunks_exact(DIGEST_BYTES),
        entries as usize,
        target_fpr,
        config.seed,
    )?)
}

/// Probes `lookups` random digests at `radius`; returns (admitted probes,
/// lookups with a hit).
fn probe_chunk(
    filter: &Filter,
    mut rng: ChaCha8Rng,
    lookups: u64,
    radius: u32,
) -> Result<(u64, u64), Error> {
    let mut query = [0u8; DIGEST_BYTES];
    let (mut hits, mut hit_lookups) = (0u64, 0u64);
    for _ in 0..lookups {
        rng.fill_bytes(&mut query);
        let (_, found) = filter.probe(&query, radius)?;
        hits += found.len() as u64;
        hit_lookups += u64::from(!found.is_empty());
    }
    Ok((hits, hit_lookups))
}

/// Measures every cell of `config`, calling `progress` as work completes
/// (from the calling thread; the probing runs on rayon's pool).
pub fn run(config: &Config, mut progress: impl FnMut(Progress)) -> Result<Report, Error> {
    check(config)?;
    let bits = (DIGEST_BYTES * 8) as u32;
    let cells_count = (config.sizes.len() * config.radii.len() * config.target_fprs.len()) as u64;
    let comparisons = 2 * cells_count;
    let comparison_confidence = 1.0 - (1.0 - config.family_confidence) / comparisons as f64;
    let per_size: u64 = config
        .radii
        .iter()
        .map(|&r| lookups_for(config, probe_count(bits, r)) * probe_count(bits, r))
        .sum();
    let probes_total = per_size * (config.sizes.len() * config.target_fprs.len()) as u64;
    let mut probes_done = 0u64;
    let batch = (rayon::current_num_threads() * 4) as u64;
    let mut cells = Vec::new();
    for (fi, &target_fpr) in config.target_fprs.iter().enumerate() {
        for &entries in &config.sizes {
            progress(Progress {
                probes_done,
                probes_total,
                entries,
            });
            let filter = build(config, entries, target_fpr)?;
            let p = filter.estimated_fpr();
            for &radius in &config.radii {
                let per_lookup = probe_count(bits, radius);
                let lookups = lookups_for(config, per_lookup);
                let chunk = (CHUNK_PROBES / per_lookup).max(1);
                let chunks = lookups.div_ceil(chunk);
                let (mut hits, mut hit_lookups) = (0u64, 0u64);
                let mut next = 0u64;
                while next < chunks {
                    let end = (next + batch).min(chunks);
                    let counts = (next..end)
                        .into_par_iter()
                        .map(|c| {
                            let n = chunk.min(lookups - c * chunk);
                            let r = rng(config.seed, &[1, fi as u64, entries, radius.into(), c]);
                            probe_chunk(&filter, r, n, radius)
                        })
                        .collect::<Result<Vec<_>, Error>>()?;
                    for (h, l) in counts {
                        hits += h;
                        hit_lookups += l;
                    }
                    probes_done += (end * chunk).min(lookups) * per_lookup
                        - (next * chunk).min(lookups) * per_lookup;
                    next = end;
                    progress(Progress {
                        probes_done,
                        probes_total,
                        entries,
                    });
                }
                let c = comparison_confidence;
                cells.push(Cell {
                    entries,
                    target_fpr,
                    filter_bits: filter.bits(),
                    hashes: filter.hashes(),
                    radius,
                    probes_per_lookup: per_lookup,
                    lookups,
                    per_probe: Comparison::new(p, lookups * per_lookup, hits, c),
                    per_lookup: Comparison::new(
                        compounded_fpr(p, per_lookup),
                        lookups,
                        hit_lookups,
                        c,
                    ),
                });
            }
        }
    }
    let all_agree = cells
        .iter()
        .all(|c| c.per_probe.agrees && c.per_lookup.agrees);
    Ok(Report {
        algorithm: Algorithm::Pdq,
        config: config.clone(),
        comparisons,
        comparison_confidence,
        cells,
        all_agree,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_follow_the_probe_budget() {
        let c = Config {
            probes: 1_000_000,
            ..Config::default()
        };
        assert_eq!(lookups_for(&c, 1), 1_000_000);
        assert_eq!(lookups_for(&c, 32_897), 30);
        assert_eq!(lookups_for(&c, 5_000_000), 1);
        let c = Config {
            lookups: Some(7),
            ..c
        };
        assert_eq!(lookups_for(&c, 32_897), 7);
    }

    #[test]
    fn bad_configs_are_refused() {
        let bad = |c: Config| check(&c).unwrap_err().to_string();
        let d = Config::default;
        assert!(
            bad(Config {
                sizes: vec![0],
                ..d()
            })
            .starts_with("sizes:")
        );
        assert!(
            bad(Config {
                radii: vec![4],
                ..d()
            })
            .contains("177589057 probes")
        );
        assert!(
            bad(Config {
                target_fprs: vec![],
                ..d()
            })
            .starts_with("fpr:")
        );
        assert!(
            bad(Config {
                family_confidence: 1.0,
                ..d()
            })
            .starts_with("confidence:")
        );
    }
}
