//! The digest types every hash algorithm produces, and the distance between them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A hash algorithm cssim knows.
///
/// Perceptual algorithms (PDQ, pHash, dHash, aHash) compare by Hamming
/// distance; exact ones (SHA-256, MD5, normalised text) by equality.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// Meta's PDQ: 256 bits, from a 64×64 tent-filtered downsample and a 16×16 DCT.
    Pdq,
    /// DCT-based perceptual hash (imagehash's `phash`), 64 bits by default.
    Phash,
    /// Gradient (difference) hash, 64 bits by default.
    Dhash,
    /// Mean (average) hash, 64 bits by default.
    Ahash,
    /// SHA-256 of the file's bytes.
    Sha256,
    /// MD5 of the file's bytes (interchange with older lists only; not collision resistant).
    Md5,
    /// SHA-256 of normalised text (see [`crate::hash::text`]).
    Text,
}

impl Algorithm {
    /// Every algorithm, in the order tables list them.
    pub const ALL: [Algorithm; 7] = [
        Algorithm::Pdq,
        Algorithm::Phash,
        Algorithm::Dhash,
        Algorithm::Ahash,
        Algorithm::Sha256,
        Algorithm::Md5,
        Algorithm::Text,
    ];

    /// The lowercase name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Pdq => "pdq",
            Algorithm::Phash => "phash",
            Algorithm::Dhash => "dhash",
            Algorithm::Ahash => "ahash",
            Algorithm::Sha256 => "sha256",
            Algorithm::Md5 => "md5",
            Algorithm::Text => "text",
        }
    }

    /// Whether digests compare by Hamming distance rather than equality.
    pub fn is_perceptual(self) -> bool {
        self == Algorithm::Pdq || self.is_classic()
    }

    /// Whether this is one of the classic hashes (aHash, dHash, pHash), made
    /// from a grey image by [`crate::hash::classic`], equal to Python imagehash's.
    pub fn is_classic(self) -> bool {
        matches!(self, Algorithm::Phash | Algorithm::Dhash | Algorithm::Ahash)
    }

    /// Whether the algorithm reads image pixels (as opposed to raw bytes or text).
    pub fn needs_pixels(self) -> bool {
        self.is_perceptual()
    }

    /// The match threshold used when nothing else is configured: the largest
    /// Hamming distance that still counts as a match (0 for exact algorithms).
    ///
    /// PDQ's 31 is Meta's recommendation; 10 of 64 bits for the classic hashes
    /// is the conventional choice in the `imagehash` literature.
    pub fn default_threshold(self) -> Threshold {
        match self {
            Algorithm::Pdq => Threshold(crate::hash::pdq::MATCH_THRESHOLD),
            Algorithm::Phash | Algorithm::Dhash | Algorithm::Ahash => {
                Threshold(crate::hash::classic::MATCH_THRESHOLD)
            }
            Algorithm::Sha256 | Algorithm::Md5 | Algorithm::Text => Threshold(0),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// The error for an algorithm name that cssim does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown algorithm '{0}' (expected one of pdq, phash, dhash, ahash, sha256, md5, text)")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownAlgorithm(s.to_string()))
    }
}

/// A Hamming distance in bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Distance(pub u32);

