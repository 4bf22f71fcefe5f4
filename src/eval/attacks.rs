//! `cssim eval attacks`: both attacks over a corpus, per algorithm, and the
//! cross-check a defender would try.
//!
//! For every image and algorithm: an evasion (more than `T` bits from its
//! own hash), and a collision with another corpus image's hash (the target
//! drawn with a seeded generator, never the image itself). Each result
//! records success, distance, PSNR, SSIM, iterations and time; a success
//! counts at a PSNR budget `b` when its PSNR is at least `b` (the attack
//! makes the smallest change it can, so a budget only cuts results off).
//! The defence columns: does the *other* hash (pHash for PDQ, PDQ for pHash)
//! still match the evaded image to its original, and does the collision
//! also collide under it? Two more rows answer the questions a platform
//! would ask next: evasion of PDQ under dihedral matching (the scanner
//! looks up all eight orientations), and the joint attack on both hashes at
//! once (does the second hash still help when the attacker attacks it too?).

use std::path::{Path, PathBuf};

use image::RgbImage;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use serde::Serialize;

use crate::attack::{self, Control, Kind, Params, Second};
use crate::hash::{Algorithm, Digest, classic, decode, pdq};

/// What to run.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    /// The attacked algorithms (PDQ and/or pHash).
    pub algorithms: Vec<Algorithm>,
    /// Images used, at most (in file-name order).
    pub limit: Option<usize>,
    /// Seed of the collision targets.
    pub seed: u64,
    /// Linearised steps per attack.
    pub max_iterations: u32,
    /// The PSNR budgets of the success curves, dB.
    pub budgets: Vec<f64>,
    /// Also evade PDQ in all eight orientations (when PDQ is attacked).
    pub dihedral: bool,
    /// Also attack both hashes at once (when both are attacked).
    pub joint: bool,
}

/// How an attack was run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One hash, the image's own orientation.
    Single,
    /// PDQ evasion against all eight orientations (`pdq_dihedral`).
    Dihedral,
    /// Both hashes at once: the row's algorithm first, the other second.
    Joint,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            algorithms: vec![Algorithm::Pdq, Algorithm::Phash],
            limit: None,
            seed: 0,
            max_iterations: 40,
            budgets: (20..=50).step_by(2).map(f64::from).collect(),
            dihedral: true,
            joint: true,
        }
    }
}

/// One attack on one image.
#[derive(Clone, Debug, Serialize)]
pub struct AttackResult {
    /// The image.
    #[serde(serialize_with = "crate::report::serialize_path")]
    pub path: PathBuf,
    /// The attacked algorithm.
    pub algorithm: Algorithm,
    /// Evasion or collision.
    pub attack: Kind,
    /// One hash, dihedral evasion, or both hashes at once.
    pub mode: Mode,
    /// The collision's target image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Whether the real hash met the goal (a joint attack: the row's
    /// algorithm's goal; the other's is in `other_match`).
    pub success: bool,
    /// Distance reached (evasion: from the original; collision: to the target).
    pub distance: u32,
    /// The threshold.
    pub threshold: u32,
    /// PSNR, dB.
    pub psnr: f64,
    /// SSIM.
    pub ssim: f64,
    /// Iterations.
    pub iterations: u32,
    /// Seconds.
    pub seconds: f64,
    /// Megapixels of the image.
    pub megapixels: f64,
    /// The other algorithm.
    pub other: Algorithm,
    /// Its distance: evasion, attacked image to original; collision,
    /// attacked image to the target image.
    pub other_distance: u32,
    /// Whether that is within the other algorithm's threshold (evasion:
    /// the other hash still catches it; collision: it also collides).
    /// For a joint attack this is the second attacked hash's verdict.
    pub other_match: bool,
}

/// An image left out, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Skipped {
    /// The image.
    #[serde(serialize_with = "crate::report::serialize_path")]
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

/// One algorithm and attack, summarised.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// The attacked algorithm.
    pub algorithm: Algorithm,
    /// Evasion or collision.
    pub attack: Kind,
    /// One hash, dihedral evasion, or both hashes at once.
    pub mode: Mode,
    /// Attacks run.
    pub attempts: usize,
    /// Of which succeeded.
    pub successes: usize,
    /// `successes / attempts`.
    pub success_rate: f64,
    /// Mean PSNR of the successes, dB.
    pub mean_psnr: f64,
    /// Median PSNR of the successes, dB.
    pub median_psnr: f64,
    /// Mean SSIM of the successes.
    pub mean_ssim: f64,
    /// Mean seconds per attack.
    pub mean_seconds: f64,
    /// Mean seconds per megapixel.
    pub seconds_per_megapixel: f64,
    /// `(budget dB, success rate at PSNR ≥ budget)`.
    pub curve: Vec<(f64, f64)>,
    /// The other algorithm.
    pub other: Algorithm,
    /// Of the successes, how many the other algorithm still matches
    /// (evasion: caught; collision: also collides).
    pub other_matches: usize,
}

