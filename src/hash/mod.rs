//! Hashing: turning files, images and text into [`Digest`]s.
//!
//! - [`decode`]: bytes → RGB pixels, under limits;
//! - `jpeg`: a JPEG's DC image (block means), read without a full decode;
//! - `thumbnail`: grey images made from a JPEG's DC coefficients;
//! - [`pdq`]: Meta's PDQ, bit-exact with the reference;
//! - `pillow`: Pillow's grey conversion and Lanczos resampling, exactly;
//! - [`classic`]: aHash, dHash, pHash, equal to Python `imagehash` 4.3's;
//! - [`exact`]: SHA-256 and MD5 of bytes;
//! - [`text`]: normalised text and URL hashes.
//!
//! [`decode_for`] decodes an input once for a set of algorithms: the full
//! pixels where PDQ needs them, and the classic hashes' grey image (Pillow's
//! `convert("L")` of the decoded pixels; or, opted into with
//! [`HashConfig::jpeg_dc`], a large JPEG's DC coefficients alone — several
//! times faster, an approximation of imagehash's values). [`digest_bytes`] and
//! [`digest_file`] run any set of algorithms over one input on top of it.
//! Nothing here knows about hash sets, messages or I/O beyond reading bytes.

pub mod classic;
mod compare;
pub mod decode;
pub mod digest;
pub mod exact;
pub(crate) mod jpeg;
pub mod pdq;
pub(crate) mod pillow;
mod record;
pub mod text;
pub(crate) mod thumbnail;

use std::path::{Path, PathBuf};

use image::{GrayImage, RgbImage};
use serde::{Deserialize, Serialize};

pub use compare::{AlgorithmComparison, Comparison, Measure, Side, compare};
pub use digest::{
    Algorithm, Digest, DigestParseError, Distance, Threshold, UnknownAlgorithm, hamming,
};
pub use record::Record;

/// What can go wrong hashing a file. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("{}: {}", path.display(), crate::files::describe_io_error(source))]
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

/// How files are hashed: decoding limits, the classic hash size, and where
/// the classic hashes' grey image of a JPEG comes from.
#[derive(Debug)]
pub struct HashConfig {
    /// Decoding limits (and whether EXIF orientation is applied).
    pub limits: decode::Limits,
    /// Make the classic hashes' grey image of a large enough JPEG (shorter
    /// side at least 64 × the grid's side) from its DC coefficients instead
    /// of its decoded pixels (default off): several times faster on photos,
    /// but an approximation — the hashes are no longer imagehash's, usually
    /// a few bits off (figures in `docs/PERFORMANCE.md`). PDQ always decodes
    /// fully, as the reference does.
    pub jpeg_dc: bool,
    /// Where PDQ's pixels come from (default [`PdqRoute::Exact`]).
    pub pdq_route: PdqRoute,
    /// Which implementation of PDQ's arithmetic runs (the same bits either
    /// way; the scalar one is kept to check and measure the vectorised one).
    pub pdq_kernel: pdq::Kernel,
    hashers: classic::Hashers,
}

/// Where PDQ's pixels come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PdqRoute {
    /// The fully decoded image: Meta's PDQ, bit for bit.
    #[default]
    Exact,
    /// For a JPEG at least [`PDQ_FAST_MIN_SIDE`] px on its shorter side, the
    /// 1/8-scale luma image its DC coefficients hold (most of a progressive
    /// file is never decoded); for a baseline JPEG of at least
    /// [`PDQ_FAST_HALF_MIN_SIDE`] px, a 1/2-scale luma image by a reduced
    /// inverse DCT of each block's lowest coefficients, spread back over the
    /// full pixel grid; other images decode fully. Not bit-exact:
    /// the agreement with the exact route is measured in
    /// `docs/PERFORMANCE.md`. Results say when it was taken
    /// ([`FileDigests::pdq_route`]).
    Fast,
}

/// The shorter side from which [`PdqRoute::Fast`] reads a JPEG's DC image:
/// 64 blocks, so the DC image still fills PDQ's 64×64 grid. Smaller baseline
/// JPEGs, down to [`PDQ_FAST_HALF_MIN_SIDE`], are read at 1/2 scale.
pub const PDQ_FAST_MIN_SIDE: u32 = 512;

/// The shorter side from which [`PdqRoute::Fast`] reads a **baseline** JPEG
/// under [`PDQ_FAST_MIN_SIDE`] at 1/2 scale: 4 × 4 samples a block, the
/// 4-point inverse DCT of its 4 × 4 lowest coefficients (no full inverse
/// DCT, chroma, upsampling or colour conversion). Each sample is then
/// spread over the 2 × 2 pixels it stands for, so PDQ sees the exact
/// route's image size and keeps its filter windows and sampling positions:
/// hashed at its own reduced size, the image's PDQ moved 22 bits (median)
/// from the exact one on the corpus photos, spread back 2
/// (`docs/PERFORMANCE.md`). A progressive JPEG under [`PDQ_FAST_MIN_SIDE`],
/// and any JPEG under this, decodes fully: a progressive file's low
/// coefficients get their last bits in refinement scans of all 63 AC bands.
pub const PDQ_FAST_HALF_MIN_SIDE: u32 = 128;

