//! Identities (an X25519 key for encryption and an Ed25519 key for
//! signatures) and their key files.
//!
//! One 32-byte secret makes both keys: the X25519 secret is the secret
//! itself, the Ed25519 signing key is derived from it with HKDF-SHA256. So
//! the two public keys are bound to each other by construction, and an older
//! key file (X25519 only) gains its signing key without a new file.
//!
//! Files are text: a header line naming the format, then hex (the grammar
//! every key file follows, `#` comments included, is in [`crate::keys`]).
//! ```text
//! cssim-x25519-secret-v1     cssim-identity-public-v2    (cssim-x25519-public-v1)
//! <64 hex: X25519 secret>    <64 hex: X25519 public>     <64 hex: X25519 public>
//!                            <64 hex: Ed25519 public>
//! ```
//! Secret files are created with mode 0600, atomically (a temporary file in
//! the same folder, then a rename), and are refused when read if group or
//! others may read them, as OpenSSH refuses such keys. A public key's
//! fingerprint is the first 16 hex digits of SHA-256 of its 32 bytes
//! ([`crate::keys::fingerprint`]).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Mutex;

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};
use x25519_dalek::{PublicKey as XPublic, StaticSecret};
use zeroize::Zeroizing;

use super::Error;
use crate::keys::{self, KeyFile};

const SECRET_HEADER: &str = "cssim-x25519-secret-v1";
const PUBLIC_HEADER_V1: &str = "cssim-x25519-public-v1";
const PUBLIC_HEADER: &str = "cssim-identity-public-v2";
/// HKDF `info` deriving the Ed25519 seed from the X25519 secret.
const SIGNING_INFO: &[u8] = b"cssim identity v1: ed25519 signing key";

/// An identity: an X25519 key pair and the Ed25519 signing key derived from
/// it. Secrets are zeroized on drop and never printed.
pub struct Identity {
    secret: StaticSecret,
    public: PublicKey,
    signing: SigningKey,
    /// Static–static Diffie–Hellman results per peer key (zeroized on drop):
    /// HPKE Auth mode needs `DH(own secret, peer)` for every message, and it
    /// never changes for a given peer.
    static_cache: Mutex<HashMap<[u8; 32], Zeroizing<[u8; 32]>>>,
}

/// Peers remembered in the static–static cache before it is emptied.
const STATIC_CACHE_MAX: usize = 4096;

/// An X25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(XPublic);

impl PublicKey {
    /// From its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> PublicKey {
        PublicKey(XPublic::from(bytes))
    }

    /// Its 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The first 16 hex digits of SHA-256 of the key ([`keys::fingerprint`]).
    pub fn fingerprint(&self) -> String {
        keys::fingerprint(self.0.as_bytes())
    }

    pub(crate) fn x25519(&self) -> &XPublic {
        &self.0
    }

    /// Reads the X25519 key of a public key file (either format).
    pub fn read(path: &Path) -> Result<PublicKey, Error> {
        let text = keys::read_text(path).map_err(|r| key_err(path, r))?;
        let mut file = KeyFile::parse(&text);
        let x = (|| {
            file.expect_header(&[PUBLIC_HEADER, PUBLIC_HEADER_V1])?;
            file.key32()
        })()
        .map_err(|r| key_err(path, r))?;
        Ok(PublicKey::from_bytes(*x))
    }
}

/// An Ed25519 public key: verifies what an [`Identity`] signs.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct VerifyKey([u8; 32]);

impl VerifyKey {
    /// From its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> VerifyKey {
        VerifyKey(bytes)
    }

    /// Its 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// The first 16 hex digits of SHA-256 of the key ([`keys::fingerprint`]).
    pub fn fingerprint(&self) -> String {
        keys::fingerprint(&self.0)
    }

    /// Checks `signature` over `message` (strict verification: no
    /// malleable or small-order encodings).
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> Result<(), Error> {
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| Error::BadSignature)?;
        let sig = ed25519_dalek::Signature::from_bytes(signature);
        key.verify_strict(message, &sig)
            .map_err(|_| Error::BadSignature)
    }
}

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyKey({})", self.fingerprint())
    }
}