impl fmt::Display for Distance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The largest Hamming distance that counts as a match (inclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Threshold(pub u32);

impl Threshold {
    /// Whether `d` is a match under this threshold.
    pub fn admits(self, d: Distance) -> bool {
        d.0 <= self.0
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A digest: the algorithm that made it and its bytes.
///
/// Bytes are in the order their hex form is written, most significant first,
/// so `hex::encode(bytes)` is the interchange form (for PDQ, Meta's
/// 64-hex-character form used by ThreatExchange and HMA).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Digest {
    algorithm: Algorithm,
    #[serde(with = "crate::hex_serde")]
    bytes: Vec<u8>,
}

impl Digest {
    /// A digest from its algorithm and bytes.
    pub fn new(algorithm: Algorithm, bytes: Vec<u8>) -> Digest {
        Digest { algorithm, bytes }
    }

    /// Parses the hex form, checking the length the algorithm expects
    /// (`bits` is the hash size for the classic perceptual hashes; ignored otherwise).
    pub fn from_hex(algorithm: Algorithm, hex_str: &str) -> Result<Digest, DigestParseError> {
        let s = hex_str.trim();
        let bytes = hex::decode(s).map_err(|e| DigestParseError::NotHex {
            value: truncate_for_error(s),
            reason: match e {
                hex::FromHexError::OddLength => format!("odd number of hex digits ({})", s.len()),
                hex::FromHexError::InvalidHexCharacter { c, index } => {
                    format!("'{c}' at position {} is not a hex digit", index + 1)
                }
                other => other.to_string(),
            },
        })?;
        let ok = match algorithm {
            Algorithm::Pdq | Algorithm::Sha256 | Algorithm::Text => bytes.len() == 32,
            Algorithm::Md5 => bytes.len() == 16,
            Algorithm::Phash | Algorithm::Dhash | Algorithm::Ahash => !bytes.is_empty(),
        };
        if !ok {
            return Err(DigestParseError::WrongLength {
                algorithm,
                got: s.len(),
            });
        }
        Ok(Digest { algorithm, bytes })
    }

    /// The algorithm that produced this digest.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The digest's bytes, most significant first.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The number of bits.
    pub fn bits(&self) -> u32 {
        self.bytes.len() as u32 * 8
    }

    /// The lowercase hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.bytes)
    }

    /// Hamming distance to `other`, or `None` if the two are of different
    /// algorithms or sizes and so cannot be compared.
    pub fn distance(&self, other: &Digest) -> Option<Distance> {
        if self.algorithm != other.algorithm || self.bytes.len() != other.bytes.len() {
            return None;
        }
        Some(hamming(&self.bytes, &other.bytes))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.to_hex())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.to_hex())
    }
}

/// Why a hex digest could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestParseError {
    /// The text is not hexadecimal.
    #[error("'{value}' is not a hex digest: {reason}")]
    NotHex {
        /// The offending text (shortened).
        value: String,
        /// What the hex decoder said.
        reason: String,
    },
    /// The text has the wrong number of hex digits for the algorithm.
    #[error("a {algorithm} digest cannot have {got} hex digits")]
    WrongLength {
        /// The algorithm expected.
        algorithm: Algorithm,
        /// The number of hex digits found.
        got: usize,
    },
}

fn truncate_for_error(s: &str) -> String {
    if s.chars().count() > 72 {
        format!("{}…", s.chars().take(72).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Hamming distance between two equally long byte strings.
///
/// # Panics
/// Never; if the lengths differ only the common prefix is compared.
pub fn hamming(a: &[u8], b: &[u8]) -> Distance {
    let mut d = 0u32;
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        let x = u64::from_be_bytes(x.try_into().expect("chunk of 8"));
        let y = u64::from_be_bytes(y.try_into().expect("chunk of 8"));
        d += (x ^ y).count_ones();
    }
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        d += (x ^ y).count_ones();
    }
    Distance(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hamming_counts_bits_across_chunk_boundaries() {
        let a = [0u8; 9];
        let mut b = [0u8; 9];
        b[0] = 0b1010_0000;
        b[8] = 0xff;
        assert_eq!(hamming(&a, &b), Distance(10));
        assert_eq!(hamming(&b, &a), Distance(10));
    }

    #[test]
    fn distance_refuses_mixed_algorithms() {
        let a = Digest::new(Algorithm::Phash, vec![0; 8]);
        let b = Digest::new(Algorithm::Dhash, vec![0; 8]);
        assert_eq!(a.distance(&b), None);
        assert_eq!(a.distance(&a), Some(Distance(0)));
    }

    #[test]
    fn from_hex_checks_length_and_digits() {
        assert!(Digest::from_hex(Algorithm::Md5, &"ab".repeat(16)).is_ok());
        let e = Digest::from_hex(Algorithm::Md5, "abcd").unwrap_err();
        assert_eq!(e.to_string(), "a md5 digest cannot have 4 hex digits");
        assert!(Digest::from_hex(Algorithm::Pdq, &"zz".repeat(32)).is_err());
    }

    #[test]
    fn algorithm_names_round_trip() {
        for a in Algorithm::ALL {
            assert_eq!(a.name().parse::<Algorithm>().unwrap(), a);
        }
        assert!("sha1".parse::<Algorithm>().is_err());
    }
}
