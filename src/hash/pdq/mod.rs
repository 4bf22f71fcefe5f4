//! PDQ, Meta's 256-bit perceptual image hash, written here and bit-exact with
//! the reference.
//!
//! The pipeline (Meta's `pdqhashing.cpp`, and the paper `hashing.pdf` beside it):
//!
//! 1. RGB → luminance `Y = 0.299 R + 0.587 G + 0.114 B`;
//! 2. two passes of a Jarosz box filter along rows and then columns (a tent
//!    filter), with window `⌈(dimension / 64) / 2⌉`, then decimation to 64×64
//!    by picking the pixel at each cell's centre;
//! 3. a quality metric from the 64×64 image's gradients (0–100);
//! 4. the 16 lowest non-DC frequencies of the 64×64 DCT (a 16×16 block);
//! 5. one bit per coefficient: set when it is above the block's median.
//!
//! *Bit-exactness.* Every floating-point operation is done in the order and
//! precision the reference uses (single precision throughout, sums accumulated
//! in index order, no fused multiply-add), so the same pixels give the same
//! bits. The one deliberate choice: luminance is computed in double precision
//! and rounded to single, as the PyPI `pdqhash` bindings do (they compute it
//! with NumPy) — those bindings are what ThreatExchange's Python library and
//! HMA hash with, so lists made by them match lists made by cssim. The loops
//! are rearranged for the cache (columns are filtered side by side, a row at a
//! time), which changes no result: each output still sees the same operations
//! in the same order.
//!
//! *Hex form.* Bit `k = 16·i + j` belongs to coefficient `(i, j)`. Meta prints
//! the sixteen 16-bit words from the highest to the lowest, so the hex string
//! is the big-endian form of the 256-bit integer `Σ bit_k · 2^k`.
//! [`PdqHash`] stores exactly those 32 bytes.

mod blocked;
mod downsample;

use std::fmt;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::digest::{Algorithm, Digest, Distance, hamming};

/// The largest Hamming distance Meta recommends treating as a match (of 256 bits).
pub const MATCH_THRESHOLD: u32 = 31;

/// Hashes of quality below this are too featureless to match on (Meta's
/// recommendation): flat or nearly flat images all hash alike.
pub const MIN_QUALITY: u8 = 50;

/// Images smaller than this on either side get the zero hash and quality 0, as
/// in the reference.
pub const MIN_HASHABLE_DIM: u32 = 5;

/// A 256-bit PDQ hash, stored big-endian in Meta's hex order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PdqHash(pub [u8; 32]);

impl PdqHash {
    /// Parses Meta's 64-hex-character form.
    pub fn from_hex(s: &str) -> Result<PdqHash, super::digest::DigestParseError> {
        let d = Digest::from_hex(Algorithm::Pdq, s)?;
        let mut out = [0u8; 32];
        out.copy_from_slice(d.bytes());
        Ok(PdqHash(out))
    }

    /// Meta's 64-hex-character form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Hamming distance to another PDQ hash.
    pub fn distance(&self, other: &PdqHash) -> Distance {
        hamming(&self.0, &other.0)
    }

    /// Whether bit `k` (coefficient `(k / 16, k % 16)`) is set.
    pub fn bit(&self, k: usize) -> bool {
        self.0[31 - k / 8] >> (k % 8) & 1 == 1
    }

    fn set_bit(&mut self, k: usize) {
        self.0[31 - k / 8] |= 1 << (k % 8);
    }

    /// The hash as a generic [`Digest`].
    pub fn to_digest(&self) -> Digest {
        Digest::new(Algorithm::Pdq, self.0.to_vec())
    }
}

impl fmt::Display for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PdqHash({})", self.to_hex())
    }
}

/// PDQ's quality metric, 0–100: how much gradient the 64×64 downsample has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Quality(pub u8);

impl Quality {
    /// Whether the hash is good enough to match on ([`MIN_QUALITY`] or more).
    pub fn is_matchable(self) -> bool {
        quality_gate(self, MIN_QUALITY).is_ok()
    }
}

/// A PDQ hash below the quality floor: it is not matched (Meta's guidance:
/// a flat or tiny image's hash says little about it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LowQuality {
    /// The hash's quality.
    pub quality: Quality,
    /// The floor it is below.
    pub min: u8,
}

impl fmt::Display for LowQuality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PDQ quality {} below {}, not matched",
            self.quality, self.min
        )
    }
}

/// The one PDQ quality gate (`hash`/`compare`, `hashset build` and `check`,
/// the scanner): a hash of quality below `min` is not matched. `min` is
/// [`MIN_QUALITY`] unless a policy sets its own.
pub fn quality_gate(quality: Quality, min: u8) -> Result<(), LowQuality> {
    if quality.0 < min {
        Err(LowQuality { quality, min })
    } else {
        Ok(())
    }
}

