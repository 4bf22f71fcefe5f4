//! Scanning gaps a user finds in minutes (issue 9, items 11, 12, 13, 18, 19,
//! 21), through the real binary: a mirrored copy and `pdq_dihedral`, sets
//! built with non-default hashing matching in `send`, `hash` on mixed
//! inputs, `hashset check` on a non-match, `compare` on exact hashes, and one
//! convention for failures and paths under `--json`.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

use crate::util::{build_set, init_workspace, json_lines, keygen, root, send_json, stderr, stdout};

const LISTED: &str = "examples/images/listed/rocket.jpg";
const EXIF6: &str = "tests/data/jpeg/exif_orient6_chelsea_stored_141x203.jpg";
const CREATED: &str = "2025-06-01T00:00:00Z";

fn cssim() -> Command {
    let mut c = Command::cargo_bin("cssim").expect("binary");
    c.env("NO_COLOR", "1").current_dir(root());
    c
}

/// A workspace in a temporary folder.
fn workspace(dir: &TempDir) -> PathBuf {
    init_workspace(dir.path())
}

fn send(ws: &Path, attach: &Path) -> serde_json::Value {
    let attach = attach.to_str().expect("a UTF-8 path");
    send_json(ws, &["--attach", attach])
}

/// Rewrites one `key = value` line of the workspace's policy.
fn set_policy(ws: &Path, key: &str, value: &str) {
    let path = ws.join("policy.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut found = false;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with(&format!("{key} =")) {
                found = true;
                format!("{key} = {value}")
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(found, "no {key} in policy.toml:\n{text}");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn a_mirrored_copy_is_caught_in_send_only_with_pdq_dihedral() {
    let dir = TempDir::new().unwrap();
    let ws = workspace(&dir);
    let mirrored = dir.path().join("rocket-mirrored.png");
    image::open(root().join(LISTED))
        .unwrap()
        .fliph()
        .save(&mirrored)
        .unwrap();

    // The default policy: one lookup, the mirror image evades.
    let off = send(&ws, &mirrored);
    assert_eq!(off["verdict"]["action"], "allow", "{off}");
    assert_eq!(off["verdict"]["matches"].as_array().unwrap().len(), 0);

    set_policy(&ws, "pdq_dihedral", "true");
    let on = send(&ws, &mirrored);
    assert_eq!(on["verdict"]["action"], "report", "{on}");
    let matches = on["verdict"]["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1, "one entry, kept once: {on}");
    assert_eq!(matches[0]["algorithm"], "pdq");
    assert!(matches[0]["hit"]["distance"].as_u64().unwrap() <= 31);
    // Mirrored left to right is Meta's "flipy" (a flip about the y axis).
    assert_eq!(matches[0]["orientation"], "flipy");

    // The listed image itself still matches as it is, with no orientation.
    let same = send(&ws, &root().join(LISTED));
    assert_eq!(same["verdict"]["matches"][0]["hit"]["distance"], 0);
    assert!(same["verdict"]["matches"][0].get("orientation").is_none());

    // The human form names the orientation.
    let out = cssim()
        .env("CSSIM_WORKSPACE", &ws)
        .args(["send", "--from", "alice", "--to", "bob", "--attach"])
        .arg(&mirrored)
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("matched via pdq (turned flipy) at distance"),
        "{}",
        stdout(&out)
    );
}

/// A key pair in `dir`, and a set built from `from` with `extra` options,
/// installed as the workspace's hash set and issuer key.
fn install_set(dir: &TempDir, ws: &Path, from: &Path, extra: &[&str]) -> PathBuf {
    let key = dir.path().join("own.key");
    if !key.exists() {
        keygen(&key, "Own issuer");
    }
    let set = dir.path().join("own.hashset");
    let out = cssim()
        .args(["hashset", "build", "--label", "own", "--created", CREATED])
        .arg("--from")
        .arg(from)
        .arg("--sign")
        .arg(&key)
        .arg("-o")
        .arg(&set)
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::copy(&set, ws.join("hashsets/demo.hashset")).unwrap();
    std::fs::copy(
        dir.path().join("own.key.pub"),
        ws.join("hashsets/demo-issuer.key.pub"),
    )
    .unwrap();
    set
}

#[test]
fn a_set_built_without_exif_rotation_matches_in_send() {
    let dir = TempDir::new().unwrap();
    let ws = workspace(&dir);
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    let photo = photos.join("cat.jpg");
    std::fs::copy(root().join(EXIF6), &photo).unwrap();
    // The premise: upright and as stored, the photo's PDQ hashes differ.
    let pdq = |rotate: bool| {
        let mut config = cssim::hash::HashConfig::default();
        config.limits.exif_rotate = rotate;
        cssim::hash::digest_file(&photo, &[cssim::hash::Algorithm::Pdq], &config)
            .unwrap()
            .digests[0]
            .clone()
    };
    assert!(pdq(true).distance(&pdq(false)).unwrap().0 > 31);

    let set = install_set(&dir, &ws, &photos, &["--algo", "pdq", "--no-exif-rotate"]);
    let info = cssim()
        .args(["hashset", "info"])
        .arg(&set)
        .output()
        .unwrap();
    assert!(
        stdout(&info).contains("hashing      EXIF rotation off, JPEG DC route off\n"),
        "{}",
        stdout(&info)
    );
    let v = send(&ws, &photo);
    assert_eq!(v["verdict"]["action"], "report", "{v}");
    assert_eq!(v["verdict"]["matches"][0]["hit"]["distance"], 0);

    // hashset check hashes the same way, whatever its own options say.
    let out = cssim()
        .args(["hashset", "check", "--issuer"])
        .arg(dir.path().join("own.key.pub"))
        .arg(&set)
        .arg(&photo)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("\tpdq\t0\town\t"), "{}", stdout(&out));
    assert_eq!(stderr(&out), "", "no option said otherwise");
    let out = cssim()
        .args(["hashset", "check", "--jpeg-dc", "--issuer"])
        .arg(dir.path().join("own.key.pub"))
        .arg(&set)
        .arg(&photo)
        .output()
        .unwrap();
    assert!(stdout(&out).contains("\tpdq\t0\town\t"), "{}", stdout(&out));
    assert_eq!(
        stderr(&out),
        "note: hashing as the set was built (EXIF rotation off, JPEG DC route off); \
         the options that say otherwise are ignored\n"
    );
}

#[test]
fn a_set_of_256_bit_phashes_matches_in_send() {
    let dir = TempDir::new().unwrap();
    let ws = workspace(&dir);
    let listed = dir.path().join("listed");
    std::fs::create_dir(&listed).unwrap();
    std::fs::copy(root().join(LISTED), listed.join("rocket.jpg")).unwrap();
    install_set(
        &dir,
        &ws,
        &listed,
        &["--algo", "phash", "--hash-size", "16"],
    );
    // Every other field at its default.
    std::fs::write(ws.join("policy.toml"), "image_algorithms = [\"phash\"]\n").unwrap();
    let v = send(&ws, &root().join(LISTED));
    assert_eq!(v["verdict"]["action"], "report", "{v}");
    let m = &v["verdict"]["matches"][0];
    assert_eq!(
        (m["algorithm"].as_str(), m["hit"]["distance"].as_u64()),
        (Some("phash"), Some(0))
    );
    assert_eq!(m["digest"].as_str().unwrap().len(), 64, "a 256-bit hash");
}

#[test]
fn hash_computes_what_applies_and_says_what_was_skipped() {
    let dir = TempDir::new().unwrap();
    let note = dir.path().join("note.txt");
    std::fs::write(
        &note,
        "Meet at HTTPS://Example.com/Path and www.foo.org today",
    )
    .unwrap();
    let out = cssim()
        .args(["hash", "--json", "--algo", "pdq,sha256,text"])
        .arg(LISTED)
        .arg(&note)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    let (photo, text) = (&lines[0], &lines[1]);
    assert_eq!(photo["digests"]["pdq"].as_str().unwrap().len(), 64);
    assert!(photo["digests"]["sha256"].is_string());
    assert!(photo["digests"].get("text").is_none());
    assert_eq!(
        photo["skipped"]["text"],
        "not UTF-8 text (invalid byte at offset 0)"
    );
    assert_eq!(text["skipped"]["pdq"], "not an image");
    assert_eq!(
        text["digests"]["text"],
        cssim::hash::text::hash("meet at https://example.com/Path and www.foo.org today").to_hex()
    );
    let urls = text["urls"].as_array().unwrap();
    assert_eq!(urls.len(), 2, "{text}");
    assert_eq!(urls[0]["url"], "https://example.com/Path");
    assert_eq!(
        urls[0]["text"],
        cssim::hash::text::hash_url("https://example.com/Path").to_hex()
    );

    // The table: a row per URL, a row per skip.
    let out = cssim()
        .args(["hash", "--algo", "text"])
        .arg(&note)
        .output()
        .unwrap();
    let table = stdout(&out);
    assert!(table.contains("url https://example.com/Path"), "{table}");
    let out = cssim()
        .args(["hash", "--algo", "pdq,text"])
        .arg(LISTED)
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("skipped: not UTF-8 text (invalid byte at offset 0)"),
        "{}",
        stdout(&out)
    );
    // Nothing applies: an error, as before.
    cssim()
        .args(["hash", "--algo", "text"])
        .arg(LISTED)
        .assert()
        .code(1)
        .stderr(predicates::str::contains("not UTF-8 text"));
}

