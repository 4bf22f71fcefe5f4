//! The hashes as the attack sees them: linear in the pixels up to the
//! median.
//!
//! Both hashes threshold a block of DCT coefficients of a downsampled grey
//! image, and every step before the threshold is linear (up to rounding):
//!
//! - PDQ: luminance → two box filters along each axis (a tent) → the pixel at
//!   each of 64×64 cell centres → `D · A · Dᵀ`, 16×16;
//! - pHash (imagehash 4.3): Pillow's grey → Lanczos resize to 32×32 →
//!   unnormalised DCT-II, top-left 8×8.
//!
//! Each axis is its own linear map, so coefficient `(i, j)` of an image `Y`
//! (grey, `rows × cols`) is `U[i] · Y · V[j]ᵀ`, with `U` (`k × rows`) the DCT
//! rows composed with the filter and sampling down the columns, `V`
//! (`k × cols`) the same across the rows. The perturbation is built from
//! smooth cosines `Su`, `Sv` (the DCT rows continued over the full image,
//! see [`smooth`]): `δ = Suᵀ α Sv` changes the block by `(U Suᵀ) α (V Svᵀ)ᵀ`,
//! so `α = (U Suᵀ)⁻¹ Δ (V Svᵀ)⁻ᵀ` gives exactly the change `Δ` (but for
//! rounding and clamping, which the attack's iterations absorb) with a
//! low-frequency perturbation spread over the whole image. The coefficients the attack steers by are the
//! real ones (the PDQ block as `hash::pdq` computes it, pHash's from
//! Pillow's real 32×32 resize); success is decided by the real hashes.

use image::{DynamicImage, RgbImage};

use crate::hash::{Algorithm, Digest, classic, pdq, pillow};

/// One algorithm's linear model for images of one size.
pub(crate) struct Model {
    algorithm: Algorithm,
    /// The block's side: 16 (PDQ) or 8 (pHash).
    pub k: usize,
    rows: usize,
    cols: usize,
    /// The smooth basis the perturbation is made of: `k × rows`, `k × cols`.
    su: Vec<f64>,
    sv: Vec<f64>,
    /// `(U Suᵀ)⁻¹` and `(V Svᵀ)⁻¹`: from a wanted change of the block to
    /// the weights of the smooth basis.
    mu_inv: Vec<f64>,
    mv_inv: Vec<f64>,
    /// The pixel cost of a unit change of each row and column frequency.
    cost_u: Vec<f64>,
    cost_v: Vec<f64>,
}

/// pHash's grid and the side of the image its DCT reads.
const PHASH_N: usize = 8;
const PHASH_BIG: usize = 32;

impl Model {
    /// The model of `algorithm` (PDQ or pHash) for `cols × rows` images.
    pub fn new(algorithm: Algorithm, cols: usize, rows: usize) -> Option<Model> {
        let (k, u, v) = match algorithm {
            Algorithm::Pdq => (16, pdq_axis(rows), pdq_axis(cols)),
            Algorithm::Phash => (PHASH_N, phash_axis(rows), phash_axis(cols)),
            _ => return None,
        };
        let (su, sv) = (smooth(algorithm, rows), smooth(algorithm, cols));
        let mu_inv = invert(&cross(&u, &su, k, rows), k)?;
        let mv_inv = invert(&cross(&v, &sv, k, cols), k)?;
        let cost_u = unit_costs(&mu_inv, &cross(&su, &su, k, rows), k);
        let cost_v = unit_costs(&mv_inv, &cross(&sv, &sv, k, cols), k);
        Some(Model {
            algorithm,
            k,
            rows,
            cols,
            su,
            sv,
            mu_inv,
            mv_inv,
            cost_u,
            cost_v,
        })
    }

    /// The modelled hash.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The number of hash bits (`k²`).
    pub fn bits(&self) -> usize {
        self.k * self.k
    }

