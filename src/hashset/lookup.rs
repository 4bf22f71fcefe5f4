//! A verified hash set in memory, and matching against it.
//!
//! [`SignedSet::lookup`] answers from the list when the file has one (exact:
//! equality for exact algorithms, the multi-index for perceptual ones), and
//! from the Bloom filter otherwise, probing every digest within
//! `min(bloom radius, threshold)` of the query.

use std::path::Path;

use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use super::bloom::{self, Filter};
use super::format::{self, SectionKind};
use super::list::{Label, List, pack_into};
use super::manifest::{self, Manifest, Representation};
use super::mih::Index;
use super::sign::fingerprint;
use super::{Error, Result};
use crate::hash::{Algorithm, Digest, Distance, HashConfig, Threshold};

/// One matching entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MatchedEntry {
    /// The entry (list representation only; a Bloom filter cannot say).
    pub entry: Option<Digest>,
    /// The entry's label (list representation only).
    pub label: Option<Label>,
    /// Hamming distance from the query (0 for exact algorithms).
    pub distance: Distance,
}

/// What a Bloom lookup did, and how likely a hit is false.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BloomAnswer {
    /// The probe radius.
    pub radius: u32,
    /// Digests probed: Σ_{i ≤ radius} C(bits, i).
    pub probes: u64,
    /// False-positive rate of one probe (estimated from the filter's fill).
    pub fpr_per_probe: f64,
    /// Chance that at least one probe is a false positive: 1 − (1 − p)^probes.
    pub compounded_fpr: f64,
}

/// The answer to a lookup.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Lookup {
    /// The query's algorithm.
    pub algorithm: Algorithm,
    /// The threshold used.
    pub threshold: Threshold,
    /// Which representation answered.
    pub via: Representation,
    /// Matches, nearest first.
    pub matches: Vec<MatchedEntry>,
    /// Probe figures, when the Bloom filter answered.
    pub bloom: Option<BloomAnswer>,
}

/// Memory a loaded set uses, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MemoryUsage {
    /// The list's digests as stored in the file (entries × digest bytes).
    pub raw_hash_bytes: usize,
    /// The digests as held in memory (packed into 64-bit words).
    pub entry_bytes: usize,
    /// Per-entry label indices.
    pub label_bytes: usize,
    /// The multi-index tables.
    pub index_bytes: usize,
    /// The Bloom filters.
    pub bloom_bytes: usize,
}

/// A verified hash set, ready for lookups.
#[derive(Clone, Debug)]
pub struct SignedSet {
    manifest: Manifest,
    list: Option<List>,
    /// Parallel to `list.entries`; `Some` for perceptual algorithms.
    indexes: Vec<Option<Index>>,
    filters: Vec<Filter>,
    bloom_radius: u32,
}

impl SignedSet {
    /// Reads and verifies a hash-set file against the issuer key the caller
    /// expects, and refuses it if it has expired by the system clock
    /// ([`Error::Expired`]); errors name the file. This is how a client
    /// loads the set it scans against.
    ///
    /// Rollback to an older version is a separate check, across loads:
    /// see [`super::pins::VersionPins`].
    pub fn open(path: &Path, issuer: &VerifyingKey) -> Result<SignedSet> {
        SignedSet::open_at(path, issuer, manifest::now_unix())
    }

    /// [`open`](SignedSet::open) with "now" given, in seconds since the Unix epoch.
    pub fn open_at(path: &Path, issuer: &VerifyingKey, now_unix: u64) -> Result<SignedSet> {
        let set = SignedSet::open_ignoring_expiry(path, issuer)?;
        set.check_fresh(now_unix).map_err(|e| e.in_file(path))?;
        Ok(set)
    }

