//! PDQ's blur-and-decimate with the row passes vectorised: [`LANES`] image
//! rows are stored side by side (interleaved, column by column), so two
//! vector instructions advance the running sum of every row in the block —
//! additions, subtractions and, above all, the divisions, which the scalar
//! path ([`super::downsample`]) does one at a time.
//!
//! Bit-exactness is kept the same way as there: each output value sees the
//! reference's single-precision operations in the reference's order; only
//! independent values are computed side by side. Two more savings change no
//! result either: the luminance is computed straight into the first pass's
//! block (the RGB image is read once), and the second pass divides only where
//! the 64×64 decimation will sample (its column pass runs on the 64 sampled
//! columns alone: a column filter never mixes columns).
//!
//! Rows move into and out of the interleaved layout by 8×8 transposes
//! ([`Transpose`]: AVX shuffles, or plain Rust). The rest is plain Rust over
//! fixed-size arrays; `super::vectorised_downsample_64` runs it under
//! `pulp`'s runtime-detected AVX2 target (any x86-64 from 2013 on), where the
//! compiler turns each `[f32; LANES]` operation into two vector instructions
//! (and the luminance loop into 256-bit double-precision arithmetic), and
//! falls back to the baseline target elsewhere. Fused multiply-add is never
//! formed (Rust does not contract `a * b + c`).

use super::downsample::jarosz_window;

/// Rows filtered side by side: two 256-bit vectors of `f32`. A running sum
/// is a chain of dependent additions and subtractions, so one vector's chain
/// waits on add latency at every column (the profile showed the row passes
/// bound by it); two independent chains halve that wait.
pub(super) const LANES: usize = 16;

type Lanes = [f32; LANES];

/// The unit of the transposes: 8 rows by 8 columns.
type Tile = [[f32; 8]; 8];

/// Luminance exactly as [`super::downsample::luma_row`]'s tables give it:
/// `(0.299 r + 0.587 g) + 0.114 b` in double precision, rounded to single.
#[inline(always)]
fn luma(r: u8, g: u8, b: u8) -> f32 {
    (f64::from(r) * 0.299 + f64::from(g) * 0.587 + f64::from(b) * 0.114) as f32
}

/// The reference's running-sum box filter (as [`super::downsample::box_1d`])
/// over `LANES` interleaved rows. `emit(oi, sums, count)` receives each
/// output position with the running sums and the sample count there.
#[inline(always)]
fn box_lanes(input: &[Lanes], window: usize, mut emit: impl FnMut(usize, &Lanes, f32)) {
    let cols = input.len();
    let half = (window + 2) / 2;
    let (p1, p2) = (half - 1, window - half + 1);
    let p3 = cols.saturating_sub(window);
    let mut sums = [0f32; LANES];
    let mut count = 0usize;
    let (mut li, mut ri, mut oi) = (0usize, 0usize, 0usize);
    for _ in 0..p1 {
        add(&mut sums, &input[ri]);
        count += 1;
        ri += 1;
    }
    for _ in 0..p2 {
        add(&mut sums, &input[ri]);
        count += 1;
        emit(oi, &sums, count as f32);
        ri += 1;
        oi += 1;
    }
    let c = count as f32;
    for _ in 0..p3 {
        add(&mut sums, &input[ri]);
        sub(&mut sums, &input[li]);
        emit(oi, &sums, c);
        li += 1;
        ri += 1;
        oi += 1;
    }
    for _ in 0..half - 1 {
        sub(&mut sums, &input[li]);
        count -= 1;
        emit(oi, &sums, count as f32);
        li += 1;
        oi += 1;
    }
}

#[inline(always)]
fn add(s: &mut Lanes, v: &Lanes) {
    for (a, b) in s.iter_mut().zip(v) {
        *a += b;
    }
}

#[inline(always)]
fn sub(s: &mut Lanes, v: &Lanes) {
    for (a, b) in s.iter_mut().zip(v) {
        *a -= b;
    }
}