    /// The real coefficients of `image`, bit order (row-major over the block).
    pub fn coefficients(&self, image: &RgbImage) -> Vec<f64> {
        match self.algorithm {
            Algorithm::Pdq => match pdq::dct_block(image) {
                Some((block, _)) => block.iter().flatten().map(|&v| f64::from(v)).collect(),
                None => vec![0.0; 256],
            },
            _ => {
                let grey = pillow::to_luma(&DynamicImage::ImageRgb8(image.clone()));
                let small = pillow::resize_lanczos(&grey, PHASH_BIG as u32, PHASH_BIG as u32);
                let c = phash_cosines();
                let px = small.as_raw();
                // First along the columns (rows k), then along the rows.
                let mut first = vec![0f64; PHASH_N * PHASH_BIG];
                for kk in 0..PHASH_N {
                    for i in 0..PHASH_BIG {
                        let w = c[kk * PHASH_BIG + i];
                        for j in 0..PHASH_BIG {
                            first[kk * PHASH_BIG + j] += w * f64::from(px[i * PHASH_BIG + j]);
                        }
                    }
                }
                let mut out = Vec::with_capacity(64);
                for kk in 0..PHASH_N {
                    for l in 0..PHASH_N {
                        let row = &first[kk * PHASH_BIG..(kk + 1) * PHASH_BIG];
                        let cl = &c[l * PHASH_BIG..(l + 1) * PHASH_BIG];
                        out.push(row.iter().zip(cl).map(|(a, b)| a * b).sum());
                    }
                }
                out
            }
        }
    }

    /// The value the hash compares against: PDQ's lower median (Torben's,
    /// for an even count), numpy's median for pHash.
    pub fn median(&self, coefficients: &[f64]) -> f64 {
        let mut s = coefficients.to_vec();
        s.sort_by(f64::total_cmp);
        let m = s.len() / 2;
        match self.algorithm {
            Algorithm::Pdq => s[m - 1],
            _ => (s[m - 1] + s[m]) / 2.0,
        }
    }

    /// The real hash of `image` (and PDQ's quality).
    pub fn hash(&self, image: &RgbImage) -> (Digest, Option<pdq::Quality>) {
        match self.algorithm {
            Algorithm::Pdq => {
                let p = pdq::hash_image(image);
                (p.hash.to_digest(), Some(p.quality))
            }
            _ => {
                let grey = pillow::to_luma(&DynamicImage::ImageRgb8(image.clone()));
                let d = classic::Hashers::default()
                    .hash_grey(&grey, Algorithm::Phash)
                    .unwrap_or_else(|| Digest::new(Algorithm::Phash, vec![0; 8]));
                (d, None)
            }
        }
    }

    /// How much moving coefficient `b` by one unit costs in the pixels
    /// (squared L2), ignoring the coupling between coefficients (small:
    /// the rows of `U` and `V` are nearly orthogonal).
    pub fn unit_cost(&self, b: usize) -> f64 {
        let (i, j) = (b / self.k, b % self.k);
        self.cost_u[i] * self.cost_v[j]
    }

    /// The smooth grey perturbation (`rows × cols`, row-major) that moves
    /// the coefficients by `delta` (bit order) in the linear model.
    pub fn perturbation(&self, delta: &[f64]) -> Vec<f32> {
        let k = self.k;
        // Coefficients change by (U Suᵀ) α (V Svᵀ)ᵀ: α = Mu⁻¹ Δ Mv⁻ᵀ.
        let mv_inv_t = transpose(&self.mv_inv, k);
        let a = matmul(&matmul(&self.mu_inv, delta, k, k, k), &mv_inv_t, k, k, k);
        // P = Suᵀ α: rows × k.
        let mut p = vec![0f64; self.rows * k];
        for i in 0..k {
            for r in 0..self.rows {
                let uir = self.su[i * self.rows + r];
                if uir == 0.0 {
                    continue;
                }
                for j in 0..k {
                    p[r * k + j] += uir * a[i * k + j];
                }
            }
        }
        let mut out = vec![0f32; self.rows * self.cols];
        for (r, row) in out.chunks_exact_mut(self.cols).enumerate() {
            let pr = &p[r * k..(r + 1) * k];
            for (j, &pj) in pr.iter().enumerate() {
                let vj = &self.sv[j * self.cols..(j + 1) * self.cols];
                for (o, &x) in row.iter_mut().zip(vj) {
                    *o += (pj * x) as f32;
                }
            }
        }
        out
    }
}

/// The unnormalised DCT-II rows of pHash: `2 cos(π k (2i + 1) / 2N)`.
fn phash_cosines() -> Vec<f64> {
    let n = PHASH_BIG as f64;
    let mut c = vec![0f64; PHASH_N * PHASH_BIG];
    for k in 0..PHASH_N {
        for i in 0..PHASH_BIG {
            c[k * PHASH_BIG + i] =
                2.0 * (std::f64::consts::PI * (k * (2 * i + 1)) as f64 / (2.0 * n)).cos();
        }
    }
    c
}

