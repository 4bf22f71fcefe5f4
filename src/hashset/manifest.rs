//! The manifest: the signed, human-readable description of a hash set.
//!
//! It is JSON so that `cssim hashset info --json` and any auditor can read it
//! without cssim. Field order is fixed by the struct definitions and floats
//! are printed in their shortest round-trip form, so the same manifest always
//! serialises to the same bytes — part of what makes builds reproducible.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Error, Result};
use crate::hash::{Algorithm, Threshold};

/// A way the entries are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Representation {
    /// Every entry with its label: auditable, exact answers.
    List,
    /// A Bloom filter: entries cannot be read back; answers may be false positives.
    Bloom,
}

impl Representation {
    /// The lowercase name used on the command line and in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Representation::List => "list",
            Representation::Bloom => "bloom",
        }
    }
}

impl fmt::Display for Representation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl std::str::FromStr for Representation {
    type Err = Error;

    fn from_str(s: &str) -> Result<Representation> {
        match s.trim().to_ascii_lowercase().as_str() {
            "list" => Ok(Representation::List),
            "bloom" => Ok(Representation::Bloom),
            _ => Err(Error::InvalidOption {
                option: "representation",
                value: s.to_string(),
                reason: "is not one of list, bloom".into(),
            }),
        }
    }
}

/// Who signed the set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issuer {
    /// The issuer's name, from its key file.
    pub name: String,
    /// The fingerprint of its public key (see [`super::sign::fingerprint`]).
    pub fingerprint: String,
}

/// One algorithm's entries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlgorithmInfo {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The size of every entry, in bits.
    pub bits: u32,
    /// The threshold the issuer recommends (0 for exact algorithms).
    pub default_threshold: Threshold,
    /// The number of distinct entries.
    pub entries: u64,
    /// The Bloom filter's parameters, when the set has a Bloom representation.
    pub bloom: Option<BloomInfo>,
}

/// One algorithm's Bloom filter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BloomInfo {
    /// Bits in the filter.
    pub bits: u64,
    /// Hash functions (`k`).
    pub hashes: u32,
    /// The false-positive rate of one probe, estimated from the filter's fill:
    /// (set bits / bits)^k.
    pub estimated_fpr: f64,
}

/// Bloom parameters shared by every algorithm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BloomParams {
    /// The false-positive rate per probe the filters were sized for.
    pub target_fpr: f64,
    /// The seed the filters' hash keys derive from (see [`super::bloom::sip_key`]).
    pub seed: u64,
}

/// The manifest of a hash set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// A short name (`demo`, `acme-2025-06`).
    pub name: String,
    /// The issuer's revision number for this set.
    pub version: u32,
    /// Who signed it.
    pub issuer: Issuer,
    /// When it was built, RFC 3339, as given by the builder (for reproducibility).
    pub created: String,
    /// Free text: what is in the set and where it came from.
    pub description: String,
    /// The representations present, in file order.
    pub representations: Vec<Representation>,
    /// The algorithms, in [`Algorithm::ALL`] order.
    pub algorithms: Vec<AlgorithmInfo>,
    /// Bloom parameters, when the set has a Bloom representation.
    pub bloom: Option<BloomParams>,
}

impl Manifest {
    /// The entry for `algorithm`, if the set has it.
    pub fn algorithm(&self, algorithm: Algorithm) -> Option<&AlgorithmInfo> {
        self.algorithms.iter().find(|a| a.algorithm == algorithm)
    }

    /// Total entries over all algorithms.
    pub fn total_entries(&self) -> u64 {
        self.algorithms.iter().map(|a| a.entries).sum()
    }

    /// Whether the set carries `r`.
    pub fn has(&self, r: Representation) -> bool {
        self.representations.contains(&r)
    }
}

/// Checks that `s` is an RFC 3339 date-time (`2025-06-01T12:00:00Z`,
/// fractional seconds and `±hh:mm` offsets allowed). The check is syntactic
/// plus ranges; the value is stored as given.
pub fn check_rfc3339(s: &str) -> Result<()> {
    let bad = || Error::InvalidOption {
        option: "created",
        value: s.chars().take(40).collect(),
        reason: "is not an RFC 3339 date-time like 2025-06-01T12:00:00Z".into(),
    };
    let b = s.as_bytes();
    if b.len() < 20 {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let seps = b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't')
        && b[13] == b':'
        && b[16] == b':';
    let (Some(_y), Some(mo), Some(d), Some(h), Some(mi), Some(sec)) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    ) else {
        return Err(bad());
    };
    if !seps || !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        rest = &frac[digits..];
    }
    let ok = match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())
                && (*h1 - b'0') * 10 + (*h2 - b'0') <= 23
                && (*m1 - b'0') * 10 + (*m2 - b'0') <= 59
        }
        _ => false,
    };
    if ok { Ok(()) } else { Err(bad()) }
}

/// The current time as RFC 3339 in UTC, whole seconds (`2025-06-01T12:00:00Z`).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339_from_unix(secs)
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC.
pub fn rfc3339_from_unix(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_accepts_and_refuses() {
        for ok in [
            "2025-06-01T12:00:00Z",
            "2025-06-01t12:00:00.123z",
            "2025-06-01T12:00:00+02:00",
        ] {
            assert!(check_rfc3339(ok).is_ok(), "{ok}");
        }
        for bad in [
            "2025-06-01",
            "2025-13-01T12:00:00Z",
            "2025-06-01T12:00:00",
            "2025-06-01T12:00:00+2:00",
            "yesterday at noon, roughly",
        ] {
            let e = check_rfc3339(bad).unwrap_err().to_string();
            assert!(e.starts_with("created: '"), "{e}");
        }
    }

    #[test]
    fn unix_time_formats_as_civil_date() {
        assert_eq!(rfc3339_from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_from_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_from_unix(1_748_779_200), "2025-06-01T12:00:00Z");
        assert!(check_rfc3339(&now_rfc3339()).is_ok());
    }
}
