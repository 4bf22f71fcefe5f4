//! The policy researchers' scenario simulator (`cssim scenario`): a
//! platform's users, their messages, offenders and adversaries, scanned
//! under a real client policy, with the platform's stages after the
//! device (second hash, human review with a queue, account action,
//! appeals). Computes, never prints: a run is a [`RunResult`] that the
//! report layer renders.
//!
//! - [`scenario`]: the TOML file, validated;
//! - [`rates`]: match rates measured by `cssim eval rates` (drawn from
//!   their posterior per replicate) or stated;
//! - [`library`]: a folder of real images hashed once (through the eval
//!   cache) and decided once per (image, edit) against the real set;
//! - [`evasion`]: offenders' evasion at an attack budget, measured by
//!   `cssim eval attacks`;
//! - [`cost`]: the scanning cost per message measured by `cssim bench`;
//! - [`engine`]: the simulation (deterministic at any thread count);
//! - [`summary`]: intervals over replicates and exact binomial bounds;
//! - [`sweep`]: one run per point of a parameter grid.

pub mod cost;
pub mod counts;
pub mod engine;
pub mod evasion;
pub mod library;
pub mod rates;
pub mod sample;
pub mod scenario;
pub mod summary;
pub mod sweep;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use engine::{Progress, Replicate};
pub use scenario::{Loaded, Scenario, Source};
pub use summary::Summary;

/// Why a scenario could not be loaded, run or merged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("{}: {}", path.display(), crate::files::describe_io_error(source))]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed, or a field is unknown or of the wrong type.
    #[error("{}{}: {reason}", path.display(), line.map(|l| format!(": line {l}")).unwrap_or_default())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The line, when known.
        line: Option<usize>,
        /// The parser's message (naming the field).
        reason: String,
    },
    /// A value breaks a constraint.
    #[error("{}{}: field '{field}': {reason}", path.display(), line.map(|l| format!(": line {l}")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line, when known.
        line: Option<usize>,
        /// The field (dotted).
        field: String,
        /// The constraint it breaks.
        reason: String,
    },
    /// The client policy the scenario names is not valid.
    #[error(transparent)]
    Policy(#[from] crate::scan::PolicyError),
    /// The rates file is not a `cssim eval rates` result this can use.
    #[error("{}: {reason}", path.display())]
    Rates {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The run would need more memory than the machine has.
    #[error(
        "the scenario needs about {} of memory and this machine has {} available; \
         simulate fewer users (shards split replicates, not users)",
        gib(*needed), gib(*available)
    )]
    Memory {
        /// Estimated bytes.
        needed: u64,
        /// Available bytes.
        available: u64,
    },
    /// Shard results that do not make one run.
    #[error("cannot merge: {0}")]
    Merge(String),
    /// A sweep parameter that cannot be applied.
    #[error("--param {param}: {reason}")]
    Param {
        /// The parameter as given.
        param: String,
        /// Why.
        reason: String,
    },
}

fn gib(b: u64) -> String {
    format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64)
}

/// Memory available to a new process (Linux `MemAvailable`), if known.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses a scenario whose estimate exceeds `available` bytes.
pub fn check_memory(scenario: &Scenario, available: Option<u64>) -> Result<u64, Error> {
    let needed = scenario.memory_estimate();
    match available {
        Some(available) if needed > available => Err(Error::Memory { needed, available }),
        _ => Ok(needed),
    }
}

/// Which part of the replicates a process runs (`--shard i/n`: replicates
/// r with r mod n = i).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This part (0-based).
    pub index: u32,
    /// Number of parts.
    pub count: u32,
}

impl Shard {
    /// The replicates of `total` this shard runs.
    pub fn replicates(&self, total: u32) -> Vec<u32> {
        (0..total)
            .filter(|r| r % self.count == self.index)
            .collect()
    }
}

/// The result of `cssim scenario run` (or of one shard of it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// `cssim scenario run`.
    pub tool: String,
    /// The cssim version.
    pub version: String,
    /// The scenario as run.
    pub scenario: Scenario,
    /// The client policy it resolved to (through the client's parser).
    pub policy: crate::scan::Policy,
    /// The seed.
    pub seed: u64,
    /// Where the rates come from, in words (for the report).
    pub content: String,
    /// The measured counts, in `rates` mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<rates::Measured>,
    /// Offenders' evasion at an attack budget, when the scenario names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evasion: Option<evasion::Measured>,
    /// The scanning cost measured by `cssim bench`, when the scenario names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<cost::Measured>,
    /// The library, in `library` mode: its size, what decoded, and what
    /// matched per edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library: Option<library::Summary>,
    /// Replicates in the whole run.
    pub replicates_total: u32,
    /// The shard, when this is one part of a run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// The summary (absent in a shard's result: merge first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    /// Each replicate's counts.
    pub replicates: Vec<Replicate>,
}

