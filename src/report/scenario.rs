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
        if let Some(c) = &self.cost {
            lines.insert(2, format!("Cost: {}.", c.describe()));
        }
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

impl Tabular for sim::summary::Extrapolated {
    fn columns() -> Vec<Column> {
        vec![
            Column::left("metric (a day)", 30),
            Column::right("mean", 12),
            Column::right("95% over replicates", 26),
        ]
    }

    fn preamble(&self) -> Vec<String> {
        vec![
            String::new(),
            format!(
                "At {} users, {}: the simulated per-user daily figures ({} users) times {}; \
                 not a simulation at that size (offenders, recipients and review capacity are taken to scale alike).",
                self.users, self.label, self.simulated_users, self.users
            ),
        ]
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        self.metrics
            .iter()
            .map(|m| {
                vec![
                    m.name.clone().into(),
                    figure(m.estimate.mean).into(),
                    interval(&m.estimate).into(),
                ]
            })
            .collect()
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

/// One stage of the funnel: messages → images → matches → released →
/// past the server's hash → reviewed → confirmed.
#[derive(Serialize)]
pub struct Funnel(pub Vec<(String, Estimate)>);

impl Funnel {
    /// The funnel of a summary.
    pub fn of(summary: &sim::Summary) -> Funnel {
        let get = |n: &str| summary.metric(n).map(|m| m.estimate.mean).unwrap_or(0.0);
        let sum = |names: &[&str]| names.iter().map(|n| get(n)).sum::<f64>();
        let est = |mean: f64| Estimate {
            mean,
            lower: mean,
            upper: mean,
        };
        let from = |n: &str| summary.metric(n).map(|m| m.estimate).unwrap_or(est(0.0));
        Funnel(vec![
            ("messages".into(), from("messages")),
            ("images scanned".into(), from("images")),
            (
                "matches on devices".into(),
                est(sum(&[
                    "true_matches",
                    "false_matches",
                    "collision_matches",
                    "poison_matches",
                ])),
            ),
            (
                "reports released (account threshold)".into(),
                est(sum(&[
                    "released_true",
                    "released_false",
                    "released_collision",
                    "released_poison",
                ])),
            ),
            (
                "past the server's second hash".into(),
                from("server_passed"),
            ),
            ("reviewed by a human".into(), from("reviewed")),
            (
                "confirmed".into(),
                est(sum(&["confirmed_true", "confirmed_innocent"])),
            ),
            (
                "  of them innocent images".into(),
                from("confirmed_innocent"),
            ),
        ])
    }
}

impl Tabular for Funnel {
    fn columns() -> Vec<Column> {
        vec![
            Column::left("stage", 36),
            Column::right("mean", 14),
            Column::right("95% over replicates", 26),
        ]
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        self.0
            .iter()
            .map(|(name, e)| {
                let i = if e.lower == e.upper && e.lower == e.mean {
                    String::new()
                } else {
                    interval(e)
                };
                vec![name.clone().into(), figure(e.mean).into(), i.into()]
            })
            .collect()
    }
}

fn day_series(summary: &sim::Summary, name: &str) -> Vec<(f64, f64)> {
    let i = NAMES.iter().position(|n| *n == name).unwrap_or(0);
    summary
        .days
        .iter()
        .map(|d| (f64::from(d.day), d.counts.get(i).map_or(0.0, |e| e.mean)))
        .collect()
}

/// A run's self-contained HTML report: the setting, the timeline of
/// reports and backlog, the funnel, and the table of figures with their
/// intervals.
pub fn run_page(result: &RunResult) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    use super::chart::Chart;
    use super::html::Page;
    let s = &result.scenario;
    let title = format!(
        "Scenario {}",
        if s.name.is_empty() {
            "(unnamed)"
        } else {
            &s.name
        }
    );
    let mut page = Page::new(&title);
    page.facts(&[
        ("users", s.population.users.to_string()),
        ("days", s.population.days.to_string()),
        ("replicates", result.replicates_total.to_string()),
        ("seed", result.seed.to_string()),
        ("content", result.content.clone()),
        (
            "scan cost",
            result
                .cost
                .as_ref()
                .map_or_else(|| "not measured".into(), |c| c.describe()),
        ),
        (
            "policy",
            format!(
                "'{}': on_match {:?}, account threshold {}",
                result.policy.name, result.policy.on_match, result.policy.account_threshold
            ),
        ),
        ("cssim", result.version.clone()),
    ]);
    let Some(summary) = &result.summary else {
        page.paragraph("A shard's result: merge the parts (cssim scenario merge) for the report.");
        return Ok(page.render());
    };
    page.heading("Timeline");
    let released: Vec<(f64, f64)> = {
        let parts = [
            "released_true",
            "released_false",
            "released_collision",
            "released_poison",
        ]
        .map(|n| day_series(summary, n));
        parts[0]
            .iter()
            .enumerate()
            .map(|(i, &(x, _))| (x, parts.iter().map(|p| p[i].1).sum()))
            .collect()
    };
    page.chart(
        &Chart::lines(
            "Reports and the moderators' backlog per day (means over replicates)",
            "day",
            "items",
        )
        .series("reports released", released)
        .series("reviewed", day_series(summary, "reviewed"))
        .series("backlog (end of day)", day_series(summary, "backlog")),
    )?;
    page.chart(
        &Chart::lines(
            "Innocent users reported and offenders detected, per day",
            "day",
            "users",
        )
        .series(
            "innocent users reported (first time)",
            day_series(summary, "innocent_reported"),
        )
        .series(
            "offenders detected",
            day_series(summary, "offenders_detected"),
        ),
    )?;
    page.heading("Funnel");
    page.table(&Funnel::of(summary))?;
    page.heading("Figures");
    page.table(result)?;
    if let Some(x) = &summary.extrapolated {
        page.heading(&format!("At {} users: {}", x.users, x.label));
        page.table(x)?;
    }
    page.note("Per-day figures with their intervals are in days.csv; every replicate's counts in results.json.");
    Ok(page.render())
}

/// A sweep's HTML report: the table, and each headline metric across the
/// points.
pub fn sweep_page(
    result: &sim::sweep::SweepResult,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    use super::chart::Chart;
    use super::html::Page;
    let mut page = Page::new(&format!(
        "Sweep of {}",
        if result.scenario.name.is_empty() {
            "(unnamed)"
        } else {
            &result.scenario.name
        }
    ));
    page.table(result)?;
    // x: the first parameter's value when numeric (one series per value of
    // the others), else the point's index.
    let numeric = result
        .points
        .iter()
        .all(|p| p.values.first().is_some_and(|v| v.parse::<f64>().is_ok()));
    for name in SWEEP_METRICS {
        let mut chart = Chart::lines(
            name,
            if numeric {
                &result.params[0].field
            } else {
                "point"
            },
            name,
        );
        let mut groups: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        for p in &result.points {
            let Some(m) = p.metrics.iter().find(|m| m.name == name) else {
                continue;
            };
            let x = if numeric {
                p.values[0].parse::<f64>().unwrap_or(0.0)
            } else {
                f64::from(p.index)
            };
            let key = if numeric {
                result.params[1..]
                    .iter()
                    .zip(&p.values[1..])
                    .map(|(a, v)| format!("{}={v}", a.field))
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                String::new()
            };
            match groups.iter_mut().find(|g| g.0 == key) {
                Some(g) => g.1.push((x, m.estimate.mean)),
                None => groups.push((key, vec![(x, m.estimate.mean)])),
            }
        }
        for (key, points) in groups {
            chart = chart.series(if key.is_empty() { name } else { &key }, points);
        }
        page.chart(&chart)?;
    }
    Ok(page.render())
}
