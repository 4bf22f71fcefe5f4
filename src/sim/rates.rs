//! Match rates for the `rates` and `assumed` content models.
//!
//! `rates` reads a `cssim eval rates` results.json (see the shared
//! contract: per algorithm, an impostor histogram of Hamming distances
//! between different images and a genuine histogram per edit). A rate at
//! threshold T is the share of pairs at distance ≤ T; each replicate draws
//! it from its posterior Beta(k + 1, n − k + 1) (a uniform prior), so a
//! count of zero gives a range of small rates, never a rate of zero.

use std::path::{Path, PathBuf};

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::scenario::{Behaviour, Loaded, Representation, Source};
use super::{Error, sample};
use crate::hash::Algorithm;

/// `k` of `n` pairs within the threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    /// Pairs within the threshold.
    pub k: u64,
    /// Pairs measured.
    pub n: u64,
}

impl Count {
    /// A draw from the rate's posterior, Beta(k + 1, n − k + 1).
    pub fn draw(&self, rng: &mut ChaCha8Rng) -> f64 {
        sample::beta(
            rng,
            self.k as f64 + 1.0,
            (self.n - self.k.min(self.n)) as f64 + 1.0,
        )
    }
}

/// The measured counts a scenario's rates come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// The results.json, as the scenario names it.
    pub file: PathBuf,
    /// Client algorithm and threshold.
    pub algorithm: Algorithm,
    /// The threshold the counts are taken at.
    pub threshold: u32,
    /// Impostor pairs (different images) within the threshold.
    pub impostor: Count,
    /// Genuine pairs within the threshold, per offender edit.
    pub genuine: Vec<(String, Option<Count>)>,
    /// The server's second hash: its algorithm, threshold, impostor and
    /// genuine (per offender edit) counts.
    pub server: Option<MeasuredServer>,
}

/// The server's second hash, measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeasuredServer {
    /// Algorithm.
    pub algorithm: Algorithm,
    /// Threshold.
    pub threshold: u32,
    /// Impostor pairs within it (one entry compared: a false match passes
    /// only if the image is also close to that entry under this hash).
    pub impostor: Count,
    /// Genuine pairs within it, per offender edit.
    pub genuine: Vec<(String, Option<Count>)>,
}

/// The rates one replicate runs with.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drawn {
    /// Probability that a benign image matches the list (per lookup,
    /// against every entry; Bloom false positives included).
    pub false_match: f64,
    /// Probability that an offender's item matches.
    pub detection: f64,
    /// Probability that a released true match passes the server's hash.
    pub server_true: f64,
    /// Probability that a released false match passes it.
    pub server_false: f64,
    /// Probability that an offender's item is evaded by an attack within
    /// the scenario's budget (`offenders.evasion`; 0 without one). An
    /// evaded item is not matched.
    #[serde(default)]
    pub evasion: f64,
}

/// Where a run's rates come from.
#[derive(Clone, Debug)]
pub enum Model {
    /// Stated in the scenario.
    Assumed(Drawn),
    /// A library of real images: the decisions per (image, edit), drawn
    /// per message.
    Library {
        /// The decisions.
        decisions: std::sync::Arc<super::library::Decisions>,
        /// The server's second hash (stated pass rates, or 1).
        server: (f64, f64),
    },
    /// Measured; drawn per replicate.
    Measured {
        /// The counts.
        measured: Measured,
        /// Entries in the list.
        entries: u64,
        /// Bloom false-positive rate per lookup, if a Bloom filter.
        bloom_fpr: f64,
    },
}

impl Model {
    /// The rates for one replicate.
    pub fn draw(&self, rng: &mut ChaCha8Rng) -> Drawn {
        match self {
            Model::Assumed(d) => *d,
            Model::Library { decisions, server } => Drawn {
                false_match: decisions.summary.false_match_share,
                detection: decisions.detection_share(),
                server_true: server.0,
                server_false: server.1,
                evasion: 0.0,
            },
            Model::Measured {
                measured,
                entries,
                bloom_fpr,
            } => {
                let pair = measured.impostor.draw(rng);
                // Independent pairs: the chance that none of the entries is
                // within the threshold is (1 − p)^entries.
                let list = -((*entries as f64) * (-pair).ln_1p()).exp_m1();
                let false_match = 1.0 - (1.0 - list) * (1.0 - bloom_fpr);
                let detection = mean_draw(&measured.genuine, rng);
                let (server_true, server_false) = match &measured.server {
                    Some(s) => (mean_draw(&s.genuine, rng), s.impostor.draw(rng)),
                    None => (1.0, 1.0),
                };
                Drawn {
                    false_match,
                    detection,
                    server_true,
                    server_false,
                    evasion: 0.0,
                }
            }
        }
    }
}

