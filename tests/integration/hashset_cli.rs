//! `cssim keygen` and `cssim hashset …` through the real binary: keys,
//! reproducible builds, verification, checking, interchange, and bad input
//! (non-zero exit, a clear message, no partial output file).

use std::fs;
use std::path::{Path, PathBuf};

use predicates::prelude::*;
use tempfile::TempDir;

use crate::util::{cssim, keygen};

const MD5_A: &str = "900150983cd24fb0d6963f7d28e17f72";

/// A folder with a key pair (`issuer.key`, `issuer.key.pub`) and three
/// "listed" files.
fn setup() -> (TempDir, PathBuf) {
    let dir = TempDir::new().unwrap();
    let key = dir.path().join("issuer.key");
    keygen(&key, "Test issuer");
    let listed = dir.path().join("listed");
    fs::create_dir(&listed).unwrap();
    for (name, body) in [("a.bin", "alpha"), ("b.bin", "bravo"), ("c.bin", "alpha")] {
        fs::write(listed.join(name), body).unwrap();
    }
    (dir, key)
}

fn build(dir: &Path, key: &Path, out: &str, extra: &[&str]) -> assert_cmd::assert::Assert {
    cssim()
        .args([
            "hashset",
            "build",
            "--algo",
            "sha256,md5",
            "--label",
            "demo",
            "--source",
            "tests",
        ])
        .args(["--created", "2025-06-01T00:00:00Z", "--name", "set"])
        .arg("--from")
        .arg(dir.join("listed"))
        .arg("--sign")
        .arg(key)
        .arg("-o")
        .arg(dir.join(out))
        .args(extra)
        .assert()
}

/// Files in `dir` (temporary files from failed writes would show up here).
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn keygen_writes_a_private_secret_and_refuses_to_overwrite() {
    let (dir, key) = setup();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let public = fs::read_to_string(dir.path().join("issuer.key.pub")).unwrap();
    assert!(public.starts_with("cssim-ed25519-public-v1\n"));
    assert!(public.contains("issuer: Test issuer"));
    cssim()
        .args(["keygen", "--issuer", "Other", "-o"])
        .arg(&key)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "already exists; refusing to overwrite",
        ));
}

#[test]
fn build_is_reproducible_and_counts_duplicates() {
    let (dir, key) = setup();
    build(dir.path(), &key, "one.hashset", &["--seed", "5"])
        .success()
        .stdout(predicate::str::contains("2 duplicates removed"));
    build(dir.path(), &key, "two.hashset", &["--seed", "5"]).success();
    let one = fs::read(dir.path().join("one.hashset")).unwrap();
    assert!(
        one == fs::read(dir.path().join("two.hashset")).unwrap(),
        "rebuild differs"
    );
    build(dir.path(), &key, "three.hashset", &["--seed", "6"]).success();
    assert!(
        one != fs::read(dir.path().join("three.hashset")).unwrap(),
        "seed ignored"
    );
}

#[test]
fn info_verify_and_a_wrong_key() {
    let (dir, key) = setup();
    build(dir.path(), &key, "set.hashset", &["--seed", "5"]).success();
    let set = dir.path().join("set.hashset");
    cssim()
        .args(["hashset", "info"])
        .arg(&set)
        .assert()
        .success()
        .stdout(predicate::str::contains("signature not verified"))
        .stdout(predicate::str::contains("sha256          2 entries"));
    let out = cssim()
        .args(["hashset", "info", "--json"])
        .arg(&set)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["manifest"]["name"], "set");
    assert_eq!(v["manifest"]["bloom"]["seed"], 5);
    assert!(
        v["signature"]
            .as_str()
            .unwrap()
            .starts_with("signature not verified")
    );
    cssim()
        .args(["hashset", "verify", "--issuer"])
        .arg(dir.path().join("issuer.key.pub"))
        .arg(&set)
        .assert()
        .success()
        .stdout(predicate::str::contains("OK:").and(predicate::str::contains("4 entries")));

    let other = dir.path().join("other.key");
    cssim()
        .args(["keygen", "--issuer", "Someone else", "-o"])
        .arg(&other)
        .assert()
        .success();
    cssim()
        .args(["hashset", "verify", "--issuer"])
        .arg(dir.path().join("other.key.pub"))
        .arg(&set)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("signature invalid"));
    // A secret key where a public one belongs is named as such.
    cssim()
        .args(["hashset", "verify", "--issuer"])
        .arg(&key)
        .arg(&set)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a secret key"));
}

