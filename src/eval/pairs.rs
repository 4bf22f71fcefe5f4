//! Distance histograms over pairs of hashes: every pair of a set (a
//! popcount loop, split over rayon's threads, one histogram per thread,
//! summed), or N seeded random pairs when every pair would be too many.
//! The closest pairs are kept on the way, for reviewers to open first.
//!
//! Hashes are packed into 64-bit words (`width` words each, the same
//! packing the hash-set index uses). With orientation variants
//! (`Packed::variants`, 8 per hash for dihedral PDQ), the distance of a
//! pair (i, j) is the smallest distance between any variant of i and j's
//! own hash: what a matcher that tries every rotation and mirror image of
//! the query would see.

use std::sync::atomic::{AtomicU64, Ordering};

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::Serialize;
use sha2::Digest as _;

/// Hashes packed into words.
#[derive(Clone, Debug, Default)]
pub struct Packed {
    words: Vec<u64>,
    width: usize,
    bits: u32,
    /// Words of the variants: `variants × width` words per hash (empty
    /// without variants).
    variant_words: Vec<u64>,
    variants: usize,
}

impl Packed {
    /// Hashes of `bits` bits each (a multiple of 8), given as bytes.
    pub fn from_bytes<'a>(bits: u32, hashes: impl IntoIterator<Item = &'a [u8]>) -> Packed {
        let width = (bits as usize).div_ceil(64);
        let mut words = Vec::new();
        for h in hashes {
            pack(h, width, &mut words);
        }
        Packed {
            words,
            width,
            bits,
            variant_words: Vec::new(),
            variants: 0,
        }
    }

    /// Adds `per_hash` orientation variants of every hash (in hash order).
    pub fn with_variants<'a>(
        mut self,
        per_hash: usize,
        variants: impl IntoIterator<Item = &'a [u8]>,
    ) -> Packed {
        let mut words = Vec::new();
        for v in variants {
            pack(v, self.width, &mut words);
        }
        self.variant_words = words;
        self.variants = per_hash;
        self
    }

    /// How many hashes.
    pub fn len(&self) -> usize {
        self.words.len().checked_div(self.width).unwrap_or(0)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bits per hash.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    fn hash(&self, i: usize) -> &[u64] {
        &self.words[i * self.width..(i + 1) * self.width]
    }

    /// The distance of the pair (i, j) as the module documents it.
    pub fn distance(&self, i: usize, j: usize) -> u32 {
        if self.variants == 0 {
            return words_distance(self.hash(i), self.hash(j));
        }
        let b = self.hash(j);
        let start = i * self.variants * self.width;
        self.variant_words[start..start + self.variants * self.width]
            .chunks_exact(self.width)
            .map(|v| words_distance(v, b))
            .min()
            .unwrap_or(self.bits)
    }
}

fn pack(bytes: &[u8], width: usize, out: &mut Vec<u64>) {
    for w in 0..width {
        let mut word = [0u8; 8];
        for (k, b) in word.iter_mut().enumerate() {
            *b = bytes.get(w * 8 + k).copied().unwrap_or(0);
        }
        out.push(u64::from_be_bytes(word));
    }
}

#[inline]
fn words_distance(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// A pair of hashes by their positions, and its distance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Pair {
    /// The distance.
    pub distance: u32,
    /// The first hash's position.
    pub a: usize,
    /// The second hash's position.
    pub b: usize,
}

/// Pairs counted by distance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Count {
    /// Pairs counted.
    pub pairs: u64,
    /// `histogram[d]`: pairs at distance exactly d (length bits + 1).
    pub histogram: Vec<u64>,
    /// The closest pairs, nearest first (ties by position).
    pub closest: Vec<Pair>,
}

impl Count {
    fn new(bits: u32) -> Count {
        Count {
            pairs: 0,
            histogram: vec![0; bits as usize + 1],
            closest: Vec::new(),
        }
    }

    fn merge(mut self, other: Count, keep: usize) -> Count {
        self.pairs += other.pairs;
        for (a, b) in self.histogram.iter_mut().zip(&other.histogram) {
            *a += b;
        }
        self.closest.extend(other.closest);
        trim(&mut self.closest, keep);
        self
    }
}

