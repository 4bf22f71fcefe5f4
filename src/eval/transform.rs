//! Image edits of the kind people make before sharing — and that evaders
//! make on purpose: resize, recompress, crop, mirror, rotate, shift
//! brightness. Each is deterministic, so a measurement can be repeated.

use std::io::Cursor;

use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageFormat, RgbImage};

/// One edit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Edit {
    /// Scale so the longer side is `scale` times the original (Lanczos3).
    Resize(f32),
    /// Re-encode as JPEG at this quality (1–100).
    Jpeg(u8),
    /// Keep the central `fraction` of each side (0 < fraction ≤ 1).
    CropCentre(f32),
    /// Mirror left to right.
    FlipHorizontal,
    /// Rotate 90° clockwise.
    Rotate90,
    /// Add this much to every channel (clamped).
    Brightness(i16),
}

impl std::fmt::Display for Edit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Edit::Resize(s) => write!(f, "resize ×{s}"),
            Edit::Jpeg(q) => write!(f, "JPEG q{q}"),
            Edit::CropCentre(c) => write!(f, "crop to central {:.0}%", c * 100.0),
            Edit::FlipHorizontal => f.write_str("mirror"),
            Edit::Rotate90 => f.write_str("rotate 90°"),
            Edit::Brightness(b) => write!(f, "brightness {b:+}"),
        }
    }
}

/// Applies `edit` to `image`.
pub fn apply(image: &RgbImage, edit: Edit) -> RgbImage {
    let (w, h) = image.dimensions();
    match edit {
        Edit::Resize(scale) => {
            let nw = ((w as f32 * scale).round() as u32).max(1);
            let nh = ((h as f32 * scale).round() as u32).max(1);
            imageops::resize(image, nw, nh, FilterType::Lanczos3)
        }
        Edit::Jpeg(quality) => {
            let bytes = encode_jpeg(image, quality);
            image::load_from_memory_with_format(&bytes, ImageFormat::Jpeg)
                .map(|d| d.to_rgb8())
                .unwrap_or_else(|_| image.clone())
        }
        Edit::CropCentre(fraction) => {
            let f = fraction.clamp(0.01, 1.0);
            let (cw, ch) = (((w as f32) * f) as u32, ((h as f32) * f) as u32);
            let (cw, ch) = (cw.max(1), ch.max(1));
            imageops::crop_imm(image, (w - cw) / 2, (h - ch) / 2, cw, ch).to_image()
        }
        Edit::FlipHorizontal => imageops::flip_horizontal(image),
        Edit::Rotate90 => imageops::rotate90(image),
        Edit::Brightness(delta) => {
            let mut out = image.clone();
            for p in out.pixels_mut() {
                for c in p.0.iter_mut() {
                    *c = (i16::from(*c) + delta).clamp(0, 255) as u8;
                }
            }
            out
        }
    }
}

/// Applies several edits in order.
pub fn apply_all(image: &RgbImage, edits: &[Edit]) -> RgbImage {
    edits.iter().fold(image.clone(), |img, &e| apply(&img, e))
}

/// Encodes as JPEG at `quality` (what a messenger does to a photo before sending).
pub fn encode_jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let encoder =
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100));
    // Writing to memory cannot fail for a valid RGB buffer.
    DynamicImage::ImageRgb8(image.clone())
        .write_with_encoder(encoder)
        .expect("JPEG encoding to memory");
    out.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture() -> RgbImage {
        RgbImage::from_fn(120, 80, |x, y| {
            image::Rgb([(x * 2) as u8, (y * 3) as u8, ((x + y) % 256) as u8])
        })
    }

    #[test]
    fn edits_change_geometry_as_described() {
        let p = picture();
        assert_eq!(apply(&p, Edit::Resize(0.5)).dimensions(), (60, 40));
        assert_eq!(apply(&p, Edit::CropCentre(0.5)).dimensions(), (60, 40));
        assert_eq!(apply(&p, Edit::Rotate90).dimensions(), (80, 120));
        assert_eq!(
            apply(&p, Edit::FlipHorizontal).get_pixel(0, 0),
            p.get_pixel(119, 0)
        );
        assert_eq!(
            apply(&p, Edit::Brightness(300)).get_pixel(5, 5).0,
            [255, 255, 255]
        );
        let jpeg = encode_jpeg(&p, 70);
        assert!(jpeg.starts_with(&[0xFF, 0xD8]));
        assert_eq!(
            apply_all(&p, &[Edit::Resize(0.5), Edit::Jpeg(70)]).dimensions(),
            (60, 40)
        );
    }
}
