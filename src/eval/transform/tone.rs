//! Edits that change pixel values in place: brightness, contrast, gamma,
//! grayscale, and the seeded ones, noise and overlay.

use image::{Rgb, RgbImage};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

/// Maps every channel through a 256-entry table.
fn map_channels(image: &RgbImage, table: &[u8; 256]) -> RgbImage {
    let mut out = image.clone();
    for c in out.iter_mut() {
        *c = table[usize::from(*c)];
    }
    out
}

fn table(f: impl Fn(f64) -> f64) -> [u8; 256] {
    std::array::from_fn(|v| f(v as f64).round().clamp(0.0, 255.0) as u8)
}

/// Adds `delta` to every channel, clamped.
pub(super) fn brightness(image: &RgbImage, delta: i16) -> RgbImage {
    let mut out = image.clone();
    for c in out.iter_mut() {
        *c = (i16::from(*c) + delta).clamp(0, 255) as u8;
    }
    out
}

/// Scales each channel's distance from mid-grey (127.5) by `factor`.
pub(super) fn contrast(image: &RgbImage, factor: f32) -> RgbImage {
    let f = f64::from(factor);
    map_channels(image, &table(|v| (v - 127.5) * f + 127.5))
}

/// `255·(v/255)^(1/g)`.
pub(super) fn gamma(image: &RgbImage, g: f32) -> RgbImage {
    let e = 1.0 / f64::from(g);
    map_channels(image, &table(|v| 255.0 * (v / 255.0).powf(e)))
}

/// Luma (the `image` crate's Rec. 709 weights) in all three channels.
pub(super) fn grayscale(image: &RgbImage) -> RgbImage {
    let luma = image::imageops::grayscale(image);
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let l = luma.get_pixel(x, y).0[0];
        Rgb([l, l, l])
    })
}

/// A uniform draw in (0, 1], never 0 (so its logarithm is finite).
fn unit(rng: &mut ChaCha8Rng) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
}

/// Adds N(0, `sigma`²) to every channel (Box–Muller from ChaCha8 seeded
/// with `seed`), rounded and clamped.
pub(super) fn noise(image: &RgbImage, sigma: f32, seed: u64) -> RgbImage {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sigma = f64::from(sigma);
    let mut out = image.clone();
    let mut spare: Option<f64> = None;
    for c in out.iter_mut() {
        let z = match spare.take() {
            Some(z) => z,
            None => {
                let (u1, u2) = (unit(&mut rng), unit(&mut rng));
                let r = (-2.0 * u1.ln()).sqrt();
                let (s, co) = (std::f64::consts::TAU * u2).sin_cos();
                spare = Some(r * s);
                r * co
            }
        };
        *c = (f64::from(*c) + z * sigma).round().clamp(0.0, 255.0) as u8;
    }
    out
}

/// An opaque box of the image's aspect covering `fraction` of its area, at
/// a position and in a colour drawn from `seed`.
pub(super) fn overlay(image: &RgbImage, fraction: f32, seed: u64) -> RgbImage {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (w, h) = image.dimensions();
    let side = f64::from(fraction).sqrt();
    let bw = ((f64::from(w) * side).round() as u32).clamp(1, w);
    let bh = ((f64::from(h) * side).round() as u32).clamp(1, h);
    let x0 = (rng.next_u64() % u64::from(w - bw + 1)) as u32;
    let y0 = (rng.next_u64() % u64::from(h - bh + 1)) as u32;
    let [r, g, b, _] = rng.next_u32().to_le_bytes();
    let mut out = image.clone();
    for y in y0..y0 + bh {
        for x in x0..x0 + bw {
            out.put_pixel(x, y, Rgb([r, g, b]));
        }
    }
    out
}
