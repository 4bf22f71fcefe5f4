//! The hash-set file: its byte layout and the checks a reader runs before it
//! trusts a byte.
//!
//! ```text
//! offset  size        field
//! 0       8           magic "CSSIMHS\0"
//! 8       2           format version, u16 little-endian (1, or 2 when the
//!                     manifest records non-default hashing; see below)
//! 10      2           section count n, u16 LE (1..=3)
//! 12      12·n        section table: per section a 4-byte tag and a u64 LE length
//! …       Σ lengths   section payloads, in table order:
//!                       "MANI" manifest (JSON, required, first)
//!                       "LIST" list section (optional, see `list`)
//!                       "BLOM" bloom section (optional, after LIST; see `bloom`)
//! end-64  64          Ed25519 signature over every byte before it
//! ```
//!
//! A reader checks, in order: the magic, the version, the section table and
//! every length against the bytes actually present (naming the section where
//! the file ends early), the signature against the issuer key the *caller*
//! expects, and only then parses the manifest and sections. The signature
//! covers the magic and the table too, so no byte of the file is unsigned.
//!
//! Version 2 is version 1 whose manifest records how images were hashed
//! ([`Hashing`](super::manifest::Hashing)) other than by default. It exists
//! so that a build from before that record refuses such a set ("unsupported
//! version 2") instead of ignoring the field and hashing differently, which
//! would never match. Sets hashed the default way stay version 1, byte for
//! byte as before.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use super::manifest::Manifest;
use super::sign::fingerprint;
use super::{Error, Result};
use crate::hash::Algorithm;

/// The first eight bytes of every hash-set file.
pub const MAGIC: &[u8; 8] = b"CSSIMHS\0";
/// The highest format version this build reads (it reads 1 and 2).
pub const VERSION: u16 = 2;
/// The version of a set whose manifest records the default hashing.
pub const VERSION_DEFAULT_HASHING: u16 = 1;
/// The length of the trailing Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
const HEADER_LEN: usize = 12;
const TABLE_ENTRY_LEN: usize = 12;

/// A section of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SectionKind {
    /// The JSON manifest.
    Manifest,
    /// Exact entries with labels.
    List,
    /// Bloom filters.
    Bloom,
}

impl SectionKind {
    /// The 4-byte tag in the section table.
    pub fn tag(self) -> [u8; 4] {
        match self {
            SectionKind::Manifest => *b"MANI",
            SectionKind::List => *b"LIST",
            SectionKind::Bloom => *b"BLOM",
        }
    }

    /// The name used in messages (`truncated at section list`).
    pub fn name(self) -> &'static str {
        match self {
            SectionKind::Manifest => "manifest",
            SectionKind::List => "list",
            SectionKind::Bloom => "bloom",
        }
    }

    fn from_tag(tag: [u8; 4]) -> Option<SectionKind> {
        [SectionKind::Manifest, SectionKind::List, SectionKind::Bloom]
            .into_iter()
            .find(|k| k.tag() == tag)
    }
}

/// A file whose structure has been checked: the sections' bytes, in order.
#[derive(Debug)]
pub struct Container<'a> {
    /// The format version (1 or 2).
    pub version: u16,
    /// The sections, manifest first.
    pub sections: Vec<(SectionKind, &'a [u8])>,
    /// Every byte the signature covers.
    pub signed: &'a [u8],
    /// The signature.
    pub signature: [u8; SIGNATURE_LEN],
}

impl<'a> Container<'a> {
    /// The payload of `kind`, if present.
    pub fn section(&self, kind: SectionKind) -> Option<&'a [u8]> {
        self.sections
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, b)| *b)
    }
}

/// Lays out `sections` (manifest first) as format version 1 and signs the result.
#[cfg(test)]
pub fn encode(sections: &[(SectionKind, &[u8])], key: &SigningKey) -> Vec<u8> {
    encode_version(sections, key, VERSION_DEFAULT_HASHING)
}

/// [`encode`] with the format version given.
pub fn encode_version(
    sections: &[(SectionKind, &[u8])],
    key: &SigningKey,
    version: u16,
) -> Vec<u8> {
    let payload: usize = sections.iter().map(|(_, b)| b.len()).sum();
    let mut out =
        Vec::with_capacity(HEADER_LEN + TABLE_ENTRY_LEN * sections.len() + payload + SIGNATURE_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(sections.len() as u16).to_le_bytes());
    for (kind, bytes) in sections {
        out.extend_from_slice(&kind.tag());
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    }
    for (_, bytes) in sections {
        out.extend_from_slice(bytes);
    }
    let signature = key.sign(&out);
    out.extend_from_slice(&signature.to_bytes());
    out
}