#[inline(always)]
fn div(s: &Lanes, c: f32) -> Lanes {
    let mut o = [0f32; LANES];
    for (o, a) in o.iter_mut().zip(s) {
        *o = a / c;
    }
    o
}

/// An 8×8 transpose, `out[j][i] = t[i][j]`: how rows move into and out of
/// the interleaved layout, a tile at a time.
pub(super) trait Transpose: Copy {
    fn t8(self, t: &Tile) -> Tile;
}

/// The transpose in plain Rust (any target).
#[derive(Clone, Copy)]
pub(super) struct Plain;

impl Transpose for Plain {
    #[inline(always)]
    fn t8(self, t: &Tile) -> Tile {
        std::array::from_fn(|j| std::array::from_fn(|i| t[i][j]))
    }
}

/// The transpose in 24 AVX shuffles (the compiler makes 64 scalar moves of
/// the plain one).
#[cfg(target_arch = "x86_64")]
impl Transpose for pulp::x86::V3 {
    #[inline(always)]
    fn t8(self, t: &Tile) -> Tile {
        use core::arch::x86_64::__m256;
        use pulp::bytemuck::cast;
        let a = self.avx;
        let r: [__m256; 8] = std::array::from_fn(|i| cast(t[i]));
        let u = [
            a._mm256_unpacklo_ps(r[0], r[1]),
            a._mm256_unpackhi_ps(r[0], r[1]),
            a._mm256_unpacklo_ps(r[2], r[3]),
            a._mm256_unpackhi_ps(r[2], r[3]),
            a._mm256_unpacklo_ps(r[4], r[5]),
            a._mm256_unpackhi_ps(r[4], r[5]),
            a._mm256_unpacklo_ps(r[6], r[7]),
            a._mm256_unpackhi_ps(r[6], r[7]),
        ];
        let v = [
            a._mm256_shuffle_ps::<0x44>(u[0], u[2]),
            a._mm256_shuffle_ps::<0xEE>(u[0], u[2]),
            a._mm256_shuffle_ps::<0x44>(u[1], u[3]),
            a._mm256_shuffle_ps::<0xEE>(u[1], u[3]),
            a._mm256_shuffle_ps::<0x44>(u[4], u[6]),
            a._mm256_shuffle_ps::<0xEE>(u[4], u[6]),
            a._mm256_shuffle_ps::<0x44>(u[5], u[7]),
            a._mm256_shuffle_ps::<0xEE>(u[5], u[7]),
        ];
        [
            cast(a._mm256_permute2f128_ps::<0x20>(v[0], v[4])),
            cast(a._mm256_permute2f128_ps::<0x20>(v[1], v[5])),
            cast(a._mm256_permute2f128_ps::<0x20>(v[2], v[6])),
            cast(a._mm256_permute2f128_ps::<0x20>(v[3], v[7])),
            cast(a._mm256_permute2f128_ps::<0x31>(v[0], v[4])),
            cast(a._mm256_permute2f128_ps::<0x31>(v[1], v[5])),
            cast(a._mm256_permute2f128_ps::<0x31>(v[2], v[6])),
            cast(a._mm256_permute2f128_ps::<0x31>(v[3], v[7])),
        ]
    }
}

/// `LANES` rows (row-major, `cols` each) into the interleaved layout, 8×8
/// tiles at a time (each group of 8 rows fills its 8 of the lanes).
#[inline(always)]
fn to_lanes<T: Transpose>(tr: T, rows: &[f32], out: &mut [Lanes]) {
    let cols = out.len();
    let tiles = cols / 8 * 8;
    for h in 0..LANES / 8 {
        let rows = &rows[h * 8 * cols..(h + 1) * 8 * cols];
        for x0 in (0..tiles).step_by(8) {
            let tile: Tile = std::array::from_fn(|i| {
                let mut v = [0f32; 8];
                v.copy_from_slice(&rows[i * cols + x0..i * cols + x0 + 8]);
                v
            });
            for (cell, t) in out[x0..x0 + 8].iter_mut().zip(tr.t8(&tile)) {
                cell[h * 8..h * 8 + 8].copy_from_slice(&t);
            }
        }
    }
    for (x, cell) in out.iter_mut().enumerate().skip(tiles) {
        for (l, c) in cell.iter_mut().enumerate() {
            *c = rows[l * cols + x];
        }
    }
}