/// Each item uses one of the edits, uniformly: the mixture's rate.
/// An edit without measured pairs (`none`: the listed image itself) always
/// matches.
fn mean_draw(counts: &[(String, Option<Count>)], rng: &mut ChaCha8Rng) -> f64 {
    if counts.is_empty() {
        return 1.0;
    }
    counts
        .iter()
        .map(|(_, c)| c.map_or(1.0, |c| c.draw(rng)))
        .sum::<f64>()
        / counts.len() as f64
}

/// The parts of the results.json this reads.
#[derive(Deserialize)]
struct RatesFile {
    tool: Option<String>,
    algorithms: Vec<AlgorithmRates>,
}

#[derive(Deserialize)]
struct AlgorithmRates {
    algorithm: String,
    bits: u32,
    #[serde(default)]
    dihedral: bool,
    impostor: Histogram,
    #[serde(default)]
    genuine: Vec<Genuine>,
}

#[derive(Deserialize)]
struct Histogram {
    pairs: u64,
    histogram: Vec<u64>,
}

#[derive(Deserialize)]
struct Genuine {
    edit: String,
    pairs: u64,
    histogram: Vec<u64>,
}

fn within(h: &[u64], threshold: u32) -> u64 {
    h.iter().take(threshold as usize + 1).sum()
}

/// Builds the model a loaded scenario runs with (not for `library`).
pub fn model(loaded: &Loaded) -> Result<Model, Error> {
    let s = &loaded.scenario;
    let invalid = |field: &str, reason: String| Error::Invalid {
        path: loaded.path.clone(),
        line: None,
        field: field.into(),
        reason,
    };
    match s.content.source {
        Source::Assumed => {
            let bloom = match s.hashset.representation {
                Representation::Bloom => s.hashset.bloom_fpr.unwrap_or(0.0),
                Representation::List => 0.0,
            };
            let fm = s.content.false_match_rate.unwrap_or(0.0);
            let (st, sf) = s.policy.server_hash.as_ref().map_or((1.0, 1.0), |h| {
                (h.true_pass.unwrap_or(1.0), h.false_pass.unwrap_or(1.0))
            });
            Ok(Model::Assumed(Drawn {
                false_match: 1.0 - (1.0 - fm) * (1.0 - bloom),
                detection: s.offenders.detection_rate.unwrap_or(1.0),
                server_true: st,
                server_false: sf,
                evasion: 0.0,
            }))
        }
        Source::Rates => {
            let file = s.content.rates.clone().unwrap_or_default();
            let path = loaded.resolve(&file);
            let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
                path: path.clone(),
                source,
            })?;
            let rf: RatesFile = serde_json::from_str(&text).map_err(|e| Error::Rates {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            if let Some(tool) = &rf.tool {
                if tool != "cssim eval rates" {
                    return Err(Error::Rates {
                        path,
                        reason: format!("written by '{tool}', not 'cssim eval rates'"),
                    });
                }
            }
            let edits = offender_edits(loaded);
            let dihedral = loaded.policy.pdq_dihedral;
            let client = find(
                &rf,
                &path,
                s.content.algorithm,
                dihedral,
                "content.algorithm",
            )?;
            let threshold = loaded.threshold();
            if threshold > client.bits {
                return Err(invalid(
                    "hashset.threshold",
                    format!(
                        "{threshold} is more than the {} bits of {}",
                        client.bits, client.algorithm
                    ),
                ));
            }
            let genuine = genuine_counts(client, &edits, threshold, &path)?;
            let server = match &s.policy.server_hash {
                Some(h) => {
                    let algorithm = h.algorithm.unwrap_or(Algorithm::Phash);
                    let a = find(&rf, &path, algorithm, false, "policy.server_hash.algorithm")?;
                    let t = h
                        .threshold
                        .unwrap_or_else(|| algorithm.default_threshold().0);
                    Some(MeasuredServer {
                        algorithm,
                        threshold: t,
                        impostor: count(&a.impostor.histogram, a.impostor.pairs, t, &path)?,
                        genuine: genuine_counts(a, &edits, t, &path)?,
                    })
                }
                None => None,
            };
            let impostor = count(
                &client.impostor.histogram,
                client.impostor.pairs,
                threshold,
                &path,
            )?;
            Ok(Model::Measured {
                measured: Measured {
                    file,
                    algorithm: s.content.algorithm,
                    threshold,
                    impostor,
                    genuine,
                    server,
                },
                entries: s.hashset.entries,
                bloom_fpr: match s.hashset.representation {
                    Representation::Bloom => s.hashset.bloom_fpr.unwrap_or(0.0),
                    Representation::List => 0.0,
                },
            })
        }
        Source::Library => {
            let Some(library) = &loaded.library else {
                return Err(invalid(
                    "content.library",
                    "the library is not hashed yet (sim::library::prepare)".into(),
                ));
            };
            if library.key != super::library::key(loaded) {
                return Err(invalid(
                    "content.library",
                    "the library was hashed for other content, edits, set or seed".into(),
                ));
            }
            let server = s.policy.server_hash.as_ref().map_or((1.0, 1.0), |h| {
                (h.true_pass.unwrap_or(1.0), h.false_pass.unwrap_or(1.0))
            });
            Ok(Model::Library {
                decisions: std::sync::Arc::new(library.decisions(loaded)?),
                server,
            })
        }
    }
}