fn trim(closest: &mut Vec<Pair>, keep: usize) {
    closest.sort_unstable();
    closest.truncate(keep);
}

/// The number of unordered pairs of `n` things.
pub fn pair_count(n: usize) -> u64 {
    let n = n as u64;
    n * n.saturating_sub(1) / 2
}

/// Every unordered pair (i < j) of `hashes`: the histogram of distances and
/// the `keep` closest pairs. `progress` is told the pairs done as rows
/// finish (it is called from rayon's threads).
pub fn all_pairs(hashes: &Packed, keep: usize, progress: &(dyn Fn(u64) + Sync)) -> Count {
    let n = hashes.len();
    let bits = hashes.bits;
    // Rows in blocks, so the progress callback and the per-row overhead are
    // paid once per block, not per row.
    let block = 64usize;
    let done = AtomicU64::new(0);
    (0..n.div_ceil(block))
        .into_par_iter()
        .fold(
            || Row::new(bits, keep),
            |mut acc, b| {
                let mut pairs = 0u64;
                for i in b * block..((b + 1) * block).min(n) {
                    pairs += acc.row(hashes, i);
                }
                progress(done.fetch_add(pairs, Ordering::Relaxed) + pairs);
                acc
            },
        )
        .map(Row::finish)
        .reduce(|| Count::new(bits), |a, b| a.merge(b, keep))
}

/// Per-thread state of [`all_pairs`]: four histograms used in turn (so
/// consecutive increments of the same bin do not wait on each other), and
/// the closest pairs with the distance a pair must beat to join them.
struct Row {
    hist: [Vec<u32>; 4],
    wide: Vec<u64>,
    closest: Vec<Pair>,
    keep: usize,
    worst: u32,
    pairs: u64,
    since_flush: u64,
    bits: u32,
}

impl Row {
    fn new(bits: u32, keep: usize) -> Row {
        let h = || vec![0u32; bits as usize + 1];
        Row {
            hist: [h(), h(), h(), h()],
            wide: vec![0; bits as usize + 1],
            closest: Vec::new(),
            keep,
            worst: if keep == 0 { 0 } else { u32::MAX },
            pairs: 0,
            since_flush: 0,
            bits,
        }
    }

    /// Hash i against every j > i; returns the pairs counted.
    fn row(&mut self, hashes: &Packed, i: usize) -> u64 {
        let n = hashes.len();
        let mut near: Vec<(u32, usize)> = Vec::new();
        let worst = self.worst;
        let keep = self.keep > 0;
        if hashes.variants == 0 && hashes.width == 4 {
            let a = hashes.hash(i);
            let (a0, a1, a2, a3) = (a[0], a[1], a[2], a[3]);
            let rest = &hashes.words[(i + 1) * 4..n * 4];
            let [h0, h1, h2, h3] = &mut self.hist;
            let mut chunks = rest.chunks_exact(16);
            let mut j = i + 1;
            for c in &mut chunks {
                let d = [
                    ((a0 ^ c[0]).count_ones()
                        + (a1 ^ c[1]).count_ones()
                        + (a2 ^ c[2]).count_ones()
                        + (a3 ^ c[3]).count_ones()),
                    ((a0 ^ c[4]).count_ones()
                        + (a1 ^ c[5]).count_ones()
                        + (a2 ^ c[6]).count_ones()
                        + (a3 ^ c[7]).count_ones()),
                    ((a0 ^ c[8]).count_ones()
                        + (a1 ^ c[9]).count_ones()
                        + (a2 ^ c[10]).count_ones()
                        + (a3 ^ c[11]).count_ones()),
                    ((a0 ^ c[12]).count_ones()
                        + (a1 ^ c[13]).count_ones()
                        + (a2 ^ c[14]).count_ones()
                        + (a3 ^ c[15]).count_ones()),
                ];
                h0[d[0] as usize] += 1;
                h1[d[1] as usize] += 1;
                h2[d[2] as usize] += 1;
                h3[d[3] as usize] += 1;
                if keep && d.iter().any(|&x| x <= worst) {
                    for (k, &x) in d.iter().enumerate() {
                        if x <= worst {
                            near.push((x, j + k));
                        }
                    }
                }
                j += 4;
            }
            for c in chunks.remainder().chunks_exact(4) {
                let x = (a0 ^ c[0]).count_ones()
                    + (a1 ^ c[1]).count_ones()
                    + (a2 ^ c[2]).count_ones()
                    + (a3 ^ c[3]).count_ones();
                h0[x as usize] += 1;
                if keep && x <= worst {
                    near.push((x, j));
                }
                j += 1;
            }
        } else if hashes.variants == 0 && hashes.width == 1 {
            let a = hashes.words[i];
            let [h0, h1, ..] = &mut self.hist;
            let rest = &hashes.words[i + 1..n];
            for (k, pair) in rest.chunks(2).enumerate() {
                let x = (a ^ pair[0]).count_ones();
                h0[x as usize] += 1;
                if keep && x <= worst {
                    near.push((x, i + 1 + 2 * k));
                }
                if let Some(&w) = pair.get(1) {
                    let y = (a ^ w).count_ones();
                    h1[y as usize] += 1;
                    if keep && y <= worst {
                        near.push((y, i + 2 + 2 * k));
                    }
                }
            }
        } else {
            for j in i + 1..n {
                let x = hashes.distance(i, j);
                self.hist[0][x as usize] += 1;
                if keep && x <= worst {
                    near.push((x, j));
                }
            }
        }
        let pairs = (n - i - 1) as u64;
        self.pairs += pairs;
        // Bins of u32 would overflow after 2^32 pairs: fold them into the
        // wide histogram well before.
        self.since_flush += pairs;
        if self.since_flush > 1 << 30 {
            self.flush();
        }
        if !near.is_empty() {
            self.closest.extend(
                near.into_iter()
                    .map(|(distance, b)| Pair { distance, a: i, b }),
            );
            if self.closest.len() >= 2 * self.keep.max(8) {
                trim(&mut self.closest, self.keep);
                if self.closest.len() == self.keep {
                    self.worst = self.closest[self.keep - 1].distance;
                }
            }
        }
        pairs
    }

