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
        let all = self
            .joint
            .iter()
            .map(|h| h.algorithm.name())
            .collect::<Vec<_>>()
            .join(" and ");
        let verdict = match (self.attack, self.success) {
            (Kind::Evade, true) if !self.joint.is_empty() => {
                Cell::toned(format!("evaded under {all} at once"), Tone::Alarm)
            }
            (Kind::Collide, true) if !self.joint.is_empty() => {
                Cell::toned(format!("collided under {all} at once"), Tone::Alarm)
            }
            (_, false) if !self.joint.is_empty() => Cell::toned(
                format!(
                    "failed: {}",
                    self.failure.as_deref().unwrap_or("goal not reached")
                ),
                Tone::Calm,
            ),
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
        let mut rows = vec![vec![verdict]];
        if self.dihedral {
            rows.push(vec![
                "dihedral: the distance is the nearest of the result's eight PDQ orientations"
                    .into(),
            ]);
        }
        if self.joint.is_empty() {
            rows.push(vec![
                format!("original {alg}  {}", self.original_hash).into(),
            ]);
            rows.push(vec![format!("attacked {alg}  {}", self.final_hash).into()]);
            if let Some(t) = &self.target_hash {
                rows.push(vec![format!("target   {alg}  {t}").into()]);
            }
        }
        // A joint attack: each hash's verdict and hashes.
        for h in &self.joint {
            let a = h.algorithm.name();
            let verdict = match (self.attack, h.success) {
                (Kind::Evade, true) => format!(
                    "{a}: evaded, distance {} > {}",
                    h.distance,
                    h.threshold + self.margin
                ),
                (Kind::Evade, false) => format!(
                    "{a}: still matches, distance {} ≤ {}",
                    h.distance,
                    h.threshold + self.margin
                ),
                (Kind::Collide, true) => format!(
                    "{a}: collides, distance {} ≤ {}",
                    h.distance,
                    h.threshold.saturating_sub(self.margin)
                ),
                (Kind::Collide, false) => format!(
                    "{a}: does not collide, distance {} > {}",
                    h.distance,
                    h.threshold.saturating_sub(self.margin)
                ),
            };
            let tone = if h.success { Tone::Alarm } else { Tone::Calm };
            rows.push(vec![Cell::toned(verdict, tone)]);
            let pad = " ".repeat(5 - a.len().min(5));
            rows.push(vec![
                format!("  original {a}{pad} {}", h.original_hash).into(),
            ]);
            rows.push(vec![format!("  attacked {a}{pad} {}", h.final_hash).into()]);
            if let Some(t) = &h.target_hash {
                rows.push(vec![format!("  target   {a}{pad} {t}").into()]);
            }
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

use crate::eval::attacks::{AttackResult, Mode, Report, Sample, Summary};
use crate::report::chart::Chart;
use crate::report::html::Page;

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Evade => "evade",
        Kind::Collide => "collide",
    }
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Single => "single",
        Mode::Dihedral => "dihedral",
        Mode::Joint => "joint",
    }
}

/// The attack as the summary names it: `evade`, `evade ×8` (all eight
/// PDQ orientations), `evade+phash` (both hashes at once).
fn attack_label(k: Kind, m: Mode, other: crate::hash::Algorithm) -> String {
    match m {
        Mode::Single => kind_name(k).to_string(),
        Mode::Dihedral => format!("{} ×8", kind_name(k)),
        Mode::Joint => format!("{}+{}", kind_name(k), other.name()),
    }
}

