//! Grey images from a JPEG's DC coefficients, and the cell-averaged grey
//! thumbnails they are checked against.
//!
//! - [`dc_grey`]: the grey image of the opt-in JPEG-DC route of the classic
//!   hashes ([`super::HashConfig::jpeg_dc`]): one pixel per 8 × 8 block, the
//!   block's mean luma, which [`super::classic`] then resizes as it would
//!   the decoded pixels;
//! - [`from_dc`] and [`from_rgb`]: the image's Rec. 709 luma averaged over
//!   `k × k` cells (`k` as large as keeps the shorter side at least
//!   `min_side`), from a DC image or from decoded pixels. The two agree to
//!   rounding where the image is smooth within a block, which is how the
//!   tests check the DC reader against a full decode.

use super::jpeg::{Axes, DcImage, Plane, axes};
use image::GrayImage;
#[cfg(test)]
use image::RgbImage;

/// The thumbnail of decoded pixels: Rec. 709 luma in integers, truncated
/// (`(2126 R + 7152 G + 722 B) / 10000`; exact for grey), averaged over
/// `k × k` cells with the remainder rows and columns dropped.
#[cfg(test)]
pub fn from_rgb(image: &RgbImage, min_side: u32) -> GrayImage {
    let (w, h) = image.dimensions();
    let k = (w.min(h) / min_side.max(1)).max(1);
    let (tw, th) = (w / k, h / k);
    if tw == 0 || th == 0 {
        return GrayImage::new(w.max(1), h.max(1));
    }
    let raw = image.as_raw();
    let stride = w as usize * 3;
    let mut sums = vec![0u32; tw as usize];
    let mut out = Vec::with_capacity((tw * th) as usize);
    for ty in 0..th as usize {
        sums.iter_mut().for_each(|s| *s = 0);
        for y in ty * k as usize..(ty + 1) * k as usize {
            let row = &raw[y * stride..y * stride + tw as usize * k as usize * 3];
            for (tx, block) in row.chunks_exact(k as usize * 3).enumerate() {
                sums[tx] += block
                    .chunks_exact(3)
                    .map(|p| luma(p[0], p[1], p[2]))
                    .sum::<u32>();
            }
        }
        let n = k * k;
        out.extend(sums.iter().map(|s| ((s + n / 2) / n) as u8));
    }
    GrayImage::from_raw(tw, th, out).unwrap_or_else(|| GrayImage::new(1, 1))
}

#[cfg(test)]
fn luma(r: u8, g: u8, b: u8) -> u32 {
    (2126 * u32::from(r) + 7152 * u32::from(g) + 722 * u32::from(b)) / 10000
}

/// The same thumbnail from a JPEG's block means, with the EXIF orientation
/// applied: the cells of the upright image are mapped back onto the stored
/// one, and each cell's mean is the area-weighted mean of the blocks it
/// overlaps. `None` when a cell would be smaller than a block (`k < 8`): the
/// DC image then has too little detail and the caller decodes fully.
#[cfg(test)]
pub fn from_dc(dc: &DcImage, min_side: u32) -> Option<GrayImage> {
    let (ow, oh) = dc.oriented_dimensions();
    let k = ow.min(oh) / min_side.max(1);
    if k < 8 {
        return None;
    }
    cells(dc, k, false)
}

/// The grey image the classic hashes' JPEG-DC route resizes (opt-in,
/// [`super::HashConfig::jpeg_dc`]): one pixel per 8 × 8 block of the upright
/// image, the block's mean of the JPEG's Y (luma) plane. Y is what Pillow's
/// `convert("L")` of the decoded RGB gives back, to rounding: its 601 luma
/// weights are the JFIF colour transform's. `None` when the shorter side is
/// under `8 × min_side`, or the JPEG is not greyscale or YCbCr.
pub fn dc_grey(dc: &DcImage, min_side: u32) -> Option<GrayImage> {
    let (ow, oh) = dc.oriented_dimensions();
    if ow.min(oh) / min_side.max(1) < 8 {
        return None;
    }
    cells(dc, 8, true)
}

