//! The demo's [`Transcript`]: each step's heading, then its narration
//! indented. `cssim demo` prints the same lines as they happen (wrapped,
//! coloured, paused between steps); `--json` is the transcript's
//! serialisation.

use super::{Cell, Column, Layout, Tabular};
use crate::demo::Transcript;

impl Tabular for Transcript {
    fn columns() -> Vec<Column> {
        vec![Column::left("LINE", 0)]
    }

    fn layout() -> Layout {
        Layout::Lines
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        let mut lines = Vec::new();
        for step in &self.0 {
            lines.push(format!(
                "Step {}: {} [{}]",
                step.number,
                step.title,
                step.actor.label()
            ));
            lines.extend(step.lines.iter().map(|l| format!("  {l}")));
        }
        lines.into_iter().map(|l| vec![Cell::from(l)]).collect()
    }
}
