//! JSON: the result's own serialisation.

use super::{Error, Exporter, Tabular};

/// The result as JSON: one compact object a line (a stream of results is
/// JSON Lines), or pretty-printed for a result shown alone; keys sorted
/// unless [`Json::in_declared_order`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Json {
    pretty: bool,
    declared_order: bool,
}

impl Json {
    /// One compact object a line.
    pub fn lines() -> Json {
        Json {
            pretty: false,
            declared_order: false,
        }
    }

    /// Pretty-printed (two-space indent).
    pub fn pretty() -> Json {
        Json {
            pretty: true,
            declared_order: false,
        }
    }

    /// Fields in the order the type declares them, not sorted (`relay
    /// show --json` has always printed its fields so).
    pub fn in_declared_order(self) -> Json {
        Json {
            declared_order: true,
            ..self
        }
    }
}

impl Exporter for Json {
    fn header<T: Tabular>(&self) -> String {
        String::new()
    }

    fn record<T: Tabular>(&self, result: &T) -> Result<String, Error> {
        let mut text = match (self.declared_order, self.pretty) {
            (true, true) => serde_json::to_string_pretty(result)?,
            (true, false) => serde_json::to_string(result)?,
            // Through `Value`: its maps keep keys sorted, the order cssim's
            // `--json` output has.
            (false, true) => serde_json::to_string_pretty(&serde_json::to_value(result)?)?,
            (false, false) => serde_json::to_string(&serde_json::to_value(result)?)?,
        };
        text.push('\n');
        Ok(text)
    }
}