/// Means over `k × k` cells of the upright image: Rec. 709 luma, or with
/// `y_only` the Y plane.
fn cells(dc: &DcImage, k: u32, y_only: bool) -> Option<GrayImage> {
    let (ow, oh) = dc.oriented_dimensions();
    let (tw, th) = (ow / k, oh / k);
    let Axes {
        swap,
        flip_x,
        flip_y,
    } = axes(dc.orientation);
    // Cells along the stored axes, in upright order.
    let (nx, ny) = if swap { (th, tw) } else { (tw, th) };
    let xs = cell_ranges(dc.width, nx, k, flip_x);
    let ys = cell_ranges(dc.height, ny, k, flip_y);
    let planes = match dc.planes.len() {
        1 | 3 if y_only => &dc.planes[..1],
        _ => &dc.planes[..],
    };
    let means: Vec<Vec<f32>> = planes.iter().map(|p| cell_means(p, &xs, &ys)).collect();
    let luma: Vec<f32> = match means.as_slice() {
        [y] => y.clone(),
        // Rec. 709 luma of the JFIF YCbCr → RGB conversion, which is linear,
        // so it commutes with averaging:
        // L = 0.2126 R + 0.7152 G + 0.0722 B = Y − 0.21268 (Cr−128) − 0.11819 (Cb−128).
        [y, cb, cr] => (0..y.len())
            .map(|i| y[i] - 0.212_684_8 * (cr[i] - 128.0) - 0.118_187_7 * (cb[i] - 128.0))
            .collect(),
        _ => return None,
    };
    Some(GrayImage::from_fn(tw, th, |tx, ty| {
        let (cx, cy) = if swap { (ty, tx) } else { (tx, ty) };
        let v = luma[cy as usize * nx as usize + cx as usize];
        image::Luma([v.round().clamp(0.0, 255.0) as u8])
    }))
}

/// The pixel range `[start, end)` along a stored axis of `len` pixels of each
/// of `n` cells of `k` pixels, counted from the upright image's origin.
fn cell_ranges(len: u32, n: u32, k: u32, flipped: bool) -> Vec<(u32, u32)> {
    (0..n)
        .map(|c| {
            if flipped {
                (len - (c + 1) * k, len - c * k)
            } else {
                (c * k, (c + 1) * k)
            }
        })
        .collect()
}

/// Each cell's mean of one plane, cells row by row (`ys` × `xs`).
fn cell_means(plane: &Plane, xs: &[(u32, u32)], ys: &[(u32, u32)]) -> Vec<f32> {
    let (sx, sy) = plane.sample_size();
    let wx: Vec<Vec<(usize, f32)>> = xs.iter().map(|&r| weights(r, sx)).collect();
    let wy: Vec<Vec<(usize, f32)>> = ys.iter().map(|&r| weights(r, sy)).collect();
    let mut out = Vec::with_capacity(xs.len() * ys.len());
    for (ry, row_weights) in ys.iter().zip(&wy) {
        for (rx, col_weights) in xs.iter().zip(&wx) {
            let mut sum = 0.0;
            for &(by, wy) in row_weights {
                let row = &plane.means[by * plane.stride..];
                let row_sum: f32 = col_weights.iter().map(|&(bx, wx)| wx * row[bx]).sum();
                sum += wy * row_sum;
            }
            out.push(sum / ((rx.1 - rx.0) * (ry.1 - ry.0)) as f32);
        }
    }
    out
}

/// PDQ's image on the fast route ([`super::PdqRoute::Fast`]), from the first
/// plane (Y, or grey) mapped onto the upright image as [`dc_grey`] maps it:
/// - a DC image: one pixel per 8 × 8 block, as [`dc_grey`] (`None` when
///   the shorter side is under `8 × min_side`);
/// - a reduced image (more than one sample a block): every pixel of the
///   upright image, each the value of the sample whose part of the block
///   holds it, so that PDQ filters and samples it at the exact route's size
///   (hashed at its own size instead, PDQ's box windows and sampling
///   positions change and the hash moves tens of bits: see
///   `docs/PERFORMANCE.md`).
///
/// `None` also when the JPEG is not greyscale or YCbCr.
pub fn pdq_grey(dc: &DcImage, min_side: u32) -> Option<GrayImage> {
    match dc.planes.first()?.samples_per_block {
        1 => dc_grey(dc, min_side),
        _ => spread(dc),
    }
}