#[test]
fn check_reports_matches_with_labels() {
    let (dir, key) = setup();
    build(dir.path(), &key, "set.hashset", &[]).success();
    let clean = dir.path().join("clean.bin");
    fs::write(&clean, "charlie").unwrap();
    cssim()
        .args(["hashset", "check", "--issuer"])
        .arg(dir.path().join("issuer.key.pub"))
        .arg(dir.path().join("set.hashset"))
        .arg(dir.path().join("listed/a.bin"))
        .arg(&clean)
        .assert()
        .success()
        .stdout(predicate::str::contains("a.bin\tsha256\t0\tdemo (tests)\t"))
        .stdout(predicate::str::contains("clean.bin\tno match"));
    let out = cssim()
        .args(["hashset", "check", "--json", "--issuer"])
        .arg(dir.path().join("issuer.key.pub"))
        .arg(dir.path().join("set.hashset"))
        .arg(dir.path().join("listed/b.bin"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["lookups"][0]["matches"][0]["label"]["category"], "demo");
}

#[test]
fn a_tampered_file_fails_check_without_output() {
    let (dir, key) = setup();
    build(dir.path(), &key, "set.hashset", &[]).success();
    let set = dir.path().join("set.hashset");
    let mut bytes = fs::read(&set).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    fs::write(&set, bytes).unwrap();
    cssim()
        .args(["hashset", "check", "--issuer"])
        .arg(dir.path().join("issuer.key.pub"))
        .arg(&set)
        .arg(dir.path().join("listed/a.bin"))
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("set.hashset: signature invalid"));
}

#[test]
fn bad_input_exits_non_zero_and_leaves_no_file() {
    let (dir, key) = setup();
    let before = names(dir.path());
    // A malformed hex line in a list: the line number is given.
    let list = dir.path().join("bad.md5");
    fs::write(&list, format!("{MD5_A}\n\n{}xx\n", &MD5_A[..30])).unwrap();
    let out = dir.path().join("out.hashset");
    cssim()
        .args([
            "hashset",
            "build",
            "--format",
            "md5",
            "--created",
            "2025-06-01T00:00:00Z",
            "--from",
        ])
        .arg(&list)
        .arg("--sign")
        .arg(&key)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.md5: line 3:"));
    // Zero entries.
    let empty = dir.path().join("empty.md5");
    fs::write(&empty, "# nothing here\n").unwrap();
    cssim()
        .args(["hashset", "build", "--format", "md5", "--from"])
        .arg(&empty)
        .arg("--sign")
        .arg(&key)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no entries"));
    // Mixed algorithms in one plain list.
    cssim()
        .args(["hashset", "import", "--format", "sha256"])
        .arg(&list)
        .arg("-o")
        .arg(dir.path().join("out.csv"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "line 1: a md5 hash in a sha256 list",
        ));
    // A bad option value.
    build(dir.path(), &key, "out.hashset", &["--fpr", "2"])
        .code(2)
        .stderr(predicate::str::contains("fpr: '2' is not between"));
    let mut expected = before;
    expected.extend(["bad.md5".to_string(), "empty.md5".to_string()]);
    expected.sort();
    assert_eq!(names(dir.path()), expected);
}

