//! Replicates summarised: every count and rate with its mean and 95%
//! interval over replicates (2.5th and 97.5th percentiles, linear
//! interpolation), and for each rate also the exact Clopper–Pearson
//! interval of the pooled counts — the bound that stays above zero when
//! nothing was seen.

use serde::{Deserialize, Serialize};

use super::counts::{Counts, DOCS, M, N, NAMES};
use super::engine::Replicate;
use super::scenario::Scenario;
use crate::eval::binomial::{Interval, clopper_pearson};

/// A value over replicates.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Mean over replicates.
    pub mean: f64,
    /// 2.5th percentile.
    pub lower: f64,
    /// 97.5th percentile.
    pub upper: f64,
}

/// One named figure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Its name (as in JSON and CSV).
    pub name: String,
    /// What it is.
    pub description: String,
    /// Over replicates.
    pub estimate: Estimate,
    /// Rates only: the exact 95% interval of the pooled counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<ExactBound>,
}

/// An exact binomial interval with its counts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExactBound {
    /// Events, pooled over replicates.
    pub events: u64,
    /// Trials, pooled over replicates.
    pub trials: u64,
    /// Clopper–Pearson lower bound.
    pub lower: f64,
    /// Clopper–Pearson upper bound.
    pub upper: f64,
}

/// One day over replicates: each count's estimate, in [`NAMES`] order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Day {
    /// The day (0-based).
    pub day: u32,
    /// Estimates in count order.
    pub counts: Vec<Estimate>,
}

/// The summary of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Replicates summarised.
    pub replicates: u32,
    /// Totals over all days, then the derived rates and times.
    pub metrics: Vec<Metric>,
    /// Per day.
    pub days: Vec<Day>,
    /// The per-user daily figures scaled to another platform size, when
    /// asked for (`report.extrapolate_users`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extrapolated: Option<Extrapolated>,
}

/// Per-user daily figures scaled to another number of users: an
/// extrapolation (linear in users), not a simulation at that size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Extrapolated {
    /// `extrapolated (linear in users)`.
    pub label: String,
    /// The users scaled to.
    pub users: u64,
    /// The users simulated.
    pub simulated_users: u64,
    /// Each count a day (`NAME_per_day`): its total over the simulated
    /// days, divided by days and simulated users, times `users` (mean and
    /// interval scaled alike). Levels (`backlog`, `held`) are left out.
    pub metrics: Vec<Metric>,
}

/// The label every extrapolated figure carries.
pub const EXTRAPOLATED: &str = "extrapolated (linear in users)";

/// Levels at the end of the run, which do not scale per day.
const LEVELS: [&str; 2] = ["backlog", "held"];

fn extrapolate(scenario: &Scenario, totals: &[Metric]) -> Option<Extrapolated> {
    let users = scenario.report.extrapolate_users?;
    let simulated = scenario.population.users;
    let factor = users as f64 / (simulated as f64 * f64::from(scenario.population.days));
    let metrics = totals
        .iter()
        .take(N)
        .filter(|m| !LEVELS.contains(&m.name.as_str()))
        .map(|m| Metric {
            name: format!("{}_per_day", m.name),
            description: format!("{}: a day at {users} users, {EXTRAPOLATED}", m.description),
            estimate: Estimate {
                mean: m.estimate.mean * factor,
                lower: m.estimate.lower * factor,
                upper: m.estimate.upper * factor,
            },
            exact: None,
        })
        .collect();
    Some(Extrapolated {
        label: EXTRAPOLATED.into(),
        users,
        simulated_users: simulated,
        metrics,
    })
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Mean and percentile interval of `values`.
pub fn estimate(values: &[f64]) -> Estimate {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let mean = if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    };
    Estimate {
        mean,
        lower: quantile(&v, 0.025),
        upper: quantile(&v, 0.975),
    }
}

fn exact(events: u64, trials: u64) -> ExactBound {
    let Interval { lower, upper } = clopper_pearson(events, trials, 0.95);
    ExactBound {
        events,
        trials,
        lower,
        upper,
    }
}

/// A rate: events over trials, both functions of a replicate's totals.
struct RateDef {
    name: &'static str,
    description: &'static str,
    events: fn(&Counts, &Scenario) -> u64,
    trials: fn(&Counts, &Scenario) -> u64,
}

/// Benign images scanned: all images less offenders' items and crafted ones.
pub fn benign_images(c: &Counts) -> u64 {
    c.get(M::Images) - c.get(M::OffenderItems) - c.get(M::CollisionImages)
}

/// Reports released of innocent images.
pub fn innocent_reports(c: &Counts) -> u64 {
    c.get(M::ReleasedFalse) + c.get(M::ReleasedCollision) + c.get(M::ReleasedPoison)
}

fn innocent_users(s: &Scenario) -> u64 {
    s.population.users - s.offenders.count
}

