//! Brute force: compare the query with every entry. Slow and obviously
//! right, which makes it the oracle the index is tested against, and the
//! fallback when a threshold is so large that the index would visit every
//! entry anyway.

use crate::hash::{Digest, Distance};

/// Hamming distance between two packed digests of the same length.
#[inline]
pub fn words_distance(a: &[u64], b: &[u64]) -> u32 {
    // Fixed-size fast path for PDQ: the compiler unrolls it into four popcounts.
    if let (Ok(a), Ok(b)) = (<&[u64; 4]>::try_from(a), <&[u64; 4]>::try_from(b)) {
        return (a[0] ^ b[0]).count_ones()
            + (a[1] ^ b[1]).count_ones()
            + (a[2] ^ b[2]).count_ones()
            + (a[3] ^ b[3]).count_ones();
    }
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// Pushes `(entry, distance)` for every packed entry within `threshold`
/// of `query`, in entry order.
pub fn search_words(
    words: &[u64],
    words_per_entry: usize,
    query: &[u64],
    threshold: u32,
    out: &mut Vec<(usize, u32)>,
) {
    if words_per_entry == 0 {
        return;
    }
    for (id, entry) in words.chunks_exact(words_per_entry).enumerate() {
        let d = words_distance(entry, query);
        if d <= threshold {
            out.push((id, d));
        }
    }
}

/// The oracle on plain digests, through [`crate::hash::hamming`] (a code
/// path independent of the packing the index uses): the positions and
/// distances of every entry within `threshold` of `query`, in entry order.
pub fn matches(entries: &[Digest], query: &Digest, threshold: u32) -> Vec<(usize, Distance)> {
    entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.distance(query).map(|d| (i, d)))
        .filter(|(_, d)| d.0 <= threshold)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Algorithm;

    #[test]
    fn packed_and_plain_distances_agree() {
        let a = Digest::new(Algorithm::Pdq, (0..32).collect());
        let b = Digest::new(Algorithm::Pdq, (0..32).map(|x| x * 7).collect());
        let (mut wa, mut wb) = (Vec::new(), Vec::new());
        super::super::list::pack_into(a.bytes(), &mut wa);
        super::super::list::pack_into(b.bytes(), &mut wb);
        assert_eq!(Distance(words_distance(&wa, &wb)), a.distance(&b).unwrap());
        let m = matches(&[a.clone(), b.clone()], &a, 0);
        assert_eq!(m, vec![(0, Distance(0))]);
    }
}