#[test]
fn import_then_build_then_export_round_trips() {
    let (dir, key) = setup();
    let pdq = dir.path().join("te.pdq");
    let a = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
    let b = "0000f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
    fs::write(&pdq, format!("hash,quality\n{a},100\n{b},40\n{a},90\n")).unwrap();
    let csv = dir.path().join("list.csv");
    cssim()
        .args(["hashset", "import", "--format", "pdq"])
        .arg(&pdq)
        .arg("-o")
        .arg(&csv)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("wrote 2 entries")
                .and(predicate::str::contains("1 duplicates dropped")),
        );
    assert!(
        fs::read_to_string(&csv)
            .unwrap()
            .starts_with("algorithm,hash,category,source\npdq,")
    );
    let set = dir.path().join("pdq.hashset");
    cssim()
        .args([
            "hashset",
            "build",
            "--repr",
            "list",
            "--label",
            "imported",
            "--created",
            "2025-06-01T00:00:00Z",
        ])
        .arg("--from")
        .arg(&csv)
        .arg("--sign")
        .arg(&key)
        .arg("-o")
        .arg(&set)
        .assert()
        .success();
    let back = dir.path().join("back.pdq");
    cssim()
        .args(["hashset", "export", "--format", "pdq", "--issuer"])
        .arg(dir.path().join("issuer.key.pub"))
        .arg(&set)
        .arg("-o")
        .arg(&back)
        .assert()
        .success();
    assert_eq!(fs::read_to_string(&back).unwrap(), format!("{b}\n{a}\n"));
}

#[test]
fn info_shows_version_and_expiry() {
    let (dir, key) = setup();
    let set = dir.path().join("set.hashset");
    build(
        dir.path(),
        &key,
        "set.hashset",
        &["--revision", "3", "--expires", "2099-01-01T00:00:00Z"],
    )
    .success()
    .stderr(predicate::str::is_empty());
    cssim()
        .args(["hashset", "info"])
        .arg(&set)
        .assert()
        .success()
        .stdout(predicate::str::starts_with(format!(
            "{}  set v3  created 2025-06-01T00:00:00Z\n",
            set.display()
        )))
        .stdout(predicate::str::contains(
            "\nexpires      2099-01-01T00:00:00Z\n",
        ));
    let out = cssim()
        .args(["hashset", "info", "--json"])
        .arg(&set)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], 3);
    assert_eq!(v["expires"], "2099-01-01T00:00:00Z");
    assert_eq!(v["expired"], false);
    assert_eq!(v["manifest"]["version"], 3);
    assert_eq!(v["manifest"]["expires"], "2099-01-01T00:00:00Z");
    cssim()
        .args(["hashset", "verify", "--issuer"])
        .arg(dir.path().join("issuer.key.pub"))
        .arg(&set)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "; set version 3, expires 2099-01-01T00:00:00Z; 4 entries\n",
        ));

    // Without --expires: version 1, no expiry.
    let plain = dir.path().join("plain.hashset");
    build(dir.path(), &key, "plain.hashset", &[]).success();
    cssim()
        .args(["hashset", "info"])
        .arg(&plain)
        .assert()
        .success()
        .stdout(predicate::str::starts_with(format!(
            "{}  set v1  created 2025-06-01T00:00:00Z\n",
            plain.display()
        )))
        .stdout(predicate::str::contains("\nexpires      no expiry\n"));
    let out = cssim()
        .args(["hashset", "info", "--json"])
        .arg(&plain)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["expires"], serde_json::Value::Null);
    assert_eq!(v["expired"], false);
    assert!(v["manifest"].get("expires").is_none(), "{v}");
}