    fn flush(&mut self) {
        self.since_flush = 0;
        for h in &mut self.hist {
            for (w, c) in self.wide.iter_mut().zip(h.iter_mut()) {
                *w += u64::from(*c);
                *c = 0;
            }
        }
    }

    fn finish(mut self) -> Count {
        self.flush();
        trim(&mut self.closest, self.keep);
        Count {
            pairs: self.pairs,
            histogram: std::mem::take(&mut self.wide),
            closest: self.closest,
        }
        .merge(Count::new(self.bits), self.keep)
    }
}

/// `samples` pairs (i ≠ j) drawn uniformly with replacement, seeded: the
/// histogram and the `keep` closest distinct pairs.
pub fn sampled_pairs(hashes: &Packed, samples: u64, seed: u64, keep: usize) -> Count {
    let n = hashes.len();
    let bits = hashes.bits;
    if n < 2 || samples == 0 {
        return Count::new(bits);
    }
    let chunk = 1u64 << 20;
    let mut count = (0..samples.div_ceil(chunk))
        .into_par_iter()
        .map(|c| {
            let mut rng = rng(seed, c);
            let mut out = Count::new(bits);
            let todo = chunk.min(samples - c * chunk);
            for _ in 0..todo {
                let i = (rng.next_u64() % n as u64) as usize;
                let mut j = (rng.next_u64() % (n as u64 - 1)) as usize;
                if j >= i {
                    j += 1;
                }
                let d = hashes.distance(i, j);
                out.histogram[d as usize] += 1;
                if keep > 0 {
                    out.closest.push(Pair {
                        distance: d,
                        a: i.min(j),
                        b: i.max(j),
                    });
                    if out.closest.len() >= 4 * keep.max(64) {
                        trim(&mut out.closest, keep.max(64));
                    }
                }
            }
            out.pairs = todo;
            trim(&mut out.closest, keep.max(64));
            out
        })
        .reduce(|| Count::new(bits), |a, b| a.merge(b, keep.max(64)));
    count.closest.dedup_by_key(|p| (p.a, p.b));
    count.closest.truncate(keep);
    count
}

