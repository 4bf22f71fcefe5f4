//! The per-message scanning cost measured by `cssim bench --json`: what
//! scanning adds to sending one image and one text message (the medians of
//! the bench's totals less its seal, which a message pays with or without
//! scanning), times the simulated messages — device CPU time a day, as
//! measured on the machine the bench ran on.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Error;
use super::scenario::Loaded;

/// The measured cost per message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// The bench file, as the scenario names it.
    pub file: PathBuf,
    /// Milliseconds scanning adds to an image message (median).
    pub image_ms: f64,
    /// Milliseconds scanning adds to a text message (median).
    pub text_ms: f64,
    /// The hash set the bench looked up in (its kind and entries).
    pub hashset: String,
}

impl Measured {
    /// Where the figures come from, in words.
    pub fn describe(&self) -> String {
        format!(
            "scanning cost measured by cssim bench ({}; set: {}): {:.3} ms an image message, {:.3} ms a text message \
             (medians, total less seal), as measured on the machine the bench ran on",
            self.file.display(),
            self.hashset,
            self.image_ms,
            self.text_ms
        )
    }
}

#[derive(Deserialize)]
struct BenchFile {
    steps: Vec<Step>,
    #[serde(default)]
    hashset: Option<BenchSet>,
}

#[derive(Deserialize)]
struct BenchSet {
    kind: String,
    entries: u64,
}

#[derive(Deserialize)]
struct Step {
    step: String,
    median_us: f64,
}

/// Reads the scenario's `cost.bench`, if it names one.
pub fn load(loaded: &Loaded) -> Result<Option<Measured>, Error> {
    let Some(file) = &loaded.scenario.cost.bench else {
        return Ok(None);
    };
    let invalid = |reason: String| Error::Invalid {
        path: loaded.path.clone(),
        line: None,
        field: "cost.bench".into(),
        reason,
    };
    let path = loaded.resolve(file);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        invalid(format!(
            "{}: {}",
            path.display(),
            crate::files::describe_io_error(&e)
        ))
    })?;
    let bench: BenchFile = serde_json::from_str(&text).map_err(|e| {
        invalid(format!(
            "{}: not a cssim bench --json output: {e}",
            path.display()
        ))
    })?;
    let median = |name: &str| -> Result<f64, Error> {
        bench
            .steps
            .iter()
            .find(|s| s.step == name)
            .map(|s| s.median_us)
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| invalid(format!("{} has no step '{name}'", path.display())))
    };
    let scan = |kind: &str| -> Result<f64, Error> {
        let total = median(&format!("{kind}: total"))?;
        let seal = median(&format!("{kind}: seal"))?;
        Ok((total - seal).max(0.0) / 1000.0)
    };
    Ok(Some(Measured {
        file: file.clone(),
        image_ms: scan("image")?,
        text_ms: scan("text")?,
        hashset: bench.hashset.map_or_else(
            || "not recorded".into(),
            |h| format!("{}, {} entries", h.kind, h.entries),
        ),
    }))
}