/// The interleaved layout back into `LANES` rows (row-major).
#[inline(always)]
fn from_lanes<T: Transpose>(tr: T, lanes: &[Lanes], rows: &mut [f32]) {
    let cols = lanes.len();
    let tiles = cols / 8 * 8;
    for h in 0..LANES / 8 {
        let rows = &mut rows[h * 8 * cols..(h + 1) * 8 * cols];
        for x0 in (0..tiles).step_by(8) {
            let tile: Tile = std::array::from_fn(|j| {
                let mut v = [0f32; 8];
                v.copy_from_slice(&lanes[x0 + j][h * 8..h * 8 + 8]);
                v
            });
            for (i, row) in tr.t8(&tile).iter().enumerate() {
                rows[i * cols + x0..i * cols + x0 + 8].copy_from_slice(row);
            }
        }
    }
    for (x, cell) in lanes.iter().enumerate().skip(tiles) {
        for (l, c) in cell.iter().enumerate() {
            rows[l * cols + x] = *c;
        }
    }
}

/// The column pass (as [`super::downsample`]'s `ColumnStage`): one running
/// sum per column, fed a row at a time, with a ring of the last `window + 1`
/// rows for the subtractions.
struct Columns {
    cols: usize,
    window: usize,
    half: usize,
    ring: Vec<f32>,
    sums: Vec<f32>,
    out: Vec<f32>,
    ri: usize,
    li: usize,
    count: usize,
    tail_left: usize,
}

impl Columns {
    fn new(cols: usize, window: usize) -> Columns {
        let half = (window + 2) / 2;
        Columns {
            cols,
            window,
            half,
            ring: vec![0f32; (window + 1) * cols],
            sums: vec![0f32; cols],
            out: vec![0f32; cols],
            ri: 0,
            li: 0,
            count: 0,
            tail_left: half - 1,
        }
    }

    #[inline(always)]
    fn slot(&self, i: usize) -> usize {
        (i % (self.window + 1)) * self.cols
    }

    /// Takes the next input row, written by `fill` into its ring slot;
    /// returns the next output row once there is one. Once the window is
    /// full, adding the new row, subtracting the oldest and dividing run in
    /// one loop (each column still sees add, subtract, divide in that order).
    #[inline(always)]
    fn push(&mut self, fill: impl FnOnce(&mut [f32])) -> Option<&[f32]> {
        let s = self.slot(self.ri);
        let cols = self.cols;
        fill(&mut self.ring[s..s + cols]);
        self.ri += 1;
        if self.ri <= self.window {
            for (a, v) in self.sums.iter_mut().zip(&self.ring[s..s + cols]) {
                *a += v;
            }
            self.count += 1;
            if self.ri < self.half {
                return None;
            }
            return Some(self.divide());
        }
        let o = self.slot(self.li);
        self.li += 1;
        let c = self.count as f32;
        let (new, old) = (&self.ring[s..s + cols], &self.ring[o..o + cols]);
        for ((a, out), (v, w)) in self
            .sums
            .iter_mut()
            .zip(self.out.iter_mut())
            .zip(new.iter().zip(old))
        {
            *a += v;
            *a -= w;
            *out = *a / c;
        }
        Some(&self.out)
    }