/// Checks magic, version, section table and lengths — everything but the
/// signature. Nothing returned here is trustworthy yet.
pub fn parse_structure(bytes: &[u8]) -> Result<Container<'_>> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        // A prefix of the magic is a truncated file, not a foreign one.
        return Err(if MAGIC.starts_with(bytes) {
            Error::Truncated { section: "header" }
        } else {
            Error::BadMagic
        });
    }
    let version = read_u16(bytes, 8).ok_or(Error::Truncated { section: "header" })?;
    if !(1..=VERSION).contains(&version) {
        return Err(Error::UnsupportedVersion {
            found: version,
            supported: VERSION,
        });
    }
    let count = read_u16(bytes, 10).ok_or(Error::Truncated { section: "header" })? as usize;
    if !(1..=3).contains(&count) {
        return Err(Error::BadSectionTable {
            reason: format!("{count} sections (expected 1 to 3)"),
        });
    }
    let table_end = HEADER_LEN + TABLE_ENTRY_LEN * count;
    if bytes.len() < table_end {
        return Err(Error::Truncated {
            section: "section table",
        });
    }
    let mut sections = Vec::with_capacity(count);
    let mut offset = table_end;
    for i in 0..count {
        let at = HEADER_LEN + TABLE_ENTRY_LEN * i;
        let mut tag = [0u8; 4];
        tag.copy_from_slice(&bytes[at..at + 4]);
        let kind = SectionKind::from_tag(tag).ok_or_else(|| Error::BadSectionTable {
            reason: format!("unknown section tag {:?}", String::from_utf8_lossy(&tag)),
        })?;
        let expected_first = i == 0;
        let in_order = sections.last().is_none_or(|(prev, _)| *prev < kind);
        if expected_first != (kind == SectionKind::Manifest) || !in_order {
            return Err(Error::BadSectionTable {
                reason: format!(
                    "section {} out of order (expected manifest, then list and/or bloom)",
                    kind.name()
                ),
            });
        }
        let len = read_u64(bytes, at + 4).ok_or(Error::Truncated {
            section: "section table",
        })?;
        // Compare in u64 so that a huge declared length cannot wrap.
        let available = (bytes.len() - offset) as u64;
        if len > available {
            return Err(Error::Truncated {
                section: kind.name(),
            });
        }
        let end = offset + len as usize;
        sections.push((kind, &bytes[offset..end]));
        offset = end;
    }
    let rest = bytes.len() - offset;
    if rest < SIGNATURE_LEN {
        return Err(Error::Truncated {
            section: "signature",
        });
    }
    if rest > SIGNATURE_LEN {
        return Err(Error::TrailingBytes {
            count: (rest - SIGNATURE_LEN) as u64,
        });
    }
    let mut signature = [0u8; SIGNATURE_LEN];
    signature.copy_from_slice(&bytes[offset..]);
    Ok(Container {
        version,
        sections,
        signed: &bytes[..offset],
        signature,
    })
}

/// Checks the structure and the signature under `issuer`.
pub fn verify<'a>(bytes: &'a [u8], issuer: &VerifyingKey) -> Result<Container<'a>> {
    let container = parse_structure(bytes)?;
    let signature = Signature::from_bytes(&container.signature);
    // verify_strict also refuses malleable signatures and weak keys.
    if issuer.verify_strict(container.signed, &signature).is_err() {
        let claimed = container
            .section(SectionKind::Manifest)
            .and_then(|m| serde_json::from_slice::<Manifest>(m).ok())
            .map(|m| m.issuer.fingerprint);
        let expected = fingerprint(issuer);
        if claimed.as_deref() == Some(expected.as_str()) {
            return Err(Error::ChangedAfterSigning {
                fingerprint: expected,
            });
        }
        return Err(Error::SignatureInvalid { expected, claimed });
    }
    Ok(container)
}

/// What `cssim hashset info` shows: the structure and manifest of a file
/// whose signature has **not** been verified.
#[derive(Clone, Debug)]
pub struct Inspection {
    /// The manifest as the file states it (unverified).
    pub manifest: Manifest,
    /// Each section and its length in bytes.
    pub sections: Vec<(SectionKind, u64)>,
    /// The file's length.
    pub file_bytes: u64,
}

