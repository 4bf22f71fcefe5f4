//! Bytes → 8-bit RGB pixels, with limits, for the perceptual hashes.
//!
//! Formats: PNG, JPEG, GIF (first frame), WebP and BMP, recognised by their
//! content, not their file name. Every decode runs under [`Limits`]: the
//! declared width, height and pixel count are checked before any pixel memory
//! is allocated, so a decompression bomb (a tiny PNG declaring 100000×100000)
//! is refused with an error instead of exhausting memory.
//!
//! Pixel conventions follow the reference PDQ pipeline, so that hashes agree
//! with lists made by Meta's tools:
//! - EXIF orientation is applied (a phone photo stored sideways is hashed
//!   upright), unless [`Limits::exif_rotate`] is off;
//! - alpha is dropped, not composited (a transparent pixel keeps its colour);
//! - grey is replicated to R = G = B;
//! - 16-bit channels keep their high byte (`v >> 8`).

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};

/// Limits on what a decode may cost. A decode that would exceed one is
/// refused with [`DecodeError::TooLarge`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest width accepted, in pixels.
    pub max_width: u32,
    /// Largest height accepted, in pixels.
    pub max_height: u32,
    /// Largest width × height accepted.
    pub max_pixels: u64,
    /// Largest amount of memory the decoder may allocate, in bytes.
    pub max_alloc: u64,
    /// Largest input file, in bytes.
    pub max_file_bytes: u64,
    /// Apply the EXIF orientation tag (default on).
    pub exif_rotate: bool,
}

impl Default for Limits {
    /// 16384 px a side, 64 megapixels, 1 GiB of decoder memory, 256 MiB files:
    /// room for any camera photo, far below what would exhaust the machine.
    fn default() -> Limits {
        Limits {
            max_width: 16_384,
            max_height: 16_384,
            max_pixels: 64_000_000,
            max_alloc: 1 << 30,
            max_file_bytes: 256 << 20,
            exif_rotate: true,
        }
    }
}

/// Why bytes could not be turned into pixels.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input has no bytes.
    #[error("empty file")]
    Empty,
    /// The bytes are not one of the supported image formats.
    #[error("not a supported image (PNG, JPEG, GIF, WebP or BMP)")]
    UnsupportedFormat,
    /// The image is larger than the limits allow.
    #[error("image too large: {what} (limit {limit})")]
    TooLarge {
        /// What exceeded the limit, e.g. `100000×100000 pixels`.
        what: String,
        /// The limit, in the same unit.
        limit: String,
    },
    /// The decoder found the data damaged or truncated.
    #[error("corrupt or truncated {format} data: {reason}")]
    Corrupt {
        /// The format the bytes claimed to be.
        format: &'static str,
        /// What the decoder said.
        reason: String,
    },
}

/// Decodes `bytes` into 8-bit RGB under `limits`.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<RgbImage, DecodeError> {
    decode_image(bytes, limits).map(to_rgb8)
}

/// Decodes `bytes` under `limits` into the decoder's own pixel format (EXIF
/// orientation applied as for [`decode`]), for conversions that depend on it
/// (the classic hashes' grey, `pillow::to_luma`).
pub fn decode_image(bytes: &[u8], limits: &Limits) -> Result<DynamicImage, DecodeError> {
    check_input(bytes, limits)?;
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| DecodeError::UnsupportedFormat)?;
    let format = match reader.format() {
        Some(
            f @ (ImageFormat::Png
            | ImageFormat::Jpeg
            | ImageFormat::Gif
            | ImageFormat::WebP
            | ImageFormat::Bmp),
        ) => f,
        _ => return Err(DecodeError::UnsupportedFormat),
    };
    let name = format_name(format);
    if format == ImageFormat::Jpeg && !jpeg_has_end_marker(bytes) {
        // The JPEG decoder fills a cut-off scan with grey rather than fail;
        // a truncated upload must not be hashed as if it were whole.
        return Err(DecodeError::Corrupt {
            format: name,
            reason: "truncated: no end-of-image marker after the scan data".into(),
        });
    }
    let corrupt = |e: image::ImageError| classify(e, name, limits);

    // Read the header with no limits, check the declared size ourselves (for
    // a clear message), then hand the decoder its allocation limit before a
    // single pixel is decoded.
    let mut reader = reader;
    reader.no_limits();
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let (w, h) = decoder.dimensions();
    check_dimensions(w, h, limits)?;
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_width);
    image_limits.max_image_height = Some(limits.max_height);
    image_limits.max_alloc = Some(limits.max_alloc);
    decoder.set_limits(image_limits).map_err(corrupt)?;
    let orientation = if limits.exif_rotate {
        // A damaged EXIF block should not make a readable image unreadable.
        decoder
            .orientation()
            .unwrap_or(image::metadata::Orientation::NoTransforms)
    } else {
        image::metadata::Orientation::NoTransforms
    };
    let mut image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// The checks every route to pixels makes first: not empty, not over
