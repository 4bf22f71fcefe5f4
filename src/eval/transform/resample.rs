//! `image::imageops::resize` of an RGB image, reproduced pixel for pixel
//! and made fast.
//!
//! The edits (`resize:`, `size:`, `aspect:`) and the demo page's previews
//! resize with the `image` crate's separable resampler. Its results are
//! what every cached edit, pinned figure and published table was computed
//! from, so they must not change; but it reads and writes one generic pixel
//! at a time (with a fourth, alpha channel for RGB), and its second pass
//! walks the intermediate image column by column: 109 ms for the demo's
//! 2-MP photo halved. This module computes the same single-precision
//! operations in the same order for every output value, so the bytes are
//! the same (tested against `image` on many sizes, both filters, up and
//! down); what changes is the layout:
//! - output rows are made in blocks of [`ROWS`]: the vertical pass adds
//!   whole input rows into rows of accumulators (each accumulator still
//!   sees `t += p × w` for the taps in order), a transpose puts each
//!   column's values side by side, and the horizontal pass computes an
//!   output value for all the block's rows at once; a block's intermediate
//!   rows stay in the cache between the passes;
//! - the weights of every output row and column are computed once, by
//!   `image`'s code;
//! - the loops compile for AVX2 where the processor has it (`pulp`'s
//!   run-time detection), and the blocks run on rayon's threads.
//!
//! No fused multiply-add is formed (Rust does not contract `a * b + c`), and
//! the clamp and rounding are `image`'s: clamp to [0, 255], round half away
//! from zero.

use image::RgbImage;
use rayon::prelude::*;

/// A separable filter: its kernel and support, as `image` defines them.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Filter {
    /// `FilterType::Triangle` (support 1).
    Triangle,
    /// `FilterType::Lanczos3` (support 3).
    Lanczos3,
}

impl Filter {
    fn support(self) -> f32 {
        match self {
            Filter::Triangle => 1.0,
            Filter::Lanczos3 => 3.0,
        }
    }

