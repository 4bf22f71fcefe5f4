//! The classic perceptual hashes — aHash, dHash and pHash — through the
//! `img_hash` API (the maintained `image_hasher` fork).
//!
//! All three start from a grey thumbnail ([`thumbnail`]: 64 px on the shorter
//! side for 64-bit hashes, read from the DC coefficients of a large enough
//! JPEG), shrink it to a few pixels a side (Lanczos3) and set one bit per
//! comparison:
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
use super::thumbnail;

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

    /// The shorter side the grey thumbnail keeps: 8 × the grid's side.
    pub fn min_side(&self) -> u32 {
        8 * self.size
    }

    /// Hashes `image` with `algorithm`, which must be aHash, dHash or pHash.
    pub fn hash(&self, image: &RgbImage, algorithm: Algorithm) -> Option<Digest> {
        self.hash_thumbnail(&thumbnail::from_rgb(image, self.min_side()), algorithm)
    }

    /// Hashes a grey thumbnail made by [`thumbnail`] (or any grey image)
    /// with `algorithm`, which must be aHash, dHash or pHash.
    pub fn hash_thumbnail(&self, thumbnail: &GrayImage, algorithm: Algorithm) -> Option<Digest> {
        let hasher = match algorithm {
            Algorithm::Ahash => &self.ahash,
            Algorithm::Dhash => &self.dhash,
            Algorithm::Phash => &self.phash,
            _ => return None,
        };
        let hash = hasher.hash_image(thumbnail);
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
