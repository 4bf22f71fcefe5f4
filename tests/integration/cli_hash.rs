//! `cssim hash` and `cssim compare` on real files, good and bad: every bad
//! input gets one clear line naming the file, the batch goes on, and the exit
//! status says something failed.

use std::path::{Path, PathBuf};

use image::{ImageFormat, RgbImage};
use predicates::prelude::*;
use tempfile::TempDir;

use crate::util::cssim;

/// A smooth, non-flat test picture (so PDQ quality is high).
fn picture(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let v = ((x * 255 / w) ^ (y * 255 / h)) as u8;
        image::Rgb([v, v.wrapping_mul(3), 255 - v])
    })
}

fn save(img: &RgbImage, path: &Path, format: ImageFormat) {
    img.save_with_format(path, format).expect("write fixture");
}

/// A 60-byte PNG whose header declares `w`×`h` pixels (a decompression bomb's
/// shape), with valid CRCs and a tiny compressed stream.
fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (&b"IHDR"[..], &ihdr[..]),
        (b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]),
        (b"IEND", &[]),
    ] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(data);
        out.extend_from_slice(&chunk);
        out.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn good_png(&self, name: &str) -> PathBuf {
        let p = self.path(name);
        save(&picture(120, 90), &p, ImageFormat::Png);
        p
    }
}

fn stdout_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

#[test]
fn hashes_a_folder_as_json_lines_in_sorted_order() {
    let f = Fixture::new();
    f.good_png("b.png");
    save(&picture(64, 64), &f.path("a.jpg"), ImageFormat::Jpeg);
    std::fs::write(f.path("notes.txt"), "not an image").unwrap();
    let out = cssim()
        .args(["hash", "--json", "--algo", "pdq,sha256"])
        .arg(f.dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = stdout_lines(&out);
    assert_eq!(
        lines.len(),
        2,
        "notes.txt is skipped in folders for image algorithms"
    );
    assert!(lines[0]["path"].as_str().unwrap().ends_with("a.jpg"));
    assert_eq!(lines[1]["width"], 120);
    assert_eq!(lines[1]["digests"]["pdq"].as_str().unwrap().len(), 64);
    assert!(lines[1]["pdq_quality"].as_u64().unwrap() >= 50);
    let sha = cssim::hash::exact::sha256(&std::fs::read(f.path("b.png")).unwrap());
    assert_eq!(lines[1]["digests"]["sha256"], sha.to_hex());
}

#[test]
fn each_bad_file_gets_one_line_and_the_batch_continues() {
    let f = Fixture::new();
    let good = f.good_png("good.png");
    std::fs::write(f.path("empty.png"), b"").unwrap();
    let mut jpeg = Vec::new();
    picture(200, 150)
        .write_to(&mut std::io::Cursor::new(&mut jpeg), ImageFormat::Jpeg)
        .unwrap();
    std::fs::write(f.path("truncated.jpg"), &jpeg[..jpeg.len() / 3]).unwrap();
    std::fs::write(f.path("bomb.png"), png_bomb(100_000, 100_000)).unwrap();
    std::fs::write(f.path("text.jpg"), "hello, I am text").unwrap();
    std::os::unix::fs::symlink("/nonexistent/cssim-test", f.path("dangling.png")).unwrap();

    let out = cssim()
        .args(["hash", "--algo", "pdq"])
        .arg(f.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().collect();
    assert_eq!(errors.len(), 5, "one line per bad file:\n{stderr}");
    let line_for = |name: &str| {
        *errors
            .iter()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no line for {name}:\n{stderr}"))
    };
    assert!(line_for("empty.png").ends_with("empty file"));
    assert!(line_for("truncated.jpg").contains("corrupt or truncated JPEG"));
    assert!(line_for("bomb.png").contains("image too large: 100000×100000 pixels"));
    assert!(line_for("text.jpg").contains("not a supported image"));
    assert!(line_for("dangling.png").contains("no such file"));
    assert!(errors.iter().all(|l| l.starts_with("error: ")));
    // The good file is still hashed, and equals a run on it alone.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("good.png"));
    let alone = cssim()
        .args(["hash", "--algo", "pdq"])
        .arg(&good)
        .output()
        .unwrap();
    let digest_of = |s: &str| {
        s.lines()
            .find(|l| l.contains("good.png"))
            .map(|l| l.split_whitespace().nth(2).unwrap().to_string())
    };
    assert_eq!(
        digest_of(&stdout),
        digest_of(&String::from_utf8_lossy(&alone.stdout))
    );
}

#[test]
fn unreadable_file_is_reported() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    let p = f.good_png("locked.png");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&p).is_ok() {
        // Running as root: permissions do not stop reads, so nothing to test.
        return;
    }
    cssim()
        .args(["hash"])
        .arg(&p)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("locked.png: permission denied"));
}

