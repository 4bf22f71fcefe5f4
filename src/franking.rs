//! Message franking: a commitment to a message that the relay countersigns,
//! so that a report about the message can be checked against what was sent.
//!
//! Modelled on Facebook Messenger's message franking (Grubbs, Lu and
//! Ristenpart, "Message Franking via Committing Authenticated Encryption",
//! CRYPTO 2017), adapted to client-side scanning, where the *sender's*
//! device reports:
//!
//! 1. the sender picks a fresh 32-byte franking key `kf` and commits to the
//!    message: `c = HMAC-SHA256(kf, "cssim franking v1" ‖ id ‖ sent_at ‖ from
//!    ‖ to ‖ n ‖ d₀ ‖ … ‖ dₙ₋₁)`, where `dᵢ` is SHA-256 of part `i` (part 0
//!    the text, then each attachment);
//! 2. `c` travels in the envelope's authenticated header and `kf` inside the
//!    ciphertext ([`frame`]), so the recipient can check `c` too;
//! 3. the relay, which sees `c` but not the message, signs a receipt binding
//!    `c` to the message id, sender, recipient and time it carried;
//! 4. a report reveals `kf`, every `dᵢ` and only the matched parts; the
//!    moderator recomputes `c` from them, checks the receipt's signature, and
//!    hashes each revealed part against its `dᵢ`.
//!
//! Committing to part digests rather than the whole message is what lets a
//! report reveal one photo without revealing the rest of the message.

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};

use crate::message::{Attachment, Message};

const DOMAIN: &[u8] = b"cssim franking v1";
/// Marks an envelope plaintext that carries a franking key.
const FRAME_MAGIC: &[u8; 4] = b"CSF1";

/// The digest of the text part (part 0): present or absent, and its bytes.
pub fn text_digest(text: Option<&str>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"text");
    match text {
        Some(t) => {
            h.update([1]);
            h.update(t.as_bytes());
        }
        None => h.update([0]),
    }
    h.finalize().into()
}

/// The digest of one attachment part: its kind, name and bytes.
pub fn attachment_digest(kind: u8, name: &str, data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"attachment");
    h.update([kind]);
    h.update((name.len() as u64).to_be_bytes());
    h.update(name.as_bytes());
    h.update(data);
    h.finalize().into()
}

/// The kind byte, name and data an attachment is committed with.
pub fn attachment_parts(a: &Attachment) -> (u8, &str, &[u8]) {
    match a {
        Attachment::Image { name, bytes } => (1, name, bytes),
        Attachment::File { name, bytes } => (2, name, bytes),
        Attachment::Link { url } => (3, "", url.as_bytes()),
    }
}

/// Every part's digest: the text, then each attachment in order.
pub fn part_digests(message: &Message) -> Vec<[u8; 32]> {
    std::iter::once(text_digest(message.text.as_deref()))
        .chain(message.attachments.iter().map(|a| {
            let (kind, name, data) = attachment_parts(a);
            attachment_digest(kind, name, data)
        }))
        .collect()
}

/// The commitment to a message's header fields and part digests.
pub fn commit_digests(
    key: &[u8; 32],
    id: &[u8; 16],
    sent_at: u64,
    from: &str,
    to: &str,
    digests: &[[u8; 32]],
) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(DOMAIN);
    mac.update(id);
    mac.update(&sent_at.to_be_bytes());
    for s in [from, to] {
        mac.update(&(s.len() as u64).to_be_bytes());
        mac.update(s.as_bytes());
    }
    mac.update(&(digests.len() as u64).to_be_bytes());
    for d in digests {
        mac.update(d);
    }
    mac.finalize().into_bytes().into()
}

/// The commitment to `message` under `key`.
pub fn commit(key: &[u8; 32], message: &Message) -> [u8; 32] {
    commit_digests(
        key,
        &message.id.0,
        message.sent_at,
        &message.from,
        &message.to,
        &part_digests(message),
    )
}

/// A fresh franking key from the operating system.
///
/// # Panics
/// If the operating system has no working random source.
pub fn new_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    getrandom::fill(&mut k).expect("the operating system's random source failed");
    k
}

/// The envelope plaintext: the franking key, then the message's wire form.
pub fn frame(key: &[u8; 32], message_bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(36 + message_bytes.len());
    out.extend_from_slice(FRAME_MAGIC);
    out.extend_from_slice(key);
    out.extend_from_slice(message_bytes);
    out
}

/// Splits what [`frame`] made; `None` if the bytes are not a framed message.
pub fn unframe(plaintext: &[u8]) -> Option<([u8; 32], &[u8])> {
    let rest = plaintext.strip_prefix(FRAME_MAGIC.as_slice())?;
    let (key, message) = rest.split_first_chunk::<32>()?;
    Some((*key, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageId;

    fn message() -> Message {
        Message {
            id: MessageId([1; 16]),
            from: "alice".into(),
            to: "bob".into(),
            sent_at: 10,
            text: Some("hi".into()),
            attachments: vec![Attachment::Image {
                name: "a.jpg".into(),
                bytes: vec![1, 2, 3],
            }],
        }
    }

    #[test]
    fn the_commitment_binds_every_field_and_part() {
        let k = [9; 32];
        let m = message();
        let c = commit(&k, &m);
        let mut other = m.clone();
        other.to = "carol".into();
        assert_ne!(commit(&k, &other), c);
        let mut other = m.clone();
        other.sent_at = 11;
        assert_ne!(commit(&k, &other), c);
        let mut other = m.clone();
        other.attachments[0] = Attachment::Image {
            name: "a.jpg".into(),
            bytes: vec![1, 2, 4],
        };
        assert_ne!(commit(&k, &other), c);
        assert_ne!(commit(&[8; 32], &m), c, "another key");
        // The name/from boundary is length-prefixed: ("ab","c") != ("a","bc").
        let a = commit_digests(&k, &[0; 16], 0, "ab", "c", &[]);
        let b = commit_digests(&k, &[0; 16], 0, "a", "bc", &[]);
        assert_ne!(a, b);
    }

    #[test]
    fn frames_round_trip_and_garbage_is_not_a_frame() {
        let f = frame(&[3; 32], b"CSM1...");
        assert_eq!(unframe(&f), Some(([3; 32], &b"CSM1..."[..])));
        assert_eq!(unframe(b"CSM1 not framed"), None);
        assert_eq!(unframe(b"CSF1short"), None);
    }
}