impl fmt::Display for Quality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A PDQ hash with its quality.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pdq {
    /// The hash.
    pub hash: PdqHash,
    /// Its quality.
    pub quality: Quality,
}

/// The eight dihedral variants: the hashes the image would have if it were
/// rotated or flipped, computed from one DCT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dihedral {
    /// Hashes in the order [`Dihedral::NAMES`] gives.
    pub hashes: [PdqHash; 8],
    /// The quality (the same for all eight).
    pub quality: Quality,
}

impl Dihedral {
    /// The variants' names, in the reference's order.
    pub const NAMES: [&'static str; 8] = [
        "original",
        "rot90",
        "rot180",
        "rot270",
        "flipx",
        "flipy",
        "flipplus1",
        "flipminus1",
    ];
}

/// Which implementation of PDQ's arithmetic runs. Both give the same bits
/// (tests compare them on generated and real images); [`Kernel::Scalar`]
/// exists to check that and to measure what the vectorised one gains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Kernel {
    /// The row passes vectorised (`blocked::LANES` rows side by
    /// side), under AVX-512 or AVX2 when the processor has it (detected at
    /// run time).
    #[default]
    Vectorised,
    /// The streaming scalar implementation, one row's running sum at a time.
    Scalar,
}

/// The vectorised downsample under the best instruction set this processor
/// offers (AVX-512 or AVX2 where detected, else the baseline target).
fn vectorised_downsample_64(rgb: &[u8], rows: usize, cols: usize) -> Vec<[f32; 64]> {
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V4::try_new() {
        return simd.vectorize(SimdDownsample {
            simd,
            rgb,
            rows,
            cols,
        });
    }
    avx2_downsample_64(rgb, rows, cols)
}

/// The vectorised downsample with AVX2 at most (the AVX-512 arm's
/// fallback, and a second arm for the tests to compare on machines that
/// have both).
fn avx2_downsample_64(rgb: &[u8], rows: usize, cols: usize) -> Vec<[f32; 64]> {
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        return simd.vectorize(SimdDownsample {
            simd,
            rgb,
            rows,
            cols,
        });
    }
    blocked::luma_downsample_64(blocked::Plain, rgb, rows, cols)
}

/// The downsample as a job for `pulp`'s AVX2 or AVX-512 entry point. A
/// struct rather than a closure, so that its `call` can be
/// `#[inline(always)]`: the whole downsample must be inlined into the
/// function compiled for the instruction set, or the shuffles of the
/// transposes become function calls.
#[cfg(target_arch = "x86_64")]
struct SimdDownsample<'a, S> {
    simd: S,
    rgb: &'a [u8],
    rows: usize,
    cols: usize,
}

#[cfg(target_arch = "x86_64")]
impl<S: blocked::Ops> pulp::NullaryFnOnce for SimdDownsample<'_, S> {
    type Output = Vec<[f32; 64]>;

    #[inline(always)]
    fn call(self) -> Self::Output {
        blocked::luma_downsample_64(self.simd, self.rgb, self.rows, self.cols)
    }
}

/// Hashes an 8-bit RGB image.
pub fn hash_image(image: &RgbImage) -> Pdq {
    hash_image_with(image, Kernel::default())
}

/// [`hash_image`] with a chosen [`Kernel`] (the result is the same).
pub fn hash_image_with(image: &RgbImage, kernel: Kernel) -> Pdq {
    let (w, h) = image.dimensions();
    hash_rgb_with(image.as_raw(), w as usize, h as usize, kernel)
}

/// Hashes packed 8-bit RGB pixels (`3 · width · height` bytes, row-major).
///
/// # Panics
/// If `rgb` is shorter than `3 · width · height`.
pub fn hash_rgb(rgb: &[u8], width: usize, height: usize) -> Pdq {
    hash_rgb_with(rgb, width, height, Kernel::default())
}

/// [`hash_rgb`] with a chosen [`Kernel`] (the result is the same).
///
/// # Panics
/// If `rgb` is shorter than `3 · width · height`.
pub fn hash_rgb_with(rgb: &[u8], width: usize, height: usize, kernel: Kernel) -> Pdq {
    match dct_of_rgb(rgb, width, height, kernel) {
        None => Pdq {
            hash: PdqHash::default(),
            quality: Quality(0),
        },
        Some((dct, quality)) => Pdq {
            hash: bits_above_median(&dct),
            quality,
        },
    }
}

/// Hashes an 8-bit RGB image and its seven rotations and flips.
pub fn hash_image_dihedral(image: &RgbImage) -> Dihedral {
    hash_image_dihedral_with(image, Kernel::default())
}