/// The scale [`PdqRoute::Fast`] reads a JPEG at, by its shorter side.
fn pdq_fast_scale(shorter_side: u32) -> Option<jpeg::Scale> {
    match shorter_side {
        s if s >= PDQ_FAST_MIN_SIDE => Some(jpeg::Scale::Eighth),
        s if s >= PDQ_FAST_HALF_MIN_SIDE => Some(jpeg::Scale::Half),
        _ => None,
    }
}

impl PdqRoute {
    /// The route's name, as `--pdq-route` and `policy.toml` spell it.
    pub fn name(self) -> &'static str {
        match self {
            PdqRoute::Exact => "exact",
            PdqRoute::Fast => "fast",
        }
    }
}

impl std::fmt::Display for PdqRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A PDQ route name that is neither `exact` nor `fast`.
#[derive(Debug, thiserror::Error)]
#[error("unknown PDQ route '{0}' (expected exact or fast)")]
pub struct UnknownPdqRoute(pub String);

impl std::str::FromStr for PdqRoute {
    type Err = UnknownPdqRoute;
    fn from_str(s: &str) -> Result<PdqRoute, UnknownPdqRoute> {
        match s.trim() {
            "exact" => Ok(PdqRoute::Exact),
            "fast" => Ok(PdqRoute::Fast),
            other => Err(UnknownPdqRoute(other.to_string())),
        }
    }
}

impl HashConfig {
    /// A configuration with these limits and `classic_size × classic_size`-bit
    /// classic hashes.
    pub fn new(limits: decode::Limits, classic_size: u32) -> HashConfig {
        HashConfig {
            limits,
            jpeg_dc: false,
            pdq_route: PdqRoute::Exact,
            pdq_kernel: pdq::Kernel::default(),
            hashers: classic::Hashers::new(classic_size),
        }
    }
}

impl HashConfig {
    /// The side of the classic hashes' grid (the hashes have its square in bits).
    pub fn classic_size(&self) -> u32 {
        self.hashers.size()
    }

    /// aHash, dHash or pHash of an RGB image in memory (an edited image),
    /// from Pillow's grey of its pixels as [`decode_for`] makes it; `None`
    /// for a non-classic algorithm. Pass the grey image from [`luma`] to
    /// hash one image with several classic algorithms.
    pub fn classic_of_grey(&self, grey: &GrayImage, algorithm: Algorithm) -> Option<Digest> {
        self.hashers.hash_grey(grey, algorithm)
    }
}

/// Pillow's `convert("L")` of RGB pixels: the classic hashes' grey image.
pub fn luma(image: &RgbImage) -> GrayImage {
    GrayImage::from_fn(image.width(), image.height(), |x, y| {
        let p = image.get_pixel(x, y).0;
        image::Luma([pillow::l24(p[0], p[1], p[2])])
    })
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
    /// With the text algorithm: each URL in the text (normalised, see
    /// [`text`]) and its digest, as the scanner checks them.
    pub urls: Vec<(String, Digest)>,
    /// Algorithms left out because they do not apply to this input (only
    /// [`digest_applicable`] leaves any out).
    pub skipped: Vec<Skipped>,
    /// [`PdqRoute::Fast`] when PDQ was computed from a JPEG's reduced-scale
    /// luma (its DC image, or a 1/2-scale decode: the fast route was asked
    /// for and applied); else [`PdqRoute::Exact`].
    pub pdq_route: PdqRoute,
}

/// An algorithm left out for one input because it does not apply to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Why, in words: `not UTF-8 text (invalid byte at offset 0)`, `not an image`.
    pub reason: String,
}

impl FileDigests {
    /// The digest for `algorithm`, if it was computed.
    pub fn get(&self, algorithm: Algorithm) -> Option<&Digest> {
        self.digests.iter().find(|d| d.algorithm() == algorithm)
    }

    /// Why the PDQ digest must not be matched, if PDQ was computed and its
    /// quality is below [`pdq::MIN_QUALITY`] ([`pdq::quality_gate`]).
    pub fn low_pdq_quality(&self) -> Option<pdq::LowQuality> {
        self.pdq_quality
            .and_then(|q| pdq::quality_gate(q, pdq::MIN_QUALITY).err())
    }
}

