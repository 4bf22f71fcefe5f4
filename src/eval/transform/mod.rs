//! Image edits of the kind people make before sharing — and that evaders
//! make on purpose — in one grammar for the CLI, scenarios and the library:
//! `resize:0.5+jpeg:70` is a [`Chain`] of two [`Edit`]s.
//!
//! Every edit is deterministic given the image and a seed (only `noise` and
//! `overlay` draw on the seed; each edit of a chain gets its own stream,
//! mixed from the seed and its position), so a measurement can be repeated.
//! [`Chain`]'s `Display` is canonical and is what caches key on.
//!
//! ```
//! use cssim::eval::transform::Chain;
//! let chain = Chain::parse("resize:0.50 + jpeg:070").unwrap();
//! assert_eq!(chain.to_string(), "resize:0.5+jpeg:70");
//! let image = image::RgbImage::new(64, 48);
//! assert_eq!(chain.apply(&image, 1).unwrap().dimensions(), (32, 24));
//! ```
//!
//! The grammar is [`grammar`]'s; the pixel work is in the private modules
//! `geometry`, `tone`, `codec` and `caption`. The reference for users is
//! `docs/EVALUATION.md`, "Edits".

mod caption;
mod codec;
mod geometry;
pub mod grammar;
pub(crate) mod resample;
mod tone;

use image::RgbImage;

pub use codec::{
    OUTPUT_JPEG_QUALITY, SCREEN, SCREENSHOT_QUALITY, encode_for_extension, encode_jpeg,
    try_encode_jpeg, try_encode_webp,
};
pub use grammar::VALID_EDITS;

/// The most pixels an edit may produce (`resize:8` of a large photo would
/// otherwise ask for gigabytes).
pub const MAX_OUTPUT_PIXELS: u64 = 100_000_000;

/// One parameterised edit. Its `Display` is its canonical text (`jpeg:70`).
#[derive(Clone, Debug, PartialEq)]
pub enum Edit {
    /// `jpeg:Q` — re-encode as JPEG at quality Q (1–100).
    Jpeg(u8),
    /// `webp` — re-encode as lossless WebP (pixels unchanged; exercises the
    /// format path).
    Webp,
    /// `resize:S` — scale both sides by S (0 < S ≤ 8; Lanczos3).
    Resize(f32),
    /// `resize:WxH` — resize to exactly W×H pixels (Lanczos3).
    ResizeTo {
        /// New width (1–16384).
        width: u32,
        /// New height (1–16384).
        height: u32,
    },
    /// `crop:F` — keep the central fraction F of each side (0 < F ≤ 1).
    CropCentre(f32),
    /// `crop:L,T,R,B` — cut these fractions of the width (L, R) and height
    /// (T, B) from each side.
    CropSides {
        /// Fraction of the width cut on the left.
        left: f32,
        /// Fraction of the height cut at the top.
        top: f32,
        /// Fraction of the width cut on the right.
        right: f32,
        /// Fraction of the height cut at the bottom.
        bottom: f32,
    },
    /// `pad:F[,COLOUR]` — a border F × the longer side wide on every side
    /// (0 ≤ F ≤ 2; black unless a colour is given).
    Pad {
        /// Border width as a fraction of the longer side.
        fraction: f32,
        /// Border colour.
        colour: Colour,
    },
    /// `rotate:DEG` — rotate clockwise by DEG degrees (normalised to
    /// [0, 360)); multiples of 90 are exact, other angles are bilinear on a
    /// canvas that holds the whole image, corners filled black.
    Rotate(f32),
    /// `flip:h` — mirror left to right.
    FlipHorizontal,
    /// `flip:v` — mirror top to bottom.
    FlipVertical,
    /// `blur:SIGMA` — Gaussian blur (0 < SIGMA ≤ 50 pixels).
    Blur(f32),
    /// `sharpen` — unsharp mask (sigma 1, amount 1, threshold 0).
    Sharpen,
    /// `brightness:±N` — add N to every channel, clamped (−255 ≤ N ≤ 255).
    Brightness(i16),
    /// `contrast:F` — scale each channel's distance from mid-grey by F
    /// (0 ≤ F ≤ 10).
    Contrast(f32),
    /// `gamma:G` — `255·(v/255)^(1/G)` (0 < G ≤ 10; above 1 brightens).
    Gamma(f32),
    /// `grayscale` — Rec. 709 luma in all three channels.
    Grayscale,
    /// `noise:SIGMA` — add Gaussian noise of this standard deviation to each
    /// channel (0 < SIGMA ≤ 255; seeded).
    Noise(f32),
    /// `overlay:F` — an opaque box covering fraction F of the image (same
    /// aspect as the image; seeded position and colour; 0 < F ≤ 1).
    Overlay(f32),
    /// `text:"…"` — a caption along the bottom, in the bundled DejaVu Sans.
    Text(String),
    /// `aspect:F` — stretch the width by F, height unchanged (0 < F ≤ 8).
    Aspect(f32),
    /// `screenshot` — what a phone screenshot of a shared image is: fitted
    /// into a 720×1280 black screen, then JPEG quality 85.
    Screenshot,
}

