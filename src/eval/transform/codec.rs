//! Edits that go through a file format: `jpeg:Q`, `webp`, and `screenshot`
//! (which ends in a JPEG).

use std::io::Cursor;

use image::imageops::{self, FilterType};
use image::{ImageFormat, Rgb, RgbImage};

use super::{Edit, EditError};

/// The screen a `screenshot` is taken on: a 720×1280 portrait phone.
pub const SCREEN: (u32, u32) = (720, 1280);
/// The JPEG quality a `screenshot` is saved at.
pub const SCREENSHOT_QUALITY: u8 = 85;

/// Encodes as JPEG at `quality` (clamped to 1–100), or says why not.
pub fn try_encode_jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>, image::ImageError> {
    let mut out = Cursor::new(Vec::new());
    let encoder =
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100));
    image.write_with_encoder(encoder)?;
    Ok(out.into_inner())
}

/// Encodes as JPEG at `quality` (what a messenger does to a photo before
/// sending). For the demo's fixed images; an image JPEG cannot hold (a side
/// over 65,535 pixels, or none) panics: use [`try_encode_jpeg`] for others.
pub fn encode_jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
    try_encode_jpeg(image, quality).expect("JPEG encoding to memory")
}

/// Encodes as lossless WebP.
pub fn try_encode_webp(image: &RgbImage) -> Result<Vec<u8>, image::ImageError> {
    let mut out = Cursor::new(Vec::new());
    let encoder = image::codecs::webp::WebPEncoder::new_lossless(&mut out);
    image.write_with_encoder(encoder)?;
    Ok(out.into_inner())
}

fn codec_error(edit: &Edit, what: &str, e: image::ImageError) -> EditError {
    EditError::Codec {
        edit: edit.to_string(),
        reason: format!("{what}: {e}"),
    }
}

fn decode(bytes: &[u8], format: ImageFormat, edit: &Edit) -> Result<RgbImage, EditError> {
    image::load_from_memory_with_format(bytes, format)
        .map(|d| d.to_rgb8())
        .map_err(|e| codec_error(edit, "decoding the re-encoded image", e))
}

/// Through JPEG at `quality` and back.
pub(super) fn jpeg_round_trip(
    image: &RgbImage,
    quality: u8,
    edit: &Edit,
) -> Result<RgbImage, EditError> {
    let bytes = try_encode_jpeg(image, quality).map_err(|e| codec_error(edit, "JPEG", e))?;
    decode(&bytes, ImageFormat::Jpeg, edit)
}

/// Through lossless WebP and back (the same pixels, by a real codec).
pub(super) fn webp_round_trip(image: &RgbImage, edit: &Edit) -> Result<RgbImage, EditError> {
    let bytes = try_encode_webp(image).map_err(|e| codec_error(edit, "WebP", e))?;
    decode(&bytes, ImageFormat::WebP, edit)
}

/// Fitted (aspect kept, Triangle filter) into the centre of a black
/// [`SCREEN`], then JPEG at [`SCREENSHOT_QUALITY`]: the image as a phone
/// shows it, screenshotted and shared.
pub(super) fn screenshot(image: &RgbImage, edit: &Edit) -> Result<RgbImage, EditError> {
    let (w, h) = image.dimensions();
    let (sw, sh) = SCREEN;
    let fit = (f64::from(sw) / f64::from(w)).min(f64::from(sh) / f64::from(h));
    let nw = ((f64::from(w) * fit).round() as u32).clamp(1, sw);
    let nh = ((f64::from(h) * fit).round() as u32).clamp(1, sh);
    let shown = imageops::resize(image, nw, nh, FilterType::Triangle);
    let mut screen = RgbImage::from_pixel(sw, sh, Rgb([0, 0, 0]));
    imageops::replace(
        &mut screen,
        &shown,
        i64::from((sw - nw) / 2),
        i64::from((sh - nh) / 2),
    );
    jpeg_round_trip(&screen, SCREENSHOT_QUALITY, edit)
}

/// The JPEG quality [`encode_for_extension`] writes `.jpg` files at (high,
/// so that looking at an edit adds little of its own; write `.png` to see
/// an edit's pixels exactly).
pub const OUTPUT_JPEG_QUALITY: u8 = 95;

/// Encodes `image` for a file ending in `extension` (`png`; `jpg` or `jpeg`
/// at [`OUTPUT_JPEG_QUALITY`]; `webp`, lossless), case-insensitively.
pub fn encode_for_extension(image: &RgbImage, extension: &str) -> Result<Vec<u8>, EditError> {
    let ext = extension.to_ascii_lowercase();
    let failed = |e: image::ImageError| EditError::Codec {
        edit: format!("writing .{ext}"),
        reason: e.to_string(),
    };
    match ext.as_str() {
        "png" => {
            let mut out = Cursor::new(Vec::new());
            image.write_to(&mut out, ImageFormat::Png).map_err(failed)?;
            Ok(out.into_inner())
        }
        "jpg" | "jpeg" => try_encode_jpeg(image, OUTPUT_JPEG_QUALITY).map_err(failed),
        "webp" => try_encode_webp(image).map_err(failed),
        _ => Err(EditError::OutputFormat {
            extension: extension.to_string(),
        }),
    }
}
