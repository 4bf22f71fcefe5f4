//! The `library` content model: benign images are a folder of real images,
//! each shared one an item of it after a sender edit drawn from weighted
//! edit chains; offenders share listed items (images whose hash is in the
//! set) after their own edits.
//!
//! Done once per (image, edit chain), before the simulation: the hashes,
//! through the `eval` hash cache ([`crate::eval::cache`], keyed by content
//! hash + chain + algorithm + hashing configuration), and the decision,
//! through the client's own matching path: every algorithm of the real
//! [`Policy`](crate::scan::Policy) (its thresholds, PDQ quality floor and
//! dihedral matching), looked up in the real signed set through the
//! scanner's [`Matcher`]. The engine then draws (item, chain) for each
//! image message and uses that decision: the decision per distinct
//! (image, edit) is real, the draw is sampling.
//!
//! The unedited image is decoded and hashed as the scanner does
//! ([`hash::decode_for`]); an edited copy is the edit applied to the decoded
//! pixels and hashed as `eval rates` hashes edits (so their cache records
//! are shared). Exact hashes (SHA-256, MD5) are looked up for the unedited
//! file only: an edited copy's bytes are new.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::Error;
use super::rates::offender_edits;
use super::sample::uniform;
use super::scenario::{Loaded, Order};
use crate::eval::cache::{self, Cache};
use crate::eval::rates::{edit_seed, list_files};
use crate::eval::transform::Chain;
use crate::hash::{self, Algorithm, Digest, HashConfig, Threshold, pdq};
use crate::hashset::SignedSet;
use crate::hashset::sign::IssuerKey;
use crate::scan::Matcher;

/// What one (image, chain) hashed to.
#[derive(Clone, Debug)]
struct Hashes {
    /// Per perceptual algorithm of the policy: the cached value.
    perceptual: Vec<cache::Value>,
    /// Exact digests of the unedited file.
    exact: Vec<Digest>,
}

/// One image of a folder, per chain (`None`: the edit could not be applied).
#[derive(Clone, Debug)]
struct Item {
    path: PathBuf,
    /// The unedited file's hashes.
    unedited: Hashes,
    /// Per chain of the folder.
    hashes: Vec<Option<Hashes>>,
}

/// A file left out, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// The file.
    pub path: PathBuf,
    /// Why, in one line.
    pub reason: String,
}

/// A folder hashed under some chains.
#[derive(Clone, Debug)]
struct Folder {
    files: usize,
    items: Vec<Item>,
    skipped: Vec<Skipped>,
    edit_failures: u64,
}

/// The library, hashed: what [`prepare`] returns and a run's model uses.
#[derive(Clone, Debug)]
pub struct Library {
    /// What was hashed (the fields a sweep must not change).
    pub key: String,
    set: SignedSet,
    set_file: PathBuf,
    algorithms: Vec<Algorithm>,
    benign: Folder,
    benign_chains: Vec<(String, f64)>,
    listed: Folder,
    listed_from: Option<PathBuf>,
    offender_chains: Vec<String>,
    computed: u64,
    cached: u64,
}

/// The decisions a run uses (for one threshold and policy).
#[derive(Clone, Debug)]
pub struct Decisions {
    /// `benign[item × chains + chain]`: the item after the chain matched.
    benign: Vec<bool>,
    /// Cumulative chain weights (normalised; last is 1).
    cumulative: Vec<f64>,
    items: usize,
    /// `listed[item × chains + chain]` for offenders' listed items.
    listed: Vec<bool>,
    listed_items: usize,
    offender_chains: usize,
    order: Order,
    /// The summary for the report.
    pub summary: Summary,
}

/// What the report says about the library.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The folder, as the scenario names it.
    pub folder: PathBuf,
    /// Files found.
    pub files: usize,
    /// Images decoded (the items benign users share).
    pub decoded: usize,
    /// Files left out (not decodable), with why.
    pub skipped: Vec<Skipped>,
    /// The signed set, as the scenario names it.
    pub set: PathBuf,
    /// Its entries (all algorithms).
    pub set_entries: u64,
    /// Benign chains: (chain, weight, items that match after it).
    pub chains: Vec<(String, f64, usize)>,
    /// Library images that match unedited (what `cssim hashset check`
    /// finds on the same files under the same policy).
    pub unedited_matches: Vec<PathBuf>,
    /// Probability that a benign image message matches (items uniform,
    /// chains by weight).
    pub false_match_share: f64,
    /// Where listed items come from (`None`: the library's unedited matches).
    pub listed_folder: Option<PathBuf>,
    /// Listed items (images of the set).
    pub listed_items: usize,
    /// Listed-folder images left out (undecodable, or not in the set).
    pub listed_skipped: Vec<Skipped>,
    /// Offender chains: (chain, listed items that match after it).
    pub offender_chains: Vec<(String, usize)>,
    /// Edits that could not be applied (that copy never matches).
    pub edit_failures: u64,
    /// Hashes computed in this run.
    pub hashes_computed: u64,
    /// Hashes read from the cache.
    pub hashes_cached: u64,
}

