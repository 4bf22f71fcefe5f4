//! `cssim scenario` with measured inputs named in the scenario: offenders'
//! evasion at an attack budget (a `cssim eval attacks` results.json).

use std::path::Path;

use cssim::sim::{self, Scenario, engine, evasion, rates};

use crate::util::{cssim, refused_in_one_line, root, stderr, stdout};

/// Assumed rates, 40 offenders who share 3 items a day, each detected with
/// probability 0.9 unless evaded.
fn evasive(extra: &str) -> String {
    format!(
        "name = \"evasion\"\nseed = 3\nreplicates = 3\n\n\
         [population]\nusers = 2000\ndays = 5\n\
         messages = {{ distribution = \"poisson\", mean = 10 }}\nimage_share = 0.2\n\n\
         [content]\nsource = \"assumed\"\nfalse_match_rate = 1e-6\n\n\
         [offenders]\ncount = 40\nitems_per_day = 3\nbehaviour = \"evasive\"\ndetection_rate = 0.9\n{extra}\n\
         [policy]\naccount_threshold = 1\n"
    )
}

/// Runs the engine with an evasion count of `k` of `n` (no file).
fn with_evasion(k: u64, n: u64) -> sim::summary::Summary {
    let loaded = Scenario::parse(&evasive(""), Path::new("e.toml")).unwrap();
    let model = rates::model(&loaded).unwrap();
    let e = evasion::Measured {
        file: "synthetic".into(),
        algorithm: cssim::hash::Algorithm::Pdq,
        attack_threshold: 31,
        budget_psnr: 40.0,
        count: rates::Count { k, n },
    };
    let reps = engine::run(&loaded, &model, Some(&e), &[0, 1, 2], &|_| {});
    sim::summary::summarise(&loaded.scenario, &reps)
}

fn mean(s: &sim::summary::Summary, name: &str) -> f64 {
    s.metric(name).unwrap().estimate.mean
}

#[test]
fn evasion_rate_one_detects_no_offender_and_zero_changes_nothing() {
    const HUGE: u64 = 1_000_000_000_000;
    let loaded = Scenario::parse(&evasive(""), Path::new("e.toml")).unwrap();
    let before = sim::run(&loaded, None, &|_| {}).unwrap().summary.unwrap();
    assert!(mean(&before, "offenders_detected") > 35.0);
    // Every evasion succeeded (the posterior is ~1 − 1e-12): nothing matches.
    let all = with_evasion(HUGE, HUGE);
    assert_eq!(mean(&all, "true_matches"), 0.0);
    assert_eq!(mean(&all, "offenders_detected"), 0.0);
    assert_eq!(mean(&all, "evaded"), mean(&all, "offender_items"));
    // None succeeded: the same counts as without evasion.
    let none = with_evasion(0, HUGE);
    for name in [
        "offender_items",
        "true_matches",
        "offenders_detected",
        "false_matches",
    ] {
        assert_eq!(mean(&none, name), mean(&before, name), "{name}");
    }
}

/// The committed `cssim eval attacks` fixture: 3 PDQ evasions, all
/// successful, at 47.95, 48.94 and 55.06 dB.
fn fixture_dir(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("tests/data/scenario/attacks.json"),
        dir.path().join("attacks.json"),
    )
    .unwrap();
    std::fs::write(dir.path().join("s.toml"), evasive(extra)).unwrap();
    dir
}

