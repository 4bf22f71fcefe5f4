//! [`Record`]: what `cssim hash` shows for one file.

use std::path::PathBuf;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::{Algorithm, FileDigests};
use crate::report::{Cell, Column, Tabular};

/// The digests of one file, as `cssim hash` shows them: in a table (path,
/// algorithm, digest, PDQ quality or note; text adds one row for each URL in
/// it, a skipped algorithm one row with its reason), or in JSON as
/// `{"path", "width", "height", "pdq_quality", "digests": {algo: hex}}`,
/// plus `"urls": [{"url", "text"}]` with text and `"skipped": {algo:
/// reason}` when any was skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The file.
    pub path: PathBuf,
    /// What was computed for it.
    pub digests: FileDigests,
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = &self.digests;
        let digests: std::collections::BTreeMap<String, String> = d
            .digests
            .iter()
            .map(|g| (g.algorithm().to_string(), g.to_hex()))
            .collect();
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("path", &self.path.to_string_lossy())?;
        map.serialize_entry("width", &d.dimensions.map(|x| x.0))?;
        map.serialize_entry("height", &d.dimensions.map(|x| x.1))?;
        map.serialize_entry("pdq_quality", &d.pdq_quality)?;
        if d.pdq_route == super::PdqRoute::Fast {
            map.serialize_entry("pdq_route", &d.pdq_route)?;
        }
        map.serialize_entry("digests", &digests)?;
        if d.get(Algorithm::Text).is_some() {
            #[derive(Serialize)]
            struct Url<'a> {
                url: &'a str,
                text: String,
            }
            let urls: Vec<Url> = d
                .urls
                .iter()
                .map(|(url, u)| Url {
                    url,
                    text: u.to_hex(),
                })
                .collect();
            map.serialize_entry("urls", &urls)?;
        }
        if !d.skipped.is_empty() {
            let skipped: std::collections::BTreeMap<String, &str> = d
                .skipped
                .iter()
                .map(|s| (s.algorithm.to_string(), s.reason.as_str()))
                .collect();
            map.serialize_entry("skipped", &skipped)?;
        }
        map.end()
    }
}

impl Tabular for Record {
    fn columns() -> Vec<Column> {
        vec![
            Column::left("PATH", 40),
            Column::left("ALGO", 7),
            Column::left("DIGEST", 64),
            Column::left("QUALITY / NOTE", 0),
        ]
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        let d = &self.digests;
        let path = self.path.display().to_string();
        let mut rows = Vec::new();
        for digest in &d.digests {
            let quality = match (digest.algorithm(), d.pdq_quality) {
                (Algorithm::Pdq, Some(q)) if d.pdq_route == super::PdqRoute::Fast => {
                    format!("{q} (fast route: reduced JPEG, not bit-exact)")
                }
                (Algorithm::Pdq, Some(q)) => q.to_string(),
                _ => "-".into(),
            };
            rows.push(vec![
                path.clone().into(),
                digest.algorithm().to_string().into(),
                digest.to_hex().into(),
                quality.into(),
            ]);
            if digest.algorithm() == Algorithm::Text {
                for (url, u) in &d.urls {
                    rows.push(vec![
                        path.clone().into(),
                        Algorithm::Text.to_string().into(),
                        u.to_hex().into(),
                        format!("url {url}").into(),
                    ]);
                }
            }
        }
        for s in &d.skipped {
            rows.push(vec![
                path.clone().into(),
                s.algorithm.to_string().into(),
                format!("skipped: {}", s.reason).into(),
                "-".into(),
            ]);
        }
        rows
    }
}
