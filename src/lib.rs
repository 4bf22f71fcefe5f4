//! cssim: a client-side scanning (CSS) simulation toolkit.
//!
//! Client-side scanning checks a message on the sender's own device, against a
//! list of hashes of known illegal material, *before* the message is encrypted
//! end to end. cssim builds that pipeline from real parts so that its costs and
//! failure modes can be measured instead of argued:
//!
//! - [`hash`]: image decoding with limits, Meta's PDQ (bit-exact with the
//!   reference), the classic aHash/dHash/pHash, exact and text hashes;
//! - [`hashset`]: signed hash-set files (lists with a multi-index, Bloom
//!   filters), their issuer keys, builder, interchange formats and version pins;
//! - [`message`]: messages and their wire form;
//! - [`scan`]: the scanning policy and the scanner's verdict;
//! - [`e2ee`], [`franking`], [`relay`], [`client`], [`moderation`]: the
//!   messaging path (see `docs/SECURITY.md` for what it defends against);
//! - [`workspace`]: the folder a simulation lives in (`cssim init`), and
//!   [`demo`], the narrated scenario run in one, and [`web`], the same
//!   pipeline as a live page for presenters (`cssim demo --serve`);
//! - [`eval`]: image edits and measurements of robustness, evasion and
//!   Bloom false-positive rates; [`attack`]: white-box evasion and collision
//!   attacks on PDQ and pHash; [`sim`]: the scenario simulator (populations,
//!   policies, offenders and adversaries at platform scale);
//! - [`keys`]: fingerprints and the one key-file grammar; [`files`]: atomic
//!   writes, the secret-file permission rule, I/O error reasons; [`clock`]:
//!   Unix and RFC 3339 times.
//! - [`report`]: results as typed data ([`hash::Record`], [`hash::Comparison`],
//!   [`hashset::Check`], [`hashset::Info`], [`report::Queue`], …) and the one
//!   layer that renders them as a terminal table, JSON, CSV or HTML with
//!   inline SVG charts.
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

pub mod attack;
pub mod client;
pub mod clock;
pub mod demo;
pub mod e2ee;
pub mod eval;
pub mod files;
pub mod franking;
pub mod hash;
pub mod hashset;
mod hex_serde;
pub mod keys;
pub mod message;
pub mod moderation;
pub mod relay;
pub mod report;
pub mod scan;
pub mod sim;
pub mod web;
pub mod workspace;

/// Internals the criterion benchmarks (`benches/`) time directly; not part
/// of the API, and free to change.
#[doc(hidden)]
pub mod bench_support {
    pub use crate::hash::jpeg::read as jpeg_dc_image;
    pub use crate::hashset::bloom::probe_count;
    pub use crate::hashset::brute::matches as brute_force_matches;
    pub use crate::hashset::list::pack_into;
    pub use crate::hashset::mih::Index;
}
