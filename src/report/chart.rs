//! Charts as inline SVG, drawn by `plotters`' SVG backend: the pictures of
//! the HTML reports (distance histograms, detection-versus-threshold curves,
//! ROC and DET curves, timelines). A [`Chart`] is data — its series and
//! axes — so the reports, the web page and tests build the same value and
//! only [`Chart::svg`] draws.
//!
//! ```
//! use cssim::report::chart::{Chart, Scale};
//! let chart = Chart::lines("Detection", "threshold", "rate")
//!     .series("jpeg:70", vec![(0.0, 0.1), (31.0, 0.98), (64.0, 1.0)])
//!     .mark_x(31.0, "T = 31")
//!     .y_range(0.0, 1.0);
//! let svg = chart.svg().unwrap();
//! assert!(svg.starts_with("<svg") && svg.contains("jpeg:70"));
//! # let _ = Scale::Log;
//! ```

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Serialize;

/// How an axis maps values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// Evenly spaced values.
    #[default]
    Linear,
    /// Powers of ten evenly spaced; points at or below zero are left out
    /// (a rate of 0 has no place on a log axis: show its bound instead).
    Log,
}

/// How the series are drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Points joined by lines (curves: detection, ROC, DET, timelines).
    #[default]
    Lines,
    /// One bar per point, series overlaid half-transparent (histograms: the
    /// x values are the bins' left edges, all one unit wide).
    Bars,
}

/// One named series of points.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Series {
    /// The legend's label.
    pub name: String,
    /// `(x, y)` points, in drawing order.
    pub points: Vec<(f64, f64)>,
}

/// A vertical line across the plot at `x`, labelled (a threshold).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mark {
    /// Where.
    pub x: f64,
    /// Its label, drawn at the top.
    pub label: String,
}

/// A chart: title, axes, series and marks.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Chart {
    /// The title above the plot.
    pub title: String,
    /// The x axis' label.
    pub x_label: String,
    /// The y axis' label.
    pub y_label: String,
    /// The x axis' scale.
    pub x_scale: Scale,
    /// The y axis' scale.
    pub y_scale: Scale,
    /// Lines or bars.
    pub kind: Kind,
    /// The data.
    pub series: Vec<Series>,
    /// Vertical marks.
    pub marks: Vec<Mark>,
    /// A fixed x range instead of the data's.
    pub x_range: Option<(f64, f64)>,
    /// A fixed y range instead of the data's.
    pub y_range: Option<(f64, f64)>,
    /// Size in pixels (width, height).
    pub size: (u32, u32),
}

/// A chart that cannot be drawn.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend failed (it reports its own reason).
    #[error("cannot draw the chart \"{title}\": {reason}")]
    Draw {
        /// The chart's title.
        title: String,
        /// What the backend said.
        reason: String,
    },
}

/// The colours of the series, in order: Okabe–Ito's palette, told apart by
/// readers with colour-vision deficiencies.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

impl Chart {
    fn new(kind: Kind, title: &str, x_label: &str, y_label: &str) -> Chart {
        Chart {
            title: title.to_string(),
            x_label: x_label.to_string(),
            y_label: y_label.to_string(),
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            kind,
            series: Vec::new(),
            marks: Vec::new(),
            x_range: None,
            y_range: None,
            size: (720, 400),
        }
    }

    /// A line chart.
    pub fn lines(title: &str, x_label: &str, y_label: &str) -> Chart {
        Chart::new(Kind::Lines, title, x_label, y_label)
    }

    /// A bar chart (a histogram: unit-wide bins at each point's x).
    pub fn bars(title: &str, x_label: &str, y_label: &str) -> Chart {
        Chart::new(Kind::Bars, title, x_label, y_label)
    }

    /// Adds a series.
    pub fn series(mut self, name: &str, points: Vec<(f64, f64)>) -> Chart {
        self.series.push(Series {
            name: name.to_string(),
            points,
        });
        self
    }

    /// Adds a vertical mark.
    pub fn mark_x(mut self, x: f64, label: &str) -> Chart {
        self.marks.push(Mark {
            x,
            label: label.to_string(),
        });
        self
    }

    /// Sets the x axis' scale.
    pub fn x_scale(mut self, scale: Scale) -> Chart {
        self.x_scale = scale;
        self
    }

