//! Recognising image formats by their first bytes, including formats this
//! build does not decode.
//!
//! The scanner needs to know that a file attachment is a picture even when it
//! cannot decode it: a phone's HEIF photo sent as a file would otherwise be
//! checked with exact hashes only, and allowed. Only signatures long or
//! structured enough not to occur at the start of ordinary files are
//! recognised; `image::guess_format` also takes `BM` (BMP) and `P1`…`P7`
//! (PNM), which begin plenty of text files.

use serde::{Deserialize, Serialize};

/// An image format recognised by its signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ImageFormat {
    /// PNG.
    Png,
    /// JPEG (JFIF, EXIF).
    Jpeg,
    /// GIF.
    Gif,
    /// WebP.
    Webp,
    /// BMP (Windows bitmap).
    Bmp,
    /// TIFF, including BigTIFF and camera raw files built on it.
    Tiff,
    /// HEIF, as HEIC photos from phones.
    Heif,
    /// AVIF.
    Avif,
    /// JPEG XL.
    JpegXl,
    /// JPEG 2000.
    Jpeg2000,
}

impl ImageFormat {
    /// Whether this build decodes the format (see [`crate::hash::decode`]).
    pub fn is_decoded(self) -> bool {
        matches!(
            self,
            ImageFormat::Png
                | ImageFormat::Jpeg
                | ImageFormat::Gif
                | ImageFormat::Webp
                | ImageFormat::Bmp
        )
    }

    /// Its usual name.
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Png => "PNG",
            ImageFormat::Jpeg => "JPEG",
            ImageFormat::Gif => "GIF",
            ImageFormat::Webp => "WebP",
            ImageFormat::Bmp => "BMP",
            ImageFormat::Tiff => "TIFF",
            ImageFormat::Heif => "HEIF",
            ImageFormat::Avif => "AVIF",
            ImageFormat::JpegXl => "JPEG XL",
            ImageFormat::Jpeg2000 => "JPEG 2000",
        }
    }
}

impl std::fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// ISO base media file brands (the `ftyp` box) of HEIF and AVIF images.
const HEIF_BRANDS: [&[u8; 4]; 10] = [
    b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1",
];
const AVIF_BRANDS: [&[u8; 4]; 2] = [b"avif", b"avis"];

/// The 12-byte box that opens a JPEG XL or JPEG 2000 container, less its type.
const JP2_BOX: [u8; 4] = [0x0D, 0x0A, 0x87, 0x0A];

/// The image format `bytes` start with, if any.
pub fn image_format(bytes: &[u8]) -> Option<ImageFormat> {
    let at = |offset: usize, sig: &[u8]| bytes.get(offset..offset + sig.len()) == Some(sig);
    if at(0, b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if at(0, &[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if at(0, b"GIF87a") || at(0, b"GIF89a") {
        Some(ImageFormat::Gif)
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        Some(ImageFormat::Webp)
    } else if at(0, b"BM") && bmp_header_size_is_known(bytes) {
        Some(ImageFormat::Bmp)
    } else if at(0, b"II*\0") || at(0, b"MM\0*") || at(0, b"II+\0") || at(0, b"MM\0+") {
        Some(ImageFormat::Tiff)
    } else if at(4, b"ftyp") && AVIF_BRANDS.iter().any(|b| at(8, *b)) {
        Some(ImageFormat::Avif)
    } else if at(4, b"ftyp") && HEIF_BRANDS.iter().any(|b| at(8, *b)) {
        Some(ImageFormat::Heif)
    } else if at(0, &[0xFF, 0x0A]) || (at(0, &[0, 0, 0, 12]) && at(4, b"JXL ") && at(8, &JP2_BOX)) {
        Some(ImageFormat::JpegXl)
    } else if at(0, &[0xFF, 0x4F, 0xFF, 0x51])
        || (at(0, &[0, 0, 0, 12]) && at(4, b"jP  ") && at(8, &JP2_BOX))
    {
        Some(ImageFormat::Jpeg2000)
    } else {
        None
    }
}

/// Whether the BMP info header that follows the 14-byte file header has one
/// of the sizes Windows and OS/2 define: "BM" alone begins too many files.
fn bmp_header_size_is_known(bytes: &[u8]) -> bool {
    let Some(size) = bytes.get(14..18) else {
        return false;
    };
    let size = u32::from_le_bytes([size[0], size[1], size[2], size[3]]);
    matches!(size, 12 | 16 | 40 | 52 | 56 | 64 | 108 | 124)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(format: image::ImageFormat) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(4, 4, image::Rgb([10, 200, 30]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn the_formats_this_build_writes_are_recognised_and_decoded() {
        for (format, expected) in [
            (image::ImageFormat::Png, ImageFormat::Png),
            (image::ImageFormat::Jpeg, ImageFormat::Jpeg),
            (image::ImageFormat::Gif, ImageFormat::Gif),
            (image::ImageFormat::WebP, ImageFormat::Webp),
            (image::ImageFormat::Bmp, ImageFormat::Bmp),
        ] {
            let found = image_format(&encoded(format));
            assert_eq!(found, Some(expected), "{format:?}");
            assert!(expected.is_decoded());
        }
    }

    #[test]
    fn phone_and_camera_formats_are_recognised_but_not_decoded() {
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        let avif = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf";
        let jxl = b"\0\0\0\x0cJXL \x0d\x0a\x87\x0a\0\0\0\x14ftypjxl ";
        let jp2 = b"\0\0\0\x0cjP  \x0d\x0a\x87\x0a\0\0\0\x14ftypjp2 ";
        for (bytes, expected) in [
            (&b"II*\0\x08\0\0\0"[..], ImageFormat::Tiff),
            (&b"MM\0*\0\0\0\x08"[..], ImageFormat::Tiff),
            (&heic[..], ImageFormat::Heif),
            (&avif[..], ImageFormat::Avif),
            (&jxl[..], ImageFormat::JpegXl),
            (&[0xFF, 0x0A, 0xFA][..], ImageFormat::JpegXl),
            (&jp2[..], ImageFormat::Jpeg2000),
        ] {
            assert_eq!(image_format(bytes), Some(expected));
            assert!(!expected.is_decoded(), "{expected}");
        }
    }

    #[test]
    fn text_that_image_guess_format_takes_for_an_image_is_not_one() {
        for text in [
            &b"BM25 notes: the board meeting moved to Tuesday"[..],
            b"P1 priority: fix the build",
            b"P6 is the next milestone",
            b"",
            b"\xFF",
            b"\0\0\0\x18ftypisom\0\0\0\0", // an MP4 video
        ] {
            assert_eq!(
                image_format(text),
                None,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
        assert!(image::guess_format(b"P1 priority: fix the build").is_ok());
    }
}