/// [`hash_image_dihedral`] with a chosen [`Kernel`] (the result is the same).
pub fn hash_image_dihedral_with(image: &RgbImage, kernel: Kernel) -> Dihedral {
    let (w, h) = image.dimensions();
    let Some((dct, quality)) = dct_of_rgb(image.as_raw(), w as usize, h as usize, kernel) else {
        return Dihedral {
            hashes: [PdqHash::default(); 8],
            quality: Quality(0),
        };
    };
    let mut hashes = [PdqHash::default(); 8];
    for (v, slot) in hashes.iter_mut().enumerate() {
        *slot = bits_above_median(&dihedral_variant(&dct, v));
    }
    Dihedral { hashes, quality }
}

type Block16 = [[f32; 16]; 16];

/// The 16×16 block of DCT coefficients the hash thresholds, and the quality,
/// exactly as [`hash_image`] computes them (`None` below 5 pixels a side).
/// For `attack`, which needs the values, not only their signs.
pub(crate) fn dct_block(image: &RgbImage) -> Option<(Block16, Quality)> {
    let (w, h) = image.dimensions();
    dct_of_rgb(image.as_raw(), w as usize, h as usize, Kernel::default())
}

/// Variant `variant` (as [`Dihedral::NAMES`]) of a block as [`dct_block`]
/// returns it: the coefficients the scanner's rotated and flipped lookups
/// threshold (for `attack`, which steers all eight under `pdq_dihedral`).
pub(crate) fn dihedral_block(block: &Block16, variant: usize) -> Block16 {
    dihedral_variant(block, variant)
}

/// The DCT basis rows as [`dct_block`] uses them (for `attack`'s linear model).
pub(crate) fn dct_basis() -> &'static [[f32; 64]; 16] {
    dct_matrix()
}

/// The tent filter's box window along a side of `n` pixels (for `attack`).
pub(crate) fn box_window(n: usize) -> usize {
    downsample::jarosz_window(n, 64)
}

fn dct_of_rgb(
    rgb: &[u8],
    width: usize,
    height: usize,
    kernel: Kernel,
) -> Option<(Block16, Quality)> {
    if width < MIN_HASHABLE_DIM as usize || height < MIN_HASHABLE_DIM as usize {
        return None;
    }
    let rgb = &rgb[..3 * width * height];
    let small = if kernel == Kernel::Scalar || (width == 64 && height == 64) {
        downsample::luma_downsample_64(rgb, height, width)
    } else {
        vectorised_downsample_64(rgb, height, width)
    };
    let quality = quality_metric(&small);
    Some((dct_64_to_16(&small), quality))
}

/// The reference's heuristic: count significant vertical and horizontal
/// gradients (in percent of full scale, truncated), scale, clamp to 100.
fn quality_metric(a: &[[f32; 64]]) -> Quality {
    let step = |u: f32, v: f32| ((((u - v) * 100.0) / 255.0) as i32).abs();
    let mut gradient_sum: i32 = 0;
    for pair in a.windows(2) {
        for (u, v) in pair[0].iter().zip(pair[1].iter()) {
            gradient_sum += step(*u, *v);
        }
    }
    for row in a.iter() {
        for pair in row.windows(2) {
            gradient_sum += step(pair[0], pair[1]);
        }
    }
    Quality((gradient_sum / 90).min(100) as u8)
}

/// The 16×64 DCT-II basis rows 1..=16 (row 0, the DC term, is not used),
/// rounded to single precision exactly as the reference builds them.
fn dct_matrix() -> &'static [[f32; 64]; 16] {
    static MATRIX: std::sync::OnceLock<[[f32; 64]; 16]> = std::sync::OnceLock::new();
    MATRIX.get_or_init(|| {
        let scale = (2.0f64 / 64.0).sqrt() as f32;
        let mut m = [[0f32; 64]; 16];
        for (i, row) in m.iter_mut().enumerate() {
            for (j, cell) in row.iter_mut().enumerate() {
                let angle =
                    (std::f64::consts::PI / 2.0 / 64.0) * (i + 1) as f64 * (2 * j + 1) as f64;
                *cell = (f64::from(scale) * angle.cos()) as f32;
            }
        }
        m
    })
}

/// `B = D · A · Dᵀ`, the 16×16 block of low frequencies.
fn dct_64_to_16(a: &[[f32; 64]]) -> Block16 {
    let d = dct_matrix();
    // T = D · A, summed over k in order for every (i, j); iterating j
    // innermost keeps that order and lets the compiler vectorise across j.
    let mut t = [[0f32; 64]; 16];
    for (ti, di) in t.iter_mut().zip(d.iter()) {
        for (k, ak) in a.iter().enumerate() {
            let dik = di[k];
            for (tij, akj) in ti.iter_mut().zip(ak.iter()) {
                *tij += dik * akj;
            }
        }
    }
    let mut b = [[0f32; 16]; 16];
    for (bi, ti) in b.iter_mut().zip(t.iter()) {
        for (bij, dj) in bi.iter_mut().zip(d.iter()) {
            let mut sum = 0f32;
            for k in 0..64 {
                sum += ti[k] * dj[k];
            }
            *bij = sum;
        }
    }
    b
}

