//! `cssim edit`: an image through an edit chain to a file, end to end —
//! the output decodes with the edit's dimensions and pixels, a bad chain is
//! one line and exit status 2, an existing output is refused without --force.

use std::path::Path;

use image::{Rgb, RgbImage};
use tempfile::TempDir;

use crate::util::{cssim, stderr, stdout};

fn picture(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x + y) % 256) as u8,
        ])
    })
}

fn fixture(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("in.png");
    picture(120, 80).save(&path).expect("write fixture");
    path
}

#[test]
fn edit_writes_the_edited_image_and_says_what_it_did() {
    let dir = TempDir::new().unwrap();
    let input = fixture(dir.path());
    let out = dir.path().join("out.png");
    let o = cssim()
        .arg("edit")
        .arg(&input)
        .args(["--edit", "resize:0.5 + flip:h", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let line = stdout(&o);
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(
        line.contains("120×80 → ") && line.contains("60×40 (resize:0.5+flip:h, seed 0)"),
        "{line}"
    );
    // PNG is exact: the file holds the library's pixels.
    let written = image::open(&out).unwrap().to_rgb8();
    let expected = cssim::eval::transform::Chain::parse("resize:0.5+flip:h")
        .unwrap()
        .apply(&picture(120, 80), 0)
        .unwrap();
    assert_eq!(written, expected);

    for (name, format) in [
        ("out.jpg", image::ImageFormat::Jpeg),
        ("out.webp", image::ImageFormat::WebP),
    ] {
        let path = dir.path().join(name);
        let o = cssim()
            .arg("edit")
            .arg(&input)
            .args(["--edit", "rotate:90+noise:3", "--seed", "5", "-o"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(image::guess_format(&bytes).unwrap(), format);
        assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 80);
    }
}

#[test]
fn a_bad_chain_is_one_line_naming_the_token_and_exit_2() {
    let dir = TempDir::new().unwrap();
    let input = fixture(dir.path());
    let out = dir.path().join("out.png");
    let o = cssim()
        .arg("edit")
        .arg(&input)
        .args(["--edit", "resize:0.5+blurr:2", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("unknown edit \"blurr:2\" in \"resize:0.5+blurr:2\"; valid edits: jpeg:Q,"),
        "{err}"
    );
    assert!(!out.exists());

    let o = cssim()
        .arg("edit")
        .arg(&input)
        .args(["--edit", "jpeg:0", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("Q must be an integer from 1 to 100"));

    let o = cssim()
        .arg("edit")
        .arg(&input)
        .args(["--edit", "jpeg:70", "-o"])
        .arg(dir.path().join("out.tiff"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot write \".tiff\" images"),
        "{}",
        stderr(&o)
    );

    let o = cssim()
        .arg("edit")
        .arg(dir.path().join("missing.png"))
        .args(["--edit", "jpeg:70", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("missing.png: no such file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_existing_output_is_refused_without_force() {
    let dir = TempDir::new().unwrap();
    let input = fixture(dir.path());
    let out = dir.path().join("out.png");
    std::fs::write(&out, b"keep me").unwrap();
    let o = cssim()
        .arg("edit")
        .arg(&input)
        .args(["--edit", "grayscale", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("exists (use --force"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");

    let o = cssim()
        .arg("edit")
        .arg(&input)
        .args(["--edit", "grayscale", "--force", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let img = image::open(&out).unwrap().to_rgb8();
    assert!(img.pixels().all(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2]));
}
