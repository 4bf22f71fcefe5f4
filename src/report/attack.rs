//! `cssim attack`'s result ([`attack::Outcome`]) as lines: what was reached,
//! at what visual cost.

use super::{Cell, Column, Layout, Tabular, Tone};
use crate::attack::{Kind, Outcome};

/// A PSNR in dB, `inf` for identical images.
pub(crate) fn db(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2} dB")
    } else {
        "inf dB".to_string()
    }
}

impl Tabular for Outcome {
    fn columns() -> Vec<Column> {
        vec![Column::left("FIELD", 0), Column::left("VALUE", 0)]
    }

    fn layout() -> Layout {
        Layout::Lines
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        let alg = self.algorithm.name();
        let verdict = match (self.attack, self.success) {
            (Kind::Evade, true) => Cell::toned(
                format!(
                    "evaded: {alg} distance {} > {} (threshold {} + margin {})",
                    self.distance,
                    self.threshold + self.margin,
                    self.threshold,
                    self.margin
                ),
                Tone::Alarm,
            ),
            (Kind::Collide, true) => Cell::toned(
                format!(
                    "collided: {alg} distance {} to the target, within {}",
                    self.distance,
                    self.threshold.saturating_sub(self.margin)
                ),
                Tone::Alarm,
            ),
            (_, false) => Cell::toned(
                format!(
                    "failed: {} ({alg} distance {})",
                    self.failure.as_deref().unwrap_or("goal not reached"),
                    self.distance
                ),
                Tone::Calm,
            ),
        };
        let mut rows = vec![
            vec![verdict],
            vec![format!("original {alg}  {}", self.original_hash).into()],
            vec![format!("attacked {alg}  {}", self.final_hash).into()],
        ];
        if let Some(t) = &self.target_hash {
            rows.push(vec![format!("target   {alg}  {t}").into()]);
        }
        if let Some(q) = self.pdq_quality {
            rows.push(vec![format!("PDQ quality of the result: {q}").into()]);
        }
        rows.push(vec![
            format!(
                "PSNR {}, SSIM {:.4}{}",
                db(self.psnr),
                self.ssim,
                self.budget
                    .map(|b| format!(" (budget {})", db(b)))
                    .unwrap_or_default()
            )
            .into(),
        ]);
        rows.push(vec![
            format!(
                "{} iterations, {:.2} s, {}×{} px{}",
                self.iterations,
                self.seconds,
                self.dimensions.0,
                self.dimensions.1,
                if self.cancelled { ", cancelled" } else { "" }
            )
            .into(),
        ]);
        rows
    }
}
