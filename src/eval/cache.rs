//! The hash cache of `eval rates`: one append-only file of records, each a
//! line that carries its own checksum.
//!
//! A record's key is SHA-256 over the file's content hash (SHA-256 of its
//! bytes, so a renamed or moved file is still found and an edited one is
//! not), the edit chain's canonical text, the hash kind (`pdq`, `pdq8` for
//! the eight dihedral PDQ hashes, `phash`, …) and the hashing configuration
//! (classic hash size and variant, EXIF rotation; for an original's PDQ on
//! the fast route, the route). The value is the hash bytes and, for PDQ, its
//! quality and whether the fast route applied.
//!
//! A line is `KEY KIND QUALITY VALUE CHECK`, hex, where `CHECK` is the first
//! 16 hex digits of SHA-256 of the text before it. A line that does not
//! parse or whose checksum is wrong (a torn write after Ctrl-C, a flipped
//! bit) is ignored, so its hash is computed again and appended: a corrupt
//! entry is never trusted. Records are appended whole, one `write` a batch,
//! after the hashes are computed; a run stopped at any point leaves at most
//! one torn last line, which the next run skips (and starts a new line
//! after). A later record for a key wins.
//!
//! Next to the file, [`pixels`] keeps small originals' decoded pixels.

pub mod pixels;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};

/// The cache file inside the cache folder.
pub const FILE_NAME: &str = "rates-hashes-v1.log";

/// A cache error: the file and why.
#[derive(Debug, thiserror::Error)]
#[error("hash cache {}: {}", path.display(), crate::files::describe_io_error(source))]
pub struct Error {
    /// The cache file or folder.
    pub path: PathBuf,
    /// The underlying error.
    pub source: std::io::Error,
}

/// A record's key (the first 16 bytes of the SHA-256 described above).
pub type Key = [u8; 16];

/// What the cache holds for a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value {
    /// The hash bytes (eight hashes one after another for `pdq8`).
    pub bytes: Vec<u8>,
    /// PDQ's quality (0 for other kinds).
    pub quality: u8,
    /// PDQ computed on the fast route, from a JPEG's DC image or 1/2-scale
    /// decode ([`crate::hash::PdqRoute::Fast`] applied); recorded as `+dc` after
    /// the kind.
    pub dc: bool,
}

impl Value {
    /// The hash of an image in memory (an edited copy, always hashed
    /// exactly) for `algorithm`: PDQ with its quality (the eight dihedral
    /// hashes one after another when `dihedral`), or a classic hash under
    /// `config`; `grey` keeps the luma image between classic algorithms.
    pub fn of_image(
        image: &image::RgbImage,
        algorithm: crate::hash::Algorithm,
        dihedral: bool,
        config: &crate::hash::HashConfig,
        grey: &mut Option<image::GrayImage>,
    ) -> Value {
        use crate::hash::{self, Algorithm, pdq};
        match algorithm {
            Algorithm::Pdq if dihedral => {
                let d = pdq::hash_image_dihedral(image);
                Value {
                    bytes: d.hashes.iter().flat_map(|h| h.0).collect(),
                    quality: d.quality.0,
                    dc: false,
                }
            }
            Algorithm::Pdq => {
                let p = pdq::hash_image(image);
                Value {
                    bytes: p.hash.0.to_vec(),
                    quality: p.quality.0,
                    dc: false,
                }
            }
            a => {
                let g = grey.get_or_insert_with(|| hash::luma(image));
                Value {
                    bytes: config
                        .classic_of_grey(g, a)
                        .map(|d| d.bytes().to_vec())
                        .unwrap_or_default(),
                    quality: 0,
                    dc: false,
                }
            }
        }
    }
}

/// The key of one hash of one (file, edit chain).
pub fn key(content_sha256: &[u8; 32], chain: &str, kind: &str, config: &str) -> Key {
    let mut h = Sha256::new();
    h.update(b"cssim eval rates cache v1\0");
    h.update(content_sha256);
    for part in [chain, kind, config] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    let full: [u8; 32] = h.finalize().into();
    let mut k = [0u8; 16];
    k.copy_from_slice(&full[..16]);
    k
}

/// The cache: the records read at open, and the file new ones go to.
#[derive(Debug)]
pub struct Cache {
    entries: HashMap<Key, Value>,
    writer: Option<Mutex<File>>,
    path: PathBuf,
    /// Lines skipped at open because they were torn or corrupt.
    pub corrupt_lines: usize,
    pixels: Option<pixels::Pixels>,
}

impl Cache {
    /// A cache that holds nothing and keeps nothing (`--no-cache`).
    pub fn disabled() -> Cache {
        Cache {
            entries: HashMap::new(),
            writer: None,
            path: PathBuf::new(),
            corrupt_lines: 0,
            pixels: None,
        }
    }