#[test]
fn under_json_a_failure_is_one_json_line_on_stdout_and_nothing_on_stderr() {
    let dir = TempDir::new().unwrap();
    let bad = dir.path().join("bad.jpg");
    std::fs::write(&bad, [0xFF, 0xD8, 0xFF, 0xE0, 0, 0]).unwrap();
    let key = dir.path().join("k");
    keygen(&key, "T");
    let set = dir.path().join("s.hashset");
    build_set(Path::new("examples/images/listed"), &key, &set, &[]);
    let check = |json: bool| {
        let mut c = cssim();
        c.args(["hashset", "check", "--issuer"])
            .arg(dir.path().join("k.pub"))
            .arg(&set)
            .arg(&bad)
            .arg(LISTED);
        if json {
            c.arg("--json");
        }
        c.output().unwrap()
    };
    let hash = |json: bool| {
        let mut c = cssim();
        c.args(["hash", "--algo", "pdq"]).arg(&bad).arg(LISTED);
        if json {
            c.arg("--json");
        }
        c.output().unwrap()
    };
    for out in [hash(true), check(true)] {
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(stderr(&out), "", "nothing on stderr under --json");
        let lines = json_lines(&out);
        assert_eq!(lines.len(), 2);
        let failures: Vec<_> = lines.iter().filter(|l| l.get("error").is_some()).collect();
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0]["path"], bad.to_string_lossy().as_ref());
        assert!(
            failures[0]["error"]
                .as_str()
                .unwrap()
                .contains("bad.jpg: corrupt or truncated JPEG"),
            "{}",
            failures[0]
        );
    }
    for out in [hash(false), check(false)] {
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("error: ") && err.contains("bad.jpg"),
            "{err}"
        );
        assert!(!stdout(&out).contains("bad.jpg"));
    }
}

