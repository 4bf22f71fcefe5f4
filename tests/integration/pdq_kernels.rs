//! PDQ's vectorised arithmetic against the scalar path it replaced, on the
//! same 50 images: generated shapes (thin, tiny, odd sizes, noise and smooth
//! gradients) and the committed photos and test images. Hashes, all eight
//! dihedral hashes and qualities must be equal — not close: both paths do the
//! reference's operations in the reference's order.

use std::path::Path;

use cssim::hash::decode::{Limits, decode};
use cssim::hash::pdq::{self, Kernel};
use image::RgbImage;

use crate::util;

/// Committed images, in a fixed order, skipping any over 4 MP (decoding
/// them in the debug profile would take most of the test's time).
fn committed(limit: usize) -> Vec<(String, RgbImage)> {
    let mut paths = Vec::new();
    for dir in ["examples/images", "tests/data"] {
        for entry in walkdir::WalkDir::new(util::root().join(dir)).sort_by_file_name() {
            let entry = entry.expect("walks");
            let p = entry.path();
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            if ["png", "jpg", "jpeg", "gif", "bmp", "webp"].contains(&ext) {
                paths.push(p.to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    for p in paths {
        let Ok(bytes) = std::fs::read(&p) else {
            continue;
        };
        let Ok(img) = decode(&bytes, &Limits::default()) else {
            continue; // deliberately broken test inputs
        };
        if u64::from(img.width()) * u64::from(img.height()) > 4_000_000 {
            continue;
        }
        out.push((rel(&p), img));
        if out.len() == limit {
            break;
        }
    }
    out
}

fn rel(p: &Path) -> String {
    p.strip_prefix(util::root())
        .unwrap_or(p)
        .display()
        .to_string()
}

fn generated() -> Vec<(String, RgbImage)> {
    let mut seed = 0x9E37_79B9u32;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    let sizes = [
        (5, 5),
        (6, 1000),
        (1000, 6),
        (63, 64),
        (65, 64),
        (64, 65),
        (127, 129),
        (333, 211),
        (640, 480),
        (1023, 17),
        (17, 1023),
        (800, 801),
        (257, 1537),
        (1920, 1080),
        (99, 7),
    ];
    sizes
        .iter()
        .enumerate()
        .map(|(i, &(w, h))| {
            let img = if i % 2 == 0 {
                RgbImage::from_fn(w, h, |_, _| {
                    let v = next();
                    image::Rgb([v as u8, (v >> 8) as u8, (v >> 16) as u8])
                })
            } else {
                RgbImage::from_fn(w, h, |x, y| {
                    let v = ((x * 7 + y * y / 3 + (next() % 9)) % 256) as u8;
                    image::Rgb([v, 255 - v, v / 3])
                })
            };
            (format!("generated {w}×{h}"), img)
        })
        .collect()
}

#[test]
fn vectorised_and_scalar_pdq_agree_bit_for_bit_on_50_images() {
    let mut images = generated();
    let want = 50 - images.len();
    images.extend(committed(want));
    assert_eq!(images.len(), 50, "50 images");
    let mut qualities = std::collections::BTreeSet::new();
    let mut hashes = std::collections::BTreeSet::new();
    for (name, img) in &images {
        let fast = pdq::hash_image_with(img, Kernel::Vectorised);
        let slow = pdq::hash_image_with(img, Kernel::Scalar);
        assert_eq!(fast, slow, "{name}");
        let fast8 = pdq::hash_image_dihedral_with(img, Kernel::Vectorised);
        let slow8 = pdq::hash_image_dihedral_with(img, Kernel::Scalar);
        assert_eq!(fast8, slow8, "{name}");
        qualities.insert(fast.quality.0);
        hashes.insert(fast.hash);
    }
    // The set is not degenerate: many different hashes, of several qualities.
    assert!(hashes.len() >= 40, "{} distinct hashes", hashes.len());
    assert!(qualities.len() >= 5, "qualities {qualities:?}");
}

/// `--pdq-route fast`: a large JPEG is hashed from its DC image, a baseline
/// one of 128–511 px from its 1/2-scale decode, and the JSON says so; a
/// progressive one under 512 px decodes fully and says nothing; the hash
/// stays near the exact one.
#[test]
fn fast_route_is_marked_and_near_the_exact_hash() {
    let large = "tests/data/pdq/images/jpeg_retina_1411.jpg";
    let mid = "tests/data/pdq/images/jpeg_chelsea_q85_420.jpg";
    let small = "tests/data/jpeg/progressive_420_dri7b_coffee_317x229.jpg";
    let run = |route: &str| -> Vec<serde_json::Value> {
        let out = util::cssim()
            .args([
                "hash",
                "--algo",
                "pdq",
                "--json",
                "--pdq-route",
                route,
                large,
                mid,
                small,
            ])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", util::stderr(&out));
        util::stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect()
    };
    let exact = run("exact");
    let fast = run("fast");
    assert!(exact.iter().all(|r| r.get("pdq_route").is_none()));
    assert_eq!(fast[0]["pdq_route"], "fast");
    assert_eq!(fast[1]["pdq_route"], "fast");
    assert!(
        fast[2].get("pdq_route").is_none(),
        "small progressive JPEG decodes fully"
    );
    assert_eq!(fast[2]["digests"]["pdq"], exact[2]["digests"]["pdq"]);
    let hash = |r: &serde_json::Value| {
        pdq::PdqHash::from_hex(r["digests"]["pdq"].as_str().expect("hex")).expect("PDQ hex")
    };
    let d = hash(&fast[0]).distance(&hash(&exact[0])).0;
    assert!(d <= 31, "DC route {d} bits from the exact hash");
    let d = hash(&fast[1]).distance(&hash(&exact[1])).0;
    assert!(d <= 8, "1/2-scale route {d} bits from the exact hash");
    // Same dimensions reported either way.
    assert_eq!(fast[0]["width"], exact[0]["width"]);
    assert_eq!(fast[1]["width"], exact[1]["width"]);

    let bad = util::cssim()
        .args(["hash", "--algo", "pdq", "--pdq-route", "quick", small])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        util::stderr(&bad).contains("unknown PDQ route 'quick' (expected exact or fast)"),
        "{}",
        util::stderr(&bad)
    );
}

#[test]
fn policy_pdq_route_is_read_and_checked() {
    use cssim::hash::PdqRoute;
    use cssim::scan::Policy;
    let p = Policy::parse("pdq_route = \"fast\"\n", Path::new("p.toml")).expect("parses");
    assert_eq!(p.pdq_route, PdqRoute::Fast);
    assert_eq!(Policy::default().pdq_route, PdqRoute::Exact);
    let err = Policy::parse("pdq_route = \"quick\"\n", Path::new("p.toml"))
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("pdq_route") && err.contains("\"exact\", \"fast\""),
        "{err}"
    );
}