#[test]
fn folder_without_images_is_an_error() {
    let f = Fixture::new();
    std::fs::write(f.path("readme.txt"), "no pictures here").unwrap();
    cssim()
        .arg("hash")
        .arg(f.dir.path())
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains(
            "no images found (looked for .png, .jpg",
        ));
    // With exact algorithms every file counts.
    cssim()
        .args(["hash", "--algo", "sha256"])
        .arg(f.dir.path())
        .assert()
        .code(0)
        .stdout(predicate::str::contains("readme.txt"));
}

#[test]
fn non_utf8_file_names_are_named_in_errors_and_output() {
    use std::os::unix::ffi::OsStrExt;
    let f = Fixture::new();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.png");
    let p = f.dir.path().join(name);
    save(&picture(80, 80), &p, ImageFormat::Png);
    std::fs::write(
        f.dir
            .path()
            .join(std::ffi::OsStr::from_bytes(b"bad\xff.png")),
        b"junk",
    )
    .unwrap();
    let out = cssim()
        .args(["hash", "--json", "--algo", "pdq"])
        .arg(f.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 2);
    assert!(
        lines
            .iter()
            .any(|l| l["path"].as_str().unwrap().ends_with("caf\u{FFFD}.png"))
    );
    assert!(lines.iter().any(|l| {
        l["error"]
            .as_str()
            .is_some_and(|e| e.contains("bad\u{FFFD}.png"))
    }));
}

#[test]
fn unknown_algorithm_is_a_usage_error() {
    cssim()
        .args(["hash", "--algo", "sha1", "x.png"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown algorithm 'sha1'"));
}

#[test]
fn compare_reports_a_resized_copy_as_a_match_and_another_picture_not() {
    let f = Fixture::new();
    let a = f.good_png("a.png");
    let small = image::imageops::resize(
        &picture(120, 90),
        60,
        45,
        image::imageops::FilterType::Triangle,
    );
    let b = f.path("b.png");
    save(&small, &b, ImageFormat::Png);
    let other = f.path("other.png");
    save(
        &RgbImage::from_fn(120, 90, |x, y| {
            image::Rgb([(x * y % 251) as u8, (x * 7) as u8, (y * 3) as u8])
        }),
        &other,
        ImageFormat::Png,
    );
    let run = |x: &Path, y: &Path| -> serde_json::Value {
        let out = cssim()
            .args(["compare", "--json"])
            .arg(x)
            .arg(y)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let row = |v: &serde_json::Value, algo: &str| {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["algorithm"] == algo)
            .cloned()
            .unwrap()
    };
    let same = run(&a, &b);
    assert_eq!(row(&same, "pdq")["match"], true, "{same}");
    assert_eq!(row(&same, "sha256")["match"], false);
    let diff = run(&a, &other);
    assert_eq!(row(&diff, "pdq")["match"], false, "{diff}");
    assert!(row(&diff, "pdq")["distance"].as_u64().unwrap() > 31);
    let self_cmp = run(&a, &a);
    // Exact hashes are equal or not: no Hamming distance.
    assert_eq!(row(&self_cmp, "sha256")["equal"], true);
    assert!(row(&self_cmp, "sha256").get("distance").is_none());
    assert_eq!(row(&self_cmp, "pdq-dihedral")["distance"], 0);
}

#[test]
fn a_closed_pipe_ends_quietly() {
    use std::io::Read;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pdq/images");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cssim"))
        .args(["hash", "--algo", "sha256"])
        .arg(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away at once
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn errors_are_one_line_without_repeated_causes() {
    let f = Fixture::new();
    let a = f.good_png("a.png");
    cssim()
        .arg("compare")
        .arg(&a)
        .arg(f.path("missing.png"))
        .assert()
        .code(2)
        .stderr(format!(
            "error: {}: no such file\n",
            f.path("missing.png").display()
        ));
    std::fs::write(f.path("bad.jpg"), b"\xFF\xD8\xFFtruncated").unwrap();
    let out = cssim()
        .arg("compare")
        .arg(&a)
        .arg(f.path("bad.jpg"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: ") && err.contains("bad.jpg: corrupt or truncated JPEG"),
        "{err}"
    );
}

#[test]
fn a_small_pixel_limit_is_stated_in_pixels() {
    // A limit under a million pixels once read "0 megapixels".
    let image = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/images/benign/astronaut.jpg");
    cssim()
        .args(["hash", "--algo", "pdq", "--max-pixels", "1000"])
        .arg(&image)
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "image too large: 512×512 pixels (limit 16384×16384 and 1000 pixels)",
        ));
}
