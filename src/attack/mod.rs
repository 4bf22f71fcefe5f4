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

/// What the attack is to achieve, and how hard it may try.
#[derive(Clone, Debug)]
pub struct Params {
    /// PDQ or pHash.
    pub algorithm: Algorithm,
    /// The match threshold `T` (inclusive).
    pub threshold: u32,
    /// Extra bits of distance: an evasion must end more than `T + margin`
    /// from the avoided hashes, a collision within `T − margin` of the target.
    pub margin: u32,
    /// The lowest PSNR (dB) the result may have; a success below it is
    /// reported as a failure, with the image scaled back to the budget.
    pub budget: Option<f64>,
    /// Most linearised steps before giving up.
    pub max_iterations: u32,
}

impl Params {
    /// The algorithm's usual threshold (PDQ 31, pHash 10), no margin, no
    /// budget, 40 iterations.
    pub fn new(algorithm: Algorithm) -> Params {
        Params {
            algorithm,
            threshold: algorithm.default_threshold().0,
            margin: 0,
            budget: None,
            max_iterations: 40,
        }
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
    /// collision: to the target).
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

/// An attack's result: the figures, and the image.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// Evasion or collision.
    pub attack: Kind,
    /// The attacked hash.
    pub algorithm: Algorithm,
    /// Whether the real hash of the 8-bit result meets the goal (within the
    /// budget, if one was given).
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
    /// original's first); collision, to the target.
    pub distance: u32,
    /// The hash of the input image.
    pub original_hash: String,
    /// The hash of the result.
    pub final_hash: String,
    /// The collision's target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_hash: Option<String>,
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

/// The goal, judged on the real hash.
enum Goal {
    Evade { avoid: Vec<Vec<bool>>, need: u32 },
    Collide { target: Vec<bool>, within: u32 },
}

impl Goal {
    fn distance(&self, bits: &[bool]) -> u32 {
        match self {
            Goal::Evade { avoid, .. } => avoid.iter().map(|a| hamming(bits, a)).min().unwrap_or(0),
            Goal::Collide { target, .. } => hamming(bits, target),
        }
    }

    fn met(&self, bits: &[bool], quality: Option<pdq::Quality>) -> bool {
        let d = self.distance(bits);
        match self {
            Goal::Evade { need, .. } => d > *need,
            Goal::Collide { within, .. } => {
                d <= *within && quality.is_none_or(|q| q.0 >= pdq::MIN_QUALITY)
            }
        }
    }

    /// Higher is closer to the goal.
    fn score(&self, bits: &[bool]) -> i64 {
        let d = i64::from(self.distance(bits));
        match self {
            Goal::Evade { .. } => d,
            Goal::Collide { .. } => -d,
        }
    }
}

/// The input checks common to both attacks; the model and the image's hash.
fn prepare(image: &RgbImage, params: &Params) -> Result<(Model, Digest), Error> {
    let (w, h) = image.dimensions();
    if !matches!(params.algorithm, Algorithm::Pdq | Algorithm::Phash) {
        return Err(Error::Unsupported(params.algorithm));
    }
    if w < pdq::MIN_HASHABLE_DIM || h < pdq::MIN_HASHABLE_DIM {
        return Err(Error::TooSmall {
            width: w,
            height: h,
        });
    }
    let model = Model::new(params.algorithm, w as usize, h as usize).ok_or(Error::TooSmall {
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
    Ok((model, digest))
}

/// Evades: changes `image` until its hash is more than `T + margin` from its
/// own hash and from each hash in `avoid` (of the attacked algorithm; others
/// are ignored).
pub fn evade(
    image: &RgbImage,
    avoid: &[Digest],
    params: &Params,
    progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<Outcome, Error> {
    let start = Instant::now();
    let (model, original) = prepare(image, params)?;
    let mut avoided = vec![bits_of(&original)];
    avoided.extend(
        avoid
            .iter()
            .filter(|d| d.algorithm() == params.algorithm && d.bits() as usize == model.bits())
            .map(bits_of),
    );
    let goal = Goal::Evade {
        avoid: avoided,
        need: params.threshold + params.margin,
    };
    run(
        image,
        &model,
        original,
        None,
        goal,
        Kind::Evade,
        params,
        start,
        progress,
    )
}

/// Collides: changes `source` until its hash is within `T − margin` of
/// `target` (and, for PDQ, of matchable quality).
pub fn collide(
    source: &RgbImage,
    target: &Digest,
    params: &Params,
    progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<Outcome, Error> {
    let start = Instant::now();
    let (model, original) = prepare(source, params)?;
    if target.algorithm() != params.algorithm || target.bits() as usize != model.bits() {
        return Err(Error::TargetMismatch {
            got: target.algorithm(),
            bits: target.bits(),
            want: params.algorithm,
            want_bits: model.bits() as u32,
        });
    }
    let goal = Goal::Collide {
        target: bits_of(target),
        within: params.threshold.saturating_sub(params.margin),
    };
    run(
        source,
        &model,
        original,
        Some(target.to_hex()),
        goal,
        Kind::Collide,
        params,
        start,
        progress,
    )
}

struct Candidate {
    image: RgbImage,
    bits: Vec<bool>,
    digest: Digest,
    quality: Option<pdq::Quality>,
    success: bool,
}

#[allow(clippy::too_many_arguments)]
fn run(
    orig: &RgbImage,
    model: &Model,
    original: Digest,
    target_hex: Option<String>,
    goal: Goal,
    kind: Kind,
    params: &Params,
    start: Instant,
    progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<Outcome, Error> {
    let evaluate = |img: RgbImage| {
        let (digest, quality) = model.hash(&img);
        let bits = bits_of(&digest);
        let success = goal.met(&bits, quality);
        Candidate {
            image: img,
            bits,
            digest,
            quality,
            success,
        }
    };
    let mut margin = start_margin(params.algorithm);
    let coefficients = model.coefficients(orig);
    let plan = match &goal {
        Goal::Evade { avoid, need } => plan::evade(model, &coefficients, avoid, *need, margin),
        Goal::Collide { target, within } => {
            plan::collide(model, &coefficients, target, *within, margin)
        }
    };
    let mut delta = vec![0f32; orig.as_raw().len() / 3];
    let mut best = evaluate(orig.clone());
    let mut best_delta = delta.clone();
    let mut iterations = 0;
    let mut cancelled = false;
    let mut failure = None;
    match plan {
        None => {
            failure = Some(match kind {
                Kind::Evade => "no bits are left to flip".to_string(),
                Kind::Collide => format!(
                    "the target has too many or too few bits set to be within {} of any hash",
                    params.threshold.saturating_sub(params.margin)
                ),
            })
        }
        Some(plan) => {
            let mut current = orig.clone();
            while iterations < params.max_iterations && !best.success {
                let c = if iterations == 0 {
                    coefficients.clone()
                } else {
                    model.coefficients(&current)
                };
                let t = if iterations == 0 {
                    plan.threshold
                } else {
                    model.median(&c)
                };
                let change: Vec<f64> = plan
                    .bits
                    .iter()
                    .zip(&c)
                    .map(|(&side, &v)| {
                        if side {
                            (t + margin - v).max(0.0)
                        } else {
                            (t - margin - v).min(0.0)
                        }
                    })
                    .collect();
                for (d, s) in delta.iter_mut().zip(model.perturbation(&change)) {
                    *d += s;
                }
                current = apply(orig, &delta, 1.0);
                iterations += 1;
                margin *= 1.25;
                let candidate = evaluate(current.clone());
                let psnr = quality::psnr(orig, &current);
                let distance = goal.distance(&candidate.bits);
                if candidate.success
                    || (!best.success && goal.score(&candidate.bits) > goal.score(&best.bits))
                {
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
    }
    // As little as possible: the smallest scale of the perturbation at which
    // the real hash still meets the goal (bisection; success is close to
    // monotone in the scale).
    if best.success && !cancelled {
        let (mut lo, mut hi) = (0.0f32, 1.0f32);
        for _ in 0..7 {
            let mid = (lo + hi) / 2.0;
            let c = evaluate(apply(orig, &best_delta, mid));
            if c.success {
                hi = mid;
                best = c;
            } else {
                lo = mid;
            }
        }
    }
    if !best.success && failure.is_none() {
        failure = Some(if cancelled {
            "stopped before the goal was reached".to_string()
        } else {
            format!(
                "goal not reached in {iterations} iterations (best distance {})",
                goal.distance(&best.bits)
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
        let mut within = evaluate(orig.clone());
        for _ in 0..12 {
            let mid = (lo + hi) / 2.0;
            let img = apply(orig, &best_delta, mid);
            if quality::psnr(orig, &img) >= budget {
                lo = mid;
                within = evaluate(img);
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
    Ok(Outcome {
        attack: kind,
        algorithm: params.algorithm,
        success: best.success,
        failure: if best.success { None } else { failure },
        cancelled,
        threshold: params.threshold,
        margin: params.margin,
        distance: goal.distance(&best.bits),
        original_hash: original.to_hex(),
        final_hash: best.digest.to_hex(),
        target_hash: target_hex,
        pdq_quality: best.quality.map(|q| q.0),
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
