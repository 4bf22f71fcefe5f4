//! Pillow's greyscale conversion and Lanczos resampling, reproduced exactly,
//! so that the classic hashes equal Python `imagehash`'s (which calls
//! `image.convert("L").resize(size, Image.Resampling.LANCZOS)`).
//!
//! Both follow Pillow 13's C code (`libImaging/Convert.c`, `Resample.c`)
//! step for step, integer arithmetic included:
//! - [`to_luma`]: `convert("L")`, ITU-R 601 luma in 16-bit fixed point,
//!   `(19595 R + 38470 G + 7471 B + 0x8000) >> 16`, for each mode the image
//!   crate decodes to (Pillow's own per-mode rules: alpha ignored, 16-bit grey
//!   saturated at 255, 16-bit colour by its high byte);
//! - [`resize_lanczos`]: the separable two-pass resampler: coefficients in
//!   `f64`, rounded to 22-bit fixed point, each pass rounded to 8 bits, the
//!   pass order chosen as Pillow chooses it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use image::{DynamicImage, GrayImage};

/// Pillow's `PRECISION_BITS` for 8-bit images.
const PRECISION_BITS: u32 = 32 - 8 - 2;
/// The Lanczos window (`a = 3`).
const SUPPORT: f64 = 3.0;

/// Pillow's `convert("L")` of an image as Pillow would have opened it.
///
/// The image crate and Pillow open the same file into different modes; the
/// rules here give Pillow's result for each:
/// - 8-bit RGB, RGBA, palette (expanded to RGB(A) by the decoder): `L24`,
///   alpha ignored (Pillow's `rgb2l`, `p2l`);
/// - grey, grey + alpha: the grey channel (`la2l`);
/// - 16-bit grey (Pillow's `I;16`): saturated at 255 (`I16L_L`), so that any
///   value ≥ 256 is white — imagehash's hashes of such files are mostly white;
/// - 16-bit grey + alpha and 16-bit colour (which Pillow reads as 8-bit
///   `RGBA`/`RGB` from the high bytes): `L24` of the high bytes.
pub fn to_luma(image: &DynamicImage) -> GrayImage {
    let (w, h) = (image.width(), image.height());
    let grey: Vec<u8> = match image {
        DynamicImage::ImageLuma8(img) => return img.clone(),
        DynamicImage::ImageLumaA8(img) => img.as_raw().chunks_exact(2).map(|p| p[0]).collect(),
        DynamicImage::ImageRgb8(img) => rgb(img.as_raw(), 3, |v| v),
        DynamicImage::ImageRgba8(img) => rgb(img.as_raw(), 4, |v| v),
        DynamicImage::ImageLuma16(img) => img.as_raw().iter().map(|&v| v.min(255) as u8).collect(),
        DynamicImage::ImageLumaA16(img) => img
            .as_raw()
            .chunks_exact(2)
            .map(|p| (p[0] >> 8) as u8)
            .collect(),
        DynamicImage::ImageRgb16(img) => rgb(img.as_raw(), 3, |v| (v >> 8) as u8),
        DynamicImage::ImageRgba16(img) => rgb(img.as_raw(), 4, |v| (v >> 8) as u8),
        // Float formats are not produced by the decoders cssim enables.
        other => rgb(other.to_rgb8().as_raw(), 3, |v| v),
    };
    GrayImage::from_raw(w, h, grey).unwrap_or_else(|| GrayImage::new(w, h))
}

/// Pillow's `L24(rgb) >> 16`.
pub fn l24(r: u8, g: u8, b: u8) -> u8 {
    ((u32::from(r) * 19595 + u32::from(g) * 38470 + u32::from(b) * 7471 + 0x8000) >> 16) as u8
}

fn rgb<T: Copy>(raw: &[T], channels: usize, byte: impl Fn(T) -> u8) -> Vec<u8> {
    raw.chunks_exact(channels)
        .map(|p| l24(byte(p[0]), byte(p[1]), byte(p[2])))
        .collect()
}

/// Pillow's `sinc_filter`.
fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    let x = x * std::f64::consts::PI;
    x.sin() / x
}

/// Pillow's `lanczos_filter`: a sinc truncated to `[-3, 3)`, windowed by a
/// sinc three times wider.
fn lanczos(x: f64) -> f64 {
    if (-SUPPORT..SUPPORT).contains(&x) {
        sinc(x) * sinc(x / 3.0)
    } else {
        0.0
    }
}

/// How many (input, output) size pairs [`Coeffs::cached`] keeps a thread
/// (one pair is at most a few hundred KB for the hashes' small outputs).
const COEFFS_CACHED: usize = 64;

