//! Keys: fingerprints and key files, for every kind of key cssim keeps
//! (identities, hash-set issuers, and whatever comes next).
//!
//! # Key files
//!
//! Every key file follows one grammar:
//!
//! - UTF-8 text, one item a line; each line is trimmed of surrounding white
//!   space (so `\r\n` line ends read too);
//! - blank lines and lines starting with `#` are comments, skipped wherever
//!   they are;
//! - the first remaining line is the **header**, naming the format and its
//!   version (`cssim-<kind>-<secret|public>-v<N>`);
//! - then the format's fields, in a fixed order, one a line: a 32-byte key
//!   as 64 hex digits, or a `name: value` line;
//! - nothing after the last field (except that a reader taking only the
//!   X25519 key of an identity's public file reads the first field of
//!   either version and stops).
//!
//! | header | fields |
//! |---|---|
//! | `cssim-x25519-secret-v1` | X25519 secret |
//! | `cssim-identity-public-v2` | X25519 public, Ed25519 public |
//! | `cssim-x25519-public-v1` (read only) | X25519 public |
//! | `cssim-ed25519-secret-v1` | `issuer: NAME`, Ed25519 secret |
//! | `cssim-ed25519-public-v1` | `issuer: NAME`, Ed25519 public |
//!
//! Issuer key files are written with a `#` comment line after the header;
//! identity files with none. Secret files are written with mode 0600,
//! atomically ([`crate::files::write_atomic`]) and refused when read if
//! group or others may read them ([`read_secret_text`]).
//!
//! # Fingerprints
//!
//! A public key's fingerprint is the first 16 hex digits of SHA-256 of its
//! bytes ([`fingerprint`]), for every kind of key.

use std::path::Path;

use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// The fingerprint of a public key: the first 16 hex digits (8 bytes) of
/// SHA-256 of its bytes.
pub fn fingerprint(public_key: &[u8]) -> String {
    hex::encode(&Sha256::digest(public_key)[..8])
}

/// A key file's text split by the grammar in the [module docs](self): the
/// header, then the fields, read in order. Errors are reasons for the
/// caller to put next to the file's name.
#[derive(Debug)]
pub struct KeyFile<'a> {
    header: &'a str,
    fields: std::vec::IntoIter<&'a str>,
}

impl<'a> KeyFile<'a> {
    /// Splits `text`; comments and blank lines are dropped. A file with no
    /// line at all has the empty header.
    pub fn parse(text: &'a str) -> KeyFile<'a> {
        let mut lines = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        let header = lines.next().unwrap_or("");
        KeyFile {
            header,
            fields: lines.collect::<Vec<_>>().into_iter(),
        }
    }

    /// The header line.
    pub fn header(&self) -> &'a str {
        self.header
    }

    /// Checks that the header is one of `accepted` (the first is the one
    /// named in the error) and returns it.
    pub fn expect_header(&self, accepted: &[&str]) -> Result<&'a str, String> {
        let expected = accepted.first().copied().unwrap_or("");
        if accepted.contains(&self.header) {
            Ok(self.header)
        } else if self.header.starts_with("cssim-") {
            Err(format!("expected a {expected} file, found {}", self.header))
        } else {
            Err(format!("not a key file (expected the line {expected})"))
        }
    }

    /// The next field, a 32-byte key as 64 hex digits.
    pub fn key32(&mut self) -> Result<Zeroizing<[u8; 32]>, String> {
        let line = self
            .fields
            .next()
            .ok_or_else(|| "missing the key line (64 hex digits)".to_string())?;
        let bytes = Zeroizing::new(hex::decode(line).map_err(|_| "key is not hex".to_string())?);
        <[u8; 32]>::try_from(bytes.as_slice())
            .map(Zeroizing::new)
            .map_err(|_| format!("key has {} bytes, expected 32", bytes.len()))
    }

    /// The next field, a `name: value` line; returns the value, trimmed.
    pub fn named(&mut self, name: &str) -> Result<&'a str, String> {
        self.fields
            .next()
            .and_then(|l| l.strip_prefix(name))
            .and_then(|l| l.strip_prefix(':'))
            .map(str::trim)
            .ok_or_else(|| format!("missing '{name}: …' line"))
    }

    /// Checks that no field is left.
    pub fn finish(mut self) -> Result<(), String> {
        match self.fields.next() {
            None => Ok(()),
            Some(_) => Err("unexpected text after the key line".into()),
        }
    }
}

