//! PDQ's eight orientations, as the scanner looks them up under
//! `pdq_dihedral`.
//!
//! With the policy on, the scanner hashes the sent image in all eight
//! rotations and flips ([`pdq::hash_image_dihedral`]: signed permutations of
//! one DCT block, each thresholded at its own median) and matches each
//! against the list. An evasion must therefore leave every orientation of
//! the attacked image more than `T + margin` from every avoided hash. The
//! attack steers one block (the image's own orientation), so each avoided
//! hash is carried back into that block's coordinates: orientation `v`'s bit
//! `p` reads coefficient `q` with sign `s`, so it is 1 when `s · D[q]` is
//! above that orientation's median, and the pattern to avoid at `q` is the
//! avoided bit at `p`, inverted where `s` is negative. That is exact but for
//! the orientations' medians differing from the block's (they are all near
//! zero); the real eight hashes decide success.

use crate::hash::pdq;

use super::model::bits_of;

/// For each orientation, for each of its bits `p`: the coefficient `q` it
/// reads and whether it reads it negated.
fn sources() -> [[(usize, bool); 256]; 8] {
    let mut block = [[0f32; 16]; 16];
    for (q, v) in block.iter_mut().flatten().enumerate() {
        *v = (q + 1) as f32;
    }
    let mut out = [[(0usize, false); 256]; 8];
    for (v, map) in out.iter_mut().enumerate() {
        let turned = pdq::dihedral_block(&block, v);
        for (p, &x) in turned.iter().flatten().enumerate() {
            map[p] = (x.abs() as usize - 1, x < 0.0);
        }
    }
    out
}

/// The patterns of the image's own block that would put some orientation
/// of it on `avoid` (bit order as `bits_of`): one per orientation.
pub(crate) fn patterns(avoid: &[bool]) -> Vec<Vec<bool>> {
    sources()
        .iter()
        .map(|map| {
            let mut own = vec![false; 256];
            for (p, &(q, negated)) in map.iter().enumerate() {
                own[q] = avoid[p] != negated;
            }
            own
        })
        .collect()
}

/// The eight orientations' hashes of `image` (bit order as `bits_of`; the
/// first is the image as it is), its own digest and its quality.
pub(crate) fn views(
    image: &image::RgbImage,
) -> (Vec<Vec<bool>>, crate::hash::Digest, pdq::Quality) {
    let d = pdq::hash_image_dihedral(image);
    let views = d.hashes.iter().map(|h| bits_of(&h.to_digest())).collect();
    (views, d.hashes[0].to_digest(), d.quality)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_orientation_reads_every_coefficient_once_and_the_first_is_the_block() {
        let s = sources();
        for map in &s {
            let mut seen = [false; 256];
            for &(q, _) in map.iter() {
                assert!(!seen[q]);
                seen[q] = true;
            }
        }
        assert!(s[0].iter().enumerate().all(|(p, &(q, n))| p == q && !n));
    }

    #[test]
    fn a_mirrored_image_is_predicted_by_the_carried_back_pattern() {
        // The flipped image's own hash is close to one of the patterns the
        // original's hash gives (the mirror's), and far from the identity's.
        let img = image::RgbImage::from_fn(120, 90, |x, y| {
            let v = ((x * 5 + y * y / 9) % 256) as u8;
            image::Rgb([v, v / 3, 255 - v])
        });
        let mirrored = image::imageops::flip_horizontal(&img);
        let own = bits_of(&pdq::hash_image(&img).hash.to_digest());
        let theirs = bits_of(&pdq::hash_image(&mirrored).hash.to_digest());
        let d = |a: &[bool], b: &[bool]| a.iter().zip(b).filter(|(x, y)| x != y).count();
        let nearest = patterns(&own).iter().map(|p| d(p, &theirs)).min().unwrap();
        assert!(nearest <= 20, "{nearest}");
        assert!(d(&own, &theirs) > 60, "{}", d(&own, &theirs));
    }
}
