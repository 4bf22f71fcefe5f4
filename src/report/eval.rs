//! `cssim eval bloom`'s report ([`bloom::Report`]) as a table: each cell's
//! stated and measured rates, per probe and per lookup, and whether they
//! agree; and `cssim bench`'s ([`cost::Report`]): each step's median and
//! 99th percentile.

use super::{Cell, Column, Tabular};
use crate::eval::bloom::{self, Report};
use crate::eval::cost;

/// Three significant digits: `1.07e-7`, `3.24e-2`, `0.925`, `1`, `0`.
pub(crate) fn sci(x: f64) -> String {
    if x == 0.0 || x == 1.0 {
        format!("{x}")
    } else if x >= 0.1 {
        format!("{x:.3}")
    } else {
        format!("{x:.2e}")
    }
}

impl Tabular for Report {
    fn columns() -> Vec<Column> {
        vec![
            Column::right("target", 6),
            Column::right("entries", 8),
            Column::right("k", 3),
            Column::right("r", 2),
            Column::right("lookups", 9),
            Column::right("stated", 8).after("  "),
            Column::right("measured", 8),
            Column::right("interval", 18).header_centred(),
            Column::right("stated", 8).after("  "),
            Column::right("measured", 8),
            Column::left("agree", 0).after("  "),
        ]
    }

    fn preamble(&self) -> Vec<String> {
        vec![
            format!(
                "{} Bloom sets, seed {}: measured false positives against the stated rate.",
                self.algorithm.name().to_uppercase(),
                self.config.seed
            ),
            format!(
                "Intervals: exact (Clopper-Pearson) at {:.3}% each, so that by chance none of the {} \
                 comparisons disagrees with {:.0}% confidence.",
                self.comparison_confidence * 100.0,
                self.comparisons,
                self.config.family_confidence * 100.0
            ),
            String::new(),
            format!("{:32}  {:-^36}  {:-^17}", "", " per probe ", " per lookup "),
        ]
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        self.cells.iter().map(row).collect()
    }

    fn epilogue(&self) -> Vec<String> {
        let last = if self.all_agree {
            "Every stated rate agrees with the measured one.".to_string()
        } else {
            let n = self
                .cells
                .iter()
                .filter(|c| !(c.per_probe.agrees && c.per_lookup.agrees))
                .count();
            format!(
                "{n} of {} cells disagree: the set states a rate the measurement rules out.",
                self.cells.len()
            )
        };
        vec![String::new(), last]
    }
}

fn row(c: &bloom::Cell) -> Vec<Cell> {
    let agree = match (c.per_probe.agrees, c.per_lookup.agrees) {
        (true, true) => "yes",
        (false, true) => "NO (per probe)",
        (true, false) => "NO (per lookup)",
        (false, false) => "NO",
    };
    let i = c.per_probe.interval;
    [
        format!("{:.0e}", c.target_fpr),
        c.entries.to_string(),
        c.hashes.to_string(),
        c.radius.to_string(),
        c.lookups.to_string(),
        sci(c.per_probe.stated),
        sci(c.per_probe.measured),
        format!("[{}, {}]", sci(i.lower), sci(i.upper)),
        sci(c.per_lookup.stated),
        sci(c.per_lookup.measured),
        agree.to_string(),
    ]
    .into_iter()
    .map(Cell::from)
    .collect()
}

/// A duration in the unit that fits: `0.412 µs`, `31.5 µs`, `7.102 ms`.
pub fn duration(nanos: u64) -> String {
    match nanos {
        0..1_000 => format!("{:.3} µs", nanos as f64 / 1e3),
        1_000..1_000_000 => format!("{:.1} µs", nanos as f64 / 1e3),
        _ => format!("{:.3} ms", nanos as f64 / 1e6),
    }
}

/// Back to whole nanoseconds from the report's microseconds.
fn nanos(micros: f64) -> u64 {
    (micros * 1e3).round() as u64
}

impl Tabular for cost::Report {
    fn columns() -> Vec<Column> {
        vec![
            Column::left("STEP", 28),
            Column::right("MEDIAN", 12),
            Column::right("P99", 12),
        ]
    }

    fn preamble(&self) -> Vec<String> {
        let i = &self.image;
        let mut lines = vec![format!(
            "{} runs, one thread; image {}, {}×{} ({} bytes)",
            self.runs, i.path, i.width, i.height, i.bytes
        )];
        let load = self.hashset.load_us.map_or(String::new(), |us| {
            format!("; verified and indexed in {}", duration(nanos(us)))
        });
        lines.push(format!("hash set: {}{load}", self.hashset.description));
        if let Some(hits) = self.near_entry_hits {
            lines.push(format!(
                "near-entry lookups found the entry in {hits} of {} runs",
                self.runs
            ));
        }
        lines
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        self.steps
            .iter()
            .map(|s| {
                vec![
                    s.step.as_str().into(),
                    duration(nanos(s.median_us)).into(),
                    duration(nanos(s.p99_us)).into(),
                ]
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::sci;

    #[test]
    fn rates_print_in_three_digits() {
        assert_eq!(sci(0.0), "0");
        assert_eq!(sci(1.0), "1");
        assert_eq!(sci(0.9254), "0.925");
        assert_eq!(sci(1.0703e-7), "1.07e-7");
        assert_eq!(sci(0.0324), "3.24e-2");
    }
}
