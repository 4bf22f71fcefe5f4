//! `cssim scenario` in `library` mode: the validity check of issue 13 §5
//! (the false-match count over a library equals what `cssim hashset check`
//! finds on the same files) and its bad input.

use crate::util::{cssim, root, stderr, stdout};

/// A library folder: the four benign examples, one listed stand-in (the
/// cat: it matches), and a file that is not an image (skipped, counted).
/// A set built from the listed stand-ins with `cssim hashset build`.
fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("library");
    std::fs::create_dir(&lib).unwrap();
    for f in ["astronaut", "camera", "hubble_deep_field", "seedlings"] {
        std::fs::copy(
            root().join(format!("examples/images/benign/{f}.jpg")),
            lib.join(format!("{f}.jpg")),
        )
        .unwrap();
    }
    std::fs::copy(
        root().join("examples/images/listed/cat.jpg"),
        lib.join("cat.jpg"),
    )
    .unwrap();
    std::fs::write(lib.join("notes.txt"), "not an image\n").unwrap();
    let key = dir.path().join("issuer.key");
    let o = cssim()
        .args(["keygen", "--issuer", "test", "-o"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = cssim()
        .args(["hashset", "build", "--from"])
        .arg(root().join("examples/images/listed"))
        .args(["--algo", "pdq,sha256", "--repr", "list", "--sign"])
        .arg(&key)
        .args(["--name", "t", "-o"])
        .arg(dir.path().join("set.hashset"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    dir
}

/// Every user shares every library image once, unedited (`order =
/// "cycle"`, as many images a day as the library holds).
fn scenario(users: u64, images: u32, library: &str) -> String {
    format!(
        "name = \"library-validity\"\nseed = 5\nreplicates = 2\n\n\
         [population]\nusers = {users}\ndays = 1\n\
         messages = {{ distribution = \"fixed\", mean = {images} }}\nimage_share = 1.0\n\n\
         [content]\nsource = \"library\"\nlibrary = \"{library}\"\norder = \"cycle\"\n\n\
         [hashset]\nfile = \"set.hashset\"\nissuer = \"issuer.key.pub\"\n\n\
         [policy]\nimage_algorithms = [\"pdq\", \"sha256\"]\n"
    )
}

fn total(v: &serde_json::Value, r: usize, name: &str) -> u64 {
    v["replicates"][r]["total"][name].as_u64().unwrap()
}

#[test]
fn false_matches_over_the_library_equal_what_hashset_check_finds() {
    let dir = fixture();
    let d = dir.path();
    // What `cssim hashset check` finds on the same files.
    let o = cssim()
        .args(["hashset", "check"])
        .arg(d.join("set.hashset"))
        .arg("--issuer")
        .arg(d.join("issuer.key.pub"))
        .arg(d.join("library"))
        .arg("--json")
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let checked = lines.iter().filter(|l| l.get("lookups").is_some()).count();
    let matched: Vec<String> = lines
        .iter()
        .filter(|l| {
            l["lookups"].as_array().is_some_and(|ls| {
                ls.iter()
                    .any(|x| !x["matches"].as_array().unwrap().is_empty())
            })
        })
        .map(|l| l["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(checked, 5, "{}", stdout(&o));
    assert_eq!(matched.len(), 1, "the cat is listed: {matched:?}");

    let users = 7;
    std::fs::write(d.join("s.toml"), scenario(users, 5, "library")).unwrap();
    let o = cssim()
        .args(["scenario", "run"])
        .arg(d.join("s.toml"))
        .arg("--out")
        .arg(d.join("out"))
        .arg("--cache")
        .arg(d.join("cache"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("out/results.json")).unwrap()).unwrap();
    let lib = &v["library"];
    assert_eq!(lib["files"], 6);
    assert_eq!(lib["decoded"], 5);
    assert_eq!(lib["skipped"].as_array().unwrap().len(), 1);
    let unedited: Vec<String> = lib["unedited_matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    assert_eq!(unedited, matched, "the same files match");
    // Each user shared each decoded image once: users × matching files.
    for r in 0..2 {
        assert_eq!(total(&v, r, "images"), users * 5);
        assert_eq!(total(&v, r, "false_matches"), users * matched.len() as u64);
    }
    assert!(
        v["content"]
            .as_str()
            .unwrap()
            .contains("6 files, 5 decoded, 1 skipped"),
        "{}",
        v["content"]
    );

    // A second run reads every hash from the cache and gives the same file.
    let o = cssim()
        .args(["scenario", "run"])
        .arg(d.join("s.toml"))
        .arg("--out")
        .arg(d.join("out2"))
        .arg("--cache")
        .arg(d.join("cache"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let w: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("out2/results.json")).unwrap()).unwrap();
    assert_eq!(w["library"]["hashes_computed"], 0);
    // Five images' PDQ for the benign senders, and the same five as the
    // candidates for listed items (no offenders.library): one key each.
    assert_eq!(w["library"]["hashes_cached"], 10);
    assert_eq!(w["replicates"], v["replicates"]);
}

#[test]
fn a_library_without_a_decodable_image_is_one_error_naming_the_field() {
    let dir = fixture();
    let d = dir.path();
    let empty = d.join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("a.txt"), "text").unwrap();
    std::fs::write(d.join("s.toml"), scenario(3, 2, "empty")).unwrap();
    let o = cssim()
        .args(["scenario", "run"])
        .arg(d.join("s.toml"))
        .arg("--out")
        .arg(d.join("out"))
        .arg("--no-cache")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(
        e.contains("field 'content.library'") && e.contains("has no decodable image"),
        "{e}"
    );
    assert!(!d.join("out/results.json").exists());
}

#[test]
fn offenders_share_listed_items_and_edits_decide_what_matches() {
    // The shipped example, at a smaller size: the benign photos never
    // match, listed items mostly do (crop:0.8 loses some).
    let text = std::fs::read_to_string(root().join("examples/scenarios/library.toml"))
        .unwrap()
        .replace("users = 20_000", "users = 2_000")
        .replace("days = 30", "days = 5")
        .replace("replicates = 10", "replicates = 2");
    let dir = tempfile::tempdir().unwrap();
    // Relative paths resolve against the scenario's folder: made absolute.
    let path = dir.path().join("library.toml");
    let text = text
        .replace(
            "\"../images/",
            &format!("\"{}/", root().join("examples/images").display()),
        )
        .replace(
            "\"../../hashsets/",
            &format!("\"{}/", root().join("hashsets").display()),
        )
        .replace(
            "\"../policies/",
            &format!("\"{}/", root().join("examples/policies").display()),
        );
    std::fs::write(&path, text).unwrap();
    let o = cssim()
        .args(["scenario", "run"])
        .arg(&path)
        .arg("--out")
        .arg(dir.path().join("out"))
        .arg("--no-cache")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/results.json")).unwrap())
            .unwrap();
    let lib = &v["library"];
    assert_eq!(lib["decoded"], 4);
    assert_eq!(lib["listed_items"], 3);
    assert_eq!(lib["unedited_matches"].as_array().unwrap().len(), 0);
    for r in 0..2 {
        assert_eq!(total(&v, r, "false_matches"), 0);
        let items = total(&v, r, "offender_items");
        let found = total(&v, r, "true_matches");
        assert!(
            items > 0 && found > 0 && found <= items,
            "{found} of {items}"
        );
        assert_eq!(found + total(&v, r, "evaded"), items);
    }
}