fn kind(a: Algorithm, dihedral: bool) -> &'static str {
    match a {
        Algorithm::Pdq if dihedral => "pdq8",
        a => a.name(),
    }
}

/// The hashing configuration as cache keys name it (as `eval rates` does
/// for edits; the unedited image, decoded as the scanner decodes it, has
/// its own).
fn hashing_key(config: &HashConfig, unedited: bool) -> String {
    let base = format!(
        "classic={}x{};exif_rotate={}",
        hash::classic::VARIANT,
        config.classic_size(),
        config.limits.exif_rotate
    );
    if unedited {
        // `fast+half`: the fast route reads baseline JPEGs of 128–511 px at
        // 1/2 scale since then; older caches hold their exact hashes.
        let route = match config.pdq_route {
            hash::PdqRoute::Exact => "exact",
            hash::PdqRoute::Fast => "fast+half",
        };
        format!("{base};scanner-decode;pdq_route={route}")
    } else {
        base
    }
}

struct Hasher<'a> {
    cache: &'a Cache,
    config: HashConfig,
    algorithms: &'a [Algorithm],
    exact: &'a [Algorithm],
    dihedral: bool,
    seed: u64,
    computed: AtomicU64,
    cached: AtomicU64,
    edit_failures: AtomicU64,
}

