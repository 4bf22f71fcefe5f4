//! Evasive offenders named by an attack budget: the share of evasion
//! attacks that succeeded within a PSNR budget, read from a
//! `cssim eval attacks` results.json, carried with its uncertainty (each
//! replicate draws the rate from its Beta posterior, as the match rates
//! are). An offender's item that the attack evades is not matched.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Error;
use super::rates::Count;
use super::scenario::Loaded;
use crate::hash::Algorithm;

/// The evasion measured at a budget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// The results.json, as the scenario names it.
    pub file: PathBuf,
    /// The attacked algorithm (the client's).
    pub algorithm: Algorithm,
    /// The threshold the attacks evaded.
    pub attack_threshold: u32,
    /// The PSNR budget, dB.
    pub budget_psnr: f64,
    /// Evasions that succeeded with PSNR ≥ the budget, of evasions run.
    pub count: Count,
}

impl Measured {
    /// Where the rate comes from, in words.
    pub fn describe(&self) -> String {
        format!(
            "offenders' evasion from {}: {} of {} {} evasion attacks (threshold {}) succeeded at PSNR ≥ {} dB; \
             each replicate draws the rate from its Beta posterior and an evaded item is not matched",
            self.file.display(),
            self.count.k,
            self.count.n,
            self.algorithm,
            self.attack_threshold,
            self.budget_psnr
        )
    }
}

/// The parts of an attacks results.json this reads.
#[derive(Deserialize)]
struct AttacksFile {
    tool: Option<String>,
    results: Vec<AttackRow>,
}

#[derive(Deserialize)]
struct AttackRow {
    algorithm: String,
    attack: String,
    success: bool,
    psnr: f64,
    threshold: u32,
}

/// Reads the scenario's `offenders.evasion`, if it has one.
pub fn load(loaded: &Loaded) -> Result<Option<Measured>, Error> {
    let s = &loaded.scenario;
    let Some(ev) = &s.offenders.evasion else {
        return Ok(None);
    };
    let invalid = |field: &str, reason: String| Error::Invalid {
        path: loaded.path.clone(),
        line: None,
        field: field.into(),
        reason,
    };
    let path = loaded.resolve(&ev.attacks);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        invalid(
            "offenders.evasion.attacks",
            format!(
                "{}: {}",
                path.display(),
                crate::files::describe_io_error(&e)
            ),
        )
    })?;
    let file: AttacksFile = serde_json::from_str(&text).map_err(|e| {
        invalid(
            "offenders.evasion.attacks",
            format!(
                "{}: not a cssim eval attacks results.json: {e}",
                path.display()
            ),
        )
    })?;
    if let Some(tool) = &file.tool {
        if tool != "cssim eval attacks" {
            return Err(invalid(
                "offenders.evasion.attacks",
                format!(
                    "{}: written by '{tool}', not 'cssim eval attacks'",
                    path.display()
                ),
            ));
        }
    }
    let algorithm = s.content.algorithm;
    let rows: Vec<&AttackRow> = file
        .results
        .iter()
        .filter(|r| r.attack == "evade" && r.algorithm.parse::<Algorithm>().ok() == Some(algorithm))
        .collect();
    if rows.is_empty() {
        return Err(invalid(
            "offenders.evasion.attacks",
            format!(
                "{} has no evasion attacks on {algorithm} (content.algorithm)",
                path.display()
            ),
        ));
    }
    let budget = ev.budget_psnr;
    let k = rows
        .iter()
        .filter(|r| r.success && r.psnr >= budget)
        .count() as u64;
    if k == 0 {
        let best = rows
            .iter()
            .filter(|r| r.success)
            .map(|r| r.psnr)
            .fold(f64::NAN, f64::max);
        return Err(invalid(
            "offenders.evasion.budget_psnr",
            if best.is_nan() {
                format!("no evasion attack in {} succeeded at all", path.display())
            } else {
                format!(
                    "no evasion attack reached {budget} dB (the best succeeded at {best:.2} dB): \
                     with none, the rate would rest on no success at all"
                )
            },
        ));
    }
    Ok(Some(Measured {
        file: ev.attacks.clone(),
        algorithm,
        attack_threshold: rows[0].threshold,
        budget_psnr: budget,
        count: Count {
            k,
            n: rows.len() as u64,
        },
    }))
}