/// The reference's variant transforms of the DCT block (sign flips of odd
/// frequencies and/or a transpose), indexed as [`Dihedral::NAMES`].
fn dihedral_variant(a: &Block16, variant: usize) -> Block16 {
    let mut b = [[0f32; 16]; 16];
    for i in 0..16 {
        for j in 0..16 {
            let v = a[i][j];
            let odd_i = i & 1 == 1;
            let odd_j = j & 1 == 1;
            let odd_sum = (i + j) & 1 == 1;
            match variant {
                0 => b[i][j] = v,
                1 => b[j][i] = if odd_j { v } else { -v },
                2 => b[i][j] = if odd_sum { -v } else { v },
                3 => b[j][i] = if odd_i { v } else { -v },
                4 => b[i][j] = if odd_i { v } else { -v },
                5 => b[i][j] = if odd_j { v } else { -v },
                6 => b[j][i] = v,
                _ => b[j][i] = if odd_sum { -v } else { v },
            }
        }
    }
    b
}

fn bits_above_median(block: &Block16) -> PdqHash {
    let flat: Vec<f32> = block.iter().flatten().copied().collect();
    let median = torben_median(&flat);
    let mut hash = PdqHash::default();
    for (k, &v) in flat.iter().enumerate() {
        if v > median {
            hash.set_bit(k);
        }
    }
    hash
}

/// Torben Mogensen's median (as the reference): repeated bisection on value,
/// no sorting, and for even counts the lower middle element.
fn torben_median(m: &[f32]) -> f32 {
    let n = m.len();
    let (mut min, mut max) = (m[0], m[0]);
    for &v in &m[1..] {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
    }
    let half = n.div_ceil(2);
    loop {
        let guess = (min + max) / 2.0;
        let (mut less, mut greater, mut equal) = (0usize, 0usize, 0usize);
        let (mut max_lt, mut min_gt) = (min, max);
        for &v in m {
            if v < guess {
                less += 1;
                if v > max_lt {
                    max_lt = v;
                }
            } else if v > guess {
                greater += 1;
                if v < min_gt {
                    min_gt = v;
                }
            } else {
                equal += 1;
            }
        }
        if less <= half && greater <= half {
            return if less >= half {
                max_lt
            } else if less + equal >= half {
                guess
            } else {
                min_gt
            };
        } else if less > greater {
            max = max_lt;
        } else {
            min = min_gt;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_images_get_the_zero_hash_and_quality_zero() {
        for (w, h) in [(1, 1), (4, 4), (4, 100), (100, 4)] {
            let img = RgbImage::from_pixel(w, h, image::Rgb([200, 10, 30]));
            let p = hash_image(&img);
            assert_eq!(p.hash, PdqHash::default());
            assert_eq!(p.quality, Quality(0));
        }
    }

    #[test]
    fn flat_images_have_quality_zero() {
        let img = RgbImage::from_pixel(300, 200, image::Rgb([90, 90, 90]));
        assert_eq!(hash_image(&img).quality, Quality(0));
    }

    #[test]
    fn torben_gives_the_lower_median_for_even_counts() {
        let v: Vec<f32> = [5.0, 1.0, 4.0, 2.0, 3.0, 6.0].to_vec();
        assert_eq!(torben_median(&v), 3.0);
        assert_eq!(torben_median(&[7.0, 7.0, 7.0, 7.0]), 7.0);
    }

    #[test]
    fn hex_is_big_endian_over_bit_index() {
        let mut h = PdqHash::default();
        h.set_bit(0);
        h.set_bit(255);
        assert_eq!(h.to_hex(), format!("8{}1", "0".repeat(62)));
        assert!(h.bit(0) && h.bit(255) && !h.bit(1));
        assert_eq!(PdqHash::from_hex(&h.to_hex()).unwrap(), h);
    }

    #[test]
    fn rotating_the_image_matches_the_rot90_variant_closely() {
        // A smooth synthetic image, so resampling differences stay small.
        let img = RgbImage::from_fn(96, 96, |x, y| {
            let v = ((x * 3 + y * y / 7) % 256) as u8;
            image::Rgb([v, v / 2, 255 - v])
        });
        let dihedral = hash_image_dihedral(&img);
        assert_eq!(dihedral.hashes[0], hash_image(&img).hash);
        let rotated = image::imageops::rotate90(&img);
        let d = hash_image(&rotated)
            .hash
            .distance(&dihedral.hashes[1])
            .0
            .min(hash_image(&rotated).hash.distance(&dihedral.hashes[3]).0);
        assert!(
            d <= 16,
            "rotated image is {d} bits from its predicted variant"
        );
    }
}