impl Hasher<'_> {
    fn folder(
        &self,
        dir: &Path,
        chains: &[Chain],
        done: &AtomicU64,
        total: u64,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<Folder, std::io::Error> {
        let files = list_files(dir)?;
        let outcomes: Vec<Result<Item, Skipped>> = files
            .par_iter()
            .map(|path| {
                let r = self.file(path, chains);
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                r
            })
            .collect();
        let mut items = Vec::new();
        let mut skipped = Vec::new();
        for o in outcomes {
            match o {
                Ok(i) => items.push(i),
                Err(s) => skipped.push(s),
            }
        }
        Ok(Folder {
            files: files.len(),
            items,
            skipped,
            edit_failures: 0,
        })
    }

    fn file(&self, path: &Path, wanted: &[Chain]) -> Result<Item, Skipped> {
        let mut chains = vec![Chain::identity()];
        chains.extend(wanted.iter().filter(|c| !c.is_identity()).cloned());
        let chains = &chains[..];
        let skip = |reason: String| Skipped {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| skip(crate::files::describe_io_error(&e)))?;
        if bytes.len() as u64 > self.config.limits.max_file_bytes {
            return Err(skip(format!(
                "{} bytes, over the limit of {}",
                bytes.len(),
                self.config.limits.max_file_bytes
            )));
        }
        let content: [u8; 32] = Sha256::digest(&bytes).into();
        let kinds: Vec<&str> = self
            .algorithms
            .iter()
            .map(|&a| kind(a, self.dihedral))
            .collect();
        let keys: Vec<Vec<cache::Key>> = chains
            .iter()
            .map(|c| {
                let (text, config) = if c.is_identity() {
                    (c.to_string(), hashing_key(&self.config, true))
                } else {
                    (
                        format!("{c} seed={}", self.seed),
                        hashing_key(&self.config, false),
                    )
                };
                kinds
                    .iter()
                    .map(|k| cache::key(&content, &text, k, &config))
                    .collect()
            })
            .collect();
        let mut values: Vec<Vec<Option<cache::Value>>> = keys
            .iter()
            .map(|ks| ks.iter().map(|k| self.cache.get(k).cloned()).collect())
            .collect();
        let hit = values.iter().flatten().filter(|v| v.is_some()).count() as u64;
        self.cached.fetch_add(hit, Ordering::Relaxed);
        let mut failed = vec![false; chains.len()];
        // Decoding checks the file is an image even when every hash is
        // cached: an undecodable file is skipped whatever the cache holds.
        let perceptual_missing = values.iter().flatten().any(Option::is_none);
        let mut records = Vec::new();
        if perceptual_missing || self.algorithms.is_empty() {
            let decoded = hash::decode_for(&bytes, self.algorithms, &self.config)
                .map_err(|e| skip(e.to_string()))?;
            let mut pixels = None;
            for (ci, chain) in chains.iter().enumerate() {
                if values[ci].iter().all(Option::is_some) {
                    continue;
                }
                let edited;
                let image = if chain.is_identity() {
                    None
                } else {
                    if pixels.is_none() {
                        pixels = Some(
                            hash::decode::decode(&bytes, &self.config.limits)
                                .map_err(|e| skip(e.to_string()))?,
                        );
                    }
                    let Some(original) = pixels.as_ref() else {
                        continue;
                    };
                    match chain.apply(original, edit_seed(self.seed, &content)) {
                        Ok(img) => {
                            edited = img;
                            Some(&edited)
                        }
                        Err(_) => {
                            failed[ci] = true;
                            self.edit_failures.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    }
                };
                let mut grey = None;
                for (ai, &a) in self.algorithms.iter().enumerate() {
                    if values[ci][ai].is_some() {
                        continue;
                    }
                    let v = match image {
                        None => self.unedited(&decoded, a),
                        Some(img) => {
                            cache::Value::of_image(img, a, self.dihedral, &self.config, &mut grey)
                        }
                    };
                    self.computed.fetch_add(1, Ordering::Relaxed);
                    records.push((keys[ci][ai], kinds[ai].to_string(), v.clone()));
                    values[ci][ai] = Some(v);
                }
            }
            self.cache
                .append(&records)
                .map_err(|e| skip(e.to_string()))?;
        }
        // Every hash cached: the file decoded when they were made (the
        // key is its content), so it is not decoded again.
        let exact: Vec<Digest> = self
            .exact
            .iter()
            .filter_map(|&a| match a {
                Algorithm::Sha256 => Some(hash::exact::sha256(&bytes)),
                Algorithm::Md5 => Some(hash::exact::md5(&bytes)),
                _ => None,
            })
            .collect();
        let mut all: Vec<Option<Hashes>> = values
            .into_iter()
            .zip(chains)
            .zip(failed)
            .map(|((vs, chain), failed)| {
                if failed {
                    return None;
                }
                let perceptual = vs.into_iter().collect::<Option<Vec<_>>>()?;
                Some(Hashes {
                    perceptual,
                    exact: if chain.is_identity() {
                        exact.clone()
                    } else {
                        Vec::new()
                    },
                })
            })
            .collect();
        let unedited = all[0]
            .take()
            .ok_or_else(|| skip("the unedited image could not be hashed".into()))?;
        let mut next = 1;
        let hashes = wanted
            .iter()
            .map(|c| {
                if c.is_identity() {
                    Some(unedited.clone())
                } else {
                    next += 1;
                    all[next - 1].take()
                }
            })
            .collect();
        Ok(Item {
            path: path.to_path_buf(),
            unedited,
            hashes,
        })
    }

    fn unedited(&self, decoded: &hash::Decoded, a: Algorithm) -> cache::Value {
        match a {
            Algorithm::Pdq if self.dihedral => {
                decoded.pdq_dihedral().map_or_else(empty, |d| cache::Value {
                    bytes: d.hashes.iter().flat_map(|h| h.0).collect(),
                    quality: d.quality.0,
                    dc: decoded.pdq_route() == hash::PdqRoute::Fast,
                })
            }
            Algorithm::Pdq => decoded.pdq().map_or_else(empty, |p| cache::Value {
                bytes: p.hash.0.to_vec(),
                quality: p.quality.0,
                dc: decoded.pdq_route() == hash::PdqRoute::Fast,
            }),
            a => cache::Value {
                bytes: decoded
                    .classic(&self.config, a)
                    .map(|d| d.bytes().to_vec())
                    .unwrap_or_default(),
                quality: 0,
                dc: false,
            },
        }
    }
}

fn empty() -> cache::Value {
    cache::Value {
        bytes: Vec::new(),
        quality: 0,
        dc: false,
    }
}

fn parse_chains(loaded: &Loaded, field: &str, texts: &[String]) -> Result<Vec<Chain>, Error> {
    texts
        .iter()
        .map(|t| {
            Chain::parse(t).map_err(|e| Error::Invalid {
                path: loaded.path.clone(),
                line: None,
                field: field.into(),
                reason: format!("'{t}': {e}"),
            })
        })
        .collect()
}

/// What a prepared library depends on: a sweep point whose key differs
/// needs its own.
pub fn key(loaded: &Loaded) -> String {
    let s = &loaded.scenario;
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}|{:?}|{}",
        s.content.library,
        s.content.edits,
        s.offenders.library,
        offender_edits(loaded),
        s.hashset.file,
        s.hashset.issuer,
        s.seed,
        loaded.policy.image_algorithms,
        loaded.policy.pdq_dihedral
    )
}

