//! The terminal table.

use super::{Align, Cell, Column, Error, Exporter, Layout, Tabular, Tone};

/// Rows under a header, cells padded to their columns' widths (or separated
/// by tabs, as the result's [`Layout`] says); [`Tone`]s coloured when asked.
#[derive(Clone, Copy, Debug, Default)]
pub struct Table {
    colour: bool,
}

impl Table {
    /// A table without colour.
    pub fn plain() -> Table {
        Table { colour: false }
    }

    /// A table with colour when `colour` (the caller decides: a terminal,
    /// no `NO_COLOR`).
    pub fn coloured(colour: bool) -> Table {
        Table { colour }
    }

    fn paint(&self, cell: &Cell, text: String) -> String {
        let code = match cell.tone {
            Tone::Plain => return text,
            Tone::Alarm => "1;31",
            Tone::Calm => "32",
        };
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text
        }
    }

    fn line(&self, columns: &[Column], layout: Layout, cells: &[Cell]) -> String {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if layout == Layout::Lines {
                line.push_str(&self.paint(cell, cell.text.clone()));
                continue;
            }
            if layout == Layout::Tabs {
                if i > 0 {
                    line.push('\t');
                }
                line.push_str(&self.paint(cell, cell.text.clone()));
                continue;
            }
            let column = columns.get(i);
            if i > 0 {
                line.push_str(column.map_or(" ", |c| c.gap));
            }
            let last = i + 1 == cells.len();
            let text = match column {
                // No trailing spaces: a last left-aligned cell is not padded.
                Some(c) if !(last && c.align == Align::Left) => pad(&cell.text, c.width, c.align),
                _ => cell.text.clone(),
            };
            line.push_str(&self.paint(cell, text));
        }
        line.push('\n');
        line
    }
}

/// `text` padded with spaces to `width` characters, as `format!("{:<w$}")`
/// and `format!("{:>w$}")` pad.
fn pad(text: &str, width: usize, align: Align) -> String {
    match align {
        Align::Left => format!("{text:<width$}"),
        Align::Right => format!("{text:>width$}"),
        Align::Centre => format!("{text:^width$}"),
    }
}

impl Exporter for Table {
    fn header<T: Tabular>(&self) -> String {
        if T::layout() != Layout::Aligned {
            return String::new();
        }
        let columns: Vec<Column> = T::columns()
            .into_iter()
            .map(|c| Column {
                align: c.header_align.unwrap_or(c.align),
                ..c
            })
            .collect();
        let names: Vec<Cell> = columns.iter().map(|c| Cell::from(c.name)).collect();
        self.line(&columns, Layout::Aligned, &names)
    }

    fn record<T: Tabular>(&self, result: &T) -> Result<String, Error> {
        let columns = T::columns();
        Ok(result
            .rows()
            .iter()
            .map(|row| self.line(&columns, T::layout(), row))
            .collect())
    }

    fn document<T: Tabular>(&self, result: &T) -> Result<String, Error> {
        let mut out: String = result.preamble().iter().map(|l| format!("{l}\n")).collect();
        out.push_str(&self.header::<T>());
        out.push_str(&self.record(result)?);
        for l in result.epilogue() {
            out.push_str(&l);
            out.push('\n');
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct Verdicts(Vec<(&'static str, bool)>);

    impl Tabular for Verdicts {
        fn columns() -> Vec<Column> {
            vec![
                Column::left("ALGO", 6),
                Column::left("VERDICT", 0).after("  "),
            ]
        }
        fn rows(&self) -> Vec<Vec<Cell>> {
            self.0
                .iter()
                .map(|(a, m)| {
                    let tone = if *m { Tone::Alarm } else { Tone::Calm };
                    vec![
                        (*a).into(),
                        Cell::toned(if *m { "match" } else { "no match" }, tone),
                    ]
                })
                .collect()
        }
        fn preamble(&self) -> Vec<String> {
            vec!["A: x".into(), String::new()]
        }
    }

    #[test]
    fn aligned_rows_pad_all_but_the_last_column_and_colour_only_when_asked() {
        let v = Verdicts(vec![("pdq", true), ("sha256x", false)]);
        let plain = Table::plain().document(&v).unwrap();
        assert_eq!(
            plain,
            "A: x\n\nALGO    VERDICT\npdq     match\nsha256x  no match\n"
        );
        let coloured = Table::coloured(true).record(&v).unwrap();
        assert_eq!(
            coloured,
            "pdq     \x1b[1;31mmatch\x1b[0m\nsha256x  \x1b[32mno match\x1b[0m\n"
        );
    }
}