/// One axis's resampling coefficients (Pillow's `precompute_coeffs` followed
/// by `normalize_coeffs_8bpc`): for each output pixel the first input pixel,
/// the number of input pixels and their fixed-point weights.
struct Coeffs {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    weights: Vec<i32>,
}

impl Coeffs {
    fn new(in_size: u32, out_size: u32) -> Coeffs {
        // `box` is (0, 0, in_size): in0 = 0, in1 = in_size (floats, exact).
        let scale = f64::from(in_size) / f64::from(out_size);
        let filterscale = scale.max(1.0);
        let support = SUPPORT * filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let inv_filterscale = 1.0 / filterscale;
        let mut bounds = Vec::with_capacity(out_size as usize);
        let mut weights = vec![0i32; out_size as usize * ksize];
        let mut k = vec![0f64; ksize];
        for xx in 0..out_size as usize {
            let center = (xx as f64 + 0.5) * scale;
            // C's (int) cast truncates towards zero, as `as` does.
            let xmin = ((center - support + 0.5) as i64).max(0);
            let xmax = ((center + support + 0.5) as i64).min(i64::from(in_size)) - xmin;
            let n = xmax.max(0) as usize;
            let mut ww = 0.0;
            for (x, slot) in k.iter_mut().enumerate().take(n) {
                let w = lanczos(((x as i64 + xmin) as f64 - center + 0.5) * inv_filterscale);
                *slot = w;
                ww += w;
            }
            for (x, &w) in k.iter().enumerate().take(n) {
                let w = if ww != 0.0 { w / ww } else { w };
                let scaled = w * f64::from(1u32 << PRECISION_BITS);
                weights[xx * ksize + x] = if w < 0.0 {
                    (-0.5 + scaled) as i32
                } else {
                    (0.5 + scaled) as i32
                };
            }
            bounds.push((xmin as usize, n));
        }
        Coeffs {
            ksize,
            bounds,
            weights,
        }
    }

    /// The coefficients for `in_size` → `out_size`, computed once per
    /// thread and size pair: every hash of a corpus of one image size
    /// resizes with the same ones, and computing them (a `sin` per tap) was
    /// about 7% of an `eval rates` re-run. The values are those of
    /// [`Coeffs::new`], so the resize is unchanged bit for bit. At most
    /// [`COEFFS_CACHED`] pairs are kept a thread (the lot is dropped when
    /// full, so a corpus of many sizes costs what it did before).
    fn cached(in_size: u32, out_size: u32) -> Rc<Coeffs> {
        thread_local! {
            static CACHE: RefCell<HashMap<(u32, u32), Rc<Coeffs>>> = RefCell::new(HashMap::new());
        }
        CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if let Some(c) = cache.get(&(in_size, out_size)) {
                return Rc::clone(c);
            }
            if cache.len() >= COEFFS_CACHED {
                cache.clear();
            }
            let c = Rc::new(Coeffs::new(in_size, out_size));
            cache.insert((in_size, out_size), Rc::clone(&c));
            c
        })
    }

    /// The weighted sum of `n` samples, rounded and clipped to 8 bits as
    /// Pillow's `clip8` does.
    fn apply(&self, out: usize, sample: impl Fn(usize) -> u8) -> u8 {
        let (start, n) = self.bounds[out];
        let k = &self.weights[out * self.ksize..out * self.ksize + n];
        let mut ss: i64 = 1 << (PRECISION_BITS - 1);
        for (i, &w) in k.iter().enumerate() {
            ss += i64::from(sample(start + i)) * i64::from(w);
        }
        (ss >> PRECISION_BITS).clamp(0, 255) as u8
    }
}

/// The weights [`resize_lanczos`] applies along one axis of `in_size`
/// pixels resized to `out_size`: per output pixel, its first input pixel and
/// the fixed-point weights as fractions (for `attack`'s linear model, which
/// ignores the 8-bit rounding between and after the passes).
pub(crate) fn lanczos_weights(in_size: u32, out_size: u32) -> Vec<(usize, Vec<f64>)> {
    if in_size == out_size {
        return (0..in_size as usize).map(|i| (i, vec![1.0])).collect();
    }
    let c = Coeffs::new(in_size, out_size);
    let one = f64::from(1u32 << PRECISION_BITS);
    c.bounds
        .iter()
        .enumerate()
        .map(|(xx, &(start, n))| {
            let w = &c.weights[xx * c.ksize..xx * c.ksize + n];
            (start, w.iter().map(|&v| f64::from(v) / one).collect())
        })
        .collect()
}

