//! Reduced inverse DCTs: the n × n image (n = 2 or 4) of an 8 × 8 block from
//! its n × n lowest coefficients, as libjpeg's scaled decodes make it
//! (`jidctred.c`, and `jidctint.c`'s `jpeg_idct_2x2`/`_4x4` since libjpeg 7).
//!
//! JPEG's 8-point inverse DCT is `f(x) = Σ_u C(u)/2 · F(u) · cos((2x+1)uπ/16)`,
//! `C(0) = 1/√2`, `C(u) = 1` otherwise. Reduced to n samples, sample `i`
//! stands for pixels `[8i/n, 8(i+1)/n)`, whose centre is at
//! `x = 8(i+½)/n − ½`, where the cosine is `cos((2i+1)uπ/2n)`: evaluating the
//! lowest n frequencies there is the n-point inverse DCT with the 8-point
//! transform's scale factors. In two dimensions, with the level shift and
//! the clamp of a full decode:
//! `p(i, j) = clamp(128 + Σ_v Σ_u B(i,v) B(j,u) F(v,u), 0, 255)`,
//! `B(i,u) = C(u)/2 · cos((2i+1)uπ/2n)`. A flat block gives its mean in
//! every sample (`B(·,0)² = 1/8`, as the DC image's `F(0,0)/8`); the higher
//! frequencies the reduced image drops are what it cannot show.

/// The natural (row-major) index of each zig-zag position (T.81 figure A.6).
pub(super) const ZIGZAG: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// The reduced inverse DCT for one `n` (2 or 4).
pub(super) struct Kernel {
    n: usize,
    /// The highest zig-zag position among the n × n lowest coefficients
    /// (4 for n = 2, 24 for n = 4): later ones need not be kept.
    last: usize,
    /// The zig-zag positions of the n × n lowest coefficients, with their
    /// row (vertical frequency) and column.
    kept: Vec<(usize, usize, usize)>,
    /// `B(i, u)` at `[i * 4 + u]`.
    basis: [f32; 16],
}

impl Kernel {
    /// The kernel for `n` samples a block side; `None` unless n is 2 or 4.
    pub(super) fn new(n: usize) -> Option<Kernel> {
        if n != 2 && n != 4 {
            return None;
        }
        let kept: Vec<(usize, usize, usize)> = ZIGZAG
            .iter()
            .enumerate()
            .map(|(k, &natural)| (k, usize::from(natural / 8), usize::from(natural % 8)))
            .filter(|&(_, v, u)| v < n && u < n)
            .collect();
        let last = kept.iter().map(|&(k, _, _)| k).max()?;
        let mut basis = [0f32; 16];
        for i in 0..n {
            for u in 0..n {
                let c = if u == 0 {
                    std::f64::consts::FRAC_1_SQRT_2
                } else {
                    1.0
                };
                let angle = (2 * i + 1) as f64 * u as f64 * std::f64::consts::PI / (2 * n) as f64;
                basis[i * 4 + u] = (c / 2.0 * angle.cos()) as f32;
            }
        }
        Some(Kernel {
            n,
            last,
            kept,
            basis,
        })
    }

    /// Samples a block side.
    pub(super) fn n(&self) -> usize {
        self.n
    }

    /// The highest zig-zag position the kernel reads.
    pub(super) fn last(&self) -> usize {
        self.last
    }

    /// The n × n samples of the block whose quantised coefficients (zig-zag
    /// order, positions `0..=last`) are `coefs`, dequantised by `quant`
    /// (zig-zag order), written row by row into `out` at `out[i * stride + j]`.
    /// `None` if `out` is too short.
    pub(super) fn block(
        &self,
        coefs: &[i32; 64],
        quant: &[u16; 64],
        out: &mut [f32],
        stride: usize,
    ) -> Option<()> {
        let n = self.n;
        let mut f = [0f32; 16];
        for &(k, v, u) in &self.kept {
            f[v * 4 + u] = coefs[k] as f32 * f32::from(quant[k]);
        }
        // Rows first: t(v, j) = Σ_u F(v, u) B(j, u).
        let mut t = [0f32; 16];
        for v in 0..n {
            for j in 0..n {
                t[v * 4 + j] = (0..n).map(|u| f[v * 4 + u] * self.basis[j * 4 + u]).sum();
            }
        }
        for i in 0..n {
            let row = out.get_mut(i * stride..i * stride + n)?;
            for (j, p) in row.iter_mut().enumerate() {
                let s: f32 = (0..n).map(|v| self.basis[i * 4 + v] * t[v * 4 + j]).sum();
                *p = (128.0 + s).clamp(0.0, 255.0);
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_positions_are_the_low_blocks_zig_zag_positions() {
        let two = Kernel::new(2).unwrap();
        let k: Vec<usize> = two.kept.iter().map(|p| p.0).collect();
        assert_eq!(k, [0, 1, 2, 4]);
        assert_eq!(two.last(), 4);
        let four = Kernel::new(4).unwrap();
        let k: Vec<usize> = four.kept.iter().map(|p| p.0).collect();
        assert_eq!(k, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 17, 18, 24]);
        assert_eq!(four.last(), 24);
        assert!(Kernel::new(3).is_none() && Kernel::new(8).is_none());
    }

    #[test]
    fn a_flat_block_gives_its_mean_everywhere() {
        // F(0,0) = 8 × (mean − 128): mean 100 is F(0,0) = −224, quantised by 7 as −32.
        let mut coefs = [0; 64];
        coefs[0] = -32;
        let mut quant = [1u16; 64];
        quant[0] = 7;
        for n in [2, 4] {
            let mut out = vec![0.0; 16];
            Kernel::new(n)
                .unwrap()
                .block(&coefs, &quant, &mut out, 4)
                .unwrap();
            for i in 0..n {
                for j in 0..n {
                    assert!((out[i * 4 + j] - 100.0).abs() < 1e-4, "{n}: {out:?}");
                }
            }
        }
    }

    #[test]
    fn samples_are_the_full_inverse_dct_at_their_centres() {
        // A horizontal half-cosine, F(0,1) = 80: the full decode is
        // 128 + C(0)/2 · C(1)/2 · 80 · cos((2x+1)π/16) = 128 + 80/(4√2) · cos(…).
        // The 2-point sample 0 sits at x = 1.5, where the cosine is
        // cos(π/4) = 1/√2: 128 + 10, and sample 1 at 128 − 10.
        let mut coefs = [0; 64];
        coefs[1] = 80;
        let quant = [1u16; 64];
        let mut out = vec![0.0; 4];
        Kernel::new(2)
            .unwrap()
            .block(&coefs, &quant, &mut out, 2)
            .unwrap();
        let a = 10.0;
        for (got, want) in out.iter().zip([128.0 + a, 128.0 - a, 128.0 + a, 128.0 - a]) {
            assert!((got - want).abs() < 1e-3, "{out:?}");
        }
        // Clamped as a full decode clamps.
        coefs[0] = 2000; // + 250
        Kernel::new(2)
            .unwrap()
            .block(&coefs, &quant, &mut out, 2)
            .unwrap();
        assert!(out.iter().all(|&p| p == 255.0), "{out:?}");
        assert!(
            Kernel::new(2)
                .unwrap()
                .block(&coefs, &quant, &mut out[..3], 2)
                .is_none()
        );
    }
}