/// An input decoded for a set of algorithms by [`decode_for`]: what each
/// perceptual algorithm starts from, made once.
#[derive(Debug)]
pub struct Decoded {
    image: Option<RgbImage>,
    grey: Option<GrayImage>,
    dimensions: (u32, u32),
    pdq_route: PdqRoute,
    pdq_kernel: pdq::Kernel,
}

impl Decoded {
    /// Width and height after EXIF orientation.
    pub fn dimensions(&self) -> (u32, u32) {
        self.dimensions
    }

    /// The route PDQ's pixels came from: [`PdqRoute::Fast`] only when the
    /// fast route was asked for and the input was a large enough JPEG.
    pub fn pdq_route(&self) -> PdqRoute {
        self.pdq_route
    }

    /// PDQ of the image; `None` if PDQ was not among the algorithms decoded for.
    pub fn pdq(&self) -> Option<pdq::Pdq> {
        self.image
            .as_ref()
            .map(|i| pdq::hash_image_with(i, self.pdq_kernel))
    }

    /// PDQ of the image and of its seven rotations and mirror images (one
    /// DCT); `None` if PDQ was not among the algorithms decoded for.
    pub fn pdq_dihedral(&self) -> Option<pdq::Dihedral> {
        self.image
            .as_ref()
            .map(|i| pdq::hash_image_dihedral_with(i, self.pdq_kernel))
    }

    /// aHash, dHash or pHash of the image; `None` for any other algorithm,
    /// or if no classic algorithm was among those decoded for.
    pub fn classic(&self, config: &HashConfig, algorithm: Algorithm) -> Option<Digest> {
        config.hashers.hash_grey(self.grey.as_ref()?, algorithm)
    }
}

/// Decodes `bytes` once for the perceptual algorithms among `algorithms`:
/// the full pixels if PDQ is among them, the grey image if a classic hash
/// is — from the JPEG's DC coefficients when [`HashConfig::jpeg_dc`] allows
/// and the image is large enough, else Pillow's grey of the full pixels.
pub fn decode_for(
    bytes: &[u8],
    algorithms: &[Algorithm],
    config: &HashConfig,
) -> Result<Decoded, decode::DecodeError> {
    let wants_pdq = algorithms.contains(&Algorithm::Pdq);
    let wants_classic = algorithms.iter().any(|a| a.is_classic());
    decode::check_input(bytes, &config.limits)?;
    let min_side = 8 * config.hashers.size();
    let mut dimensions = None;
    let mut grey = None;
    let mut pdq_image = None;
    if wants_pdq && config.pdq_route == PdqRoute::Fast {
        if let Some(dc) = jpeg::read_scaled(bytes, &config.limits, pdq_fast_scale) {
            // The upright image's Y: one pixel per block of the DC image, or
            // each 1/2-scale sample over its 2×2 pixels. PDQ's luminance
            // weights are the JFIF colour transform's, so Y is its input.
            if let Some(y) = thumbnail::pdq_grey(&dc, PDQ_FAST_MIN_SIDE / 8) {
                dimensions = Some(dc.oriented_dimensions());
                pdq_image = grey_to_rgb(&y);
            }
        }
    }
    let fast = pdq_image.is_some();
    if wants_classic && config.jpeg_dc {
        // At least 8 × the grid's side blocks on the shorter side: smaller
        // JPEGs are decoded fully.
        if let Some(dc) = jpeg::read(bytes, &config.limits, 8 * min_side) {
            grey = thumbnail::dc_grey(&dc, min_side);
            dimensions = Some(dc.oriented_dimensions());
        }
    }
    let image = if (wants_pdq && !fast) || (wants_classic && grey.is_none()) {
        let image = decode::decode_image(bytes, &config.limits)?;
        dimensions = Some((image.width(), image.height()));
        if wants_classic && grey.is_none() {
            grey = Some(pillow::to_luma(&image));
        }
        (wants_pdq && !fast).then(|| decode::to_rgb8(image))
    } else {
        None
    };
    let image = image.or(pdq_image);
    Ok(Decoded {
        image,
        grey,
        dimensions: dimensions.unwrap_or((0, 0)),
        pdq_route: if fast {
            PdqRoute::Fast
        } else {
            PdqRoute::Exact
        },
        pdq_kernel: config.pdq_kernel,
    })
}

/// Each grey level three times: what `image`'s Luma8 → Rgb8 conversion
/// gives, without its colour-space machinery (a quarter of the fast route's
/// time on small JPEGs).
fn grey_to_rgb(grey: &GrayImage) -> Option<RgbImage> {
    let mut raw = Vec::with_capacity(3 * grey.as_raw().len());
    for &v in grey.as_raw() {
        raw.extend_from_slice(&[v, v, v]);
    }
    RgbImage::from_raw(grey.width(), grey.height(), raw)
}

