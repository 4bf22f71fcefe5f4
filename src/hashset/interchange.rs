//! Plain list formats other tools use, and cssim's CSV.
//!
//! - `pdq`: ThreatExchange / HMA style, one 64-hex-digit PDQ hash a line,
//!   optionally `,quality` (0–100). A first line `hash,quality` (HMA's CSV
//!   header) is skipped.
//! - `md5`, `sha256`: one hex digest a line.
//! - `csv`: a header naming the columns `algorithm,hash` and optionally
//!   `category,source`, then one entry a row (RFC 4180 quoting).
//!
//! In every format blank lines and lines starting with `#` are ignored.
//! Errors give the 1-based line number. A plain list holds one algorithm: a
//! line with another algorithm's length (a 32-digit MD5 in a SHA-256 list)
//! is an error, not a silently skipped line. (PDQ and SHA-256 are both 64
//! hex digits and cannot be told apart.) Duplicates are dropped and counted.
//! PDQ quality is checked and counted but not kept: the hash-set file
//! records entries, not how good the image they came from was.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use super::list::Label;
use super::{Error, Result};
use crate::hash::pdq::MIN_QUALITY;
use crate::hash::{Algorithm, Digest};

/// A list format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// PDQ hashes, `hash[,quality]` a line.
    Pdq,
    /// MD5 hex digests.
    Md5,
    /// SHA-256 hex digests.
    Sha256,
    /// CSV with a header: `algorithm,hash,category,source`.
    Csv,
}

impl Format {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Pdq => "pdq",
            Format::Md5 => "md5",
            Format::Sha256 => "sha256",
            Format::Csv => "csv",
        }
    }

    /// The algorithm of a plain list; `None` for CSV.
    pub fn algorithm(self) -> Option<Algorithm> {
        match self {
            Format::Pdq => Some(Algorithm::Pdq),
            Format::Md5 => Some(Algorithm::Md5),
            Format::Sha256 => Some(Algorithm::Sha256),
            Format::Csv => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Format {
    type Err = Error;

    fn from_str(s: &str) -> Result<Format> {
        [Format::Pdq, Format::Md5, Format::Sha256, Format::Csv]
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::InvalidOption {
                option: "format",
                value: s.to_string(),
                reason: "is not one of pdq, md5, sha256, csv".into(),
            })
    }
}

/// The entries read from a list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Imported {
    /// Distinct entries, in the order first seen.
    pub entries: Vec<(Digest, Option<Label>)>,
    /// Lines dropped because their digest was already listed.
    pub duplicates: u64,
    /// PDQ entries whose stated quality is below [`MIN_QUALITY`] (kept, but
    /// Meta recommends against matching on them).
    pub low_quality: u64,
}

impl Imported {
    /// Gives `label` to every entry without one.
    pub fn label_unlabelled(&mut self, label: &Label) {
        for (_, l) in &mut self.entries {
            if l.is_none() {
                *l = Some(label.clone());
            }
        }
    }
}

/// Parses `text` in `format`. Zero entries is an error.
pub fn parse(text: &str, format: Format) -> Result<Imported> {
    let mut out = Imported::default();
    let mut seen = HashSet::new();
    let mut header: Option<Vec<String>> = None;
    let mut first = true;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim_start_matches('\u{feff}').trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let is_first = std::mem::replace(&mut first, false);
        let err = |reason: String| Error::Import {
            line: line_no,
            reason,
        };
        let entry = match format.algorithm() {
            Some(algorithm) => {
                if is_first && looks_like_header(line) {
                    continue;
                }
                let fields: Vec<&str> = line.split(',').map(str::trim).collect();
                let max_fields = if format == Format::Pdq { 2 } else { 1 };
                if fields.len() > max_fields {
                    return Err(err(format!(
                        "expected {} a line, found {} fields",
                        if format == Format::Pdq {
                            "hash[,quality]"
                        } else {
                            "one hash"
                        },
                        fields.len()
                    )));
                }
                let digest = plain_digest(fields[0], algorithm, line_no)?;
                if let Some(q) = fields.get(1) {
                    let q: u8 = q.parse().ok().filter(|q| *q <= 100).ok_or_else(|| {
                        err(format!("quality '{q}' is not a number from 0 to 100"))
                    })?;
                    if q < MIN_QUALITY {
                        out.low_quality += 1;
                    }
                }
                (digest, None)
            }
            None => {
                let fields = split_csv_line(line).map_err(&err)?;
                let Some(columns) = &header else {
                    header = Some(check_header(fields, line_no)?);
                    continue;
                };
                csv_entry(columns, &fields, line_no)?
            }
        };
        if seen.insert(entry.0.clone()) {
            out.entries.push(entry);
        } else {
            out.duplicates += 1;
        }
    }
    if out.entries.is_empty() {
        return Err(Error::Empty);
    }
    Ok(out)
}