#[test]
fn evasion_at_a_budget_comes_from_the_attacks_file_and_says_so() {
    let dir = fixture_dir("evasion = { attacks = \"attacks.json\", budget_psnr = 50 }\n");
    let o = cssim()
        .args(["scenario", "run"])
        .arg(dir.path().join("s.toml"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let want = "offenders' evasion from attacks.json: 1 of 3 pdq evasion attacks (threshold 31) succeeded at PSNR ≥ 50 dB";
    assert!(stdout(&o).contains(want), "{}", stdout(&o));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/results.json")).unwrap())
            .unwrap();
    assert_eq!(json["evasion"]["count"]["k"], 1);
    assert_eq!(json["evasion"]["count"]["n"], 3);
    assert_eq!(json["evasion"]["budget_psnr"], 50.0);
    assert!(json["content"].as_str().unwrap().contains(want));
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(html.contains("1 of 3 pdq evasion attacks"));
    // Each replicate drew a rate from Beta(2, 3), and fewer items matched
    // than at detection 0.9 alone.
    let reps = json["replicates"].as_array().unwrap();
    let drawn: Vec<f64> = reps
        .iter()
        .map(|r| r["rates"]["evasion"].as_f64().unwrap())
        .collect();
    assert!(drawn.iter().all(|&e| e > 0.0 && e < 1.0), "{drawn:?}");
    assert!(drawn[0] != drawn[1]);
    let rate = json["summary"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "evasion_rate")
        .unwrap()["estimate"]["mean"]
        .as_f64()
        .unwrap();
    assert!(rate > 0.15, "{rate}");
}

#[test]
fn bad_evasion_is_one_line_naming_the_field() {
    let phash_only = r#"{"tool": "cssim eval attacks", "results": [
        {"algorithm": "phash", "attack": "evade", "success": true, "psnr": 45.0, "threshold": 10}]}"#;
    let cases = [
        (
            "evasion = { attacks = \"missing.json\", budget_psnr = 40 }\n",
            "field 'offenders.evasion.attacks'",
        ),
        (
            "evasion = { attacks = \"attacks.json\", budget_psnr = 60 }\n",
            "field 'offenders.evasion.budget_psnr': no evasion attack reached 60 dB (the best succeeded at 55.06 dB)",
        ),
        (
            "evasion = { attacks = \"phash.json\", budget_psnr = 40 }\n",
            "field 'offenders.evasion.attacks'",
        ),
        (
            "evasion = { attacks = \"attacks.json\", budget_psnr = -1 }\n",
            "field 'offenders.evasion.budget_psnr': -1 is not a PSNR",
        ),
        (
            "evasion = { attacks = \"attacks.json\", psnr = 40 }\n",
            "unknown field `psnr`",
        ),
    ];
    for (extra, want) in cases {
        let dir = fixture_dir(extra);
        std::fs::write(dir.path().join("phash.json"), phash_only).unwrap();
        refused_in_one_line(&dir.path().join("s.toml"), dir.path(), want);
    }
    // An evasion on a behaviour that is not evasive.
    let dir = fixture_dir("evasion = { attacks = \"attacks.json\", budget_psnr = 40 }\n");
    let text = evasive("evasion = { attacks = \"attacks.json\", budget_psnr = 40 }\n")
        .replace("behaviour = \"evasive\"", "behaviour = \"casual\"");
    std::fs::write(dir.path().join("s.toml"), text).unwrap();
    refused_in_one_line(
        &dir.path().join("s.toml"),
        dir.path(),
        "field 'offenders.evasion': needs behaviour = \"evasive\"",
    );
}

#[test]
fn extrapolation_scales_per_user_daily_figures_and_is_labelled() {
    // From the file: [report] extrapolate_users.
    let text = evasive("") + "\n[report]\nextrapolate_users = 50_000_000\n";
    let loaded = Scenario::parse(&text, Path::new("x.toml")).unwrap();
    let s = sim::run(&loaded, None, &|_| {}).unwrap().summary.unwrap();
    let x = s.extrapolated.as_ref().unwrap();
    assert_eq!(x.label, "extrapolated (linear in users)");
    assert_eq!((x.users, x.simulated_users), (50_000_000, 2000));
    let per_day = |name: &str| x.metrics.iter().find(|m| m.name == name).unwrap();
    // 2000 users × 5 days simulated: a day at 50 M users is 5000 times a
    // simulated user-day total.
    let factor = 50_000_000.0 / (2000.0 * 5.0);
    for name in ["messages", "images", "true_matches", "offenders_detected"] {
        let m = per_day(&format!("{name}_per_day"));
        let total = s.metric(name).unwrap().estimate;
        assert_eq!(m.estimate.mean, total.mean * factor, "{name}");
        assert_eq!(m.estimate.upper, total.upper * factor, "{name}");
        assert!(m.description.ends_with("extrapolated (linear in users)"));
    }
    assert!(x.metrics.iter().all(|m| m.name != "backlog_per_day"));
    // Without it, nothing is extrapolated.
    let plain = Scenario::parse(&evasive(""), Path::new("x.toml")).unwrap();
    assert!(
        sim::run(&plain, None, &|_| {})
            .unwrap()
            .summary
            .unwrap()
            .extrapolated
            .is_none()
    );

    // From the command line, in the table, results.json and report.html.
    let dir = fixture_dir("");
    let o = cssim()
        .args(["scenario", "run"])
        .arg(dir.path().join("s.toml"))
        .args(["--extrapolate-users", "1000000", "--out"])
        .arg(dir.path().join("out"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("At 1000000 users, extrapolated (linear in users): the simulated per-user daily figures (2000 users)"),
        "{out}"
    );
    assert!(out.contains("messages_per_day"), "{out}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/results.json")).unwrap())
            .unwrap();
    let x = &json["summary"]["extrapolated"];
    assert_eq!(x["label"], "extrapolated (linear in users)");
    assert_eq!(x["users"], 1_000_000);
    assert_eq!(json["scenario"]["report"]["extrapolate_users"], 1_000_000);
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(html.contains("At 1000000 users: extrapolated (linear in users)"));
    let ok = cssim()
        .args(["scenario", "check"])
        .arg(dir.path().join("s.toml"))
        .output()
        .unwrap();
    assert!(ok.status.success());
    std::fs::write(
        dir.path().join("s.toml"),
        evasive("") + "\n[report]\nextrapolate_users = 0\n",
    )
    .unwrap();
    refused_in_one_line(
        &dir.path().join("s.toml"),
        dir.path(),
        "field 'report.extrapolate_users': must be at least 1",
    );
}

