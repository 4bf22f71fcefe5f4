//! X25519 identities and their key files.
//!
//! Files are text: a header line naming the format, then hex.
//! ```text
//! cssim-x25519-secret-v1            cssim-x25519-public-v1
//! <64 hex digits>                   <64 hex digits>
//! ```
//! Secret files are created with mode 0600, atomically (a temporary file in
//! the same folder, then a rename). A public key's fingerprint is the first
//! 16 hex digits of SHA-256 of its 32 bytes.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};
use x25519_dalek::{PublicKey as XPublic, StaticSecret};
use zeroize::Zeroizing;

use super::Error;

const SECRET_HEADER: &str = "cssim-x25519-secret-v1";
const PUBLIC_HEADER: &str = "cssim-x25519-public-v1";

/// An X25519 key pair. The secret is zeroized on drop and never printed.
pub struct Identity {
    secret: StaticSecret,
    public: PublicKey,
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

    /// The first 16 hex digits of SHA-256 of the key.
    pub fn fingerprint(&self) -> String {
        hex::encode(&Sha256::digest(self.0.as_bytes())[..8])
    }

    pub(crate) fn x25519(&self) -> &XPublic {
        &self.0
    }

    /// Writes the public key file.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let text = format!("{PUBLIC_HEADER}\n{}\n", hex::encode(self.to_bytes()));
        write_file(path, text.as_bytes(), false)
    }

    /// Reads a public key file.
    pub fn read(path: &Path) -> Result<PublicKey, Error> {
        let text = read_text(path)?;
        Ok(PublicKey::from_bytes(parse_key(
            path,
            &text,
            PUBLIC_HEADER,
        )?))
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

    fn from_secret_bytes(bytes: Zeroizing<[u8; 32]>) -> Identity {
        let secret = StaticSecret::from(*bytes);
        let public = PublicKey(XPublic::from(&secret));
        Identity {
            secret,
            public,
            static_cache: Mutex::new(HashMap::new()),
        }
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        self.public
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

    /// Writes the secret key file (mode 0600, atomically).
    pub fn write_secret(&self, path: &Path) -> Result<(), Error> {
        let text = Zeroizing::new(format!(
            "{SECRET_HEADER}\n{}\n",
            hex::encode(self.secret.as_bytes())
        ));
        write_file(path, text.as_bytes(), true)
    }

    /// Reads a secret key file.
    pub fn read_secret(path: &Path) -> Result<Identity, Error> {
        let text = Zeroizing::new(read_text(path)?);
        let bytes = Zeroizing::new(parse_key(path, &text, SECRET_HEADER)?);
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

fn read_text(path: &Path) -> Result<String, Error> {
    let bytes =
        std::fs::read(path).map_err(|e| key_err(path, crate::hash::describe_io_error(&e)))?;
    String::from_utf8(bytes).map_err(|_| key_err(path, "not a key file (not text)"))
}

fn parse_key(path: &Path, text: &str, header: &str) -> Result<[u8; 32], Error> {
    let mut lines = text.lines();
    match lines.next() {
        Some(h) if h.trim() == header => {}
        Some(h) if h.starts_with("cssim-") => {
            return Err(key_err(
                path,
                format!("expected a {header} file, found {}", h.trim()),
            ));
        }
        _ => {
            return Err(key_err(
                path,
                format!("not a key file (expected the line {header})"),
            ));
        }
    }
    let hex_line = lines.next().unwrap_or("").trim();
    let bytes = Zeroizing::new(hex::decode(hex_line).map_err(|_| key_err(path, "key is not hex"))?);
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| key_err(path, format!("key has {} bytes, expected 32", bytes.len())))
}

/// Writes atomically ([`crate::atomic`]); `private` files get mode 0600
/// from creation.
fn write_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), Error> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| key_err(dir, crate::hash::describe_io_error(&e)))?;
    }
    crate::atomic::write_atomic(path, bytes, private)
        .map_err(|e| key_err(path, crate::hash::describe_io_error(&e)))
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
        id.public().write(&dir.path().join("a.pub")).unwrap();
        let back = Identity::read_secret(&sk).unwrap();
        assert_eq!(back.public(), id.public());
        assert_eq!(
            PublicKey::read(&dir.path().join("a.pub")).unwrap(),
            id.public()
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
    fn bad_key_files_name_the_file_and_reason() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.key");
        let err = |content: &str| {
            std::fs::write(&p, content).unwrap();
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