    /// After the last input row: the remaining output rows, one per call.
    #[inline(always)]
    fn drain(&mut self) -> Option<&[f32]> {
        if self.tail_left == 0 {
            return None;
        }
        self.tail_left -= 1;
        let o = self.slot(self.li);
        let cols = self.cols;
        for (a, v) in self.sums.iter_mut().zip(&self.ring[o..o + cols]) {
            *a -= v;
        }
        self.li += 1;
        self.count -= 1;
        Some(self.divide())
    }

    #[inline(always)]
    fn divide(&mut self) -> &[f32] {
        let c = self.count as f32;
        for (o, s) in self.out.iter_mut().zip(&self.sums) {
            *o = s / c;
        }
        &self.out
    }
}

/// The second pass and the decimation: rows from the first pass's column
/// filter are collected `LANES` at a time, filtered along rows (dividing only
/// at the 64 sampled columns), then down those 64 columns, and the sampled
/// rows are kept.
struct SecondPass<T> {
    tr: T,
    rows: Vec<f32>,
    block: Vec<Lanes>,
    filled: usize,
    window: usize,
    cols_wanted: [usize; 64],
    rows_wanted: [usize; 64],
    sampled: [Lanes; 64],
    columns: Columns,
    next_row: usize,
    out: Vec<[f32; 64]>,
}

impl<T: Transpose> SecondPass<T> {
    fn new(tr: T, rows: usize, cols: usize) -> SecondPass<T> {
        let pick = |n: usize| -> [usize; 64] {
            std::array::from_fn(|o| (((o as f64 + 0.5) * n as f64) / 64.0) as usize)
        };
        SecondPass {
            tr,
            rows: vec![0f32; LANES * cols],
            block: vec![[0f32; LANES]; cols],
            filled: 0,
            window: jarosz_window(cols, 64),
            cols_wanted: pick(cols),
            rows_wanted: pick(rows),
            sampled: [[0f32; LANES]; 64],
            columns: Columns::new(64, jarosz_window(rows, 64)),
            next_row: 0,
            out: vec![[0f32; 64]; 64],
        }
    }

    /// Takes one row of the first pass's output.
    #[inline(always)]
    fn push(&mut self, row: &[f32]) {
        let cols = self.block.len();
        let l = self.filled;
        self.rows[l * cols..(l + 1) * cols].copy_from_slice(row);
        self.filled += 1;
        if self.filled == LANES {
            self.run_block();
        }
    }

    #[inline(always)]
    fn run_block(&mut self) {
        let n = self.filled;
        self.filled = 0;
        to_lanes(self.tr, &self.rows, &mut self.block);
        let wanted = &self.cols_wanted;
        let sampled = &mut self.sampled;
        let mut k = 0usize;
        box_lanes(&self.block, self.window, |oi, sums, c| {
            while k < 64 && wanted[k] == oi {
                sampled[k] = div(sums, c);
                k += 1;
            }
        });
        for l in 0..n {
            let sampled = &self.sampled;
            if let Some(done) = self.columns.push(|dst| {
                for (d, s) in dst.iter_mut().zip(sampled) {
                    *d = s[l];
                }
            }) {
                keep(&self.rows_wanted, &mut self.out, &mut self.next_row, done);
            }
        }
    }

    #[inline(always)]
    fn finish(mut self) -> Vec<[f32; 64]> {
        if self.filled > 0 {
            self.run_block();
        }
        while let Some(done) = self.columns.drain() {
            keep(&self.rows_wanted, &mut self.out, &mut self.next_row, done);
        }
        self.out
    }
}

/// Keeps output row `next_row` (64 sampled columns) wherever the decimation
/// samples it.
#[inline(always)]
fn keep(rows_wanted: &[usize; 64], out: &mut [[f32; 64]], next_row: &mut usize, row: &[f32]) {
    for (o, &want) in rows_wanted.iter().enumerate() {
        if want == *next_row {
            out[o].copy_from_slice(&row[..64]);
        }
    }
    *next_row += 1;
}

