//! Evasion and collision attacks on the perceptual hashes, white-box.
//!
//! A client-side scanner ships its hash function (and, with a plain list,
//! the hashes) to every device, so an attacker can run both offline. Two
//! attacks matter:
//!
//! - [`evade`]: change a listed image as little as possible until its hash
//!   is more than `T + margin` bits from the original's (and from any other
//!   hash the attacker wants to avoid, such as the set's entries near it);
//! - [`collide`]: change an innocent image until its hash is within `T` of a
//!   target hash (a false positive made on purpose).
//!
//! The method (`model`): PDQ and pHash are linear in the pixels up to the
//! median threshold, so the smallest perturbation that moves chosen
//! coefficients across the median is computed directly (`plan` picks the
//! coefficients), applied to the 8-bit image, and the step repeated from
//! the real coefficients until the *real* hash of the 8-bit image meets the
//! goal; rounding and clamping are what the repetitions absorb. A final
//! search scales the perturbation down as far as the real hash still allows.
//! Nothing here prints; a [`Progress`] callback sees each iteration and may
//! stop the attack, which then returns the best image so far.

mod dihedral;
mod model;
mod plan;
pub mod quality;

use std::time::Instant;

use image::RgbImage;
use serde::Serialize;

use crate::hash::{Algorithm, Digest, pdq};
use model::{Model, bits_of};

/// Why an attack could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Only PDQ and pHash are attacked.
    #[error("cannot attack {0}: the attacks support pdq and phash")]
    Unsupported(Algorithm),
    /// The image is below PDQ's quality floor: its hash would not be matched
    /// in the first place.
    #[error(
        "PDQ quality {quality} is below the floor of {min}: the image's hash is not matched, so there is nothing to attack"
    )]
    LowQuality {
        /// The image's PDQ quality.
        quality: u8,
        /// The floor.
        min: u8,
    },
    /// The image is too small to hash.
    #[error("image is {width}×{height}: too small to hash (at least 5 pixels a side)")]
    TooSmall {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
    /// A joint attack names the same hash twice.
    #[error("a joint attack needs two different hashes; {0} was given twice")]
    SameTwice(Algorithm),
    /// Orientation-aware evasion is PDQ's (pHash has no dihedral lookup).
    #[error("--dihedral steers PDQ's eight orientations; it needs pdq among the attacked hashes")]
    DihedralNeedsPdq,
    /// A joint collision has no target for one of its hashes.
    #[error("no {0} target hash: a joint collision needs one target per attacked hash")]
    MissingTarget(Algorithm),
    /// The target is another algorithm's hash or another size.
    #[error(
        "target hash is a {got} hash of {bits} bits; the attack needs a {want} hash of {want_bits} bits"
    )]
    TargetMismatch {
        /// The target's algorithm.
        got: Algorithm,
        /// Its bits.
        bits: u32,
        /// The attacked algorithm.
        want: Algorithm,
        /// The bits it needs.
        want_bits: u32,
    },
}

/// A second hash attacked at the same time as the first: the defence of a
/// client that ships two independent hashes, met by one attack.
#[derive(Clone, Copy, Debug)]
pub struct Second {
    /// The second hash (PDQ or pHash, not the first).
    pub algorithm: Algorithm,
    /// Its match threshold (inclusive).
    pub threshold: u32,
}

impl Second {
    /// `algorithm` at its usual threshold.
    pub fn new(algorithm: Algorithm) -> Second {
        Second {
            algorithm,
            threshold: algorithm.default_threshold().0,
        }
    }
}

/// What the attack is to achieve, and how hard it may try.
#[derive(Clone, Debug)]
pub struct Params {
    /// PDQ or pHash.
    pub algorithm: Algorithm,
    /// The match threshold `T` (inclusive).
    pub threshold: u32,
    /// Extra bits of distance: an evasion must end more than `T + margin`
    /// from the avoided hashes, a collision within `T − margin` of the target
    /// (for every attacked hash).
    pub margin: u32,
    /// The lowest PSNR (dB) the result may have; a success below it is
    /// reported as a failure, with the image scaled back to the budget.
    pub budget: Option<f64>,
    /// Most linearised steps before giving up.
    pub max_iterations: u32,
    /// Evasion only: the scanner matches PDQ in all eight orientations
    /// (the policy's `pdq_dihedral`), so every orientation of the result
    /// must miss every avoided hash.
    pub dihedral: bool,
    /// A second hash to attack at the same time (evasion: far from both;
    /// collision: within both thresholds of the targets).
    pub second: Option<Second>,
}

