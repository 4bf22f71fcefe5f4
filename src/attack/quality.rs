//! How visible a change is: PSNR over the RGB channels and SSIM on luma.
//!
//! - PSNR: `10 log10(255² / MSE)`, the mean squared error over every
//!   channel of every pixel; identical images give `+∞`.
//! - SSIM (Wang, Bovik, Sheikh and Simoncelli 2004, as their reference
//!   `ssim_index.m`): luma `0.299 R + 0.587 G + 0.114 B`, local statistics
//!   under an 11×11 Gaussian window of σ = 1.5, `K1 = 0.01`, `K2 = 0.03`,
//!   `L = 255`, averaged over the positions where the window fits whole
//!   ("valid"); images smaller than the window are compared as one window.

use image::RgbImage;

/// Peak signal-to-noise ratio of `b` against `a`, in dB (`+∞` when equal).
///
/// # Panics
/// If the images differ in size.
pub fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(
        a.dimensions(),
        b.dimensions(),
        "PSNR of images of different sizes"
    );
    let n = a.as_raw().len();
    if n == 0 {
        return f64::INFINITY;
    }
    let sse: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| {
            let d = i64::from(x) - i64::from(y);
            (d * d) as u64
        })
        .sum();
    if sse == 0 {
        return f64::INFINITY;
    }
    let mse = sse as f64 / n as f64;
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

const WINDOW: usize = 11;
const SIGMA: f64 = 1.5;

fn luma(img: &RgbImage) -> Vec<f64> {
    img.pixels()
        .map(|p| 0.299 * f64::from(p.0[0]) + 0.587 * f64::from(p.0[1]) + 0.114 * f64::from(p.0[2]))
        .collect()
}

fn gaussian() -> [f64; WINDOW] {
    let mut g = [0f64; WINDOW];
    let c = (WINDOW / 2) as f64;
    for (i, v) in g.iter_mut().enumerate() {
        let x = i as f64 - c;
        *v = (-x * x / (2.0 * SIGMA * SIGMA)).exp();
    }
    let s: f64 = g.iter().sum();
    g.map(|v| v / s)
}

/// Separable "valid" filtering of a `w × h` plane with `g`.
fn filter_valid(p: &[f64], w: usize, h: usize, g: &[f64]) -> Vec<f64> {
    let k = g.len();
    let (ow, oh) = (w + 1 - k, h + 1 - k);
    let mut rows = vec![0f64; ow * h];
    for y in 0..h {
        let line = &p[y * w..(y + 1) * w];
        for x in 0..ow {
            rows[y * ow + x] = g.iter().zip(&line[x..x + k]).map(|(a, b)| a * b).sum();
        }
    }
    let mut out = vec![0f64; ow * oh];
    for y in 0..oh {
        for (t, &gt) in g.iter().enumerate() {
            let src = &rows[(y + t) * ow..(y + t + 1) * ow];
            for (o, s) in out[y * ow..(y + 1) * ow].iter_mut().zip(src) {
                *o += gt * s;
            }
        }
    }
    out
}

/// Mean SSIM of `b` against `a` on luma (1 when equal).
///
/// # Panics
/// If the images differ in size.
pub fn ssim(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(
        a.dimensions(),
        b.dimensions(),
        "SSIM of images of different sizes"
    );
    let (w, h) = (a.width() as usize, a.height() as usize);
    if w == 0 || h == 0 {
        return 1.0;
    }
    let (x, y) = (luma(a), luma(b));
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let index = |mx: f64, my: f64, sxx: f64, syy: f64, sxy: f64| {
        let (vx, vy, cxy) = (sxx - mx * mx, syy - my * my, sxy - mx * my);
        ((2.0 * mx * my + c1) * (2.0 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    };
    if w < WINDOW || h < WINDOW {
        let n = (w * h) as f64;
        let mean = |v: &[f64]| v.iter().sum::<f64>() / n;
        let prod = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(p, q)| p * q).sum::<f64>() / n;
        return index(mean(&x), mean(&y), prod(&x, &x), prod(&y, &y), prod(&x, &y));
    }
    let g = gaussian();
    let sq = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(p, q)| p * q).collect::<Vec<_>>();
    let mx = filter_valid(&x, w, h, &g);
    let my = filter_valid(&y, w, h, &g);
    let sxx = filter_valid(&sq(&x, &x), w, h, &g);
    let syy = filter_valid(&sq(&y, &y), w, h, &g);
    let sxy = filter_valid(&sq(&x, &y), w, h, &g);
    let total: f64 = (0..mx.len())
        .map(|i| index(mx[i], my[i], sxx[i], syy[i], sxy[i]))
        .sum();
    total / mx.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texture(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let v = ((x * 7 + y * 13) % 200 + 20) as u8;
            image::Rgb([v, v / 2 + 40, 200 - v / 2])
        })
    }

    #[test]
    fn identical_images_have_infinite_psnr_and_ssim_one() {
        let a = texture(40, 30);
        assert_eq!(psnr(&a, &a), f64::INFINITY);
        assert!((ssim(&a, &a) - 1.0).abs() < 1e-12);
        let tiny = texture(5, 4);
        assert!((ssim(&tiny, &tiny) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_constant_offset_gives_the_closed_form_psnr() {
        // Every channel +5 (no clamping in this texture): MSE = 25, so
        // PSNR = 10 log10(255² / 25) = 20 log10(51) = 34.1514 dB.
        let a = texture(40, 30);
        let b = RgbImage::from_fn(40, 30, |x, y| {
            image::Rgb(a.get_pixel(x, y).0.map(|c| c + 5))
        });
        let want = 20.0 * 51f64.log10();
        assert!((psnr(&a, &b) - want).abs() < 1e-9, "{}", psnr(&a, &b));
        assert!((want - 34.1514).abs() < 1e-4);
        // SSIM: a shift of the mean only lowers the luminance term a little.
        let s = ssim(&a, &b);
        assert!(s > 0.99 && s < 1.0, "{s}");
    }

    #[test]
    fn noise_lowers_ssim_more_than_a_shift() {
        let a = texture(64, 64);
        let mut x = 12345u32;
        let noisy = RgbImage::from_fn(64, 64, |px, py| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let n = (x % 41) as i32 - 20;
            image::Rgb(
                a.get_pixel(px, py)
                    .0
                    .map(|c| (i32::from(c) + n).clamp(0, 255) as u8),
            )
        });
        assert!(ssim(&a, &noisy) < 0.9, "{}", ssim(&a, &noisy));
    }
}
