//! Hashing: turning files, images and text into [`Digest`]s.
//!
//! - [`decode`]: bytes → RGB pixels, under limits;
//! - [`pdq`]: Meta's PDQ, bit-exact with the reference;
//! - [`classic`]: aHash, dHash, pHash;
//! - [`exact`]: SHA-256 and MD5 of bytes;
//! - [`text`]: normalised text and URL hashes.
//!
//! [`digest_bytes`] and [`digest_file`] run any set of algorithms over one
//! input, decoding the image once. Nothing here knows about hash sets,
//! messages or I/O beyond reading bytes.

pub mod classic;
pub mod decode;
pub mod digest;
pub mod exact;
pub mod pdq;
pub mod text;

use std::path::{Path, PathBuf};

pub use digest::{
    Algorithm, Digest, DigestParseError, Distance, Threshold, UnknownAlgorithm, hamming,
};

/// What can go wrong hashing a file. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("{}: {}", path.display(), describe_io_error(source))]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file's contents could not be hashed.
    #[error("{}: {source}", path.display())]
    Content {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ContentError,
    },
}

impl Error {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Error::Read { path, .. } | Error::Content { path, .. } => path,
        }
    }
}

/// Why a file's bytes could not be hashed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContentError {
    /// The image could not be decoded.
    #[error(transparent)]
    Decode(#[from] decode::DecodeError),
    /// The text algorithm was asked for, but the bytes are not UTF-8.
    #[error("not UTF-8 text (invalid byte at offset {0})")]
    NotText(usize),
}

/// A short, lower-case reason for an I/O error ("no such file", "permission
/// denied"), without the OS error number.
pub fn describe_io_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "is a directory".into(),
        _ => e.to_string(),
    }
}

/// How files are hashed: decoding limits and the classic hash size.
#[derive(Debug)]
pub struct HashConfig {
    /// Decoding limits (and whether EXIF orientation is applied).
    pub limits: decode::Limits,
    hashers: classic::Hashers,
}

impl HashConfig {
    /// A configuration with these limits and `classic_size × classic_size`-bit
    /// classic hashes.
    pub fn new(limits: decode::Limits, classic_size: u32) -> HashConfig {
        HashConfig {
            limits,
            hashers: classic::Hashers::new(classic_size),
        }
    }

    /// The classic hashers.
    pub fn classic(&self) -> &classic::Hashers {
        &self.hashers
    }
}

impl Default for HashConfig {
    fn default() -> HashConfig {
        HashConfig::new(decode::Limits::default(), classic::DEFAULT_SIZE)
    }
}

/// Everything computed for one input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDigests {
    /// One digest per requested algorithm, in the order requested.
    pub digests: Vec<Digest>,
    /// PDQ's quality, when PDQ was computed.
    pub pdq_quality: Option<pdq::Quality>,
    /// Width and height after EXIF orientation, when the image was decoded.
    pub dimensions: Option<(u32, u32)>,
}

impl FileDigests {
    /// The digest for `algorithm`, if it was computed.
    pub fn get(&self, algorithm: Algorithm) -> Option<&Digest> {
        self.digests.iter().find(|d| d.algorithm() == algorithm)
    }
}

/// Runs `algorithms` over `bytes`, decoding the image at most once.
pub fn digest_bytes(
    bytes: &[u8],
    algorithms: &[Algorithm],
    config: &HashConfig,
) -> Result<FileDigests, ContentError> {
    let image = if algorithms.iter().any(|a| a.needs_pixels()) {
        Some(decode::decode(bytes, &config.limits)?)
    } else {
        None
    };
    let mut out = FileDigests {
        digests: Vec::with_capacity(algorithms.len()),
        pdq_quality: None,
        dimensions: image.as_ref().map(|i| i.dimensions()),
    };
    for &algorithm in algorithms {
        let digest = match (algorithm, &image) {
            (Algorithm::Pdq, Some(img)) => {
                let p = pdq::hash_image(img);
                out.pdq_quality = Some(p.quality);
                p.hash.to_digest()
            }
            (Algorithm::Phash | Algorithm::Dhash | Algorithm::Ahash, Some(img)) => config
                .hashers
                .hash(img, algorithm)
                .expect("classic algorithm"),
            (Algorithm::Sha256, _) => exact::sha256(bytes),
            (Algorithm::Md5, _) => exact::md5(bytes),
            (Algorithm::Text, _) => {
                let s = std::str::from_utf8(bytes)
                    .map_err(|e| ContentError::NotText(e.valid_up_to()))?;
                text::hash(s)
            }
            (_, None) => unreachable!("perceptual algorithms always decode first"),
        };
        out.digests.push(digest);
    }
    Ok(out)
}

/// Reads `path` and runs `algorithms` over it; errors name the file.
pub fn digest_file(
    path: &Path,
    algorithms: &[Algorithm],
    config: &HashConfig,
) -> Result<FileDigests, Error> {
    let read_err = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.is_dir() {
        return Err(read_err(std::io::Error::from(
            std::io::ErrorKind::IsADirectory,
        )));
    }
    if meta.len() > config.limits.max_file_bytes {
        return Err(Error::Content {
            path: path.to_path_buf(),
            source: ContentError::Decode(decode::DecodeError::TooLarge {
                what: format!("{} bytes", meta.len()),
                limit: format!("{} bytes", config.limits.max_file_bytes),
            }),
        });
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    digest_bytes(&bytes, algorithms, config).map_err(|source| Error::Content {
        path: path.to_path_buf(),
        source,
    })
}
