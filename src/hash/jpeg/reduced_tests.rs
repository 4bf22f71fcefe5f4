//! PDQ's fast route at 1/2 scale (`jpeg::read_scaled`, the reduced inverse
//! DCT of `idct`): against box-downscaled full decodes, PDQ's distance from
//! the exact route, and damaged files.

use super::dc_tests::{committed_jpegs, read, root};
use crate::hash::{self, Algorithm, HashConfig, PdqRoute, decode, jpeg, thumbnail};

/// The fast route's choice of scale (`hash::pdq_fast_scale`).
fn fast_scale(side: u32) -> Option<jpeg::Scale> {
    hash::pdq_fast_scale(side)
}

fn fast() -> HashConfig {
    HashConfig {
        pdq_route: PdqRoute::Fast,
        ..HashConfig::default()
    }
}

/// Pillow's grey of the fully decoded, upright image, averaged over k × k
/// cells (the remainder rows and columns dropped), rounded.
fn box_grey(rgb: &image::RgbImage, k: u32) -> image::GrayImage {
    let grey = hash::luma(rgb);
    let (w, h) = (grey.width() / k, grey.height() / k);
    image::GrayImage::from_fn(w, h, |x, y| {
        let mut sum = 0u32;
        for dy in 0..k {
            for dx in 0..k {
                sum += u32::from(grey.get_pixel(x * k + dx, y * k + dy).0[0]);
            }
        }
        image::Luma([((sum + k * k / 2) / (k * k)) as u8])
    })
}

/// Sequential JPEGs that `image` 0.25 decodes wrongly (see `dc_tests`).
const MISDECODED_BY_IMAGE: [&str; 2] = [
    "baseline_420_noninterleaved_scans_coffee_317x229.jpg",
    "baseline_420_y_then_cbcr_scans_dri6b_astronaut_231x165.jpg",
];

#[test]
fn reduced_images_agree_with_box_downscaled_full_decodes() {
    // The 1/2-scale image at its own size (2 × 2-pixel cells), against
    // Pillow's grey of the full decode averaged over the same cells.
    // Tolerance: the reduced inverse DCT keeps only a block's n × n lowest
    // frequencies and samples them at each part's centre, where the box mean
    // averages all 64: on smooth content the two differ by rounding (Y
    // against Pillow's grey of the decoded RGB), at edges by more. Where an
    // EXIF flip runs along an odd side, the upright cells straddle two
    // samples and get their area-weighted mean, a little blur more.
    // Tolerance per file: mean absolute difference ≤ 3 levels (of 255) and
    // 95% of pixels within 8 (measured worst: mean 2.66, the EXIF-rotated
    // 141×203 file; 95th percentile 8, the EXIF-rotated 229×317 one). Single
    // pixels at sharp edges differ by up to 62, so no bound on the largest;
    // a wrong block, plane, orientation or scale gives tens of levels on
    // average.
    let mut read_reduced = [0usize; 2]; // under and over 256 px
    for path in committed_jpegs() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if MISDECODED_BY_IMAGE.contains(&name.as_str()) {
            continue;
        }
        let bytes = read(&path);
        let limits = decode::Limits::default();
        let Some(img) = jpeg::read_scaled(&bytes, &limits, fast_scale) else {
            continue;
        };
        let n = img.planes[0].samples_per_block;
        if n == 1 {
            continue;
        }
        let full = decode::decode(&bytes, &limits).expect("decodes");
        read_reduced[usize::from(img.width.min(img.height) >= 256)] += 1;
        let ours = thumbnail::y_cells(&img, 8 / n).expect("YCbCr or grey");
        // PDQ's input is the same samples, each spread over its 2 × 2 pixels.
        let spread = thumbnail::pdq_grey(&img, 64).expect("spread");
        assert_eq!(
            Some(&spread),
            thumbnail::y_cells(&img, 1).as_ref(),
            "{name}"
        );
        assert_eq!(spread.dimensions(), full.dimensions(), "{name}");
        let theirs = box_grey(&full, 8 / n);
        assert_eq!(ours.dimensions(), theirs.dimensions(), "{name}");
        let mut d: Vec<u8> = ours
            .as_raw()
            .iter()
            .zip(theirs.as_raw())
            .map(|(a, b)| a.abs_diff(*b))
            .collect();
        let mean = d.iter().map(|&v| f64::from(v)).sum::<f64>() / d.len() as f64;
        d.sort_unstable();
        let p95 = d[d.len() * 95 / 100];
        assert!(mean <= 3.0 && p95 <= 8, "{name}: mean {mean:.2}, p95 {p95}");
    }
    // The small structure fixtures, and the 256–511 px baseline photos.
    assert!(read_reduced[0] >= 10, "{read_reduced:?}");
    assert!(read_reduced[1] >= 8, "{read_reduced:?}");
}

