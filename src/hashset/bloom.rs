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
//! The filters come from the `bloomfilter` crate. Its two SipHash keys (32
//! bytes) derive from the manifest's `u64` seed and the algorithm name by
//! SHA-256 ([`sip_keys`]), so a build is reproducible from its manifest.
//! Items are hashed as their raw digest bytes ([`BloomKey`]) rather than
//! through `Hash for [u8]`, whose length prefix is a `usize` and would make
//! the filter depend on the platform's pointer width.
//!
//! Section layout (little-endian): `u8` algorithm count, then per algorithm
//! `u8` code, `u16` digest bytes, `u64` length, and the filter's own
//! serialisation (`Bloom::as_slice`: version, bitmap length, `k`, keys, bits).

use std::hash::{Hash, Hasher};

use bloomfilter::Bloom;
use sha2::Digest as _;

use super::format::{Reader, algorithm_code, algorithm_from_code};
use super::{Error, Result};
use crate::hash::Algorithm;

/// Probes one lookup may make; beyond this a radius is refused.
pub const MAX_PROBES: u64 = 5_000_000;
/// Header bytes of `bloomfilter`'s serialisation (version, length, k, keys).
const FILTER_HEADER: usize = 1 + 8 + 4 + 32;
/// More hash functions than any sane false-positive rate needs (1e-12 needs 40).
const MAX_HASHES: u32 = 64;

/// A digest as a Bloom item: hashed as its bytes, nothing else.
#[derive(Clone, Debug)]
pub struct BloomKey(pub Vec<u8>);

impl Hash for BloomKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.0);
    }
}

/// The 32 bytes of SipHash keys for `algorithm`'s filter under `seed`.
pub fn sip_keys(seed: u64, algorithm: Algorithm) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    h.update(b"cssim hashset bloom keys v1\0");
    h.update(algorithm.name().as_bytes());
    h.update([0]);
    h.update(seed.to_le_bytes());
    h.finalize().into()
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

/// One algorithm's filter.
#[derive(Clone, Debug)]
pub struct Filter {
    algorithm: Algorithm,
    width: usize,
    bloom: Bloom<BloomKey>,
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
        let mut bloom = Bloom::new_for_fp_rate_with_seed(n, fpr, &sip_keys(seed, algorithm))
            .map_err(|e| Error::InvalidOption {
                option: "fpr",
                value: fpr.to_string(),
                reason: e.to_string(),
            })?;
        for d in digests {
            bloom.set(&BloomKey(d.to_vec()));
        }
        Ok(Filter::from_bloom(algorithm, width, bloom))
    }

    fn from_bloom(algorithm: Algorithm, width: usize, bloom: Bloom<BloomKey>) -> Filter {
        let bits = &bloom.as_slice()[FILTER_HEADER..];
        let set: u64 = bits.iter().map(|b| u64::from(b.count_ones())).sum();
        let fill = set as f64 / bloom.len() as f64;
        let estimated_fpr = fill.powi(bloom.number_of_hash_functions() as i32);
        Filter {
            algorithm,
            width,
            bloom,
            estimated_fpr,
        }
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
        self.bloom.len()
    }

    /// Hash functions per item.
    pub fn hashes(&self) -> u32 {
        self.bloom.number_of_hash_functions()
    }

    /// The filter's SipHash keys.
    pub fn keys(&self) -> [u8; 32] {
        self.bloom.seed()
    }

    /// The false-positive rate of one probe, from the filter's fill.
    pub fn estimated_fpr(&self) -> f64 {
        self.estimated_fpr
    }

    /// Bytes of memory the filter uses.
    pub fn memory_bytes(&self) -> usize {
        self.bloom.as_slice().len()
    }

    /// Whether exactly `digest` may be in the set.
    pub fn contains(&self, digest: &[u8]) -> bool {
        self.bloom.check(&BloomKey(digest.to_vec()))
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
        let mut key = BloomKey(query.to_vec());
        let mut hits = Vec::new();
        if self.bloom.check(&key) {
            hits.push(0);
        }
        self.flip(&mut key, 0, bits, radius.min(bits), 1, &mut hits);
        Ok((probes, hits))
    }

    /// Flips each bit from `from` on, probes, and recurses for more flips.
    fn flip(
        &self,
        key: &mut BloomKey,
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
            key.0[byte] ^= mask;
            if self.bloom.check(key) {
                hits.push(depth);
            }
            self.flip(key, b + 1, bits, left - 1, depth + 1, hits);
            key.0[byte] ^= mask;
        }
    }

    /// Serialises filters as the bloom section.
    pub fn encode_section(filters: &[Filter]) -> Vec<u8> {
        let mut out = vec![filters.len() as u8];
        for f in filters {
            let raw = f.bloom.as_slice();
            out.push(algorithm_code(f.algorithm));
            out.extend_from_slice(&(f.width as u16).to_le_bytes());
            out.extend_from_slice(&(raw.len() as u64).to_le_bytes());
            out.extend_from_slice(raw);
        }
        out
    }

    /// Parses the bloom section, refusing filters the `bloomfilter` crate
    /// would divide by zero on or loop over for too long.
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
            let raw = r.take(len, "filter")?;
            if raw.len() <= FILTER_HEADER || width == 0 {
                return Err(r.error(format!("{algorithm} filter is empty")));
            }
            let bloom = Bloom::<BloomKey>::from_slice(raw)
                .map_err(|e| r.error(format!("{algorithm} filter: {e}")))?;
            if bloom.number_of_hash_functions() > MAX_HASHES {
                return Err(r.error(format!(
                    "{algorithm} filter uses {} hash functions (at most {MAX_HASHES})",
                    bloom.number_of_hash_functions()
                )));
            }
            filters.push(Filter::from_bloom(algorithm, width, bloom));
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
    fn filter_round_trips_and_probes_near_digests() {
        let a = [0x11u8; 8];
        let f = Filter::build(Algorithm::Dhash, 8, [&a[..]].into_iter(), 1, 1e-6, 9).unwrap();
        assert_eq!(f.keys(), sip_keys(9, Algorithm::Dhash));
        let back = Filter::decode_section(&Filter::encode_section(&[f])).unwrap();
        let mut q = a;
        q[3] ^= 0b0100_0001;
        let (probes, hits) = back[0].probe(&q, 2).unwrap();
        assert_eq!(probes, 2_081);
        assert!(hits.contains(&2));
        let (_, hits) = back[0].probe(&q, 1).unwrap();
        assert!(!hits.contains(&2));
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