/// Luminance, two passes of the tent filter, and 64×64 decimation of packed
/// RGB (`rows × cols` pixels, at least 5 a side, not exactly 64×64: the
/// caller handles that unfiltered case), bit-identical to
/// [`super::downsample::luma_downsample_64`]. `tr` moves rows into and out of
/// the interleaved layout.
#[inline(always)]
pub(super) fn luma_downsample_64<T: Transpose>(
    tr: T,
    rgb: &[u8],
    rows: usize,
    cols: usize,
) -> Vec<[f32; 64]> {
    let along_rows = jarosz_window(cols, 64);
    let along_cols = jarosz_window(rows, 64);
    let mut luma_rows = vec![0f32; LANES * cols];
    let mut block = vec![[0f32; LANES]; cols];
    let mut filtered = vec![[0f32; LANES]; cols];
    let mut columns = Columns::new(cols, along_cols);
    let mut second = SecondPass::new(tr, rows, cols);
    for rows_rgb in rgb[..3 * rows * cols].chunks(LANES * 3 * cols) {
        let n = rows_rgb.len() / (3 * cols);
        for (px, out) in rows_rgb
            .chunks_exact(3 * cols)
            .zip(luma_rows.chunks_exact_mut(cols))
        {
            for (o, p) in out.iter_mut().zip(px.chunks_exact(3)) {
                *o = luma(p[0], p[1], p[2]);
            }
        }
        to_lanes(tr, &luma_rows, &mut block);
        box_lanes(&block, along_rows, |oi, sums, c| {
            filtered[oi] = div(sums, c);
        });
        from_lanes(tr, &filtered, &mut luma_rows);
        for row in luma_rows.chunks_exact(cols).take(n) {
            if let Some(done) = columns.push(|dst| dst.copy_from_slice(row)) {
                second.push(done);
            }
        }
    }
    while let Some(done) = columns.drain() {
        second.push(done);
    }
    second.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(rows: usize, cols: usize, seed: u32) -> Vec<u8> {
        let mut x = seed.wrapping_mul(2_654_435_761).max(1);
        (0..rows * cols * 3)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn blocked_equals_the_streaming_scalar_path_bit_for_bit() {
        for (rows, cols) in [
            (5, 5),
            (7, 300),
            (8, 8),
            (9, 17),
            (63, 65),
            (64, 200),
            (129, 127),
            (300, 17),
            (517, 260),
            (1000, 33),
        ] {
            let rgb = noise(rows, cols, (rows * 131 + cols) as u32);
            let want = super::super::downsample::luma_downsample_64(&rgb, rows, cols);
            for got in [
                luma_downsample_64(Plain, &rgb, rows, cols),
                super::super::vectorised_downsample_64(&rgb, rows, cols),
            ] {
                for (g, w) in got.iter().zip(&want) {
                    for (a, b) in g.iter().zip(w) {
                        assert_eq!(a.to_bits(), b.to_bits(), "{rows}×{cols}");
                    }
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx_transpose_equals_the_plain_one() {
        let Some(simd) = pulp::x86::V3::try_new() else {
            return; // no AVX2 here: the plain transpose is the one used
        };
        let t: Tile = std::array::from_fn(|i| std::array::from_fn(|j| (i * 8 + j) as f32));
        assert_eq!(simd.t8(&t), Plain.t8(&t));
    }

    #[test]
    fn luma_equals_the_tables() {
        let mut px = Vec::new();
        for r in (0..=255u8).step_by(3) {
            for g in (0..=255u8).step_by(5) {
                for b in [0u8, 1, 77, 128, 254, 255] {
                    px.extend([r, g, b]);
                }
            }
        }
        let mut want = vec![0f32; px.len() / 3];
        super::super::downsample::luma_row(&px, &mut want);
        for (p, w) in px.chunks_exact(3).zip(&want) {
            assert_eq!(luma(p[0], p[1], p[2]).to_bits(), w.to_bits(), "{p:?}");
        }
    }
}
