//! `cssim scenario sweep`: one run per point of a grid of parameters, each
//! a dotted field of the scenario (`policy.account_threshold=1,5,10,30`,
//! `hashset.threshold=20..40:4`), set in the file's TOML before it is
//! parsed and validated, so a point is exactly the scenario a user could
//! have written.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::summary::Metric;
use super::{Error, Loaded, Progress, Scenario, Shard};

/// One swept parameter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// The dotted field.
    pub field: String,
    /// Its values, as TOML text.
    pub values: Vec<String>,
}

impl std::str::FromStr for Param {
    type Err = Error;

    /// `a.b=1,5,10` or `a.b=20..40:4` (from 20 to 40 in steps of 4).
    fn from_str(s: &str) -> Result<Param, Error> {
        let bad = |reason: &str| Error::Param {
            param: s.to_string(),
            reason: reason.to_string(),
        };
        let (field, values) = s
            .split_once('=')
            .ok_or_else(|| bad("expected FIELD=V1,V2,… or FIELD=FROM..TO:STEP"))?;
        let field = field.trim();
        if field.is_empty() || field.split('.').any(str::is_empty) {
            return Err(bad(
                "the field must be a dotted name like policy.account_threshold",
            ));
        }
        let values: Vec<String> = if let Some((range, step)) = values.split_once(':') {
            let (from, to) = range
                .split_once("..")
                .ok_or_else(|| bad("a range is FROM..TO:STEP"))?;
            let num = |t: &str| {
                t.trim()
                    .parse::<f64>()
                    .map_err(|_| bad("range bounds and step must be numbers"))
            };
            let (from, to, step) = (num(from)?, num(to)?, num(step)?);
            if step.is_nan() || step <= 0.0 || to < from {
                return Err(bad("a range needs FROM ≤ TO and a step above 0"));
            }
            let integer = [from, to, step].iter().all(|v| v.fract() == 0.0);
            let count = ((to - from) / step + 1e-9).floor() as u64 + 1;
            if count > 10_000 {
                return Err(bad("more than 10000 values"));
            }
            (0..count)
                .map(|i| {
                    let v = from + step * i as f64;
                    if integer {
                        format!("{}", v as i64)
                    } else {
                        format!("{v}")
                    }
                })
                .collect()
        } else {
            values.split(',').map(|v| v.trim().to_string()).collect()
        };
        if values.iter().any(String::is_empty) {
            return Err(bad("an empty value"));
        }
        Ok(Param {
            field: field.to_string(),
            values,
        })
    }
}

/// One point of a sweep and its results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Its index in the grid (row-major, the first parameter slowest).
    pub index: u32,
    /// The value of each parameter.
    pub values: Vec<String>,
    /// The summary's metrics (totals and rates).
    pub metrics: Vec<Metric>,
}

/// The result of `cssim scenario sweep`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepResult {
    /// `cssim scenario sweep`.
    pub tool: String,
    /// The cssim version.
    pub version: String,
    /// The base scenario.
    pub scenario: Scenario,
    /// The parameters.
    pub params: Vec<Param>,
    /// Points in the whole grid.
    pub points_total: u32,
    /// The shard, when this is one part of a sweep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// The points run.
    pub points: Vec<Point>,
}

/// A TOML value from text: a number, boolean, array or quoted string as
/// TOML reads it, anything else as a bare string.
fn value(text: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

fn set(table: &mut toml::Table, field: &str, v: toml::Value) -> Result<(), String> {
    let mut parts: Vec<&str> = field.split('.').collect();
    let last = parts.pop().unwrap_or(field);
    let mut t = table;
    for p in parts {
        let entry = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| format!("'{p}' is a value, not a table"))?;
    }
    t.insert(last.to_string(), v);
    Ok(())
}

/// The grid's points: every combination of values, first parameter slowest.
pub fn grid(params: &[Param]) -> Vec<Vec<String>> {
    let mut points: Vec<Vec<String>> = vec![Vec::new()];
    for p in params {
        points = points
            .into_iter()
            .flat_map(|pt| {
                p.values.iter().map(move |v| {
                    let mut n = pt.clone();
                    n.push(v.clone());
                    n
                })
            })
            .collect();
    }
    points
}

/// The scenario at one point.
pub fn point(
    text: &str,
    path: &Path,
    params: &[Param],
    values: &[String],
) -> Result<Loaded, Error> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| Error::Parse {
        path: path.to_path_buf(),
        line: None,
        reason: e.message().to_string(),
    })?;
    for (p, v) in params.iter().zip(values) {
        set(&mut table, &p.field, value(v)).map_err(|reason| Error::Param {
            param: format!("{}={v}", p.field),
            reason,
        })?;
    }
    let edited = toml::to_string(&table).unwrap_or_default();
    Scenario::parse(&edited, path).map_err(|e| match e {
        Error::Invalid {
            path,
            field,
            reason,
            ..
        } => Error::Invalid {
            path,
            line: None,
            field,
            reason: format!("{reason} (at the sweep point {})", describe(params, values)),
        },
        Error::Parse { path, reason, .. } => Error::Parse {
            path,
            line: None,
            reason: format!("{reason} (at the sweep point {})", describe(params, values)),
        },
        other => other,
    })
}

fn describe(params: &[Param], values: &[String]) -> String {
    params
        .iter()
        .zip(values)
        .map(|(p, v)| format!("{}={v}", p.field))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks every point of the grid (before anything runs).
pub fn check(text: &str, path: &Path, params: &[Param]) -> Result<Vec<Loaded>, Error> {
    grid(params)
        .iter()
        .map(|v| point(text, path, params, v))
        .collect()
}

/// Runs the sweep (or a shard's points: index mod n = i).
pub fn run(
    text: &str,
    path: &Path,
    params: Vec<Param>,
    shard: Option<Shard>,
    library: Option<std::sync::Arc<super::library::Library>>,
    progress: &(dyn Fn(u32, u32, Progress) + Sync),
) -> Result<SweepResult, Error> {
    let loaded = check(text, path, &params)?;
    let grid = grid(&params);
    let total = grid.len() as u32;
    let mut points = Vec::new();
    for (i, (values, l)) in grid.into_iter().zip(&loaded).enumerate() {
        let i = i as u32;
        if shard.is_some_and(|s| i % s.count != s.index) {
            continue;
        }
        // `library` mode: the library hashed once serves every point (a
        // point that changes what was hashed is refused by the model).
        let mut l = l.clone();
        l.library = library.clone();
        let r = super::run(&l, None, &|p| progress(i, total, p))?;
        let metrics = r.summary.map(|s| s.metrics).unwrap_or_default();
        points.push(Point {
            index: i,
            values,
            metrics,
        });
    }
    Ok(SweepResult {
        tool: "cssim scenario sweep".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        scenario: loaded
            .first()
            .map(|l| l.scenario.clone())
            .ok_or_else(|| Error::Merge("no points".into()))?,
        params,
        points_total: total,
        shard,
        points,
    })
}
