//! `text:"…"`: a caption along the bottom of the image, white with a black
//! outline (as meme and messenger captions are), in DejaVu Sans, which is
//! bundled (`assets/fonts/`, with its licence) so the result does not
//! depend on the fonts of the machine.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use image::RgbImage;

use super::{Edit, EditError};

/// DejaVu Sans 2.37 (Bitstream Vera licence; `assets/fonts/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// Caption height as a fraction of the image height (before shrinking a
/// long caption to fit the width).
const HEIGHT_FRACTION: f32 = 0.1;
/// The smallest font size, in pixels.
const MIN_PX: f32 = 6.0;

/// Draws `text` centred along the bottom of `image`.
pub(super) fn draw(image: &RgbImage, text: &str, edit: &Edit) -> Result<RgbImage, EditError> {
    let font = FontRef::try_from_slice(FONT).map_err(|e| EditError::Codec {
        edit: edit.to_string(),
        reason: format!("the bundled font cannot be read: {e}"),
    })?;
    let (w, h) = image.dimensions();
    let mut px = (h as f32 * HEIGHT_FRACTION).max(MIN_PX);
    let width_at = |px: f32| line_width(&font, PxScale::from(px), text);
    let room = w as f32 * 0.9;
    let natural = width_at(px);
    if natural > room {
        px = (px * room / natural).max(MIN_PX);
    }
    let scale = PxScale::from(px);
    let scaled = font.as_scaled(scale);
    let x0 = (w as f32 - width_at(px)) / 2.0;
    let baseline = h as f32 + scaled.descent() - px * 0.15;

    // Coverage of the caption, then black outline and white fill composited.
    let mut mask = vec![0f32; w as usize * h as usize];
    // The caption's box, so the outline pass does not visit the whole image.
    let (mut bx0, mut by0, mut bx1, mut by1) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
    let mut x = x0;
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            x += scaled.kern(p, id);
        }
        let glyph = id.with_scale_and_position(scale, point(x, baseline));
        x += scaled.h_advance(id);
        prev = Some(id);
        if let Some(outlined) = font.outline_glyph(glyph) {
            let b = outlined.px_bounds();
            outlined.draw(|gx, gy, cov| {
                let (px, py) = (
                    b.min.x as i64 + i64::from(gx),
                    b.min.y as i64 + i64::from(gy),
                );
                if px >= 0 && py >= 0 && px < i64::from(w) && py < i64::from(h) {
                    let m = &mut mask[py as usize * w as usize + px as usize];
                    *m = (*m + cov).min(1.0);
                    (bx0, by0) = (bx0.min(px), by0.min(py));
                    (bx1, by1) = (bx1.max(px), by1.max(py));
                }
            });
        }
    }
    let r = ((px / 16.0).round() as i64).max(1);
    let mut out = image.clone();
    if bx0 > bx1 {
        return Ok(out); // nothing visible (only spaces)
    }
    let (wi, hi) = (i64::from(w), i64::from(h));
    let (x0, x1) = ((bx0 - r).max(0), (bx1 + r).min(wi - 1));
    let (y0, y1) = ((by0 - r).max(0), (by1 + r).min(hi - 1));
    let (bw, bh) = ((x1 - x0 + 1) as usize, (y1 - y0 + 1) as usize);
    let at = |x: i64, y: i64| mask[(y * wi + x) as usize];
    // The outline: the strongest coverage within r pixels (a square window),
    // as a row pass then a column pass over the caption's box.
    let mut rows = vec![0f32; bw * bh];
    for y in y0..=y1 {
        for x in x0..=x1 {
            let m = ((x - r).max(0)..=(x + r).min(wi - 1))
                .map(|sx| at(sx, y))
                .fold(0f32, f32::max);
            rows[(y - y0) as usize * bw + (x - x0) as usize] = m;
        }
    }
    for y in y0..=y1 {
        for x in x0..=x1 {
            let col = (x - x0) as usize;
            let edge = ((y - r).max(y0)..=(y + r).min(y1))
                .map(|sy| rows[(sy - y0) as usize * bw + col])
                .fold(0f32, f32::max);
            if edge == 0.0 {
                continue;
            }
            let fill = at(x, y);
            let p = out.get_pixel_mut(x as u32, y as u32);
            for c in p.0.iter_mut() {
                let v = f32::from(*c) * (1.0 - edge); // black outline
                *c = (v + (255.0 - v) * fill).round().clamp(0.0, 255.0) as u8; // white fill
            }
        }
    }
    Ok(out)
}

/// The advance width of `text` on one line.
fn line_width(font: &FontRef<'_>, scale: PxScale, text: &str) -> f32 {
    let scaled = font.as_scaled(scale);
    let mut width = 0.0;
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            width += scaled.kern(p, id);
        }
        width += scaled.h_advance(id);
        prev = Some(id);
    }
    width
}