/// An RGB colour, for `pad`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Colour(pub [u8; 3]);

impl Colour {
    /// Black, the default fill.
    pub const BLACK: Colour = Colour([0, 0, 0]);
    const NAMED: [(&'static str, [u8; 3]); 6] = [
        ("black", [0, 0, 0]),
        ("white", [255, 255, 255]),
        ("grey", [128, 128, 128]),
        ("red", [255, 0, 0]),
        ("green", [0, 255, 0]),
        ("blue", [0, 0, 255]),
    ];
    /// The colour names the grammar accepts, for error messages.
    pub const NAMES: &'static str = "black, white, grey, red, green, blue";

    /// A name (`white`, `gray` for `grey`) or six hex digits (`ff8000`).
    pub fn parse(text: &str) -> Option<Colour> {
        let t = text.trim().to_ascii_lowercase();
        let t = if t == "gray" { "grey".to_string() } else { t };
        if let Some((_, rgb)) = Self::NAMED.iter().find(|(n, _)| *n == t) {
            return Some(Colour(*rgb));
        }
        if t.len() == 6 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            let byte = |i: usize| u8::from_str_radix(&t[i..i + 2], 16).ok();
            return Some(Colour([byte(0)?, byte(2)?, byte(4)?]));
        }
        None
    }
}

/// Canonical: the name for a named colour, else six lower-case hex digits.
impl std::fmt::Display for Colour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match Self::NAMED.iter().find(|(_, rgb)| *rgb == self.0) {
            Some((name, _)) => f.write_str(name),
            None => write!(f, "{:02x}{:02x}{:02x}", self.0[0], self.0[1], self.0[2]),
        }
    }
}

/// Edits applied in order; `Display` is the canonical text (`none` for the
/// identity), which caches key on.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Chain {
    edits: Vec<Edit>,
}

/// A bad edit string, or an edit that could not be applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// A token that names no edit.
    #[error("unknown edit \"{token}\" in \"{chain}\"; valid edits: {VALID_EDITS}")]
    Unknown {
        /// The token.
        token: String,
        /// The whole chain it was in.
        chain: String,
    },
    /// An empty chain or an empty token (`a++b`).
    #[error("empty edit in \"{chain}\"; valid edits: {VALID_EDITS}")]
    Empty {
        /// The whole chain.
        chain: String,
    },
    /// A known edit with a missing, malformed or out-of-range parameter.
    #[error("bad edit \"{token}\" in \"{chain}\": {reason}")]
    Parameter {
        /// The token.
        token: String,
        /// The whole chain it was in.
        chain: String,
        /// Which parameter and its range.
        reason: String,
    },
    /// An error in one line of a list of chains.
    #[error("line {line}: {source}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What was wrong there.
        source: Box<EditError>,
    },
    /// The image to edit has no pixels.
    #[error("cannot edit an empty ({width}×{height}) image")]
    EmptyImage {
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
    },
    /// The edit would produce more than [`MAX_OUTPUT_PIXELS`].
    #[error(
        "{edit}: the result would be {width}×{height} pixels, more than the limit of {MAX_OUTPUT_PIXELS}"
    )]
    TooLarge {
        /// The edit's canonical text.
        edit: String,
        /// Width it would have.
        width: u64,
        /// Height it would have.
        height: u64,
    },
    /// An output file name whose ending names no format cssim writes.
    #[error("cannot write \".{extension}\" images: use a file name ending in .png, .jpg or .webp")]
    OutputFormat {
        /// The ending given.
        extension: String,
    },
    /// Encoding or decoding for `jpeg`, `webp` or `screenshot` failed.
    #[error("{edit}: {reason}")]
    Codec {
        /// The edit's canonical text.
        edit: String,
        /// Why.
        reason: String,
    },
}

impl Chain {
    /// The identity chain, `none`.
    pub fn identity() -> Chain {
        Chain::default()
    }

    /// A chain of these edits, in order.
    pub fn new(edits: Vec<Edit>) -> Chain {
        Chain { edits }
    }

    /// The edits, in order (empty for `none`).
    pub fn edits(&self) -> &[Edit] {
        &self.edits
    }

