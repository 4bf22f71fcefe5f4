//! An [`Inbox`] as `cssim inbox` prints it: each message's sender, id,
//! text, attachments and saved files; "no new messages" when there are
//! none; the note that `--peek` acknowledged nothing. Unreadable messages
//! are the binary's error lines (stderr), not part of this text.

use super::{Cell, Column, Layout, Tabular};
use crate::client::{Inbox, InboxItem};

impl Tabular for Inbox {
    fn columns() -> Vec<Column> {
        vec![Column::left("LINE", 0)]
    }

    fn layout() -> Layout {
        Layout::Lines
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        let mut lines = Vec::new();
        if self.items.is_empty() {
            lines.push(format!("{}: no new messages", self.user));
        }
        for item in &self.items {
            let InboxItem::Message {
                id,
                from,
                text,
                attachments,
                saved,
                ..
            } = item
            else {
                continue;
            };
            lines.push(format!("from {from} (message {id}):"));
            if let Some(t) = text {
                lines.push(format!("  {t}"));
            }
            for a in attachments {
                lines.push(format!("  [{a}]"));
            }
            for s in saved.iter().flatten() {
                lines.push(format!("  saved {:?} to {}", s.name, s.path));
            }
        }
        if self.peek && !self.items.is_empty() {
            lines.push(format!(
                "(peek: nothing acknowledged or marked shown; `cssim inbox {}` shows these again)",
                self.user
            ));
        }
        lines.into_iter().map(|l| vec![Cell::from(l)]).collect()
    }
}
