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
    /// For aHash, dHash and pHash, which computation the entries come from:
    /// [`crate::hash::classic::VARIANT`] (`imagehash-4.3`, Python imagehash's
    /// values and hex). Absent for other algorithms, and in sets built before
    /// variants were recorded, whose classic entries are `img_hash`'s values:
    /// [`super::SignedSet::from_bytes`] refuses those.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
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
    /// The seed the filters' hash keys derive from (see `bloom::sip_key`).
    pub seed: u64,
}

/// How the issuer turned images into hashes: a client must hash the same
/// way, or a listed image never matches (a photo stored sideways hashes
/// differently upright). The classic hashes' size is not here: it is each
/// algorithm's `bits` (a side of `√bits`).
///
/// Absent from the manifest when it is the default (EXIF rotation on, JPEG
/// DC route off: [`HashConfig::default`](crate::hash::HashConfig)), so sets
/// built with the default options keep the bytes they had before this was
/// recorded. (A set from before the JPEG DC route became opt-in holds
/// `img_hash` values for its classic hashes and is refused for that; for
/// PDQ and exact hashes the route never mattered.) Unknown fields are refused: a set recording
/// a way of hashing this build does not know is not silently hashed another
/// way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hashing {
    /// The EXIF orientation tag was applied before hashing.
    pub exif_rotate: bool,
    /// The classic hashes of large JPEGs came from their DC coefficients.
    pub jpeg_dc: bool,
    /// Where PDQ's pixels came from; absent when `exact` (the default), so
    /// sets built before the fast route existed keep their bytes.
    #[serde(default, skip_serializing_if = "is_exact")]
    pub pdq_route: crate::hash::PdqRoute,
}

fn is_exact(route: &crate::hash::PdqRoute) -> bool {
    *route == crate::hash::PdqRoute::Exact
}

impl Default for Hashing {
    fn default() -> Hashing {
        Hashing::of(&crate::hash::HashConfig::default())
    }
}

impl Hashing {
    /// Whether this is how `cssim` hashes by default.
    pub fn is_default(&self) -> bool {
        *self == Hashing::default()
    }

    /// The hashing options of `config`.
    pub fn of(config: &crate::hash::HashConfig) -> Hashing {
        Hashing {
            exif_rotate: config.limits.exif_rotate,
            jpeg_dc: config.jpeg_dc,
            pdq_route: config.pdq_route,
        }
    }

    /// The configuration that hashes as recorded ([`Hashing::of`] turned
    /// back): `limits` with the recorded EXIF rotation, the classic hashes
    /// at `classic_size`, the recorded JPEG DC route and PDQ route.
    pub fn config(
        &self,
        limits: crate::hash::decode::Limits,
        classic_size: u32,
    ) -> crate::hash::HashConfig {
        let limits = crate::hash::decode::Limits {
            exif_rotate: self.exif_rotate,
            ..limits
        };
        let mut config = crate::hash::HashConfig::new(limits, classic_size);
        config.jpeg_dc = self.jpeg_dc;
        config.pdq_route = self.pdq_route;
        config
    }
}

impl fmt::Display for Hashing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on = |b: bool| if b { "on" } else { "off" };
        write!(
            f,
            "EXIF rotation {}, JPEG DC route {}",
            on(self.exif_rotate),
            on(self.jpeg_dc)
        )?;
        if self.pdq_route != crate::hash::PdqRoute::Exact {
            write!(f, ", PDQ route {}", self.pdq_route)?;
        }
        Ok(())
    }
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
    /// When it stops being valid, RFC 3339, later than `created`; clients
    /// refuse the set from this instant on ([`super::SignedSet::open`]).
    ///
    /// `None` means the set never expires. Files written before expiries
    /// existed have no such field and read as `None`; a set without an
    /// expiry is still accepted, and `cssim hashset info` says "no expiry".
    /// Absent rather than `null` in the JSON, so a set built without an
    /// expiry has the same bytes as before the field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Free text: what is in the set and where it came from.
    pub description: String,
    /// The representations present, in file order.
    pub representations: Vec<Representation>,
    /// The algorithms, in [`Algorithm::ALL`] order.
    pub algorithms: Vec<AlgorithmInfo>,
    /// Bloom parameters, when the set has a Bloom representation.
    pub bloom: Option<BloomParams>,
    /// How images were hashed (see [`Hashing`]); absent means the default.
    #[serde(default, skip_serializing_if = "Hashing::is_default")]
    pub hashing: Hashing,
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

    /// Whether the set has expired at `now_unix` (seconds since the Unix
    /// epoch): `now` is at or past `expires`. A set without an expiry never
    /// expires. Errors if `expires` is not an RFC 3339 time.
    pub fn is_expired_at(&self, now_unix: u64) -> Result<bool> {
        match &self.expires {
            None => Ok(false),
            Some(e) => Ok(i128::from(now_unix) >= i128::from(parse_rfc3339("expires", e)?)),
        }
    }
}