/// Reads and parses a list file; errors name the file.
pub fn read_file(path: &std::path::Path, format: Format) -> Result<Imported> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if let Ok(format) = image::guess_format(&bytes) {
        return Err(Error::Import {
            line: 1,
            reason: format!(
                "this is a {format:?} image, not a list of hashes: to hash images, pass the folder that holds them"
            ),
        }
        .in_file(path));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        Error::Import {
            line: 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count(),
            reason: "not UTF-8 text".into(),
        }
        .in_file(path)
    })?;
    parse(&text, format).map_err(|e| e.in_file(path))
}

fn looks_like_header(line: &str) -> bool {
    let first = line
        .split(',')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        first.as_str(),
        "hash" | "pdq" | "pdq_hash" | "signal" | "signal_value"
    )
}

/// Parses one plain-list hash, telling a wrong algorithm from a typo.
fn plain_digest(field: &str, algorithm: Algorithm, line: usize) -> Result<Digest> {
    let expected = if algorithm == Algorithm::Md5 { 32 } else { 64 };
    if field.len() != expected && field.bytes().all(|b| b.is_ascii_hexdigit()) {
        let found = match field.len() {
            32 => Some(Algorithm::Md5),
            64 => Some(Algorithm::Sha256),
            _ => None,
        };
        if let Some(found) = found {
            return Err(Error::MixedAlgorithms {
                line,
                expected: algorithm,
                found,
            });
        }
    }
    Digest::from_hex(algorithm, field).map_err(|e| Error::Import {
        line,
        reason: e.to_string(),
    })
}

fn check_header(fields: Vec<String>, line: usize) -> Result<Vec<String>> {
    let columns: Vec<String> = fields
        .iter()
        .map(|f| f.trim().to_ascii_lowercase())
        .collect();
    for c in &columns {
        if !matches!(c.as_str(), "algorithm" | "hash" | "category" | "source") {
            return Err(Error::Import {
                line,
                reason: format!("unknown column '{c}' (expected algorithm,hash,category,source)"),
            });
        }
    }
    for required in ["algorithm", "hash"] {
        if !columns.iter().any(|c| c == required) {
            return Err(Error::Import {
                line,
                reason: format!(
                    "the header has no '{required}' column (expected algorithm,hash,category,source)"
                ),
            });
        }
    }
    Ok(columns)
}

fn csv_entry(
    columns: &[String],
    fields: &[String],
    line: usize,
) -> Result<(Digest, Option<Label>)> {
    let err = |reason: String| Error::Import { line, reason };
    if fields.len() != columns.len() {
        return Err(err(format!(
            "{} fields, the header has {}",
            fields.len(),
            columns.len()
        )));
    }
    let get = |name: &str| {
        columns
            .iter()
            .position(|c| c == name)
            .map(|i| fields[i].trim())
            .filter(|s| !s.is_empty())
    };
    let algorithm: Algorithm = get("algorithm")
        .unwrap_or("")
        .parse()
        .map_err(|e: crate::hash::UnknownAlgorithm| err(e.to_string()))?;
    let digest =
        Digest::from_hex(algorithm, get("hash").unwrap_or("")).map_err(|e| err(e.to_string()))?;
    let label = match (get("category"), get("source")) {
        (None, None) => None,
        (c, s) => Some(Label {
            category: c.unwrap_or_default().to_string(),
            source: s.map(str::to_string),
        }),
    };
    Ok((digest, label))
}

/// Splits one CSV line (RFC 4180 quoting; no line breaks inside fields).
fn split_csv_line(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.trim().is_empty() && !was_quoted => {
                field.clear();
                quoted = true;
                was_quoted = true;
            }
            (false, ',') => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            (false, '"') => return Err("a quote inside an unquoted field".into()),
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("an unterminated quoted field".into());
    }
    fields.push(field);
    Ok(fields)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"']) || s.trim() != s {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes entries in `format`. Plain formats take only their algorithm's
