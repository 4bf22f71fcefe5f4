//! [`Info`]: what `cssim hashset info` shows about a hash-set file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::manifest::{Hashing, Manifest};
use super::sign::IssuerKey;
use super::{Result, SignedSet, format};
use crate::report::{Cell, Column, Layout, Tabular};

/// A hash-set file described: its structure, its manifest, whether its
/// signature was verified, whether it has expired. As text: one line a
/// fact (`issuer`, `expires`, each section, each algorithm…); in JSON
/// `{"file", "file_bytes", "sections": {name: bytes}, "signature",
/// "version", "expires", "expired", "hashing", "manifest"}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Info {
    /// The file (in JSON: lossy UTF-8).
    #[serde(serialize_with = "crate::report::serialize_path")]
    pub file: PathBuf,
    /// Its length in bytes.
    pub file_bytes: u64,
    /// Each section's length in bytes, by name.
    pub sections: BTreeMap<String, u64>,
    /// The signature's state, in words.
    pub signature: String,
    /// The set's version.
    pub version: u32,
    /// Its expiry (RFC 3339), if any.
    pub expires: Option<String>,
    /// Expired, or its expiry is unreadable (a client refuses it either way).
    pub expired: bool,
    /// How its entries were hashed.
    pub hashing: Hashing,
    /// The manifest as the file states it.
    pub manifest: Manifest,
    /// The sections in file order, for the text.
    #[serde(skip)]
    section_order: Vec<(String, u64)>,
    /// The expiry could not be read as an RFC 3339 time.
    #[serde(skip)]
    expiry_unreadable: bool,
}

impl Info {
    /// Describes the hash-set file `bytes` read from `file`, verifying its
    /// signature with `issuer` if given, its expiry against `now_unix`.
    /// Errors name the file.
    pub fn of(
        file: &Path,
        bytes: &[u8],
        issuer: Option<&IssuerKey>,
        now_unix: u64,
    ) -> Result<Info> {
        let info = format::inspect(bytes).map_err(|e| e.in_file(file))?;
        let signature = match issuer {
            Some(key) => {
                SignedSet::from_bytes(bytes, &key.key).map_err(|e| e.in_file(file))?;
                format!("signature valid ({} {})", key.issuer, key.fingerprint())
            }
            None => "signature not verified (pass --issuer PUBKEY to verify)".to_string(),
        };
        let m = info.manifest;
        // An unreadable expiry (possible only in an unverified file: the
        // reader refuses it) counts as expired, as a client would treat it.
        let expiry = m.is_expired_at(now_unix);
        let section_order: Vec<(String, u64)> = info
            .sections
            .iter()
            .map(|(k, n)| (k.name().to_string(), *n))
            .collect();
        Ok(Info {
            file: file.to_path_buf(),
            file_bytes: info.file_bytes,
            sections: section_order.iter().cloned().collect(),
            signature,
            version: m.version,
            expires: m.expires.clone(),
            expired: !matches!(expiry, Ok(false)),
            hashing: m.hashing,
            expiry_unreadable: expiry.is_err(),
            section_order,
            manifest: m,
        })
    }
}

impl Tabular for Info {
    fn columns() -> Vec<Column> {
        vec![Column::left("LINE", 0)]
    }

    fn layout() -> Layout {
        Layout::Lines
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        let m = &self.manifest;
        let mut lines = vec![
            format!(
                "{}  {} v{}  created {}",
                self.file.display(),
                m.name,
                m.version,
                m.created
            ),
            format!(
                "issuer       {} (fingerprint {}, as stated by the file)",
                m.issuer.name, m.issuer.fingerprint
            ),
        ];
        lines.push(match &m.expires {
            None => "expires      no expiry".to_string(),
            Some(e) if self.expiry_unreadable => {
                format!("expires      {e} (not an RFC 3339 time: clients refuse the set)")
            }
            Some(e) if self.expired => format!("expires      {e} (expired: clients refuse it)"),
            Some(e) => format!("expires      {e}"),
        });
        lines.push(self.signature.clone());
        if !m.description.is_empty() {
            lines.push(format!("description  {}", m.description));
        }
        lines.push(format!(
            "hashing      {}{}",
            m.hashing,
            if m.hashing.is_default() {
                " (the default)"
            } else {
                ""
            }
        ));
        let reprs: Vec<&str> = m.representations.iter().map(|r| r.name()).collect();
        lines.push(format!("represented  {}", reprs.join(", ")));
        for (k, n) in &self.section_order {
            lines.push(format!("section      {k:<9} {n} bytes"));
        }
        for a in &m.algorithms {
            let bloom = a.bloom.as_ref().map_or(String::new(), |b| {
                format!(
                    "  bloom {} bits, k={}, fpr {:.2e}/probe",
                    b.bits, b.hashes, b.estimated_fpr
                )
            });
            // Which computation classic entries come from (see hash::classic).
            let variant = match (a.algorithm.is_classic(), &a.variant) {
                (false, _) => String::new(),
                (true, Some(v)) => format!("  variant {v}"),
                (true, None) => "  variant img_hash (built before imagehash 4.3: rebuild)".into(),
            };
            lines.push(format!(
                "{:<7} {:>9} entries  {} bits  threshold {}{bloom}{variant}",
                a.algorithm, a.entries, a.bits, a.default_threshold
            ));
        }
        if let Some(b) = &m.bloom {
            lines.push(format!(
                "bloom        target fpr {:.1e}, seed {}",
                b.target_fpr, b.seed
            ));
        }
        lines.into_iter().map(|l| vec![Cell::from(l)]).collect()
    }
}
