//! The classic hashes' JPEG route: thumbnails from DC coefficients
//! (`crate::hash::jpeg`) against thumbnails from fully decoded pixels.

use std::path::{Path, PathBuf};

use crate::hash::{self, Algorithm, HashConfig, decode, jpeg, thumbnail};
use image::metadata::Orientation;

const ORIENTATIONS: [Orientation; 8] = [
    Orientation::NoTransforms,
    Orientation::Rotate90,
    Orientation::Rotate180,
    Orientation::Rotate270,
    Orientation::FlipHorizontal,
    Orientation::FlipVertical,
    Orientation::Rotate90FlipH,
    Orientation::Rotate270FlipH,
];

pub(super) fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every committed JPEG, sorted.
pub(super) fn committed_jpegs() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = [
        "tests/data/pdq/images",
        "tests/data/jpeg",
        "examples/images/benign",
        "examples/images/listed",
    ]
    .iter()
    .flat_map(|d| std::fs::read_dir(root().join(d)).expect("test data folder"))
    .map(|e| e.expect("folder entry").path())
    .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
    .collect();
    files.sort();
    files
}

pub(super) fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Mean and largest absolute difference of two thumbnails of equal size.
fn difference(a: &image::GrayImage, b: &image::GrayImage) -> (f64, u8) {
    assert_eq!(a.dimensions(), b.dimensions());
    let d: Vec<u8> = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| x.abs_diff(*y))
        .collect();
    let mean = d.iter().map(|&v| f64::from(v)).sum::<f64>() / d.len() as f64;
    (mean, d.iter().copied().max().unwrap_or(0))
}

/// Sequential JPEGs with more than one scan, which `image` 0.25 (zune-jpeg
/// 0.5.15) decodes wrongly without an error (upstream issues 419 and 448 of
/// zune-image); libjpeg-turbo and the DC reader agree on them (see
/// `dc_images_match_libjpeg_turbo_on_every_structure`).
const MISDECODED_BY_IMAGE: [&str; 2] = [
    "baseline_420_noninterleaved_scans_coffee_317x229.jpg",
    "baseline_420_y_then_cbcr_scans_dri6b_astronaut_231x165.jpg",
];

#[test]
fn block_aligned_dc_thumbnails_equal_full_decodes_to_rounding() {
    // With 8-px cells and no orientation, a cell is one block, and its DC
    // mean differs from the decoded block's mean only by the decoder's
    // rounding and clamping.
    let limits = decode::Limits {
        exif_rotate: false,
        ..decode::Limits::default()
    };
    let mut read_by_dc = 0;
    for path in committed_jpegs() {
        if MISDECODED_BY_IMAGE.iter().any(|n| path.ends_with(n)) {
            continue;
        }
        let bytes = read(&path);
        let Some(dc) = jpeg::read(&bytes, &limits, 0) else {
            continue;
        };
        if dc.width.min(dc.height) < 64 {
            continue; // 8-px cells need a shorter side of at least 64
        }
        read_by_dc += 1;
        let full = decode::decode(&bytes, &limits).expect("decodes");
        assert_eq!(
            (dc.width, dc.height),
            full.dimensions(),
            "{}",
            path.display()
        );
        let min_side = dc.width.min(dc.height) / 8;
        let ours = thumbnail::from_dc(&dc, min_side).expect("cells of 8 px");
        let (mean, max) = difference(&ours, &thumbnail::from_rgb(&full, min_side));
        assert!(
            mean <= 1.0 && max <= 8,
            "{}: mean {mean:.2}, max {max}",
            path.display()
        );
    }
    assert!(read_by_dc >= 15, "only {read_by_dc} JPEGs read by DC");
}

