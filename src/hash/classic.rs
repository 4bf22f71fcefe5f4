//! The classic perceptual hashes — aHash, dHash and pHash — exactly as
//! Python's `imagehash` 4.3 computes them, so that lists interoperate.
//!
//! All three start from the image's grey version (Pillow's `convert("L")`,
//! `pillow::to_luma`), resize it with Pillow's Lanczos filter
//! (`pillow::resize_lanczos`) to a few pixels a side and set one bit per
//! comparison, row by row:
//! - **aHash** (`average_hash`): an `n×n` image, each pixel `>` the mean;
//! - **dHash** (`dhash`): an `(n+1)×n` image, each pixel's right neighbour
//!   `>` the pixel;
//! - **pHash** (`phash`): a `4n×4n` image, its unnormalised DCT-II along the
//!   columns then the rows (`scipy.fftpack.dct`), the top-left `n×n`
//!   coefficients `>` their median.
//!
//! The default size `n = 8` gives 64-bit hashes. Bits are packed as
//! imagehash's `str(hash)` prints them: the first bit is the most significant
//! bit of the first byte, so the hex is imagehash's hex.
//!
//! Before this module followed imagehash, cssim used the `img_hash` crate,
//! whose hashes of the same image differ (another grey, another resampling,
//! another bit order); hash sets record which one they hold
//! ([`crate::hashset::manifest::AlgorithmInfo::variant`]).

use image::GrayImage;

use super::digest::{Algorithm, Digest};
use super::pillow;

/// The conventional match threshold for 64-bit classic hashes: 10 bits
/// (about 16%), as used with `imagehash`.
pub const MATCH_THRESHOLD: u32 = 10;

/// The default side of the hash grid (8 × 8 = 64 bits).
pub const DEFAULT_SIZE: u32 = 8;

/// The name of the classic-hash variant this module computes, as hash sets
/// record it: imagehash 4.3's values and bit order.
pub const VARIANT: &str = "imagehash-4.3";

/// imagehash's `highfreq_factor`: pHash reads a DCT of a `4n×4n` image.
const PHASH_FACTOR: u32 = 4;

/// The three hashes at one grid size.
pub struct Hashers {
    size: u32,
    /// `cos(π m / 2N)` for `m < N = 4 size`.
    cos: Vec<f64>,
}

impl Hashers {
    /// Hashers making `size × size`-bit hashes.
    ///
    /// # Panics
    /// If `size` is under 2 (imagehash refuses it too) or over 64 (a
    /// 4096-bit hash); callers validate user input first.
    pub fn new(size: u32) -> Hashers {
        assert!((2..=64).contains(&size), "classic hash size must be 2..=64");
        let n = (size * PHASH_FACTOR) as usize;
        let cos = (0..n)
            .map(|m| (std::f64::consts::PI * m as f64 / (2 * n) as f64).cos())
            .collect();
        Hashers { size, cos }
    }

    /// The side of the hash grid.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Hashes a grey image (Pillow's `convert("L")` of the input, see
    /// `pillow::to_luma`) with `algorithm`, which must be aHash, dHash or
    /// pHash; `None` for any other algorithm.
    pub fn hash_grey(&self, grey: &GrayImage, algorithm: Algorithm) -> Option<Digest> {
        let n = self.size;
        let bits = match algorithm {
            Algorithm::Ahash => {
                let small = pillow::resize_lanczos(grey, n, n);
                let px = small.as_raw();
                let sum: u64 = px.iter().map(|&p| u64::from(p)).sum();
                // `p > sum / count` in integers: numpy's float mean of at most
                // 4096 bytes is exact enough that the two never disagree.
                let count = px.len() as u64;
                px.iter().map(|&p| u64::from(p) * count > sum).collect()
            }
            Algorithm::Dhash => {
                let small = pillow::resize_lanczos(grey, n + 1, n);
                let w = (n + 1) as usize;
                small
                    .as_raw()
                    .chunks_exact(w)
                    .flat_map(|row| row.windows(2).map(|p| p[1] > p[0]))
                    .collect()
            }
            Algorithm::Phash => self.phash_bits(&pillow::resize_lanczos(
                grey,
                n * PHASH_FACTOR,
                n * PHASH_FACTOR,
            )),
            _ => return None,
        };
        Some(Digest::new(algorithm, pack(&bits)))
    }

