//! JSON: the result's own serialisation.

use super::{Error, Exporter, Tabular};

/// The result as JSON: one compact object a line (a stream of results is
/// JSON Lines), or pretty-printed for a result shown alone.
#[derive(Clone, Copy, Debug, Default)]
pub struct Json {
    pretty: bool,
}

impl Json {
    /// One compact object a line.
    pub fn lines() -> Json {
        Json { pretty: false }
    }

    /// Pretty-printed (two-space indent).
    pub fn pretty() -> Json {
        Json { pretty: true }
    }
}

impl Exporter for Json {
    fn header<T: Tabular>(&self) -> String {
        String::new()
    }

    fn record<T: Tabular>(&self, result: &T) -> Result<String, Error> {
        // Through `Value`: its maps keep keys sorted, the order every
        // `--json` of cssim has printed.
        let value = serde_json::to_value(result)?;
        let mut text = if self.pretty {
            serde_json::to_string_pretty(&value)?
        } else {
            serde_json::to_string(&value)?
        };
        text.push('\n');
        Ok(text)
    }
}
