//! What `inbox` shows, as data: the messages taken (or peeked at), each
//! with the attachments saved for it. The report layer renders it
//! (`report::inbox`): the lines `cssim inbox` prints, or its `--json`.

use serde::Serialize;

use super::{Received, Saved};
use crate::message::Attachment;

/// One `inbox` (or `inbox --peek`) result. Its JSON is the list of items.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Inbox {
    /// Whose inbox.
    #[serde(skip)]
    pub user: String,
    /// Shown without acknowledging (`--peek`).
    #[serde(skip)]
    pub peek: bool,
    /// The messages, oldest first.
    pub items: Vec<InboxItem>,
}

/// One message of an [`Inbox`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum InboxItem {
    /// Decrypted and authenticated.
    Message {
        /// The message id, hex.
        id: String,
        /// The sender.
        from: String,
        /// The time the sender stated (unix seconds).
        sent_at: u64,
        /// The text, if any.
        text: Option<String>,
        /// Each attachment, described (`image cat.jpg, 27.9 KB`, a URL…).
        attachments: Vec<String>,
        /// The attachments written to disk, when the command saved them.
        #[serde(skip_serializing_if = "Option::is_none")]
        saved: Option<Vec<SavedFile>>,
    },
    /// Could not be opened.
    Unreadable {
        /// The message id, as the relay gave it.
        id: String,
        /// Why.
        error: String,
    },
}

/// An attachment written to disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SavedFile {
    /// The name the sender gave it.
    pub name: String,
    /// Where it was written (lossy UTF-8).
    pub path: String,
}

impl Inbox {
    /// The result of showing `received` for `user`; `saved` holds each
    /// item's saved files when the command saved attachments.
    pub fn new(
        user: &str,
        peek: bool,
        received: &[Received],
        saved: Option<&[Vec<Saved>]>,
    ) -> Inbox {
        let items = received
            .iter()
            .enumerate()
            .map(|(i, r)| match r {
                Received::Message(m) => InboxItem::Message {
                    id: m.id.to_hex(),
                    from: m.from.clone(),
                    sent_at: m.sent_at,
                    text: m.text.clone(),
                    attachments: m.attachments.iter().map(Attachment::describe).collect(),
                    saved: saved.map(|s| {
                        s.get(i)
                            .into_iter()
                            .flatten()
                            .map(|f| SavedFile {
                                name: f.name.clone(),
                                path: f.path.to_string_lossy().into_owned(),
                            })
                            .collect()
                    }),
                },
                Received::Unreadable { id, reason } => InboxItem::Unreadable {
                    id: id.clone(),
                    error: reason.clone(),
                },
            })
            .collect();
        Inbox {
            user: user.to_string(),
            peek,
            items,
        }
    }

    /// The items that could not be opened: (id, why).
    pub fn unreadable(&self) -> impl Iterator<Item = (&str, &str)> {
        self.items.iter().filter_map(|i| match i {
            InboxItem::Unreadable { id, error } => Some((id.as_str(), error.as_str())),
            InboxItem::Message { .. } => None,
        })
    }
}
