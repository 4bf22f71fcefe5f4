//! Rollback protection: the highest version of each set a client has accepted.
//!
//! A signature says who issued a set, not that it is their latest. Anyone
//! who kept an old signed file (a relay, a network attacker, a device image)
//! could otherwise hand a client that file again — one from before entries
//! were added, say. So a client remembers, per issuer and set name, the
//! highest version it has accepted, and refuses anything lower:
//!
//! ```no_run
//! use std::path::Path;
//! use cssim::hashset::{SignedSet, VersionPins, sign};
//!
//! # fn main() -> Result<(), cssim::hashset::Error> {
//! let issuer = sign::IssuerKey::read(Path::new("hashsets/demo-issuer.key.pub"))?;
//! let set_path = Path::new("hashsets/demo.hashset");
//! let pins_path = Path::new("state/alice.pins.json");
//! let set = SignedSet::open(set_path, &issuer.key)?; // signature and expiry
//! let mut pins = VersionPins::load(pins_path)?;
//! pins.check_and_record(set.manifest()).map_err(|e| e.in_file(set_path))?;
//! pins.save(pins_path)?;
//! # Ok(()) }
//! ```
//!
//! An equal version is accepted (the same set, loaded again). Pins are keyed
//! by the issuer's key fingerprint, not its name, so a different key gets its
//! own versions; and by set name, so one issuer can publish several sets.
//! The pins file is JSON, written atomically:
//!
//! ```json
//! {"format":"cssim-version-pins-v1","pins":[{"issuer":"dd4bc08c5e67c17e","name":"demo","version":2}]}
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::manifest::Manifest;
use super::{Error, Result};
use crate::files::write_atomic;

/// The `format` field of a pins file.
pub const FORMAT: &str = "cssim-version-pins-v1";

/// The highest version accepted per (issuer fingerprint, set name).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionPins {
    pins: BTreeMap<(String, String), u32>,
}

/// One pin as stored in the file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pin {
    issuer: String,
    name: String,
    version: u32,
}

/// The file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PinsFile {
    format: String,
    pins: Vec<Pin>,
}

impl VersionPins {
    /// No pins: every version is accepted.
    pub fn new() -> VersionPins {
        VersionPins::default()
    }

