//! The `bloom` representation: one Bloom filter per algorithm.
//!
//! A Bloom filter answers "is this exact digest in the set?" with no false
//! negatives and a false-positive rate `p` chosen at build time, and the
//! entries cannot be read back out of it. For a perceptual query that is not
//! enough: a near duplicate differs in a few bits. So a lookup at radius `r`
//! **probes every digest within Hamming distance `r`** of the query —
//! Σ_{i ≤ r} C(bits, i) probes (1, 257, 32,897 for PDQ at r = 0, 1, 2) — and
//! each probe is a fresh chance of a false positive: the chance that at
//! least one of `probes` probes is a false positive is
//! `1 - (1 - p)^probes`. Every answer reports both numbers.
//!
//! # Probing
//!
//! An item's `k` bit positions are `k` independent keyed hashes:
//!
//! ```text
//! position_i(d) = ⌊ SipHash-1-3_key(i ‖ d) · m / 2⁶⁴ ⌋      i = 0 … k−1
//! ```
//!
//! with `i` one byte, `d` the digest's bytes and `m` the filter's bits. The
//! 16-byte key derives from the manifest's `u64` seed and the algorithm name
//! by SHA-256 ([`sip_key`]), so a build is reproducible from its manifest.
//! Because the positions of a non-member are independent and uniform, the
//! chance that all `k` are set is exactly `fill^k`, the rate per probe the
//! filter states ([`Filter::estimated_fpr`]) — whatever the filter's size.
//!
//! Format 1 used the `bloomfilter` crate, whose positions are
//! `(h0 + i·h1 mod 2⁶⁴) mod m` with `m` a multiple of 8. Modulo 8 that is
//! exactly `h0 + i·h1`, so for one item in eight (`h1 ≡ 0 mod 8`) all `k`
//! positions fall in one eighth of the filter, one in eight uses a quarter,
//! one in four a half. In a small filter (88 bits, k = 20 for three entries)
//! such an item fills its eighth, and about one query in 64 whose own
//! positions land there is admitted however low `fill^k` is (issue 9; the
//! figures measured before the fix are in `docs/BLOOM.md`). Format 1
//! sections are refused with a message to rebuild the set.
//!
//! # Section layout
//!
//! Little-endian: `u8` algorithm count, then per algorithm `u8` code, `u16`
//! digest bytes, `u64` length, and the filter: `u8` format (= 2), `u64` bits
//! `m`, `u32` hashes `k`, the 16-byte key, and ⌈m/8⌉ bytes of bits (bit `j`
//! is bit `j mod 8`, least significant first, of byte `j / 8`; unused high
//! bits of the last byte are zero).

use std::hash::Hasher;

use sha2::Digest as _;
use siphasher::sip::SipHasher13;

use super::format::{Reader, algorithm_code, algorithm_from_code};
use super::{Error, Result};
use crate::hash::Algorithm;

/// Probes one lookup may make; beyond this a radius is refused.
pub const MAX_PROBES: u64 = 5_000_000;
/// The filter format this build writes and reads.
pub const FORMAT: u8 = 2;
/// Header bytes of a filter: format, bits, hashes, key.
const FILTER_HEADER: usize = 1 + 8 + 4 + 16;
/// More hash functions than any sane false-positive rate needs (1e-12 needs 40).
const MAX_HASHES: u32 = 64;

/// The 16-byte SipHash key of `algorithm`'s filter under `seed`.
pub fn sip_key(seed: u64, algorithm: Algorithm) -> [u8; 16] {
    let mut h = sha2::Sha256::new();
    h.update(b"cssim hashset bloom key v2\0");
    h.update(algorithm.name().as_bytes());
    h.update([0]);
    h.update(seed.to_le_bytes());
    let full: [u8; 32] = h.finalize().into();
    let mut key = [0u8; 16];
    key.copy_from_slice(&full[..16]);
    key
}

/// The number of digests within Hamming distance `radius` of a `bits`-bit
/// digest (saturating).
pub fn probe_count(bits: u32, radius: u32) -> u64 {
    let mut total = 0u64;
    let mut c = 1u128;
    for i in 0..=radius.min(bits) {
        total = total.saturating_add(u64::try_from(c).unwrap_or(u64::MAX));
        c = c.saturating_mul(u128::from(bits - i)) / u128::from(i + 1);
    }
    total
}

/// `1 - (1 - p)^probes`, computed without cancellation for tiny `p`.
pub fn compounded_fpr(p: f64, probes: u64) -> f64 {
    if p >= 1.0 {
        return 1.0;
    }
    -f64::exp_m1(probes as f64 * f64::ln_1p(-p))
}

