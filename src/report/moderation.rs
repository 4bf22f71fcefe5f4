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

/// One report as `cssim moderate open` shows it: its checks, who sent what
/// to whom under which policy, the decisions so far, the matches and the
/// evidence. The binary fills [`EvidenceView::saved_to`] when it writes an
/// attachment out (`--save DIR`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportView {
    /// Report id, hex.
    pub id: String,
    /// Its status on the relay.
    pub status: ReportStatus,
    /// The checks in words: `verified`, `NOT VERIFIED: …` or `unverified`.
    pub check: String,
    /// Every check passed.
    pub verified: bool,
    /// The reported account.
    pub account: String,
    /// The message's recipient.
    pub recipient: String,
    /// When the message was sent (RFC 3339).
    pub sent_at: String,
    /// The policy in force.
    pub policy: String,
    /// When the relay received the report (RFC 3339).
    pub received: String,
    /// The moderators' decisions, oldest first.
    pub decisions: Vec<DecisionView>,
    /// The account's matching messages when the report was sealed.
    pub account_matches: u32,
    /// The scanner's matches.
    pub matches: Vec<crate::scan::Match>,
    /// The matched parts.
    pub evidence: Vec<EvidenceView>,
}

/// One decision on a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DecisionView {
    /// `confirmed` or `false-positive`.
    pub outcome: crate::relay::Outcome,
    /// When (RFC 3339).
    pub at: String,
}

/// One matched part of a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EvidenceView {
    /// Which part (`text`, `attachment #1 cat.jpg`).
    pub part: String,
    /// The text, for text and URL parts.
    pub text: Option<String>,
    /// The attachment's size in bytes (absent for text).
    pub size: Option<usize>,
    /// Where `--save` wrote the attachment.
    pub saved_to: Option<std::path::PathBuf>,
}

impl ReportView {
    /// The view of a report that opened; `Err` with the reason when it did
    /// not.
    pub fn of(r: &Reviewed) -> Result<ReportView, String> {
        let rep = &r.opened.as_ref().map_err(Clone::clone)?.report;
        Ok(ReportView {
            id: rep.id.clone(),
            status: r.stored.status,
            check: r
                .verification
                .as_ref()
                .map_or_else(|| "unverified".to_string(), ToString::to_string),
            verified: r.verification.as_ref().is_some_and(|v| v.verified),
            account: rep.account.clone(),
            recipient: rep.recipient.clone(),
            sent_at: rfc3339_from_unix(rep.sent_at),
            policy: rep.policy.clone(),
            received: rfc3339_from_unix(r.stored.created),
            decisions: r
                .stored
                .history
                .iter()
                .map(|h| DecisionView {
                    outcome: h.outcome,
                    at: rfc3339_from_unix(h.at),
                })
                .collect(),
            account_matches: rep.account_matches,
            matches: rep.matches.clone(),
            evidence: rep
                .evidence
                .iter()
                .filter(|e| e.text.is_some() || e.bytes.is_some())
                .map(|e| EvidenceView {
                    part: e.part.clone(),
                    text: e.text.clone(),
                    size: e.text.is_none().then_some(e.size),
                    saved_to: None,
                })
                .collect(),
        })
    }
}

impl Tabular for ReportView {
    fn columns() -> Vec<Column> {
        vec![Column::left("LINE", 0)]
    }

    fn layout() -> Layout {
        Layout::Lines
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        let mut lines = vec![
            format!("report {} ({})", self.id, self.status),
            format!("check: {}", self.check),
            format!(
                "account {} → {} at {}, policy {}; received {}",
                self.account, self.recipient, self.sent_at, self.policy, self.received
            ),
        ];
        for d in &self.decisions {
            lines.push(format!("decision: {} at {}", d.outcome, d.at));
        }
        lines.push(format!(
            "the account had {} matching message(s)",
            self.account_matches
        ));
        for m in &self.matches {
            lines.push(format!("  {m}"));
        }
        for e in &self.evidence {
            match (&e.text, e.size) {
                (Some(t), _) => lines.push(format!("  evidence {}: {t:?}", e.part)),
                (None, Some(size)) => {
                    lines.push(format!("  evidence {}: {size} bytes", e.part));
                    if let Some(path) = &e.saved_to {
                        lines.push(format!("    saved to {}", path.display()));
                    }
                }
                (None, None) => {}
            }
        }
        lines.into_iter().map(|l| vec![Cell::from(l)]).collect()
    }
}
