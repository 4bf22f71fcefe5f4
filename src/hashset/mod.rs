//! Hash sets: the signed list a client scans against.
//!
//! A hash set is the part of client-side scanning people trust least — who
//! put what in it, can the client enumerate it, how exact is a match — so the
//! file says all of that in a signed manifest and offers two forms:
//!
//! - **`list`** (`list`): every entry with its label (category, source),
//!   auditable and exact. Perceptual lookups go through a multi-index hashing
//!   index (`mih`) whose answers equal brute force (`brute`) exactly.
//! - **`bloom`** (`bloom`): a Bloom filter per algorithm, sized for a target
//!   false-positive rate. Entries cannot be read back, so a perceptual query
//!   is answered by probing every hash within a small radius `r` of it; each
//!   answer carries the number of probes and the compounded false-positive
//!   rate `1 - (1 - p)^probes`.
//!
//! A file may carry both. `format` is the byte layout and its checks,
//! [`sign`] the issuer keys, [`Builder`] makes files, [`SignedSet`] reads and
//! matches, [`interchange`] converts the plain list formats other tools use.
//!
//! A set carries a version and may carry an expiry, both signed:
//! [`SignedSet::open`] refuses an expired set, and [`VersionPins`] remembers the
//! highest version accepted per issuer and name so that a client refuses a
//! rollback to an older signed set.
//!
//! ```no_run
//! use cssim::hash::{Algorithm, Digest, Threshold};
//! use cssim::hashset::{Builder, SignedSet, Label, sign};
//!
//! # fn main() -> Result<(), cssim::hashset::Error> {
//! let secret = sign::SecretKey::generate("Demo issuer")?;
//! let mut builder = Builder::new("demo", "Demo issuer");
//! builder.created("2025-01-01T00:00:00Z").seed(7);
//! builder.add(Digest::new(Algorithm::Pdq, vec![0xab; 32]), Some(Label::new("demo")));
//! let (bytes, _summary) = builder.build(secret.signing_key())?;
//!
//! let set = SignedSet::from_bytes(&bytes, &secret.public().key)?;
//! let query = Digest::new(Algorithm::Pdq, vec![0xab; 32]);
//! let found = set.lookup(&query, Threshold(31))?;
//! assert_eq!(found.matches.len(), 1);
//! # Ok(()) }
//! ```

pub(crate) mod bloom;
pub(crate) mod brute;
mod builder;
mod check;
mod error;
pub(crate) mod format;
mod info;
pub mod interchange;
pub(crate) mod list;
mod lookup;
pub mod manifest;
pub(crate) mod mih;
pub mod pins;
pub mod sign;

#[cfg(test)]
mod expiry_tests;
#[cfg(test)]
mod file_tests;
#[cfg(test)]
mod match_tests;

pub use builder::{AlgorithmSummary, BuildSummary, Builder, DEFAULT_FPR};
pub use check::{Check, CheckedLookup};
pub use error::Error;
pub use format::{Inspection, SectionKind, inspect};
pub use info::Info;
pub use list::Label;
pub use lookup::{BloomAnswer, Lookup, MatchedEntry, MemoryUsage, SignedSet};
pub use manifest::{Manifest, Representation};
pub use pins::VersionPins;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
