//! PDQ against Meta's reference, row by row.
//!
//! `tests/data/pdq/vectors.csv` was produced by `scripts/pdq_vectors.py` with
//! the PyPI `pdqhash` package (Python bindings of Meta's C++ reference) from
//! the committed images in `tests/data/pdq/images/`. The rule, as Meta states
//! it for implementations that decode differently:
//! - lossless inputs (PNG, BMP, GIF, lossless WebP) decode to identical
//!   pixels everywhere, so every hash, all eight dihedral hashes and the
//!   quality must be *equal*;
//! - lossy inputs (JPEG, lossy WebP) go through different decoders (libjpeg
//!   in PIL, zune-jpeg here), so where the reference quality is ≥ 80 the
//!   hashes must be within 10 bits.

use std::path::{Path, PathBuf};

use cssim::hash::decode::{Limits, decode};
use cssim::hash::pdq::{self, PdqHash};

struct Row {
    path: String,
    format: String,
    width: u32,
    height: u32,
    quality: u8,
    hashes: [PdqHash; 8],
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pdq")
}

fn rows() -> Vec<Row> {
    let csv = std::fs::read_to_string(data_dir().join("vectors.csv")).expect("vectors.csv");
    let mut lines = csv
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty());
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (c_path, c_w, c_h, c_q) = (col("path"), col("width"), col("height"), col("quality"));
    let c_format = col("format");
    let hash_cols: Vec<usize> = [
        "pdq",
        "rot90",
        "rot180",
        "rot270",
        "flipx",
        "flipy",
        "flipplus1",
        "flipminus1",
    ]
    .iter()
    .map(|n| col(n))
    .collect();
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Row {
                path: f[c_path].to_string(),
                format: f[c_format].to_string(),
                width: f[c_w].parse().expect("width"),
                height: f[c_h].parse().expect("height"),
                quality: f[c_q].parse().expect("quality"),
                hashes: std::array::from_fn(|i| PdqHash::from_hex(f[hash_cols[i]]).expect("hex")),
            }
        })
        .collect()
}

/// Whether every correct decoder gives the same pixels for this format.
fn is_lossless(format: &str) -> bool {
    match format {
        "png" | "gif" | "bmp" | "webp-lossless" => true,
        "jpeg" | "webp-lossy" => false,
        other => panic!("unknown format column '{other}'"),
    }
}

#[test]
fn every_reference_vector_holds() {
    let rows = rows();
    assert!(rows.len() >= 30, "only {} vectors", rows.len());
    let (mut exact, mut lossy_checked, mut lossy_skipped) = (0, 0, 0);
    let mut failures = Vec::new();
    for row in &rows {
        let bytes = std::fs::read(data_dir().join(&row.path))
            .unwrap_or_else(|e| panic!("{}: {e}", row.path));
        let img =
            decode(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{}: {e}", row.path));
        assert_eq!(
            img.dimensions(),
            (row.width, row.height),
            "{}: dimensions",
            row.path
        );
        let ours = pdq::hash_image_dihedral(&img);
        if is_lossless(&row.format) {
            exact += 1;
            if ours.quality.0 != row.quality {
                failures.push(format!(
                    "{}: quality {} != reference {}",
                    row.path, ours.quality, row.quality
                ));
            }
            for (i, (a, b)) in ours.hashes.iter().zip(&row.hashes).enumerate() {
                if a != b {
                    failures.push(format!(
                        "{}: {} {} != reference {} ({} bits)",
                        row.path,
                        pdq::Dihedral::NAMES[i],
                        a,
                        b,
                        a.distance(b)
                    ));
                }
            }
        } else if row.quality >= 80 {
            lossy_checked += 1;
            for (i, (a, b)) in ours.hashes.iter().zip(&row.hashes).enumerate() {
                let d = a.distance(b).0;
                if d > 10 {
                    failures.push(format!(
                        "{}: {} is {d} bits from the reference",
                        row.path,
                        pdq::Dihedral::NAMES[i]
                    ));
                }
            }
        } else {
            lossy_skipped += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(exact >= 20, "only {exact} lossless vectors");
    assert!(
        lossy_checked >= 4,
        "only {lossy_checked} lossy vectors with quality >= 80"
    );
    eprintln!(
        "{exact} exact, {lossy_checked} within 10 bits, {lossy_skipped} lossy below quality 80"
    );
}

#[test]
fn tiny_images_in_the_vectors_have_the_zero_hash() {
    let tiny: Vec<Row> = rows()
        .into_iter()
        .filter(|r| r.width < 5 || r.height < 5)
        .collect();
    assert!(!tiny.is_empty(), "the vectors include images under 5 px");
    for r in tiny {
        assert_eq!(r.quality, 0, "{}", r.path);
        assert_eq!(r.hashes[0], PdqHash::default(), "{}", r.path);
    }
}