#[test]
fn every_orientation_maps_cells_as_the_full_decode_does() {
    // 451×300: neither side a multiple of 8, so a mapping that is off by the
    // partial block, or swaps the wrong axis, shows.
    let bytes = read(&root().join("tests/data/pdq/images/jpeg_chelsea_q85_420.jpg"));
    let limits = decode::Limits {
        exif_rotate: false,
        ..decode::Limits::default()
    };
    let stored = decode::decode(&bytes, &limits).unwrap();
    let upright = |o: Orientation| {
        let mut img = image::DynamicImage::ImageRgb8(stored.clone());
        img.apply_orientation(o);
        img.to_rgb8()
    };
    for o in ORIENTATIONS {
        let mut dc = jpeg::read(&bytes, &limits, 0).unwrap();
        dc.orientation = o;
        assert_eq!(dc.oriented_dimensions(), upright(o).dimensions(), "{o:?}");
        for min_side in [37, 33] {
            // k = 8 and k = 9
            let ours = thumbnail::from_dc(&dc, min_side).unwrap();
            for other in ORIENTATIONS {
                let theirs = thumbnail::from_rgb(&upright(other), min_side);
                if theirs.dimensions() != ours.dimensions() {
                    continue;
                }
                let (mean, _) = difference(&ours, &theirs);
                if other == o {
                    assert!(mean <= 5.0, "{o:?} k={}: mean {mean:.2}", 300 / min_side);
                } else {
                    assert!(mean >= 10.0, "{o:?} looks like {other:?}: mean {mean:.2}");
                }
            }
        }
    }
}

#[test]
fn small_jpegs_are_decoded_fully() {
    // 451×300 is under 512 px: 8-px cells would be finer than the DC image.
    let bytes = read(&root().join("tests/data/pdq/images/jpeg_chelsea_q85_420.jpg"));
    let dc = jpeg::read(&bytes, &decode::Limits::default(), 0).unwrap();
    assert!(thumbnail::from_dc(&dc, 64).is_none());
    // The reader stops at the frame header when told the image is too small.
    assert!(jpeg::read(&bytes, &decode::Limits::default(), 512).is_none());
    assert!(jpeg::read(&bytes, &decode::Limits::default(), 300).is_some());
}

#[test]
fn both_routes_give_classic_hashes_within_four_bits() {
    let algos = [Algorithm::Ahash, Algorithm::Dhash, Algorithm::Phash];
    let fast = HashConfig {
        jpeg_dc: true,
        ..HashConfig::default()
    };
    let full = HashConfig::default();
    let mut identical = 0;
    let mut total = 0;
    let mut read_by_dc = 0;
    for path in committed_jpegs() {
        if MISDECODED_BY_IMAGE.iter().any(|n| path.ends_with(n)) {
            continue;
        }
        let bytes = read(&path);
        read_by_dc += usize::from(jpeg::read(&bytes, &fast.limits, 512).is_some());
        let (Ok(a), Ok(b)) = (
            hash::digest_bytes(&bytes, &algos, &fast),
            hash::digest_bytes(&bytes, &algos, &full),
        ) else {
            assert!(
                hash::digest_bytes(&bytes, &algos, &fast).is_err()
                    && hash::digest_bytes(&bytes, &algos, &full).is_err(),
                "{}: one route fails and the other does not",
                path.display()
            );
            continue;
        };
        assert_eq!(a.dimensions, b.dimensions, "{}", path.display());
        for (x, y) in a.digests.iter().zip(&b.digests) {
            let d = x.distance(y).unwrap().0;
            assert!(d <= 4, "{} {}: {d} bits", path.display(), x.algorithm());
            identical += usize::from(d == 0);
            total += 1;
        }
    }
    assert!(
        identical * 10 >= total * 8,
        "only {identical} of {total} hashes identical"
    );
    // Smaller JPEGs hash identically by construction; enough must not be.
    assert!(read_by_dc >= 8, "only {read_by_dc} JPEGs took the DC route");
}

#[test]
fn progressive_files_are_read_from_their_dc_scans() {
    // The 16-MP progressive photo: the DC image has one value per block.
    let bytes = read(&root().join("tests/data/pdq/images/jpeg_seeding_5312x2988_16mp.jpg"));
    let dc = jpeg::read(&bytes, &decode::Limits::default(), 0).unwrap();
    assert_eq!((dc.width, dc.height), (5312, 2988));
    assert_eq!(dc.planes.len(), 3);
    assert_eq!(dc.planes[0].scale, (1, 1));
    assert_eq!(dc.planes[1].scale, (2, 2)); // 4:2:0
    assert!(dc.planes[0].stride >= 5312 / 8);
}

