//! Issuer keys: Ed25519 key pairs and their text files.
//!
//! A secret key file is three lines (plus `#` comments; the grammar every
//! key file follows is in [`crate::keys`]):
//!
//! ```text
//! cssim-ed25519-secret-v1
//! issuer: Demo issuer
//! 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60
//! ```
//!
//! and the public key file the same with `cssim-ed25519-public-v1` and the
//! public key. The issuer name travels with the key so that a hash set built
//! with it names its issuer without a separate flag. Secret files are written
//! with mode 0600, atomically; secrets are zeroized on drop and never printed
//! by `Debug`.

use std::fmt;
use std::path::Path;

use ed25519_dalek::{SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use super::{Error, Result};
use crate::keys::{self, KeyFile};

/// First line of a secret key file.
pub const SECRET_HEADER: &str = "cssim-ed25519-secret-v1";
/// First line of a public key file.
pub const PUBLIC_HEADER: &str = "cssim-ed25519-public-v1";
/// Longest issuer name, in characters.
pub const MAX_ISSUER_LEN: usize = 200;

/// The fingerprint of a public key ([`crate::keys::fingerprint`]).
pub fn fingerprint(key: &VerifyingKey) -> String {
    keys::fingerprint(key.as_bytes())
}

/// Checks an issuer name: 1–200 characters, no control characters (it is
/// written on one line of the key file and shown in tables).
pub fn check_issuer_name(name: &str) -> Result<()> {
    let bad = |reason: &str| Error::InvalidOption {
        option: "issuer",
        value: name.chars().take(80).collect(),
        reason: reason.to_string(),
    };
    if name.trim().is_empty() {
        return Err(bad("is empty"));
    }
    if name.chars().count() > MAX_ISSUER_LEN {
        return Err(bad("is longer than 200 characters"));
    }
    if name.chars().any(char::is_control) || name.trim() != name {
        return Err(bad("has control characters or surrounding spaces"));
    }
    Ok(())
}

/// An issuer's secret key with the issuer's name.
#[derive(Clone)]
pub struct SecretKey {
    issuer: String,
    key: SigningKey,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("issuer", &self.issuer)
            .field("fingerprint", &fingerprint(&self.key.verifying_key()))
            .finish_non_exhaustive()
    }
}

impl SecretKey {
    /// A fresh key from the operating system's random number generator.
    pub fn generate(issuer: &str) -> Result<SecretKey> {
        check_issuer_name(issuer)?;
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(|e| Error::Random(e.to_string()))?;
        Ok(SecretKey::from_parts(issuer, SigningKey::from_bytes(&seed)))
    }

    /// A key from an existing Ed25519 signing key (tests, demo keys).
    pub fn from_parts(issuer: &str, key: SigningKey) -> SecretKey {
        SecretKey {
            issuer: issuer.to_string(),
            key,
        }
    }

    /// The issuer's name.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The Ed25519 signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The matching public key.
    pub fn public(&self) -> IssuerKey {
        IssuerKey {
            issuer: self.issuer.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// The text of the key file.
    pub fn to_file_text(&self) -> Zeroizing<String> {
        let hex = keys::hex32(&self.key.to_bytes());
        Zeroizing::new(format!(
            "{SECRET_HEADER}\n# Ed25519 secret key of a cssim hash-set issuer. Keep it private.\nissuer: {}\n{}\n",
            self.issuer, *hex
        ))
    }

    /// Parses a key file's text; errors name `path`.
    pub fn parse(text: &str, path: &Path) -> Result<SecretKey> {
        let (issuer, bytes) = parse_key_file(text, path, SECRET_HEADER)?;
        Ok(SecretKey::from_parts(
            &issuer,
            SigningKey::from_bytes(&bytes),
        ))
    }

    /// Reads a key file, refusing one that group or others may read (as
    /// identity keys are: [`crate::keys::read_secret_text`]).
    pub fn read(path: &Path) -> Result<SecretKey> {
        let text = keys::read_secret_text(path).map_err(key_err(path))?;
        SecretKey::parse(&text, path)
    }

    /// Writes the key file (mode 0600, atomically). Refuses to replace an
    /// existing file: overwriting an issuer key loses it for good.
    pub fn write(&self, path: &Path) -> Result<()> {
        keys::refuse_existing(path).map_err(key_err(path))?;
        Ok(crate::files::write_atomic(
            path,
            self.to_file_text().as_bytes(),
            true,
        )?)
    }
}

/// An issuer's public key with the issuer's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerKey {
    /// The issuer's name.
    pub issuer: String,
    /// The Ed25519 verifying key.
    pub key: VerifyingKey,
}

impl IssuerKey {
    /// The key's fingerprint (see [`fingerprint`]).
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.key)
    }

    /// The text of the key file.
    pub fn to_file_text(&self) -> String {
        format!(
            "{PUBLIC_HEADER}\n# fingerprint {}\nissuer: {}\n{}\n",
            self.fingerprint(),
            self.issuer,
            hex::encode(self.key.as_bytes())
        )
    }

    /// Parses a key file's text; errors name `path`.
    pub fn parse(text: &str, path: &Path) -> Result<IssuerKey> {
        let (issuer, bytes) = parse_key_file(text, path, PUBLIC_HEADER)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| Error::Key {
            path: path.to_path_buf(),
            reason: "not a valid Ed25519 public key".into(),
        })?;
        Ok(IssuerKey { issuer, key })
    }

    /// Reads a key file.
    pub fn read(path: &Path) -> Result<IssuerKey> {
        let text = keys::read_text(path).map_err(key_err(path))?;
        IssuerKey::parse(&text, path)
    }

    /// Writes the key file atomically; refuses to replace an existing file.
    pub fn write(&self, path: &Path) -> Result<()> {
        keys::refuse_existing(path).map_err(key_err(path))?;
        Ok(crate::files::write_atomic(
            path,
            self.to_file_text().as_bytes(),
            false,
        )?)
    }
}