    /// Whether this is the identity.
    pub fn is_identity(&self) -> bool {
        self.edits.is_empty()
    }

    /// Whether the result depends on the seed (the chain has a `noise` or
    /// `overlay`): a cache need key on the seed only then.
    pub fn uses_seed(&self) -> bool {
        self.edits.iter().any(Edit::uses_seed)
    }

    /// Applies the edits in order. `seed` drives `noise` and `overlay`; the
    /// edit at position i draws from a stream mixed from `seed` and i, so
    /// two `noise` edits in one chain do not add the same noise twice.
    pub fn apply(&self, image: &RgbImage, seed: u64) -> Result<RgbImage, EditError> {
        let mut out = image.clone();
        for (i, edit) in self.edits.iter().enumerate() {
            out = edit.apply(&out, edit_seed(seed, i))?;
        }
        check_not_empty(&out)?;
        Ok(out)
    }
}

impl Edit {
    /// Whether the result depends on the seed (`noise`, `overlay`).
    pub fn uses_seed(&self) -> bool {
        matches!(self, Edit::Noise(_) | Edit::Overlay(_))
    }

    /// Applies this one edit; `seed` drives `noise` and `overlay` only.
    pub fn apply(&self, image: &RgbImage, seed: u64) -> Result<RgbImage, EditError> {
        check_not_empty(image)?;
        let out = match self {
            Edit::Jpeg(q) => codec::jpeg_round_trip(image, *q, self)?,
            Edit::Webp => codec::webp_round_trip(image, self)?,
            Edit::Resize(scale) => geometry::resize(image, *scale, self)?,
            Edit::ResizeTo { width, height } => geometry::resize_to(image, *width, *height, self)?,
            Edit::CropCentre(f) => geometry::crop_centre(image, *f),
            Edit::CropSides {
                left,
                top,
                right,
                bottom,
            } => geometry::crop_sides(image, [*left, *top, *right, *bottom]),
            Edit::Pad { fraction, colour } => geometry::pad(image, *fraction, *colour, self)?,
            Edit::Rotate(deg) => geometry::rotate(image, *deg, Colour::BLACK, self)?,
            Edit::FlipHorizontal => image::imageops::flip_horizontal(image),
            Edit::FlipVertical => image::imageops::flip_vertical(image),
            Edit::Blur(sigma) => image::imageops::blur(image, *sigma),
            Edit::Sharpen => image::imageops::unsharpen(image, 1.0, 0),
            Edit::Brightness(n) => tone::brightness(image, *n),
            Edit::Contrast(f) => tone::contrast(image, *f),
            Edit::Gamma(g) => tone::gamma(image, *g),
            Edit::Grayscale => tone::grayscale(image),
            Edit::Noise(sigma) => tone::noise(image, *sigma, seed),
            Edit::Overlay(f) => tone::overlay(image, *f, seed),
            Edit::Text(text) => caption::draw(image, text, self)?,
            Edit::Aspect(f) => geometry::aspect(image, *f, self)?,
            Edit::Screenshot => codec::screenshot(image, self)?,
        };
        Ok(out)
    }
}

/// Applies one edit with seed 0, for callers whose edits cannot fail on an
/// ordinary image (the demo's resize, crop and mirror). An edit that does
/// fail (a codec error, an oversized result) leaves the image unchanged;
/// use [`Edit::apply`] to see the error.
pub fn apply(image: &RgbImage, edit: Edit) -> RgbImage {
    edit.apply(image, 0).unwrap_or_else(|_| image.clone())
}

/// The seed of the edit at `position` in a chain applied with `seed`
/// (SplitMix64 of both, so neighbouring seeds and positions differ widely).
pub fn edit_seed(seed: u64, position: usize) -> u64 {
    splitmix64(seed ^ splitmix64(position as u64 ^ 0x6564_6974))
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn check_not_empty(image: &RgbImage) -> Result<(), EditError> {
    let (width, height) = image.dimensions();
    if width == 0 || height == 0 {
        return Err(EditError::EmptyImage { width, height });
    }
    Ok(())
}

/// `Err(TooLarge)` when a `width`×`height` result is over the limit.
fn check_size(edit: &Edit, width: u64, height: u64) -> Result<(u32, u32), EditError> {
    if width.saturating_mul(height) > MAX_OUTPUT_PIXELS || width > u64::from(u32::MAX) {
        return Err(EditError::TooLarge {
            edit: edit.to_string(),
            width,
            height,
        });
    }
    Ok((width.max(1) as u32, height.max(1) as u32))
}

#[cfg(test)]
mod grammar_tests;
#[cfg(test)]
mod tests;