#[test]
fn images_over_the_limits_are_left_to_the_full_decoder() {
    let bytes = read(&root().join("tests/data/pdq/images/jpeg_retina_1411.jpg"));
    let limits = decode::Limits {
        max_pixels: 1_000_000,
        ..decode::Limits::default()
    };
    assert!(jpeg::read(&bytes, &limits, 0).is_none());
    let err =
        hash::digest_bytes(&bytes, &[Algorithm::Phash], &HashConfig::new(limits, 8)).unwrap_err();
    assert!(err.to_string().contains("too large"), "{err}");
}

#[test]
fn dc_images_match_libjpeg_turbo_on_every_structure() {
    // tests/data/jpeg/luma_block_means.csv: block means of libjpeg-turbo's
    // own luma (scripts/jpeg_luma_means.py), for fixtures with restart
    // intervals, non-interleaved and partly interleaved scans, successive
    // approximation, 4:1:1 to 4:4:4, 16-bit quantisers, grey.
    let dir = root().join("tests/data/jpeg");
    let csv = std::fs::read_to_string(dir.join("luma_block_means.csv")).unwrap();
    let limits = decode::Limits {
        exif_rotate: false,
        ..decode::Limits::default()
    };
    let mut current: Option<(String, Option<jpeg::DcImage>)> = None;
    let mut checked = 0;
    let mut files = Vec::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (name, bx, by, want) = (
            f[0],
            f[1].parse::<usize>().unwrap(),
            f[2].parse::<usize>().unwrap(),
            f[3].parse::<f32>().unwrap(),
        );
        if current.as_ref().is_none_or(|(n, _)| n != name) {
            let dc = jpeg::read(&read(&dir.join(name)), &limits, 0);
            files.push((name.to_string(), dc.is_some()));
            current = Some((name.to_string(), dc));
        }
        let Some((_, Some(dc))) = &current else {
            continue;
        };
        let y = &dc.planes[0];
        let got = y.means[by * y.stride + bx];
        // The decoder clamps ringing at 0 and 255; a DC mean is unclamped.
        let tolerance = if (16.0..=239.0).contains(&want) {
            1.0
        } else {
            2.0
        };
        assert!(
            (got - want).abs() <= tolerance,
            "{name} block ({bx}, {by}): {got:.2}, libjpeg-turbo {want:.2}"
        );
        checked += 1;
    }
    // Arithmetic coding is left to the full decoder; everything else is read.
    for (name, read_by_dc) in &files {
        assert_eq!(*read_by_dc, !name.starts_with("arithmetic_"), "{name}");
    }
    assert!(
        files.len() >= 20 && checked >= 1500,
        "{} files, {checked} blocks",
        files.len()
    );
}

#[test]
fn cmyk_rgb_arithmetic_and_truncated_jpegs_are_left_to_the_full_decoder() {
    let dir = root().join("tests/data/jpeg");
    let algos = [Algorithm::Phash, Algorithm::Dhash];
    let dc = HashConfig {
        jpeg_dc: true,
        ..HashConfig::default()
    };
    for name in [
        "cmyk_adobe_coffee_203x141.jpg",
        "rgb_no_transform_chelsea_203x141.jpg",
        "arithmetic_baseline_420_chelsea_203x141.jpg",
        "arithmetic_progressive_420_coffee_203x141.jpg",
        "truncated_baseline_420_dri2b_60pct_coffee_317x229.jpg",
        "truncated_progressive_420_60pct_astronaut_250x187.jpg",
    ] {
        let bytes = read(&dir.join(name));
        assert!(
            jpeg::read(&bytes, &decode::Limits::default(), 0).is_none(),
            "{name}"
        );
        // Same answer, hash or error, as with the DC route off.
        let a = hash::digest_bytes(&bytes, &algos, &dc);
        let b = hash::digest_bytes(&bytes, &algos, &HashConfig::default());
        assert_eq!(
            a.as_ref().map_err(ToString::to_string),
            b.as_ref().map_err(ToString::to_string),
            "{name}"
        );
        if name.starts_with("truncated_") {
            assert!(a.unwrap_err().to_string().contains("truncated"), "{name}");
        }
    }
}

