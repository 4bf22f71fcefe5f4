//! `cssim eval rates`' results as a terminal table ([`Document`]), CSV
//! tables ([`Curves`]: every rate at every threshold; [`Closest`]: the
//! closest impostor pairs) and the self-contained HTML report ([`html`]).

use serde::Serialize;

use super::chart::{Chart, Scale};
use super::html::Page;
use super::{Cell, Column, Tabular, Tone};
use crate::eval::rates::{AlgorithmResult, Document, Rate, short};

impl Tabular for Document {
    fn columns() -> Vec<Column> {
        vec![
            Column::left("ALGO", 6),
            Column::right("T", 3),
            Column::left("PAIRS", 16),
            Column::right("N", 7),
            Column::right("MATCH", 7),
            Column::left("RATE [95% interval]", 0).after("  "),
        ]
    }

    fn preamble(&self) -> Vec<String> {
        let c = &self.results.corpus;
        let mut lines = vec![format!(
            "{} images from {} ({} files, {} skipped); {} edit{}.",
            c.images,
            c.path.display(),
            c.files,
            c.skipped.len(),
            self.config.edits.len(),
            if self.config.edits.len() == 1 {
                ""
            } else {
                "s"
            }
        )];
        if self.config.dedupe.is_some() {
            lines.push(format!(
                "--dedupe: {} near-identical originals grouped into {} groups (one image per group in the impostor pairs).",
                c.deduplicated, c.duplicate_groups
            ));
        }
        lines.push(
            "Impostor pairs: distinct originals; genuine pairs: an original and its edited copy. \
             Rates at the threshold T (a match is distance <= T)."
                .into(),
        );
        lines.push(String::new());
        lines
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        let mut rows = Vec::new();
        for a in &self.results.algorithms {
            let name = if a.dihedral {
                format!("{}-8", a.algorithm)
            } else {
                a.algorithm.clone()
            };
            let kind = if a.impostor.sampled {
                "impostor (sample)"
            } else {
                "impostor"
            };
            rows.push(row(&name, a.threshold, kind, &a.impostor.false_match, true));
            for g in &a.genuine {
                rows.push(row(&name, a.threshold, &g.edit, &g.detection, false));
            }
        }
        rows
    }

    fn epilogue(&self) -> Vec<String> {
        let mut out = vec![String::new()];
        for a in &self.results.algorithms {
            out.extend(algorithm_notes(a));
        }
        let s = &self.results.stats;
        out.push(format!(
            "Hashes: {} computed, {} from the cache ({} images decoded, {} read from the pixel cache, {} edits applied).",
            s.hashes_computed,
            s.hashes_cached,
            s.images_decoded,
            s.images_from_pixel_cache,
            s.edits_applied
        ));
        out
    }
}

fn row(algo: &str, t: u32, kind: &str, r: &Rate, impostor: bool) -> Vec<Cell> {
    // An impostor match is an alarm; a missed genuine copy is what evasion looks like.
    let tone = match (impostor, r.events) {
        (true, 0) => Tone::Calm,
        (true, _) => Tone::Alarm,
        (false, e) if e == r.trials => Tone::Calm,
        (false, _) => Tone::Plain,
    };
    vec![
        algo.into(),
        t.to_string().into(),
        kind.into(),
        r.trials.to_string().into(),
        r.events.to_string().into(),
        Cell::toned(r.text.clone(), tone),
    ]
}

/// The lines under the table for one algorithm: thresholds, smallest
/// impostor distance, list and set rates.
pub fn algorithm_notes(a: &AlgorithmResult) -> Vec<String> {
    let mut out = Vec::new();
    let t = &a.threshold_for_target;
    let fmt_t = |t: Option<u32>| t.map_or_else(|| "none".to_string(), |t| t.to_string());
    let mut line = format!(
        "{}: threshold for FMR <= {}: {} measured, {} with the 95% bound",
        a.algorithm,
        short(t.target_fmr),
        fmt_t(t.measured),
        fmt_t(t.bounded)
    );
    if let Some(e) = &a.equal_error {
        line.push_str(&format!(
            "; equal error at T = {} (miss {}, FMR {})",
            e.threshold,
            short(e.miss_rate),
            short(e.false_match_rate)
        ));
    }
    out.push(line + ".");
    if let Some(p) = a.impostor.closest.first() {
        out.push(format!(
            "  smallest impostor distance {}: {} and {}",
            p.distance,
            p.a.display(),
            p.b.display()
        ));
    }
    if a.below_quality > 0 {
        out.push(format!(
            "  {} originals below PDQ's quality floor left out (they never match).",
            a.below_quality
        ));
    }
    if let Some(l) = &a.list {
        out.push(format!(
            "  derived: one innocent image matches a list of {} entries with probability {} [{}, {}] (1-(1-p)^N from the pair rate, assuming independent entries)",
            l.entries,
            short(l.rate),
            short(l.lower),
            short(l.upper)
        ));
    }
    if let Some(s) = &a.set {
        out.push(format!(
            "  measured against {} ({} entries, T = {}): {} of {} originals matched: {}",
            s.set, s.entries, s.threshold, s.matched.events, s.matched.trials, s.matched.text
        ));
    }
    out
}

