//! The counts a replicate keeps for each day (and in total): one fixed
//! array of integers, so that adding chunks, days and shards is exact and
//! independent of order, and a named field in JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! metrics {
    ($($name:ident = $text:literal: $doc:literal,)*) => {
        /// Index of each count in [`Counts`].
        #[allow(non_camel_case_types, missing_docs)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(usize)]
        pub enum M { $($name,)* }

        /// The counts' names, in order (as in JSON and the CSV header).
        pub const NAMES: &[&str] = &[$($text,)*];

        /// What each count is, in order (for `docs/SCENARIOS.md` and reports).
        pub const DOCS: &[&str] = &[$($doc,)*];
    };
}

metrics! {
    Messages = "messages": "messages sent",
    Images = "images": "image messages scanned",
    Links = "links": "link messages",
    Files = "files": "file messages",
    OffenderItems = "offender_items": "listed items offenders shared",
    TrueMatches = "true_matches": "offender items that matched on the device",
    Evaded = "evaded": "offender items that did not match",
    FalseMatches = "false_matches": "benign images that matched (innocent users' and offenders' benign images)",
    CollisionImages = "collision_images": "crafted collision images forwarded",
    CollisionMatches = "collision_matches": "crafted collision images that matched",
    PoisonImages = "poison_images": "copies of the poisoned entries' target image shared",
    PoisonMatches = "poison_matches": "copies of the target image that matched (scope creep)",
    Blocked = "blocked": "messages blocked by the policy (on_match = block)",
    Warned = "warned": "messages warned about (on_match = warn)",
    Held = "held": "matches held on devices below the account threshold (at the end of the day)",
    ReleasedTrue = "released_true": "reports released of true matches",
    ReleasedFalse = "released_false": "reports released of false matches",
    ReleasedCollision = "released_collision": "reports released of collision images",
    ReleasedPoison = "released_poison": "reports released of poisoned-entry matches",
    ServerPassed = "server_passed": "released reports that passed the server's second hash",
    Reviewed = "reviewed": "reports a human reviewed",
    ReviewedInnocent = "reviewed_innocent": "innocent images a human saw (false, collision, poisoned)",
    ConfirmedTrue = "confirmed_true": "true matches confirmed by review",
    ConfirmedInnocent = "confirmed_innocent": "innocent images wrongly confirmed by review",
    CollisionReviewed = "collision_reviewed": "collision images a moderator reviewed (× minutes per item: the time they consumed)",
    Backlog = "backlog": "reports waiting for review at the end of the day",
    InnocentReported = "innocent_reported": "innocent users with a released report for the first time",
    ScopeFlagged = "scope_flagged": "innocent users reported for the first time because of a poisoned entry",
    OffendersDetected = "offenders_detected": "offenders with a first confirmed report",
    DetectionDays = "detection_days": "sum over offenders detected of days to detection (day 0 = 1 day)",
    ActionedOffenders = "actioned_offenders": "offenders whose account was actioned",
    ActionedInnocent = "actioned_innocent": "innocent users whose account was actioned",
    AppealsReversed = "appeals_reversed": "wrongful actions reversed on appeal",
}

/// The number of counts.
pub const N: usize = NAMES.len();

/// One day's (or a total's) counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts(pub [u64; N]);

impl Default for Counts {
    fn default() -> Counts {
        Counts([0; N])
    }
}

impl Counts {
    /// The count at `m`.
    #[inline]
    pub fn get(&self, m: M) -> u64 {
        self.0[m as usize]
    }

    /// Adds `v` to the count at `m`.
    #[inline]
    pub fn add(&mut self, m: M, v: u64) {
        self.0[m as usize] += v;
    }

    /// Sets the count at `m`.
    #[inline]
    pub fn set(&mut self, m: M, v: u64) {
        self.0[m as usize] = v;
    }

    /// Adds every count of `other` (except the backlog and held, which are
    /// levels, not flows: the later value wins when days are summed).
    pub fn accumulate(&mut self, other: &Counts) {
        for i in 0..N {
            if i == M::Backlog as usize || i == M::Held as usize {
                self.0[i] = other.0[i];
            } else {
                self.0[i] += other.0[i];
            }
        }
    }

    /// Adds every count of `other` as is (chunks of one day).
    pub fn add_all(&mut self, other: &Counts) {
        for i in 0..N {
            self.0[i] += other.0[i];
        }
    }
}

impl Serialize for Counts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(N))?;
        for (name, v) in NAMES.iter().zip(self.0.iter()) {
            m.serialize_entry(name, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Counts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Counts, D::Error> {
        let map = BTreeMap::<String, u64>::deserialize(d)?;
        let mut c = Counts::default();
        for (i, name) in NAMES.iter().enumerate() {
            c.0[i] = *map
                .get(*name)
                .ok_or_else(|| serde::de::Error::custom(format!("missing count `{name}`")))?;
        }
        if map.len() != N {
            return Err(serde::de::Error::custom("unknown counts"));
        }
        Ok(c)
    }
}
