//! Messages: text, attachments (images, files, links) and metadata, and the
//! binary form that is encrypted end to end.
//!
//! Wire form (all integers big-endian; every length is checked on parse):
//! ```text
//! b"CSM1" | id[16] | sent_at u64 | from: str | to: str | text: u8 flag + str
//!        | n_attachments u16 | { kind u8 (1 image, 2 file, 3 link) | name: str | data: bytes }*
//! str / bytes = u32 length + that many bytes (str is UTF-8)
//! ```

use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 4] = b"CSM1";

/// A 16-byte message identifier (random; unique per message).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MessageId(pub [u8; 16]);

impl MessageId {
    /// A fresh random identifier from the OS.
    pub fn random() -> MessageId {
        let mut b = [0u8; 16];
        // The OS RNG failing is not something a message can recover from.
        getrandom::fill(&mut b).expect("the operating system's random source failed");
        MessageId(b)
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Debug for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MessageId({})", self.to_hex())
    }
}

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.to_hex())
    }
}

/// One attachment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attachment {
    /// An image (scanned with the perceptual hashes and exact hashes).
    Image {
        /// File name as sent.
        name: String,
        /// The encoded image (PNG, JPEG…).
        bytes: Vec<u8>,
    },
    /// Any other file (scanned with exact hashes).
    File {
        /// File name as sent.
        name: String,
        /// Its bytes.
        bytes: Vec<u8>,
    },
    /// A link (scanned as a URL).
    Link {
        /// The URL.
        url: String,
    },
}

impl Attachment {
    /// A short description for listings: kind, name and size.
    pub fn describe(&self) -> String {
        match self {
            Attachment::Image { name, bytes } => format!("image {name} ({} bytes)", bytes.len()),
            Attachment::File { name, bytes } => format!("file {name} ({} bytes)", bytes.len()),
            Attachment::Link { url } => format!("link {url}"),
        }
    }
}

/// A message before encryption (what the sender writes, what the recipient reads).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Unique identifier.
    pub id: MessageId,
    /// Sender's user name.
    pub from: String,
    /// Recipient's user name.
    pub to: String,
    /// Unix time of sending, in seconds.
    pub sent_at: u64,
    /// The text, if any.
    pub text: Option<String>,
    /// Attachments, in order.
    pub attachments: Vec<Attachment>,
}

/// Why bytes are not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes do not start with the message magic.
    #[error("not a cssim message (bad magic)")]
    BadMagic,
    /// The bytes end inside a field.
    #[error("message truncated in field '{0}'")]
    Truncated(&'static str),
    /// A field is not valid.
    #[error("message field '{field}' is invalid: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// Bytes follow the last field.
    #[error("{0} unexpected bytes after the message")]
    Trailing(usize),
}

