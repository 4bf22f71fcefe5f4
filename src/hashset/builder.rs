//! Building a signed hash-set file from digests and labels.
//!
//! Output is a function of the inputs alone: entries are sorted and
//! deduplicated whatever order they were added in, the label table is
//! sorted, the Bloom keys derive from the seed, the creation time is the
//! caller's string, and Ed25519 signatures are deterministic. Same entries,
//! seed and `created` give byte-identical files.

use std::collections::BTreeMap;
use std::path::Path;

use ed25519_dalek::SigningKey;
use serde::Serialize;

use super::bloom::Filter;
use super::format::{self, SectionKind};
use super::list::{self, Label, List, NO_LABEL};
use super::manifest::{
    self, AlgorithmInfo, BloomInfo, BloomParams, Hashing, Issuer, Manifest, Representation,
};
use super::sign::{check_issuer_name, fingerprint};
use super::{Error, Result};
use crate::files::write_atomic;
use crate::hash::{Algorithm, Digest, Threshold};

/// An entry on its way into the file: digest bytes and label.
type Pending<'a> = (&'a [u8], Option<&'a Label>);
/// Entries by algorithm, in `Algorithm::ALL` order.
type Groups<'a> = BTreeMap<Algorithm, Vec<Pending<'a>>>;

/// The false-positive rate per probe when none is chosen.
pub const DEFAULT_FPR: f64 = 1e-6;

/// Collects entries and options, then writes a signed file.
#[derive(Clone, Debug)]
pub struct Builder {
    name: String,
    issuer: String,
    version: u32,
    description: String,
    created: Option<String>,
    expires: Option<String>,
    seed: u64,
    fpr: f64,
    representations: Vec<Representation>,
    thresholds: BTreeMap<Algorithm, Threshold>,
    hashing: Hashing,
    entries: Vec<(Digest, Option<Label>)>,
}

/// What a build did, per algorithm.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlgorithmSummary {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Entries added.
    pub added: u64,
    /// Entries dropped because an equal digest was already there.
    pub duplicates: u64,
    /// Distinct entries written.
    pub entries: u64,
    /// The Bloom filter's estimated false-positive rate per probe, if built.
    pub bloom_fpr: Option<f64>,
}

/// What a build did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BuildSummary {
    /// Per algorithm.
    pub algorithms: Vec<AlgorithmSummary>,
    /// Distinct entries written, over all algorithms.
    pub entries: u64,
    /// Duplicates dropped, over all algorithms.
    pub duplicates: u64,
    /// Bytes per section (`manifest`, `list`, `bloom`).
    pub section_bytes: Vec<(String, u64)>,
    /// The file's length.
    pub file_bytes: u64,
    /// The signer's fingerprint.
    pub fingerprint: String,
}

impl Builder {
    /// A builder for a set called `name`, signed by `issuer` (the name in
    /// the issuer's key file). Defaults: version 1, both representations,
    /// false-positive rate [`DEFAULT_FPR`], seed 0, each algorithm's default
    /// threshold. `created` must be set.
    pub fn new(name: impl Into<String>, issuer: impl Into<String>) -> Builder {
        Builder {
            name: name.into(),
            issuer: issuer.into(),
            version: 1,
            description: String::new(),
            created: None,
            expires: None,
            seed: 0,
            fpr: DEFAULT_FPR,
            representations: vec![Representation::List, Representation::Bloom],
            thresholds: BTreeMap::new(),
            hashing: Hashing::default(),
            entries: Vec::new(),
        }
    }

    /// The issuer's revision number for this set.
    pub fn version(&mut self, version: u32) -> &mut Builder {
        self.version = version;
        self
    }

    /// What is in the set and where it came from.
    pub fn description(&mut self, description: impl Into<String>) -> &mut Builder {
        self.description = description.into();
        self
    }

    /// The creation time, RFC 3339 (see [`manifest::now_rfc3339`]).
    pub fn created(&mut self, created: impl Into<String>) -> &mut Builder {
        self.created = Some(created.into());
        self
    }

    /// When the set stops being valid, RFC 3339, after `created`. Without
    /// one the set never expires (see [`Manifest::expires`]).
    pub fn expires(&mut self, expires: impl Into<String>) -> &mut Builder {
        self.expires = Some(expires.into());
        self
    }

    /// The seed the Bloom filters' hash keys derive from.
    pub fn seed(&mut self, seed: u64) -> &mut Builder {
        self.seed = seed;
        self
    }

    /// The false-positive rate per probe the Bloom filters are sized for.
    pub fn fpr(&mut self, fpr: f64) -> &mut Builder {
        self.fpr = fpr;
        self
    }