/// Runs `algorithms` over `bytes`, decoding the image at most once.
pub fn digest_bytes(
    bytes: &[u8],
    algorithms: &[Algorithm],
    config: &HashConfig,
) -> Result<FileDigests, ContentError> {
    let decoded = if algorithms.iter().any(|a| a.needs_pixels()) {
        Some(decode_for(bytes, algorithms, config)?)
    } else {
        None
    };
    digest_decoded(bytes, decoded.as_ref(), algorithms, config)
}

/// [`digest_bytes`] on an input already decoded for `algorithms` (`decoded`
/// is `Some` whenever one of them needs pixels).
fn digest_decoded(
    bytes: &[u8],
    decoded: Option<&Decoded>,
    algorithms: &[Algorithm],
    config: &HashConfig,
) -> Result<FileDigests, ContentError> {
    let mut out = FileDigests {
        digests: Vec::with_capacity(algorithms.len()),
        pdq_quality: None,
        dimensions: decoded.map(Decoded::dimensions),
        urls: Vec::new(),
        skipped: Vec::new(),
        pdq_route: decoded.map_or(PdqRoute::Exact, Decoded::pdq_route),
    };
    for &algorithm in algorithms {
        let digest = match (algorithm, decoded) {
            (Algorithm::Pdq, Some(d)) => {
                let p = d.pdq().expect("decoded for PDQ");
                out.pdq_quality = Some(p.quality);
                p.hash.to_digest()
            }
            (Algorithm::Phash | Algorithm::Dhash | Algorithm::Ahash, Some(d)) => d
                .classic(config, algorithm)
                .expect("decoded for a classic hash"),
            (Algorithm::Sha256, _) => exact::sha256(bytes),
            (Algorithm::Md5, _) => exact::md5(bytes),
            (Algorithm::Text, _) => {
                let s = std::str::from_utf8(bytes)
                    .map_err(|e| ContentError::NotText(e.valid_up_to()))?;
                let d = text::digests(s);
                out.urls = d.urls;
                d.text
            }
            (_, None) => unreachable!("perceptual algorithms always decode first"),
        };
        out.digests.push(digest);
    }
    Ok(out)
}

/// Runs those of `algorithms` that apply to `bytes`, and lists the others
/// in [`FileDigests::skipped`] with the reason: `text` on bytes that are
/// not UTF-8, perceptual hashes on bytes that are not in any image format
/// (a text file). An image that fails to decode is still an error, and so
/// is an input to which none of `algorithms` applies (the error is the one
/// [`digest_bytes`] gives).
pub fn digest_applicable(
    bytes: &[u8],
    algorithms: &[Algorithm],
    config: &HashConfig,
) -> Result<FileDigests, ContentError> {
    let mut skipped = Vec::new();
    let not_text = std::str::from_utf8(bytes).err();
    let not_image = image::guess_format(bytes).is_err();
    let applies: Vec<Algorithm> = algorithms
        .iter()
        .copied()
        .filter(|&a| {
            let reason = match a {
                Algorithm::Text => {
                    not_text.map(|e| ContentError::NotText(e.valid_up_to()).to_string())
                }
                a if a.needs_pixels() && not_image => Some("not an image".to_string()),
                _ => None,
            };
            if let Some(reason) = &reason {
                skipped.push(Skipped {
                    algorithm: a,
                    reason: reason.clone(),
                });
            }
            reason.is_none()
        })
        .collect();
    if applies.is_empty() {
        // Nothing applies: the error the first algorithm gives says why.
        return digest_bytes(bytes, algorithms, config);
    }
    let mut out = digest_bytes(bytes, &applies, config)?;
    out.skipped = skipped;
    Ok(out)
}

/// Reads `path` and runs `algorithms` over it; errors name the file.
pub fn digest_file(
    path: &Path,
    algorithms: &[Algorithm],
    config: &HashConfig,
) -> Result<FileDigests, Error> {
    let bytes = read_input(path, config)?;
    digest_bytes(&bytes, algorithms, config).map_err(|source| Error::Content {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a file to hash: not a folder, not over the size limit.
fn read_input(path: &Path, config: &HashConfig) -> Result<Vec<u8>, Error> {
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
    std::fs::read(path).map_err(read_err)
}

/// [`digest_file`] with [`digest_applicable`]: algorithms that do not
/// apply to the file are listed in [`FileDigests::skipped`], not errors.
pub fn digest_file_applicable(
    path: &Path,
    algorithms: &[Algorithm],
    config: &HashConfig,
) -> Result<FileDigests, Error> {
    let bytes = read_input(path, config)?;
    digest_applicable(&bytes, algorithms, config).map_err(|source| Error::Content {
        path: path.to_path_buf(),
        source,
    })
}
