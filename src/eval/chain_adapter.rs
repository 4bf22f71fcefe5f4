//! TEMPORARY: a stand-in for `transform::Chain` (issue 11 section 1, built on
//! another branch) over the existing [`transform::Edit`], with the
//! contract's signatures, so `eval rates` builds before it lands. Deleted
//! when `transform::Chain` is merged.

use std::fmt;

use image::RgbImage;

use super::transform::{self, Edit};

/// A bad edit string.
#[derive(Debug, thiserror::Error)]
#[error("unknown edit '{0}' (valid: none, jpeg:Q, resize:S, crop:F, flip:h, rotate:90, brightness:N)")]
pub struct EditError(pub String);

/// Edits applied in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Chain(Vec<Edit>);

impl Chain {
    /// No edit.
    pub fn identity() -> Chain {
        Chain(Vec::new())
    }

    /// `resize:0.5+jpeg:70`.
    pub fn parse(text: &str) -> Result<Chain, EditError> {
        let t = text.trim();
        if t == "none" {
            return Ok(Chain::identity());
        }
        let mut edits = Vec::new();
        for token in t.split('+') {
            let bad = || EditError(token.to_string());
            let (name, arg) = token.split_once(':').unwrap_or((token, ""));
            let edit = match name {
                "jpeg" => Edit::Jpeg(arg.parse().map_err(|_| bad())?),
                "resize" => Edit::Resize(arg.parse().map_err(|_| bad())?),
                "crop" => Edit::CropCentre(arg.parse().map_err(|_| bad())?),
                "flip" if arg == "h" => Edit::FlipHorizontal,
                "rotate" if arg == "90" => Edit::Rotate90,
                "brightness" => Edit::Brightness(arg.parse().map_err(|_| bad())?),
                _ => return Err(bad()),
            };
            edits.push(edit);
        }
        Ok(Chain(edits))
    }

    /// One chain a line or `;`-separated, `#` comments.
    pub fn parse_list(text: &str) -> Result<Vec<Chain>, EditError> {
        text.lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .flat_map(|l| l.split(';'))
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(Chain::parse)
            .collect()
    }

    /// Applies the edits.
    pub fn apply(&self, image: &RgbImage, _seed: u64) -> Result<RgbImage, EditError> {
        Ok(transform::apply_all(image, &self.0))
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| match e {
                Edit::Resize(s) => format!("resize:{s}"),
                Edit::Jpeg(q) => format!("jpeg:{q}"),
                Edit::CropCentre(c) => format!("crop:{c}"),
                Edit::FlipHorizontal => "flip:h".into(),
                Edit::Rotate90 => "rotate:90".into(),
                Edit::Brightness(b) => format!("brightness:{b:+}"),
            })
            .collect();
        f.write_str(&parts.join("+"))
    }
}