#[test]
fn check_names_the_nearest_entry_of_a_non_match() {
    let dir = TempDir::new().unwrap();
    let key = dir.path().join("k");
    keygen(&key, "T");
    for (name, repr) in [("list.hashset", "list"), ("bloom.hashset", "bloom")] {
        cssim()
            .args(["hashset", "build", "--from", "examples/images/listed"])
            .args(["--created", CREATED, "--algo", "pdq,sha256", "--repr", repr])
            .arg("--sign")
            .arg(&key)
            .arg("-o")
            .arg(dir.path().join(name))
            .assert()
            .success();
    }
    let benign = "examples/images/benign/astronaut.jpg";
    // The true nearest distance, computed here from the listed photos.
    let config = cssim::hash::HashConfig::default();
    let pdq = |p: &str| {
        cssim::hash::digest_file(&root().join(p), &[cssim::hash::Algorithm::Pdq], &config)
            .unwrap()
            .digests[0]
            .clone()
    };
    let nearest = ["cat", "coffee", "rocket"]
        .iter()
        .map(|n| {
            pdq(&format!("examples/images/listed/{n}.jpg"))
                .distance(&pdq(benign))
                .unwrap()
                .0
        })
        .min()
        .unwrap();
    assert!(nearest > 31);
    let check = |set: &str, json: bool| {
        let mut c = cssim();
        c.args(["hashset", "check", "--issuer"])
            .arg(dir.path().join("k.pub"))
            .arg(dir.path().join(set))
            .arg(benign);
        if json {
            c.arg("--json");
        }
        c.output().unwrap()
    };
    let out = check("list.hashset", false);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        format!("{benign}\tno match\tpdq nearest {nearest} (threshold 31); sha256 not listed\n")
    );
    let v = &json_lines(&check("list.hashset", true))[0];
    assert_eq!(v["lookups"][0]["algorithm"], "pdq");
    assert_eq!(v["lookups"][0]["nearest"], nearest);
    assert!(
        v["lookups"][1].get("nearest").is_none(),
        "exact: no distance"
    );
    let out = check("bloom.hashset", false);
    assert_eq!(
        stdout(&out),
        format!(
            "{benign}\tno match\tpdq none within radius 0 (a Bloom filter cannot tell the nearest); sha256 not listed\n"
        )
    );
}