/// One attack per row (the CSV of `cssim eval attacks`).
impl Tabular for AttackResult {
    fn columns() -> Vec<Column> {
        vec![
            Column::left("path", 0),
            Column::left("algorithm", 0),
            Column::left("attack", 0),
            Column::left("mode", 0),
            Column::left("target", 0),
            Column::left("success", 0),
            Column::right("distance", 0),
            Column::right("threshold", 0),
            Column::right("psnr", 0),
            Column::right("ssim", 0),
            Column::right("iterations", 0),
            Column::right("seconds", 0),
            Column::right("megapixels", 0),
            Column::left("other", 0),
            Column::right("other_distance", 0),
            Column::left("other_match", 0),
        ]
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        vec![vec![
            self.path.to_string_lossy().into_owned().into(),
            self.algorithm.name().into(),
            kind_name(self.attack).into(),
            mode_name(self.mode).into(),
            self.target.clone().unwrap_or_default().into(),
            self.success.to_string().into(),
            self.distance.to_string().into(),
            self.threshold.to_string().into(),
            format!("{:.3}", self.psnr).into(),
            format!("{:.5}", self.ssim).into(),
            self.iterations.to_string().into(),
            format!("{:.4}", self.seconds).into(),
            format!("{:.4}", self.megapixels).into(),
            self.other.name().into(),
            self.other_distance.to_string().into(),
            self.other_match.to_string().into(),
        ]]
    }
}

/// The summary table: one row per algorithm and attack.
#[derive(serde::Serialize)]
pub struct Summaries<'a>(pub &'a [Summary]);

impl Tabular for Summaries<'_> {
    fn columns() -> Vec<Column> {
        vec![
            Column::left("ALGO", 5),
            Column::left("ATTACK", 13),
            Column::right("SUCCESS", 13),
            Column::right("MEAN PSNR", 9),
            Column::right("MEDIAN", 8),
            Column::right("SSIM", 6),
            Column::right("S/ATTACK", 8),
            Column::right("S/MP", 6),
            Column::left("OTHER HASH", 0).after("  "),
        ]
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        self.0
            .iter()
            .map(|s| {
                let other = match s.attack {
                    Kind::Evade => format!(
                        "{} still catches {}/{}",
                        s.other.name(),
                        s.other_matches,
                        s.successes
                    ),
                    Kind::Collide => format!(
                        "{} also collides {}/{}",
                        s.other.name(),
                        s.other_matches,
                        s.successes
                    ),
                };
                vec![
                    s.algorithm.name().into(),
                    attack_label(s.attack, s.mode, s.other).into(),
                    format!(
                        "{}/{} {:.1}%",
                        s.successes,
                        s.attempts,
                        100.0 * s.success_rate
                    )
                    .into(),
                    format!("{:.2}", s.mean_psnr).into(),
                    format!("{:.2}", s.median_psnr).into(),
                    format!("{:.3}", s.mean_ssim).into(),
                    format!("{:.2}", s.mean_seconds).into(),
                    format!("{:.2}", s.seconds_per_megapixel).into(),
                    other.into(),
                ]
            })
            .collect()
    }

    fn preamble(&self) -> Vec<String> {
        vec![
            "Successes, and the PSNR (dB) and SSIM of the successful ones; OTHER HASH: the defence of a second, independent hash.".into(),
            "evade ×8: against all eight PDQ orientations (pdq_dihedral); evade+phash, collide+phash: both hashes attacked at once (SUCCESS counts the first hash's goal, OTHER HASH the second's).".into(),
        ]
    }
}

/// Each channel's difference from the original, amplified ×`gain` around grey.
fn amplified_difference(a: &image::RgbImage, b: &image::RgbImage, gain: f32) -> image::RgbImage {
    image::RgbImage::from_fn(a.width(), a.height(), |x, y| {
        let (p, q) = (a.get_pixel(x, y).0, b.get_pixel(x, y).0);
        image::Rgb(std::array::from_fn(|c| {
            (128.0 + gain * (f32::from(q[c]) - f32::from(p[c])))
                .round()
                .clamp(0.0, 255.0) as u8
        }))
    })
}

/// A PNG of `image`, at most `side` pixels wide.
fn png(image: &image::RgbImage, side: u32) -> Vec<u8> {
    let small = if image.width() > side {
        let h = (u64::from(image.height()) * u64::from(side) / u64::from(image.width())).max(1);
        image::imageops::resize(image, side, h as u32, image::imageops::FilterType::Triangle)
    } else {
        image.clone()
    };
    let mut out = Vec::new();
    // Encoding an in-memory RGB image as PNG does not fail.
    let _ = small.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png);
    out
}

