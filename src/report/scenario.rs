//! `cssim scenario`'s results as tables: a run's figures with their
//! intervals ([`sim::RunResult`]), its days as long-format rows
//! ([`DayRows`], the CSV per day), and a sweep's points
//! ([`sim::sweep::SweepResult`]).

use serde::Serialize;

use super::eval::sci;
use super::{Cell, Column, Tabular};
use crate::sim::counts::NAMES;
use crate::sim::summary::{Estimate, Metric};
use crate::sim::{self, RunResult};

/// A figure: whole numbers as integers, others in three digits.
pub fn figure(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        sci(x)
    }
}

fn interval(e: &Estimate) -> String {
    format!("[{}, {}]", figure(e.lower), figure(e.upper))
}

fn metric_row(m: &Metric) -> Vec<Cell> {
    vec![
        m.name.clone().into(),
        figure(m.estimate.mean).into(),
        interval(&m.estimate).into(),
        m.exact
            .map(|x| format!("[{}, {}]", sci(x.lower), sci(x.upper)))
            .unwrap_or_default()
            .into(),
    ]
}

impl Tabular for RunResult {
    fn columns() -> Vec<Column> {
        vec![
            Column::left("metric", 30),
            Column::right("mean", 12),
            Column::right("95% over replicates", 26),
            Column::left("exact 95% (pooled)", 0).after("  "),
        ]
    }

    fn preamble(&self) -> Vec<String> {
        let s = &self.scenario;
        let p = &s.population;
        let mut lines = vec![
            format!(
                "Scenario {}: {} users, {} days, {:.1} messages a user a day ({:?}), seed {}, {} replicates{}.",
                if s.name.is_empty() { "(unnamed)" } else { &s.name },
                p.users,
                p.days,
                p.messages.mean(),
                s.population.messages,
                self.seed,
                self.replicates_total,
                self.shard
                    .map(|sh| format!(" (shard {}/{}: merge before reading)", sh.index, sh.count))
                    .unwrap_or_default()
            ),
            format!("Content: {}.", self.content),
            format!(
                "Policy '{}': on_match {:?}, account threshold {}; review: {} reviewers × {} h at {} min an item \
                 ({} items a day), accuracy {}; action after {} confirmed.",
                self.policy.name,
                self.policy.on_match,
                self.policy.account_threshold,
                s.policy.review.reviewers,
                s.policy.review.hours_per_day,
                s.policy.review.minutes_per_item,
                s.policy.review.capacity_per_day(),
                s.policy.review.accuracy,
                s.policy.action.after_confirmed
            )
            .to_lowercase()
            .replacen("policy", "Policy", 1),
            String::new(),
        ];
        if self.summary.is_none() {
            lines.push("(a shard: no summary; run `cssim scenario merge` on all parts)".into());
        }
        lines
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        self.summary
            .as_ref()
            .map(|s| s.metrics.iter().map(metric_row).collect())
            .unwrap_or_default()
    }

    fn epilogue(&self) -> Vec<String> {
        vec![
            String::new(),
            "Counts are totals over all days (backlog and held: at the end). Intervals: 2.5th-97.5th \
             percentile over replicates; rates also the exact Clopper-Pearson interval of the pooled counts."
                .into(),
        ]
    }
}

/// A run's days in long form: one row per day and count.
#[derive(Serialize)]
pub struct DayRows<'a>(pub &'a sim::Summary);

impl Tabular for DayRows<'_> {
    fn columns() -> Vec<Column> {
        vec![
            Column::right("day", 4),
            Column::left("metric", 20),
            Column::right("mean", 12),
            Column::right("lower", 12),
            Column::right("upper", 12),
        ]
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        let mut rows = Vec::new();
        for d in &self.0.days {
            for (name, e) in NAMES.iter().zip(&d.counts) {
                rows.push(vec![
                    d.day.to_string().into(),
                    (*name).into(),
                    format!("{}", e.mean).into(),
                    format!("{}", e.lower).into(),
                    format!("{}", e.upper).into(),
                ]);
            }
        }
        rows
    }
}

/// The metrics a sweep's table shows (all are in its JSON).
pub const SWEEP_METRICS: [&str; 6] = [
    "false_report_rate",
    "innocent_reported",
    "innocent_users_actioned_share",
    "offenders_detected_share",
    "days_to_detection",
    "backlog",
];

impl Tabular for sim::sweep::SweepResult {
    fn columns() -> Vec<Column> {
        let mut c = vec![Column::right("point", 5), Column::left("parameters", 32)];
        c.extend(SWEEP_METRICS.iter().map(|m| Column::right(m, 14)));
        c
    }

    fn preamble(&self) -> Vec<String> {
        vec![
            format!(
                "Sweep of {} over {}: {} points{}; each cell the mean over {} replicates (intervals in --json).",
                if self.scenario.name.is_empty() {
                    "(unnamed)"
                } else {
                    &self.scenario.name
                },
                self.params
                    .iter()
                    .map(|p| p.field.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.points_total,
                self.shard
                    .map(|s| format!(" (shard {}/{})", s.index, s.count))
                    .unwrap_or_default(),
                self.scenario.replicates
            ),
            String::new(),
        ]
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        self.points
            .iter()
            .map(|p| {
                let mut row: Vec<Cell> = vec![
                    p.index.to_string().into(),
                    self.params
                        .iter()
                        .zip(&p.values)
                        .map(|(a, v)| format!("{}={v}", a.field))
                        .collect::<Vec<_>>()
                        .join(" ")
                        .into(),
                ];
                for name in SWEEP_METRICS {
                    row.push(
                        p.metrics
                            .iter()
                            .find(|m| m.name == name)
                            .map(|m| figure(m.estimate.mean))
                            .unwrap_or_else(|| "-".into())
                            .into(),
                    );
                }
                row
            })
            .collect()
    }
}
