//! [`SignedSet::check`]: one file's digests against a set, as `cssim hashset
//! check` shows them.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Lookup, Result, SignedSet};
use crate::hash::pdq::{LowQuality, Quality};
use crate::hash::{Algorithm, Distance, FileDigests, Threshold};
use crate::report::{Cell, Column, Layout, Tabular};

fn is_exact(route: &crate::hash::PdqRoute) -> bool {
    *route == crate::hash::PdqRoute::Exact
}

/// One file checked against a set.
///
/// In JSON: `{"path", "pdq_quality", "lookups"}`, each lookup a [`Lookup`]
/// with, for a perceptual algorithm, `"nearest"`. As a table (tab-separated,
/// no header): `PATH ALGO DISTANCE LABEL ENTRY` for each match; for a file
/// with none, `PATH "no match"` and, per algorithm, why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// The file (in JSON: lossy UTF-8).
    #[serde(serialize_with = "crate::report::serialize_path")]
    pub path: PathBuf,
    /// Its PDQ quality, when PDQ was computed.
    pub pdq_quality: Option<Quality>,
    /// `fast` when PDQ came from the JPEG's DC image or 1/2-scale decode (in JSON only then;
    /// in the table the algorithm reads `pdq (fast)`).
    #[serde(skip_serializing_if = "is_exact")]
    pub pdq_route: crate::hash::PdqRoute,
    /// One lookup per algorithm of the set (none for a PDQ hash below the
    /// quality floor).
    pub lookups: Vec<CheckedLookup>,
    /// Why PDQ was not looked up, if its quality was too low.
    #[serde(skip)]
    pub low_pdq_quality: Option<LowQuality>,
}

/// A lookup and, for a perceptual algorithm, the distance to the nearest
/// entry (`None` where the set cannot tell: a Bloom filter).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckedLookup {
    /// The lookup.
    #[serde(flatten)]
    pub lookup: Lookup,
    /// Outer `None` for an exact algorithm (no distance to speak of).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nearest: Option<Option<Distance>>,
}

impl Check {
    /// Whether any lookup matched.
    pub fn matched(&self) -> bool {
        self.lookups.iter().any(|l| !l.lookup.matches.is_empty())
    }
}

impl SignedSet {
    /// Looks `digests` (of the file `path`) up in the set: each at the set's
    /// default threshold, or `threshold` for perceptual algorithms; PDQ not
    /// at all when its quality is below the floor ([`crate::hash::pdq::quality_gate`]).
    pub fn check(
        &self,
        path: &Path,
        digests: &FileDigests,
        threshold: Option<Threshold>,
    ) -> Result<Check> {
        let low_pdq_quality = digests.low_pdq_quality();
        let mut lookups = Vec::new();
        for d in &digests.digests {
            if d.algorithm() == Algorithm::Pdq && low_pdq_quality.is_some() {
                continue;
            }
            let t = match threshold {
                Some(t) if d.algorithm().is_perceptual() => t,
                _ => self
                    .default_threshold(d.algorithm())
                    .unwrap_or(Threshold(0)),
            };
            let lookup = self.lookup(d, t)?;
            // A list lookup's hits come sorted by distance, so a match is
            // the nearest entry; only a miss needs the scan of every entry.
            let nearest = d.algorithm().is_perceptual().then(|| {
                match (&lookup.bloom, lookup.matches.first()) {
                    (None, Some(m)) => Some(m.distance),
                    _ => self.nearest(d),
                }
            });
            lookups.push(CheckedLookup { lookup, nearest });
        }
        Ok(Check {
            path: path.to_path_buf(),
            pdq_quality: digests.pdq_quality,
            pdq_route: digests.pdq_route,
            lookups,
            low_pdq_quality,
        })
    }
}

/// Why one lookup found nothing, with the nearest entry's distance where
/// the set can tell: `pdq nearest 84 (threshold 31)`, `sha256 not listed`.
fn no_match_reason(l: &CheckedLookup) -> String {
    let a = l.lookup.algorithm;
    if !a.is_perceptual() {
        return format!("{a} not listed");
    }
    match (l.nearest.flatten(), &l.lookup.bloom) {
        (Some(d), _) => format!("{a} nearest {d} (threshold {})", l.lookup.threshold),
        (None, Some(b)) => format!(
            "{a} none within radius {} (a Bloom filter cannot tell the nearest)",
            b.radius
        ),
        (None, None) => format!("{a} no entries"),
    }
}

impl Tabular for Check {
    fn columns() -> Vec<Column> {
        vec![
            Column::left("PATH", 0),
            Column::left("ALGO", 0),
            Column::left("DISTANCE", 0),
            Column::left("LABEL", 0),
            Column::left("ENTRY", 0),
        ]
    }

    fn layout() -> Layout {
        Layout::Tabs
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        let path = self.path.display().to_string();
        let mut rows = Vec::new();
        for l in &self.lookups {
            for m in &l.lookup.matches {
                let label = m.label.as_ref().map_or("-".to_string(), |l| l.to_string());
                let entry = m.entry.as_ref().map_or_else(
                    || {
                        l.lookup.bloom.map_or(String::new(), |b| {
                            format!("bloom, false-positive chance {:.2e}", b.compounded_fpr)
                        })
                    },
                    |e| e.to_hex(),
                );
                let algorithm = match l.lookup.algorithm {
                    Algorithm::Pdq if self.pdq_route == crate::hash::PdqRoute::Fast => {
                        "pdq (fast)".to_string()
                    }
                    a => a.to_string(),
                };
                rows.push(vec![
                    path.as_str().into(),
                    algorithm.into(),
                    m.distance.to_string().into(),
                    label.into(),
                    entry.into(),
                ]);
            }
        }
        if rows.is_empty() {
            let mut why: Vec<String> = self.lookups.iter().map(no_match_reason).collect();
            if let Some(low) = self.low_pdq_quality {
                why.insert(
                    0,
                    format!(
                        "pdq not matched (quality {} below {})",
                        low.quality, low.min
                    ),
                );
            }
            if self.pdq_route == crate::hash::PdqRoute::Fast {
                why.push("pdq on the fast route (reduced-scale JPEG, not bit-exact)".into());
            }
            rows.push(vec![path.into(), "no match".into(), why.join("; ").into()]);
        }
        rows
    }
}
