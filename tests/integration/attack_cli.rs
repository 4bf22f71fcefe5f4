//! `cssim attack` and `cssim eval attacks` end to end: an evaded image really
//! misses and a collision really matches when the written file is hashed
//! again; bad input is one line and exit 2; an unreachable budget is a
//! reported failure with the best image kept.

use std::path::Path;

use cssim::hash::{self, Algorithm, HashConfig};
use image::RgbImage;
use tempfile::TempDir;

use crate::util::{cssim, root, stderr, stdout};

fn digest(path: &Path, algorithm: Algorithm) -> (hash::Digest, Option<u8>) {
    let d = hash::digest_file(path, &[algorithm], &HashConfig::default()).expect("hash");
    (d.digests[0].clone(), d.pdq_quality.map(|q| q.0))
}

fn distance(a: &hash::Digest, b: &hash::Digest) -> u32 {
    a.distance(b).expect("same algorithm").0
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

const ROCKET: &str = "examples/images/listed/rocket.jpg";
const HUBBLE: &str = "examples/images/benign/hubble_deep_field.jpg";

/// `cssim attack ARGS --json -o OUT`, run from the repository's root.
fn attack(args: &[&str], out_path: &Path) -> std::process::Output {
    cssim()
        .current_dir(root())
        .arg("attack")
        .args(args)
        .args(["--json", "-o"])
        .arg(out_path)
        .output()
        .unwrap()
}

#[test]
fn an_evaded_image_really_misses_under_the_real_hash() {
    let dir = TempDir::new().unwrap();
    for (algorithm, threshold) in [(Algorithm::Pdq, 31), (Algorithm::Phash, 10)] {
        let out_path = dir.path().join(format!("evaded-{algorithm}.png"));
        let out = attack(&["evade", ROCKET, "--algo", algorithm.name()], &out_path);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let j = json(&out);
        assert_eq!(j["success"], true);
        let (before, _) = digest(&root().join(ROCKET), algorithm);
        let (after, _) = digest(&out_path, algorithm);
        let d = distance(&before, &after);
        assert!(d > threshold, "{algorithm}: re-hashed distance {d}");
        assert_eq!(j["distance"], d);
        assert!(j["psnr"].as_f64().unwrap() > 40.0, "{}", j["psnr"]);
        assert!(j["ssim"].as_f64().unwrap() > 0.98, "{}", j["ssim"]);
    }
}

#[test]
fn a_collision_really_matches_under_the_real_hash() {
    let dir = TempDir::new().unwrap();
    for (algorithm, threshold) in [(Algorithm::Pdq, 31), (Algorithm::Phash, 10)] {
        let out_path = dir.path().join(format!("collision-{algorithm}.png"));
        let (target, _) = digest(&root().join(ROCKET), algorithm);
        let target_hex = target.to_hex();
        let args = [
            "collide",
            HUBBLE,
            "--algo",
            algorithm.name(),
            "--target",
            &target_hex,
        ];
        let out = attack(&args, &out_path);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let (after, quality) = digest(&out_path, algorithm);
        let d = distance(&target, &after);
        assert!(d <= threshold, "{algorithm}: re-hashed distance {d}");
        let (before, _) = digest(&root().join(HUBBLE), algorithm);
        assert!(distance(&target, &before) > threshold);
        if algorithm == Algorithm::Pdq {
            assert!(quality.unwrap() >= 50);
        }
        assert_eq!(json(&out)["distance"], d);
    }
}

#[test]
fn the_committed_examples_do_what_their_readme_says() {
    let (rocket, _) = digest(&root().join(ROCKET), Algorithm::Pdq);
    let (evaded, _) = digest(&root().join("examples/attacks/evaded.png"), Algorithm::Pdq);
    let (collision, q) = digest(
        &root().join("examples/attacks/collision.png"),
        Algorithm::Pdq,
    );
    assert_eq!(distance(&rocket, &evaded), 32);
    assert_eq!(distance(&rocket, &collision), 30);
    assert!(q.unwrap() >= 50);
}

#[test]
fn a_bad_target_hash_is_one_line_and_exit_2() {
    let dir = TempDir::new().unwrap();
    let out_path = dir.path().join("x.png");
    for bad in ["zz12", "c0371bec1be51267"] {
        let out = cssim()
            .current_dir(root())
            .args([
                "attack", "collide", HUBBLE, "--algo", "pdq", "--target", bad, "-o",
            ])
            .arg(&out_path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("--target") && err.contains("pdq hash"),
            "{err}"
        );
        assert!(!out_path.exists(), "nothing written on bad input");
    }
}

#[test]
fn an_unreachable_budget_is_a_reported_failure_with_the_best_image() {
    let dir = TempDir::new().unwrap();
    let out_path = dir.path().join("best.png");
    let out = cssim()
        .current_dir(root())
        .args([
            "attack", "collide", HUBBLE, "--algo", "pdq", "--target", ROCKET,
        ])
        .args(["--budget", "60", "-o"])
        .arg(&out_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("failed:"), "{text}");
    assert!(text.contains("budget of 60.0 dB"), "{text}");
    // The best image within the budget is written: no match, PSNR ≥ 60.
    let (target, _) = digest(&root().join(ROCKET), Algorithm::Pdq);
    let (kept, _) = digest(&out_path, Algorithm::Pdq);
    assert!(distance(&target, &kept) > 31);
    let a = image::open(root().join(HUBBLE)).unwrap().to_rgb8();
    let b = image::open(&out_path).unwrap().to_rgb8();
    assert!(cssim::attack::quality::psnr(&a, &b) >= 60.0);
}

#[test]
fn an_image_below_pdqs_quality_floor_is_refused() {
    let dir = TempDir::new().unwrap();
    let flat = dir.path().join("flat.png");
    RgbImage::from_pixel(64, 48, image::Rgb([120, 130, 140]))
        .save(&flat)
        .unwrap();
    let out = cssim()
        .args(["attack", "evade", "--algo", "pdq", "-o"])
        .arg(dir.path().join("o.png"))
        .arg(&flat)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("PDQ quality 0 is below the floor of 50"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn a_lossy_output_format_is_refused_before_any_work() {
    let out = cssim()
        .current_dir(root())
        .args(["attack", "evade", ROCKET, "-o", "/nonexistent/x.jpg"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("must be written as .png"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn eval_attacks_writes_json_csv_and_html_with_the_defence_figures() {
    let dir = TempDir::new().unwrap();
    let out_dir = dir.path().join("out");
    let out = cssim()
        .current_dir(root())
        .args(["eval", "attacks", "--corpus", "examples/images/benign"])
        .args(["--algo", "pdq", "--limit", "2", "--samples", "1", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(j["images"], 2);
    let results = j["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        6,
        "2 images × evade, collide, evade against all eight orientations"
    );
    let summaries = j["summaries"].as_array().unwrap();
    assert_eq!(summaries.len(), 3);
    assert_eq!(summaries[2]["mode"], "dihedral");
    for s in summaries {
        assert_eq!(s["attempts"], 2);
        // Curves are non-increasing in the budget.
        let curve = s["curve"].as_array().unwrap();
        let rates: Vec<f64> = curve.iter().map(|p| p[1].as_f64().unwrap()).collect();
        assert!(rates.windows(2).all(|w| w[0] >= w[1]), "{rates:?}");
    }
    // Each collision's target is the other image.
    for r in results.iter().filter(|r| r["attack"] == "collide") {
        assert_ne!(
            r["target"].as_str().unwrap(),
            Path::new(r["path"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
        );
    }
    let csv = std::fs::read_to_string(out_dir.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7);
    assert!(csv.starts_with("path,algorithm,attack,mode,target,success,distance"));
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("data:image/png;base64,"));
    assert!(stdout(&out).contains("pdq   evade"), "{}", stdout(&out));
    assert!(stdout(&out).contains("pdq   evade ×8"), "{}", stdout(&out));
}

/// The eight orientations' distances of `path` to `hash`, smallest first.
fn dihedral_distance(path: &Path, hash: &hash::Digest) -> u32 {
    let img = image::open(path).unwrap().to_rgb8();
    hash::pdq::hash_image_dihedral(&img)
        .hashes
        .iter()
        .map(|h| distance(&h.to_digest(), hash))
        .min()
        .unwrap()
}

/// A picture and its mirror image side by side: its horizontally flipped
/// orientation is itself, so a scanner with pdq_dihedral finds it even when
/// its own orientation has been moved away.
fn symmetric(dir: &Path) -> std::path::PathBuf {
    let half = image::open(root().join(ROCKET)).unwrap().to_rgb8();
    let half = image::imageops::resize(&half, 150, 200, image::imageops::FilterType::Triangle);
    let mut both = RgbImage::new(300, 200);
    image::imageops::replace(&mut both, &half, 0, 0);
    image::imageops::replace(&mut both, &image::imageops::flip_horizontal(&half), 150, 0);
    let path = dir.join("symmetric.png");
    both.save(&path).unwrap();
    path
}

#[test]
fn dihedral_evasion_misses_in_all_eight_orientations() {
    let dir = TempDir::new().unwrap();
    for source in [root().join(ROCKET), symmetric(dir.path())] {
        let out_path = dir.path().join("evaded8.png");
        let source_arg = source.to_str().unwrap();
        let out = attack(&["evade", "--dihedral", source_arg], &out_path);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let j = json(&out);
        assert_eq!(j["dihedral"], true);
        let (before, _) = digest(&source, Algorithm::Pdq);
        let d = dihedral_distance(&out_path, &before);
        assert!(d > 31, "{}: nearest orientation {d}", source.display());
        assert_eq!(j["distance"], d);
    }
}

#[test]
fn a_joint_evasion_misses_under_both_hashes_and_reports_each() {
    let dir = TempDir::new().unwrap();
    let out_path = dir.path().join("joint.png");
    let out = attack(&["evade", ROCKET, "--algo", "pdq,phash"], &out_path);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let j = json(&out);
    assert_eq!(j["success"], true);
    let legs = j["joint"].as_array().unwrap();
    assert_eq!(legs.len(), 2);
    for (leg, (algorithm, threshold)) in legs
        .iter()
        .zip([(Algorithm::Pdq, 31), (Algorithm::Phash, 10)])
    {
        assert_eq!(leg["algorithm"], algorithm.name());
        let (before, _) = digest(&root().join(ROCKET), algorithm);
        let (after, _) = digest(&out_path, algorithm);
        let d = distance(&before, &after);
        assert!(d > threshold, "{algorithm}: re-hashed distance {d}");
        assert_eq!(leg["distance"], d);
        assert_eq!(leg["success"], true);
    }
    let text = cssim()
        .current_dir(root())
        .args(["attack", "evade", ROCKET, "--algo", "pdq,phash", "-o"])
        .arg(&out_path)
        .output()
        .unwrap();
    let text = stdout(&text);
    assert!(
        text.starts_with("evaded under pdq and phash at once"),
        "{text}"
    );
    assert!(text.contains("phash: evaded, distance"), "{text}");
}

#[test]
fn a_joint_collision_is_judged_by_both_real_hashes() {
    let dir = TempDir::new().unwrap();
    let out_path = dir.path().join("joint-collision.png");
    let args = ["collide", HUBBLE, "--algo", "pdq,phash", "--target", ROCKET];
    let out = attack(&args, &out_path);
    let j = json(&out);
    let legs = j["joint"].as_array().unwrap();
    let mut all = true;
    for (leg, (algorithm, threshold)) in legs
        .iter()
        .zip([(Algorithm::Pdq, 31), (Algorithm::Phash, 10)])
    {
        let (target, _) = digest(&root().join(ROCKET), algorithm);
        let (after, _) = digest(&out_path, algorithm);
        let d = distance(&target, &after);
        assert_eq!(leg["distance"], d, "{algorithm}");
        assert_eq!(leg["success"], d <= threshold, "{algorithm}");
        all &= d <= threshold;
    }
    assert_eq!(j["success"], all);
    assert_eq!(
        out.status.code(),
        Some(if all { 0 } else { 1 }),
        "{}",
        stderr(&out)
    );
    // Two hex hashes work as the target too; one is refused for two hashes.
    let pdq = digest(&root().join(ROCKET), Algorithm::Pdq).0.to_hex();
    let bad = cssim()
        .current_dir(root())
        .args([
            "attack",
            "collide",
            HUBBLE,
            "--algo",
            "pdq,phash",
            "--target",
            &pdq,
            "-o",
        ])
        .arg(dir.path().join("x.png"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("then a phash hash"),
        "{}",
        stderr(&bad)
    );
}
