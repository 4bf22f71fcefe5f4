//! Pinned aHash / dHash / pHash values of committed images.
//!
//! These are cssim's own outputs (grey thumbnail + `img_hash` 3.x through
//! `image_hasher`), pinned so that an upgrade of either crate — or of the
//! decoders — that changes hashes is caught here rather than silently
//! invalidating hash sets built with an older version.
//!
//! JPEGs at least 512 px a side are hashed from their DC coefficients by
//! default (`HashConfig::jpeg_dc`); [`FULL_DECODE_PINS`] pins the same
//! images through a full decode, where the two routes differ.

use std::path::Path;

use cssim::hash::{self, Algorithm, HashConfig};

const PINS: &[(&str, &str, &str, &str)] = &[
    // path, ahash, dhash, phash
    (
        "examples/images/listed/cat.jpg",
        "414171d290c5ceef",
        "2a281a59d5f6e5e1",
        "adfa27628a84e87a",
    ),
    (
        "examples/images/listed/coffee.jpg",
        "fcfcfddd81018183",
        "cf9796cc68d0d86c",
        "ddc104ec33f06cec",
    ),
    (
        "examples/images/listed/rocket.jpg",
        "00000c1e1f3f3f3e",
        "0303030b0909098b",
        "03ecd837d827c8e6",
    ),
    (
        "examples/images/benign/astronaut.jpg",
        "fefefee3221f0b0a",
        "b3b19bb8914ec9e5",
        "434932ba4cbdbb13",
    ),
    (
        "tests/data/pdq/images/jpeg_seeding_5312x2988_16mp.jpg",
        "fffe9eae04000000",
        "9f0b8597935a6ec2",
        "c153b9d951351756",
    ),
    (
        "tests/data/pdq/images/jpeg_hubble_1000x872.jpg",
        "1c5e464fe9747d34",
        "064b5325ac2b061a",
        "2333d2395db2c47c",
    ),
    (
        "examples/images/benign/camera.jpg",
        "fff3f1e0e0f8f8f8",
        "0a593cfe3dae3637",
        "fd8f8303c272313d",
    ),
    (
        "tests/data/pdq/images/png_seeding_1920x1080.png",
        "fffe9eae04000000",
        "9f0b8597935a6ec2",
        "c353b99951351756",
    ),
    (
        "tests/data/pdq/images/photo_chelsea_451x300.png",
        "414171d290c5ceef",
        "2a281a59d5f6e5e1",
        "adfa27628a84e87a",
    ),
    (
        "tests/data/pdq/images/rgba_horse_400x328.png",
        "bf1f81c0c0dcdfff",
        "93844ce066466e6e",
        "b55e4b416cacb92c",
    ),
    (
        "tests/data/pdq/images/gen_shapes_400x300.png",
        "ffdf8f9f99f70101",
        "344acacdcc31b24c",
        "b783684932eca7b4",
    ),
    (
        "tests/data/pdq/images/png16_rgb_coffee.png",
        "fcfcfddd81018183",
        "cf9796cc68d0d86c",
        "ddc104ec33f06cec",
    ),
];

/// JPEGs of [`PINS`] whose hashes differ when decoded fully: a star field
/// (stars inside a block are spread over it; the full decode clamps the dark
/// ringing around them at 0) and the 512-px astronaut (one cell edge).
const FULL_DECODE_PINS: &[(&str, &str, &str, &str)] = &[
    (
        "examples/images/benign/astronaut.jpg",
        "fefefee3221f090a",
        "b3b19bb8914ec9e5",
        "434932ba4cfdbb03",
    ),
    (
        "tests/data/pdq/images/jpeg_hubble_1000x872.jpg",
        "1c5e060fe9745d34",
        "064b5325ac2a241a",
        "2133d2395df2c47c",
    ),
];

#[test]
fn classic_hashes_are_pinned() {
    check_pins(PINS, &HashConfig::default());
}

#[test]
fn classic_hashes_of_fully_decoded_jpegs_are_pinned() {
    let mut config = HashConfig::default();
    config.jpeg_dc = false;
    check_pins(FULL_DECODE_PINS, &config);
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