/// The whole run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `cssim eval attacks`.
    pub tool: &'static str,
    /// cssim's version.
    pub version: &'static str,
    /// The configuration.
    pub config: Config,
    /// The corpus folder.
    #[serde(serialize_with = "crate::report::serialize_path")]
    pub corpus: PathBuf,
    /// Images attacked.
    pub images: usize,
    /// Per algorithm and attack.
    pub summaries: Vec<Summary>,
    /// Every attack.
    pub results: Vec<AttackResult>,
    /// Images left out.
    pub skipped: Vec<Skipped>,
}

/// A sample kept for the report's pictures.
pub struct Sample {
    /// Which result (index into [`Report::results`]).
    pub result: usize,
    /// The original.
    pub original: RgbImage,
    /// The attacked image.
    pub attacked: RgbImage,
}

/// Progress: attacks done of the total.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Done.
    pub done: usize,
    /// Total.
    pub total: usize,
}

/// Why the run could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The corpus folder could not be listed.
    #[error("{}: {}", path.display(), crate::files::describe_io_error(source))]
    Corpus {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Fewer than two usable images (a collision needs another image's hash).
    #[error("{}: {found} usable image(s); the attacks need at least 2", path.display())]
    TooFew {
        /// The folder.
        path: PathBuf,
        /// How many.
        found: usize,
    },
}

struct Loaded {
    path: PathBuf,
    image: RgbImage,
    pdq: Digest,
    phash: Digest,
}

fn phash_of(image: &RgbImage) -> Digest {
    let grey = crate::hash::pillow::to_luma(&image::DynamicImage::ImageRgb8(image.clone()));
    classic::Hashers::default()
        .hash_grey(&grey, Algorithm::Phash)
        .unwrap_or_else(|| Digest::new(Algorithm::Phash, vec![0; 8]))
}

fn digest(l: &Loaded, a: Algorithm) -> &Digest {
    if a == Algorithm::Pdq {
        &l.pdq
    } else {
        &l.phash
    }
}

fn other_of(a: Algorithm) -> Algorithm {
    if a == Algorithm::Pdq {
        Algorithm::Phash
    } else {
        Algorithm::Pdq
    }
}

fn image_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let err = |source| Error::Corpus {
        path: dir.to_path_buf(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                matches!(
                    e.to_ascii_lowercase().as_str(),
                    "jpg" | "jpeg" | "png" | "webp" | "gif" | "bmp"
                )
            })
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Runs the attacks over the images in `corpus`; `samples` of the
/// successes are kept with their images (the first per algorithm and attack).
pub fn run(
    corpus: &Path,
    config: &Config,
    samples: usize,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Report, Vec<Sample>), Error> {
    let mut skipped = Vec::new();
    let mut loaded = Vec::new();
    for path in image_files(corpus)? {
        if config.limit.is_some_and(|l| loaded.len() >= l) {
            break;
        }
        let decoded = std::fs::read(&path)
            .map_err(|e| crate::files::describe_io_error(&e))
            .and_then(|b| {
                decode::decode(&b, &decode::Limits::default()).map_err(|e| e.to_string())
            });
        let image = match decoded {
            Ok(i) => i,
            Err(reason) => {
                skipped.push(Skipped { path, reason });
                continue;
            }
        };
        let p = pdq::hash_image(&image);
        if let Err(low) = pdq::quality_gate(p.quality, pdq::MIN_QUALITY) {
            skipped.push(Skipped {
                path,
                reason: low.to_string(),
            });
            continue;
        }
        let phash = phash_of(&image);
        loaded.push(Loaded {
            path,
            image,
            pdq: p.hash.to_digest(),
            phash,
        });
    }
    if loaded.len() < 2 {
        return Err(Error::TooFew {
            path: corpus.to_path_buf(),
            found: loaded.len(),
        });
    }
    let mut rng = ChaCha20Rng::seed_from_u64(config.seed);
    let n = loaded.len();
    let targets: Vec<usize> = (0..n)
        .map(|i| {
            let j = (rng.next_u64() % (n as u64 - 1)) as usize;
            if j >= i { j + 1 } else { j }
        })
        .collect();
    let mut jobs: Vec<(Algorithm, Kind, Mode)> = Vec::new();
    for &algorithm in &config.algorithms {
        jobs.push((algorithm, Kind::Evade, Mode::Single));
        jobs.push((algorithm, Kind::Collide, Mode::Single));
    }
    if config.dihedral && config.algorithms.contains(&Algorithm::Pdq) {
        jobs.push((Algorithm::Pdq, Kind::Evade, Mode::Dihedral));
    }
    let both = config.algorithms.contains(&Algorithm::Pdq)
        && config.algorithms.contains(&Algorithm::Phash);
    if config.joint && both {
        jobs.push((config.algorithms[0], Kind::Evade, Mode::Joint));
        jobs.push((config.algorithms[0], Kind::Collide, Mode::Joint));
    }
    let total = n * jobs.len();
    let mut done = 0;
    let mut results = Vec::new();
    let mut kept: Vec<Sample> = Vec::new();
    let hash_with = |img: &RgbImage, a: Algorithm| {
        if a == Algorithm::Pdq {
            pdq::hash_image(img).hash.to_digest()
        } else {
            phash_of(img)
        }
    };
    for (i, item) in loaded.iter().enumerate() {
        let megapixels = f64::from(item.image.width()) * f64::from(item.image.height()) / 1e6;
        let target = &loaded[targets[i]];
        for &(algorithm, kind, mode) in &jobs {
            let other = other_of(algorithm);
            let other_t = other.default_threshold().0;
            let mut params = Params::new(algorithm);
            params.max_iterations = config.max_iterations;
            params.dihedral = mode == Mode::Dihedral;
            if mode == Mode::Joint {
                params.second = Some(Second::new(other));
            }
            let go = &mut |_: &attack::Progress| Control::Continue;
            let outcome = match kind {
                Kind::Evade => attack::evade(&item.image, &[], &params, go),
                Kind::Collide => attack::collide_joint(
                    &item.image,
                    &[
                        digest(target, algorithm).clone(),
                        digest(target, other).clone(),
                    ],
                    &params,
                    go,
                ),
            };
            done += 1;
            progress(Progress { done, total });
            let outcome = match outcome {
                Ok(o) => o,
                Err(e) => {
                    skipped.push(Skipped {
                        path: item.path.clone(),
                        reason: format!("{algorithm} {kind:?} ({mode:?}): {e}"),
                    });
                    continue;
                }
            };
            let theirs = hash_with(&outcome.image, other);
            let reference = match kind {
                Kind::Evade => digest(item, other),
                Kind::Collide => digest(target, other),
            };
            let other_distance = theirs.distance(reference).map(|d| d.0).unwrap_or(u32::MAX);
            // A joint attack's own verdict on the row's algorithm (the
            // outcome's success is both hashes').
            let success = match outcome.joint.first() {
                Some(first) => first.success,
                None => outcome.success,
            };
            if success
                && kept.len() < samples
                && !kept.iter().any(|s| {
                    let r: &AttackResult = &results[s.result];
                    r.algorithm == algorithm && r.attack == kind && r.mode == mode
                })
            {
                kept.push(Sample {
                    result: results.len(),
                    original: item.image.clone(),
                    attacked: outcome.image.clone(),
                });
            }
            results.push(AttackResult {
                path: item.path.clone(),
                algorithm,
                attack: kind,
                mode,
                target: (kind == Kind::Collide).then(|| {
                    target
                        .path
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default()
                }),
                success,
                distance: outcome.distance,
                threshold: outcome.threshold,
                psnr: outcome.psnr,
                ssim: outcome.ssim,
                iterations: outcome.iterations,
                seconds: outcome.seconds,
                megapixels,
                other,
                other_distance,
                other_match: other_distance <= other_t,
            });
        }
    }
    let mut summaries = Vec::new();
    for &(algorithm, kind, mode) in &jobs {
        let rs: Vec<&AttackResult> = results
            .iter()
            .filter(|r| r.algorithm == algorithm && r.attack == kind && r.mode == mode)
            .collect();
        summaries.push(summarise(algorithm, kind, mode, &rs, &config.budgets));
    }
    Ok((
        Report {
            tool: "cssim eval attacks",
            version: env!("CARGO_PKG_VERSION"),
            config: config.clone(),
            corpus: corpus.to_path_buf(),
            images: n,
            summaries,
            results,
            skipped,
        },
        kept,
    ))
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

fn summarise(
    algorithm: Algorithm,
    kind: Kind,
    mode: Mode,
    rs: &[&AttackResult],
    budgets: &[f64],
) -> Summary {
    let ok: Vec<&&AttackResult> = rs.iter().filter(|r| r.success).collect();
    // PSNR is +inf only for an unchanged image, which cannot succeed; cap
    // it anyway so a mean stays finite.
    let psnrs: Vec<f64> = ok.iter().map(|r| r.psnr.min(100.0)).collect();
    let mut sorted = psnrs.clone();
    sorted.sort_by(f64::total_cmp);
    let median = if sorted.is_empty() {
        0.0
    } else if sorted.len() % 2 == 1 {
        sorted[sorted.len() / 2]
    } else {
        (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) / 2.0
    };
    let attempts = rs.len();
    let rate = |k: usize| {
        if attempts == 0 {
            0.0
        } else {
            k as f64 / attempts as f64
        }
    };
    let seconds: Vec<f64> = rs.iter().map(|r| r.seconds).collect();
    let mp: f64 = rs.iter().map(|r| r.megapixels).sum();
    Summary {
        algorithm,
        attack: kind,
        mode,
        attempts,
        successes: ok.len(),
        success_rate: rate(ok.len()),
        mean_psnr: mean(&psnrs),
        median_psnr: median,
        mean_ssim: mean(&ok.iter().map(|r| r.ssim).collect::<Vec<_>>()),
        mean_seconds: mean(&seconds),
        seconds_per_megapixel: if mp > 0.0 {
            seconds.iter().sum::<f64>() / mp
        } else {
            0.0
        },
        curve: budgets
            .iter()
            .map(|&b| (b, rate(ok.iter().filter(|r| r.psnr >= b).count())))
            .collect(),
        other: other_of(algorithm),
        other_matches: ok.iter().filter(|r| r.other_match).count(),
    }
}