    /// Reads and verifies a hash-set file without looking at its expiry:
    /// for auditing (`verify`, `export`), never for scanning.
    pub fn open_ignoring_expiry(path: &Path, issuer: &VerifyingKey) -> Result<SignedSet> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        SignedSet::from_bytes(&bytes, issuer).map_err(|e| e.in_file(path))
    }

    /// Refuses the set if it has expired at `now_unix` (seconds since the
    /// Unix epoch): [`Error::Expired`] with the expiry and `now`. A set
    /// without an expiry is always fresh.
    pub fn check_fresh(&self, now_unix: u64) -> Result<()> {
        match &self.manifest.expires {
            Some(expires) if self.manifest.is_expired_at(now_unix)? => Err(Error::Expired {
                expires: expires.clone(),
                now: manifest::rfc3339_from_unix(now_unix),
            }),
            _ => Ok(()),
        }
    }

    /// Verifies `bytes` (see `format` for the order of checks), then parses
    /// the manifest and sections and checks they agree. Does not look at the
    /// expiry's time, only at its form; [`open`](SignedSet::open) and
    /// [`check_fresh`](SignedSet::check_fresh) do.
    pub fn from_bytes(bytes: &[u8], issuer: &VerifyingKey) -> Result<SignedSet> {
        let container = format::verify(bytes, issuer)?;
        let manifest = format::parse_manifest(&container)?;
        let bad = |reason: String| Error::Manifest { reason };
        if let Some(expires) = &manifest.expires {
            // Signed, but a set whose expiry cannot be read cannot be judged fresh.
            manifest::check_expiry(&manifest.created, expires).map_err(|e| bad(e.to_string()))?;
        }
        let signer = fingerprint(issuer);
        if manifest.issuer.fingerprint != signer {
            return Err(bad(format!(
                "names issuer fingerprint {} but the file is signed by {signer}",
                manifest.issuer.fingerprint
            )));
        }
        let present: Vec<Representation> = container
            .sections
            .iter()
            .filter_map(|(k, _)| match k {
                SectionKind::List => Some(Representation::List),
                SectionKind::Bloom => Some(Representation::Bloom),
                SectionKind::Manifest => None,
            })
            .collect();
        if present != manifest.representations {
            return Err(bad(format!(
                "lists representations {:?} but the file has sections {present:?}",
                manifest.representations
            )));
        }
        if manifest.algorithms.is_empty() || manifest.total_entries() == 0 {
            return Err(Error::Empty);
        }
        for (i, a) in manifest.algorithms.iter().enumerate() {
            if manifest.algorithms[..i]
                .iter()
                .any(|b| b.algorithm == a.algorithm)
            {
                return Err(bad(format!("{} listed twice", a.algorithm)));
            }
            if a.algorithm.is_classic()
                && a.variant.as_deref() != Some(crate::hash::classic::VARIANT)
            {
                return Err(Error::ClassicVariant {
                    algorithm: a.algorithm,
                    found: a.variant.clone(),
                    expected: crate::hash::classic::VARIANT,
                });
            }
            if a.bits == 0 || a.bits % 8 != 0 || a.default_threshold.0 > a.bits {
                return Err(bad(format!(
                    "{}: {} bits with default threshold {}",
                    a.algorithm, a.bits, a.default_threshold
                )));
            }
        }
        classic_size(&manifest)?;
        if container.version == format::VERSION_DEFAULT_HASHING && !manifest.hashing.is_default() {
            // A build that knows only version 1 would ignore the record.
            return Err(bad(format!(
                "records hashing ({}) in a version {} file; it needs version {}",
                manifest.hashing,
                container.version,
                format::VERSION
            )));
        }
        let list = container
            .section(SectionKind::List)
            .map(List::decode)
            .transpose()?;
        if let Some(list) = &list {
            let found = list
                .entries
                .iter()
                .map(|e| (e.algorithm(), e.width(), Some(e.len() as u64)));
            check_algorithms(&manifest, found, "list")?;
        }
        let filters = container
            .section(SectionKind::Bloom)
            .map(Filter::decode_section)
            .transpose()?
            .unwrap_or_default();
        if !filters.is_empty() {
            let found = filters.iter().map(|f| (f.algorithm(), f.width(), None));
            check_algorithms(&manifest, found, "bloom")?;
            check_filters(&manifest, &filters)?;
        }
        let indexes = list
            .as_ref()
            .map(|l| {
                l.entries
                    .iter()
                    .map(|e| {
                        e.algorithm()
                            .is_perceptual()
                            .then(|| Index::build(e.words(), e.width()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(SignedSet {
            manifest,
            list,
            indexes,
            filters,
            bloom_radius: 0,
        })
    }

    /// The verified manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// How a client must hash images to match this set: the manifest's
    /// [`Hashing`](manifest::Hashing) and the classic hashes' size, with
    /// the default decoding limits.
    pub fn hash_config(&self) -> HashConfig {
        let size = classic_size(&self.manifest)
            .ok()
            .flatten()
            .unwrap_or(crate::hash::classic::DEFAULT_SIZE);
        self.manifest.hashing.config(Default::default(), size)
    }

    /// The algorithms the set has entries for.
    pub fn algorithms(&self) -> Vec<Algorithm> {
        self.manifest
            .algorithms
            .iter()
            .map(|a| a.algorithm)
            .collect()
    }

    /// The issuer's recommended threshold for `algorithm`.
    pub fn default_threshold(&self, algorithm: Algorithm) -> Option<Threshold> {
        self.manifest
            .algorithm(algorithm)
            .map(|a| a.default_threshold)
    }

    /// The list, when the file has one.
    pub fn list(&self) -> Option<&List> {
        self.list.as_ref()
    }

    /// The Bloom filter for `algorithm`, when the file has one.
    pub fn filter(&self, algorithm: Algorithm) -> Option<&Filter> {
        self.filters.iter().find(|f| f.algorithm() == algorithm)
    }

    /// The radius perceptual Bloom lookups probe (default 0).
    pub fn bloom_radius(&self) -> u32 {
        self.bloom_radius
    }

    /// Sets the radius perceptual Bloom lookups probe; lookups use the
    /// smaller of it and their threshold.
    pub fn set_bloom_radius(&mut self, radius: u32) {
        self.bloom_radius = radius;
    }

    /// Every entry of `algorithm` with its label, in sorted order.
    pub fn entries(&self, algorithm: Algorithm) -> Result<Vec<(Digest, Option<&Label>)>> {
        let list = self.list.as_ref().ok_or(Error::NotRecoverable)?;
        let e = list
            .get(algorithm)
            .ok_or(Error::AlgorithmNotInSet { algorithm })?;
        Ok((0..e.len())
            .map(|i| (e.digest(i), e.label_index(i).map(|l| &list.labels[l])))
            .collect())
    }

    /// Memory used, for the benchmark and `info`.
    pub fn memory(&self) -> MemoryUsage {
        let mut m = MemoryUsage::default();
        if let Some(list) = &self.list {
            for e in &list.entries {
                m.raw_hash_bytes += e.len() * e.width();
                m.entry_bytes += e.words().len() * 8;
                m.label_bytes += e.len() * 4;
            }
        }
        m.index_bytes = self.indexes.iter().flatten().map(Index::memory_bytes).sum();
        m.bloom_bytes = self.filters.iter().map(Filter::memory_bytes).sum();
        m
    }

    /// Checks a query against the set's algorithm, size and threshold range;
    /// returns the hash size in bits.
    fn check_query(&self, query: &Digest, threshold: u32) -> Result<u32> {
        let algorithm = query.algorithm();
        let info = self
            .manifest
            .algorithm(algorithm)
            .ok_or(Error::AlgorithmNotInSet { algorithm })?;
        if query.bits() != info.bits {
            return Err(Error::QuerySize {
                algorithm,
                expected: info.bits,
                got: query.bits(),
            });
        }
        check_threshold(algorithm, threshold, info.bits)?;
        Ok(info.bits)
    }

    /// Every entry within `threshold` of `query` (equal to it, for exact
    /// algorithms, where the threshold must be 0).
    pub fn lookup(&self, query: &Digest, threshold: Threshold) -> Result<Lookup> {
        self.check_query(query, threshold.0)?;
        let algorithm = query.algorithm();
        let Some(list) = &self.list else {
            let radius = if algorithm.is_perceptual() {
                self.bloom_radius.min(threshold.0)
            } else {
                0
            };
            let mut answer = self.lookup_bloom(query, radius)?;
            answer.threshold = threshold;
            return Ok(answer);
        };
        let slot = list
            .entries
            .iter()
            .position(|e| e.algorithm() == algorithm)
            .ok_or(Error::AlgorithmNotInSet { algorithm })?;
        let entries = &list.entries[slot];
        let mut q = Vec::with_capacity(entries.words_per_entry());
        pack_into(query.bytes(), &mut q);
        let mut hits: Vec<(usize, u32)> = Vec::new();
        match &self.indexes.get(slot).and_then(Option::as_ref) {
            Some(index) => index.search(entries.words(), &q, threshold.0, &mut hits),
            None => hits.extend(entries.find_exact(&q).map(|i| (i, 0))),
        }
        hits.sort_by_key(|&(i, d)| (d, i));
        let matches = hits
            .into_iter()
            .map(|(i, d)| MatchedEntry {
                entry: Some(entries.digest(i)),
                label: entries.label_index(i).map(|l| list.labels[l].clone()),
                distance: Distance(d),
            })
            .collect();
        Ok(Lookup {
            algorithm,
            threshold,
            via: Representation::List,
            matches,
            bloom: None,
        })
    }

    /// The distance from `query` to the nearest entry of its algorithm
    /// (a linear scan: for reports such as `hashset check`, not for
    /// matching). `None` when the set has no list to measure against (a
    /// Bloom filter cannot say how far the nearest entry is) or no entry of
    /// that algorithm.
    pub fn nearest(&self, query: &Digest) -> Option<Distance> {
        let entries = self.list.as_ref()?.get(query.algorithm())?;
        if entries.width() != query.bytes().len() {
            return None;
        }
        let mut q = Vec::with_capacity(entries.words_per_entry());
        pack_into(query.bytes(), &mut q);
        (0..entries.len())
            .map(|i| super::brute::words_distance(entries.entry_words(i), &q))
            .min()
            .map(Distance)
    }

    /// Probes the Bloom filter with every digest within `radius` of `query`.
    pub fn lookup_bloom(&self, query: &Digest, radius: u32) -> Result<Lookup> {
        let algorithm = query.algorithm();
        self.check_query(query, radius)?;
        let filter = self
            .filter(algorithm)
            .ok_or(Error::AlgorithmNotInSet { algorithm })?;
        let (probes, mut hits) = filter.probe(query.bytes(), radius)?;
        hits.sort_unstable();
        let p = filter.estimated_fpr();
        Ok(Lookup {
            algorithm,
            threshold: Threshold(radius),
            via: Representation::Bloom,
            matches: hits
                .into_iter()
                .map(|d| MatchedEntry {
                    entry: None,
                    label: None,
                    distance: Distance(d),
                })
                .collect(),
            bloom: Some(BloomAnswer {
                radius,
                probes,
                fpr_per_probe: p,
                compounded_fpr: bloom::compounded_fpr(p, probes),
            }),
        })
    }
}

/// The side of the classic hashes' grid (`√bits`), the same for every
/// classic algorithm in the set; `None` when it has none.
fn classic_size(manifest: &Manifest) -> Result<Option<u32>> {
    let mut size = None;
    for a in manifest
        .algorithms
        .iter()
        .filter(|a| a.algorithm.is_classic())
    {
        let side = (1..=64u32)
            .find(|s| s * s == a.bits)
            .ok_or_else(|| Error::Manifest {
                reason: format!(
                    "{}: {} bits is not the square of a grid side 1..=64",
                    a.algorithm, a.bits
                ),
            })?;
        if size.is_some_and(|s| s != side) {
            return Err(Error::Manifest {
                reason: format!(
                    "{}: {} bits, but another classic hash in the set has {} (one hash size per set)",
                    a.algorithm,
                    a.bits,
                    size.map_or(0, |s: u32| s * s)
                ),
            });
        }
        size = Some(side);
    }
    Ok(size)
}

/// Checks a section has exactly the manifest's algorithms and sizes, and
/// the counts where the section knows them (a Bloom filter does not).
fn check_algorithms(
    manifest: &Manifest,
    found: impl Iterator<Item = (Algorithm, usize, Option<u64>)>,
    section: &str,
) -> Result<()> {
    let found: Vec<_> = found.collect();
    let bad = |reason: String| Error::Manifest { reason };
    if found.len() != manifest.algorithms.len() {
        return Err(bad(format!(
            "lists {} algorithms but the {section} section has {}",
            manifest.algorithms.len(),
            found.len()
        )));
    }
    for (algorithm, width, n) in found {
        let info = manifest.algorithm(algorithm).ok_or_else(|| {
            bad(format!(
                "does not list {algorithm}, which the {section} section has"
            ))
        })?;
        if info.bits as usize != width * 8 {
            return Err(bad(format!(
                "{algorithm}: {} bits, but the {section} section has {}",
                info.bits,
                width * 8
            )));
        }
        if let Some(n) = n.filter(|&n| n != info.entries) {
            return Err(bad(format!(
                "{algorithm}: {} entries, but the {section} section has {n}",
                info.entries
            )));
        }
    }
    Ok(())
}

/// Checks each filter against the manifest's Bloom parameters and seed.
fn check_filters(manifest: &Manifest, filters: &[Filter]) -> Result<()> {
    let bad = |reason: String| Error::Manifest { reason };
    let params = manifest
        .bloom
        .as_ref()
        .ok_or_else(|| bad("has a bloom section but no bloom parameters".into()))?;
    for f in filters {
        let a = f.algorithm();
        let info = manifest
            .algorithm(a)
            .and_then(|i| i.bloom.as_ref())
            .ok_or_else(|| bad(format!("{a}: no bloom parameters")))?;
        if info.bits != f.bits() || info.hashes != f.hashes() {
            return Err(bad(format!(
                "{a}: bloom filter of {} bits and {} hashes, manifest says {} and {}",
                f.bits(),
                f.hashes(),
                info.bits,
                info.hashes
            )));
        }
        if f.key() != bloom::sip_key(params.seed, a) {
            return Err(bad(format!(
                "{a}: bloom keys do not derive from seed {}",
                params.seed
            )));
        }
    }
    Ok(())
}

/// The one range rule for a threshold of `algorithm` on `bits`-bit hashes,
/// for a lookup and for a set being built: 0 for an exact algorithm (equal
/// or not), at most `bits` for a perceptual one.
pub(crate) fn check_threshold(algorithm: Algorithm, threshold: u32, bits: u32) -> Result<()> {
    if !algorithm.is_perceptual() && threshold != 0 {
        return Err(Error::ThresholdOnExact {
            algorithm,
            threshold,
        });
    }
    if threshold > bits {
        return Err(Error::ThresholdOutOfRange {
            algorithm,
            threshold,
            bits,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hashset::Builder;
    use crate::hashset::manifest::Hashing;
    use ed25519_dalek::SigningKey;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn bytes_of(hashing: Hashing, digests: &[Digest]) -> Vec<u8> {
        let mut b = Builder::new("t", "Test issuer");
        b.created("2025-06-01T00:00:00Z").hashing(hashing);
        for d in digests {
            b.add(d.clone(), None);
        }
        b.build(&key()).map(|(bytes, _)| bytes).unwrap_or_default()
    }

    fn built(hashing: Hashing, digests: &[Digest]) -> Result<SignedSet> {
        SignedSet::from_bytes(&bytes_of(hashing, digests), &key().verifying_key())
    }

    #[test]
    fn the_hash_config_is_the_one_the_set_was_built_with() {
        let phash256 = Digest::new(Algorithm::Phash, vec![0xA5; 32]);
        let off = Hashing {
            exif_rotate: false,
            jpeg_dc: false,
            pdq_route: crate::hash::PdqRoute::Exact,
        };
        let set = built(off, std::slice::from_ref(&phash256)).unwrap();
        // Written as version 2, which builds from before the record refuse.
        assert_eq!(
            bytes_of(off, std::slice::from_ref(&phash256))[8..10],
            [2, 0]
        );
        assert_eq!(
            bytes_of(Hashing::default(), std::slice::from_ref(&phash256))[8..10],
            [1, 0]
        );
        // The same manifest signed as version 1 is refused.
        let v2 = bytes_of(off, std::slice::from_ref(&phash256));
        let sections = format::parse_structure(&v2).unwrap().sections;
        let v1 = format::encode(&sections, &key());
        let e = SignedSet::from_bytes(&v1, &key().verifying_key())
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("in a version 1 file; it needs version 2"),
            "{e}"
        );
        let config = set.hash_config();
        assert_eq!(Hashing::of(&config), off);
        assert_eq!(config.classic_size(), 16);
        // Defaults: nothing recorded, the default configuration.
        let set = built(Hashing::default(), std::slice::from_ref(&phash256)).unwrap();
        assert_eq!(Hashing::of(&set.hash_config()), Hashing::default());
        assert!(
            !String::from_utf8_lossy(&serde_json::to_vec(set.manifest()).unwrap())
                .contains("hashing")
        );
        // Two classic sizes in one set cannot be hashed one way: refused.
        let dhash64 = Digest::new(Algorithm::Dhash, vec![1; 8]);
        let e = built(Hashing::default(), &[phash256, dhash64])
            .unwrap_err()
            .to_string();
        assert!(e.contains("one hash size per set"), "{e}");
    }

    #[test]
    fn a_way_of_hashing_this_build_does_not_know_is_refused() {
        let r: std::result::Result<Hashing, _> =
            serde_json::from_str(r#"{"exif_rotate":true,"jpeg_dc":true,"classic":"imagehash"}"#);
        assert!(
            r.unwrap_err()
                .to_string()
                .contains("unknown field `classic`")
        );
    }
}
