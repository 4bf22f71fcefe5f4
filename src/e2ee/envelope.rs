//! The envelope: what the relay stores and forwards.
//!
//! ```text
//! magic  "CSE2"                      4
//! version                            1   (2)
//! kem, kdf, aead ids                 2+2+2
//! mode                               1   (2: auth — the only mode accepted)
//! sender public key                  32
//! recipient public key               32
//! message id                         16
//! time (unix seconds)                8
//! franking commitment                32
//! enc                                32
//! ciphertext length                  4
//! ciphertext (incl. 16-byte tag)     n
//! ```
//! Everything before the ciphertext is the header, and the header is the
//! AEAD's associated data: changing who sent it, to whom, which message,
//! when, or the commitment makes decryption fail. HPKE Auth mode proves that
//! the holder of the sender key sealed it.
//!
//! Only Auth mode is accepted. In Base mode anyone who knows the recipient's
//! public key can seal, and the header's sender key would be a claim, not a
//! proof: authentication must never depend on a field the sender chooses.
//! (Base mode stays where anonymity of the sealer is the point: reports
//! sealed to the moderator, [`super::seal_to`].)
//!
//! Opening checks no replay: the replay guard is the receiving device's
//! inbox table (`crate::client`), keyed by (sender, message id) and kept
//! on disk across runs, with stale envelopes refused. (An in-memory
//! `SeenIds` guard used to be passed to `open`; every caller gave it a
//! fresh, empty one, so it guarded nothing and was removed.)
//!
//! The franking commitment (see `crate::franking`) is a commitment to the
//! plaintext that the relay sees and countersigns, so that a report about
//! this message can later be checked against what was actually carried.

use super::hpke::{self, Aead, Mode};
use super::{Error, Identity, PublicKey};

const MAGIC: &[u8; 4] = b"CSE2";
const VERSION: u8 = 2;
const HEADER_LEN: usize = 4 + 1 + 6 + 1 + 32 + 32 + 16 + 8 + 32 + 32;
const INFO: &[u8] = b"cssim envelope v2";

/// A sealed message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    aead: Aead,
    sender: [u8; 32],
    recipient: [u8; 32],
    message_id: [u8; 16],
    time: u64,
    commitment: [u8; 32],
    enc: [u8; 32],
    ciphertext: Vec<u8>,
}

/// What opening an envelope gives.
#[derive(Debug, PartialEq, Eq)]
pub struct Opened {
    /// The authenticated sender key.
    pub sender: PublicKey,
    /// The message id.
    pub message_id: [u8; 16],
    /// The time the sender stated.
    pub time: u64,
    /// The franking commitment the header carried.
    pub commitment: [u8; 32],
    /// The plaintext.
    pub plaintext: Vec<u8>,
}

impl Envelope {
    /// Seals `plaintext` from `sender` to `recipient` (Auth mode,
    /// AES-256-GCM), carrying `commitment` in the authenticated header.
    pub fn seal(
        sender: &Identity,
        recipient: &PublicKey,
        message_id: [u8; 16],
        time: u64,
        commitment: [u8; 32],
        plaintext: &[u8],
    ) -> Result<Envelope, Error> {
        let mut env = Envelope {
            aead: Aead::Aes256Gcm,
            sender: sender.public().to_bytes(),
            recipient: recipient.to_bytes(),
            message_id,
            time,
            commitment,
            enc: [0; 32],
            ciphertext: Vec::new(),
        };
        let sender_pk = sender.public();
        let shared = sender.static_dh(recipient)?;
        let auth = hpke::StaticDh {
            sender: sender_pk.x25519(),
            shared: &shared,
        };
        let (enc, mut ctx) = hpke::setup_sender(env.aead, recipient.x25519(), INFO, Some(auth))?;
        env.enc = enc;
        env.ciphertext = ctx.seal(&env.header(), plaintext)?;
        Ok(env)
    }

    /// The sender key the envelope claims (authenticated only by [`Envelope::open`]).
    pub fn sender(&self) -> PublicKey {
        PublicKey::from_bytes(self.sender)
    }

    /// The recipient key the envelope names.
    pub fn recipient(&self) -> PublicKey {
        PublicKey::from_bytes(self.recipient)
    }

    /// The message id.
    pub fn message_id(&self) -> [u8; 16] {
        self.message_id
    }

