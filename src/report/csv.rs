//! CSV (RFC 4180 quoting; lines end in a line feed): the table's columns
//! and rows, for spreadsheets.

use super::{Error, Exporter, Tabular};

/// The result's rows as CSV under a header of its column names; cells that
/// hold a comma, a quote or a line break are quoted.
#[derive(Clone, Copy, Debug, Default)]
pub struct Csv;

fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn line<'a>(cells: impl Iterator<Item = &'a str>) -> String {
    let mut out = cells.map(field).collect::<Vec<_>>().join(",");
    out.push('\n');
    out
}

impl Exporter for Csv {
    fn header<T: Tabular>(&self) -> String {
        line(T::columns().iter().map(|c| c.name))
    }

    fn record<T: Tabular>(&self, result: &T) -> Result<String, Error> {
        Ok(result
            .rows()
            .iter()
            .map(|row| line(row.iter().map(|c| c.text.as_str())))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Cell, Column};

    #[derive(serde::Serialize)]
    struct Two(&'static str, &'static str);
    impl Tabular for Two {
        fn columns() -> Vec<Column> {
            vec![Column::left("A", 1), Column::left("B", 1)]
        }
        fn rows(&self) -> Vec<Vec<Cell>> {
            vec![vec![self.0.into(), self.1.into()]]
        }
    }

    #[test]
    fn fields_with_commas_quotes_and_newlines_are_quoted() {
        let got = Csv.document(&Two("a,b", "say \"hi\"\nbye")).unwrap();
        assert_eq!(got, "A,B\n\"a,b\",\"say \"\"hi\"\"\nbye\"\n");
    }
}