/// Every pair (i < j) within `threshold` (for grouping near-duplicates).
pub fn pairs_within(hashes: &Packed, threshold: u32) -> Vec<Pair> {
    let n = hashes.len();
    let mut out: Vec<Pair> = (0..n)
        .into_par_iter()
        .flat_map_iter(|i| {
            (i + 1..n).filter_map(move |j| {
                let d = hashes.distance(i, j);
                (d <= threshold).then_some(Pair {
                    distance: d,
                    a: i,
                    b: j,
                })
            })
        })
        .collect();
    out.sort_unstable_by_key(|p| (p.a, p.b));
    out
}

fn rng(seed: u64, chunk: u64) -> ChaCha8Rng {
    let mut h = sha2::Sha256::new();
    h.update(b"cssim eval rates pairs v1\0");
    h.update(seed.to_le_bytes());
    h.update(chunk.to_le_bytes());
    ChaCha8Rng::from_seed(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_hashes(n: usize, bytes: usize, seed: u64) -> Vec<Vec<u8>> {
        let mut r = rng(seed, 99);
        (0..n)
            .map(|k| {
                // Some near-duplicates, so small distances occur.
                let mut v: Vec<u8> = (0..bytes).map(|_| r.next_u64() as u8).collect();
                if k % 7 == 3 {
                    v[0] = 0;
                    v[1..].fill(0x55);
                }
                v
            })
            .collect()
    }

    fn brute(hashes: &[Vec<u8>]) -> Vec<u64> {
        let bits = hashes[0].len() * 8;
        let mut h = vec![0u64; bits + 1];
        for i in 0..hashes.len() {
            for j in i + 1..hashes.len() {
                let d: u32 = hashes[i]
                    .iter()
                    .zip(&hashes[j])
                    .map(|(a, b)| (a ^ b).count_ones())
                    .sum();
                h[d as usize] += 1;
            }
        }
        h
    }

    #[test]
    fn all_pairs_histogram_equals_brute_force() {
        for (n, bytes) in [
            (0, 32),
            (1, 32),
            (2, 32),
            (67, 32),
            (300, 32),
            (131, 8),
            (50, 16),
        ] {
            let hashes = random_hashes(n.max(1), bytes, n as u64);
            let hashes = &hashes[..n];
            let packed = Packed::from_bytes(bytes as u32 * 8, hashes.iter().map(Vec::as_slice));
            let count = all_pairs(&packed, 5, &|_| {});
            assert_eq!(count.pairs, pair_count(n), "n = {n}");
            if n >= 2 {
                assert_eq!(count.histogram, brute(hashes), "n = {n}, {bytes} bytes");
                // The closest pairs are the five smallest distances.
                let mut all: Vec<Pair> = (0..n)
                    .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
                    .map(|(a, b)| Pair {
                        distance: packed.distance(a, b),
                        a,
                        b,
                    })
                    .collect();
                all.sort_unstable();
                all.truncate(5);
                assert_eq!(count.closest, all);
            }
        }
    }

    #[test]
    fn variants_take_the_smallest_distance() {
        let a = vec![0u8; 32];
        let b = vec![0xffu8; 32];
        let packed = Packed::from_bytes(256, [a.as_slice(), b.as_slice()])
            .with_variants(2, [a.as_slice(), b.as_slice(), b.as_slice(), a.as_slice()]);
        // a's variants are a and b: distance 0 to b.
        assert_eq!(packed.distance(0, 1), 0);
        let count = all_pairs(&packed, 1, &|_| {});
        assert_eq!(count.histogram[0], 1);
        assert_eq!(
            count.closest,
            vec![Pair {
                distance: 0,
                a: 0,
                b: 1
            }]
        );
    }

    #[test]
    fn sampled_pairs_are_seeded_and_counted() {
        let hashes = random_hashes(40, 32, 1);
        let packed = Packed::from_bytes(256, hashes.iter().map(Vec::as_slice));
        let a = sampled_pairs(&packed, 5000, 7, 3);
        let b = sampled_pairs(&packed, 5000, 7, 3);
        assert_eq!(a, b);
        assert_eq!(a.pairs, 5000);
        assert_eq!(a.histogram.iter().sum::<u64>(), 5000);
        assert_ne!(a, sampled_pairs(&packed, 5000, 8, 3));
        let within = pairs_within(&packed, 0);
        // Every 7th hash from 3 on is the same: 6 of them, 15 pairs.
        assert_eq!(within.len(), 15);
    }
}