    /// The time the sender stated.
    pub fn time(&self) -> u64 {
        self.time
    }

    /// The franking commitment.
    pub fn commitment(&self) -> [u8; 32] {
        self.commitment
    }

    fn header(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(HEADER_LEN);
        h.extend_from_slice(MAGIC);
        h.push(VERSION);
        h.extend_from_slice(&0x0020u16.to_be_bytes());
        h.extend_from_slice(&0x0001u16.to_be_bytes());
        h.extend_from_slice(&self.aead.id().to_be_bytes());
        h.push(Mode::Auth.id());
        h.extend_from_slice(&self.sender);
        h.extend_from_slice(&self.recipient);
        h.extend_from_slice(&self.message_id);
        h.extend_from_slice(&self.time.to_be_bytes());
        h.extend_from_slice(&self.commitment);
        h.extend_from_slice(&self.enc);
        h
    }

    /// The wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header();
        out.extend_from_slice(&(self.ciphertext.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Parses the wire form, checking every field and length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Envelope, Error> {
        let bad = |field, reason: &str| Error::Malformed {
            field,
            reason: reason.to_string(),
        };
        if bytes.len() < HEADER_LEN + 4 {
            return Err(bad(
                "header",
                &format!("{} bytes, at least {} needed", bytes.len(), HEADER_LEN + 4),
            ));
        }
        if &bytes[..4] != MAGIC {
            return Err(bad("magic", "not a cssim envelope"));
        }
        if bytes[4] != VERSION {
            return Err(bad(
                "version",
                &format!(
                    "unsupported version {} (this build reads {VERSION})",
                    bytes[4]
                ),
            ));
        }
        let u16_at = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
        if u16_at(5) != 0x0020 || u16_at(7) != 0x0001 {
            return Err(bad("suite", "unsupported KEM or KDF"));
        }
        let aead = Aead::from_id(u16_at(9)).ok_or_else(|| bad("suite", "unsupported AEAD"))?;
        match bytes[11] {
            2 => {}
            0 => {
                return Err(bad(
                    "mode",
                    "base mode (sender not authenticated) is refused for messages",
                ));
            }
            m => return Err(bad("mode", &format!("unsupported mode {m}"))),
        }
        let arr32 = |i: usize| <[u8; 32]>::try_from(&bytes[i..i + 32]).expect("length checked");
        let mut message_id = [0u8; 16];
        message_id.copy_from_slice(&bytes[76..92]);
        let time = u64::from_be_bytes(bytes[92..100].try_into().expect("length checked"));
        let len = u32::from_be_bytes(
            bytes[HEADER_LEN..HEADER_LEN + 4]
                .try_into()
                .expect("length checked"),
        ) as usize;
        let rest = &bytes[HEADER_LEN + 4..];
        if rest.len() != len {
            return Err(bad(
                "ciphertext",
                &format!("length says {len} bytes, {} present", rest.len()),
            ));
        }
        if len < 16 {
            return Err(bad("ciphertext", "shorter than the authentication tag"));
        }
        Ok(Envelope {
            aead,
            sender: arr32(12),
            recipient: arr32(44),
            message_id,
            time,
            commitment: arr32(100),
            enc: arr32(132),
            ciphertext: rest.to_vec(),
        })
    }

    /// Decrypts with the recipient's identity, authenticating the sender
    /// (HPKE Auth mode) and refusing a (sender, message id) pair seen before.
    pub fn open(&self, recipient: &Identity) -> Result<Opened, Error> {
        if self.recipient != recipient.public().to_bytes() {
            return Err(Error::Decryption);
        }
        let sender = PublicKey::from_bytes(self.sender);
        let shared = recipient.static_dh(&sender)?;
        let auth = Some(hpke::StaticDh {
            sender: sender.x25519(),
            shared: &shared,
        });
        let receiver_pk = recipient.public();
        let mut ctx = hpke::setup_receiver_keys(
            self.aead,
            &self.enc,
            (recipient.secret(), receiver_pk.x25519()),
            INFO,
            auth,
        )?;
        let plaintext = ctx.open(&self.header(), &self.ciphertext)?;
        Ok(Opened {
            sender,
            message_id: self.message_id,
            time: self.time,
            commitment: self.commitment,
            plaintext,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pair() -> (Identity, Identity) {
        (Identity::generate(), Identity::generate())
    }

    #[test]
    fn every_single_byte_flip_is_rejected() {
        let (alice, bob) = pair();
        let env = Envelope::seal(
            &alice,
            &bob.public(),
            [9; 16],
            1_700_000_000,
            [5; 32],
            b"hello bob",
        )
        .unwrap();
        let bytes = env.to_bytes();
        for i in 0..bytes.len() {
            for bit in [0x01u8, 0x80] {
                let mut t = bytes.clone();
                t[i] ^= bit;
                let opened = Envelope::from_bytes(&t).and_then(|e| e.open(&bob));
                assert!(
                    opened.is_err(),
                    "flip of byte {i} bit {bit:#x} was accepted"
                );
            }
        }
        let ok = Envelope::from_bytes(&bytes).unwrap().open(&bob).unwrap();
        assert_eq!(ok.plaintext, b"hello bob");
        assert_eq!(ok.sender, alice.public());
    }

    #[test]
    fn wrong_recipient_and_forged_sender_are_one_opaque_error() {
        let (alice, bob) = pair();
        let eve = Identity::generate();
        let env = Envelope::seal(&alice, &bob.public(), [1; 16], 5, [0; 32], b"x").unwrap();
        assert!(matches!(env.open(&eve), Err(Error::Decryption)));
        // Eve seals with her key but claims to be Alice.
        let mut forged = Envelope::seal(&eve, &bob.public(), [2; 16], 5, [0; 32], b"x").unwrap();
        forged.sender = alice.public().to_bytes();
        assert!(matches!(forged.open(&bob), Err(Error::Decryption)));
    }

    #[test]
    fn truncation_and_trailing_bytes_are_malformed() {
        let (alice, bob) = pair();
        let bytes = Envelope::seal(&alice, &bob.public(), [4; 16], 5, [0; 32], b"abc")
            .unwrap()
            .to_bytes();
        for n in 0..bytes.len() {
            assert!(Envelope::from_bytes(&bytes[..n]).is_err(), "prefix {n}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            Envelope::from_bytes(&longer),
            Err(Error::Malformed {
                field: "ciphertext",
                ..
            })
        ));
    }

    /// Issue 8, attack 1: with only Alice's and Bob's public keys, Mallory
    /// seals a Base-mode envelope whose header names Alice as the sender.
    /// Base mode needs no sender secret, so before the fix it opened and
    /// reported Alice's key as the (unauthenticated) sender.
    #[test]
    fn a_base_mode_envelope_forging_the_sender_is_refused() {
        let (alice, bob) = pair();
        let mut env = Envelope::seal(&alice, &bob.public(), [6; 16], 5, [0; 32], b"hi").unwrap();
        // Rebuild it as Mallory would: Base-mode HPKE to Bob, Alice in the header.
        let mut bytes = env.to_bytes();
        bytes[11] = 0;
        let header = &bytes[..HEADER_LEN];
        let (enc, mut ctx) =
            hpke::setup_sender(Aead::Aes256Gcm, bob.public().x25519(), INFO, None).unwrap();
        let mut forged = header.to_vec();
        forged[HEADER_LEN - 32..].copy_from_slice(&enc);
        let ct = ctx.seal(&forged, b"send money to mallory").unwrap();
        forged.extend_from_slice(&(ct.len() as u32).to_be_bytes());
        forged.extend_from_slice(&ct);
        let err = Envelope::from_bytes(&forged).unwrap_err();
        assert!(
            matches!(err, Error::Malformed { field: "mode", .. }),
            "{err}"
        );
        assert!(err.to_string().contains("base mode"), "{err}");
        // And an Auth-mode claim to be Alice without Alice's key fails to open.
        env.enc = enc;
        assert!(env.open(&bob).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn seal_open_round_trips(pt in proptest::collection::vec(any::<u8>(), 0..512),
                                 id in any::<[u8; 16]>(), time in any::<u64>()) {
            let (alice, bob) = pair();
            let env = Envelope::seal(&alice, &bob.public(), id, time, [7; 32], &pt).unwrap();
            let back = Envelope::from_bytes(&env.to_bytes()).unwrap();
            let opened = back.open(&bob).unwrap();
            prop_assert_eq!(opened.plaintext, pt);
            prop_assert_eq!(opened.message_id, id);
            prop_assert_eq!(opened.time, time);
            prop_assert_eq!(opened.commitment, [7; 32]);
        }
    }
}
