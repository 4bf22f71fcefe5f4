//! `cssim eval rates`: the figures in results.json, the cache (a second run
//! computes nothing, one more edit computes only that edit, a corrupt cache
//! is recomputed) and bad input.

use std::path::Path;

use serde_json::Value;

use crate::util::{cssim, root, stderr, stdout};

/// `n` small distinct images (64×48 PNG, a different pattern each).
fn corpus(dir: &Path, n: u32) {
    std::fs::create_dir_all(dir).unwrap();
    for k in 0..n {
        let img = image::RgbImage::from_fn(64, 48, |x, y| {
            let v = ((x * (k + 1) * 7 + y * (k + 3) * 5 + (x * y * k) / 9) % 256) as u8;
            let w = (((x / (k % 5 + 2)) + (y / (k % 3 + 2))) % 2 * 200) as u8;
            image::Rgb([v, w, v.wrapping_add(w)])
        });
        img.save(dir.join(format!("img{k:02}.png"))).unwrap();
    }
}

fn run(corpus: &Path, out: &Path, cache: &Path, edits: &str) -> Value {
    let o = cssim()
        .args(["eval", "rates", "--corpus"])
        .arg(corpus)
        .args(["--edits", edits, "--out"])
        .arg(out)
        .arg("--cache")
        .arg(cache)
        .arg("--force")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap()
}