/// Reads the structure and manifest without checking the signature.
pub fn inspect(bytes: &[u8]) -> Result<Inspection> {
    let container = parse_structure(bytes)?;
    let manifest = parse_manifest(&container)?;
    Ok(Inspection {
        manifest,
        sections: container
            .sections
            .iter()
            .map(|(k, b)| (*k, b.len() as u64))
            .collect(),
        file_bytes: bytes.len() as u64,
    })
}

/// Parses the manifest section's JSON.
pub fn parse_manifest(container: &Container<'_>) -> Result<Manifest> {
    let bytes = container
        .section(SectionKind::Manifest)
        .ok_or_else(|| Error::Manifest {
            reason: "missing".into(),
        })?;
    serde_json::from_slice(bytes).map_err(|e| Error::Manifest {
        reason: e.to_string(),
    })
}

/// The stable one-byte code of an algorithm inside sections. Fixed here
/// rather than taken from [`Algorithm::ALL`]'s order, which may change.
pub(crate) fn algorithm_code(a: Algorithm) -> u8 {
    match a {
        Algorithm::Pdq => 1,
        Algorithm::Phash => 2,
        Algorithm::Dhash => 3,
        Algorithm::Ahash => 4,
        Algorithm::Sha256 => 5,
        Algorithm::Md5 => 6,
        Algorithm::Text => 7,
    }
}

/// The algorithm with section code `code`.
pub(crate) fn algorithm_from_code(code: u8) -> Option<Algorithm> {
    Algorithm::ALL
        .into_iter()
        .find(|&a| algorithm_code(a) == code)
}

fn read_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn read_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// A cursor over a signed section's bytes: every read checks the remaining
/// length and names the section, so a count can never make the reader
/// allocate or index past what is there.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    section: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], section: &'static str) -> Reader<'a> {
        Reader { bytes, section }
    }

    pub(crate) fn error(&self, reason: impl Into<String>) -> Error {
        Error::Section {
            section: self.section,
            reason: reason.into(),
        }
    }

    pub(crate) fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8]> {
        if n > self.bytes.len() as u64 {
            return Err(self.error(format!(
                "{what} needs {n} bytes, only {} left",
                self.bytes.len()
            )));
        }
        let (head, tail) = self.bytes.split_at(n as usize);
        self.bytes = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &str) -> Result<u16> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self, what: &str) -> Result<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u64(&mut self, what: &str) -> Result<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_le_bytes(a))
    }

    pub(crate) fn finish(self) -> Result<()> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(self.error(format!("{} unexpected bytes at the end", self.bytes.len())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[1u8; 32])
    }

    #[test]
    fn layout_is_as_documented() {
        let f = encode(
            &[(SectionKind::Manifest, b"{}"), (SectionKind::List, b"xyz")],
            &key(),
        );
        assert_eq!(&f[..8], MAGIC);
        assert_eq!(&f[8..12], &[1, 0, 2, 0]);
        assert_eq!(&f[12..16], b"MANI");
        assert_eq!(&f[16..24], &2u64.to_le_bytes());
        assert_eq!(&f[24..28], b"LIST");
        assert_eq!(&f[36..41], b"{}xyz");
        assert_eq!(f.len(), 41 + 64);
        let c = verify(&f, &key().verifying_key()).unwrap();
        assert_eq!(c.section(SectionKind::List), Some(&b"xyz"[..]));
    }

    #[test]
    fn version_and_order_errors_are_specific() {
        let mut f = encode(&[(SectionKind::Manifest, b"{}")], &key());
        f[8] = 3;
        assert_eq!(
            parse_structure(&f).unwrap_err().to_string(),
            "unsupported version 3 (this build reads 1 to 2)"
        );
        let f = encode(
            &[(SectionKind::List, b"x"), (SectionKind::Manifest, b"{}")],
            &key(),
        );
        assert!(matches!(
            parse_structure(&f),
            Err(Error::BadSectionTable { .. })
        ));
        assert!(matches!(parse_structure(b"GIF89a.."), Err(Error::BadMagic)));
        assert!(matches!(
            parse_structure(b"CSSI"),
            Err(Error::Truncated { section: "header" })
        ));
    }

    #[test]
    fn huge_lengths_do_not_wrap() {
        let mut f = encode(&[(SectionKind::Manifest, b"{}")], &key());
        f[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(
            parse_structure(&f).unwrap_err().to_string(),
            "truncated at section manifest"
        );
    }
}