    /// Reads a pins file. A missing file means no pins yet (a new client);
    /// a file that exists but is not a pins file is [`Error::PinsFile`],
    /// never silently treated as empty, which would undo the protection.
    pub fn load(path: &Path) -> Result<VersionPins> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(VersionPins::new());
            }
            Err(source) => {
                return Err(Error::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let corrupt = |reason: String| Error::PinsFile {
            path: path.to_path_buf(),
            reason,
        };
        let file: PinsFile = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if file.format != FORMAT {
            return Err(corrupt(format!(
                "format is '{}', expected '{FORMAT}'",
                file.format
            )));
        }
        let mut pins = BTreeMap::new();
        for p in file.pins {
            let key = (p.issuer, p.name);
            if pins.insert(key.clone(), p.version).is_some() {
                return Err(corrupt(format!(
                    "set '{}' by issuer {} is pinned twice",
                    key.1, key.0
                )));
            }
        }
        Ok(VersionPins { pins })
    }

    /// Writes the pins atomically (a crash leaves the old file or the new
    /// one), sorted by issuer then name, so equal pins give equal bytes.
    pub fn save(&self, path: &Path) -> Result<()> {
        let file = PinsFile {
            format: FORMAT.to_string(),
            pins: self
                .pins
                .iter()
                .map(|((issuer, name), &version)| Pin {
                    issuer: issuer.clone(),
                    name: name.clone(),
                    version,
                })
                .collect(),
        };
        let mut json = serde_json::to_vec_pretty(&file).map_err(|e| Error::PinsFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        json.push(b'\n');
        Ok(write_atomic(path, &json, false)?)
    }

    /// The highest version accepted for `name` from the issuer with key
    /// fingerprint `issuer`.
    pub fn pinned(&self, issuer: &str, name: &str) -> Option<u32> {
        self.pins
            .get(&(issuer.to_string(), name.to_string()))
            .copied()
    }

    /// Refuses `manifest` if its version is lower than the one pinned for
    /// its issuer and name ([`Error::Rollback`]); records nothing.
    pub fn check(&self, manifest: &Manifest) -> Result<()> {
        let issuer = &manifest.issuer.fingerprint;
        match self.pinned(issuer, &manifest.name) {
            Some(pinned) if manifest.version < pinned => Err(Error::Rollback {
                name: manifest.name.clone(),
                issuer: issuer.clone(),
                version: manifest.version,
                pinned,
            }),
            _ => Ok(()),
        }
    }

    /// [`check`](VersionPins::check), then pins the manifest's version if it
    /// is higher than (or the first for) its issuer and name. Call it only
    /// with a manifest whose signature was verified ([`super::SignedSet`]'s);
    /// [`save`](VersionPins::save) to keep the result.
    pub fn check_and_record(&mut self, manifest: &Manifest) -> Result<()> {
        self.check(manifest)?;
        let key = (manifest.issuer.fingerprint.clone(), manifest.name.clone());
        let v = self.pins.entry(key).or_insert(manifest.version);
        *v = (*v).max(manifest.version);
        Ok(())
    }

    /// How many (issuer, name) pairs are pinned.
    pub fn len(&self) -> usize {
        self.pins.len()
    }

    /// Whether nothing is pinned.
    pub fn is_empty(&self) -> bool {
        self.pins.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hashset::manifest::Issuer;

    fn manifest(issuer: &str, name: &str, version: u32) -> Manifest {
        Manifest {
            name: name.into(),
            version,
            issuer: Issuer {
                name: "Demo issuer".into(),
                fingerprint: issuer.into(),
            },
            created: "2026-11-25T00:00:00Z".into(),
            expires: None,
            description: String::new(),
            representations: Vec::new(),
            algorithms: Vec::new(),
            bloom: None,
            hashing: Default::default(),
        }
    }

    const DEMO: &str = "dd4bc08c5e67c17e";
    const OTHER: &str = "0123456789abcdef";

    #[test]
    fn a_lower_version_is_refused_and_nothing_changes() {
        let mut pins = VersionPins::new();
        pins.check_and_record(&manifest(DEMO, "demo", 2)).unwrap();
        let e = pins
            .check_and_record(&manifest(DEMO, "demo", 1))
            .unwrap_err();
        assert!(matches!(
            e,
            Error::Rollback {
                version: 1,
                pinned: 2,
                ..
            }
        ));
        assert_eq!(
            e.in_file("hashsets/demo.hashset").to_string(),
            "hashsets/demo.hashset: version 1 of 'demo' by issuer dd4bc08c5e67c17e is older \
             than version 2 already accepted: a rollback to an older signed set is refused"
        );
        assert_eq!(pins.pinned(DEMO, "demo"), Some(2));
    }

    #[test]
    fn equal_and_higher_versions_are_accepted_and_raise_the_pin() {
        let mut pins = VersionPins::new();
        assert_eq!(pins.pinned(DEMO, "demo"), None);
        for (v, pinned) in [(1, 1), (1, 1), (3, 3), (3, 3)] {
            pins.check_and_record(&manifest(DEMO, "demo", v)).unwrap();
            assert_eq!(pins.pinned(DEMO, "demo"), Some(pinned));
        }
        assert!(pins.check(&manifest(DEMO, "demo", 2)).is_err());
        assert_eq!(pins.len(), 1);
    }

    #[test]
    fn another_name_or_issuer_has_its_own_pin() {
        let mut pins = VersionPins::new();
        pins.check_and_record(&manifest(DEMO, "demo", 5)).unwrap();
        pins.check_and_record(&manifest(DEMO, "other-set", 1))
            .unwrap();
        pins.check_and_record(&manifest(OTHER, "demo", 1)).unwrap();
        assert_eq!(pins.pinned(DEMO, "demo"), Some(5));
        assert_eq!(pins.pinned(DEMO, "other-set"), Some(1));
        assert_eq!(pins.pinned(OTHER, "demo"), Some(1));
        assert_eq!(pins.len(), 3);
    }

    #[test]
    fn pins_persist_across_save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pins.json");
        assert!(VersionPins::load(&path).unwrap().is_empty());
        let mut pins = VersionPins::new();
        pins.check_and_record(&manifest(OTHER, "demo", 1)).unwrap();
        pins.check_and_record(&manifest(DEMO, "demo", 2)).unwrap();
        pins.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"format": FORMAT, "pins": [
                {"issuer": OTHER, "name": "demo", "version": 1},
                {"issuer": DEMO, "name": "demo", "version": 2},
            ]})
        );
        let mut back = VersionPins::load(&path).unwrap();
        assert_eq!(back, pins);
        let e = back
            .check_and_record(&manifest(DEMO, "demo", 1))
            .unwrap_err();
        assert!(e.to_string().contains("older than version 2"), "{e}");
        // Saving again gives the same bytes.
        back.save(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn a_corrupt_pins_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pins.json");
        let shown = path.display().to_string();
        for (body, reason) in [
            (
                "{\"format\": \"cssim-version-pins-v1\", \"pins\": [",
                "EOF while parsing",
            ),
            (
                "{\"format\": \"something-else\", \"pins\": []}",
                "format is 'something-else', expected 'cssim-version-pins-v1'",
            ),
            (
                "{\"format\": \"cssim-version-pins-v1\", \"pins\": [{\"issuer\": \"a\", \
                 \"name\": \"demo\", \"version\": -1}]}",
                "invalid value: integer `-1`",
            ),
            (
                "{\"format\": \"cssim-version-pins-v1\", \"pins\": [\
                 {\"issuer\": \"a\", \"name\": \"demo\", \"version\": 1},\
                 {\"issuer\": \"a\", \"name\": \"demo\", \"version\": 2}]}",
                "set 'demo' by issuer a is pinned twice",
            ),
        ] {
            std::fs::write(&path, body).unwrap();
            let e = VersionPins::load(&path).unwrap_err();
            assert!(matches!(e, Error::PinsFile { .. }), "{e:?}");
            let msg = e.to_string();
            assert!(
                msg.starts_with(&format!("{shown}: not a valid version-pins file: ")),
                "{msg}"
            );
            assert!(msg.contains(reason), "{msg}");
        }
    }
}
