//! Exact hashes of a file's bytes: SHA-256, and MD5 for interchange with
//! older lists (MD5 is broken for collisions; never rely on it alone).

use md5::Md5;
use sha2::{Digest as _, Sha256};

use super::digest::{Algorithm, Digest};

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> Digest {
    Digest::new(Algorithm::Sha256, Sha256::digest(bytes).to_vec())
}

/// MD5 of `bytes`.
pub fn md5(bytes: &[u8]) -> Digest {
    Digest::new(Algorithm::Md5, Md5::digest(bytes).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        // FIPS 180-2 and RFC 1321 test strings.
        assert_eq!(
            sha256(b"abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(md5(b"abc").to_hex(), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(md5(b"").to_hex(), "d41d8cd98f00b204e9800998ecf8427e");
    }
}
