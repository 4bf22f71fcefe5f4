//! `cssim bench` against a chosen or generated hash set (issue 9, item 3),
//! and the image it uses by default. No timing is asserted: only what was
//! measured against, and that every figure is given to the nanosecond the
//! clock measured, not to a dozen digits.

use assert_cmd::Command;

use crate::util::root;

fn bench(args: &[&str]) -> serde_json::Value {
    let out = Command::cargo_bin("cssim")
        .unwrap()
        .current_dir(root())
        .args(["bench", "--json", "--runs", "5"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every number in the steps has at most 3 decimals (whole nanoseconds in µs).
fn assert_rounded(v: &serde_json::Value) {
    for step in v["steps"].as_array().unwrap() {
        for key in ["median_us", "p99_us"] {
            let text = step[key].to_string();
            let decimals = text.split('.').nth(1).map_or(0, str::len);
            assert!(decimals <= 3, "{key} = {text} in {step}");
        }
    }
}

#[test]
fn a_generated_set_of_n_entries_is_measured_and_recorded() {
    let v = bench(&["--entries", "2000", "--seed", "7"]);
    let set = &v["hashset"];
    assert_eq!(set["kind"], "generated");
    assert_eq!(set["seed"], 7);
    // 2000 random 256-bit hashes: no duplicates.
    assert_eq!(set["entries"], 2000);
    assert_eq!(set["representations"], serde_json::json!(["list", "bloom"]));
    let steps: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert!(steps.contains(&"image: PDQ lookup"), "{steps:?}");
    assert!(steps.contains(&"lookup: PDQ near an entry"), "{steps:?}");
    assert_rounded(&v);
    // A Bloom-only set has no entries to query near.
    let v = bench(&["--entries", "500", "--repr", "bloom", "--radius", "1"]);
    assert_eq!(v["hashset"]["bloom_radius"], 1);
    assert_eq!(
        v["hashset"]["representations"],
        serde_json::json!(["bloom"])
    );
    assert!(
        !v["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["step"] == "lookup: PDQ near an entry")
    );
}

#[test]
fn a_hash_set_file_is_measured_and_the_default_is_the_demo_set() {
    let v = bench(&[
        "--hashset",
        "hashsets/demo.hashset",
        "--issuer",
        "hashsets/demo-issuer.key.pub",
    ]);
    assert_eq!(v["hashset"]["kind"], "file");
    assert_eq!(v["hashset"]["path"], "hashsets/demo.hashset");
    assert_eq!(v["hashset"]["entries"], 9);
    assert_rounded(&v);
    let v = bench(&[]);
    assert_eq!(v["hashset"]["kind"], "demo");
    assert_eq!(
        v["image"],
        serde_json::json!({"path": "examples/images/benign/astronaut.jpg",
                           "bytes": std::fs::metadata(root().join("examples/images/benign/astronaut.jpg")).unwrap().len(),
                           "width": 512, "height": 512})
    );
    // --hashset needs the key that verifies it.
    Command::cargo_bin("cssim")
        .unwrap()
        .current_dir(root())
        .args(["bench", "--hashset", "hashsets/demo.hashset"])
        .assert()
        .code(2);
}

#[test]
fn the_binary_embeds_no_test_fixture() {
    // Release binaries carry shipped examples, never files under tests/
    // (unit-test modules, after a file's `#[cfg(test)]`, are not compiled in).
    for entry in walkdir::WalkDir::new(root().join("src")) {
        let entry = entry.unwrap();
        if entry.path().extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let shipped = text.split("#[cfg(test)]").next().unwrap_or("");
            for (i, line) in shipped.lines().enumerate() {
                let embeds = line.contains("include_bytes!") || line.contains("include_str!");
                assert!(
                    !(embeds && line.contains("tests/")),
                    "{}:{} embeds a test fixture: {line}",
                    entry.path().display(),
                    i + 1
                );
            }
        }
    }
}

#[test]
fn the_bench_runs_the_clients_scanner_under_the_given_policy() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "image_algorithms = [\"pdq\", \"phash\", \"sha256\"]\npdq_dihedral = true\n",
    )
    .unwrap();
    let v = bench(&["--policy", policy.to_str().unwrap()]);
    let steps: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    // Exactly the work the scanner does under this policy, in its order.
    assert_eq!(
        steps,
        [
            "text: normalise + SHA-256",
            "text: lookup",
            "text: seal",
            "text: total",
            "image: decode",
            "image: SHA-256",
            "image: SHA-256 lookup",
            "image: PDQ ×8 orientations",
            "image: PDQ lookup",
            "image: pHash",
            "image: pHash lookup",
            "image: seal",
            "image: total",
            "lookup: PDQ near an entry",
        ]
    );
    assert_eq!(v["near_entry_hits"], 5, "the near query hits in every run");
    // The image's total includes its seal in every run.
    let get = |name: &str| {
        v["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == name)
            .unwrap()["median_us"]
            .as_f64()
            .unwrap()
    };
    assert!(get("image: total") >= get("image: seal"));
    // A policy that does not parse is one error naming the file.
    std::fs::write(&policy, "image_algorithms = [\"nope\"]\n").unwrap();
    Command::cargo_bin("cssim")
        .unwrap()
        .current_dir(root())
        .args(["bench", "--runs", "5", "--policy"])
        .arg(&policy)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("policy.toml"));
}

/// `--csv`: the table's columns, then one row a step, the same steps as
/// `--json` (the timings differ from run to run, so only the shape is
/// pinned).
#[test]
fn csv_is_the_table_of_steps() {
    let out = Command::cargo_bin("cssim")
        .unwrap()
        .current_dir(root())
        .args([
            "bench",
            "--csv",
            "--runs",
            "5",
            "--entries",
            "500",
            "--seed",
            "7",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("STEP,MEDIAN,P99"));
    let steps: Vec<&str> = lines.map(|l| l.split(',').next().unwrap()).collect();
    let json = bench(&["--entries", "500", "--seed", "7"]);
    let expected: Vec<&str> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, expected);
}