#[test]
fn exif_orientation_is_applied_to_dc_images() {
    let dir = root().join("tests/data/jpeg");
    for (name, stored, upright) in [
        (
            "exif_orient6_chelsea_stored_141x203.jpg",
            (141, 203),
            (203, 141),
        ),
        (
            "exif_orient8_coffee_stored_229x317.jpg",
            (229, 317),
            (317, 229),
        ),
    ] {
        let bytes = read(&dir.join(name));
        let dc = jpeg::read(&bytes, &decode::Limits::default(), 0).unwrap();
        assert_eq!((dc.width, dc.height), stored, "{name}");
        assert_eq!(dc.oriented_dimensions(), upright, "{name}");
        let full = decode::decode(&bytes, &decode::Limits::default()).unwrap();
        let min_side = upright.0.min(upright.1) / 8;
        let (mean, _) = difference(
            &thumbnail::from_dc(&dc, min_side).unwrap(),
            &thumbnail::from_rgb(&full, min_side),
        );
        assert!(mean <= 5.0, "{name}: mean {mean:.2}");
    }
}

#[test]
fn damaged_jpegs_never_panic_the_dc_reader() {
    // Every byte of a progressive JPEG with restart markers set to three
    // values, and every truncation: the reader may refuse, never panic, and
    // what it returns always makes a thumbnail.
    let bytes = read(&root().join(
        "tests/data/jpeg/progressive_420_dc_partial_interleave_sa1_dri4b_coffee_215x197.jpg",
    ));
    let limits = decode::Limits::default();
    let mut accepted = 0;
    for i in 0..bytes.len() {
        for v in [0x00, 0xFF, bytes[i] ^ 0x10] {
            let mut damaged = bytes.clone();
            damaged[i] = v;
            if let Some(dc) = jpeg::read(&damaged, &limits, 0) {
                accepted += 1;
                let _ = thumbnail::from_dc(&dc, 12);
            }
        }
    }
    for len in 0..bytes.len() - 1 {
        assert!(
            jpeg::read(&bytes[..len], &limits, 0).is_none(),
            "cut at {len}"
        );
    }
    assert!(
        accepted > 0,
        "some damage (in AC data) leaves the DC image readable"
    );
}

/// The offset of each marker segment (`FF xx`) before the first scan's data,
/// with its code.
fn segments(bytes: &[u8]) -> Vec<(usize, u8)> {
    let mut out = Vec::new();
    let mut pos = 2;
    while pos + 4 <= bytes.len() && bytes[pos] == 0xFF {
        let marker = bytes[pos + 1];
        out.push((pos, marker));
        if marker == 0xDA {
            break;
        }
        pos += 2 + usize::from(u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]));
    }
    out
}

/// `bytes` with `segment` (marker, payload) inserted at `at`.
fn insert_segment(bytes: &[u8], at: usize, marker: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len() + 2).unwrap().to_be_bytes();
    [
        &bytes[..at],
        &[0xFF, marker, len[0], len[1]],
        payload,
        &bytes[at..],
    ]
    .concat()
}

