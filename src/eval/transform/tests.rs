//! Unit tests of the edits: each edit's effect as a figure. The grammar's
//! own tests (every edit, round trips, bad strings) are in `grammar_tests`.

use image::{Rgb, RgbImage};

use super::*;

fn picture() -> RgbImage {
    RgbImage::from_fn(120, 80, |x, y| {
        Rgb([(x * 2) as u8, (y * 3) as u8, ((x + y) % 256) as u8])
    })
}

fn chain(text: &str) -> Chain {
    Chain::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn run(text: &str, image: &RgbImage) -> RgbImage {
    chain(text)
        .apply(image, 7)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn mean(image: &RgbImage) -> f64 {
    image.iter().map(|&c| f64::from(c)).sum::<f64>() / image.len() as f64
}

#[test]
fn legacy_apply_keeps_its_results() {
    let p = picture();
    assert_eq!(apply(&p, Edit::Resize(0.5)).dimensions(), (60, 40));
    assert_eq!(apply(&p, Edit::CropCentre(0.5)).dimensions(), (60, 40));
    assert_eq!(
        apply(&p, Edit::FlipHorizontal).get_pixel(0, 0),
        p.get_pixel(119, 0)
    );
    assert_eq!(apply(&p, Edit::Brightness(300)).get_pixel(5, 5).0, [255; 3]);
    assert!(encode_jpeg(&p, 70).starts_with(&[0xFF, 0xD8]));
}

#[test]
fn geometry_figures() {
    let p = picture();
    assert_eq!(run("resize:0.5", &p).dimensions(), (60, 40));
    assert_eq!(run("resize:33x17", &p).dimensions(), (33, 17));
    assert_eq!(run("crop:0.5", &p).dimensions(), (60, 40));
    // 10% of 120 = 12 off the left, 25% of 80 = 20 off the top.
    let c = run("crop:0.1,0.25,0,0", &p);
    assert_eq!(c.dimensions(), (108, 60));
    assert_eq!(c.get_pixel(0, 0), p.get_pixel(12, 20));
    // A border of 0.1 × 120 = 12 pixels on every side.
    let padded = run("pad:0.1,white", &p);
    assert_eq!(padded.dimensions(), (144, 104));
    assert_eq!(padded.get_pixel(0, 0).0, [255; 3]);
    assert_eq!(padded.get_pixel(12, 12), p.get_pixel(0, 0));
    assert_eq!(run("aspect:1.5", &p).dimensions(), (180, 80));
    assert_eq!(run("flip:h", &p), image::imageops::flip_horizontal(&p));
    assert_eq!(run("flip:v", &p), image::imageops::flip_vertical(&p));
}

#[test]
fn rotation_by_right_angles_is_exact_and_other_angles_fill() {
    let p = picture();
    assert_eq!(run("rotate:90", &p), image::imageops::rotate90(&p));
    assert_eq!(run("rotate:-90", &p), image::imageops::rotate270(&p));
    assert_eq!(run("rotate:180", &p), image::imageops::rotate180(&p));
    assert_eq!(run("rotate:360", &p), p);
    let r = run("rotate:45", &p);
    // (120 + 80)·cos 45° = 141.4 → 142 on both sides.
    assert_eq!(r.dimensions(), (142, 142));
    assert_eq!(r.get_pixel(0, 0).0, [0, 0, 0]);
    // The centre stays the centre: within a few levels of the original's.
    let (a, b) = (r.get_pixel(71, 71).0, p.get_pixel(60, 40).0);
    for i in 0..3 {
        assert!(a[i].abs_diff(b[i]) <= 4, "{a:?} vs {b:?}");
    }
    // Clockwise: the top-left region moves to the top right.
    let small = RgbImage::from_fn(40, 40, |x, y| {
        if x < 20 && y < 20 {
            Rgb([255; 3])
        } else {
            Rgb([0; 3])
        }
    });
    let turned = run("rotate:30", &small);
    let (w, _) = turned.dimensions();
    assert!(turned.get_pixel(w / 2 + 5, 12).0[0] > 200);
}

#[test]
fn tone_figures() {
    let p = picture();
    let g = run("grayscale", &p);
    assert!(
        g.pixels()
            .all(|px| px.0[0] == px.0[1] && px.0[1] == px.0[2])
    );
    let grey = RgbImage::from_pixel(16, 16, Rgb([100, 150, 200]));
    assert!((mean(&run("brightness:+20", &grey)) - (mean(&grey) + 20.0)).abs() < 1e-9);
    assert!((mean(&run("brightness:-30", &grey)) - (mean(&grey) - 30.0)).abs() < 1e-9);
    // Clamped at 255: 200 + 100 → 255.
    assert_eq!(
        run("brightness:100", &grey).get_pixel(0, 0).0,
        [200, 250, 255]
    );
    // Contrast 2 about 127.5: 100 → 72.5 → 73 (rounded half away from zero).
    assert_eq!(run("contrast:2", &grey).get_pixel(0, 0).0, [73, 173, 255]);
    assert_eq!(run("contrast:0", &grey).get_pixel(0, 0).0, [128; 3]);
    // Gamma 2: 255·(100/255)^0.5 = 159.7.
    assert_eq!(run("gamma:2", &grey).get_pixel(0, 0).0[0], 160);
    assert_eq!(run("gamma:1", &p), p);
    // Blur of a flat image is the image; of an edge it is in between.
    assert_eq!(run("blur:2", &grey), grey);
    let edge = RgbImage::from_fn(32, 8, |x, _| Rgb([if x < 16 { 0 } else { 255 }; 3]));
    let v = run("blur:2", &edge).get_pixel(16, 4).0[0];
    assert!((64..192).contains(&v), "{v}");
    // Sharpening an edge overshoots it.
    assert_eq!(run("sharpen", &edge).get_pixel(14, 4).0[0], 0);
    assert!(run("sharpen", &edge).get_pixel(17, 4).0[0] == 255);
    let soft = run("blur:1", &edge);
    assert!(run("sharpen", &soft).get_pixel(15, 4).0[0] < soft.get_pixel(15, 4).0[0]);
}

#[test]
fn noise_and_overlay_are_seeded() {
    let grey = RgbImage::from_pixel(64, 64, Rgb([128; 3]));
    let n = chain("noise:10");
    let (a, b, c) = (
        n.apply(&grey, 1).unwrap(),
        n.apply(&grey, 1).unwrap(),
        n.apply(&grey, 2).unwrap(),
    );
    assert_eq!(a, b);
    assert_ne!(a, c);
    // Its standard deviation is close to 10.
    let var = a
        .iter()
        .map(|&v| (f64::from(v) - 128.0).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    assert!((var.sqrt() - 10.0).abs() < 0.5, "{}", var.sqrt());
    // Two noise edits in one chain do not add the same noise twice.
    let twice = chain("noise:10+noise:10").apply(&grey, 1).unwrap();
    let var2 = twice
        .iter()
        .map(|&v| (f64::from(v) - 128.0).powi(2))
        .sum::<f64>()
        / twice.len() as f64;
    assert!((var2.sqrt() - 200f64.sqrt()).abs() < 0.7, "{}", var2.sqrt());

    let o = chain("overlay:0.25");
    let box_at = |img: &RgbImage| {
        let mut changed = img.enumerate_pixels().filter(|(_, _, p)| p.0 != [128; 3]);
        changed.next().map(|(x, y, _)| (x, y))
    };
    let (a, b) = (o.apply(&grey, 1).unwrap(), o.apply(&grey, 1).unwrap());
    assert_eq!(a, b);
    // A quarter of the area: a 32×32 box (unless its colour drew mid-grey).
    let covered = a.pixels().filter(|p| p.0 != [128; 3]).count();
    assert_eq!(covered, 32 * 32);
    let positions: std::collections::HashSet<_> = (0..8)
        .map(|s| box_at(&o.apply(&grey, s).unwrap()))
        .collect();
    assert!(positions.len() > 4, "{positions:?}");

    // Only the seeded edits depend on the seed.
    assert!(chain("resize:0.5+noise:2").uses_seed());
    assert!(chain("overlay:0.1").uses_seed());
    assert!(!chain("resize:0.5+jpeg:70+rotate:5").uses_seed());
    let p = picture();
    let fixed = chain("rotate:5+blur:1+jpeg:70+text:\"x\"");
    assert_eq!(fixed.apply(&p, 1).unwrap(), fixed.apply(&p, 2).unwrap());
}

#[test]
fn codecs_and_screenshot() {
    let p = picture();
    assert_eq!(run("webp", &p), p);
    let j = run("jpeg:50", &p);
    assert_eq!(j.dimensions(), p.dimensions());
    assert_ne!(j, p);
    let s = run("screenshot", &p);
    assert_eq!(s.dimensions(), SCREEN);
    // 120×80 fitted into 720 wide is 720×480, centred: black above and below.
    assert!(s.get_pixel(360, 10).0.iter().all(|&c| c < 16));
    assert!(s.get_pixel(360, 640).0.iter().any(|&c| c > 16));
}

#[test]
fn caption_draws_white_and_black_at_the_bottom_only() {
    let grey = RgbImage::from_pixel(200, 100, Rgb([128; 3]));
    let t = run("text:\"Hello, world\"", &grey);
    assert_eq!(t.dimensions(), grey.dimensions());
    let changed: Vec<(u32, u32)> = t
        .enumerate_pixels()
        .filter(|(_, _, p)| p.0 != [128; 3])
        .map(|(x, y, _)| (x, y))
        .collect();
    assert!(changed.len() > 100, "{}", changed.len());
    assert!(
        changed.iter().all(|&(_, y)| y >= 80),
        "caption leaves the bottom band"
    );
    // White letters in a black outline.
    assert!(t.pixels().any(|p| p.0.iter().all(|&c| c > 230)));
    assert!(t.pixels().any(|p| p.0.iter().all(|&c| c < 25)));
    // A long caption shrinks to fit the width.
    let long = run(&format!("text:\"{}\"", "W".repeat(25)), &grey);
    let xs: Vec<u32> = long
        .enumerate_pixels()
        .filter(|(_, _, p)| p.0 != [128; 3])
        .map(|(x, _, _)| x)
        .collect();
    assert!(xs.iter().min().unwrap() >= &5 && xs.iter().max().unwrap() <= &195);
}

#[test]
fn chains_apply_in_order_and_limits_hold() {
    let p = picture();
    assert_eq!(run("resize:0.5+crop:0.5", &p).dimensions(), (30, 20));
    assert_eq!(run("none", &p), p);
    assert_eq!(Chain::identity().apply(&p, 3).unwrap(), p);
    let big = RgbImage::new(4000, 4000);
    assert!(matches!(
        chain("resize:8").apply(&big, 0),
        Err(EditError::TooLarge { .. })
    ));
    assert!(matches!(
        chain("flip:h").apply(&RgbImage::new(0, 5), 0),
        Err(EditError::EmptyImage { .. })
    ));
}