    /// Opens (creating) the cache in `dir`.
    pub fn open(dir: &Path) -> Result<Cache, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(FILE_NAME);
        let err = |source| Error {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(err)?;
        let mut text = Vec::new();
        file.read_to_end(&mut text).map_err(err)?;
        let mut entries = HashMap::new();
        let mut corrupt_lines = 0;
        for line in text.split(|&b| b == b'\n') {
            if line.is_empty() {
                continue;
            }
            match parse_line(line) {
                Some((k, v)) => {
                    entries.insert(k, v);
                }
                None => corrupt_lines += 1,
            }
        }
        // A torn last line: start the next record on a line of its own.
        if text.last().is_some_and(|&b| b != b'\n') {
            file.write_all(b"\n").map_err(err)?;
        }
        Ok(Cache {
            entries,
            writer: Some(Mutex::new(file)),
            path,
            corrupt_lines,
            pixels: Some(pixels::Pixels::new(dir)),
        })
    }

    /// The value for `key`, if a sound record holds it.
    pub fn get(&self, key: &Key) -> Option<&Value> {
        self.entries.get(key)
    }

    /// How many records were read.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no record was read.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The originals' pixel store (none for a disabled cache).
    pub fn pixels(&self) -> Option<&pixels::Pixels> {
        self.pixels.as_ref()
    }

    /// Appends records in one write (a no-op for a disabled cache).
    pub fn append(&self, records: &[(Key, String, Value)]) -> Result<(), Error> {
        let Some(writer) = &self.writer else {
            return Ok(());
        };
        if records.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for (k, kind, v) in records {
            text.push_str(&line(k, kind, v));
        }
        let mut file = writer.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(text.as_bytes()).map_err(|source| Error {
            path: self.path.clone(),
            source,
        })
    }
}

fn check(body: &str) -> String {
    hex::encode(&Sha256::digest(body.as_bytes())[..8])
}

fn line(k: &Key, kind: &str, v: &Value) -> String {
    let dc = if v.dc { "+dc" } else { "" };
    let body = format!(
        "{} {kind}{dc} {} {}",
        hex::encode(k),
        v.quality,
        hex::encode(&v.bytes)
    );
    let c = check(&body);
    format!("{body} {c}\n")
}

fn parse_line(line: &[u8]) -> Option<(Key, Value)> {
    let text = std::str::from_utf8(line).ok()?;
    let (body, c) = text.rsplit_once(' ')?;
    if check(body) != c {
        return None;
    }
    let mut parts = body.split(' ');
    let k: Key = hex::decode(parts.next()?).ok()?.try_into().ok()?;
    let dc = parts.next()?.ends_with("+dc");
    let quality = parts.next()?.parse().ok()?;
    let bytes = hex::decode(parts.next()?).ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some((k, Value { bytes, quality, dc }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopening_and_corrupt_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let k1 = key(&[1; 32], "none", "pdq", "c");
        let k2 = key(&[1; 32], "jpeg:70", "pdq", "c");
        assert_ne!(k1, k2);
        assert_ne!(k1, key(&[1; 32], "none", "pdq", "d"));
        let v = Value {
            bytes: vec![0xab; 32],
            quality: 90,
            dc: false,
        };
        {
            let c = Cache::open(dir.path()).unwrap();
            assert!(c.is_empty());
            c.append(&[(k1, "pdq".into(), v.clone()), (k2, "pdq".into(), v.clone())])
                .unwrap();
        }
        let c = Cache::open(dir.path()).unwrap();
        assert_eq!((c.len(), c.corrupt_lines), (2, 0));
        assert_eq!(c.get(&k1), Some(&v));
        drop(c);
        // Flip one hex digit of the second record's value, and tear a third.
        let path = dir.path().join(FILE_NAME);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        lines[1] = lines[1].replacen("abab", "abac", 1);
        let torn = line(&k2, "pdq", &v);
        std::fs::write(&path, format!("{}\n{}", lines.join("\n"), &torn[..20])).unwrap();
        let c = Cache::open(dir.path()).unwrap();
        assert_eq!((c.len(), c.corrupt_lines), (1, 2));
        assert!(c.get(&k2).is_none());
        c.append(&[(k2, "pdq".into(), v.clone())]).unwrap();
        drop(c);
        let c = Cache::open(dir.path()).unwrap();
        assert_eq!(c.get(&k2), Some(&v));
        // The fast route's mark survives a round trip.
        let k3 = key(&[1; 32], "none", "pdq", "c;pdq_route=fast");
        let fast = Value { dc: true, ..v };
        c.append(&[(k3, "pdq".into(), fast.clone())]).unwrap();
        drop(c);
        assert_eq!(Cache::open(dir.path()).unwrap().get(&k3), Some(&fast));
    }
}
