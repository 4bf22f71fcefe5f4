//! Results as data, rendered in one place.
//!
//! Each command's result is a typed value from the library (a
//! [`hash::Record`](crate::hash::Record), a
//! [`hash::Comparison`](crate::hash::Comparison), a
//! [`hashset::Check`](crate::hashset::Check), …) that is
//! [`Serialize`] and [`Tabular`]. An [`Exporter`] turns any such value into
//! text: [`Table`] for the terminal, [`Json`] for machines, [`Csv`] for
//! spreadsheets, [`html::Html`] for report tables — and [`html::Page`] with
//! [`chart::Chart`]s (inline SVG) for the self-contained HTML reports and the
//! web page, which render the same types. The binary only picks the exporter
//! (`--json`, `--csv`) and writes what it returns; no command formats its own
//! rows. This is hyperfine's `src/export/` and ripgrep's typed JSON printer,
//! in one small module.
//!
//! ```
//! use cssim::report::{Column, Cell, Exporter, Table, Tabular};
//! #[derive(serde::Serialize)]
//! struct Hit { algorithm: &'static str, distance: u32 }
//! impl Tabular for Hit {
//!     fn columns() -> Vec<Column> {
//!         vec![Column::left("ALGO", 7), Column::right("DISTANCE", 8)]
//!     }
//!     fn rows(&self) -> Vec<Vec<Cell>> {
//!         vec![vec![self.algorithm.into(), self.distance.to_string().into()]]
//!     }
//! }
//! let hit = Hit { algorithm: "pdq", distance: 3 };
//! assert_eq!(Table::plain().document(&hit).unwrap(), "ALGO    DISTANCE\npdq            3\n");
//! assert_eq!(cssim::report::Json::lines().document(&hit).unwrap(), "{\"algorithm\":\"pdq\",\"distance\":3}\n");
//! ```

mod attack;
pub mod chart;
mod csv;
mod demo;
mod eval;
pub mod html;
mod inbox;
mod json;
mod moderation;
pub mod rates;
mod relay;
mod scenario;
mod send;
mod table;

use serde::Serialize;

pub use attack::{Summaries, attacks_page};
pub use csv::Csv;
pub use json::Json;
pub use moderation::{
    DecisionView, EvidenceView, Queue, QueueContent, QueueRow, QueueTable, ReportView,
};
pub use scenario::{DayRows, Funnel, SWEEP_METRICS, figure, run_page, sweep_page};
pub use table::Table;

/// An error while exporting a result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The result could not be serialised as JSON.
    #[error("cannot write the result as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// How a column's cells are aligned in a [`Table`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Padded on the right.
    Left,
    /// Padded on the left.
    Right,
    /// Padded on both sides (the left gets the smaller half).
    Centre,
}

/// One column of a [`Tabular`] result: its header and, for the aligned
/// terminal table, the width its cells are padded to (a longer cell is
/// printed whole and pushes the rest of its row on), its alignment and the
/// space before it. A last column aligned left is not padded (no trailing
/// spaces).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// The header (`PATH`, `ALGO`, …).
    pub name: &'static str,
    /// Minimum width in characters.
    pub width: usize,
    /// Alignment within the width.
    pub align: Align,
    /// What separates it from the column before (one space unless set).
    pub gap: &'static str,
    /// The header's alignment, when it differs from the cells'.
    pub header_align: Option<Align>,
}

impl Column {
    /// A left-aligned column at least `width` characters wide.
    pub fn left(name: &'static str, width: usize) -> Column {
        Column {
            name,
            width,
            align: Align::Left,
            gap: " ",
            header_align: None,
        }
    }

    /// A right-aligned column at least `width` characters wide.
    pub fn right(name: &'static str, width: usize) -> Column {
        Column {
            align: Align::Right,
            ..Column::left(name, width)
        }
    }

    /// The same column, with `gap` before it instead of one space.
    pub fn after(self, gap: &'static str) -> Column {
        Column { gap, ..self }
    }

    /// The same column with its header centred over the cells.
    pub fn header_centred(self) -> Column {
        Column {
            header_align: Some(Align::Centre),
            ..self
        }
    }
}

/// How a cell reads at a glance: [`Table`] colours it on terminals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tone {
    /// No colour.
    #[default]
    Plain,
    /// Something matched or is equal (bold red).
    Alarm,
    /// Nothing matched (green).
    Calm,
}

/// One cell of a row: its text and its [`Tone`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cell {
    /// The text.
    pub text: String,
    /// The tone.
    pub tone: Tone,
}

impl Cell {
    /// A cell with this tone.
    pub fn toned(text: impl Into<String>, tone: Tone) -> Cell {
        Cell {
            text: text.into(),
            tone,
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell {
            text,
            tone: Tone::Plain,
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::from(text.to_string())
    }
}

/// How a [`Table`] lays a result out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// A header line, then each row with its cells padded to the columns'
    /// widths.
    Aligned,
    /// No header; cells separated by tabs (for `cut` and `awk`).
    Tabs,
    /// No header; each row's cells joined as they are: lines of prose
    /// whose parts carry [`Tone`]s.
    Lines,
}

/// A result that reads as rows under fixed columns.
pub trait Tabular: Serialize {
    /// The columns, the same for every value of the type (so a stream of
    /// results gets one header).
    fn columns() -> Vec<Column>
    where
        Self: Sized;

    /// The value's rows (one value may give several: a file's digests).
    fn rows(&self) -> Vec<Vec<Cell>>;

    /// Lines printed above the header when the value is shown alone
    /// ([`Exporter::document`]): what was compared, a note.
    fn preamble(&self) -> Vec<String> {
        Vec::new()
    }

    /// Lines printed below the rows when the value is shown alone: a
    /// conclusion.
    fn epilogue(&self) -> Vec<String> {
        Vec::new()
    }

    /// The layout of the terminal table.
    fn layout() -> Layout
    where
        Self: Sized,
    {
        Layout::Aligned
    }
}

/// Turns [`Tabular`] results into text. A stream of results is
/// [`header`](Exporter::header) then one [`record`](Exporter::record) each
/// (each ends in a newline; records of several lines stay together); a
/// single result is its [`document`](Exporter::document).
pub trait Exporter {
    /// What comes before the first record (may be empty).
    fn header<T: Tabular>(&self) -> String;

    /// One result.
    fn record<T: Tabular>(&self, result: &T) -> Result<String, Error>;

    /// One result shown alone.
    fn document<T: Tabular>(&self, result: &T) -> Result<String, Error> {
        Ok(self.header::<T>() + &self.record(result)?)
    }
}

/// The exporters a command offers, as its flags choose them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// [`Table`].
    Table,
    /// [`Json`].
    Json,
    /// [`Csv`].
    Csv,
}

/// An input that could not be processed (a file that did not read or
/// decode): what `--json` prints in its place, in order among the results,
/// and what reports list as skipped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The input.
    #[serde(serialize_with = "serialize_path")]
    pub path: std::path::PathBuf,
    /// Why, in one line.
    pub error: String,
}

impl Tabular for Failure {
    fn columns() -> Vec<Column> {
        vec![Column::left("PATH", 24), Column::left("ERROR", 0)]
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        vec![vec![
            self.path.to_string_lossy().into_owned().into(),
            Cell::toned(self.error.clone(), Tone::Alarm),
        ]]
    }
}

/// Serialises a path as a string, bytes that are not UTF-8 replaced by
/// U+FFFD: one rule for every path in JSON, so a file name never stops the
/// output.
pub fn serialize_path<S: serde::Serializer>(
    path: &std::path::Path,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}