/// Every pixel of the upright image, the value of the first plane's sample
/// that holds it: `cells(dc, 1, true)`, without the averaging machinery a
/// one-pixel cell does not need.
fn spread(dc: &DcImage) -> Option<GrayImage> {
    let plane = dc.planes.first()?;
    let (sx, sy) = plane.sample_size();
    let Axes {
        swap,
        flip_x,
        flip_y,
    } = axes(dc.orientation);
    // The sample column of each stored column, and row of each stored row,
    // in upright order.
    let index = |len: u32, size: u32, flipped: bool| -> Vec<usize> {
        (0..len)
            .map(|c| (if flipped { len - 1 - c } else { c } / size.max(1)) as usize)
            .collect()
    };
    let xs = index(dc.width, sx, flip_x);
    let ys = index(dc.height, sy, flip_y);
    let rounded: Vec<u8> = plane.means.iter().map(|&v| round_level(v)).collect();
    // Every index below is at most this: check it once.
    let last = ys.iter().max()? * plane.stride + xs.iter().max()?;
    if last >= rounded.len() {
        return None;
    }
    let (ow, oh) = dc.oriented_dimensions();
    let mut out = Vec::with_capacity(ow as usize * oh as usize);
    if swap {
        // Upright rows run along stored columns.
        for &x in &xs {
            out.extend(ys.iter().map(|&y| rounded[y * plane.stride + x]));
        }
    } else {
        for &y in &ys {
            let row = &rounded[y * plane.stride..];
            out.extend(xs.iter().map(|&x| row[x]));
        }
    }
    GrayImage::from_raw(ow, oh, out)
}

/// `v.round().clamp(0.0, 255.0) as u8`, without the library call that
/// `round` is on baseline x86-64 (the same value for every `f32`: a
/// non-negative value under 2²³ less its integer part is exact).
#[inline]
fn round_level(v: f32) -> u8 {
    let v = v.clamp(0.0, 255.0);
    let t = v as u32;
    (t + u32::from(v - t as f32 >= 0.5)) as u8
}

/// The first plane's means over `k × k` cells of the upright image (for
/// tests: a reduced image at its own size, `k = 8 / samples a block`).
#[cfg(test)]
pub fn y_cells(dc: &DcImage, k: u32) -> Option<GrayImage> {
    cells(dc, k, true)
}

/// The samples of `block` pixels that the range `[start, end)` overlaps, each
/// with the number of pixels of the overlap.
fn weights((start, end): (u32, u32), block: u32) -> Vec<(usize, f32)> {
    (start / block..=(end - 1) / block)
        .map(|b| {
            let lo = start.max(b * block);
            let hi = end.min((b + 1) * block);
            (b as usize, (hi - lo) as f32)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_images_keep_every_pixel_as_truncated_rec709_luma() {
        // Shorter side under 64: no averaging.
        let img = RgbImage::from_fn(3, 2, |x, y| {
            let colours = [
                [255, 0, 0],
                [0, 255, 0],
                [0, 0, 255],
                [4, 1, 3],
                [9, 9, 9],
                [255; 3],
            ];
            image::Rgb(colours[(y * 3 + x) as usize])
        });
        // 54.2, 182.4, 18.4, 1.78, grey 9 and 255 exactly.
        assert_eq!(from_rgb(&img, 64).as_raw(), &[54, 182, 18, 1, 9, 255]);
    }

    #[test]
    fn round_level_is_round_and_clamp() {
        let mut v = -3.0f32;
        while v < 260.0 {
            for x in [
                v,
                v.next_up(),
                v.next_down(),
                v + 0.5,
                (v + 0.5).next_down(),
            ] {
                assert_eq!(round_level(x), x.round().clamp(0.0, 255.0) as u8, "{x}");
            }
            v += 0.125;
        }
        assert_eq!(round_level(f32::NAN), 0);
    }

    #[test]
    fn large_images_are_block_averaged() {
        let img = RgbImage::from_fn(1030, 600, |x, _| {
            let v = if x % 2 == 0 { 100 } else { 200 };
            image::Rgb([v, v, v])
        });
        let t = from_rgb(&img, 256);
        assert_eq!(t.dimensions(), (515, 300)); // k = 2
        assert!(t.pixels().all(|p| p.0[0] == 150), "{:?}", t.get_pixel(0, 0));
    }
}