impl Params {
    /// The algorithm's usual threshold (PDQ 31, pHash 10), no margin, no
    /// budget, 40 iterations, one orientation, one hash.
    pub fn new(algorithm: Algorithm) -> Params {
        Params {
            algorithm,
            threshold: algorithm.default_threshold().0,
            margin: 0,
            budget: None,
            max_iterations: 40,
            dihedral: false,
            second: None,
        }
    }

    /// The attacked hashes and their thresholds, the first first.
    fn hashes(&self) -> Vec<(Algorithm, u32)> {
        let mut v = vec![(self.algorithm, self.threshold)];
        v.extend(self.second.map(|s| (s.algorithm, s.threshold)));
        v
    }
}

/// Which attack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Evasion.
    Evade,
    /// Collision.
    Collide,
}

/// One iteration, as the progress callback sees it.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Iterations done.
    pub iteration: u32,
    /// The most allowed.
    pub max_iterations: u32,
    /// The real hash's distance now (evasion: to the nearest avoided hash;
    /// collision: to the target), of the first attacked hash.
    pub distance: u32,
    /// PSNR of the image now.
    pub psnr: f64,
}

/// What the callback wants next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop and return the best image so far (as a cancelled result).
    Stop,
}

/// One attacked hash's part of a joint attack's result.
#[derive(Clone, Debug, Serialize)]
pub struct HashOutcome {
    /// The hash.
    pub algorithm: Algorithm,
    /// Whether its goal is met.
    pub success: bool,
    /// Its threshold.
    pub threshold: u32,
    /// Its distance (as [`Outcome::distance`]).
    pub distance: u32,
    /// The input's hash.
    pub original_hash: String,
    /// The result's hash.
    pub final_hash: String,
    /// The collision's target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_hash: Option<String>,
}

/// An attack's result: the figures, and the image.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// Evasion or collision.
    pub attack: Kind,
    /// The attacked hash (the first, in a joint attack).
    pub algorithm: Algorithm,
    /// Whether the real hash of the 8-bit result meets the goal (within the
    /// budget, if one was given); in a joint attack, every hash's goal.
    pub success: bool,
    /// Why not, in words, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Stopped by the caller before the end.
    pub cancelled: bool,
    /// The threshold `T`.
    pub threshold: u32,
    /// The margin in bits.
    pub margin: u32,
    /// The distance reached: evasion, to the nearest avoided hash (the
    /// original's first; under `dihedral`, over the eight orientations of
    /// the result); collision, to the target.
    pub distance: u32,
    /// Evasion steered all eight PDQ orientations.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dihedral: bool,
    /// The hash of the input image.
    pub original_hash: String,
    /// The hash of the result.
    pub final_hash: String,
    /// The collision's target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_hash: Option<String>,
    /// A joint attack: each attacked hash's part, the first first (empty
    /// when one hash was attacked).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub joint: Vec<HashOutcome>,
    /// PDQ quality of the result (PDQ only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdq_quality: Option<u8>,
    /// PSNR of the result against the input, dB (`null` in JSON when equal).
    pub psnr: f64,
    /// SSIM of the result against the input (luma, 11×11 Gaussian).
    pub ssim: f64,
    /// The PSNR budget, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<f64>,
    /// Linearised steps taken.
    pub iterations: u32,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Width and height.
    pub dimensions: (u32, u32),
    /// The attacked image (not serialised; the caller writes it).
    #[serde(skip)]
    pub image: RgbImage,
}

/// Per-algorithm start margin (coefficient units) and its growth: PDQ's
/// coefficients are orthonormal DCT values of a float image (rounding noise
/// about 0.1), pHash's are unnormalised DCT values of an 8-bit 32×32 image
/// (rounding noise about 20).
fn start_margin(algorithm: Algorithm) -> f64 {
    if algorithm == Algorithm::Pdq {
        1.0
    } else {
        60.0
    }
}

