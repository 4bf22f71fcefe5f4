//! The originals' pixel cache of `eval rates`: an original's decoded RGB
//! pixels, so that a re-run with a new edit reads them instead of decoding
//! the file again (on a corpus of small PNGs, decoding was about a fifth of
//! such a re-run).
//!
//! One file an original, `pixels-v1/KEY.rgb`, where `KEY` is SHA-256 over
//! the file's content hash and the decode limits (the EXIF rotation changes
//! the pixels; the size limits decide whether the file decodes at all). A
//! file is a 24-byte header — the magic `cssimpx1`, width and height (`u32`
//! little-endian), the CRC-32 of the pixels and of the header before it —
//! then width × height × 3 bytes of RGB. A file that is short, long, of
//! another size than its header says or whose checksums fail is not
//! trusted: the original is decoded again and the entry rewritten.
//!
//! Only originals up to [`MAX_PIXELS`] (1 megapixel, 3 MB an entry) are
//! kept: a raw entry is 3 bytes a pixel where a photo's file is a few
//! tenths of a byte, so for a 12-MP photo the entry would be 36 MB (tens of
//! times the file) to save a decode that is then a small share of the work
//! of its edits. Entries are written to a temporary name and renamed, so a
//! run stopped mid-write leaves no entry under the real name.

use std::path::{Path, PathBuf};

use image::RgbImage;
use sha2::{Digest as _, Sha256};

use crate::hash::decode::Limits;

/// The folder of entries inside the cache folder.
pub const DIR_NAME: &str = "pixels-v1";

/// The largest original (width × height) whose pixels are kept.
pub const MAX_PIXELS: u64 = 1 << 20;

const MAGIC: &[u8; 8] = b"cssimpx1";
const HEADER: usize = 24;

/// The pixel store in one cache folder.
#[derive(Debug)]
pub struct Pixels {
    dir: PathBuf,
}

impl Pixels {
    /// The store in `cache_dir` (its folder is made on the first write).
    pub fn new(cache_dir: &Path) -> Pixels {
        Pixels {
            dir: cache_dir.join(DIR_NAME),
        }
    }

    fn path(&self, content_sha256: &[u8; 32], limits: &Limits) -> PathBuf {
        let mut h = Sha256::new();
        h.update(b"cssim eval rates pixels v1\0");
        h.update(content_sha256);
        h.update(limits_key(limits).as_bytes());
        let full: [u8; 32] = h.finalize().into();
        self.dir.join(format!("{}.rgb", hex::encode(&full[..16])))
    }

    /// The cached pixels of the file with this content, if a sound entry
    /// holds them.
    pub fn get(&self, content_sha256: &[u8; 32], limits: &Limits) -> Option<RgbImage> {
        let bytes = std::fs::read(self.path(content_sha256, limits)).ok()?;
        parse(&bytes)
    }

    /// Keeps `image` as the pixels of the file with this content, if it is
    /// within [`MAX_PIXELS`]; returns whether it was kept. A failed write
    /// is not an error (the entry is only a shortcut): nothing is left
    /// under the entry's name.
    pub fn put(&self, content_sha256: &[u8; 32], limits: &Limits, image: &RgbImage) -> bool {
        if u64::from(image.width()) * u64::from(image.height()) > MAX_PIXELS {
            return false;
        }
        let path = self.path(content_sha256, limits);
        let tmp = path.with_extension(format!(
            "tmp{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let ok = std::fs::create_dir_all(&self.dir).is_ok()
            && std::fs::write(&tmp, encode(image)).is_ok()
            && std::fs::rename(&tmp, &path).is_ok();
        if !ok {
            let _ = std::fs::remove_file(&tmp);
        }
        ok
    }
}

fn limits_key(l: &Limits) -> String {
    format!(
        "w={} h={} px={} alloc={} bytes={} exif={}",
        l.max_width, l.max_height, l.max_pixels, l.max_alloc, l.max_file_bytes, l.exif_rotate
    )
}

fn header(width: u32, height: u32, pixels: &[u8]) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&width.to_le_bytes());
    h[12..16].copy_from_slice(&height.to_le_bytes());
    h[16..20].copy_from_slice(&crc32fast::hash(pixels).to_le_bytes());
    let c = crc32fast::hash(&h[..20]);
    h[20..24].copy_from_slice(&c.to_le_bytes());
    h
}

fn encode(image: &RgbImage) -> Vec<u8> {
    let raw = image.as_raw();
    let mut out = Vec::with_capacity(HEADER + raw.len());
    out.extend_from_slice(&header(image.width(), image.height(), raw));
    out.extend_from_slice(raw);
    out
}

fn parse(bytes: &[u8]) -> Option<RgbImage> {
    let (h, pixels) = bytes.split_at_checked(HEADER)?;
    let word = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let (width, height) = (word(8), word(12));
    let n = u64::from(width) * u64::from(height);
    if &h[..8] != MAGIC
        || n == 0
        || n > MAX_PIXELS
        || pixels.len() as u64 != n * 3
        || header(width, height, pixels) != *h
    {
        return None;
    }
    RgbImage::from_raw(width, height, pixels.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_round_trip_and_a_bad_entry_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Pixels::new(dir.path());
        let img = RgbImage::from_fn(7, 5, |x, y| image::Rgb([x as u8, y as u8, 9]));
        let limits = Limits::default();
        let content = [3u8; 32];
        assert!(store.get(&content, &limits).is_none());
        assert!(store.put(&content, &limits, &img));
        assert_eq!(store.get(&content, &limits), Some(img.clone()));
        // Other limits (here no EXIF rotation) are another entry.
        let other = Limits {
            exif_rotate: !limits.exif_rotate,
            ..limits.clone()
        };
        assert!(store.get(&content, &other).is_none());
        let path = store.path(&content, &limits);
        let good = std::fs::read(&path).unwrap();
        // Short, long, a flipped pixel bit, a changed size, garbage.
        let mut flipped = good.clone();
        flipped[HEADER + 10] ^= 1;
        let mut resized = good.clone();
        resized[8] = 5;
        resized[12] = 7;
        let mut long = good.clone();
        long.push(0);
        for bad in [
            good[..good.len() - 1].to_vec(),
            good[..10].to_vec(),
            long,
            flipped,
            resized,
            b"not pixels".to_vec(),
            Vec::new(),
        ] {
            std::fs::write(&path, &bad).unwrap();
            assert!(store.get(&content, &limits).is_none());
        }
        // Rewritten, it is trusted again.
        assert!(store.put(&content, &limits, &img));
        assert_eq!(store.get(&content, &limits), Some(img));
        // Over the bound: not kept.
        let big = RgbImage::new(1025, 1024);
        assert!(!store.put(&[4u8; 32], &limits, &big));
        assert!(store.get(&[4u8; 32], &limits).is_none());
    }
}