/// Checks that `expires` is an RFC 3339 time strictly after `created` (both
/// as [`parse_rfc3339`] reads them; `created` is assumed valid and is not
/// re-checked as an option). Errors name the option `expires`.
pub fn check_expiry(created: &str, expires: &str) -> Result<()> {
    let until = parse_rfc3339("expires", expires)?;
    let from = parse_rfc3339("created", created)?;
    if until <= from {
        return Err(Error::InvalidOption {
            option: "expires",
            value: expires.chars().take(40).collect(),
            reason: format!("is not after the creation time {created}"),
        });
    }
    Ok(())
}

/// Checks that `s` is an RFC 3339 date-time (`2025-06-01T12:00:00Z`,
/// fractional seconds and `±hh:mm` offsets allowed). The check is syntactic
/// plus ranges; the value is stored as given. Errors name the option `created`.
pub fn check_rfc3339(s: &str) -> Result<()> {
    parse_rfc3339("created", s).map(drop)
}

/// Reads an RFC 3339 date-time as whole seconds since the Unix epoch (UTC;
/// fractional seconds are dropped, a leap second `:60` counts as the next
/// second). The day must exist in its month (`2025-02-29` is refused).
/// Errors are [`Error::InvalidOption`] naming `option`.
pub fn parse_rfc3339(option: &'static str, s: &str) -> Result<i64> {
    let bad = || Error::InvalidOption {
        option,
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
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(sec)) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    ) else {
        return Err(bad());
    };
    if !seps
        || !(1..=12).contains(&mo)
        || d == 0
        || d > days_in_month(y, mo)
        || h > 23
        || mi > 59
        || sec > 60
    {
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
    let offset = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2]
            if [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) =>
        {
            let oh = i64::from((*h1 - b'0') * 10 + (*h2 - b'0'));
            let om = i64::from((*m1 - b'0') * 10 + (*m2 - b'0'));
            if oh > 23 || om > 59 {
                return Err(bad());
            }
            let minutes = oh * 60 + om;
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return Err(bad()),
    };
    let local = days_from_civil(i64::from(y), i64::from(mo), i64::from(d)) * 86_400
        + i64::from(h) * 3600
        + i64::from(mi) * 60
        + i64::from(sec);
    // 12:00+02:00 is 10:00Z.
    Ok(local - offset * 60)
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// days-from-civil, the inverse of the formula in [`rfc3339_from_unix`]).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub use crate::clock::{now_rfc3339, now_unix, rfc3339_from_unix};

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

    #[test]
    fn rfc3339_reads_as_unix_seconds() {
        for (s, secs) in [
            ("1970-01-01T00:00:00Z", 0),
            ("2000-02-29T00:00:00Z", 951_782_400),
            ("2025-06-01T12:00:00Z", 1_748_779_200),
            ("2025-06-01T14:00:00+02:00", 1_748_779_200),
            ("2025-06-01T11:30:00.999-00:30", 1_748_779_200),
            ("2036-01-01T00:00:00Z", 2_082_758_400),
            ("1969-12-31T23:59:59Z", -1),
        ] {
            assert_eq!(parse_rfc3339("expires", s).unwrap(), secs, "{s}");
        }
        for secs in [0u64, 951_782_400, 1_748_779_200, 4_102_444_800] {
            let back = parse_rfc3339("t", &rfc3339_from_unix(secs)).unwrap();
            assert_eq!(back, secs as i64);
        }
        for bad in [
            "2025-02-29T00:00:00Z",
            "2025-04-31T00:00:00Z",
            "2025-06-01T12:00:00+24:00",
        ] {
            assert_eq!(
                parse_rfc3339("expires", bad).unwrap_err().to_string(),
                format!("expires: '{bad}' is not an RFC 3339 date-time like 2025-06-01T12:00:00Z")
            );
        }
    }

    #[test]
    fn an_expiry_must_follow_the_creation_time() {
        assert!(check_expiry("2025-06-01T00:00:00Z", "2025-06-01T00:00:01Z").is_ok());
        // Same instant in another offset: not after.
        assert_eq!(
            check_expiry("2025-06-01T00:00:00Z", "2025-06-01T02:00:00+02:00")
                .unwrap_err()
                .to_string(),
            "expires: '2025-06-01T02:00:00+02:00' is not after the creation time 2025-06-01T00:00:00Z"
        );
        assert!(check_expiry("2025-06-01T00:00:00Z", "soon").is_err());
    }
}
