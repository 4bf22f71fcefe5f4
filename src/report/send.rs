//! A send's outcome ([`SendOutcome`]) as `cssim send` prints it: the scan
//! (verdict, matches, timings), whether the sender was told, the report,
//! and what was sent. One renderer, for the command and the demo.

use super::{Cell, Column, Layout, Tabular, Tone};
use crate::client::SendOutcome;

impl Tabular for SendOutcome {
    fn columns() -> Vec<Column> {
        vec![Column::left("LINE", 0)]
    }

    fn layout() -> Layout {
        Layout::Lines
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        let o = self;
        let v = &o.verdict;
        let action = format!("{:?}", v.action).to_lowercase();
        let tone = if v.matches.is_empty() {
            Tone::Calm
        } else {
            Tone::Alarm
        };
        let mut rows = vec![vec![
            Cell::from(format!("scan: {} match(es) → ", v.matches.len())),
            Cell::toned(action, tone),
            Cell::from(format!("  ({:.2} ms)", v.total().as_secs_f64() * 1e3)),
        ]];
        let mut lines = Vec::new();
        for m in &v.matches {
            lines.push(format!("  {m}"));
        }
        for u in &v.unscannable {
            lines.push(format!("  unscannable: {u}"));
        }
        for n in &v.notes {
            lines.push(format!("  note: {n}"));
        }
        for t in &v.timings {
            lines.push(format!("  {:>9.3} ms  {}", t.micros as f64 / 1e3, t.step));
        }
        if !v.matches.is_empty() || !v.unscannable.is_empty() {
            lines.push(format!(
                "sender told: {}",
                if o.sender_told {
                    "yes"
                } else {
                    "no — the sender's app shows nothing (policy notify_sender = false); this line is the simulator's view"
                }
            ));
        }
        if let Some(r) = &o.report {
            lines.push(if let Some(e) = &r.release_error {
                format!(
                    "report: sealed ({} bytes) but not yet released ({e}); {} held, retried with the next send",
                    r.sealed_size, r.held
                )
            } else if r.released_now > 0 {
                format!(
                    "report: sealed to the moderator ({} bytes); {} released to the relay (account at {}/{} matches)",
                    r.sealed_size, r.released_now, r.account_matches, r.account_threshold
                )
            } else {
                format!(
                    "report: sealed ({} bytes) and held on this device until the account reaches {} matches ({} so far)",
                    r.sealed_size, r.account_threshold, r.account_matches
                )
            });
        }
        lines.push(if o.sent {
            format!(
                "sent: message {} — {} bytes of plaintext as a {}-byte envelope (sealed in {:.3} ms)",
                o.message_id,
                o.plaintext_size,
                o.envelope_size.unwrap_or(0),
                o.seal_micros.unwrap_or(0) as f64 / 1e3
            )
        } else {
            "not sent: the policy blocks messages that match".to_string()
        });
        rows.extend(lines.into_iter().map(|l| vec![Cell::from(l)]));
        rows
    }
}