/// The public half of an [`Identity`]: what a relay's directory holds and a
/// peer pins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PublicIdentity {
    /// Encrypts to the identity (HPKE).
    pub x25519: PublicKey,
    /// Verifies its signatures (requests, reports).
    pub ed25519: VerifyKey,
}

impl PublicIdentity {
    /// Writes the public key file (both keys).
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let text = format!(
            "{PUBLIC_HEADER}\n{}\n{}\n",
            hex::encode(self.x25519.to_bytes()),
            hex::encode(self.ed25519.to_bytes())
        );
        write_file(path, text.as_bytes(), false)
    }

    /// Reads a public key file with both keys.
    pub fn read(path: &Path) -> Result<PublicIdentity, Error> {
        let text = keys::read_text(path).map_err(|r| key_err(path, r))?;
        let mut file = KeyFile::parse(&text);
        let (x, e) = (|| {
            file.expect_header(&[PUBLIC_HEADER])?;
            let x = file.key32()?;
            let e = file.key32()?;
            Ok::<_, String>((x, e))
        })()
        .map_err(|r| key_err(path, r))?;
        file.finish().map_err(|r| key_err(path, r))?;
        Ok(PublicIdentity {
            x25519: PublicKey::from_bytes(*x),
            ed25519: VerifyKey(*e),
        })
    }

    /// The safety number two parties compare to check each other's keys
    /// out of band: 60 digits in groups of five, the same from both sides.
    pub fn safety_number(&self, other: &PublicIdentity) -> String {
        let mut halves = [self.key_bytes(), other.key_bytes()];
        halves.sort();
        let digest = Sha256::new()
            .chain_update(b"cssim safety number v1")
            .chain_update(halves[0])
            .chain_update(halves[1])
            .finalize();
        // 12 groups of 5 digits, each from 5 bytes of the digest (mod 10^5).
        let mut groups = Vec::with_capacity(12);
        let stretched: Vec<u8> = digest
            .iter()
            .chain(Sha256::digest(digest).iter())
            .copied()
            .collect();
        for chunk in stretched.chunks(5).take(12) {
            let mut v = 0u64;
            for b in chunk {
                v = (v << 8) | u64::from(*b);
            }
            groups.push(format!("{:05}", v % 100_000));
        }
        groups.join(" ")
    }

    fn key_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&self.x25519.to_bytes());
        out[32..].copy_from_slice(&self.ed25519.to_bytes());
        out
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint())
    }
}