/// Every rate at every threshold, one row each (`curves.csv`).
#[derive(Serialize)]
pub struct Curves<'a>(pub &'a Document);

impl Tabular for Curves<'_> {
    fn columns() -> Vec<Column> {
        [
            "algorithm",
            "pairs",
            "edit",
            "threshold",
            "n",
            "matches",
            "rate",
            "lower",
            "upper",
        ]
        .into_iter()
        .map(|n| Column::left(n, 0))
        .collect()
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        let confidence = self.0.config.confidence;
        let mut rows = Vec::new();
        for a in &self.0.results.algorithms {
            let mut sets = vec![("impostor", "", &a.impostor.histogram, a.impostor.pairs)];
            for g in &a.genuine {
                sets.push(("genuine", g.edit.as_str(), &g.histogram, g.pairs));
            }
            for (kind, edit, hist, n) in sets {
                let mut cum = 0;
                for (t, c) in hist.iter().enumerate() {
                    cum += c;
                    let r = Rate::new(cum, n, confidence);
                    rows.push(
                        [
                            a.algorithm.clone(),
                            kind.to_string(),
                            edit.to_string(),
                            t.to_string(),
                            n.to_string(),
                            cum.to_string(),
                            format!("{}", r.rate),
                            format!("{}", r.lower),
                            format!("{}", r.upper),
                        ]
                        .into_iter()
                        .map(Cell::from)
                        .collect(),
                    );
                }
            }
        }
        rows
    }
}

/// The closest impostor pairs of every algorithm (`closest.csv`).
#[derive(Serialize)]
pub struct Closest<'a>(pub &'a Document);

impl Tabular for Closest<'_> {
    fn columns() -> Vec<Column> {
        ["algorithm", "distance", "a", "b"]
            .into_iter()
            .map(|n| Column::left(n, 0))
            .collect()
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        self.0
            .results
            .algorithms
            .iter()
            .flat_map(|a| {
                a.impostor.closest.iter().map(|p| {
                    vec![
                        a.algorithm.as_str().into(),
                        p.distance.to_string().into(),
                        p.a.to_string_lossy().into_owned().into(),
                        p.b.to_string_lossy().into_owned().into(),
                    ]
                })
            })
            .collect()
    }
}