/// pHash along one axis: the DCT rows composed with Pillow's Lanczos weights.
fn phash_axis(n: usize) -> Vec<f64> {
    let weights = pillow::lanczos_weights(n as u32, PHASH_BIG as u32);
    let c = phash_cosines();
    let mut u = vec![0f64; PHASH_N * n];
    for k in 0..PHASH_N {
        for (o, (start, w)) in weights.iter().enumerate() {
            let ck = c[k * PHASH_BIG + o];
            for (x, &wx) in w.iter().enumerate() {
                u[k * n + start + x] += ck * wx;
            }
        }
    }
    u
}

/// The input ranges `[lo, hi)` each output of the reference's box filter
/// averages (`downsample::box_1d`'s phases, replayed on indices).
fn box_ranges(n: usize, window: usize) -> Vec<(usize, usize)> {
    let half = (window + 2) / 2;
    let (p1, p2) = (half - 1, window - half + 1);
    let p3 = n.saturating_sub(window);
    let (mut li, mut ri) = (0usize, 0usize);
    let mut out = Vec::with_capacity(n);
    ri += p1;
    for _ in 0..p2 {
        ri += 1;
        out.push((li, ri));
    }
    for _ in 0..p3 {
        ri += 1;
        li += 1;
        out.push((li, ri));
    }
    for _ in 0..half - 1 {
        li += 1;
        out.push((li, ri));
    }
    out
}

/// PDQ along one axis: the 16 DCT rows composed with two box filters and
/// the sampling at the 64 cell centres.
fn pdq_axis(n: usize) -> Vec<f64> {
    let d = pdq::dct_basis();
    let ranges = box_ranges(n, pdq::box_window(n));
    let mut u = vec![0f64; 16 * n];
    for o in 0..64 {
        let s = (((o as f64 + 0.5) * n as f64) / 64.0) as usize;
        // Row s of B·B: the mean over its range of the ranges' means.
        let (a, b) = ranges[s.min(n - 1)];
        let outer = 1.0 / (b - a) as f64;
        let mut w = vec![0f64; 0];
        let lo = ranges[a].0;
        let hi = ranges[b - 1].1;
        w.resize(hi - lo, 0.0);
        for &(c, e) in &ranges[a..b] {
            let inner = outer / (e - c) as f64;
            for x in c..e {
                w[x - lo] += inner;
            }
        }
        for (i, di) in d.iter().enumerate() {
            let dio = f64::from(di[o]);
            for (x, &wx) in w.iter().enumerate() {
                u[i * n + lo + x] += dio * wx;
            }
        }
    }
    u
}

/// The hash's DCT rows, continued smoothly over the full axis of `n`
/// pixels: what the hash sees of a perturbation is its low frequencies, and
/// a perturbation made of them alone spreads over the image instead of
/// gathering at the pixels the filter weighs most (the minimal-norm one
/// would be a visible grid of dots at PDQ's 64×64 sampling points).
fn smooth(algorithm: Algorithm, n: usize) -> Vec<f64> {
    let (k, side, scale, first) = match algorithm {
        Algorithm::Pdq => (16, 64.0, (2.0f64 / 64.0).sqrt(), 1),
        _ => (PHASH_N, PHASH_BIG as f64, 2.0, 0),
    };
    let mut s = vec![0f64; k * n];
    for i in 0..k {
        let f = (i + first) as f64;
        for r in 0..n {
            // The pixel's position on the hash's grid.
            let x = (r as f64 + 0.5) * side / n as f64 - 0.5;
            s[i * n + r] =
                scale * (std::f64::consts::PI * f * (2.0 * x + 1.0) / (2.0 * side)).cos();
        }
    }
    s
}

/// `A Bᵀ` of two `k × n` matrices.
fn cross(a: &[f64], b: &[f64], k: usize, n: usize) -> Vec<f64> {
    let mut g = vec![0f64; k * k];
    for i in 0..k {
        for j in 0..k {
            g[i * k + j] = a[i * n..(i + 1) * n]
                .iter()
                .zip(&b[j * n..(j + 1) * n])
                .map(|(x, y)| x * y)
                .sum();
        }
    }
    g
}

fn transpose(a: &[f64], k: usize) -> Vec<f64> {
    let mut t = vec![0f64; k * k];
    for i in 0..k {
        for j in 0..k {
            t[j * k + i] = a[i * k + j];
        }
    }
    t
}