/// The edits offenders use (`none` when they do not edit).
pub fn offender_edits(loaded: &Loaded) -> Vec<String> {
    let o = &loaded.scenario.offenders;
    if o.behaviour == Behaviour::None || o.edits.is_empty() {
        vec!["none".to_string()]
    } else {
        o.edits.clone()
    }
}

fn find<'a>(
    rf: &'a RatesFile,
    path: &Path,
    algorithm: Algorithm,
    dihedral: bool,
    field: &str,
) -> Result<&'a AlgorithmRates, Error> {
    rf.algorithms
        .iter()
        .find(|a| a.algorithm == algorithm.name() && a.dihedral == dihedral)
        .ok_or_else(|| Error::Rates {
            path: path.to_path_buf(),
            reason: format!(
                "no rates for {}{} (named by {field}); it has {}",
                algorithm.name(),
                if dihedral {
                    " with dihedral matching"
                } else {
                    ""
                },
                rf.algorithms
                    .iter()
                    .map(|a| format!(
                        "{}{}",
                        a.algorithm,
                        if a.dihedral { " (dihedral)" } else { "" }
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

fn count(histogram: &[u64], pairs: u64, threshold: u32, path: &Path) -> Result<Count, Error> {
    let k = within(histogram, threshold);
    let total: u64 = histogram.iter().sum();
    if total != pairs {
        return Err(Error::Rates {
            path: path.to_path_buf(),
            reason: format!("a histogram sums to {total}, not its {pairs} pairs"),
        });
    }
    Ok(Count { k, n: pairs })
}

fn genuine_counts(
    a: &AlgorithmRates,
    edits: &[String],
    threshold: u32,
    path: &Path,
) -> Result<Vec<(String, Option<Count>)>, Error> {
    edits
        .iter()
        .map(|e| {
            match a.genuine.iter().find(|g| &g.edit == e) {
                Some(g) => Ok((
                    e.clone(),
                    Some(count(&g.histogram, g.pairs, threshold, path)?),
                )),
                // An unedited copy is at distance 0: it always matches.
                None if e == "none" => Ok((e.clone(), None)),
                None => Err(Error::Rates {
                    path: path.to_path_buf(),
                    reason: format!(
                        "no genuine pairs for the edit '{e}' (offenders.edits) under {}; it has {}",
                        a.algorithm,
                        a.genuine
                            .iter()
                            .map(|g| g.edit.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }),
            }
        })
        .collect()
}