    /// The pHash bits of a `4n×4n` image.
    ///
    /// The DCT is `scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0),
    /// axis=1)` (unnormalised DCT-II, `y[k] = 2 Σ x[i] cos(π k (2i+1) / 2N)`),
    /// top-left `n×n`. It is computed exactly in integers as a combination of
    /// the `N` cosines `cos(π m / 2N)`, `m < N` (linearly independent over
    /// the rationals when `N` is a power of two, as at sizes 4, 8, 16 and
    /// 32), and only then evaluated in
    /// `f64`: a coefficient that is zero is exactly 0.0, as scipy's pocketfft
    /// gives it on flat or symmetric images, where the median rule would
    /// otherwise compare rounding noise.
    fn phash_bits(&self, small: &GrayImage) -> Vec<bool> {
        let n = self.size as usize;
        let big = n * PHASH_FACTOR as usize;
        let px = small.as_raw();
        // First pass (axis 0), rows k < n: integer weights of each cosine.
        let mut first = vec![0i64; n * big * big];
        for k in 0..n {
            for i in 0..big {
                let Some((sign, a)) = fold(k * (2 * i + 1), big) else {
                    continue;
                };
                for j in 0..big {
                    first[(k * big + j) * big + a] += sign * i64::from(px[i * big + j]);
                }
            }
        }
        // Second pass (axis 1), columns l < n: cos a · cos g =
        // (cos(a+g) + cos(a−g)) / 2 folds the products back onto the cosines.
        let mut low = Vec::with_capacity(n * n);
        let mut weights = vec![0i64; big];
        for k in 0..n {
            for l in 0..n {
                weights.iter_mut().for_each(|w| *w = 0);
                for j in 0..big {
                    let Some((sign, g)) = fold(l * (2 * j + 1), big) else {
                        continue;
                    };
                    let row = &first[(k * big + j) * big..(k * big + j + 1) * big];
                    for (a, &c) in row.iter().enumerate().filter(|(_, c)| **c != 0) {
                        for b in [a + g, a.abs_diff(g)] {
                            if let Some((s2, m)) = fold(b, big) {
                                weights[m] += sign * s2 * c;
                            }
                        }
                    }
                }
                // y = 4 Σ c·cos a·cos g = 2 Σ weights[m]·cos m.
                let sum: f64 = weights
                    .iter()
                    .zip(&self.cos)
                    .map(|(&w, &c)| w as f64 * c)
                    .sum();
                low.push(2.0 * sum);
            }
        }
        let median = median(&low);
        low.iter().map(|&v| v > median).collect()
    }
}

/// `cos(π a / 2N)` as `sign · cos(π m / 2N)` with `m < N`; `None` where the
/// cosine is zero (`m = N`).
fn fold(a: usize, big: usize) -> Option<(i64, usize)> {
    let mut a = a % (4 * big);
    if a > 2 * big {
        a = 4 * big - a;
    }
    match a {
        _ if a == big => None,
        _ if a > big => Some((-1, 2 * big - a)),
        _ => Some((1, a)),
    }
}

/// numpy's median: the middle value, or the mean of the two middle values.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let m = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[m]
    } else {
        (sorted[m - 1] + sorted[m]) / 2.0
    }
}

/// Packs bits as one big-endian integer, first bit most significant, as
/// imagehash's hex does (`int(bit_string, 2)`): leading zero bits pad the
/// first byte when the count is not a multiple of 8.
fn pack(bits: &[bool]) -> Vec<u8> {
    let bytes = bits.len().div_ceil(8);
    let pad = bytes * 8 - bits.len();
    let mut out = vec![0u8; bytes];
    for (i, &b) in bits.iter().enumerate() {
        if b {
            let pos = pad + i;
            out[pos / 8] |= 0x80 >> (pos % 8);
        }
    }
    out
}

impl Default for Hashers {
    fn default() -> Hashers {
        Hashers::new(DEFAULT_SIZE)
    }
}

impl std::fmt::Debug for Hashers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hashers").field("size", &self.size).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient() -> GrayImage {
        GrayImage::from_fn(64, 48, |x, y| image::Luma([(x * 4 + y) as u8]))
    }

    #[test]
    fn sizes_give_the_right_number_of_bits() {
        for size in [8, 16] {
            let h = Hashers::new(size);
            for alg in [Algorithm::Ahash, Algorithm::Dhash, Algorithm::Phash] {
                assert_eq!(
                    h.hash_grey(&gradient(), alg).unwrap().bits(),
                    size * size,
                    "{alg}"
                );
            }
        }
        assert!(
            Hashers::default()
                .hash_grey(&gradient(), Algorithm::Pdq)
                .is_none()
        );
    }

    #[test]
    fn bits_are_packed_first_bit_most_significant() {
        // imagehash: hex of int("1000000001", 2) = "201", in two bytes "0201".
        let mut bits = vec![false; 10];
        bits[0] = true;
        bits[9] = true;
        assert_eq!(pack(&bits), vec![0x02, 0x01]);
        let mut bits = vec![false; 16];
        bits[0] = true;
        assert_eq!(pack(&bits), vec![0x80, 0x00]);
    }

    #[test]
    fn a_left_to_right_ramp_has_every_dhash_bit_set() {
        // Each pixel's right neighbour is brighter.
        let ramp = GrayImage::from_fn(90, 40, |x, _| image::Luma([(x * 2) as u8]));
        let d = Hashers::default()
            .hash_grey(&ramp, Algorithm::Dhash)
            .unwrap();
        assert_eq!(d.to_hex(), "ffffffffffffffff");
        // aHash: the right half is above the mean.
        let a = Hashers::default()
            .hash_grey(&ramp, Algorithm::Ahash)
            .unwrap();
        assert_eq!(a.to_hex(), "0f0f0f0f0f0f0f0f");
    }

    #[test]
    fn a_small_brightness_change_moves_few_bits() {
        let img = gradient();
        let brighter = GrayImage::from_fn(64, 48, |x, y| {
            image::Luma([img.get_pixel(x, y).0[0].saturating_add(6)])
        });
        let h = Hashers::default();
        for alg in [Algorithm::Ahash, Algorithm::Dhash, Algorithm::Phash] {
            let d = h
                .hash_grey(&img, alg)
                .unwrap()
                .distance(&h.hash_grey(&brighter, alg).unwrap());
            assert!(d.unwrap().0 <= MATCH_THRESHOLD, "{alg}: {d:?}");
        }
    }
}