#[test]
fn scanning_cost_comes_from_a_bench_file() {
    // The committed bench.json (see tests/data/scenario/README.md): image
    // total 25434.419 µs less seal 232.602 µs; text 112.683 less 82.603.
    let dir = fixture_dir("");
    std::fs::copy(
        root().join("tests/data/scenario/bench.json"),
        dir.path().join("bench.json"),
    )
    .unwrap();
    let text = evasive("") + "\n[cost]\nbench = \"bench.json\"\n";
    std::fs::write(dir.path().join("s.toml"), &text).unwrap();
    let o = cssim()
        .args(["scenario", "run"])
        .arg(dir.path().join("s.toml"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("Cost: scanning cost measured by cssim bench (bench.json; set: demo, 9 entries): 25.202 ms an image message, 0.030 ms a text message"),
        "{out}"
    );
    assert!(out.contains("as measured on the machine the bench ran on"));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/results.json")).unwrap())
            .unwrap();
    let image_ms = json["cost"]["image_ms"].as_f64().unwrap();
    let text_ms = json["cost"]["text_ms"].as_f64().unwrap();
    assert!((image_ms - 25.201817).abs() < 1e-9, "{image_ms}");
    assert!((text_ms - 0.03008).abs() < 1e-9, "{text_ms}");
    let metric = |name: &str| {
        json["summary"]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .map(|m| m["estimate"]["mean"].as_f64().unwrap())
    };
    // Replicate by replicate: images × image cost + texts × text cost, a day.
    let reps = json["replicates"].as_array().unwrap();
    let want: f64 = reps
        .iter()
        .map(|r| {
            let t = &r["total"];
            let (messages, images, files) = (
                t["messages"].as_f64().unwrap(),
                t["images"].as_f64().unwrap(),
                t["files"].as_f64().unwrap(),
            );
            (images * image_ms + (messages - images - files) * text_ms) / 3.6e6 / 5.0
        })
        .sum::<f64>()
        / reps.len() as f64;
    let got = metric("device_scan_hours_per_day").unwrap();
    assert!((got - want).abs() < 1e-12 * want.max(1.0), "{got} {want}");
    // A missing file and both kinds of cost are one line naming the field.
    for (extra, want) in [
        ("bench = \"nope.json\"\n", "field 'cost.bench': "),
        (
            "bench = \"bench.json\"\nscan_ms_per_image = 3\n",
            "field 'cost.bench': give the measured bench file or a stated scan_ms_per_image, not both",
        ),
    ] {
        std::fs::write(
            dir.path().join("s.toml"),
            evasive("") + "\n[cost]\n" + extra,
        )
        .unwrap();
        refused_in_one_line(&dir.path().join("s.toml"), dir.path(), want);
    }
}
