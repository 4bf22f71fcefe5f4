//! aHash, dHash and pHash against Python `imagehash` 4.3, row by row.
//!
//! `tests/data/imagehash/imagehash.csv` was produced by
//! `scripts/imagehash_vectors.py` (imagehash 4.3.2, Pillow 13.0.0, numpy,
//! scipy) from every committed image, as imagehash users call it:
//! `str(imagehash.phash(Image.open(path), hash_size))`, no EXIF transpose.
//! - lossless inputs (PNG, BMP, GIF, lossless WebP) decode to the same
//!   pixels in Pillow and here, so all six hashes (sizes 8 and 16) must be
//!   *equal*, hex for hex;
//! - lossy inputs (JPEG, lossy WebP) go through different decoders
//!   (libjpeg-turbo in Pillow, zune-jpeg here): measured, and bounded.

use std::path::Path;

use cssim::hash::{self, Algorithm, HashConfig, decode::Limits};

const ALGOS: [Algorithm; 3] = [Algorithm::Ahash, Algorithm::Dhash, Algorithm::Phash];

struct Row {
    path: String,
    lossless: bool,
    /// ahash, dhash, phash at size 8, then at size 16.
    hex: [String; 6],
}

fn rows() -> Vec<Row> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let csv = std::fs::read_to_string(root.join("tests/data/imagehash/imagehash.csv"))
        .expect("imagehash.csv");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("path,format,lossless,exif_orientation,ahash,dhash,phash,ahash16,dhash16,phash16")
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Row {
                path: f[0].to_string(),
                lossless: f[2] == "1",
                hex: std::array::from_fn(|i| f[4 + i].to_string()),
            }
        })
        .collect()
}

/// cssim's hex of the three algorithms at `size`, as imagehash sees the
/// file (no EXIF orientation).
fn ours(path: &str, size: u32) -> Vec<String> {
    let limits = Limits {
        exif_rotate: false,
        ..Limits::default()
    };
    let config = HashConfig::new(limits, size);
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let d = hash::digest_file(&file, &ALGOS, &config).unwrap_or_else(|e| panic!("{e}"));
    d.digests.iter().map(|d| d.to_hex()).collect()
}

fn bits_apart(a: &str, b: &str) -> u32 {
    let (a, b) = (hex_bytes(a), hex_bytes(b));
    assert_eq!(a.len(), b.len());
    a.iter().zip(&b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn lossless_files_hash_exactly_as_imagehash() {
    let rows: Vec<Row> = rows().into_iter().filter(|r| r.lossless).collect();
    assert_eq!(rows.len(), 45, "lossless rows in imagehash.csv");
    let mut wrong = Vec::new();
    for row in &rows {
        let got: Vec<String> = [8, 16].iter().flat_map(|&s| ours(&row.path, s)).collect();
        for (i, (g, want)) in got.iter().zip(&row.hex).enumerate() {
            if g != want {
                wrong.push(format!(
                    "{} {}{}: cssim {g}, imagehash {want}",
                    row.path,
                    ALGOS[i % 3],
                    if i < 3 { "" } else { "16" }
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn lossy_files_are_within_two_bits_of_imagehash() {
    // Measured when the vectors were made: of 21 JPEG / lossy WebP files ×
    // 6 hashes, 123 equal imagehash's, 3 are 2 bits apart.
    let mut equal = 0;
    let mut histogram = [0u32; 3];
    for row in rows().iter().filter(|r| !r.lossless) {
        let got: Vec<String> = [8, 16].iter().flat_map(|&s| ours(&row.path, s)).collect();
        for (g, want) in got.iter().zip(&row.hex) {
            let d = bits_apart(g, want);
            assert!(d <= 2, "{}: {g} vs imagehash {want}: {d} bits", row.path);
            histogram[d as usize] += 1;
            equal += usize::from(d == 0);
        }
    }
    assert_eq!(histogram, [123, 0, 3]);
    assert_eq!(equal, 123);
}

#[test]
fn the_issue_example_now_prints_imagehash_hex() {
    // camera.jpg aHash: imagehash `ffcf8f07071f1f1f`; cssim printed
    // `fff3f1e0e0f8f8f8` (img_hash's bits, every byte reversed) before.
    let out = assert_cmd::Command::cargo_bin("cssim")
        .unwrap()
        .args(["hash", "--algo", "ahash", "--json"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/images/benign/camera.jpg"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(line.contains(r#""ahash":"ffcf8f07071f1f1f""#), "{line}");
}

#[test]
fn a_hash_size_that_is_not_whole_bytes_is_refused() {
    let out = assert_cmd::Command::cargo_bin("cssim")
        .unwrap()
        .args(["hash", "--algo", "phash", "--hash-size", "6"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/images/benign/camera.jpg"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("not a multiple of 4"), "{err}");
}

#[test]
fn a_set_built_with_img_hash_values_is_refused_not_misread() {
    // The demo set as shipped before the classic hashes followed imagehash:
    // its pHash entries are img_hash's values, and its manifest records no
    // variant. Matching against it would give wrong distances silently.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = assert_cmd::Command::cargo_bin("cssim")
        .unwrap()
        .current_dir(root)
        .args([
            "hashset",
            "verify",
            "tests/data/imagehash/demo-built-with-img_hash.hashset",
            "--issuer",
            "hashsets/demo-issuer.key.pub",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err.trim_end(),
        "error: tests/data/imagehash/demo-built-with-img_hash.hashset: phash entries are \
         img_hash's values (the set was built before cssim followed imagehash 4.3), but this \
         cssim computes imagehash-4.3: distances would be wrong; rebuild the set from its \
         images (or import the list in imagehash's hex) with this cssim"
    );
}

#[test]
fn the_shipped_demo_set_records_the_imagehash_variant() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = assert_cmd::Command::cargo_bin("cssim")
        .unwrap()
        .current_dir(root)
        .args(["hashset", "info", "--json", "hashsets/demo.hashset"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(r#""variant":"imagehash-4.3""#), "{text}");
    for (set, variant) in [
        ("hashsets/demo.hashset", "variant imagehash-4.3"),
        (
            "tests/data/imagehash/demo-built-with-img_hash.hashset",
            "variant img_hash (built before imagehash 4.3: rebuild)",
        ),
    ] {
        let out = assert_cmd::Command::cargo_bin("cssim")
            .unwrap()
            .current_dir(root)
            .args(["hashset", "info", set])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let line = text.lines().find(|l| l.starts_with("phash")).unwrap();
        assert!(line.ends_with(variant), "{set}: {line}");
    }
}