/// Pillow's `Image.resize((width, height), Image.Resampling.LANCZOS)` of a
/// grey image (`ImagingResampleInner` with the default box).
///
/// # Panics
/// If `width` or `height` is 0.
pub fn resize_lanczos(src: &GrayImage, width: u32, height: u32) -> GrayImage {
    assert!(width > 0 && height > 0, "resize to an empty image");
    let (in_w, in_h) = src.dimensions();
    if (in_w, in_h) == (width, height) || in_w == 0 || in_h == 0 {
        return if in_w == 0 || in_h == 0 {
            GrayImage::new(width, height)
        } else {
            src.clone()
        };
    }
    let need_h = width != in_w;
    let need_v = height != in_h;
    let (dy, dx) = (
        i64::from(in_h) - i64::from(height),
        i64::from(in_w) - i64::from(width),
    );
    // "If height is being scaled down more than twice the amount the width
    // is, run the vertical pass first" — the order changes the rounding.
    let horizontal_first = !(dy > 0 && dy > dx * 2);
    let vert = Coeffs::cached(in_h, height);
    let horiz = Coeffs::cached(in_w, width);
    if horizontal_first {
        let mut img = src.clone();
        let mut row_offset = 0;
        if need_h {
            // Only the rows the vertical pass reads.
            let first = vert.bounds[0].0;
            let last = vert.bounds[height as usize - 1];
            let last = last.0 + last.1;
            img = horizontal(src, &horiz, width, first, (last - first) as u32);
            row_offset = first;
        }
        if need_v {
            img = vertical(&img, &vert, height, row_offset);
        }
        img
    } else {
        let mut img = src.clone();
        if need_v {
            img = vertical(&img, &vert, height, 0);
        }
        if need_h {
            let rows = img.height();
            img = horizontal(&img, &horiz, width, 0, rows);
        }
        img
    }
}

/// The horizontal pass over `rows` rows of `src` from row `first`.
fn horizontal(src: &GrayImage, c: &Coeffs, width: u32, first: usize, rows: u32) -> GrayImage {
    let in_w = src.width() as usize;
    let raw = src.as_raw();
    let mut out = Vec::with_capacity(width as usize * rows as usize);
    for y in 0..rows as usize {
        let line = &raw[(first + y) * in_w..(first + y + 1) * in_w];
        out.extend((0..width as usize).map(|xx| c.apply(xx, |x| line[x])));
    }
    GrayImage::from_raw(width, rows, out).unwrap_or_else(|| GrayImage::new(width, rows))
}

/// The vertical pass; the coefficients' row indices are shifted down by
/// `row_offset` (the rows the horizontal pass skipped).
fn vertical(src: &GrayImage, c: &Coeffs, height: u32, row_offset: usize) -> GrayImage {
    let w = src.width() as usize;
    let raw = src.as_raw();
    let mut out = vec![0u8; w * height as usize];
    for yy in 0..height as usize {
        for xx in 0..w {
            out[yy * w + xx] = c.apply(yy, |y| raw[(y - row_offset) * w + xx]);
        }
    }
    GrayImage::from_raw(w as u32, height, out).unwrap_or_else(|| GrayImage::new(w as u32, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luma_is_pillows_fixed_point_601() {
        // Pillow: Image.new("RGB", (1, 1), c).convert("L").getpixel((0, 0))
        assert_eq!(l24(255, 0, 0), 76);
        assert_eq!(l24(0, 255, 0), 150);
        assert_eq!(l24(0, 0, 255), 29);
        assert_eq!(l24(255, 255, 255), 255);
        assert_eq!(l24(9, 9, 9), 9);
    }

    #[test]
    fn sixteen_bit_grey_saturates_as_pillows_i16_to_l() {
        let img =
            image::ImageBuffer::<image::Luma<u16>, _>::from_raw(3, 1, vec![7, 255, 256]).unwrap();
        assert_eq!(
            to_luma(&DynamicImage::ImageLuma16(img)).as_raw(),
            &[7, 255, 255]
        );
    }

    #[test]
    fn a_flat_image_stays_flat_and_same_size_is_a_copy() {
        let flat = GrayImage::from_pixel(37, 23, image::Luma([200]));
        let small = resize_lanczos(&flat, 8, 8);
        assert!(small.pixels().all(|p| p.0[0] == 200));
        let g = GrayImage::from_fn(5, 4, |x, y| image::Luma([(x * 40 + y) as u8]));
        assert_eq!(resize_lanczos(&g, 5, 4), g);
    }

    #[test]
    fn cached_coefficients_are_the_computed_ones() {
        for (i, o) in [(256, 8), (256, 9), (37, 32), (5, 12)] {
            let fresh = Coeffs::new(i, o);
            for _ in 0..2 {
                let c = Coeffs::cached(i, o);
                assert_eq!(c.ksize, fresh.ksize);
                assert_eq!(c.bounds, fresh.bounds);
                assert_eq!(c.weights, fresh.weights);
            }
        }
    }
}