/// `cssim eval rates --no-cache --edits jpeg:70` on `corpus` into `out`,
/// whatever its exit status.
fn run_uncached(corpus: &Path, out: &Path) -> std::process::Output {
    cssim()
        .args([
            "eval",
            "rates",
            "--no-cache",
            "--edits",
            "jpeg:70",
            "--corpus",
        ])
        .arg(corpus)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn computed(v: &Value) -> u64 {
    v["stats"]["hashes_computed"].as_u64().unwrap()
}

#[test]
fn results_json_holds_every_pair_count_and_the_skipped_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = cssim()
        .args(["eval", "rates", "--corpus"])
        .arg(root().join("examples/images"))
        .args(["--edits", "jpeg:70;flip:h", "--list-size", "1000", "--out"])
        .arg(&out)
        .arg("--no-cache")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // SOURCES.md is not an image: skipped and listed, the run goes on.
    assert!(
        stderr(&o).contains("skipped") && stderr(&o).contains("SOURCES.md"),
        "{}",
        stderr(&o)
    );
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(v["tool"], "cssim eval rates");
    assert_eq!(v["command"][0], "cssim");
    assert_eq!(
        v["config"]["edits"],
        serde_json::json!(["jpeg:70", "flip:h"])
    );
    assert_eq!(v["corpus"]["images"], 7);
    assert!(
        v["corpus"]["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("not a supported image")
    );
    let algos = v["algorithms"].as_array().unwrap();
    let names: Vec<&str> = algos
        .iter()
        .map(|a| a["algorithm"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pdq", "phash", "dhash", "ahash"]);
    for a in algos {
        let bits = a["bits"].as_u64().unwrap();
        let imp = &a["impostor"];
        // 7 images: 21 distinct pairs, every one counted.
        assert_eq!(imp["pairs"], 21);
        let hist: Vec<u64> = serde_json::from_value(imp["histogram"].clone()).unwrap();
        assert_eq!(hist.len() as u64, bits + 1);
        assert_eq!(hist.iter().sum::<u64>(), 21);
        // No two of these photos match: the rate is a bound, never 0.
        assert_eq!(imp["false_match"]["events"], 0);
        assert_eq!(imp["false_match"]["text"], "< 0.13");
        let closest = imp["closest"].as_array().unwrap();
        assert_eq!(closest.len(), 20);
        let smallest = hist.iter().position(|&c| c > 0).unwrap() as u64;
        assert_eq!(closest[0]["distance"].as_u64().unwrap(), smallest);
        let genuine = a["genuine"].as_array().unwrap();
        assert_eq!(genuine.len(), 2);
        for g in genuine {
            assert_eq!(g["pairs"], 7);
        }
        // JPEG at 70 keeps every copy within the threshold; a mirror image
        // defeats every one of these hashes.
        assert_eq!(genuine[0]["detection"]["events"], 7, "{}", a["algorithm"]);
        assert_eq!(genuine[1]["detection"]["events"], 0, "{}", a["algorithm"]);
        assert_eq!(a["list"]["derived"], true);
        assert_eq!(a["list"]["entries"], 1000);
    }
    let curves = std::fs::read_to_string(out.join("curves.csv")).unwrap();
    assert!(curves.starts_with("algorithm,pairs,edit,threshold,n,matches,rate,lower,upper\n"));
    // One row per threshold: PDQ 257 × (impostor + 2 edits), the others 65 × 3 each.
    assert_eq!(curves.lines().count(), 1 + 257 * 3 + 3 * 65 * 3);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("data:image/png;base64,"));
    assert!(!html.contains("http://") || !html.contains("<script src"));
    assert!(
        stdout(&o).contains("pdq     31 impostor              21       0  < 0.13"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn the_cache_computes_only_what_is_new_and_recomputes_corrupt_records() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, out, cache) = (
        tmp.path().join("c"),
        tmp.path().join("o"),
        tmp.path().join("cache"),
    );
    corpus(&dir, 6);
    let algos = 4;
    let first = run(&dir, &out, &cache, "jpeg:70;resize:0.5");
    // 6 images × (original + 2 edits) × 4 algorithms.
    assert_eq!(computed(&first), 6 * 3 * algos);
    let second = run(&dir, &out, &cache, "jpeg:70;resize:0.5");
    assert_eq!(computed(&second), 0);
    assert_eq!(second["stats"]["hashes_cached"], 6 * 3 * algos);
    assert_eq!(first["algorithms"], second["algorithms"]);
    // One more edit: only its hashes are computed.
    let third = run(&dir, &out, &cache, "jpeg:70;resize:0.5;flip:h");
    assert_eq!(computed(&third), 6 * algos);
    // The originals come from the pixel cache, not decoded again.
    assert_eq!(third["stats"]["images_decoded"], 0);
    assert_eq!(third["stats"]["images_from_pixel_cache"], 6);
    assert_eq!(third["stats"]["edits_applied"], 6);
    // Corrupt two records (a flipped digit, a torn line): they are recomputed,
    // and the figures are the same.
    let file = cache.join(cssim::eval::cache::FILE_NAME);
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let l = &mut lines[3];
    let pos = l.len() - 20;
    let c = if &l[pos..pos + 1] == "0" { "1" } else { "0" };
    l.replace_range(pos..pos + 1, c);
    let last = lines.pop().unwrap();
    lines.push(last[..last.len() / 2].to_string());
    std::fs::write(&file, lines.join("\n")).unwrap();
    let fourth = run(&dir, &out, &cache, "jpeg:70;resize:0.5;flip:h");
    assert_eq!(computed(&fourth), 2);
    assert_eq!(fourth["stats"]["corrupt_cache_lines"], 2);
    assert_eq!(third["algorithms"], fourth["algorithms"]);
    // Damage every original's cached pixels (a flipped pixel, a cut-off
    // entry, garbage): each is decoded again, never trusted, and one more
    // edit gives the same figures as a run without the pixel cache.
    let pixels = cache.join(cssim::eval::cache::pixels::DIR_NAME);
    let mut entries: Vec<_> = std::fs::read_dir(&pixels)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    assert_eq!(entries.len(), 6);
    for (i, e) in entries.iter().enumerate() {
        let mut b = std::fs::read(e).unwrap();
        match i % 3 {
            0 => *b.last_mut().unwrap() ^= 1,
            1 => b.truncate(b.len() - 3),
            _ => b = b"not pixels".to_vec(),
        }
        std::fs::write(e, b).unwrap();
    }
    let edits = "jpeg:70;resize:0.5;flip:h;grayscale";
    let fifth = run(&dir, &out, &cache, edits);
    assert_eq!(fifth["stats"]["images_decoded"], 6);
    assert_eq!(fifth["stats"]["images_from_pixel_cache"], 0);
    let uncached = run(&dir, &out, &tmp.path().join("cache2"), edits);
    assert_eq!(fifth["algorithms"], uncached["algorithms"]);
    // The rewritten entries are trusted again.
    let sixth = run(&dir, &out, &cache, &format!("{edits};blur:1"));
    assert_eq!(sixth["stats"]["images_from_pixel_cache"], 6);
    assert_eq!(sixth["stats"]["images_decoded"], 0);
}

#[test]
fn an_existing_output_folder_is_refused_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, out) = (tmp.path().join("c"), tmp.path().join("o"));
    corpus(&dir, 3);
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    let o = run_uncached(&dir, &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("exists; pass --force to replace it"),
        "{}",
        stderr(&o)
    );
    assert!(out.join("keep.txt").exists());
}

#[test]
fn undecodable_files_are_skipped_and_one_image_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    corpus(&dir, 2);
    std::fs::write(
        dir.join("broken.jpg"),
        b"\xff\xd8\xff\xe0 not really a jpeg",
    )
    .unwrap();
    let o = run_uncached(&dir, &tmp.path().join("o1"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("skipped") && stderr(&o).contains("broken.jpg"),
        "{}",
        stderr(&o)
    );
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("o1/results.json")).unwrap())
            .unwrap();
    assert_eq!(v["corpus"]["images"], 2);
    assert!(
        v["corpus"]["skipped"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("broken.jpg")
    );
    std::fs::remove_file(dir.join("img01.png")).unwrap();
    let o = run_uncached(&dir, &tmp.path().join("o2"));
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(
        err.lines().filter(|l| l.contains("error")).count(),
        1,
        "{err}"
    );
    // The one error line names every skipped file and why it was skipped.
    assert!(
        err.contains("1 decodable image; at least 2 are needed; 1 file skipped: "),
        "{err}"
    );
    let line = err.lines().find(|l| l.contains("error")).unwrap();
    assert!(
        line.contains("broken.jpg (") && line.contains("JPEG"),
        "{line}"
    );
    assert!(!tmp.path().join("o2").exists());
}