/// Each channel of `orig` plus `delta` (one value a pixel), rounded and clamped.
fn apply(orig: &RgbImage, delta: &[f32], scale: f32) -> RgbImage {
    let mut out = orig.clone();
    for (px, &d) in out.pixels_mut().zip(delta) {
        for c in px.0.iter_mut() {
            *c = (f32::from(*c) + scale * d).round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

fn hamming(a: &[bool], b: &[bool]) -> u32 {
    a.iter().zip(b).filter(|(x, y)| x != y).count() as u32
}

/// The goal, judged on the real hash. `views` are the hashes the scanner
/// looks up: the image's own, and under `dihedral` its seven other
/// orientations.
enum Goal {
    Evade { avoid: Vec<Vec<bool>>, need: u32 },
    Collide { target: Vec<bool>, within: u32 },
}

impl Goal {
    fn distance(&self, views: &[Vec<bool>]) -> u32 {
        match self {
            Goal::Evade { avoid, .. } => views
                .iter()
                .flat_map(|v| avoid.iter().map(move |a| hamming(v, a)))
                .min()
                .unwrap_or(0),
            Goal::Collide { target, .. } => views.first().map_or(0, |v| hamming(v, target)),
        }
    }

    /// Bits to spare (negative: bits short of the goal).
    fn slack(&self, views: &[Vec<bool>]) -> i64 {
        let d = i64::from(self.distance(views));
        match self {
            Goal::Evade { need, .. } => d - i64::from(*need) - 1,
            Goal::Collide { within, .. } => i64::from(*within) - d,
        }
    }

    fn met(&self, views: &[Vec<bool>], quality: Option<pdq::Quality>) -> bool {
        self.slack(views) >= 0
            && match self {
                Goal::Evade { .. } => true,
                Goal::Collide { .. } => quality.is_none_or(|q| q.0 >= pdq::MIN_QUALITY),
            }
    }
}

/// One attacked hash: its model, the input's hash and what is to be reached.
struct Leg {
    algorithm: Algorithm,
    threshold: u32,
    model: Model,
    original: Digest,
    goal: Goal,
    target_hex: Option<String>,
    dihedral: bool,
}

/// What one hash says of an image.
struct Seen {
    views: Vec<Vec<bool>>,
    digest: Digest,
    quality: Option<pdq::Quality>,
    met: bool,
}

impl Leg {
    fn see(&self, image: &RgbImage) -> Seen {
        let (views, digest, quality) = if self.dihedral {
            let (views, digest, quality) = dihedral::views(image);
            (views, digest, Some(quality))
        } else {
            let (digest, quality) = self.model.hash(image);
            (vec![bits_of(&digest)], digest, quality)
        };
        let met = self.goal.met(&views, quality);
        Seen {
            views,
            digest,
            quality,
            met,
        }
    }
}

/// The input checks common to both attacks; each attacked hash's model and
/// the image's hash under it.
fn prepare(image: &RgbImage, params: &Params) -> Result<Vec<(Model, Digest, u32)>, Error> {
    let (w, h) = image.dimensions();
    let hashes = params.hashes();
    for &(a, _) in &hashes {
        if !matches!(a, Algorithm::Pdq | Algorithm::Phash) {
            return Err(Error::Unsupported(a));
        }
    }
    if hashes.len() == 2 && hashes[0].0 == hashes[1].0 {
        return Err(Error::SameTwice(hashes[0].0));
    }
    if params.dihedral && !hashes.iter().any(|&(a, _)| a == Algorithm::Pdq) {
        return Err(Error::DihedralNeedsPdq);
    }
    if w < pdq::MIN_HASHABLE_DIM || h < pdq::MIN_HASHABLE_DIM {
        return Err(Error::TooSmall {
            width: w,
            height: h,
        });
    }
    let mut out = Vec::new();
    for (algorithm, threshold) in hashes {
        let model = Model::new(algorithm, w as usize, h as usize).ok_or(Error::TooSmall {
            width: w,
            height: h,
        })?;
        let (digest, quality) = model.hash(image);
        if let Some(q) = quality
            && q.0 < pdq::MIN_QUALITY
        {
            return Err(Error::LowQuality {
                quality: q.0,
                min: pdq::MIN_QUALITY,
            });
        }
        out.push((model, digest, threshold));
    }
    Ok(out)
}

/// Evades: changes `image` until each attacked hash is more than
/// `T + margin` from the image's own and from each hash in `avoid` of that
/// algorithm (others are ignored); under `params.dihedral`, in every PDQ
/// orientation.
pub fn evade(
    image: &RgbImage,
    avoid: &[Digest],
    params: &Params,
    progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<Outcome, Error> {
    let start = Instant::now();
    let legs = prepare(image, params)?
        .into_iter()
        .map(|(model, original, threshold)| {
            let algorithm = model.algorithm();
            let dihedral = params.dihedral && algorithm == Algorithm::Pdq;
            let mut avoided = vec![bits_of(&original)];
            avoided.extend(
                avoid
                    .iter()
                    .filter(|d| d.algorithm() == algorithm && d.bits() as usize == model.bits())
                    .map(bits_of),
            );
            Leg {
                algorithm,
                threshold,
                model,
                original,
                goal: Goal::Evade {
                    avoid: avoided,
                    need: threshold + params.margin,
                },
                target_hex: None,
                dihedral,
            }
        })
        .collect();
    run(image, legs, Kind::Evade, params, start, progress)
}

/// Collides: changes `source` until its hash is within `T − margin` of
/// `target` (and, for PDQ, of matchable quality).
pub fn collide(
    source: &RgbImage,
    target: &Digest,
    params: &Params,
    progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<Outcome, Error> {
    collide_joint(source, std::slice::from_ref(target), params, progress)
}

/// Collides under every attacked hash at once: `targets` holds one target
/// hash for each (the hashes of one listed image, in a joint attack).
pub fn collide_joint(
    source: &RgbImage,
    targets: &[Digest],
    params: &Params,
    progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<Outcome, Error> {
    let start = Instant::now();
    let mut legs = Vec::new();
    for (i, (model, original, threshold)) in prepare(source, params)?.into_iter().enumerate() {
        let algorithm = model.algorithm();
        // The first hash's target is the first given (whatever it is, so a
        // mismatch is named); the second's, the one of its algorithm.
        let target = if i == 0 {
            targets.first()
        } else {
            targets.iter().find(|d| d.algorithm() == algorithm)
        }
        .ok_or(Error::MissingTarget(algorithm))?;
        if target.algorithm() != algorithm || target.bits() as usize != model.bits() {
            return Err(Error::TargetMismatch {
                got: target.algorithm(),
                bits: target.bits(),
                want: algorithm,
                want_bits: model.bits() as u32,
            });
        }
        legs.push(Leg {
            algorithm,
            threshold,
            goal: Goal::Collide {
                target: bits_of(target),
                within: threshold.saturating_sub(params.margin),
            },
            target_hex: Some(target.to_hex()),
            model,
            original,
            dihedral: false,
        });
    }
    run(source, legs, Kind::Collide, params, start, progress)
}

struct Candidate {
    image: RgbImage,
    seen: Vec<Seen>,
    success: bool,
}

impl Candidate {
    fn new(legs: &[Leg], image: RgbImage) -> Candidate {
        let seen: Vec<Seen> = legs.iter().map(|l| l.see(&image)).collect();
        let success = seen.iter().all(|s| s.met);
        Candidate {
            image,
            seen,
            success,
        }
    }

    /// Higher is closer to the goal: first the bits still missing over all
    /// hashes, then the bits to spare.
    fn score(&self, legs: &[Leg]) -> (i64, i64) {
        let slack: Vec<i64> = legs
            .iter()
            .zip(&self.seen)
            .map(|(l, s)| l.goal.slack(&s.views))
            .collect();
        (slack.iter().map(|&s| s.min(0)).sum(), slack.iter().sum())
    }
}

/// The change each coefficient needs to sit on its planned side of `t`
/// with margin `m` (zero for those already there).
fn change(plan: &plan::Plan, c: &[f64], t: f64, m: f64) -> Vec<f64> {
    plan.bits
        .iter()
        .zip(c)
        .map(|(&side, &v)| {
            if side {
                (t + m - v).max(0.0)
            } else {
                (t - m - v).min(0.0)
            }
        })
        .collect()
}

fn run(
    orig: &RgbImage,
    legs: Vec<Leg>,
    kind: Kind,
    params: &Params,
    start: Instant,
    progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<Outcome, Error> {
    let mut margins: Vec<f64> = legs.iter().map(|l| start_margin(l.algorithm)).collect();
    let coefficients: Vec<f64> = legs[0].model.coefficients(orig);
    let mut plans = Vec::new();
    let mut failure = None;
    for (i, leg) in legs.iter().enumerate() {
        let c = if i == 0 {
            coefficients.clone()
        } else {
            leg.model.coefficients(orig)
        };
        let plan = match &leg.goal {
            Goal::Evade { avoid, need } => {
                let patterns: Vec<Vec<bool>> = if leg.dihedral {
                    avoid.iter().flat_map(|a| dihedral::patterns(a)).collect()
                } else {
                    avoid.clone()
                };
                plan::evade(&leg.model, &c, &patterns, *need, margins[i])
            }
            Goal::Collide { target, within } => {
                plan::collide(&leg.model, &c, target, *within, margins[i])
            }
        };
        match plan {
            Some(p) => plans.push(p),
            None => {
                let alg = leg.algorithm;
                failure = Some(match kind {
                    Kind::Evade => format!("no {alg} bits are left to flip"),
                    Kind::Collide => format!(
                        "the {alg} target has too many or too few bits set to be within {} of any hash",
                        leg.threshold.saturating_sub(params.margin)
                    ),
                });
                break;
            }
        }
    }
    let mut delta = vec![0f32; orig.as_raw().len() / 3];
    let mut best = Candidate::new(&legs, orig.clone());
    let mut best_delta = delta.clone();
    let mut iterations = 0;
    let mut cancelled = false;
    if failure.is_none() {
        let mut current = orig.clone();
        while iterations < params.max_iterations && !best.success {
            // One step per hash, each from the real coefficients of the
            // image the previous step left (a joint attack's hashes read
            // overlapping frequencies, so each sees the other's change).
            for (i, leg) in legs.iter().enumerate() {
                let c = if iterations == 0 && i == 0 {
                    coefficients.clone()
                } else {
                    leg.model.coefficients(&current)
                };
                let t = if iterations == 0 {
                    plans[i].threshold
                } else {
                    leg.model.median(&c)
                };
                let step = leg
                    .model
                    .perturbation(&change(&plans[i], &c, t, margins[i]));
                for (d, s) in delta.iter_mut().zip(step) {
                    *d += s;
                }
                current = apply(orig, &delta, 1.0);
            }
            iterations += 1;
            for m in &mut margins {
                *m *= 1.25;
            }
            let candidate = Candidate::new(&legs, current.clone());
            let psnr = quality::psnr(orig, &current);
            let distance = legs[0].goal.distance(&candidate.seen[0].views);
            if candidate.success || (!best.success && candidate.score(&legs) > best.score(&legs)) {
                best = candidate;
                best_delta = delta.clone();
            }
            let seen = Progress {
                iteration: iterations,
                max_iterations: params.max_iterations,
                distance,
                psnr,
            };
            if progress(&seen) == Control::Stop {
                cancelled = true;
                break;
            }
        }
    }
    // As little as possible: the smallest scale of the perturbation at which
    // the real hash still meets the goal (bisection; success is close to
    // monotone in the scale).
    if best.success && !cancelled {
        let (mut lo, mut hi) = (0.0f32, 1.0f32);
        for _ in 0..7 {
            let mid = (lo + hi) / 2.0;
            let c = Candidate::new(&legs, apply(orig, &best_delta, mid));
            if c.success {
                hi = mid;
                best = c;
            } else {
                lo = mid;
            }
        }
    }
    let describe = |c: &Candidate| {
        legs.iter()
            .zip(&c.seen)
            .map(|(l, s)| format!("{} {}", l.algorithm, l.goal.distance(&s.views)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !best.success && failure.is_none() {
        failure = Some(if cancelled {
            "stopped before the goal was reached".to_string()
        } else if legs.len() == 1 {
            format!(
                "goal not reached in {iterations} iterations (best distance {})",
                legs[0].goal.distance(&best.seen[0].views)
            )
        } else {
            format!(
                "goal not reached under every hash in {iterations} iterations (best distances {})",
                describe(&best)
            )
        });
    }
    // A budget the result misses: scale it back to the budget and report
    // the failure with what that image reaches.
    let mut psnr = quality::psnr(orig, &best.image);
    if let Some(budget) = params.budget
        && psnr < budget
    {
        let found = psnr;
        let (mut lo, mut hi) = (0.0f32, 1.0f32);
        let mut within = Candidate::new(&legs, orig.clone());
        for _ in 0..12 {
            let mid = (lo + hi) / 2.0;
            let img = apply(orig, &best_delta, mid);
            if quality::psnr(orig, &img) >= budget {
                lo = mid;
                within = Candidate::new(&legs, img);
            } else {
                hi = mid;
            }
        }
        let was_success = best.success;
        best = within;
        psnr = quality::psnr(orig, &best.image);
        if !best.success {
            failure = Some(if was_success {
                format!(
                    "the goal needs PSNR {found:.1} dB, below the budget of {budget:.1} dB; the image kept is the best within the budget"
                )
            } else {
                format!(
                    "{}; the image kept is scaled back to the budget of {budget:.1} dB",
                    failure.unwrap_or_default()
                )
            });
        } else {
            failure = None;
        }
    }
    let joint = if legs.len() > 1 {
        legs.iter()
            .zip(&best.seen)
            .map(|(l, s)| HashOutcome {
                algorithm: l.algorithm,
                success: s.met,
                threshold: l.threshold,
                distance: l.goal.distance(&s.views),
                original_hash: l.original.to_hex(),
                final_hash: s.digest.to_hex(),
                target_hash: l.target_hex.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let first = &legs[0];
    Ok(Outcome {
        attack: kind,
        algorithm: first.algorithm,
        success: best.success,
        failure: if best.success { None } else { failure },
        cancelled,
        threshold: first.threshold,
        margin: params.margin,
        distance: first.goal.distance(&best.seen[0].views),
        dihedral: legs.iter().any(|l| l.dihedral),
        original_hash: first.original.to_hex(),
        final_hash: best.seen[0].digest.to_hex(),
        target_hash: first.target_hex.clone(),
        joint,
        pdq_quality: best.seen.iter().find_map(|s| s.quality).map(|q| q.0),
        psnr,
        ssim: quality::ssim(orig, &best.image),
        budget: params.budget,
        iterations,
        seconds: start.elapsed().as_secs_f64(),
        dimensions: orig.dimensions(),
        image: best.image,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped stand-ins, made small: real photos, PDQ quality 100.
    fn picture(w: u32, h: u32, phase: f64) -> RgbImage {
        let bytes: &[u8] = if phase == 0.0 {
            include_bytes!("../../examples/images/listed/rocket.jpg")
        } else {
            include_bytes!("../../examples/images/benign/seedlings.jpg")
        };
        let full = crate::hash::decode::decode(bytes, &Default::default()).unwrap();
        image::imageops::resize(&full, w, h, image::imageops::FilterType::Triangle)
    }

    fn go(_: &Progress) -> Control {
        Control::Continue
    }

    #[test]
    fn evasion_and_collision_are_judged_by_the_real_hash() {
        for algorithm in [Algorithm::Pdq, Algorithm::Phash] {
            let img = picture(160, 120, 0.0);
            let params = Params::new(algorithm);
            let t = params.threshold;
            let out = evade(&img, &[], &params, &mut go).unwrap();
            assert!(out.success, "{algorithm}: {:?}", out.failure);
            let model = Model::new(algorithm, 160, 120).unwrap();
            let (before, _) = model.hash(&img);
            let (after, _) = model.hash(&out.image);
            assert_eq!(before.distance(&after).unwrap().0, out.distance);
            assert!(out.distance > t);

            let other = picture(160, 120, 2.0);
            let (target, _) = model.hash(&other);
            assert!(target.distance(&before).unwrap().0 > t);
            let out = collide(&img, &target, &params, &mut go).unwrap();
            assert!(out.success, "{algorithm}: {:?}", out.failure);
            let (after, _) = model.hash(&out.image);
            assert!(target.distance(&after).unwrap().0 <= t);
        }
    }

    #[test]
    fn stopping_keeps_the_best_image_so_far_and_says_so() {
        let img = picture(160, 120, 0.0);
        let target = Model::new(Algorithm::Pdq, 160, 120)
            .unwrap()
            .hash(&picture(160, 120, 2.0))
            .0;
        let mut calls = 0;
        let out = collide(&img, &target, &Params::new(Algorithm::Pdq), &mut |_| {
            calls += 1;
            Control::Stop
        })
        .unwrap();
        assert_eq!(calls, 1);
        assert!(out.cancelled);
        assert_eq!(out.iterations, 1);
        // Whatever it reached is reported truthfully.
        let d = target
            .distance(
                &Model::new(Algorithm::Pdq, 160, 120)
                    .unwrap()
                    .hash(&out.image)
                    .0,
            )
            .unwrap()
            .0;
        assert_eq!(d, out.distance);
        assert_eq!(out.success, d <= 31);
    }

    #[test]
    fn a_target_of_another_algorithm_or_an_unreachable_one_is_refused_or_failed() {
        let img = picture(100, 80, 0.0);
        let phash = Digest::new(Algorithm::Phash, vec![0; 8]);
        let err = collide(&img, &phash, &Params::new(Algorithm::Pdq), &mut go).unwrap_err();
        assert!(matches!(err, Error::TargetMismatch { .. }), "{err}");
        // All 256 bits set: every PDQ hash has 128, so none is within 31.
        let all = Digest::new(Algorithm::Pdq, vec![0xff; 32]);
        let out = collide(&img, &all, &Params::new(Algorithm::Pdq), &mut go).unwrap();
        assert!(!out.success);
        assert!(out.failure.unwrap().contains("too many or too few bits"));
        assert_eq!(out.psnr, f64::INFINITY, "the image is left unchanged");
    }

    #[test]
    fn a_joint_evasion_moves_both_real_hashes_and_reports_each() {
        let img = picture(160, 120, 0.0);
        let mut params = Params::new(Algorithm::Pdq);
        params.second = Some(Second::new(Algorithm::Phash));
        let out = evade(&img, &[], &params, &mut go).unwrap();
        assert!(out.success, "{:?}", out.failure);
        assert_eq!(out.joint.len(), 2);
        for (leg, t) in out.joint.iter().zip([31, 10]) {
            let model = Model::new(leg.algorithm, 160, 120).unwrap();
            let d = model
                .hash(&img)
                .0
                .distance(&model.hash(&out.image).0)
                .unwrap()
                .0;
            assert_eq!(d, leg.distance, "{}", leg.algorithm);
            assert!(leg.success && d > t, "{}: {d}", leg.algorithm);
        }
    }

    #[test]
    fn dihedral_evasion_is_judged_on_all_eight_orientations() {
        let img = picture(160, 120, 0.0);
        let mut params = Params::new(Algorithm::Pdq);
        params.dihedral = true;
        let out = evade(&img, &[], &params, &mut go).unwrap();
        assert!(out.success && out.dihedral, "{:?}", out.failure);
        let own = pdq::hash_image(&img).hash;
        let nearest = pdq::hash_image_dihedral(&out.image)
            .hashes
            .iter()
            .map(|h| h.distance(&own).0)
            .min()
            .unwrap();
        assert_eq!(nearest, out.distance);
        assert!(nearest > 31);
    }

    #[test]
    fn joint_and_dihedral_misuse_is_refused() {
        let img = picture(100, 80, 0.0);
        let mut twice = Params::new(Algorithm::Pdq);
        twice.second = Some(Second::new(Algorithm::Pdq));
        let err = evade(&img, &[], &twice, &mut go).unwrap_err();
        assert!(matches!(err, Error::SameTwice(Algorithm::Pdq)), "{err}");
        let mut turned = Params::new(Algorithm::Phash);
        turned.dihedral = true;
        let err = evade(&img, &[], &turned, &mut go).unwrap_err();
        assert!(matches!(err, Error::DihedralNeedsPdq), "{err}");
        let mut joint = Params::new(Algorithm::Pdq);
        joint.second = Some(Second::new(Algorithm::Phash));
        let target = Model::new(Algorithm::Pdq, 100, 80).unwrap().hash(&img).0;
        let err = collide(&img, &target, &joint, &mut go).unwrap_err();
        assert!(
            matches!(err, Error::MissingTarget(Algorithm::Phash)),
            "{err}"
        );
    }

    #[test]
    fn flat_and_tiny_images_are_refused() {
        let flat = RgbImage::from_pixel(80, 80, image::Rgb([9, 9, 9]));
        let err = evade(&flat, &[], &Params::new(Algorithm::Pdq), &mut go).unwrap_err();
        assert!(matches!(
            err,
            Error::LowQuality {
                quality: 0,
                min: 50
            }
        ));
        let tiny = RgbImage::from_pixel(4, 40, image::Rgb([9, 9, 9]));
        let err = evade(&tiny, &[], &Params::new(Algorithm::Phash), &mut go).unwrap_err();
        assert!(matches!(err, Error::TooSmall { .. }));
    }
}