    /// Sets the y axis' scale.
    pub fn y_scale(mut self, scale: Scale) -> Chart {
        self.y_scale = scale;
        self
    }

    /// Fixes the x range.
    pub fn x_range(mut self, low: f64, high: f64) -> Chart {
        self.x_range = Some((low, high));
        self
    }

    /// Fixes the y range.
    pub fn y_range(mut self, low: f64, high: f64) -> Chart {
        self.y_range = Some((low, high));
        self
    }

    /// Sets the size in pixels.
    pub fn size(mut self, width: u32, height: u32) -> Chart {
        self.size = (width.max(160), height.max(120));
        self
    }

    /// The points that can be drawn: finite, and positive on a log axis.
    fn drawable(&self) -> impl Iterator<Item = (usize, &Series, Vec<(f64, f64)>)> {
        self.series.iter().enumerate().map(|(i, s)| {
            let points = s
                .points
                .iter()
                .copied()
                .filter(|&(x, y)| {
                    x.is_finite()
                        && y.is_finite()
                        && (self.x_scale == Scale::Linear || x > 0.0)
                        && (self.y_scale == Scale::Linear || y > 0.0)
                })
                .collect();
            (i, s, points)
        })
    }

    /// The range of one axis: fixed, or the data's with a margin (bars
    /// start at zero and reach one past their last bin).
    fn range(&self, axis: usize) -> (f64, f64) {
        let fixed = if axis == 0 {
            self.x_range
        } else {
            self.y_range
        };
        if let Some(range) = fixed {
            return range;
        }
        let scale = if axis == 0 {
            self.x_scale
        } else {
            self.y_scale
        };
        let mut low = f64::INFINITY;
        let mut high = f64::NEG_INFINITY;
        for (_, _, points) in self.drawable() {
            for p in points {
                let v = if axis == 0 { p.0 } else { p.1 };
                low = low.min(v);
                high = high.max(v);
            }
        }
        if axis == 0 {
            for m in &self.marks {
                low = low.min(m.x);
                high = high.max(m.x);
            }
        }
        if !low.is_finite() {
            return if scale == Scale::Log {
                (1e-6, 1.0)
            } else {
                (0.0, 1.0)
            };
        }
        if self.kind == Kind::Bars {
            if axis == 0 {
                high += 1.0;
            } else if scale == Scale::Linear {
                low = low.min(0.0);
            }
        }
        match scale {
            Scale::Log => {
                let (low, high) = (low.log10().floor(), high.log10().ceil());
                let high = if high <= low { low + 1.0 } else { high };
                (10f64.powf(low), 10f64.powf(high))
            }
            Scale::Linear => {
                if high <= low {
                    (low - 1.0, high + 1.0)
                } else if axis == 1 {
                    (low, high + (high - low) * 0.05)
                } else {
                    (low, high)
                }
            }
        }
    }

    /// Draws the chart as one `<svg>` element (no XML prologue), to be
    /// inlined in a page.
    pub fn svg(&self) -> Result<String, Error> {
        let mut out = String::new();
        self.draw(&mut out).map_err(|reason| Error::Draw {
            title: self.title.clone(),
            reason,
        })?;
        Ok(out)
    }

