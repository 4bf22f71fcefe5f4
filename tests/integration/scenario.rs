//! `cssim scenario`: the validity checks of issue 13 (section 5) and the
//! command's promises (determinism at any thread count, merge equals a
//! single run, bad input named).

use std::path::Path;

use cssim::sim::{self, Scenario};

use crate::util::{cssim, refused_in_one_line, root, stderr, stdout};

/// An assumed-rate scenario: every user sends `images` images a day for
/// `days` days, each matching the list with probability `p`.
fn assumed(users: u64, days: u32, images: u32, p: f64, account_threshold: u32) -> String {
    format!(
        "name = \"validity\"\nseed = 7\nreplicates = 1\n\n\
         [population]\nusers = {users}\ndays = {days}\n\
         messages = {{ distribution = \"fixed\", mean = {images} }}\nimage_share = 1.0\n\n\
         [content]\nsource = \"assumed\"\nfalse_match_rate = {p:e}\n\n\
         [policy]\naccount_threshold = {account_threshold}\n"
    )
}

/// P(X ≥ t) for X ~ Binomial(n, p), summed in log space (independent of
/// the simulator's code).
fn binomial_tail(n: u64, p: f64, t: u64) -> f64 {
    let ln_choose = |k: u64| -> f64 { (1..=k).map(|i| ((n - k + i) as f64 / i as f64).ln()).sum() };
    (t..=n)
        .map(|k| (ln_choose(k) + k as f64 * p.ln() + (n - k) as f64 * (1.0 - p).ln()).exp())
        .sum()
}

#[test]
fn innocent_accounts_flagged_at_threshold_30_match_the_binomial_tail() {
    // 100 images per user (10 a day for 10 days); flagged = 30 or more matches.
    for p in [0.2, 0.27] {
        let text = assumed(20_000, 10, 10, p, 30);
        let loaded = Scenario::parse(&text, Path::new("validity.toml")).unwrap();
        let r = sim::run(&loaded, None, &|_| {}).unwrap();
        let m = r.summary.unwrap();
        let share = m.metric("innocent_users_reported_share").unwrap();
        let exact = share.exact.unwrap();
        let tail = binomial_tail(100, p, 30);
        assert!(
            exact.lower <= tail && tail <= exact.upper,
            "p = {p}: tail {tail} outside the simulated interval [{}, {}] ({} of {})",
            exact.lower,
            exact.upper,
            exact.events,
            exact.trials
        );
        // Not a vacuous test: the interval is narrow.
        assert!(exact.upper - exact.lower < 0.25 * tail + 0.01, "{exact:?}");
    }
}

#[test]
fn no_offenders_and_no_false_matches_give_no_detections_and_a_nonzero_bound() {
    let text = assumed(5_000, 5, 4, 0.0, 1);
    let loaded = Scenario::parse(&text, Path::new("zero.toml")).unwrap();
    let r = sim::run(&loaded, None, &|_| {}).unwrap();
    let s = r.summary.unwrap();
    for name in [
        "false_matches",
        "released_false",
        "offenders_detected",
        "innocent_reported",
        "reviewed",
    ] {
        assert_eq!(s.metric(name).unwrap().estimate.mean, 0.0, "{name}");
    }
    let rate = s.metric("false_report_rate").unwrap();
    assert_eq!(rate.estimate.mean, 0.0);
    let exact = rate.exact.unwrap();
    assert_eq!((exact.events, exact.trials), (0, 100_000));
    // 0 of n: the exact upper bound is 1 − 0.025^(1/n) ≈ 3.69/n, not zero.
    assert!((exact.upper - 3.689e-5).abs() < 1e-7, "{}", exact.upper);
}

const RATES_SCENARIO: &str = "\
name = \"cli\"
seed = 11
replicates = 4

[population]
users = 3000
days = 6
messages = { distribution = \"lognormal\", mean = 15, sigma = 1.2 }
image_share = 0.3

[content]
source = \"rates\"
rates = \"rates.json\"

[offenders]
count = 30
behaviour = \"casual\"
edits = [\"jpeg:70\", \"crop:0.8\"]

[adversaries.collision]
images = 10
recipients = 50
per_day = 1.5
start_day = 2

[adversaries.poisoning]
image_share = 0.01
start_day = 3

[hashset]
entries = 1000

[policy]
account_threshold = 3

[policy.server_hash]
algorithm = \"phash\"
threshold = 10

[policy.review]
reviewers = 1
hours_per_day = 1
";

/// The CLI scenario in a folder with the rates fixture beside it.
fn scenario_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("tests/data/scenario/rates.json"),
        dir.path().join("rates.json"),
    )
    .unwrap();
    std::fs::write(dir.path().join("s.toml"), RATES_SCENARIO).unwrap();
    dir
}

fn run(dir: &Path, out: &str, extra: &[&str]) -> Vec<u8> {
    let o = cssim()
        .args(["scenario", "run"])
        .arg(dir.join("s.toml"))
        .arg("--out")
        .arg(dir.join(out))
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::read(dir.join(out).join("results.json")).unwrap()
}