fn key_err(path: &Path) -> impl FnOnce(String) -> Error + '_ {
    move |reason| Error::Key {
        path: path.to_path_buf(),
        reason,
    }
}

/// Parses `header`, `issuer: NAME`, 64 hex digits, by the grammar of
/// [`crate::keys`] (`#` comments and blank lines skipped). Returns the
/// issuer and the 32 key bytes.
fn parse_key_file(text: &str, path: &Path, header: &str) -> Result<(String, Zeroizing<[u8; 32]>)> {
    let bad = key_err(path);
    let mut file = KeyFile::parse(text);
    match file.header() {
        h if h == header => {}
        SECRET_HEADER => {
            return Err(bad(
                "is a secret key; pass the public key file (KEY.pub)".into()
            ));
        }
        PUBLIC_HEADER => {
            return Err(bad("is a public key; pass the secret key file".into()));
        }
        _ => return Err(bad(file.expect_header(&[header]).unwrap_err())),
    }
    let parsed = (|| {
        let issuer = file.named("issuer")?.to_string();
        check_issuer_name(&issuer).map_err(|e| e.to_string())?;
        let bytes = file.key32()?;
        file.finish()?;
        Ok((issuer, bytes))
    })();
    parsed.map_err(key_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> SecretKey {
        SecretKey::from_parts("Demo issuer", SigningKey::from_bytes(&[7u8; 32]))
    }

    #[test]
    fn key_files_round_trip_and_name_the_issuer() {
        let dir = tempfile::tempdir().unwrap();
        let k = SecretKey::generate("Test issuer").unwrap();
        let sp = dir.path().join("k");
        let pp = dir.path().join("k.pub");
        k.write(&sp).unwrap();
        k.public().write(&pp).unwrap();
        let k2 = SecretKey::read(&sp).unwrap();
        assert_eq!(k2.signing_key().to_bytes(), k.signing_key().to_bytes());
        assert_eq!(k2.issuer(), "Test issuer");
        assert_eq!(IssuerKey::read(&pp).unwrap(), k.public());
        assert!(k.write(&sp).unwrap_err().to_string().contains("refusing"));
    }

    #[test]
    fn fingerprint_is_16_hex_of_sha256() {
        let fp = demo().public().fingerprint();
        let full = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            demo().public().key.as_bytes(),
        ));
        assert_eq!(fp, full[..16]);
    }

    #[test]
    fn corrupt_and_swapped_files_are_named() {
        let p = Path::new("issuer.key");
        let e = SecretKey::parse("hello\n", p).unwrap_err().to_string();
        assert_eq!(
            e,
            "issuer.key: not a key file (expected the line cssim-ed25519-secret-v1)"
        );
        let public_text = demo().public().to_file_text();
        let e = SecretKey::parse(&public_text, p).unwrap_err().to_string();
        assert!(e.contains("is a public key"), "{e}");
        let secret_text = demo().to_file_text();
        let e = IssuerKey::parse(&secret_text, p).unwrap_err().to_string();
        assert!(e.contains("is a secret key"), "{e}");
        let cut = secret_text.replace(&hex::encode([7u8; 32])[..10], "zz");
        assert!(SecretKey::parse(&cut, p).is_err());
        let e = SecretKey::read(Path::new("/nonexistent/k")).unwrap_err();
        assert_eq!(e.to_string(), "/nonexistent/k: no such file");
    }

    #[test]
    fn debug_does_not_print_the_secret() {
        let s = format!("{:?}", demo());
        assert!(!s.contains(&hex::encode([7u8; 32])));
        assert!(s.contains("Demo issuer"));
    }

    #[test]
    fn issuer_names_are_one_line() {
        assert!(SecretKey::generate("a\nb").is_err());
        assert!(SecretKey::generate("").is_err());
    }
}