/// Bits `m` and hashes `k` for `n` items at rate `p`: the textbook optimum
/// m = ⌈n·ln(1/p) / ln²2⌉, k = round(m/n · ln 2), at least 1 each.
pub fn dimensions(n: usize, p: f64) -> (u64, u32) {
    let ln2 = std::f64::consts::LN_2;
    let m = ((n as f64) * (1.0 / p).ln() / (ln2 * ln2)).ceil().max(1.0) as u64;
    let k = ((m as f64 / n as f64) * ln2)
        .round()
        .clamp(1.0, f64::from(MAX_HASHES)) as u32;
    (m, k)
}

/// One algorithm's filter.
#[derive(Clone, Debug)]
pub struct Filter {
    algorithm: Algorithm,
    width: usize,
    bits: u64,
    hashes: u32,
    key: [u8; 16],
    sip: SipHasher13,
    bitmap: Vec<u8>,
    estimated_fpr: f64,
}

impl Filter {
    /// A filter holding `digests` (all `width` bytes), sized for `n` items at
    /// false-positive rate `fpr` (checked by the builder to be in (0, 1)).
    pub fn build<'a>(
        algorithm: Algorithm,
        width: usize,
        digests: impl Iterator<Item = &'a [u8]>,
        n: usize,
        fpr: f64,
        seed: u64,
    ) -> Result<Filter> {
        if n == 0 {
            return Err(Error::Empty);
        }
        if !(fpr > 0.0 && fpr < 1.0) {
            return Err(Error::InvalidOption {
                option: "fpr",
                value: fpr.to_string(),
                reason: "is not between 0 and 1".into(),
            });
        }
        let (bits, hashes) = dimensions(n, fpr);
        let bitmap = vec![0u8; bits.div_ceil(8) as usize];
        let mut f = Filter::new(
            algorithm,
            width,
            bits,
            hashes,
            sip_key(seed, algorithm),
            bitmap,
        );
        for d in digests {
            for i in 0..hashes {
                let j = f.position(i, d);
                f.bitmap[(j / 8) as usize] |= 1 << (j % 8);
            }
        }
        f.estimated_fpr = f.fill_fpr();
        Ok(f)
    }

    fn new(
        algorithm: Algorithm,
        width: usize,
        bits: u64,
        hashes: u32,
        key: [u8; 16],
        bitmap: Vec<u8>,
    ) -> Filter {
        let mut f = Filter {
            algorithm,
            width,
            bits,
            hashes,
            key,
            sip: SipHasher13::new_with_key(&key),
            bitmap,
            estimated_fpr: 0.0,
        };
        f.estimated_fpr = f.fill_fpr();
        f
    }

    /// fill^k: the exact chance that a non-member's k independent uniform
    /// positions are all set.
    fn fill_fpr(&self) -> f64 {
        let set: u64 = self.bitmap.iter().map(|b| u64::from(b.count_ones())).sum();
        (set as f64 / self.bits as f64).powi(self.hashes as i32)
    }

    /// The `i`-th bit position of `digest`.
    fn position(&self, i: u32, digest: &[u8]) -> u64 {
        let mut h = self.sip;
        h.write(&[i as u8]);
        h.write(digest);
        ((u128::from(h.finish()) * u128::from(self.bits)) >> 64) as u64
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Bytes per digest.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Bits in the filter.
    pub fn bits(&self) -> u64 {
        self.bits
    }

    /// Hash functions per item.
    pub fn hashes(&self) -> u32 {
        self.hashes
    }

    /// The filter's SipHash key.
    pub fn key(&self) -> [u8; 16] {
        self.key
    }

    /// The false-positive rate of one probe, from the filter's fill:
    /// (set bits / bits)^k, exact for this probe scheme.
    pub fn estimated_fpr(&self) -> f64 {
        self.estimated_fpr
    }

    /// Bytes of memory the filter uses.
    pub fn memory_bytes(&self) -> usize {
        FILTER_HEADER + self.bitmap.len()
    }

    /// Whether exactly `digest` may be in the set.
    pub fn contains(&self, digest: &[u8]) -> bool {
        (0..self.hashes).all(|i| {
            let j = self.position(i, digest);
            self.bitmap[(j / 8) as usize] & (1 << (j % 8)) != 0
        })
    }

    /// Probes every digest within `radius` of `query`; returns the number of
    /// probes and the distance of each probe the filter admitted.
    pub fn probe(&self, query: &[u8], radius: u32) -> Result<(u64, Vec<u32>)> {
        let bits = (query.len() * 8) as u32;
        let probes = probe_count(bits, radius);
        if probes > MAX_PROBES {
            return Err(Error::RadiusTooLarge {
                radius,
                bits,
                probes,
                limit: MAX_PROBES,
            });
        }
        let mut key = query.to_vec();
        let mut hits = Vec::new();
        if self.contains(&key) {
            hits.push(0);
        }
        self.flip(&mut key, 0, bits, radius.min(bits), 1, &mut hits);
        Ok((probes, hits))
    }

    /// Flips each bit from `from` on, probes, and recurses for more flips.
    fn flip(
        &self,
        key: &mut [u8],
        from: u32,
        bits: u32,
        left: u32,
        depth: u32,
        hits: &mut Vec<u32>,
    ) {
        if left == 0 {
            return;
        }
        for b in from..bits {
            let (byte, mask) = ((b / 8) as usize, 0x80u8 >> (b % 8));
            key[byte] ^= mask;
            if self.contains(key) {
                hits.push(depth);
            }
            self.flip(key, b + 1, bits, left - 1, depth + 1, hits);
            key[byte] ^= mask;
        }
    }

    /// Serialises filters as the bloom section.
    pub fn encode_section(filters: &[Filter]) -> Vec<u8> {
        let mut out = vec![filters.len() as u8];
        for f in filters {
            out.push(algorithm_code(f.algorithm));
            out.extend_from_slice(&(f.width as u16).to_le_bytes());
            out.extend_from_slice(&((FILTER_HEADER + f.bitmap.len()) as u64).to_le_bytes());
            out.push(FORMAT);
            out.extend_from_slice(&f.bits.to_le_bytes());
            out.extend_from_slice(&f.hashes.to_le_bytes());
            out.extend_from_slice(&f.key);
            out.extend_from_slice(&f.bitmap);
        }
        out
    }

    /// Parses the bloom section, refusing format 1 filters (see the module
    /// documentation) and any filter whose sizes do not add up.
    pub fn decode_section(bytes: &[u8]) -> Result<Vec<Filter>> {
        let mut r = Reader::new(bytes, "bloom");
        let count = r.u8("algorithm count")?;
        let mut filters: Vec<Filter> = Vec::new();
        for _ in 0..count {
            let code = r.u8("algorithm code")?;
            let algorithm = algorithm_from_code(code)
                .ok_or_else(|| r.error(format!("unknown algorithm code {code}")))?;
            if filters.iter().any(|f| f.algorithm == algorithm) {
                return Err(r.error(format!("{algorithm} appears twice")));
            }
            let width = r.u16("digest size")? as usize;
            let len = r.u64("filter length")?;
            let mut f = Reader::new(r.take(len, "filter")?, "bloom");
            let format = f.u8("filter format")?;
            if format == 1 {
                return Err(r.error(format!(
                    "{algorithm} filter is in format 1, whose double hashing makes \
                     false positives far more frequent than the rate it states; \
                     this cssim reads format {FORMAT}: rebuild the set with \
                     `cssim hashset build`"
                )));
            }
            if format != FORMAT {
                return Err(r.error(format!(
                    "{algorithm} filter is in format {format}; this cssim reads format {FORMAT}"
                )));
            }
            let bits = f.u64("filter bits")?;
            let hashes = f.u32("hash count")?;
            let mut key = [0u8; 16];
            key.copy_from_slice(f.take(16, "filter key")?);
            if width == 0 || bits == 0 {
                return Err(r.error(format!("{algorithm} filter is empty")));
            }
            if hashes == 0 || hashes > MAX_HASHES {
                return Err(r.error(format!(
                    "{algorithm} filter uses {hashes} hash functions (1 to {MAX_HASHES})"
                )));
            }
            let bitmap = f.take(bits.div_ceil(8), "filter bits")?.to_vec();
            f.finish()?;
            if bits % 8 != 0 && bitmap[bitmap.len() - 1] >> (bits % 8) != 0 {
                return Err(r.error(format!("{algorithm} filter sets bits past its length")));
            }
            filters.push(Filter::new(algorithm, width, bits, hashes, key, bitmap));
        }
        r.finish()?;
        Ok(filters)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_counts_and_compounding() {
        assert_eq!(probe_count(256, 0), 1);
        assert_eq!(probe_count(256, 1), 257);
        assert_eq!(probe_count(256, 2), 32_897);
        assert_eq!(probe_count(64, 2), 2_081);
        assert_eq!(probe_count(8, 20), 256);
        let p = 1e-6;
        let c = compounded_fpr(p, 257);
        assert!((c - (1.0 - (1.0 - p).powi(257))).abs() < 1e-12);
        assert_eq!(compounded_fpr(p, 0), 0.0);
    }

    #[test]
    fn dimensions_are_the_textbook_optimum() {
        assert_eq!(dimensions(3, 1e-6), (87, 20));
        assert_eq!(dimensions(1, 1e-6), (29, 20));
        assert_eq!(dimensions(1_000_000, 1e-2), (9_585_059, 7));
        assert_eq!(dimensions(1, 0.5), (2, 1));
    }

    #[test]
    fn filter_round_trips_and_probes_near_digests() {
        let a = [0x11u8; 8];
        let f = Filter::build(Algorithm::Dhash, 8, [&a[..]].into_iter(), 1, 1e-6, 9).unwrap();
        assert_eq!(f.key(), sip_key(9, Algorithm::Dhash));
        let section = Filter::encode_section(std::slice::from_ref(&f));
        let back = Filter::decode_section(&section).unwrap();
        assert_eq!(back[0].bitmap, f.bitmap);
        assert_eq!(back[0].estimated_fpr(), f.estimated_fpr());
        assert_eq!(Filter::encode_section(&back), section);
        let mut q = a;
        q[3] ^= 0b0100_0001;
        let (probes, hits) = back[0].probe(&q, 2).unwrap();
        assert_eq!(probes, 2_081);
        assert!(hits.contains(&2));
        let (_, hits) = back[0].probe(&q, 1).unwrap();
        assert!(!hits.contains(&2));
    }

    #[test]
    fn the_k_positions_of_an_item_spread_over_the_filter() {
        // Format 1's positions of one item, taken mod 8, were h0 + i·h1: for
        // one item in eight all k fell in the same residue class. Here an
        // item's residues are as varied as independent draws.
        let f = Filter::build(Algorithm::Pdq, 32, std::iter::empty(), 1000, 1e-6, 0).unwrap();
        let mut single_class = 0;
        for n in 0u32..4000 {
            let mut d = [0u8; 32];
            d[..4].copy_from_slice(&n.to_le_bytes());
            let first = f.position(0, &d) % 8;
            if (1..f.hashes()).all(|i| f.position(i, &d) % 8 == first) {
                single_class += 1;
            }
        }
        assert_eq!(single_class, 0);
    }

    #[test]
    fn format_1_sections_are_refused_with_a_reason() {
        let a = [0u8; 32];
        let f = Filter::build(Algorithm::Pdq, 32, [&a[..]].into_iter(), 1, 1e-3, 0).unwrap();
        let mut section = Filter::encode_section(&[f]);
        section[1 + 1 + 2 + 8] = 1;
        let e = Filter::decode_section(&section).unwrap_err().to_string();
        assert!(
            e.starts_with("section bloom: pdq filter is in format 1"),
            "{e}"
        );
        assert!(e.contains("rebuild the set"), "{e}");
        section[1 + 1 + 2 + 8] = 3;
        let e = Filter::decode_section(&section).unwrap_err().to_string();
        assert!(e.contains("format 3; this cssim reads format 2"), "{e}");
    }

    #[test]
    fn malformed_filters_are_refused() {
        let a = [0u8; 32];
        let f = Filter::build(Algorithm::Pdq, 32, [&a[..]].into_iter(), 1, 1e-3, 0).unwrap();
        let good = Filter::encode_section(&[f]);
        let at = 1 + 1 + 2 + 8 + 1;
        let mut zero_k = good.clone();
        zero_k[at + 8..at + 12].copy_from_slice(&0u32.to_le_bytes());
        let e = Filter::decode_section(&zero_k).unwrap_err().to_string();
        assert!(e.contains("0 hash functions"), "{e}");
        let mut long = good.clone();
        long[at..at + 8].copy_from_slice(&1_000u64.to_le_bytes());
        let e = Filter::decode_section(&long).unwrap_err().to_string();
        assert!(e.contains("filter bits needs 125 bytes"), "{e}");
    }

    #[test]
    fn oversized_radius_is_refused() {
        let a = [0u8; 32];
        let f = Filter::build(Algorithm::Pdq, 32, [&a[..]].into_iter(), 1, 1e-3, 0).unwrap();
        let e = f.probe(&a, 4).unwrap_err().to_string();
        assert!(
            e.starts_with("bloom radius 4 on 256-bit hashes needs"),
            "{e}"
        );
    }
}
