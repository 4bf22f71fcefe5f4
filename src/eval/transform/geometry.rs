//! Edits that move pixels: resize, crop, pad, rotate, stretch.

use image::imageops;
use image::{Rgb, RgbImage};

use super::resample::{self, Filter};
use super::{Colour, Edit, EditError, check_size};

/// `imageops::resize` with Lanczos3: the same bytes, computed by
/// [`super::resample`].
fn lanczos3(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    resample::resize(image, width, height, Filter::Lanczos3)
}

/// Both sides × `scale`, rounded, at least 1 (Lanczos3).
pub(super) fn resize(image: &RgbImage, scale: f32, edit: &Edit) -> Result<RgbImage, EditError> {
    let (w, h) = image.dimensions();
    // f32 arithmetic as before the grammar existed, so the demo's figures stay.
    let nw = ((w as f32 * scale).round() as u64).max(1);
    let nh = ((h as f32 * scale).round() as u64).max(1);
    let (nw, nh) = check_size(edit, nw, nh)?;
    Ok(lanczos3(image, nw, nh))
}

/// Exactly `width`×`height` (Lanczos3).
pub(super) fn resize_to(
    image: &RgbImage,
    width: u32,
    height: u32,
    edit: &Edit,
) -> Result<RgbImage, EditError> {
    let (nw, nh) = check_size(edit, u64::from(width), u64::from(height))?;
    Ok(lanczos3(image, nw, nh))
}

/// Width × `factor`, height unchanged (Lanczos3).
pub(super) fn aspect(image: &RgbImage, factor: f32, edit: &Edit) -> Result<RgbImage, EditError> {
    let (w, h) = image.dimensions();
    let nw = ((f64::from(w) * f64::from(factor)).round() as u64).max(1);
    let (nw, nh) = check_size(edit, nw, u64::from(h))?;
    Ok(lanczos3(image, nw, nh))
}

/// The central `fraction` of each side (truncated, at least 1 pixel).
pub(super) fn crop_centre(image: &RgbImage, fraction: f32) -> RgbImage {
    let (w, h) = image.dimensions();
    let f = fraction.clamp(0.01, 1.0);
    let (cw, ch) = (((w as f32) * f) as u32, ((h as f32) * f) as u32);
    let (cw, ch) = (cw.clamp(1, w), ch.clamp(1, h));
    imageops::crop_imm(image, (w - cw) / 2, (h - ch) / 2, cw, ch).to_image()
}

/// Cuts `[left, top, right, bottom]` fractions of the width and height
/// (each side's cut rounded down; at least 1 pixel is left).
pub(super) fn crop_sides(image: &RgbImage, sides: [f32; 4]) -> RgbImage {
    let (w, h) = image.dimensions();
    let cut = |f: f32, n: u32| ((f64::from(f) * f64::from(n)).floor() as u32).min(n);
    let (l, t) = (cut(sides[0], w), cut(sides[1], h));
    let (r, b) = (cut(sides[2], w), cut(sides[3], h));
    let cw = w.saturating_sub(l + r).max(1);
    let ch = h.saturating_sub(t + b).max(1);
    let (x, y) = (l.min(w - cw), t.min(h - ch));
    imageops::crop_imm(image, x, y, cw, ch).to_image()
}

/// A border `fraction` × the longer side wide on every side.
pub(super) fn pad(
    image: &RgbImage,
    fraction: f32,
    colour: Colour,
    edit: &Edit,
) -> Result<RgbImage, EditError> {
    let (w, h) = image.dimensions();
    let border = (f64::from(w.max(h)) * f64::from(fraction)).round() as u64;
    let (nw, nh) = check_size(edit, u64::from(w) + 2 * border, u64::from(h) + 2 * border)?;
    let mut out = RgbImage::from_pixel(nw, nh, Rgb(colour.0));
    imageops::replace(&mut out, image, border as i64, border as i64);
    Ok(out)
}

/// Clockwise by `degrees` (in [0, 360)). Multiples of 90 are the exact
/// pixel permutations; any other angle samples bilinearly onto a canvas
/// that holds the whole rotated image, the corners `fill`.
pub(super) fn rotate(
    image: &RgbImage,
    degrees: f32,
    fill: Colour,
    edit: &Edit,
) -> Result<RgbImage, EditError> {
    match degrees {
        0.0 => return Ok(image.clone()),
        90.0 => return Ok(imageops::rotate90(image)),
        180.0 => return Ok(imageops::rotate180(image)),
        270.0 => return Ok(imageops::rotate270(image)),
        _ => {}
    }
    let (w, h) = (f64::from(image.width()), f64::from(image.height()));
    let theta = f64::from(degrees).to_radians();
    let (sin, cos) = theta.sin_cos();
    // The bounding box; the small slack keeps float fuzz from adding a column.
    let nw = ((w * cos.abs() + h * sin.abs()) - 1e-6).ceil().max(1.0) as u64;
    let nh = ((w * sin.abs() + h * cos.abs()) - 1e-6).ceil().max(1.0) as u64;
    let (nw, nh) = check_size(edit, nw, nh)?;
    let (ocx, ocy) = (f64::from(nw) / 2.0, f64::from(nh) / 2.0);
    let (icx, icy) = (w / 2.0, h / 2.0);
    let out = RgbImage::from_fn(nw, nh, |x, y| {
        // Inverse of the clockwise rotation (y points down).
        let dx = f64::from(x) + 0.5 - ocx;
        let dy = f64::from(y) + 0.5 - ocy;
        let sx = dx * cos + dy * sin + icx;
        let sy = -dx * sin + dy * cos + icy;
        bilinear(image, sx, sy, fill)
    });
    Ok(out)
}

/// The colour at continuous position (`x`, `y`) (pixel centres at +0.5);
/// outside the image counts as `fill`, which antialiases the edges.
fn bilinear(image: &RgbImage, x: f64, y: f64, fill: Colour) -> Rgb<u8> {
    let (fx, fy) = (x - 0.5, y - 0.5);
    let (x0, y0) = (fx.floor(), fy.floor());
    let (tx, ty) = (fx - x0, fy - y0);
    let (w, h) = (i64::from(image.width()), i64::from(image.height()));
    let at = |xi: i64, yi: i64| -> [f64; 3] {
        if xi < 0 || yi < 0 || xi >= w || yi >= h {
            fill.0.map(f64::from)
        } else {
            image.get_pixel(xi as u32, yi as u32).0.map(f64::from)
        }
    };
    let (x0, y0) = (x0 as i64, y0 as i64);
    let (a, b, c, d) = (
        at(x0, y0),
        at(x0 + 1, y0),
        at(x0, y0 + 1),
        at(x0 + 1, y0 + 1),
    );
    let mut px = [0u8; 3];
    for i in 0..3 {
        let top = a[i] + (b[i] - a[i]) * tx;
        let bottom = c[i] + (d[i] - c[i]) * tx;
        px[i] = (top + (bottom - top) * ty).round().clamp(0.0, 255.0) as u8;
    }
    Rgb(px)
}