/// Hashes the library (and the offenders' listed items) once, through the
/// cache; `progress(done, total)` after each file.
pub fn prepare(
    loaded: &Loaded,
    cache: &Cache,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Library, Error> {
    let s = &loaded.scenario;
    let invalid = |field: &str, reason: String| Error::Invalid {
        path: loaded.path.clone(),
        line: None,
        field: field.into(),
        reason,
    };
    let folder = s.content.library.clone().unwrap_or_default();
    let dir = loaded.resolve(&folder);
    let Some(set_file) = s.hashset.file.clone() else {
        return Err(invalid(
            "hashset.file",
            "library mode needs a signed set file (a generated set is not built in this version)"
                .into(),
        ));
    };
    let Some(issuer) = s.hashset.issuer.clone() else {
        return Err(invalid(
            "hashset.issuer",
            "library mode needs the set issuer's public key file (KEY.pub)".into(),
        ));
    };
    let key_path = loaded.resolve(&issuer);
    let issuer_key =
        IssuerKey::read(&key_path).map_err(|e| invalid("hashset.issuer", e.to_string()))?;
    let set = SignedSet::open(&loaded.resolve(&set_file), &issuer_key.key)
        .map_err(|e| invalid("hashset.file", e.to_string()))?;
    let mut config = set.hash_config();
    config.pdq_route = loaded.policy.pdq_route;
    let policy = &loaded.policy;
    let algorithms: Vec<Algorithm> = if policy.scan_images {
        policy
            .image_algorithms
            .iter()
            .copied()
            .filter(|a| a.is_perceptual())
            .collect()
    } else {
        Vec::new()
    };
    let exact: Vec<Algorithm> = if policy.scan_images {
        policy
            .image_algorithms
            .iter()
            .copied()
            .filter(|a| !a.is_perceptual())
            .collect()
    } else {
        Vec::new()
    };
    let benign_texts: Vec<String> = if s.content.edits.is_empty() {
        vec!["none".into()]
    } else {
        s.content.edits.iter().map(|e| e.chain.clone()).collect()
    };
    let benign_chains = parse_chains(loaded, "content.edits.chain", &benign_texts)?;
    let weights: Vec<f64> = if s.content.edits.is_empty() {
        vec![1.0]
    } else {
        s.content.edits.iter().map(|e| e.weight).collect()
    };
    if weights.iter().sum::<f64>() <= 0.0 {
        return Err(invalid(
            "content.edits.weight",
            "the weights sum to 0".into(),
        ));
    }
    let offender_texts = offender_edits(loaded);
    let offender_parsed = parse_chains(loaded, "offenders.edits", &offender_texts)?;
    let hasher = Hasher {
        cache,
        config,
        algorithms: &algorithms,
        exact: &exact,
        dihedral: policy.pdq_dihedral,
        seed: s.seed,
        computed: AtomicU64::new(0),
        cached: AtomicU64::new(0),
        edit_failures: AtomicU64::new(0),
    };
    let listed_dir = s.offenders.library.as_ref().map(|f| loaded.resolve(f));
    let count = |d: &Path| list_files(d).map(|f| f.len() as u64).unwrap_or(0);
    let total = count(&dir) + listed_dir.as_deref().map_or(0, count);
    let done = AtomicU64::new(0);
    let mut benign = hasher
        .folder(&dir, &benign_chains, &done, total, progress)
        .map_err(|e| {
            invalid(
                "content.library",
                format!("{}: {}", dir.display(), crate::files::describe_io_error(&e)),
            )
        })?;
    if benign.items.is_empty() {
        return Err(invalid(
            "content.library",
            format!(
                "{} has no decodable image ({} files{})",
                dir.display(),
                benign.files,
                benign
                    .skipped
                    .first()
                    .map(|s| format!("; {}: {}", s.path.display(), s.reason))
                    .unwrap_or_default()
            ),
        ));
    }
    // Listed items: a folder of them, or the library's own images under
    // the offenders' chains (those that match unedited are kept later).
    let listed = match &listed_dir {
        Some(d) => hasher
            .folder(d, &offender_parsed, &done, total, progress)
            .map_err(|e| {
                invalid(
                    "offenders.library",
                    format!("{}: {}", d.display(), crate::files::describe_io_error(&e)),
                )
            })?,
        None => {
            let mut f = hasher
                .folder(&dir, &offender_parsed, &done, total + count(&dir), progress)
                .map_err(|e| {
                    invalid(
                        "content.library",
                        format!("{}: {}", dir.display(), crate::files::describe_io_error(&e)),
                    )
                })?;
            f.skipped.clear();
            f
        }
    };
    benign.edit_failures = hasher.edit_failures.load(Ordering::Relaxed);
    Ok(Library {
        key: key(loaded),
        set,
        set_file,
        algorithms: algorithms.clone(),
        benign,
        benign_chains: benign_texts.into_iter().zip(weights).collect(),
        listed,
        listed_from: s.offenders.library.clone(),
        offender_chains: offender_texts,
        computed: hasher.computed.load(Ordering::Relaxed),
        cached: hasher.cached.load(Ordering::Relaxed),
    })
}

impl Library {
    /// Whether one (image, chain) matches under the loaded policy: each of
    /// the policy's image algorithms, as the scanner checks them.
    fn decide(&self, loaded: &Loaded, h: &Hashes) -> Result<bool, Error> {
        let policy = &loaded.policy;
        let lookup = |d: &Digest, t: Threshold| -> Result<bool, Error> {
            Matcher::lookup(&self.set, d, t)
                .map(|hits| !hits.is_empty())
                .map_err(|reason| Error::Invalid {
                    path: loaded.path.clone(),
                    line: None,
                    field: "hashset.file".into(),
                    reason,
                })
        };
        for (v, &a) in h.perceptual.iter().zip(&self.algorithms) {
            let t = if a == loaded.scenario.content.algorithm {
                Threshold(loaded.threshold())
            } else {
                policy.threshold(a)
            };
            match a {
                Algorithm::Pdq => {
                    if v.bytes.is_empty()
                        || pdq::quality_gate(pdq::Quality(v.quality), policy.min_pdq_quality)
                            .is_err()
                    {
                        continue;
                    }
                    for chunk in v.bytes.chunks(32) {
                        if lookup(&Digest::new(Algorithm::Pdq, chunk.to_vec()), t)? {
                            return Ok(true);
                        }
                    }
                }
                a => {
                    if !v.bytes.is_empty() && lookup(&Digest::new(a, v.bytes.clone()), t)? {
                        return Ok(true);
                    }
                }
            }
        }
        for d in &h.exact {
            if lookup(d, policy.threshold(d.algorithm()))? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn decide_folder(&self, loaded: &Loaded, f: &Folder) -> Result<Vec<bool>, Error> {
        let mut out = Vec::new();
        for item in &f.items {
            for h in &item.hashes {
                out.push(match h {
                    Some(h) => self.decide(loaded, h)?,
                    None => false,
                });
            }
        }
        Ok(out)
    }

    /// The decisions under `loaded`'s policy and threshold.
    pub fn decisions(&self, loaded: &Loaded) -> Result<Decisions, Error> {
        let s = &loaded.scenario;
        let chains = self.benign_chains.len();
        let benign = self.decide_folder(loaded, &self.benign)?;
        let items = self.benign.items.len();
        let total: f64 = self.benign_chains.iter().map(|c| c.1).sum();
        let mut acc = 0.0;
        let mut cumulative: Vec<f64> = self
            .benign_chains
            .iter()
            .map(|c| {
                acc += c.1 / total;
                acc
            })
            .collect();
        if let Some(last) = cumulative.last_mut() {
            *last = 1.0;
        }
        let per_chain: Vec<usize> = (0..chains)
            .map(|c| (0..items).filter(|&i| benign[i * chains + c]).count())
            .collect();
        let false_match_share = self
            .benign_chains
            .iter()
            .zip(&per_chain)
            .map(|(c, &k)| c.1 / total * k as f64 / items as f64)
            .sum();
        // Listed items: those that match unedited (in the listed folder, or
        // in the library when no folder is named).
        let oc = self.offender_chains.len();
        let listed_all = self.decide_folder(loaded, &self.listed)?;
        let mut listed_skipped = self.listed.skipped.clone();
        let mut listed = Vec::new();
        let mut listed_items = 0;
        for (i, item) in self.listed.items.iter().enumerate() {
            let unedited = self.decide(loaded, &item.unedited)?;
            if unedited {
                listed.extend_from_slice(&listed_all[i * oc..(i + 1) * oc]);
                listed_items += 1;
            } else if self.listed_from.is_some() {
                listed_skipped.push(Skipped {
                    path: item.path.clone(),
                    reason: "does not match the set unedited (not a listed item)".into(),
                });
            }
        }
        if s.offenders.count > 0 && listed_items == 0 {
            return Err(Error::Invalid {
                path: loaded.path.clone(),
                line: None,
                field: if self.listed_from.is_some() {
                    "offenders.library".into()
                } else {
                    "content.library".into()
                },
                reason: "no image in it matches the set unedited, so offenders have no listed item to share".into(),
            });
        }
        let offender_chains = self
            .offender_chains
            .iter()
            .enumerate()
            .map(|(c, t)| {
                (
                    t.clone(),
                    (0..listed_items).filter(|&i| listed[i * oc + c]).count(),
                )
            })
            .collect();
        let mut unedited_matches = Vec::new();
        for item in &self.benign.items {
            if self.decide(loaded, &item.unedited)? {
                unedited_matches.push(item.path.clone());
            }
        }
        let set_entries = self
            .set
            .manifest()
            .algorithms
            .iter()
            .map(|a| a.entries)
            .sum();
        let summary = Summary {
            folder: s.content.library.clone().unwrap_or_default(),
            files: self.benign.files,
            decoded: items,
            skipped: self.benign.skipped.clone(),
            set: self.set_file.clone(),
            set_entries,
            chains: self
                .benign_chains
                .iter()
                .zip(&per_chain)
                .map(|(c, &k)| (c.0.clone(), c.1, k))
                .collect(),
            unedited_matches,
            false_match_share,
            listed_folder: self.listed_from.clone(),
            listed_items,
            listed_skipped,
            offender_chains,
            edit_failures: self.benign.edit_failures,
            hashes_computed: self.computed,
            hashes_cached: self.cached,
        };
        Ok(Decisions {
            benign,
            cumulative,
            items,
            listed,
            listed_items,
            offender_chains: oc,
            order: s.content.order,
            summary,
        })
    }
}

impl Decisions {
    /// Matches among `n` benign image messages, each an (item, chain) drawn
    /// (items uniformly, or in turn with `order = "cycle"`; chains by weight).
    pub fn benign_matches(&self, rng: &mut ChaCha8Rng, n: u64) -> u64 {
        let chains = self.cumulative.len();
        let mut found = 0;
        for j in 0..n {
            let item = match self.order {
                Order::Random => pick(rng, self.items),
                Order::Cycle => (j % self.items as u64) as usize,
            };
            let chain = if chains == 1 {
                0
            } else {
                let u = uniform(rng);
                self.cumulative
                    .iter()
                    .position(|&c| u < c)
                    .unwrap_or(chains - 1)
            };
            found += u64::from(self.benign[item * chains + chain]);
        }
        found
    }

    /// Matches among `n` listed items shared by an offender, each a listed
    /// item and one of the offenders' chains (uniformly).
    pub fn listed_matches(&self, rng: &mut ChaCha8Rng, n: u64) -> u64 {
        let mut found = 0;
        for _ in 0..n {
            let i = pick(rng, self.listed_items * self.offender_chains);
            found += u64::from(self.listed[i]);
        }
        found
    }

    /// Probability that an offender's listed item matches.
    pub fn detection_share(&self) -> f64 {
        if self.listed.is_empty() {
            return 0.0;
        }
        self.listed.iter().filter(|&&b| b).count() as f64 / self.listed.len() as f64
    }
}

/// A uniform index below `n` (multiply-shift; bias below 2⁻³²·n).
#[inline]
fn pick(rng: &mut ChaCha8Rng, n: usize) -> usize {
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}