impl Identity {
    /// A fresh key pair from the operating system's random source.
    ///
    /// # Panics
    /// If the operating system has no working random source.
    pub fn generate() -> Identity {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut *bytes).expect("the operating system's random source failed");
        Identity::from_secret_bytes(bytes)
    }

    /// The identity a stored 32-byte secret makes (the relay keeps its
    /// receipt-signing secret in its database).
    pub fn from_secret(secret: &[u8; 32]) -> Identity {
        Identity::from_secret_bytes(Zeroizing::new(*secret))
    }

    /// The 32-byte secret, for storing it elsewhere than a key file.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.secret.to_bytes())
    }

    fn from_secret_bytes(bytes: Zeroizing<[u8; 32]>) -> Identity {
        let secret = StaticSecret::from(*bytes);
        let public = PublicKey(XPublic::from(&secret));
        let mut seed = Zeroizing::new([0u8; 32]);
        hkdf::Hkdf::<Sha256>::new(None, &*bytes)
            .expand(SIGNING_INFO, &mut *seed)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Identity {
            secret,
            public,
            signing: SigningKey::from_bytes(&seed),
            static_cache: Mutex::new(HashMap::new()),
        }
    }

    /// The X25519 public key (what messages are encrypted to).
    pub fn public(&self) -> PublicKey {
        self.public
    }

    /// Both public keys.
    pub fn public_identity(&self) -> PublicIdentity {
        PublicIdentity {
            x25519: self.public,
            ed25519: self.verify_key(),
        }
    }

    /// The Ed25519 public key.
    pub fn verify_key(&self) -> VerifyKey {
        VerifyKey(self.signing.verifying_key().to_bytes())
    }

    /// Signs `message` with the Ed25519 key.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    pub(crate) fn secret(&self) -> &StaticSecret {
        &self.secret
    }

    /// `DH(own secret, peer)`, computed once per peer and then remembered.
    pub(crate) fn static_dh(&self, peer: &PublicKey) -> Result<Zeroizing<[u8; 32]>, Error> {
        let key = peer.to_bytes();
        let mut cache = self.static_cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = cache.get(&key) {
            return Ok(v.clone());
        }
        let v = super::hpke::static_dh(&self.secret, peer.x25519())?;
        if cache.len() >= STATIC_CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, v.clone());
        Ok(v)
    }

    /// Writes the secret key file (mode 0600, atomically). Every copy of
    /// the secret made on the way (the hex, the file text) is zeroized.
    pub fn write_secret(&self, path: &Path) -> Result<(), Error> {
        let hex = keys::hex32(self.secret.as_bytes());
        let text = Zeroizing::new(format!("{SECRET_HEADER}\n{}\n", *hex));
        write_file(path, text.as_bytes(), true)
    }

    /// Reads a secret key file, refusing one that group or others may read.
    pub fn read_secret(path: &Path) -> Result<Identity, Error> {
        let text = keys::read_secret_text(path).map_err(|r| key_err(path, r))?;
        let mut file = KeyFile::parse(&text);
        let bytes = (|| {
            file.expect_header(&[SECRET_HEADER])?;
            file.key32()
        })()
        .map_err(|r| key_err(path, r))?;
        file.finish().map_err(|r| key_err(path, r))?;
        Ok(Identity::from_secret_bytes(bytes))
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity(public {})", self.public.fingerprint())
    }
}