#[test]
fn the_fast_pdq_route_applies_to_large_jpeg_originals_and_is_in_the_cache_key() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let images = root().join("examples/images");
    let rates = |route: &str, out: &str| -> Value {
        let out = tmp.path().join(out);
        let o = cssim()
            .args(["eval", "rates", "--algo", "pdq", "--edits", "jpeg:70"])
            .args(["--pdq-route", route, "--corpus"])
            .arg(&images)
            .arg("--cache")
            .arg(&cache)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap()
    };
    let exact = rates("exact", "exact");
    assert_eq!(computed(&exact), 14); // 7 originals + 7 copies
    assert_eq!(exact["stats"]["pdq_fast_route"], 0);
    assert_eq!(exact["config"]["pdq_route"], "exact");
    // The originals' PDQ is keyed on the route, so all 7 are hashed again;
    // astronaut and camera (512×512) and hubble_deep_field (600×523) are
    // JPEGs of at least 512 px, hashed from their DC images, and the other
    // four baseline JPEGs of 300–400 px from their 1/2-scale decodes. The
    // copies are pixels, hashed as before (from the cache).
    let fast = rates("fast", "fast");
    assert_eq!(computed(&fast), 7);
    assert_eq!(fast["stats"]["pdq_fast_route"], 7);
    assert_eq!(fast["config"]["pdq_route"], "fast");
    // From the cache, the route is still known.
    let again = rates("fast", "again");
    assert_eq!(computed(&again), 0);
    assert_eq!(again["stats"]["pdq_fast_route"], 7);
    assert_eq!(again["algorithms"], fast["algorithms"]);
    let bad = cssim()
        .args(["eval", "rates", "--pdq-route", "fastest", "--corpus"])
        .arg(&images)
        .arg("--out")
        .arg(tmp.path().join("bad"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("fastest"), "{}", stderr(&bad));
}

#[test]
fn set_measures_the_originals_against_a_signed_hash_set() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("issuer.key");
    let o = cssim()
        .args(["keygen", "--issuer", "Test issuer", "-o"])
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let set = tmp.path().join("listed.hashset");
    let o = cssim()
        .args(["hashset", "build", "--algo", "pdq", "--label", "demo"])
        .args(["--source", "tests", "--name", "listed"])
        .args(["--created", "2025-06-01T00:00:00Z", "--from"])
        .arg(root().join("examples/images/listed"))
        .arg("--sign")
        .arg(&key)
        .arg("-o")
        .arg(&set)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = tmp.path().join("out");
    let o = cssim()
        .args(["eval", "rates", "--algo", "pdq,phash", "--edits", "flip:h"])
        .arg("--set")
        .arg(&set)
        .arg("--issuer")
        .arg(tmp.path().join("issuer.key.pub"))
        .arg("--corpus")
        .arg(root().join("examples/images"))
        .args(["--no-cache", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    // The three listed photos are in the corpus: 3 of its 7 originals match
    // the set's 3 PDQ entries at T = 31, the four benign ones do not.
    let pdq = &v["algorithms"][0]["set"];
    assert_eq!(pdq["entries"], 3, "{pdq}");
    assert_eq!(pdq["threshold"], 31);
    assert_eq!(pdq["matched"]["events"], 3);
    assert_eq!(pdq["matched"]["trials"], 7);
    assert_eq!(v["config"]["set"], set.to_string_lossy().as_ref());
    // The set holds no pHash entries: nothing is claimed for pHash.
    assert!(v["algorithms"][1]["set"].is_null());
}