/// [`Limits::max_file_bytes`].
pub(crate) fn check_input(bytes: &[u8], limits: &Limits) -> Result<(), DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(DecodeError::TooLarge {
            what: format!("{} bytes", bytes.len()),
            limit: format!("{} bytes", limits.max_file_bytes),
        });
    }
    Ok(())
}

/// Whether a JPEG's entropy-coded data is followed by an end-of-image
/// marker. Walks the marker segments to the first top-level start-of-scan
/// (so an EXIF thumbnail's own markers are skipped), then looks for `FF D9`,
/// which byte stuffing keeps out of scan data. Bytes after it (as in motion
/// photos) are allowed.
fn jpeg_has_end_marker(bytes: &[u8]) -> bool {
    let mut pos = 2; // after SOI
    loop {
        while bytes.get(pos) == Some(&0xFF) && bytes.get(pos + 1) == Some(&0xFF) {
            pos += 1; // fill bytes
        }
        let (Some(&0xFF), Some(&marker)) = (bytes.get(pos), bytes.get(pos + 1)) else {
            return false;
        };
        pos += 2;
        match marker {
            0xD9 => return true,
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let Some(len) = bytes.get(pos..pos + 2) else {
            return false;
        };
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if marker == 0xDA {
            let scan = bytes.get(pos + len..).unwrap_or(&[]);
            return scan.windows(2).any(|w| w == [0xFF, 0xD9]);
        }
        pos += len;
    }
}

/// "64 megapixels" for round millions, "1000 pixels" otherwise (a limit
/// below a million must not read as "0 megapixels").
fn pixel_count(pixels: u64) -> String {
    if pixels >= 1_000_000 && pixels % 1_000_000 == 0 {
        format!("{} megapixels", pixels / 1_000_000)
    } else {
        format!("{pixels} pixels")
    }
}

pub(crate) fn check_dimensions(w: u32, h: u32, limits: &Limits) -> Result<(), DecodeError> {
    let pixels = u64::from(w) * u64::from(h);
    if w > limits.max_width || h > limits.max_height || pixels > limits.max_pixels {
        return Err(DecodeError::TooLarge {
            what: format!("{w}×{h} pixels"),
            limit: format!(
                "{}×{} and {}",
                limits.max_width,
                limits.max_height,
                pixel_count(limits.max_pixels)
            ),
        });
    }
    Ok(())
}

fn classify(e: image::ImageError, format: &'static str, limits: &Limits) -> DecodeError {
    match e {
        image::ImageError::Limits(l) => DecodeError::TooLarge {
            what: l.to_string(),
            limit: format!(
                "{}×{} pixels, {} MiB of decoder memory",
                limits.max_width,
                limits.max_height,
                limits.max_alloc >> 20
            ),
        },
        image::ImageError::Unsupported(u) => DecodeError::Corrupt {
            format,
            reason: format!("unsupported variant: {u}"),
        },
        other => DecodeError::Corrupt {
            format,
            reason: one_line(&other.to_string()),
        },
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn format_name(f: ImageFormat) -> &'static str {
    match f {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Gif => "GIF",
        ImageFormat::WebP => "WebP",
        ImageFormat::Bmp => "BMP",
        _ => "image",
    }
}

/// Converts any decoded image to 8-bit RGB by the reference's conventions
/// (see the module docs): alpha dropped, grey replicated, 16-bit high byte.
pub fn to_rgb8(image: DynamicImage) -> RgbImage {
    let (w, h) = (image.width(), image.height());
    let rgb: Vec<u8> = match image {
        DynamicImage::ImageRgb8(img) => return img,
        DynamicImage::ImageRgba8(img) => strip(img.as_raw(), 4, |p| [p[0], p[1], p[2]]),
        DynamicImage::ImageLuma8(img) => img.as_raw().iter().flat_map(|&v| [v, v, v]).collect(),
        DynamicImage::ImageLumaA8(img) => strip(img.as_raw(), 2, |p| [p[0], p[0], p[0]]),
        DynamicImage::ImageRgb16(img) => strip(img.as_raw(), 3, |p| [hi(p[0]), hi(p[1]), hi(p[2])]),
        DynamicImage::ImageRgba16(img) => {
            strip(img.as_raw(), 4, |p| [hi(p[0]), hi(p[1]), hi(p[2])])
        }
        DynamicImage::ImageLuma16(img) => strip(img.as_raw(), 1, |p| [hi(p[0]); 3]),
        DynamicImage::ImageLumaA16(img) => strip(img.as_raw(), 2, |p| [hi(p[0]); 3]),
        // Float formats are not produced by the decoders above; convert
        // generically rather than fail.
        other => return other.to_rgb8(),
    };
    RgbImage::from_raw(w, h, rgb).unwrap_or_else(|| RgbImage::new(w, h))
}

fn hi(v: u16) -> u8 {
    (v >> 8) as u8
}

fn strip<T: Copy>(raw: &[T], channels: usize, f: impl Fn(&[T]) -> [u8; 3]) -> Vec<u8> {
    raw.chunks_exact(channels).flat_map(f).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(img: DynamicImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn alpha_is_dropped_not_composited() {
        let img = image::RgbaImage::from_pixel(3, 2, image::Rgba([10, 20, 30, 0]));
        let rgb = decode(&png(DynamicImage::ImageRgba8(img)), &Limits::default()).unwrap();
        assert_eq!(rgb.get_pixel(0, 0).0, [10, 20, 30]);
    }

    #[test]
    fn sixteen_bit_keeps_the_high_byte() {
        let img =
            image::ImageBuffer::<image::Luma<u16>, _>::from_pixel(2, 2, image::Luma([0x12ff]));
        let rgb = decode(&png(DynamicImage::ImageLuma16(img)), &Limits::default()).unwrap();
        assert_eq!(rgb.get_pixel(1, 1).0, [0x12, 0x12, 0x12]);
    }

    #[test]
    fn empty_and_garbage_are_refused() {
        assert!(matches!(
            decode(b"", &Limits::default()),
            Err(DecodeError::Empty)
        ));
        assert!(matches!(
            decode(b"hello, world", &Limits::default()),
            Err(DecodeError::UnsupportedFormat)
        ));
    }

    #[test]
    fn truncated_jpeg_is_refused_and_whole_one_accepted() {
        let mut out = Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([x as u8, y as u8, 7])
        }))
        .write_to(&mut out, ImageFormat::Jpeg)
        .unwrap();
        let jpeg = out.into_inner();
        assert!(decode(&jpeg, &Limits::default()).is_ok());
        let mut with_trailer = jpeg.clone();
        with_trailer.extend_from_slice(b"trailing data after EOI");
        assert!(decode(&with_trailer, &Limits::default()).is_ok());
        let err = decode(&jpeg[..jpeg.len() - 40], &Limits::default()).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    #[test]
    fn dimensions_over_the_limit_are_refused_before_decoding() {
        let bytes = png(DynamicImage::ImageRgb8(RgbImage::new(40, 30)));
        let limits = Limits {
            max_width: 32,
            ..Limits::default()
        };
        let err = decode(&bytes, &limits).unwrap_err();
        assert!(err.to_string().contains("40×30"), "{err}");
    }
}