/// The diagonal of `M⁻¹ G M⁻ᵀ`: the squared norm along the axis of the
/// smooth perturbation that moves one frequency by one unit.
fn unit_costs(m_inv: &[f64], g: &[f64], k: usize) -> Vec<f64> {
    let mg = matmul(m_inv, g, k, k, k);
    let full = matmul(&mg, &transpose(m_inv, k), k, k, k);
    (0..k).map(|i| full[i * k + i]).collect()
}

/// `(m × n) · (n × p)`.
fn matmul(a: &[f64], b: &[f64], m: usize, n: usize, p: usize) -> Vec<f64> {
    let mut c = vec![0f64; m * p];
    for i in 0..m {
        for t in 0..n {
            let x = a[i * n + t];
            for j in 0..p {
                c[i * p + j] += x * b[t * p + j];
            }
        }
    }
    c
}

/// Gauss-Jordan inverse with partial pivoting; `None` if singular.
fn invert(a: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut m = a.to_vec();
    let mut inv = vec![0f64; k * k];
    for i in 0..k {
        inv[i * k + i] = 1.0;
    }
    for col in 0..k {
        let pivot =
            (col..k).max_by(|&x, &y| m[x * k + col].abs().total_cmp(&m[y * k + col].abs()))?;
        if m[pivot * k + col].abs() < 1e-12 {
            return None;
        }
        for j in 0..k {
            m.swap(col * k + j, pivot * k + j);
            inv.swap(col * k + j, pivot * k + j);
        }
        let p = m[col * k + col];
        for j in 0..k {
            m[col * k + j] /= p;
            inv[col * k + j] /= p;
        }
        for r in 0..k {
            if r != col {
                let f = m[r * k + col];
                if f != 0.0 {
                    for j in 0..k {
                        m[r * k + j] -= f * m[col * k + j];
                        inv[r * k + j] -= f * inv[col * k + j];
                    }
                }
            }
        }
    }
    Some(inv)
}

/// A digest's bits in coefficient order (PDQ: bit `16 i + j` is
/// coefficient `(i, j)`; pHash: imagehash's order, first bit first).
pub(crate) fn bits_of(digest: &Digest) -> Vec<bool> {
    let bytes = digest.bytes();
    match digest.algorithm() {
        Algorithm::Pdq => (0..256)
            .map(|k| bytes[31 - k / 8] >> (k % 8) & 1 == 1)
            .collect(),
        _ => (0..bytes.len() * 8)
            .map(|i| bytes[i / 8] & (0x80 >> (i % 8)) != 0)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo_like(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let v = 128.0
                + 60.0 * ((x as f64) / 17.0).sin() * ((y as f64) / 23.0).cos()
                + 40.0 * ((x + 2 * y) as f64 / 41.0).sin();
            let v = v.clamp(0.0, 255.0) as u8;
            image::Rgb([v, v.wrapping_add(20), 255 - v])
        })
    }

    #[test]
    fn the_box_ranges_cover_each_output_as_box_1d_does() {
        // Window 3 over 10: half = 2; outputs average [0,2), [0,3), [0,4)…
        let r = box_ranges(10, 3);
        assert_eq!(r.len(), 10);
        assert_eq!(r[0], (0, 2));
        assert_eq!(r[1], (0, 3));
        assert_eq!(r[2], (1, 4));
        assert_eq!(r[9], (8, 10));
    }

    #[test]
    fn the_linear_model_predicts_a_perturbations_effect() {
        for algorithm in [Algorithm::Pdq, Algorithm::Phash] {
            let img = photo_like(150, 110);
            let model = Model::new(algorithm, 150, 110).unwrap();
            let before = model.coefficients(&img);
            let mut want = vec![0f64; model.bits()];
            let scale = if algorithm == Algorithm::Pdq {
                200.0
            } else {
                2000.0
            };
            want[3] = scale;
            want[model.k + 1] = -scale;
            let d = model.perturbation(&want);
            let moved = RgbImage::from_fn(150, 110, |x, y| {
                let p = img.get_pixel(x, y).0;
                let dv = d[(y * 150 + x) as usize];
                image::Rgb(p.map(|c| (f32::from(c) + dv).round().clamp(0.0, 255.0) as u8))
            });
            let after = model.coefficients(&moved);
            for (b, w) in want.iter().enumerate() {
                let got = after[b] - before[b];
                assert!(
                    (got - w).abs() < scale * 0.1,
                    "{algorithm} coefficient {b}: moved {got}, wanted {w}"
                );
            }
        }
    }
}
