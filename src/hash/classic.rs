//! The classic perceptual hashes — aHash, dHash and pHash — through the
//! `img_hash` API (the maintained `image_hasher` fork).
//!
//! All three reduce the image to grey, shrink it to a few pixels a side
//! (Lanczos3) and set one bit per comparison:
//! - **aHash** (mean): each pixel of an `n×n` thumbnail against the mean;
//! - **dHash** (gradient): each pixel against its right neighbour;
//! - **pHash**: a DCT of a `2n×2n` thumbnail, the `n×n` low frequencies
//!   against their median.
//!
//! The default size `n = 8` gives 64-bit hashes; [`Hashers::new`] takes
//! another. Hash bytes are `img_hash`'s own (least significant bit first in
//! each byte), so hex values interoperate with other `img_hash` users, not
//! with Python's `imagehash`, which orders bits differently.

use image::{GrayImage, RgbImage};
use img_hash::{HashAlg, Hasher, HasherConfig};

use super::digest::{Algorithm, Digest};

/// The conventional match threshold for 64-bit classic hashes: 10 bits
/// (about 16%), as used with `imagehash`.
pub const MATCH_THRESHOLD: u32 = 10;

/// The default side of the hash grid (8 × 8 = 64 bits).
pub const DEFAULT_SIZE: u32 = 8;

/// Ready-built hashers for the three algorithms (building one precomputes
/// DCT coefficients, so build once and reuse).
pub struct Hashers {
    size: u32,
    ahash: Hasher,
    dhash: Hasher,
    phash: Hasher,
}

impl Hashers {
    /// Hashers making `size × size`-bit hashes.
    ///
    /// # Panics
    /// If `size` is 0 or over 64 (a 4096-bit hash); callers validate user input first.
    pub fn new(size: u32) -> Hashers {
        assert!((1..=64).contains(&size), "classic hash size must be 1..=64");
        let config = |alg: HashAlg| HasherConfig::new().hash_size(size, size).hash_alg(alg);
        Hashers {
            size,
            ahash: config(HashAlg::Mean).to_hasher(),
            dhash: config(HashAlg::Gradient).to_hasher(),
            phash: config(HashAlg::Median).preproc_dct().to_hasher(),
        }
    }

    /// The side of the hash grid.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Hashes `image` with `algorithm`, which must be aHash, dHash or pHash.
    pub fn hash(&self, image: &RgbImage, algorithm: Algorithm) -> Option<Digest> {
        let hasher = match algorithm {
            Algorithm::Ahash => &self.ahash,
            Algorithm::Dhash => &self.dhash,
            Algorithm::Phash => &self.phash,
            _ => return None,
        };
        let hash = hasher.hash_image(&grey_thumbnail(image, 8 * self.size));
        Some(Digest::new(algorithm, hash.as_bytes().to_vec()))
    }
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

/// The grey thumbnail the hashes start from: Rec. 709 luma in integers
/// (exactly `image`'s own grey conversion, which `img_hash` would otherwise
/// run), averaged over `k × k` blocks so that the shorter side stays at least
/// `min_side` (8 × the hash grid's side: 64 px for 64-bit hashes). One pass over the pixels; without it, `img_hash`
/// resamples the full-size image with Lanczos3, which costs more than
/// decoding it.
fn grey_thumbnail(image: &RgbImage, min_side: u32) -> GrayImage {
    let (w, h) = image.dimensions();
    let k = (w.min(h) / min_side).max(1);
    let (tw, th) = (w / k, h / k);
    if tw == 0 || th == 0 {
        return GrayImage::new(w.max(1), h.max(1));
    }
    let raw = image.as_raw();
    let stride = w as usize * 3;
    let mut sums = vec![0u32; tw as usize];
    let mut out = Vec::with_capacity((tw * th) as usize);
    for ty in 0..th as usize {
        sums.iter_mut().for_each(|s| *s = 0);
        for y in ty * k as usize..(ty + 1) * k as usize {
            let row = &raw[y * stride..y * stride + tw as usize * k as usize * 3];
            for (tx, block) in row.chunks_exact(k as usize * 3).enumerate() {
                sums[tx] += block
                    .chunks_exact(3)
                    .map(|p| luma(p[0], p[1], p[2]))
                    .sum::<u32>();
            }
        }
        let n = k * k;
        out.extend(sums.iter().map(|s| ((s + n / 2) / n) as u8));
    }
    GrayImage::from_raw(tw, th, out).unwrap_or_else(|| GrayImage::new(1, 1))
}

fn luma(r: u8, g: u8, b: u8) -> u32 {
    (2126 * u32::from(r) + 7152 * u32::from(g) + 722 * u32::from(b)) / 10000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient() -> RgbImage {
        RgbImage::from_fn(64, 48, |x, y| {
            let v = (x * 4 + y) as u8;
            image::Rgb([v, v, v])
        })
    }

    #[test]
    fn small_images_are_grey_converted_exactly_like_image_does() {
        let img = gradient(); // shorter side under 64: no averaging
        let ours = grey_thumbnail(&img, 64);
        let theirs = image::DynamicImage::ImageRgb8(img).to_luma8();
        assert_eq!(ours.as_raw(), theirs.as_raw());
    }

    #[test]
    fn large_images_are_block_averaged() {
        let img = RgbImage::from_fn(1030, 600, |x, _| {
            let v = if x % 2 == 0 { 100 } else { 200 };
            image::Rgb([v, v, v])
        });
        let t = grey_thumbnail(&img, 256);
        assert_eq!(t.dimensions(), (515, 300)); // k = 2
        assert!(t.pixels().all(|p| p.0[0] == 150), "{:?}", t.get_pixel(0, 0));
    }

    #[test]
    fn sizes_give_the_right_number_of_bits() {
        for size in [8, 16] {
            let h = Hashers::new(size);
            for alg in [Algorithm::Ahash, Algorithm::Dhash, Algorithm::Phash] {
                assert_eq!(
                    h.hash(&gradient(), alg).unwrap().bits(),
                    size * size,
                    "{alg}"
                );
            }
        }
        assert!(
            Hashers::default()
                .hash(&gradient(), Algorithm::Pdq)
                .is_none()
        );
    }

    #[test]
    fn a_small_brightness_change_moves_few_bits() {
        let img = gradient();
        let brighter = RgbImage::from_fn(64, 48, |x, y| {
            let p = img.get_pixel(x, y).0;
            image::Rgb(p.map(|v| v.saturating_add(6)))
        });
        let h = Hashers::default();
        for alg in [Algorithm::Ahash, Algorithm::Dhash, Algorithm::Phash] {
            let d = h
                .hash(&img, alg)
                .unwrap()
                .distance(&h.hash(&brighter, alg).unwrap());
            assert!(d.unwrap().0 <= MATCH_THRESHOLD, "{alg}: {d:?}");
        }
    }
}
