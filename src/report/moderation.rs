//! The moderation queue ([`Queue`]) as `cssim moderate list` shows it: one
//! line a report, or `no reports`; in JSON one object a report.

use serde::Serialize;

use super::{Cell, Column, Layout, Tabular};
use crate::clock::rfc3339_from_unix;
use crate::moderation::Reviewed;
use crate::relay::ReportStatus;

/// The queue: one row a report, in the relay's order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Queue(pub Vec<QueueRow>);

/// One report in the queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QueueRow {
    /// Report id, hex.
    pub id: String,
    /// Its status on the relay.
    pub status: ReportStatus,
    /// When the relay received it (RFC 3339).
    pub received: String,
    /// What opening it found.
    #[serde(flatten)]
    pub content: QueueContent,
}

/// What the moderator's key found in a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum QueueContent {
    /// It opened.
    Opened {
        /// The reported account.
        account: String,
        /// Who submitted it to the relay.
        submitted_by: String,
        /// Every check passed.
        verified: bool,
        /// The checks that failed.
        problems: Vec<String>,
        /// How many matches it carries.
        matches: usize,
        /// The account's matches when it was sealed.
        account_matches: u32,
        /// The parts matched, each once (`attachment #1 cat.jpg, text`).
        #[serde(skip)]
        parts: String,
        /// The checks in words (`verified`, or the problems).
        #[serde(skip)]
        verdict: String,
    },
    /// It could not be opened.
    Unopened {
        /// Always false.
        verified: bool,
        /// Why.
        error: String,
    },
}

impl From<&Reviewed> for QueueRow {
    fn from(r: &Reviewed) -> QueueRow {
        let content = match &r.opened {
            Ok(o) => {
                let mut parts: Vec<String> = Vec::new();
                for m in &o.report.matches {
                    let part = m.part.to_string();
                    if !parts.contains(&part) {
                        parts.push(part);
                    }
                }
                QueueContent::Opened {
                    account: o.report.account.clone(),
                    submitted_by: r.stored.submitted_by.clone(),
                    verified: r.verification.as_ref().is_some_and(|v| v.verified),
                    problems: r
                        .verification
                        .as_ref()
                        .map(|v| v.problems.clone())
                        .unwrap_or_default(),
                    matches: o.report.matches.len(),
                    account_matches: o.report.account_matches,
                    parts: parts.join(", "),
                    verdict: r
                        .verification
                        .as_ref()
                        .map_or_else(|| "unverified".to_string(), ToString::to_string),
                }
            }
            Err(e) => QueueContent::Unopened {
                verified: false,
                error: e.clone(),
            },
        };
        QueueRow {
            id: hex::encode(r.stored.id),
            status: r.stored.status,
            received: rfc3339_from_unix(r.stored.created),
            content,
        }
    }
}

impl Queue {
    /// The queue `moderation::review` gave.
    pub fn of(reviewed: &[Reviewed]) -> Queue {
        Queue(reviewed.iter().map(QueueRow::from).collect())
    }
}

impl Tabular for Queue {
    fn columns() -> Vec<Column> {
        vec![Column::left("LINE", 0)]
    }

    fn layout() -> Layout {
        Layout::Lines
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        if self.0.is_empty() {
            return vec![vec![Cell::from("no reports")]];
        }
        self.0
            .iter()
            .map(|r| {
                let id = r.id.get(..12).unwrap_or(&r.id);
                let line = match &r.content {
                    QueueContent::Opened {
                        account,
                        matches,
                        parts,
                        verdict,
                        ..
                    } => format!(
                        "{id}  {}  {:<14} account {account:<10} {matches} match(es): {parts}  [{verdict}]",
                        r.received,
                        r.status,
                    ),
                    QueueContent::Unopened { error, .. } => format!(
                        "{id}  {}  {:<14} cannot open: {error}",
                        r.received,
                        r.status
                    ),
                };
                vec![Cell::from(line)]
            })
            .collect()
    }
}

/// The queue as a table of fields, one row a report, for CSV (`cssim
/// moderate list --csv`): the [`Queue`]'s own table is lines of prose.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(transparent)]
pub struct QueueTable<'a>(pub &'a Queue);

impl Tabular for QueueTable<'_> {
    fn columns() -> Vec<Column> {
        [
            "ID",
            "STATUS",
            "RECEIVED",
            "ACCOUNT",
            "SUBMITTED_BY",
            "VERIFIED",
            "MATCHES",
            "ACCOUNT_MATCHES",
            "PARTS",
            "PROBLEMS",
        ]
        .into_iter()
        .map(|name| Column::left(name, 0))
        .collect()
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        self.0
            .0
            .iter()
            .map(|r| {
                let content = match &r.content {
                    QueueContent::Opened {
                        account,
                        submitted_by,
                        verified,
                        problems,
                        matches,
                        account_matches,
                        parts,
                        ..
                    } => [
                        account.clone(),
                        submitted_by.clone(),
                        verified.to_string(),
                        matches.to_string(),
                        account_matches.to_string(),
                        parts.clone(),
                        problems.join("; "),
                    ],
                    QueueContent::Unopened { error, .. } => [
                        String::new(),
                        String::new(),
                        "false".into(),
                        String::new(),
                        String::new(),
                        String::new(),
                        format!("cannot open: {error}"),
                    ],
                };
                [r.id.clone(), r.status.to_string(), r.received.clone()]
                    .into_iter()
                    .chain(content)
                    .map(Cell::from)
                    .collect()
            })
            .collect()
    }
}