/// entries (others are an error: a plain list holds one algorithm).
pub fn write<'a>(
    entries: impl IntoIterator<Item = (&'a Digest, Option<&'a Label>)>,
    format: Format,
) -> Result<String> {
    let mut out = String::new();
    if format == Format::Csv {
        out.push_str("algorithm,hash,category,source\n");
    }
    let mut n = 0usize;
    for (d, l) in entries {
        n += 1;
        match format.algorithm() {
            Some(a) if a != d.algorithm() => {
                return Err(Error::MixedAlgorithms {
                    line: n,
                    expected: a,
                    found: d.algorithm(),
                });
            }
            Some(_) => out.push_str(&d.to_hex()),
            None => {
                let (c, s) = l.map_or(("", ""), |l| {
                    (l.category.as_str(), l.source.as_deref().unwrap_or(""))
                });
                out.push_str(&format!(
                    "{},{},{},{}",
                    d.algorithm(),
                    d.to_hex(),
                    csv_field(c),
                    csv_field(s)
                ));
            }
        }
        out.push('\n');
    }
    if n == 0 {
        return Err(Error::Empty);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDQ_A: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
    const MD5_A: &str = "900150983cd24fb0d6963f7d28e17f72";
    const SHA_A: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn pdq_lists_with_quality_header_comments_and_duplicates() {
        let text = format!(
            "hash,quality\n# a comment\n\n{PDQ_A},100\n{PDQ_A},90\n{},30\n",
            "0".repeat(64)
        );
        let got = parse(&text, Format::Pdq).unwrap();
        assert_eq!(got.entries.len(), 2);
        assert_eq!(got.duplicates, 1);
        assert_eq!(got.low_quality, 1);
    }

    #[test]
    fn malformed_hex_names_the_line() {
        let text = format!("{MD5_A}\n# ok\n{}zz\n", &MD5_A[..30]);
        let e = parse(&text, Format::Md5).unwrap_err();
        assert!(matches!(e, Error::Import { line: 3, .. }), "{e}");
        assert!(e.to_string().starts_with("line 3: "), "{e}");
    }

    #[test]
    fn mixed_algorithms_in_a_plain_list() {
        let text = format!("{SHA_A}\n{MD5_A}\n");
        let e = parse(&text, Format::Sha256).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2: a md5 hash in a sha256 list (one algorithm per plain list; use CSV to mix)"
        );
        let e = parse(&format!("{MD5_A}\n{SHA_A}\n"), Format::Md5).unwrap_err();
        assert!(matches!(e, Error::MixedAlgorithms { line: 2, .. }));
    }

    #[test]
    fn zero_entries_is_an_error() {
        assert!(matches!(
            parse("# nothing\n\n", Format::Sha256),
            Err(Error::Empty)
        ));
        assert!(matches!(
            parse("algorithm,hash\n", Format::Csv),
            Err(Error::Empty)
        ));
    }

    #[test]
    fn csv_round_trips_with_quoting() {
        let text = format!(
            "algorithm,hash,category,source\npdq,{PDQ_A},demo,\"Acme, Inc. \"\"list\"\"\"\nmd5,{MD5_A},,\n"
        );
        let got = parse(&text, Format::Csv).unwrap();
        assert_eq!(
            got.entries[0].1.as_ref().unwrap().source.as_deref(),
            Some("Acme, Inc. \"list\"")
        );
        assert_eq!(got.entries[1].1, None);
        let written = write(
            got.entries.iter().map(|(d, l)| (d, l.as_ref())),
            Format::Csv,
        )
        .unwrap();
        assert_eq!(parse(&written, Format::Csv).unwrap(), got);
    }

    #[test]
    fn csv_errors_name_line_and_column() {
        let e = parse("algo,hash\n", Format::Csv).unwrap_err().to_string();
        assert!(e.starts_with("line 1: unknown column 'algo'"), "{e}");
        let e = parse(&format!("algorithm,hash\nsha1,{SHA_A}\n"), Format::Csv)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("line 2: unknown algorithm 'sha1'"), "{e}");
        let e = parse(&format!("algorithm,hash\npdq,{PDQ_A},x\n"), Format::Csv)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "line 2: 3 fields, the header has 2");
    }

    #[test]
    fn plain_writers_refuse_other_algorithms() {
        let d = Digest::from_hex(Algorithm::Md5, MD5_A).unwrap();
        assert_eq!(
            write([(&d, None)], Format::Md5).unwrap(),
            format!("{MD5_A}\n")
        );
        assert!(matches!(
            write([(&d, None)], Format::Pdq),
            Err(Error::MixedAlgorithms { .. })
        ));
    }
}