#[test]
fn an_expired_set_fails_verify_and_check_but_can_be_inspected_and_exported() {
    let (dir, key) = setup();
    let set = dir.path().join("old.hashset");
    build(
        dir.path(),
        &key,
        "old.hashset",
        &["--expires", "2025-07-01T00:00:00Z"],
    )
    .success()
    .stderr("note: this set expired at 2025-07-01T00:00:00Z; clients will refuse it\n");
    cssim()
        .args(["hashset", "info"])
        .arg(&set)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "\nexpires      2025-07-01T00:00:00Z (expired: clients refuse it)\n",
        ));
    let out = cssim()
        .args(["hashset", "info", "--json"])
        .arg(&set)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["expired"], true);
    let pubkey = dir.path().join("issuer.key.pub");
    let expired = format!(
        "error: {}: expired at 2025-07-01T00:00:00Z (it is now ",
        set.display()
    );
    let tail = "): a client refuses an expired set; the issuer must publish a newer one\n";
    cssim()
        .args(["hashset", "verify", "--issuer"])
        .arg(&pubkey)
        .arg(&set)
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::starts_with(expired.clone()).and(predicate::str::ends_with(tail)));
    cssim()
        .args(["hashset", "check", "--issuer"])
        .arg(&pubkey)
        .arg(&set)
        .arg(dir.path().join("listed/a.bin"))
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::starts_with(expired).and(predicate::str::ends_with(tail)));
    cssim()
        .args(["hashset", "export", "--format", "md5", "--issuer"])
        .arg(&pubkey)
        .arg(&set)
        .arg("-o")
        .arg(dir.path().join("old.md5"))
        .assert()
        .success()
        .stdout(predicate::str::contains("wrote 2 entries"));
}

#[test]
fn build_refuses_a_bad_expiry_naming_the_flag() {
    let (dir, key) = setup();
    let before = names(dir.path());
    build(dir.path(), &key, "out.hashset", &["--expires", "next year"])
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(
            "error: --expires: 'next year' is not an RFC 3339 date-time like 2025-06-01T12:00:00Z\n",
        );
    build(
        dir.path(),
        &key,
        "out.hashset",
        &["--expires", "2025-05-31T23:59:59Z"],
    )
    .code(2)
    .stderr(
        "error: --expires: '2025-05-31T23:59:59Z' is not after the creation time \
         2025-06-01T00:00:00Z\n",
    );
    cssim()
        .args([
            "hashset",
            "build",
            "--created",
            "2025-02-30T00:00:00Z",
            "--from",
        ])
        .arg(dir.path().join("listed"))
        .arg("--sign")
        .arg(&key)
        .arg("-o")
        .arg(dir.path().join("out.hashset"))
        .assert()
        .code(2)
        .stderr(
            "error: --created: '2025-02-30T00:00:00Z' is not an RFC 3339 date-time like \
             2025-06-01T12:00:00Z\n",
        );
    assert_eq!(names(dir.path()), before);
}

#[test]
fn an_image_given_as_a_list_is_named_as_an_image() {
    let (dir, key) = setup();
    let image = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/images/benign/astronaut.jpg");
    cssim()
        .args(["hashset", "build", "--from"])
        .arg(&image)
        .arg("--sign")
        .arg(&key)
        .arg("-o")
        .arg(dir.path().join("x.hashset"))
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "astronaut.jpg: line 1: this is a Jpeg image, not a list of hashes: to hash images, pass the folder that holds them",
        ));
    assert!(!dir.path().join("x.hashset").exists());
}

#[test]
fn a_bad_hash_in_a_list_names_the_line_and_the_fault() {
    let (dir, key) = setup();
    let list = dir.path().join("l.csv");
    fs::write(&list, "algorithm,hash\nsha256,abc\nsha256,zz\n").unwrap();
    cssim()
        .args(["hashset", "build", "--from"])
        .arg(&list)
        .arg("--sign")
        .arg(&key)
        .arg("-o")
        .arg(dir.path().join("x.hashset"))
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "l.csv: line 2: 'abc' is not a hex digest: odd number of hex digits (3)",
        ));
}

/// An issuer secret key that group or others may read is refused when
/// signing, as identity keys are (issue 8.8): the message names the file
/// and the fix, and no hash set is written.
#[cfg(unix)]
#[test]
fn an_issuer_key_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, key) = setup();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let out = build(dir.path(), &key, "set.hashset", &[])
        .get_output()
        .clone();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("issuer.key: permissions 0644 are too open")
            && err.contains(&format!("chmod 600 {}", key.display())),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!dir.path().join("set.hashset").exists(), "nothing written");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    build(dir.path(), &key, "set.hashset", &[]).success();
}
