//! The relay's view of a workspace ([`Overview`]) as `cssim relay show`
//! prints it: users, then messages, then sealed reports, each section a
//! count and one indented line an item.

use super::{Cell, Column, Layout, Tabular};
use crate::relay::Overview;

impl Tabular for Overview {
    fn columns() -> Vec<Column> {
        vec![Column::left("LINE", 0)]
    }

    /// One cell a row, the lines already laid out: three sections of
    /// different shapes do not share columns.
    fn layout() -> Layout {
        Layout::Lines
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        let mut lines = vec![format!("users ({}):", self.users.len())];
        for (name, fp) in &self.users {
            lines.push(format!("  {name:<12} key {fp}"));
        }
        lines.push(format!("messages ({}):", self.messages.len()));
        for m in &self.messages {
            lines.push(format!(
                "  {}  {} → {}  {} bytes  {}  ciphertext {}…",
                m.id.get(..12).unwrap_or(&m.id),
                m.from,
                m.to,
                m.size,
                if m.delivered { "delivered" } else { "waiting" },
                m.head
            ));
        }
        lines.push(format!("sealed reports ({}):", self.reports.len()));
        for r in &self.reports {
            lines.push(format!(
                "  {}  {} bytes  {}",
                r.id.get(..12).unwrap_or(&r.id),
                r.size,
                r.status
            ));
        }
        lines.into_iter().map(|l| vec![Cell::from(l)]).collect()
    }
}