#[test]
fn same_seed_gives_identical_results_at_one_and_two_threads() {
    let dir = scenario_dir();
    let one = run(dir.path(), "t1", &["--threads", "1"]);
    let two = run(dir.path(), "t2", &["--threads", "2"]);
    assert!(one == two, "results.json differs between 1 and 2 threads");
    // And the run did something: reports, reviews, collisions, scope creep.
    let v: serde_json::Value = serde_json::from_slice(&one).unwrap();
    let metric = |name: &str| {
        v["summary"]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap()["estimate"]["mean"]
            .as_f64()
            .unwrap()
    };
    for name in [
        "true_matches",
        "collision_matches",
        "poison_matches",
        "reviewed",
        "backlog",
    ] {
        assert!(metric(name) > 0.0, "{name} is 0");
    }
    assert_eq!(v["seed"], 11);
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    let csv = std::fs::read_to_string(dir.path().join("t1/days.csv")).unwrap();
    assert!(
        csv.starts_with("day,metric,mean,lower,upper\n0,messages,"),
        "{}",
        &csv[..80]
    );
    assert_eq!(csv.lines().count(), 1 + 6 * cssim::sim::counts::N);
    let html = std::fs::read_to_string(dir.path().join("t1/report.html")).unwrap();
    for part in [
        "<svg",
        "Funnel",
        "reviewed by a human",
        "false_report_rate",
        "Timeline",
    ] {
        assert!(html.contains(part), "report.html lacks {part}");
    }
}

#[test]
fn merged_shards_equal_the_single_run_byte_for_byte() {
    let dir = scenario_dir();
    let single = run(dir.path(), "single", &[]);
    run(dir.path(), "p0", &["--shard", "0/3"]);
    run(dir.path(), "p1", &["--shard", "1/3"]);
    run(dir.path(), "p2", &["--shard", "2/3"]);
    let o = cssim()
        .args(["scenario", "merge"])
        .args(["p2", "p0", "p1"].map(|p| dir.path().join(p)))
        .arg("--out")
        .arg(dir.path().join("merged"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let merged = std::fs::read(dir.path().join("merged/results.json")).unwrap();
    assert!(merged == single, "merge differs from the single run");
    // A missing part is refused, naming the replicates.
    let o = cssim()
        .args(["scenario", "merge"])
        .args(["p0", "p1"].map(|p| dir.path().join(p)))
        .arg("--out")
        .arg(dir.path().join("bad"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("replicates 2 are missing"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("bad/results.json").exists());
}

#[test]
fn bad_scenarios_are_one_line_naming_field_and_line() {
    let dir = scenario_dir();
    let path = dir.path().join("s.toml");
    let cases = [
        (
            RATES_SCENARIO.replace("days = 6", "days = 6\nmesages = 3"),
            "s.toml: line 8: unknown field `mesages`",
        ),
        (
            RATES_SCENARIO.replace("account_threshold = 3", "account_threshold = 0"),
            "line 34: field 'policy.account_threshold': must be at least 1",
        ),
        (
            RATES_SCENARIO.replace("count = 30", "count = 3001"),
            "line 16: field 'offenders.count': 3001 offenders is more than the 3000 users",
        ),
        (
            RATES_SCENARIO.replace("hours_per_day = 1", "hours_per_day = 1\naccuracy = 1.2"),
            "field 'policy.review.accuracy': 1.2 is not a share between 0 and 1",
        ),
        (
            RATES_SCENARIO.replace("\"crop:0.8\"", "\"blur:3\""),
            "no genuine pairs for the edit 'blur:3'",
        ),
        (
            RATES_SCENARIO.replace("users = 3000", "users = 4000000000"),
            "the scenario needs about 104.4 GiB of memory and this machine has",
        ),
        (
            RATES_SCENARIO.replace("users = 3000", "users = 5000000000"),
            "field 'population.users': 5000000000 is more than 4294967295",
        ),
    ];
    for (text, want) in cases {
        std::fs::write(&path, &text).unwrap();
        refused_in_one_line(&path, dir.path(), want);
    }
    std::fs::write(&path, RATES_SCENARIO).unwrap();
    let o = cssim()
        .args(["scenario", "check"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("valid. 3000 users × 6 days × 4 replicates"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn sweep_runs_one_row_per_point() {
    let dir = scenario_dir();
    let o = cssim()
        .args(["scenario", "sweep"])
        .arg(dir.path().join("s.toml"))
        .args([
            "--param",
            "policy.account_threshold=1,5",
            "--param",
            "hashset.threshold=20..40:10",
        ])
        .arg("--out")
        .arg(dir.path().join("sw"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(dir.path().join("sw/sweep.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 1 + 6, "{csv}");
    assert!(
        rows[1].starts_with("0,policy.account_threshold=1 hashset.threshold=20,"),
        "{csv}"
    );
    assert!(
        rows[6].starts_with("5,policy.account_threshold=5 hashset.threshold=40,"),
        "{csv}"
    );
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("sw/sweep.json")).unwrap()).unwrap();
    assert_eq!(v["points"].as_array().unwrap().len(), 6);
    // A bad point is refused before anything runs.
    let o = cssim()
        .args(["scenario", "sweep"])
        .arg(dir.path().join("s.toml"))
        .args(["--param", "policy.account_threshold=1,0", "--out"])
        .arg(dir.path().join("sw2"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("policy.account_threshold=0"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("sw2").exists());
}

#[test]
fn shipped_example_scenarios_are_valid() {
    let dir = root().join("examples/scenarios");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let mut l = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
            if l.scenario.content.source == sim::Source::Library {
                let cache = cssim::eval::cache::Cache::disabled();
                let lib =
                    sim::library::prepare(&l, &cache, &|_, _| {}).unwrap_or_else(|e| panic!("{e}"));
                l.library = Some(std::sync::Arc::new(lib));
            }
            sim::rates::model(&l).unwrap_or_else(|e| panic!("{e}"));
            assert!(l.scenario.memory_estimate() < 4 << 30, "{}", path.display());
            names.push(path.file_stem().unwrap().to_string_lossy().into_owned());
        }
    }
    names.sort();
    assert_eq!(
        names,
        [
            "apple-2021",
            "baseline",
            "bloom-vs-list",
            "collision-campaign",
            "evasive-offenders",
            "library",
            "platform-50m",
            "scope-creep"
        ]
    );
}