#[test]
fn compare_takes_a_threshold_and_reports_exact_hashes_as_equal_or_different() {
    let dir = TempDir::new().unwrap();
    let copy = dir.path().join("copy.png");
    image::open(root().join(LISTED))
        .unwrap()
        .save(&copy)
        .unwrap();
    let run = |extra: &[&str]| -> serde_json::Value {
        let out = cssim()
            .args(["compare", "--json", "--algo", "pdq,sha256"])
            .args(extra)
            .arg(LISTED)
            .arg(&copy)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let v = run(&[]);
    let rows = v["results"].as_array().unwrap();
    let pdq = &rows[0];
    let d = pdq["distance"].as_u64().unwrap();
    assert_eq!(
        (pdq["threshold"].as_u64(), pdq["match"].as_bool()),
        (Some(31), Some(d <= 31))
    );
    let sha = &rows[1];
    assert_eq!(sha["algorithm"], "sha256");
    assert_eq!(
        (sha["equal"].as_bool(), sha["match"].as_bool()),
        (Some(false), Some(false))
    );
    assert!(sha.get("distance").is_none() && sha.get("threshold").is_none());
    // A threshold below the distance turns the PDQ match off (the copy is a
    // PNG of a JPEG's pixels: PDQ distance small but not necessarily 0).
    let strict = run(&["--threshold", &d.saturating_sub(1).to_string()]);
    if d > 0 {
        assert_eq!(strict["results"][0]["match"], false);
    }
    assert_eq!(strict["results"][0]["threshold"], d.saturating_sub(1));
    // The table: "equal" / "different", no distance for exact hashes.
    let out = cssim()
        .args(["compare", "--algo", "sha256"])
        .arg(LISTED)
        .arg(LISTED)
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("sha256                -         -  equal"),
        "{}",
        stdout(&out)
    );
}

#[cfg(unix)]
#[test]
fn json_paths_that_are_not_utf8_are_lossy_everywhere() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = TempDir::new().unwrap();
    let key = dir.path().join("k");
    keygen(&key, "T");
    let set = dir.path().join(OsStr::from_bytes(b"set\xff.hashset"));
    build_set(Path::new("examples/images/listed"), &key, &set, &[]);
    let photo = dir.path().join(OsStr::from_bytes(b"caf\xe9.jpg"));
    std::fs::copy(root().join(LISTED), &photo).unwrap();

    let out = cssim()
        .args(["hashset", "info", "--json"])
        .arg(&set)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v = &json_lines(&out)[0];
    assert!(v["file"].as_str().unwrap().ends_with("set\u{FFFD}.hashset"));
    assert_eq!(
        v["hashing"],
        serde_json::json!({"exif_rotate": true, "jpeg_dc": false})
    );

    let out = cssim()
        .args(["hashset", "check", "--json", "--issuer"])
        .arg(dir.path().join("k.pub"))
        .arg(&set)
        .arg(&photo)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = &json_lines(&out)[0];
    assert!(v["path"].as_str().unwrap().ends_with("caf\u{FFFD}.jpg"));
    assert_eq!(v["lookups"][0]["matches"][0]["distance"], 0);
}
