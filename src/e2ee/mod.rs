//! End-to-end encryption: identities, RFC 9180 HPKE, and the message envelope.
//!
//! - [`Identity`] / [`PublicIdentity`]: an X25519 key pair with the Ed25519
//!   signing key derived from it, and their key files;
//! - [`hpke`]: DHKEM(X25519, HKDF-SHA256) + HKDF-SHA256 + AES-GCM, Base and
//!   Auth modes, checked against RFC 9180's vectors;
//! - [`Envelope`]: what travels through the relay — a versioned header that
//!   names sender, recipient, message id and time, bound to the ciphertext
//!   as associated data;
//! - [`seal_to`] / [`open_from`]: one-shot sealing to a public key (used for
//!   moderation reports).
//!
//! Decryption failures of every kind are one opaque [`Error::Decryption`].

mod envelope;
pub mod hpke;
mod identity;

use std::path::PathBuf;

pub use envelope::{Envelope, Opened};
pub use identity::{Identity, PublicIdentity, PublicKey, VerifyKey};

/// What can go wrong in this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Decryption or authentication failed (wrong key, tampered bytes, wrong
    /// sender). Deliberately says nothing more.
    #[error("decryption failed")]
    Decryption,
    /// The bytes are not a well-formed envelope.
    #[error("malformed envelope: field '{field}': {reason}")]
    Malformed {
        /// The field at fault.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A key file is missing or wrong.
    #[error("{}: {reason}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// An Ed25519 signature did not verify (wrong key, message or bytes).
    #[error("signature does not verify")]
    BadSignature,
    /// The operating system's random source failed.
    #[error("the operating system's random number generator failed")]
    Rng,
}

/// Seals `plaintext` to `recipient` (HPKE Base mode, AES-256-GCM) as
/// `enc || ciphertext`: anyone can seal, only the key's owner can open.
pub fn seal_to(recipient: &PublicKey, info: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
    let (enc, mut ctx) = hpke::setup_sender(hpke::Aead::Aes256Gcm, recipient.x25519(), info, None)?;
    let mut out = enc.to_vec();
    out.extend(ctx.seal(b"", plaintext)?);
    Ok(out)
}

/// Opens what [`seal_to`] made.
pub fn open_from(identity: &Identity, info: &[u8], sealed: &[u8]) -> Result<Vec<u8>, Error> {
    let Some((enc, ct)) = sealed.split_first_chunk::<32>() else {
        return Err(Error::Decryption);
    };
    let public = identity.public();
    let mut ctx = hpke::setup_receiver_keys(
        hpke::Aead::Aes256Gcm,
        enc,
        (identity.secret(), public.x25519()),
        info,
        None,
    )?;
    ctx.open(b"", ct)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_boxes_open_only_with_the_right_key_and_info() {
        let alice = Identity::generate();
        let eve = Identity::generate();
        let sealed = seal_to(&alice.public(), b"ctx", b"report").unwrap();
        assert_eq!(open_from(&alice, b"ctx", &sealed).unwrap(), b"report");
        assert!(matches!(
            open_from(&eve, b"ctx", &sealed),
            Err(Error::Decryption)
        ));
        assert!(matches!(
            open_from(&alice, b"other", &sealed),
            Err(Error::Decryption)
        ));
        assert!(matches!(
            open_from(&alice, b"ctx", &sealed[..20]),
            Err(Error::Decryption)
        ));
    }
}
