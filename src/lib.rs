//! cssim: a client-side scanning (CSS) simulation toolkit.
//!
//! Client-side scanning checks a message on the sender's own device, against a
//! list of hashes of known illegal material, *before* the message is encrypted
//! end to end. cssim builds that pipeline from real parts so that its costs and
//! failure modes can be measured instead of argued:
//!
//! - [`hash`]: image decoding with limits, Meta's PDQ (bit-exact with the
//!   reference), the classic aHash/dHash/pHash, exact and text hashes;
//! - [`message`]: messages and their wire form;
//! - [`scan`]: the scanning policy and the scanner's verdict;
//! - [`e2ee`], [`franking`], [`relay`], [`client`], [`moderation`]: the
//!   messaging path (see `docs/SECURITY.md` for what it defends against);
//! - [`eval`]: image edits for measuring robustness and evasion;
//! - [`report`]: results as typed data ([`hash::Record`], [`hash::Comparison`],
//!   [`hashset::Check`], [`hashset::Info`], [`report::Queue`], …) and the one
//!   layer that renders them as a terminal table, JSON or CSV.
//!
//! ```no_run
//! use std::path::Path;
//! use cssim::hash::{self, Algorithm, HashConfig};
//!
//! # fn main() -> Result<(), cssim::hash::Error> {
//! let config = HashConfig::default();
//! let d = hash::digest_file(Path::new("photo.jpg"), &[Algorithm::Pdq, Algorithm::Sha256], &config)?;
//! println!("pdq {} quality {:?}", d.digests[0], d.pdq_quality);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod atomic;
pub mod client;
pub mod clock;
pub mod demo;
pub mod e2ee;
pub mod eval;
pub mod franking;
pub mod hash;
pub mod hashset;
pub mod message;
pub mod moderation;
pub mod relay;
pub mod report;
pub mod scan;
pub mod workspace;