    fn kernel(self, x: f32) -> f32 {
        match self {
            Filter::Triangle => {
                if x.abs() < 1.0 {
                    1.0 - x.abs()
                } else {
                    0.0
                }
            }
            Filter::Lanczos3 => {
                if x.abs() < 3.0 {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

fn sinc(t: f32) -> f32 {
    let a = t * std::f32::consts::PI;
    if t == 0.0 { 1.0 } else { a.sin() / a }
}

/// The taps of one output position: its first input position and the
/// normalised weights, in `image`'s order.
struct Taps {
    first: usize,
    weights: Vec<f32>,
}

/// The taps of every output position along an axis of `size` inputs
/// resampled to `new_size` (`image`'s `vertical_sample` and
/// `horizontal_sample` compute them alike).
fn taps(filter: Filter, size: u32, new_size: u32) -> Vec<Taps> {
    let ratio = size as f32 / new_size as f32;
    let sratio = if ratio < 1.0 { 1.0 } else { ratio };
    let src_support = filter.support() * sratio;
    (0..new_size)
        .map(|out| {
            let input = (out as f32 + 0.5) * ratio;
            let left = ((input - src_support).floor() as i64).clamp(0, i64::from(size) - 1);
            let right = ((input + src_support).ceil() as i64).clamp(left + 1, i64::from(size));
            let input = input - 0.5;
            let mut weights = Vec::with_capacity((right - left) as usize);
            let mut sum = 0.0;
            for i in left..right {
                let w = filter.kernel((i as f32 - input) / sratio);
                weights.push(w);
                sum += w;
            }
            for w in &mut weights {
                *w /= sum;
            }
            Taps {
                first: left as usize,
                weights,
            }
        })
        .collect()
}

/// Output rows computed together: the vertical pass makes [`ROWS`] rows of
/// the intermediate image, a transpose stores each column's [`ROWS`] values
/// side by side (one 64-byte line), and the horizontal pass computes each
/// output value of those rows at once (two AVX2 vectors of accumulators).
const ROWS: usize = 16;

/// `image::imageops::resize(image, width, height, filter)`, the same bytes.
pub(crate) fn resize(image: &RgbImage, width: u32, height: u32, filter: Filter) -> RgbImage {
    let (w, h) = image.dimensions();
    if w == 0 || h == 0 {
        return RgbImage::new(width, height);
    }
    if (width, height) == (w, h) {
        return image.clone();
    }
    if width == 0 || height == 0 {
        return RgbImage::new(width, height);
    }
    let down = taps(filter, h, height);
    let across = taps(filter, w, width);
    let row_bytes = width as usize * 3;
    let mut out = vec![0u8; row_bytes * height as usize];
    out.par_chunks_mut(ROWS * row_bytes)
        .zip(down.par_chunks(ROWS))
        .for_each(|(out, down)| {
            simd(Block {
                src: image.as_raw(),
                stride: w as usize * 3,
                down,
                across: &across,
                out,
            })
        });
    RgbImage::from_raw(width, height, out).expect("a buffer of the image's size")
}

/// Runs `job` compiled for AVX2 where the processor has it (detected at
/// run time), else for the baseline target: the loops are the same, only
/// the vector width differs, and no operation changes order.
fn simd<J: pulp::NullaryFnOnce<Output = ()>>(job: J) {
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        return simd.vectorize(job);
    }
    job.call()
}

/// Up to [`ROWS`] output rows, both passes.
struct Block<'a> {
    /// The input image's bytes, `stride` a row.
    src: &'a [u8],
    stride: usize,
    /// The vertical taps of these output rows.
    down: &'a [Taps],
    /// The horizontal taps of every output column.
    across: &'a [Taps],
    /// These output rows.
    out: &'a mut [u8],
}

impl pulp::NullaryFnOnce for Block<'_> {
    type Output = ();

    #[inline(always)]
    fn call(self) {
        let len = self.stride;
        // The vertical pass: each intermediate row is the input rows it
        // reads times their weights, added in tap order.
        let mut rows = vec![0f32; len * ROWS];
        for (acc, t) in rows.chunks_exact_mut(len).zip(self.down) {
            for (i, &weight) in t.weights.iter().enumerate() {
                let row = &self.src[(t.first + i) * len..][..len];
                for (a, &p) in acc.iter_mut().zip(row) {
                    *a += f32::from(p) * weight;
                }
            }
        }
        // Transposed: each column's values of the block's rows side by side.
        let mut columns = vec![[0f32; ROWS]; len];
        for (r, row) in rows.chunks_exact(len).enumerate() {
            for (column, &v) in columns.iter_mut().zip(row) {
                column[r] = v;
            }
        }
        // The horizontal pass, every row of the block at once.
        let row_bytes = self.across.len() * 3;
        for (x, t) in self.across.iter().enumerate() {
            for c in 0..3 {
                let mut acc = [0f32; ROWS];
                for (i, &weight) in t.weights.iter().enumerate() {
                    let column = &columns[(t.first + i) * 3 + c];
                    for (a, &v) in acc.iter_mut().zip(column) {
                        *a += v * weight;
                    }
                }
                for (row, &a) in self.out.chunks_exact_mut(row_bytes).zip(&acc) {
                    row[x * 3 + c] = to_byte(a);
                }
            }
        }
    }
}

/// `image`'s clamp to [0, 255], then its rounding (half away from zero),
/// without a call to `roundf`: for `t` in [0, 255], `t - trunc(t)` is exact.
#[inline(always)]
fn to_byte(t: f32) -> u8 {
    let t = t.clamp(0.0, 255.0);
    let whole = t as u8;
    if t - f32::from(whole) >= 0.5 {
        whole + 1
    } else {
        whole
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::imageops::{self, FilterType};

    /// A deterministic image with edges, gradients and noise.
    fn picture(w: u32, h: u32, seed: u32) -> RgbImage {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        RgbImage::from_fn(w, h, |x, y| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = (state & 0x3f) as u8;
            let edge: u8 = if (x / 3 + y / 5) % 2 == 0 { 180 } else { 20 };
            image::Rgb([
                edge.wrapping_add(noise),
                ((x * 255) / w.max(1)) as u8,
                ((y * 255) / h.max(1)) as u8 ^ noise,
            ])
        })
    }

    fn same_as_image(w: u32, h: u32, nw: u32, nh: u32) {
        let img = picture(w, h, w * 31 + h);
        for (ours, theirs) in [
            (Filter::Lanczos3, FilterType::Lanczos3),
            (Filter::Triangle, FilterType::Triangle),
        ] {
            let expected = imageops::resize(&img, nw, nh, theirs);
            let got = resize(&img, nw, nh, ours);
            assert_eq!(got.dimensions(), expected.dimensions());
            assert!(
                got.as_raw() == expected.as_raw(),
                "{w}×{h} → {nw}×{nh} with {ours:?} differs from image's"
            );
        }
    }

    #[test]
    fn the_same_bytes_as_image_down_up_and_sideways() {
        for (w, h, nw, nh) in [
            (1, 1, 1, 2),
            (1, 1, 3, 3),
            (2, 3, 1, 1),
            (7, 5, 3, 2),
            (17, 13, 34, 26),
            (64, 48, 32, 24),
            (65, 47, 33, 23),
            (100, 80, 13, 200),
            (173, 115, 87, 58),
            (200, 150, 199, 151),
            (31, 240, 240, 31),
            (300, 200, 37, 41),
        ] {
            same_as_image(w, h, nw, nh);
        }
    }

    #[test]
    fn the_same_bytes_as_image_on_real_photos() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pdq/images");
        for (file, sizes) in [
            ("jpeg_retina_1411.jpg", [(706, 706), (523, 1411)]),
            ("jpeg_chelsea_q85_420.jpg", [(902, 600), (97, 61)]),
        ] {
            let photo = image::open(dir.join(file)).expect(file).into_rgb8();
            for (nw, nh) in sizes {
                let got = resize(&photo, nw, nh, Filter::Lanczos3);
                let expected = imageops::resize(&photo, nw, nh, FilterType::Lanczos3);
                assert!(got.as_raw() == expected.as_raw(), "{file} → {nw}×{nh}");
            }
        }
    }

    #[test]
    fn bytes_are_clamped_and_rounded_as_image_does() {
        let image_s = |t: f32| t.clamp(0.0, 255.0).round() as u8;
        for k in -4096..=(256 * 4096) {
            let t = k as f32 / 4096.0;
            // The halves and their neighbours, where rounding can go wrong.
            for t in [t, t.next_up(), t.next_down()] {
                assert_eq!(to_byte(t), image_s(t), "{t}");
            }
        }
        assert_eq!(to_byte(1e9), 255);
        assert_eq!(to_byte(-1e9), 0);
    }

    #[test]
    fn the_same_size_and_empty_images_are_image_s_too() {
        let img = picture(9, 4, 1);
        assert_eq!(resize(&img, 9, 4, Filter::Lanczos3), img);
        let empty = RgbImage::new(0, 5);
        assert_eq!(
            resize(&empty, 3, 2, Filter::Lanczos3),
            imageops::resize(&empty, 3, 2, FilterType::Lanczos3)
        );
    }
}