impl Message {
    /// Serialises to the wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.payload_len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.id.0);
        out.extend_from_slice(&self.sent_at.to_be_bytes());
        put(&mut out, self.from.as_bytes());
        put(&mut out, self.to.as_bytes());
        match &self.text {
            Some(t) => {
                out.push(1);
                put(&mut out, t.as_bytes());
            }
            None => out.push(0),
        }
        out.extend_from_slice(&(self.attachments.len() as u16).to_be_bytes());
        for a in &self.attachments {
            let (kind, name, data): (u8, &str, &[u8]) = match a {
                Attachment::Image { name, bytes } => (1, name, bytes),
                Attachment::File { name, bytes } => (2, name, bytes),
                Attachment::Link { url } => (3, "", url.as_bytes()),
            };
            out.push(kind);
            put(&mut out, name.as_bytes());
            put(&mut out, data);
        }
        out
    }

    fn payload_len(&self) -> usize {
        let att: usize = self
            .attachments
            .iter()
            .map(|a| match a {
                Attachment::Image { name, bytes } | Attachment::File { name, bytes } => {
                    name.len() + bytes.len() + 9
                }
                Attachment::Link { url } => url.len() + 9,
            })
            .sum();
        self.text.as_ref().map_or(0, String::len) + att
    }

    /// Parses the wire form, checking every length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Message, Error> {
        let mut r = Reader { bytes, pos: 0 };
        if r.take(4, "magic")? != MAGIC {
            return Err(Error::BadMagic);
        }
        let id = MessageId(r.array("id")?);
        let sent_at = u64::from_be_bytes(r.array("sent_at")?);
        let from = r.string("from")?;
        let to = r.string("to")?;
        let text = match r.take(1, "text")?[0] {
            0 => None,
            1 => Some(r.string("text")?),
            x => {
                return Err(Error::Invalid {
                    field: "text",
                    reason: format!("presence flag {x}"),
                });
            }
        };
        let n = u16::from_be_bytes(r.array("attachments")?);
        let mut attachments = Vec::with_capacity(usize::from(n).min(64));
        for _ in 0..n {
            let kind = r.take(1, "attachment kind")?[0];
            let name = r.string("attachment name")?;
            let data = r.bytes("attachment data")?.to_vec();
            attachments.push(match kind {
                1 => Attachment::Image { name, bytes: data },
                2 => Attachment::File { name, bytes: data },
                3 => Attachment::Link {
                    url: String::from_utf8(data).map_err(|_| Error::Invalid {
                        field: "link",
                        reason: "not UTF-8".into(),
                    })?,
                },
                x => {
                    return Err(Error::Invalid {
                        field: "attachment kind",
                        reason: format!("unknown kind {x}"),
                    });
                }
            });
        }
        if r.pos != bytes.len() {
            return Err(Error::Trailing(bytes.len() - r.pos));
        }
        Ok(Message {
            id,
            from,
            to,
            sent_at,
            text,
            attachments,
        })
    }
}

fn put(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).ok_or(Error::Truncated(field))?;
        let s = self
            .bytes
            .get(self.pos..end)
            .ok_or(Error::Truncated(field))?;
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], Error> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, field)?);
        Ok(a)
    }

    fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], Error> {
        let n = u32::from_be_bytes(self.array(field)?) as usize;
        self.take(n, field)
    }

    fn string(&mut self, field: &'static str) -> Result<String, Error> {
        let b = self.bytes(field)?;
        String::from_utf8(b.to_vec()).map_err(|_| Error::Invalid {
            field,
            reason: "not UTF-8".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Message {
        Message {
            id: MessageId([7; 16]),
            from: "alice".into(),
            to: "bob".into(),
            sent_at: 1_764_000_000,
            text: Some("hello ☕".into()),
            attachments: vec![
                Attachment::Image {
                    name: "cat.jpg".into(),
                    bytes: vec![1, 2, 3],
                },
                Attachment::File {
                    name: "notes.txt".into(),
                    bytes: b"hi".to_vec(),
                },
                Attachment::Link {
                    url: "https://example.org/x".into(),
                },
            ],
        }
    }

    #[test]
    fn round_trips() {
        let m = sample();
        assert_eq!(Message::from_bytes(&m.to_bytes()).unwrap(), m);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let b = sample().to_bytes();
        for n in 0..b.len() {
            assert!(
                Message::from_bytes(&b[..n]).is_err(),
                "prefix of {n} bytes parsed"
            );
        }
        let mut longer = b.clone();
        longer.push(0);
        assert_eq!(Message::from_bytes(&longer), Err(Error::Trailing(1)));
    }

    proptest! {
        #[test]
        fn arbitrary_messages_round_trip(text in proptest::option::of(".{0,40}"),
                                         data in proptest::collection::vec(any::<u8>(), 0..100),
                                         sent_at in any::<u64>()) {
            let m = Message { text, sent_at, attachments: vec![Attachment::File { name: "f".into(), bytes: data }], ..sample() };
            prop_assert_eq!(Message::from_bytes(&m.to_bytes()).unwrap(), m);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Message::from_bytes(&data);
        }
    }
}