/// Reads a key file's text (zeroized when dropped); the error is the reason.
pub fn read_text(path: &Path) -> Result<Zeroizing<String>, String> {
    let bytes = std::fs::read(path).map_err(|e| crate::files::describe_io_error(&e))?;
    String::from_utf8(bytes)
        .map(Zeroizing::new)
        .map_err(|_| "not a key file (not UTF-8 text)".into())
}

/// Reads a secret key file's text, first refusing a file that group or
/// others may read ([`crate::files::check_private`]).
pub fn read_secret_text(path: &Path) -> Result<Zeroizing<String>, String> {
    crate::files::check_private(path)?;
    read_text(path)
}

/// Refuses to write over an existing key: overwriting one loses it for good.
pub(crate) fn refuse_existing(path: &Path) -> Result<(), String> {
    if path.exists() {
        return Err("already exists; refusing to overwrite a key".into());
    }
    Ok(())
}

/// Formats a 32-byte key as the 64 hex digits of its line, zeroized when
/// dropped (for secrets).
pub(crate) fn hex32(key: &[u8; 32]) -> Zeroizing<String> {
    let mut buf = Zeroizing::new([0u8; 64]);
    hex::encode_to_slice(key, buf.as_mut()).expect("64 hex digits for 32 bytes");
    Zeroizing::new(buf.iter().map(|&b| char::from(b)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_16_hex_of_sha256() {
        let key = [7u8; 32];
        let full = hex::encode(Sha256::digest(key));
        assert_eq!(fingerprint(&key), full[..16]);
    }

    #[test]
    fn comments_and_blank_lines_are_skipped_anywhere() {
        let text = "# a comment\n\ncssim-test-v1\r\n  # another\nname: x y \n\n00\n";
        let mut f = KeyFile::parse(text);
        assert_eq!(
            f.expect_header(&["cssim-test-v1"]).unwrap(),
            "cssim-test-v1"
        );
        assert_eq!(f.named("name").unwrap(), "x y");
        assert_eq!(f.key32().unwrap_err(), "key has 1 bytes, expected 32");
        f.finish().unwrap();
    }

    #[test]
    fn every_field_error_is_a_reason() {
        let f = KeyFile::parse("hello\n");
        assert_eq!(
            f.expect_header(&["cssim-a-v1"]).unwrap_err(),
            "not a key file (expected the line cssim-a-v1)"
        );
        let f = KeyFile::parse("cssim-b-v1\n");
        assert_eq!(
            f.expect_header(&["cssim-a-v1", "cssim-c-v1"]).unwrap_err(),
            "expected a cssim-a-v1 file, found cssim-b-v1"
        );
        assert_eq!(KeyFile::parse("").header(), "");
        let mut f = KeyFile::parse("cssim-a-v1\nzz\nnope\n");
        assert_eq!(f.key32().unwrap_err(), "key is not hex");
        assert_eq!(f.named("issuer").unwrap_err(), "missing 'issuer: …' line");
        assert_eq!(
            f.key32().unwrap_err(),
            "missing the key line (64 hex digits)"
        );
        let mut f = KeyFile::parse("cssim-a-v1\nab\ncd\n");
        f.key32().unwrap_err();
        assert_eq!(
            f.finish().unwrap_err(),
            "unexpected text after the key line"
        );
    }

    #[test]
    fn hex32_is_the_key_line() {
        let key = [0xabu8; 32];
        let line = hex32(&key);
        assert_eq!(*line, hex::encode(key));
        let mut f = KeyFile::parse(&line);
        // The header is the first line; a file of only a key line has no field.
        assert_eq!(f.header(), &*line);
        assert!(f.key32().is_err());
    }

    /// Every key file the project ever committed still reads.
    #[test]
    fn committed_demo_issuer_keys_read() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("hashsets");
        for (name, header) in [
            ("demo-issuer.key", "cssim-ed25519-secret-v1"),
            ("demo-issuer.key.pub", "cssim-ed25519-public-v1"),
        ] {
            let text = read_text(&root.join(name)).unwrap();
            let mut f = KeyFile::parse(&text);
            assert_eq!(f.expect_header(&[header]).unwrap(), header);
            assert_eq!(
                f.named("issuer").unwrap(),
                "cssim demo issuer (DEMO KEY, public on purpose)"
            );
            f.key32().unwrap();
            f.finish().unwrap();
        }
    }
}