/// Why the HTML report could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HtmlError {
    /// A table could not be exported.
    #[error(transparent)]
    Export(#[from] super::Error),
    /// A chart could not be drawn.
    #[error(transparent)]
    Chart(#[from] super::chart::Error),
}

fn fraction(hist: &[u64]) -> Vec<(f64, f64)> {
    let n: u64 = hist.iter().sum();
    hist.iter()
        .enumerate()
        .map(|(d, &c)| (d as f64, if n == 0 { 0.0 } else { c as f64 / n as f64 }))
        .collect()
}

fn cumulative_rate(hist: &[u64], n: u64) -> Vec<f64> {
    let mut cum = 0u64;
    hist.iter()
        .map(|c| {
            cum += c;
            if n == 0 { 0.0 } else { cum as f64 / n as f64 }
        })
        .collect()
}

/// Genuine pairs of every edit pooled: (histogram, pairs).
fn pooled(a: &AlgorithmResult) -> (Vec<u64>, u64) {
    let mut h = vec![0u64; a.impostor.histogram.len()];
    for g in &a.genuine {
        for (p, c) in h.iter_mut().zip(&g.histogram) {
            *p += c;
        }
    }
    (h, a.genuine.iter().map(|g| g.pairs).sum())
}

/// The HTML report: the rate table, per algorithm the genuine and impostor
/// distance histograms and the detection-versus-threshold curves, ROC and
/// DET curves, and `thumbnails` (caption, PNG) of the closest impostor pairs.
pub fn html(doc: &Document, thumbnails: &[(String, Vec<u8>)]) -> Result<String, HtmlError> {
    let mut page = Page::new("cssim eval rates");
    page.code(&doc.command.join(" "));
    let c = &doc.config;
    page.facts(&[
        (
            "corpus",
            format!("{} ({} images)", c.corpus, doc.results.corpus.images),
        ),
        ("algorithms", c.algorithms.join(", ")),
        ("edits", c.edits.join(", ")),
        ("impostor pairs", format!("{:?}", c.pairs).to_lowercase()),
        ("dihedral PDQ", c.dihedral.to_string()),
        ("hashing", c.hashing.clone()),
        ("version", format!("{} {}", doc.tool, doc.version)),
    ]);
    page.heading("Rates");
    page.paragraph(
        "Detection rate of each edit (genuine pairs: an original and its edited copy) and false-match rate \
         (impostor pairs: two distinct originals) at each algorithm's threshold T. Intervals are 95% Wilson \
         intervals; at 0 (or all) events the exact one-sided Clopper-Pearson bound, so a zero count reads \
         \"< bound\", never 0.",
    );
    page.table(doc)?;
    let mut roc = Chart::lines(
        "ROC",
        "false-match rate (impostor pairs)",
        "detection rate (all edits pooled)",
    )
    .x_scale(Scale::Log)
    .y_range(0.0, 1.0);
    let mut det = Chart::lines("DET", "false-match rate", "miss rate (all edits pooled)")
        .x_scale(Scale::Log)
        .y_scale(Scale::Log);
    for a in &doc.results.algorithms {
        page.heading(&format!(
            "{} ({} bits{})",
            a.algorithm,
            a.bits,
            if a.dihedral { ", dihedral" } else { "" }
        ));
        for line in algorithm_notes(a) {
            page.paragraph(line.trim());
        }
        let (gen_hist, gen_n) = pooled(a);
        let hist = Chart::bars(
            &format!("{}: distance distributions", a.algorithm),
            "Hamming distance",
            "fraction of pairs",
        )
        .series("genuine (all edits)", fraction(&gen_hist))
        .series("impostor", fraction(&a.impostor.histogram))
        .mark_x(f64::from(a.threshold), &format!("T = {}", a.threshold));
        page.chart(&hist)?;
        let mut curves = Chart::lines(
            &format!("{}: detection versus threshold", a.algorithm),
            "threshold T",
            "detection rate",
        )
        .y_range(0.0, 1.0)
        .mark_x(f64::from(a.threshold), &format!("T = {}", a.threshold));
        for g in &a.genuine {
            let r = cumulative_rate(&g.histogram, g.pairs);
            curves = curves.series(
                &g.edit,
                r.iter().enumerate().map(|(t, &y)| (t as f64, y)).collect(),
            );
        }
        let fm = cumulative_rate(&a.impostor.histogram, a.impostor.pairs);
        curves = curves.series(
            "impostor (false match)",
            fm.iter().enumerate().map(|(t, &y)| (t as f64, y)).collect(),
        );
        page.chart(&curves)?;
        let detect = cumulative_rate(&gen_hist, gen_n);
        roc = roc.series(
            &a.algorithm,
            fm.iter().zip(&detect).map(|(&x, &y)| (x, y)).collect(),
        );
        det = det.series(
            &a.algorithm,
            fm.iter()
                .zip(&detect)
                .map(|(&x, &y)| (x, 1.0 - y))
                .collect(),
        );
    }
    page.heading("ROC and DET");
    page.note(
        "Points at a false-match or miss rate of 0 cannot be drawn on a log axis and are left out.",
    );
    page.chart(&roc)?;
    page.chart(&det)?;
    page.heading("Closest impostor pairs");
    page.paragraph(
        "Distinct originals whose hashes are nearest: the pairs a reviewer opens first (near-duplicates in the \
         corpus, or true false matches).",
    );
    page.table(&Closest(doc))?;
    if !thumbnails.is_empty() {
        page.images(thumbnails);
    }
    let skipped = &doc.results.corpus.skipped;
    if !skipped.is_empty() {
        page.heading("Skipped files");
        for s in skipped {
            page.paragraph(&format!("{}: {}", s.path.display(), s.reason));
        }
    }
    Ok(page.render())
}