/// `cssim eval attacks`' report.html: the summary, success-versus-budget
/// curves, the defence table and, for a sample, original, attacked image
/// and their difference (×10) side by side.
pub fn attacks_page(
    report: &Report,
    samples: &[Sample],
    command: &str,
) -> Result<String, super::Error> {
    let mut page = Page::new("cssim eval attacks: evasion and collision of perceptual hashes");
    page.paragraph(
        "White-box attacks (the attacker runs the client's hash function) on each corpus image: \
         evasion (change the image until its hash is more than T bits from the original's) and \
         collision (change it until its hash is within T of another corpus image's). Success is \
         decided by the real hash of the 8-bit result.",
    );
    page.code(command);
    page.facts(&[
        ("corpus", report.corpus.to_string_lossy().into_owned()),
        ("images", report.images.to_string()),
        ("skipped", report.skipped.len().to_string()),
        ("seed", report.config.seed.to_string()),
        ("max iterations", report.config.max_iterations.to_string()),
        ("cssim", report.version.to_string()),
    ]);
    page.heading("Summary");
    page.table(&Summaries(&report.summaries))?;
    page.heading("Success rate against the PSNR budget");
    page.note(
        "A success counts at budget b when its PSNR is at least b dB; higher PSNR is less visible \
         (35 dB is about where a careful viewer stops seeing a smooth change).",
    );
    let mut chart = Chart::lines("Success vs PSNR budget", "PSNR budget (dB)", "success rate")
        .y_range(0.0, 1.0);
    for s in &report.summaries {
        chart = chart.series(
            &format!(
                "{} {}",
                s.algorithm.name(),
                attack_label(s.attack, s.mode, s.other)
            ),
            s.curve.clone(),
        );
    }
    chart = chart.mark_x(30.0, "30 dB").mark_x(35.0, "35 dB");
    // A chart the layer cannot draw is left out with a note, not fatal.
    if page.chart(&chart).is_err() {
        page.note("(the chart could not be drawn)");
    }
    page.heading("Defence: a second, independent hash");
    for s in &report.summaries {
        let how = match s.mode {
            Mode::Single => String::new(),
            Mode::Dihedral => " (all eight orientations)".to_string(),
            Mode::Joint => format!(" by the joint attack on {} too", s.other.name()),
        };
        let text = match s.attack {
            Kind::Evade => format!(
                "Of {} images evaded under {}{how}, {} ({:.1}%) are still caught by {} at its threshold.",
                s.successes,
                s.algorithm.name(),
                s.other_matches,
                pct(s.other_matches, s.successes),
                s.other.name()
            ),
            Kind::Collide => format!(
                "Of {} collisions under {}{how}, {} ({:.1}%) also collide under {}.",
                s.successes,
                s.algorithm.name(),
                s.other_matches,
                pct(s.other_matches, s.successes),
                s.other.name()
            ),
        };
        page.paragraph(&text);
    }
    page.heading("Samples: original, attacked, difference ×10");
    for s in samples {
        let r = &report.results[s.result];
        let name = r
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        page.paragraph(&format!(
            "{} {} of {}: distance {}, PSNR {}, SSIM {:.4}{}",
            r.algorithm.name(),
            attack_label(r.attack, r.mode, r.other),
            name,
            r.distance,
            db(r.psnr),
            r.ssim,
            r.target
                .as_ref()
                .map(|t| format!(", target {t}"))
                .unwrap_or_default()
        ));
        page.images(&[
            ("original".to_string(), png(&s.original, 320)),
            ("attacked".to_string(), png(&s.attacked, 320)),
            (
                "difference ×10 (grey = none)".to_string(),
                png(&amplified_difference(&s.original, &s.attacked, 10.0), 320),
            ),
        ]);
    }
    if !report.skipped.is_empty() {
        page.heading("Skipped");
        for s in &report.skipped {
            page.note(&format!("{}: {}", s.path.to_string_lossy(), s.reason));
        }
    }
    Ok(page.render())
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}