/// Hamming distance between the fast and the exact route's PDQ of each
/// committed JPEG the fast route reads at 1/2 scale, as measured
/// (deterministic: the same bytes, the same arithmetic). Not the two
/// sequential files of several scans that `image` decodes wrongly.
const PINNED_DISTANCES: [(&str, u32); 19] = [
    ("seedlings.jpg", 2),
    ("cat.jpg", 2),
    ("coffee.jpg", 0),
    ("rocket.jpg", 0),
    ("baseline_411_h4v1_coffee_317x229.jpg", 2),
    ("baseline_420_dri1row_chelsea_203x141.jpg", 0),
    ("baseline_420_dri5b_nondividing_chelsea_203x141.jpg", 0),
    ("baseline_422_h2v1_astronaut_250x187.jpg", 2),
    ("baseline_440_h1v2_chelsea_203x141.jpg", 0),
    ("baseline_444_q95_astronaut_203x141.jpg", 4),
    ("exif_orient6_chelsea_stored_141x203.jpg", 4),
    ("exif_orient8_coffee_stored_229x317.jpg", 2),
    ("extended_sof1_q10_16bit_dqt_coffee_203x141.jpg", 0),
    ("jpeg_chelsea_exif_orient6.jpg", 2),
    ("jpeg_chelsea_q85_420.jpg", 2),
    ("jpeg_coffee_q50_420.jpg", 0),
    ("jpeg_coffee_q95_444.jpg", 2),
    ("jpeg_rocket_640x427.jpg", 2),
    ("jpeg_rocket_exif_orient3.jpg", 2),
];

#[test]
fn pdq_on_the_reduced_route_is_within_the_pinned_distances_of_exact_pdq() {
    let exact = HashConfig::default();
    let mut seen = Vec::new();
    for path in committed_jpegs() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = read(&path);
        let scale = jpeg::read_scaled(&bytes, &exact.limits, fast_scale)
            .map(|img| img.planes[0].samples_per_block);
        if scale != Some(4) || MISDECODED_BY_IMAGE.contains(&name.as_str()) {
            continue;
        }
        let f = hash::digest_bytes(&bytes, &[Algorithm::Pdq], &fast()).expect("fast route");
        let e = hash::digest_bytes(&bytes, &[Algorithm::Pdq], &exact).expect("exact route");
        if f.pdq_route != PdqRoute::Fast {
            // Read, but not YCbCr or grey (an RGB-coded file): decoded fully.
            assert_eq!(f.digests, e.digests, "{name}");
            continue;
        }
        assert_eq!(f.dimensions, e.dimensions, "{name}");
        let d = f.digests[0].distance(&e.digests[0]).unwrap().0;
        assert_eq!(f.pdq_quality, e.pdq_quality, "{name}");
        seen.push((name, d));
    }
    let pinned: Vec<(String, u32)> = PINNED_DISTANCES
        .iter()
        .map(|&(n, d)| (n.to_string(), d))
        .collect();
    assert_eq!(seen, pinned);
}