    /// Which representations to write (in any order; the file orders them).
    pub fn representations(&mut self, representations: &[Representation]) -> &mut Builder {
        let mut r = representations.to_vec();
        r.sort();
        r.dedup();
        self.representations = r;
        self
    }

    /// The threshold recommended for `algorithm` in the manifest.
    pub fn threshold(&mut self, algorithm: Algorithm, threshold: Threshold) -> &mut Builder {
        self.thresholds.insert(algorithm, threshold);
        self
    }

    /// How the entries' images were hashed, recorded in the manifest so
    /// that clients hash the same way (default: [`Hashing::default`]).
    pub fn hashing(&mut self, hashing: Hashing) -> &mut Builder {
        self.hashing = hashing;
        self
    }

    /// Adds an entry. Duplicates are dropped (and counted) at build time,
    /// keeping a labelled copy over an unlabelled one.
    pub fn add(&mut self, digest: Digest, label: Option<Label>) -> &mut Builder {
        self.entries.push((digest, label));
        self
    }

    /// Entries added so far, duplicates included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn check_options(&self) -> Result<String> {
        let invalid = |option, value: &str, reason: &str| Error::InvalidOption {
            option,
            value: value.chars().take(60).collect(),
            reason: reason.into(),
        };
        if self.name.trim().is_empty() || self.name.chars().any(char::is_control) {
            return Err(invalid("name", &self.name, "must be one non-empty line"));
        }
        check_issuer_name(&self.issuer)?;
        let created = self.created.clone().ok_or_else(|| {
            invalid(
                "created",
                "",
                "is required (an RFC 3339 time, for reproducible builds)",
            )
        })?;
        manifest::check_rfc3339(&created)?;
        if let Some(expires) = &self.expires {
            manifest::check_expiry(&created, expires)?;
        }
        if self.representations.is_empty() {
            return Err(Error::NoRepresentation);
        }
        if self.representations.contains(&Representation::Bloom)
            && !(1e-12..=0.5).contains(&self.fpr)
        {
            return Err(invalid(
                "fpr",
                &self.fpr.to_string(),
                "is not between 1e-12 and 0.5",
            ));
        }
        Ok(created)
    }

    /// Builds and signs the file.
    pub fn build(&self, key: &SigningKey) -> Result<(Vec<u8>, BuildSummary)> {
        let created = self.check_options()?;
        let mut groups = self.group_entries()?;
        let (mut infos, mut summaries) = self.describe_groups(&mut groups)?;
        let mut sections: Vec<(SectionKind, Vec<u8>)> = Vec::new();
        if self.representations.contains(&Representation::List) {
            sections.push((SectionKind::List, list_section(&groups)));
        }
        if self.representations.contains(&Representation::Bloom) {
            let bloom = self.bloom_section(&groups, &mut infos, &mut summaries)?;
            sections.push((SectionKind::Bloom, bloom));
        }
        let manifest = self.manifest(created, key, infos);
        let manifest_json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Manifest {
            reason: e.to_string(),
        })?;
        sections.insert(0, (SectionKind::Manifest, manifest_json));
        let refs: Vec<(SectionKind, &[u8])> =
            sections.iter().map(|(k, b)| (*k, b.as_slice())).collect();
        let version = if self.hashing.is_default() {
            format::VERSION_DEFAULT_HASHING
        } else {
            format::VERSION
        };
        let bytes = format::encode_version(&refs, key, version);
        let summary = BuildSummary {
            entries: summaries.iter().map(|s| s.entries).sum(),
            duplicates: summaries.iter().map(|s| s.duplicates).sum(),
            algorithms: summaries,
            section_bytes: sections
                .iter()
                .map(|(k, b)| (k.name().to_string(), b.len() as u64))
                .collect(),
            file_bytes: bytes.len() as u64,
            fingerprint: manifest.issuer.fingerprint,
        };
        Ok((bytes, summary))
    }

    /// The entries grouped by algorithm (`BTreeMap`: `Algorithm::ALL`
    /// order), labels checked, each group's digests of one size.
    fn group_entries(&self) -> Result<Groups<'_>> {
        if self.entries.is_empty() {
            return Err(Error::Empty);
        }
        let mut groups: Groups<'_> = BTreeMap::new();
        for (d, l) in &self.entries {
            if let Some(l) = l {
                list::check_label(l)?;
            }
            let g = groups.entry(d.algorithm()).or_default();
            if let Some((first, _)) = g.first() {
                if first.len() != d.bytes().len() {
                    return Err(Error::MixedSizes {
                        algorithm: d.algorithm(),
                        first: first.len() as u32 * 8,
                        other: d.bits(),
                    });
                }
            } else if d.bytes().is_empty() || d.bytes().len() > usize::from(u16::MAX) {
                return Err(Error::InvalidOption {
                    option: "digest",
                    value: d.to_hex(),
                    reason: "has an unusable size".into(),
                });
            }
            g.push((d.bytes(), l.as_ref()));
        }
        Ok(groups)
    }

    /// Sorts and deduplicates each group (labelled copies sort first among
    /// equal digests, and are kept) and describes it: the manifest's entry
    /// (threshold checked) and the build summary's.
    fn describe_groups(
        &self,
        groups: &mut Groups<'_>,
    ) -> Result<(Vec<AlgorithmInfo>, Vec<AlgorithmSummary>)> {
        let mut summaries = Vec::new();
        let mut infos = Vec::new();
        for (&algorithm, g) in groups {
            let added = g.len() as u64;
            g.sort_by(|a, b| {
                a.0.cmp(b.0)
                    .then_with(|| a.1.is_none().cmp(&b.1.is_none()))
                    .then_with(|| a.1.cmp(&b.1))
            });
            g.dedup_by(|later, earlier| later.0 == earlier.0);
            let bits = g[0].0.len() as u32 * 8;
            let threshold = self
                .thresholds
                .get(&algorithm)
                .copied()
                .unwrap_or_else(|| algorithm.default_threshold());
            super::lookup::check_threshold(algorithm, threshold.0, bits)?;
            summaries.push(AlgorithmSummary {
                algorithm,
                added,
                duplicates: added - g.len() as u64,
                entries: g.len() as u64,
                bloom_fpr: None,
            });
            infos.push(AlgorithmInfo {
                algorithm,
                bits,
                default_threshold: threshold,
                entries: g.len() as u64,
                bloom: None,
                variant: algorithm
                    .is_classic()
                    .then(|| crate::hash::classic::VARIANT.to_string()),
            });
        }
        Ok((infos, summaries))
    }

    /// The Bloom section: one filter per group, recorded in its manifest
    /// entry and its summary.
    fn bloom_section(
        &self,
        groups: &Groups<'_>,
        infos: &mut [AlgorithmInfo],
        summaries: &mut [AlgorithmSummary],
    ) -> Result<Vec<u8>> {
        let mut filters = Vec::new();
        for ((&a, g), (info, summary)) in groups.iter().zip(infos.iter_mut().zip(summaries)) {
            let f = Filter::build(
                a,
                g[0].0.len(),
                g.iter().map(|(d, _)| *d),
                g.len(),
                self.fpr,
                self.seed,
            )?;
            info.bloom = Some(BloomInfo {
                bits: f.bits(),
                hashes: f.hashes(),
                estimated_fpr: f.estimated_fpr(),
            });
            summary.bloom_fpr = Some(f.estimated_fpr());
            filters.push(f);
        }
        Ok(Filter::encode_section(&filters))
    }

    /// The manifest of a set signed by `key`.
    fn manifest(
        &self,
        created: String,
        key: &SigningKey,
        algorithms: Vec<AlgorithmInfo>,
    ) -> Manifest {
        Manifest {
            name: self.name.clone(),
            version: self.version,
            issuer: Issuer {
                name: self.issuer.clone(),
                fingerprint: fingerprint(&key.verifying_key()),
            },
            created,
            expires: self.expires.clone(),
            description: self.description.clone(),
            representations: self.representations.clone(),
            algorithms,
            bloom: self
                .representations
                .contains(&Representation::Bloom)
                .then_some(BloomParams {
                    target_fpr: self.fpr,
                    seed: self.seed,
                }),
            hashing: self.hashing,
        }
    }

    /// Builds, signs and writes the file atomically: on any error, `path`
    /// is left as it was.
    pub fn write_to(&self, path: &Path, key: &SigningKey) -> Result<BuildSummary> {
        let (bytes, summary) = self.build(key)?;
        write_atomic(path, &bytes, false)?;
        Ok(summary)
    }
}

/// The list section: the label table (each distinct label once, in order)
/// and each group's digests with their label's index.
fn list_section(groups: &Groups<'_>) -> Vec<u8> {
    let mut labels: BTreeMap<&Label, u32> = groups
        .values()
        .flatten()
        .filter_map(|(_, l)| *l)
        .map(|l| (l, 0))
        .collect();
    for (i, v) in labels.values_mut().enumerate() {
        *v = i as u32;
    }
    let table: Vec<Label> = labels.keys().map(|l| (*l).clone()).collect();
    let algos: Vec<_> = groups
        .iter()
        .map(|(&a, g)| {
            let width = g[0].0.len();
            let entries = g
                .iter()
                .map(|(d, l)| {
                    let idx = l.and_then(|l| labels.get(l).copied()).unwrap_or(NO_LABEL);
                    (*d, idx)
                })
                .collect();
            (a, width, entries)
        })
        .collect();
    List::encode(&table, &algos)
}