const RATES: &[RateDef] = &[
    RateDef {
        name: "false_match_rate",
        description: "false matches per benign image scanned (poisoned-entry copies excluded)",
        events: |c, _| c.get(M::FalseMatches),
        trials: |c, _| benign_images(c) - c.get(M::PoisonImages),
    },
    RateDef {
        name: "false_report_rate",
        description: "innocent reports released per benign image scanned",
        events: |c, _| innocent_reports(c),
        trials: |c, _| benign_images(c),
    },
    RateDef {
        name: "innocent_users_reported_share",
        description: "share of innocent users with at least one released report",
        events: |c, _| c.get(M::InnocentReported),
        trials: |_, s| innocent_users(s),
    },
    RateDef {
        name: "innocent_users_actioned_share",
        description: "share of innocent users whose account was actioned (after appeals)",
        events: |c, _| c.get(M::ActionedInnocent) - c.get(M::AppealsReversed),
        trials: |_, s| innocent_users(s),
    },
    RateDef {
        name: "offenders_detected_share",
        description: "share of offenders with a confirmed report",
        events: |c, _| c.get(M::OffendersDetected),
        trials: |_, s| s.offenders.count,
    },
    RateDef {
        name: "evasion_rate",
        description: "share of offenders' items that did not match",
        events: |c, _| c.get(M::Evaded),
        trials: |c, _| c.get(M::OffenderItems),
    },
];

/// Summarises replicates (in any order; sorted by index first).
pub fn summarise(scenario: &Scenario, replicates: &[Replicate]) -> Summary {
    summarise_with(scenario, replicates, None)
}

/// Summarises replicates, with the scanning cost measured by `cssim bench`
/// when the scenario names one (`device_scan_hours_per_day`).
pub fn summarise_with(
    scenario: &Scenario,
    replicates: &[Replicate],
    cost: Option<&super::cost::Measured>,
) -> Summary {
    let mut reps: Vec<&Replicate> = replicates.iter().collect();
    reps.sort_by_key(|r| r.replicate);
    let mut metrics = Vec::new();
    for i in 0..N {
        let values: Vec<f64> = reps.iter().map(|r| r.total.0[i] as f64).collect();
        metrics.push(Metric {
            name: NAMES[i].to_string(),
            description: DOCS[i].to_string(),
            estimate: estimate(&values),
            exact: None,
        });
    }
    for rate in RATES {
        let (mut events, mut trials) = (0u64, 0u64);
        let values: Vec<f64> = reps
            .iter()
            .map(|r| {
                let (e, t) = (
                    (rate.events)(&r.total, scenario),
                    (rate.trials)(&r.total, scenario),
                );
                events += e;
                trials += t;
                if t == 0 {
                    f64::NAN
                } else {
                    e as f64 / t as f64
                }
            })
            .collect();
        metrics.push(Metric {
            name: rate.name.to_string(),
            description: rate.description.to_string(),
            estimate: estimate(&values),
            exact: Some(exact(events, trials)),
        });
    }
    type Derived<'a> = (&'a str, &'a str, Box<dyn Fn(&Counts) -> f64 + 'a>);
    let days = f64::from(scenario.population.days);
    let derived: [Derived; 4] = [
        (
            "days_to_detection",
            "mean days from the start to an offender's first confirmed report (detected offenders)",
            Box::new(|c| {
                let d = c.get(M::OffendersDetected);
                if d == 0 {
                    f64::NAN
                } else {
                    c.get(M::DetectionDays) as f64 / d as f64
                }
            }),
        ),
        (
            "collision_moderator_hours",
            "moderator hours spent on collision images",
            Box::new(|c| {
                c.get(M::CollisionReviewed) as f64 * scenario.policy.review.minutes_per_item / 60.0
            }),
        ),
        (
            "device_scan_hours",
            "device time spent scanning images, from the stated cost per image (cost.scan_ms_per_image)",
            Box::new(|c| {
                c.get(M::Images) as f64 * scenario.cost.scan_ms_per_image.unwrap_or(f64::NAN)
                    / 3.6e6
            }),
        ),
        (
            "device_scan_hours_per_day",
            "device CPU hours a day spent scanning, measured by cssim bench (cost.bench) on its machine: \
             images × its image cost + text messages (messages less images and files) × its text cost",
            Box::new(move |c| match cost {
                Some(k) => {
                    let texts = c.get(M::Messages) - c.get(M::Images) - c.get(M::Files);
                    (c.get(M::Images) as f64 * k.image_ms + texts as f64 * k.text_ms) / 3.6e6 / days
                }
                None => f64::NAN,
            }),
        ),
    ];
    for (name, description, f) in derived {
        let values: Vec<f64> = reps.iter().map(|r| f(&r.total)).collect();
        if values.iter().all(|v| v.is_nan()) {
            // Nothing to say (no offender detected, no stated cost).
            continue;
        }
        metrics.push(Metric {
            name: name.to_string(),
            description: description.to_string(),
            estimate: estimate(&values),
            exact: None,
        });
    }
    let days = (0..scenario.population.days)
        .map(|d| Day {
            day: d,
            counts: (0..N)
                .map(|i| {
                    let values: Vec<f64> = reps
                        .iter()
                        .map(|r| r.days.get(d as usize).map_or(0.0, |c| c.0[i] as f64))
                        .collect();
                    estimate(&values)
                })
                .collect(),
        })
        .collect();
    Summary {
        replicates: reps.len() as u32,
        extrapolated: extrapolate(scenario, &metrics),
        metrics,
        days,
    }
}

impl Summary {
    /// The metric called `name`.
    pub fn metric(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name == name)
    }
}