fn key_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::KeyFile {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Writes atomically ([`crate::files`]), creating the folder; `private`
/// files get mode 0600 from creation.
fn write_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), Error> {
    let named = |e: crate::files::WriteError| {
        let reason = crate::files::describe_io_error(&e.source);
        key_err(&e.path, reason)
    };
    crate::files::create_parent(path).map_err(named)?;
    crate::files::write_atomic(path, bytes, private).map_err(named)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_round_trip_and_secret_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let id = Identity::generate();
        let sk = dir.path().join("a.key");
        id.write_secret(&sk).unwrap();
        id.public_identity()
            .write(&dir.path().join("a.pub"))
            .unwrap();
        let back = Identity::read_secret(&sk).unwrap();
        assert_eq!(back.public(), id.public());
        assert_eq!(back.verify_key(), id.verify_key(), "derived the same way");
        assert_eq!(
            PublicKey::read(&dir.path().join("a.pub")).unwrap(),
            id.public()
        );
        assert_eq!(
            PublicIdentity::read(&dir.path().join("a.pub")).unwrap(),
            id.public_identity()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&sk).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let debug = format!("{id:?}");
        assert!(
            !debug.contains(&hex::encode(id.secret.as_bytes())),
            "{debug}"
        );
        assert!(debug.contains(&id.public().fingerprint()));
    }

    #[test]
    fn static_dh_is_symmetric_and_cached_values_are_right() {
        let (a, b) = (Identity::generate(), Identity::generate());
        let first = a.static_dh(&b.public()).unwrap();
        assert_eq!(*first, *b.static_dh(&a.public()).unwrap());
        assert_eq!(*first, *a.static_dh(&b.public()).unwrap(), "from the cache");
        assert_eq!(a.static_cache.lock().unwrap().len(), 1);
        // A small-order peer key gives an all-zero secret: refused, not cached.
        assert!(a.static_dh(&PublicKey::from_bytes([0; 32])).is_err());
        assert_eq!(a.static_cache.lock().unwrap().len(), 1);
    }

    #[test]
    fn signatures_verify_only_for_the_signer_and_message() {
        let (a, b) = (Identity::generate(), Identity::generate());
        let sig = a.sign(b"request");
        assert!(a.verify_key().verify(b"request", &sig).is_ok());
        assert!(a.verify_key().verify(b"requesT", &sig).is_err());
        assert!(b.verify_key().verify(b"request", &sig).is_err());
        assert_ne!(a.verify_key(), b.verify_key());
    }

    #[test]
    fn safety_numbers_agree_from_both_sides_and_change_with_a_key() {
        let (a, b, c) = (
            Identity::generate(),
            Identity::generate(),
            Identity::generate(),
        );
        let ab = a.public_identity().safety_number(&b.public_identity());
        assert_eq!(ab, b.public_identity().safety_number(&a.public_identity()));
        assert_eq!(ab.len(), 71, "12 groups of 5 digits: {ab}");
        assert_ne!(ab, a.public_identity().safety_number(&c.public_identity()));
    }

    #[cfg(unix)]
    #[test]
    fn secret_files_readable_by_others_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let sk = dir.path().join("a.key");
        Identity::generate().write_secret(&sk).unwrap();
        std::fs::set_permissions(&sk, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Identity::read_secret(&sk).unwrap_err().to_string();
        assert!(
            err.contains("a.key: permissions 0644 are too open") && err.contains("chmod 600"),
            "{err}"
        );
        std::fs::set_permissions(&sk, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(Identity::read_secret(&sk).is_ok());
    }

    /// Both public formats ever written (v1: X25519 only; v2: both keys)
    /// and a secret file still read, with `#` comments allowed as in every
    /// key file ([`crate::keys`]).
    #[test]
    fn every_format_ever_written_reads() {
        let dir = tempfile::tempdir().unwrap();
        let id = Identity::from_secret(&[9u8; 32]);
        let x = hex::encode(id.public().to_bytes());
        let e = hex::encode(id.verify_key().to_bytes());
        let v1 = dir.path().join("v1.pub");
        std::fs::write(&v1, format!("{PUBLIC_HEADER_V1}\n{x}\n")).unwrap();
        assert_eq!(PublicKey::read(&v1).unwrap(), id.public());
        let v2 = dir.path().join("v2.pub");
        std::fs::write(
            &v2,
            format!("# note\n{PUBLIC_HEADER}\n{x}\n# x25519 above\n{e}\n"),
        )
        .unwrap();
        assert_eq!(PublicKey::read(&v2).unwrap(), id.public());
        assert_eq!(PublicIdentity::read(&v2).unwrap(), id.public_identity());
        let sk = dir.path().join("a.key");
        let text = format!("{SECRET_HEADER}\n# comment\n{}\n", hex::encode([9u8; 32]));
        crate::files::write_atomic(&sk, text.as_bytes(), true).unwrap();
        assert_eq!(Identity::read_secret(&sk).unwrap().public(), id.public());
        // A v1 public file is not a v2 one.
        let err = PublicIdentity::read(&v1).unwrap_err().to_string();
        assert!(
            err.ends_with("expected a cssim-identity-public-v2 file, found cssim-x25519-public-v1"),
            "{err}"
        );
    }

    #[test]
    fn bad_key_files_name_the_file_and_reason() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.key");
        let err = |content: &str| {
            let _ = std::fs::remove_file(&p);
            crate::files::write_atomic(&p, content.as_bytes(), true).unwrap();
            Identity::read_secret(&p).unwrap_err().to_string()
        };
        assert!(err("hello").contains("not a key file"));
        assert!(
            err("cssim-x25519-public-v1\n00").contains("expected a cssim-x25519-secret-v1 file")
        );
        assert!(err("cssim-x25519-secret-v1\nzz").ends_with("key is not hex"));
        assert!(err("cssim-x25519-secret-v1\nabcd").ends_with("key has 2 bytes, expected 32"));
        let missing = Identity::read_secret(&dir.path().join("none.key"))
            .unwrap_err()
            .to_string();
        assert!(missing.ends_with("none.key: no such file"), "{missing}");
    }
}