/// An APP1 EXIF payload holding only an orientation tag.
fn exif_orientation(o: u16) -> Vec<u8> {
    let mut v = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
    v.extend_from_slice(&o.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    v
}

/// Both routes give the same classic hashes, or the same error.
fn assert_routes_agree(bytes: &[u8], what: &str) {
    let algos = [Algorithm::Phash, Algorithm::Dhash, Algorithm::Ahash];
    let dc = HashConfig {
        jpeg_dc: true,
        ..HashConfig::default()
    };
    let a = hash::digest_bytes(bytes, &algos, &dc);
    let b = hash::digest_bytes(bytes, &algos, &HashConfig::default());
    assert_eq!(
        a.as_ref().map_err(ToString::to_string),
        b.as_ref().map_err(ToString::to_string),
        "{what}"
    );
}

#[test]
fn a_scan_cut_short_is_refused_even_with_an_end_marker() {
    // Data cut mid-scan with FF D9 appended passes the end-marker check; the
    // reader must see it read past the data (and stop there, not walk the
    // rest of the frame on zeros).
    // (A cut in a progressive file's AC scans leaves its DC image whole and
    // is read: that damage is stepped over, as the module docs say.)
    for name in [
        "progressive_420_q70_large_astronaut_701x563.jpg",
        "baseline_420_dri5b_nondividing_chelsea_203x141.jpg",
    ] {
        let bytes = read(&root().join("tests/data/jpeg").join(name));
        // 200 bytes into the first scan's data: inside the DC scan.
        let (sos, _) = *segments(&bytes).last().unwrap();
        let mut cut = bytes[..sos + 200].to_vec();
        cut.extend_from_slice(&[0xFF, 0xD9]);
        assert!(
            jpeg::read(&cut, &decode::Limits::default(), 0).is_none(),
            "{name}"
        );
        assert_routes_agree(&cut, name);
    }
}

#[test]
fn the_colour_space_is_decided_as_the_full_decoder_decides_it() {
    let dir = root().join("tests/data/jpeg");
    let large = read(&dir.join("progressive_420_q70_large_astronaut_701x563.jpg"));
    // Components named R, G, B are RGB, with or without an Adobe segment.
    let mut rgb_named = large.clone();
    for (at, marker) in segments(&large) {
        let ids = match marker {
            0xC0..=0xC2 => (0..3).map(|i| at + 4 + 6 + 3 * i).collect::<Vec<_>>(),
            0xDA => {
                let n = usize::from(large[at + 4]);
                (0..n).map(|i| at + 4 + 1 + 2 * i).collect()
            }
            _ => continue,
        };
        for i in ids {
            rgb_named[i] = b"?RGB"[usize::from(large[i])];
        }
    }
    let adobe = |t: u8| [b"Adobe".as_slice(), &[0, 100, 0, 0, 0, 0, t]].concat();
    let cases = [
        ("ids R, G, B", rgb_named.clone(), false),
        (
            "ids R, G, B, Adobe YCbCr",
            insert_segment(&rgb_named, 2, 0xEE, &adobe(1)),
            false,
        ),
        (
            "Adobe transform 5",
            insert_segment(&large, 2, 0xEE, &adobe(5)),
            false,
        ),
        (
            "Adobe YCbCr",
            insert_segment(&large, 2, 0xEE, &adobe(1)),
            true,
        ),
    ];
    for (what, bytes, read_by_dc) in cases {
        let dc = jpeg::read(&bytes, &decode::Limits::default(), 0);
        assert_eq!(dc.is_some(), read_by_dc, "{what}");
        if !read_by_dc {
            assert_routes_agree(&bytes, what);
        }
    }
}

#[test]
fn the_last_exif_block_before_the_scans_gives_the_orientation() {
    // The fixture says 6 (stored 141×203, upright 203×141); a second block
    // saying 1 just before the frame header overrides it, as in `image`.
    let bytes = read(&root().join("tests/data/jpeg/exif_orient6_chelsea_stored_141x203.jpg"));
    let (sof, _) = segments(&bytes)
        .into_iter()
        .find(|&(_, m)| (0xC0..=0xC2).contains(&m))
        .unwrap();
    for (what, bytes, upright) in [
        ("one block", bytes.clone(), (203, 141)),
        (
            "then orientation 1",
            insert_segment(&bytes, sof, 0xE1, &exif_orientation(1)),
            (141, 203),
        ),
    ] {
        let dc = jpeg::read(&bytes, &decode::Limits::default(), 0).unwrap();
        assert_eq!(dc.oriented_dimensions(), upright, "{what}");
        let full = decode::decode(&bytes, &decode::Limits::default()).unwrap();
        assert_eq!(full.dimensions(), upright, "{what}");
    }
}

#[test]
fn the_dc_route_keeps_the_file_size_limit() {
    let bytes =
        read(&root().join("tests/data/jpeg/progressive_420_q70_large_astronaut_701x563.jpg"));
    let limits = decode::Limits {
        max_file_bytes: 1000,
        ..decode::Limits::default()
    };
    let err =
        hash::digest_bytes(&bytes, &[Algorithm::Phash], &HashConfig::new(limits, 8)).unwrap_err();
    assert!(err.to_string().contains("too large"), "{err}");
}