    fn draw(&self, out: &mut String) -> Result<(), String> {
        let root = SVGBackend::with_string(out, self.size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (x0, x1) = self.range(0);
        let (y0, y1) = self.range(1);
        // Four combinations of scales, one generic body.
        match (self.x_scale, self.y_scale) {
            (Scale::Linear, Scale::Linear) => self.plot(&root, x0..x1, y0..y1),
            (Scale::Log, Scale::Linear) => self.plot(&root, (x0..x1).log_scale(), y0..y1),
            (Scale::Linear, Scale::Log) => self.plot(&root, x0..x1, (y0..y1).log_scale()),
            (Scale::Log, Scale::Log) => {
                self.plot(&root, (x0..x1).log_scale(), (y0..y1).log_scale())
            }
        }?;
        root.present().map_err(|e| e.to_string())?;
        drop(root);
        Ok(())
    }

    fn plot<DB, X, Y>(
        &self,
        root: &DrawingArea<DB, plotters::coord::Shift>,
        x: X,
        y: Y,
    ) -> Result<(), String>
    where
        DB: DrawingBackend,
        X: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
        Y: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
        X::CoordDescType: plotters::coord::ranged1d::ValueFormatter<f64>,
        Y::CoordDescType: plotters::coord::ranged1d::ValueFormatter<f64>,
    {
        let (y_low, _) = self.range(1);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x, y)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, series, points) in self.drawable() {
            let colour = PALETTE[i % PALETTE.len()];
            let drawn = match self.kind {
                Kind::Lines => chart
                    .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                    .map_err(|e| e.to_string())?,
                Kind::Bars => chart
                    .draw_series(points.into_iter().map(|(x, y)| {
                        Rectangle::new([(x, y_low), (x + 1.0, y)], colour.mix(0.45).filled())
                    }))
                    .map_err(|e| e.to_string())?,
            };
            drawn.label(series.name.clone()).legend(move |(lx, ly)| {
                Rectangle::new([(lx, ly - 5), (lx + 16, ly + 5)], colour.filled())
            });
        }
        let (m_low, m_high) = self.range(1);
        for mark in &self.marks {
            chart
                .draw_series(LineSeries::new(
                    vec![(mark.x, m_low), (mark.x, m_high)],
                    BLACK.mix(0.6).stroke_width(1),
                ))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(std::iter::once(Text::new(
                    mark.label.clone(),
                    (mark.x, m_high),
                    ("sans-serif", 13)
                        .into_font()
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Left, VPos::Top)),
                )))
                .map_err(|e| e.to_string())?;
        }
        if !self.series.is_empty() {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .label_font(("sans-serif", 13))
                .draw()
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_chart_draws_every_series_and_mark_as_svg() {
        let svg = Chart::lines("Detection <rate>", "threshold", "rate")
            .series("jpeg:70", vec![(0.0, 0.0), (10.0, 0.5), (20.0, 1.0)])
            .series("crop:0.5", vec![(0.0, 0.0), (20.0, 0.1)])
            .mark_x(15.0, "T = 15")
            .svg()
            .unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..60]);
        assert!(svg.trim_end().ends_with("</svg>"));
        for text in ["jpeg:70", "crop:0.5", "T = 15", "threshold"] {
            assert!(svg.contains(text), "{text} missing");
        }
        // The title's markup is escaped, not injected.
        assert!(svg.contains("Detection &lt;rate&gt;"), "title not escaped");
        // Each series is one polyline in its own colour (the mesh is grey).
        assert_eq!(svg.matches("stroke=\"#0072B2\"").count(), 1, "{svg}");
        assert_eq!(svg.matches("stroke=\"#D55E00\"").count(), 1);
    }

    #[test]
    fn a_log_axis_leaves_out_zeros_instead_of_failing() {
        let chart = Chart::lines("ROC", "false-match rate", "detection")
            .x_scale(Scale::Log)
            .series("pdq", vec![(0.0, 0.2), (1e-4, 0.5), (1e-2, 0.9)]);
        let svg = chart.svg().unwrap();
        assert!(svg.contains("pdq"));
        assert_eq!(chart.range(0), (1e-4, 1e-2));
        // Only zeros: a default decade range, not a panic.
        let empty = Chart::lines("e", "x", "y")
            .y_scale(Scale::Log)
            .series("s", vec![(1.0, 0.0)]);
        assert_eq!(empty.range(1), (1e-6, 1.0));
        assert!(empty.svg().is_ok());
    }

    #[test]
    fn bars_draw_one_rectangle_per_bin() {
        let svg = Chart::bars("Distances", "distance", "pairs")
            .series("impostor", vec![(0.0, 1.0), (1.0, 3.0), (2.0, 2.0)])
            .svg()
            .unwrap();
        // Three bins, plus the legend's swatch and the plot's background.
        assert!(svg.matches("<rect").count() >= 4);
        let chart = Chart::bars("d", "x", "y").series("s", vec![(0.0, 5.0), (9.0, 1.0)]);
        assert_eq!(chart.range(0), (0.0, 10.0), "the last bin is one wide");
        assert_eq!(chart.range(1).0, 0.0, "bars stand on zero");
    }
}
