//! Hash sets built from and checked against real images: PDQ below quality
//! 50 is left out, and an edited copy of a listed image is found.

use std::path::Path;

use image::{ImageFormat, RgbImage};
use predicates::prelude::*;

use crate::util::cssim;

/// A 0600 copy of the committed demo issuer key in `dir`: git checks the
/// file out 0644, and cssim refuses a secret key others may read.
fn private_demo_key(dir: &Path) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let key = dir.join("demo-issuer.key");
    std::fs::copy(root.join("hashsets/demo-issuer.key"), &key).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    key
}

#[test]
fn low_quality_images_are_left_out_and_edited_copies_match() {
    let dir = tempfile::tempdir().unwrap();
    let listed = dir.path().join("listed");
    std::fs::create_dir(&listed).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        root.join("examples/images/listed/cat.jpg"),
        listed.join("cat.jpg"),
    )
    .unwrap();
    RgbImage::from_pixel(200, 150, image::Rgb([90, 90, 90]))
        .save_with_format(listed.join("flat.png"), ImageFormat::Png)
        .unwrap();
    let key = dir.path().join("k.key");
    cssim()
        .args(["keygen", "--issuer", "test", "-o"])
        .arg(&key)
        .assert()
        .success();
    let set = dir.path().join("s.hashset");
    cssim()
        .args([
            "hashset", "build", "--algo", "pdq", "--repr", "list", "--seed", "1",
        ])
        .arg("--from")
        .arg(&listed)
        .arg("--sign")
        .arg(&key)
        .arg("-o")
        .arg(&set)
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"pdq\s+1 entries").unwrap());
    // A half-size copy of the cat: PDQ still finds it, within the threshold.
    let cat = image::open(listed.join("cat.jpg")).unwrap().to_rgb8();
    let small = image::imageops::resize(
        &cat,
        cat.width() / 2,
        cat.height() / 2,
        image::imageops::FilterType::Triangle,
    );
    let copy = dir.path().join("copy.png");
    small.save_with_format(&copy, ImageFormat::Png).unwrap();
    let out = cssim()
        .args(["hashset", "check", "--json"])
        .arg(&set)
        .arg("--issuer")
        .arg(key.with_extension("key.pub"))
        .arg(&copy)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = &v["lookups"][0]["matches"][0];
    assert!(m["distance"].as_u64().unwrap() <= 31, "{v}");
}

#[test]
fn the_shipped_demo_set_rebuilds_byte_for_byte() {
    // The command in hashsets/README.md (signing with a 0600 copy of the key,
    // as its `chmod 600` makes the committed file).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo.hashset");
    let key = private_demo_key(dir.path());
    cssim()
        .current_dir(root)
        .args([
            "hashset", "build", "--from", "examples/images/listed", "--algo", "pdq,phash,sha256",
            "--repr", "list,bloom", "--label", "stand-in",
            "--source", "cssim demo (innocuous CC0/PD photos)", "--seed", "1",
            "--created", "2026-11-25T00:00:00Z", "--expires", "2036-01-01T00:00:00Z", "--name", "demo", "--description",
            "Stand-in 'known material' for demos: three innocuous public-domain/CC0 photos (rocket, cat, coffee) from examples/images/listed/. Not real abuse material.",
            "-o",
        ])
        .arg(&out)
        .arg("--sign")
        .arg(&key)
        .assert()
        .success();
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(root.join("hashsets/demo.hashset")).unwrap(),
        "hashsets/demo.hashset no longer matches its documented build command"
    );
}
