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
//! - [`scan`]: the scanning policy and the scanner's verdict.
//!
//! ```no_run
//! use cssim::hash::{self, Algorithm};
//! # fn main() -> Result<(), cssim::hash::Error> {
//! let bytes = std::fs::read("photo.jpg").unwrap();
//! let image = hash::decode::decode(&bytes, &hash::decode::Limits::default())?;
//! let pdq = hash::pdq::hash_image(&image);
//! println!("{} quality {}", pdq.hash, pdq.quality);
//! # let _ = Algorithm::Pdq;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod hash;
pub mod message;
pub mod scan;
