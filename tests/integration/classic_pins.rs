//! Pinned aHash / dHash / pHash values of committed images.
//!
//! These are cssim's own outputs, pinned so that an upgrade of a decoder that
//! changes hashes is caught here rather than silently invalidating hash sets
//! built with an older version. The PNGs' values are imagehash 4.3's too
//! (`tests/integration/imagehash_vectors.rs` checks every lossless file against it); the
//! JPEGs' are what cssim's decoder gives, which `tests/integration/imagehash_vectors.rs`
//! bounds against imagehash's.
//!
//! [`DC_PINS`] pins the opt-in JPEG-DC route (`HashConfig::jpeg_dc`) on the
//! JPEGs large enough for it where it differs from a full decode.

use std::path::Path;

use cssim::hash::{self, Algorithm, HashConfig};

const PINS: &[(&str, &str, &str, &str)] = &[
    // path, ahash, dhash, phash (full decode, the default)
    (
        "examples/images/listed/cat.jpg",
        "82808e4b09a373e7",
        "5414589aab6fa785",
        "b15fe6465121175e",
    ),
    (
        "examples/images/listed/coffee.jpg",
        "3f3fbfbb818081c3",
        "f3e96933160b1b36",
        "bb8320376c0f3637",
    ),
    (
        "examples/images/listed/rocket.jpg",
        "00002078f8fcfc7c",
        "e0c0c090909090d1",
        "c0371bec1be51267",
    ),
    (
        "examples/images/benign/astronaut.jpg",
        "7f7f7fc744f8d050",
        "cd8dd91d897293a7",
        "c2924c5532bddfc8",
    ),
    (
        "tests/data/pdq/images/jpeg_seeding_5312x2988_16mp.jpg",
        "ff7f797520000000",
        "f9d0a1e9c95a7643",
        "c3ca9d9d8aa4e86a",
    ),
    (
        "tests/data/pdq/images/jpeg_hubble_1000x872.jpg",
        "387a60f0970e980c",
        "60d6caa435546058",
        "84cc4b96ba4d333e",
    ),
    (
        "examples/images/benign/camera.jpg",
        "ffcf8f07071f1f1f",
        "509a3c7fbc756cec",
        "bff1c1c0434e8cbc",
    ),
    (
        "tests/data/pdq/images/png_seeding_1920x1080.png",
        "ff7f797520000000",
        "f9d0a1e9c95a7643",
        "c3ca9d9d8aa4e86a",
    ),
    (
        "tests/data/pdq/images/photo_chelsea_451x300.png",
        "82808e4b09a373e7",
        "5414589aab6fa785",
        "b15fe6465121175e",
    ),
    (
        "tests/data/pdq/images/rgba_horse_400x328.png",
        "fdf88103033bfbff",
        "8921320766627676",
        "ad7ad2863235b534",
    ),
    (
        "tests/data/pdq/images/gen_shapes_400x300.png",
        "fffbe1f999ef8480",
        "2c5253b3338c4d33",
        "edc116924c73e52d",
    ),
    (
        "tests/data/pdq/images/png16_rgb_coffee.png",
        "3f3fbfbb818081c3",
        "f3e96933160b1b36",
        "bb8320376c0f3637",
    ),
    (
        "examples/images/benign/seedlings.jpg",
        "ff7f797520000000",
        "f9d0a1e9c95a7643",
        "c3ca9d9d8aa4e86a",
    ),
];

/// The JPEG-DC route (`--jpeg-dc`) on the large JPEGs where it differs from
/// the full decode (by 1 or 2 bits in one or two algorithms).
const DC_PINS: &[(&str, &str, &str, &str)] = &[
    (
        "examples/images/benign/hubble_deep_field.jpg",
        "387a60f09706980c",
        "62d2caa435546458",
        "84cc4b96ba4d333e",
    ),
    (
        "tests/data/pdq/images/jpeg_seeding_5312x2988_16mp.jpg",
        "ff7f797520000000",
        "f9d0a1e9c95a7643",
        "c3ca9d998aace86a",
    ),
    (
        "tests/data/pdq/images/jpeg_hubble_1000x872.jpg",
        "387a60f0970e980c",
        "60d6caa435d46458",
        "84cc4b96ba4d333e",
    ),
    (
        "tests/data/pdq/images/jpeg_retina_1411.jpg",
        "187e7efffe7e7e00",
        "f0c4828888c2c4f0",
        "c0cc1f977ae02d0f",
    ),
];

#[test]
fn classic_hashes_are_pinned() {
    check_pins(PINS, &HashConfig::default());
}

#[test]
fn classic_hashes_through_jpeg_dc_coefficients_are_pinned() {
    let mut config = HashConfig::default();
    config.jpeg_dc = true;
    check_pins(DC_PINS, &config);
}

fn check_pins(pins: &[(&str, &str, &str, &str)], config: &HashConfig) {
    let algos = [Algorithm::Ahash, Algorithm::Dhash, Algorithm::Phash];
    let mut changed = Vec::new();
    for (path, ahash, dhash, phash) in pins {
        let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        let d = hash::digest_file(&full, &algos, config).expect("hashes");
        for (digest, want) in d.digests.iter().zip([ahash, dhash, phash]) {
            if digest.to_hex() != *want {
                changed.push(format!(
                    "{path} {}: {} (pinned {want})",
                    digest.algorithm(),
                    digest.to_hex()
                ));
            }
        }
    }
    assert!(
        changed.is_empty(),
        "classic hashes changed:\n{}",
        changed.join("\n")
    );
}

#[test]
fn a_small_jpeg_copy_hashes_like_its_large_png_original() {
    // The demo's seedlings JPEG (≤ 600 px) and the 1920×1080 PNG are the same
    // photo: the classic hashes see no difference at 64 bits.
    let config = HashConfig::default();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let algos = [Algorithm::Phash];
    let a = hash::digest_file(
        &root.join("examples/images/benign/seedlings.jpg"),
        &algos,
        &config,
    )
    .unwrap();
    let b = hash::digest_file(
        &root.join("tests/data/pdq/images/png_seeding_1920x1080.png"),
        &algos,
        &config,
    )
    .unwrap();
    assert_eq!(
        a.digests[0].distance(&b.digests[0]),
        Some(hash::Distance(0))
    );
}