/// Words for a run's content model.
fn describe(model: &rates::Model) -> String {
    match model {
        rates::Model::Assumed(d) => format!(
            "assumed rates (stated in the scenario, not measured): false match {:e} per image, detection {}",
            d.false_match, d.detection
        ),
        rates::Model::Library { decisions, .. } => {
            let l = &decisions.summary;
            format!(
                "library of real images: {} ({} files, {} decoded, {} skipped), edits {}; \
                 each (image, edit) hashed once and looked up in {} ({} entries) under the client's policy; \
                 {} listed items for offenders; the decision per distinct (image, edit) is real, \
                 the draw of (image, edit) per message is sampling",
                l.folder.display(),
                l.files,
                l.decoded,
                l.skipped.len(),
                l.chains
                    .iter()
                    .map(|(c, w, _)| format!("{c} (weight {w})"))
                    .collect::<Vec<_>>()
                    .join(", "),
                l.set.display(),
                l.set_entries,
                l.listed_items
            )
        }
        rates::Model::Measured {
            measured, entries, ..
        } => format!(
            "measured rates from {} ({} at threshold {}: {} of {} impostor pairs within it; \
             {} entries; each replicate draws from the Beta posterior)",
            measured.file.display(),
            measured.algorithm,
            measured.threshold,
            measured.impostor.k,
            measured.impostor.n,
            entries
        ),
    }
}

/// Runs a loaded scenario (all replicates, or a shard's).
pub fn run(
    loaded: &Loaded,
    shard: Option<Shard>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<RunResult, Error> {
    let s = &loaded.scenario;
    let model = rates::model(loaded)?;
    let evasion = evasion::load(loaded)?;
    let cost = cost::load(loaded)?;
    let which = match shard {
        Some(sh) => sh.replicates(s.replicates),
        None => (0..s.replicates).collect(),
    };
    let replicates = engine::run(loaded, &model, evasion.as_ref(), &which, progress);
    let summary = match shard {
        None => Some(summary::summarise_with(s, &replicates, cost.as_ref())),
        Some(_) => None,
    };
    Ok(RunResult {
        tool: "cssim scenario run".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        scenario: s.clone(),
        policy: loaded.policy.clone(),
        seed: s.seed,
        content: match &evasion {
            Some(e) => format!("{}; {}", describe(&model), e.describe()),
            None => describe(&model),
        },
        evasion,
        cost,
        measured: match &model {
            rates::Model::Measured { measured, .. } => Some(measured.clone()),
            _ => None,
        },
        library: match &model {
            rates::Model::Library { decisions, .. } => Some(decisions.summary.clone()),
            _ => None,
        },
        replicates_total: s.replicates,
        shard,
        summary,
        replicates,
    })
}

/// Combines shards' results into the result a single run gives.
pub fn merge(parts: Vec<RunResult>) -> Result<RunResult, Error> {
    let mut parts = parts.into_iter();
    let Some(mut first) = parts.next() else {
        return Err(Error::Merge("no results given".into()));
    };
    let same = |a: &RunResult, b: &RunResult| {
        a.tool == b.tool
            && a.version == b.version
            && a.scenario == b.scenario
            && a.policy == b.policy
            && a.seed == b.seed
            && a.measured == b.measured
            && a.evasion == b.evasion
            && a.cost == b.cost
            && a.library == b.library
            && a.replicates_total == b.replicates_total
    };
    for p in parts {
        if !same(&first, &p) {
            return Err(Error::Merge(
                "the parts come from different scenarios, seeds or versions".into(),
            ));
        }
        first.replicates.extend(p.replicates);
    }
    first.replicates.sort_by_key(|r| r.replicate);
    let want: Vec<u32> = (0..first.replicates_total).collect();
    let have: Vec<u32> = first.replicates.iter().map(|r| r.replicate).collect();
    if have != want {
        let missing: Vec<String> = want
            .iter()
            .filter(|r| !have.contains(r))
            .map(u32::to_string)
            .collect();
        return Err(Error::Merge(if missing.is_empty() {
            "a replicate appears in more than one part".into()
        } else {
            format!("replicates {} are missing", missing.join(", "))
        }));
    }
    first.shard = None;
    first.summary = Some(summary::summarise_with(
        &first.scenario,
        &first.replicates,
        first.cost.as_ref(),
    ));
    Ok(first)
}