#[test]
fn damaged_baseline_jpegs_never_panic_the_reduced_reader() {
    // Every byte of the headers and the first 3,000 of the scan, and every
    // 7th after, of a baseline JPEG with restart markers set to two values:
    // the reader at 1/2 scale may refuse, never panic, and what it returns
    // always makes PDQ's image. Every truncation is refused (the scan's codes
    // run past its data).
    let bytes =
        read(&root().join("tests/data/jpeg/baseline_420_dri5b_nondividing_chelsea_203x141.jpg"));
    let limits = decode::Limits::default();
    let mut accepted = 0;
    for scale in [jpeg::Scale::Half] {
        for i in (0..bytes.len()).filter(|&i| i < 3600 || i % 7 == 0) {
            for v in [0xFF, bytes[i] ^ 0x10] {
                let mut damaged = bytes.clone();
                damaged[i] = v;
                if let Some(img) = jpeg::read_scaled(&damaged, &limits, |_| Some(scale)) {
                    accepted += 1;
                    assert!(thumbnail::pdq_grey(&img, 64).is_some(), "byte {i} = {v}");
                }
            }
        }
        for len in 0..bytes.len() - 1 {
            assert!(
                jpeg::read_scaled(&bytes[..len], &limits, |_| Some(scale)).is_none(),
                "cut at {len}"
            );
        }
    }
    assert!(
        accepted > 0,
        "some damage (in a quantiser, say) still reads"
    );
}

#[test]
fn files_the_reduced_reader_refuses_hash_as_the_exact_route_does() {
    // A truncated baseline file, a progressive one under 512 px (not read at
    // 1/4 or 1/2: see the module docs), one cut mid-scan, a tiny one and an
    // RGB-coded one: the fast route decodes them fully, so it gives the
    // exact route's hash or its one error line, and says it was exact.
    let dir = root().join("tests/data/jpeg");
    let baseline = read(&dir.join("baseline_420_dri5b_nondividing_chelsea_203x141.jpg"));
    let mut files: Vec<(String, Vec<u8>)> = [
        "truncated_baseline_420_dri2b_60pct_coffee_317x229.jpg",
        "progressive_420_dri7b_coffee_317x229.jpg",
        "progressive_gray_camera_250x187.jpg",
        "baseline_420_tiny_13x9_chelsea.jpg",
        "rgb_no_transform_chelsea_203x141.jpg",
    ]
    .iter()
    .map(|n| (n.to_string(), read(&dir.join(n))))
    .collect();
    for cut in [700, 2000, 5000, 8000] {
        files.push((format!("cut at {cut}"), baseline[..cut].to_vec()));
    }
    let mut errors = 0;
    for (name, bytes) in &files {
        assert!(
            jpeg::read_scaled(bytes, &decode::Limits::default(), fast_scale).is_none(),
            "{name}"
        );
        let f = hash::digest_bytes(bytes, &[Algorithm::Pdq], &fast());
        let e = hash::digest_bytes(bytes, &[Algorithm::Pdq], &HashConfig::default());
        match (&f, &e) {
            (Ok(f), Ok(e)) => {
                assert_eq!(f.pdq_route, PdqRoute::Exact, "{name}");
                assert_eq!(f.digests, e.digests, "{name}");
            }
            (Err(f), Err(e)) => {
                errors += 1;
                assert_eq!(f.to_string(), e.to_string(), "{name}");
                assert_eq!(f.to_string().lines().count(), 1, "{name}: {f}");
            }
            _ => panic!("{name}: the routes disagree: {f:?} against {e:?}"),
        }
    }
    assert!(errors >= 1, "the truncated files give an error");
}

#[test]
fn grey_to_rgb_is_images_own_conversion() {
    // The fast route's grey → RGB (for PDQ) against `image`'s, on every level
    // and an odd size.
    let grey = image::GrayImage::from_fn(257, 3, |x, y| image::Luma([((x + 7 * y) % 256) as u8]));
    assert_eq!(
        hash::grey_to_rgb(&grey),
        Some(image::DynamicImage::ImageLuma8(grey.clone()).into_rgb8())
    );
}
