//! PDQ's blur-and-decimate — luminance, two passes of the Jarosz box filter
//! along rows then columns, and sampling at 64×64 — streamed a few rows at a
//! time.
//!
//! The reference filters whole-image buffers: four passes over two
//! full-size float planes (96 MB for a 12-MP photo), mostly spent on memory
//! and page faults. Here each input row flows through the stages as soon as
//! its inputs exist, so only a window of rows per stage is kept. The results
//! are bit-identical: every output value is computed by the same single
//! precision operations in the same order as in the reference; only the
//! order in which independent values are computed changes. The tests compare
//! against a whole-buffer transcription of the reference.

/// Rows filtered side by side (see [`box_row_block`]).
const LANES: usize = 8;

/// Luminance of 8-bit RGB as the PyPI `pdqhash` bindings compute it (NumPy,
/// in double precision: `(0.299 r + 0.587 g) + 0.114 b`, then rounded to
/// single). Tables give the very same products without the multiplications.
struct LumaTables {
    r: [f64; 256],
    g: [f64; 256],
    b: [f64; 256],
}

fn luma_tables() -> &'static LumaTables {
    static TABLES: std::sync::OnceLock<LumaTables> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let table = |k: f64| std::array::from_fn(|v| v as f64 * k);
        LumaTables {
            r: table(0.299),
            g: table(0.587),
            b: table(0.114),
        }
    })
}

pub(super) fn luma_row(rgb: &[u8], out: &mut [f32]) {
    let t = luma_tables();
    for (o, p) in out.iter_mut().zip(rgb.chunks_exact(3)) {
        *o = (t.r[usize::from(p[0])] + t.g[usize::from(p[1])] + t.b[usize::from(p[2])]) as f32;
    }
}

/// The reference's window: `⌈old / (2 · new)⌉`.
pub(super) fn jarosz_window(old: usize, new: usize) -> usize {
    old.div_ceil(2 * new)
}

/// The reference's running-sum box filter over one vector: the window grows
/// over the first half-window, slides, then shrinks, dividing by the number
/// of samples it currently holds.
pub(super) fn box_1d(input: &[f32], out: &mut [f32], window: usize) {
    let half = (window + 2) / 2;
    let (p1, p2) = (half - 1, window - half + 1);
    let p3 = input.len().saturating_sub(window);
    let mut sum = 0f32;
    let mut count = 0usize;
    let (mut li, mut ri, mut oi) = (0usize, 0usize, 0usize);
    for _ in 0..p1 {
        sum += input[ri];
        count += 1;
        ri += 1;
    }
    for _ in 0..p2 {
        sum += input[ri];
        count += 1;
        out[oi] = sum / count as f32;
        ri += 1;
        oi += 1;
    }
    for _ in 0..p3 {
        sum += input[ri];
        sum -= input[li];
        out[oi] = sum / count as f32;
        li += 1;
        ri += 1;
        oi += 1;
    }
    for _ in 0..half - 1 {
        sum -= input[li];
        count -= 1;
        out[oi] = sum / count as f32;
        li += 1;
        oi += 1;
    }
}

/// [`box_1d`] over `L` rows side by side. A running sum is a chain of
/// dependent additions; one row at a time leaves the processor waiting on
/// add latency, `L` rows give it `L` independent chains. Each row still sees
/// exactly `box_1d`'s operations in `box_1d`'s order.
fn box_row_block<const L: usize>(input: &[f32], out: &mut [f32], cols: usize, window: usize) {
    let half = (window + 2) / 2;
    let (p1, p2) = (half - 1, window - half + 1);
    let p3 = cols.saturating_sub(window);
    let mut sums = [0f32; L];
    let mut count = 0usize;
    let (mut li, mut ri, mut oi) = (0usize, 0usize, 0usize);
    for _ in 0..p1 {
        for (l, s) in sums.iter_mut().enumerate() {
            *s += input[l * cols + ri];
        }
        count += 1;
        ri += 1;
    }
    for _ in 0..p2 {
        count += 1;
        let c = count as f32;
        for (l, s) in sums.iter_mut().enumerate() {
            *s += input[l * cols + ri];
            out[l * cols + oi] = *s / c;
        }
        ri += 1;
        oi += 1;
    }
    let c = count as f32;
    for _ in 0..p3 {
        for (l, s) in sums.iter_mut().enumerate() {
            *s += input[l * cols + ri];
            *s -= input[l * cols + li];
            out[l * cols + oi] = *s / c;
        }
        li += 1;
        ri += 1;
        oi += 1;
    }
    for _ in 0..half - 1 {
        count -= 1;
        let c = count as f32;
        for (l, s) in sums.iter_mut().enumerate() {
            *s -= input[l * cols + li];
            out[l * cols + oi] = *s / c;
        }
        li += 1;
        oi += 1;
    }
}

/// Collects rows into blocks of [`LANES`] and filters each block along rows.
struct RowStage {
    cols: usize,
    window: usize,
    filled: usize,
    input: Vec<f32>,
    output: Vec<f32>,
}

impl RowStage {
    fn new(cols: usize, window: usize) -> RowStage {
        RowStage {
            cols,
            window,
            filled: 0,
            input: vec![0f32; LANES * cols],
            output: vec![0f32; LANES * cols],
        }
    }

    /// The next free row of the block, to be written by the caller.
    fn next_row(&mut self) -> &mut [f32] {
        let c = self.cols;
        &mut self.input[self.filled * c..(self.filled + 1) * c]
    }

    /// Marks the row from [`RowStage::next_row`] as written; when the block is
    /// full, filters it and returns the filtered rows.
    fn commit(&mut self) -> Option<&[f32]> {
        self.filled += 1;
        if self.filled < LANES {
            return None;
        }
        self.filled = 0;
        box_row_block::<LANES>(&self.input, &mut self.output, self.cols, self.window);
        Some(&self.output)
    }

    /// Filters what is left of a partial block, one row at a time.
    fn flush(&mut self) -> &[f32] {
        let n = self.filled * self.cols;
        self.filled = 0;
        for (src, dst) in self.input[..n]
            .chunks_exact(self.cols)
            .zip(self.output[..n].chunks_exact_mut(self.cols))
        {
            box_1d(src, dst, self.window);
        }
        &self.output[..n]
    }
}

/// [`box_1d`] down every column at once, fed a row at a time: one running sum
/// per column and a ring of the last `window + 1` rows for the subtractions.
struct ColumnStage {
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

impl ColumnStage {
    fn new(cols: usize, window: usize) -> ColumnStage {
        let half = (window + 2) / 2;
        ColumnStage {
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

    fn slot(&self, i: usize) -> std::ops::Range<usize> {
        let s = i % (self.window + 1);
        s * self.cols..(s + 1) * self.cols
    }

    /// Takes input row `ri`; returns the next output row once there is one.
    fn push(&mut self, row: &[f32]) -> Option<&[f32]> {
        let slot = self.slot(self.ri);
        self.ring[slot.clone()].copy_from_slice(row);
        for (s, v) in self.sums.iter_mut().zip(row) {
            *s += v;
        }
        self.ri += 1;
        if self.ri <= self.window {
            self.count += 1;
            if self.ri < self.half {
                return None;
            }
        } else {
            let old = self.slot(self.li);
            for (s, v) in self.sums.iter_mut().zip(&self.ring[old]) {
                *s -= v;
            }
            self.li += 1;
        }
        Some(self.divide())
    }

    /// After the last input row: the remaining output rows, one per call.
    fn drain(&mut self) -> Option<&[f32]> {
        if self.tail_left == 0 {
            return None;
        }
        self.tail_left -= 1;
        let old = self.slot(self.li);
        for (s, v) in self.sums.iter_mut().zip(&self.ring[old]) {
            *s -= v;
        }
        self.li += 1;
        self.count -= 1;
        Some(self.divide())
    }

    fn divide(&mut self) -> &[f32] {
        let c = self.count as f32;
        for (o, s) in self.out.iter_mut().zip(&self.sums) {
            *o = s / c;
        }
        &self.out
    }
}

/// Picks the reference's decimation samples out of the fully filtered rows
/// as they stream past.
struct Sampler {
    rows_wanted: [usize; 64],
    cols_wanted: [usize; 64],
    next_row: usize,
    out: Vec<[f32; 64]>,
}

impl Sampler {
    fn new(rows: usize, cols: usize) -> Sampler {
        let pick = |n: usize| -> [usize; 64] {
            std::array::from_fn(|o| (((o as f64 + 0.5) * n as f64) / 64.0) as usize)
        };
        Sampler {
            rows_wanted: pick(rows),
            cols_wanted: pick(cols),
            next_row: 0,
            out: vec![[0f32; 64]; 64],
        }
    }

    /// Offers filtered row `index` (rows arrive in order).
    fn offer(&mut self, index: usize, row: &[f32]) {
        for (o, &want) in self.rows_wanted.iter().enumerate() {
            if want == index {
                for (cell, &j) in self.out[o].iter_mut().zip(&self.cols_wanted) {
                    *cell = row[j];
                }
            }
        }
        self.next_row = index + 1;
    }
}

/// Luminance, two passes of the tent filter, and 64×64 decimation of packed
/// RGB (`rows × cols` pixels, at least 5 a side).
pub(super) fn luma_downsample_64(rgb: &[u8], rows: usize, cols: usize) -> Vec<[f32; 64]> {
    if rows == 64 && cols == 64 {
        // The reference skips the filter when the input is already 64×64.
        let mut out = vec![[0f32; 64]; 64];
        for (row, px) in out.iter_mut().zip(rgb.chunks_exact(64 * 3)) {
            luma_row(px, row);
        }
        return out;
    }
    let along_rows = jarosz_window(cols, 64);
    let along_cols = jarosz_window(rows, 64);
    let mut pass1_rows = RowStage::new(cols, along_rows);
    let mut pass1_cols = ColumnStage::new(cols, along_cols);
    let mut pass2_rows = RowStage::new(cols, along_rows);
    let mut pass2_cols = ColumnStage::new(cols, along_cols);
    let mut sampler = Sampler::new(rows, cols);

    // Stage 2 onwards: a row that has been through pass 1.
    let mut second_pass = |row: &[f32], flush: bool| {
        let feed = |block: &[f32], cols_stage: &mut ColumnStage, sampler: &mut Sampler| {
            for r in block.chunks_exact(cols) {
                if let Some(done) = cols_stage.push(r) {
                    sampler.offer(sampler.next_row, done);
                }
            }
        };
        if !row.is_empty() {
            pass2_rows.next_row().copy_from_slice(row);
            if let Some(block) = pass2_rows.commit() {
                feed(block, &mut pass2_cols, &mut sampler);
            }
        }
        if flush {
            feed(pass2_rows.flush(), &mut pass2_cols, &mut sampler);
            while let Some(done) = pass2_cols.drain() {
                sampler.offer(sampler.next_row, done);
            }
        }
    };

    for px in rgb.chunks_exact(cols * 3).take(rows) {
        luma_row(px, pass1_rows.next_row());
        if let Some(block) = pass1_rows.commit() {
            for r in block.chunks_exact(cols) {
                if let Some(done) = pass1_cols.push(r) {
                    second_pass(done, false);
                }
            }
        }
    }
    for r in pass1_rows.flush().chunks_exact(cols) {
        if let Some(done) = pass1_cols.push(r) {
            second_pass(done, false);
        }
    }
    while let Some(done) = pass1_cols.drain() {
        second_pass(done, false);
    }
    second_pass(&[], true);
    sampler.out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference, transcribed: whole buffers, rows then columns, twice,
    /// then decimation.
    fn reference(rgb: &[u8], rows: usize, cols: usize) -> Vec<[f32; 64]> {
        let mut a = vec![0f32; rows * cols];
        for (px, row) in rgb.chunks_exact(cols * 3).zip(a.chunks_exact_mut(cols)) {
            luma_row(px, row);
        }
        let (wr, wc) = (jarosz_window(cols, 64), jarosz_window(rows, 64));
        let mut b = vec![0f32; rows * cols];
        for _ in 0..2 {
            for (src, dst) in a.chunks_exact(cols).zip(b.chunks_exact_mut(cols)) {
                box_1d(src, dst, wr);
            }
            for c in 0..cols {
                let column: Vec<f32> = (0..rows).map(|r| b[r * cols + c]).collect();
                let mut filtered = vec![0f32; rows];
                box_1d(&column, &mut filtered, wc);
                for r in 0..rows {
                    a[r * cols + c] = filtered[r];
                }
            }
        }
        let mut out = vec![[0f32; 64]; 64];
        for (oi, row) in out.iter_mut().enumerate() {
            let ii = (((oi as f64 + 0.5) * rows as f64) / 64.0) as usize;
            for (oj, cell) in row.iter_mut().enumerate() {
                let ij = (((oj as f64 + 0.5) * cols as f64) / 64.0) as usize;
                *cell = a[ii * cols + ij];
            }
        }
        out
    }

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
    fn streaming_equals_the_whole_buffer_reference_bit_for_bit() {
        for (rows, cols) in [
            (5, 5),
            (7, 300),
            (63, 65),
            (64, 64),
            (129, 127),
            (300, 17),
            (517, 260),
        ] {
            let rgb = noise(rows, cols, (rows * 31 + cols) as u32);
            let got = luma_downsample_64(&rgb, rows, cols);
            let want = reference(&rgb, rows, cols);
            if (rows, cols) == (64, 64) {
                continue; // no filtering at 64×64: covered by the vectors
            }
            for (g, w) in got.iter().zip(&want) {
                for (a, b) in g.iter().zip(w) {
                    assert_eq!(a.to_bits(), b.to_bits(), "{rows}×{cols}");
                }
            }
        }
    }

    #[test]
    fn blocked_row_filter_equals_one_row_at_a_time() {
        let cols = 50;
        let input: Vec<f32> = (0..LANES * cols)
            .map(|i| ((i * 7919) % 255) as f32 * 0.37)
            .collect();
        for window in 1..6 {
            let mut blocked = vec![0f32; LANES * cols];
            box_row_block::<LANES>(&input, &mut blocked, cols, window);
            for (r, row) in input.chunks_exact(cols).enumerate() {
                let mut expect = vec![0f32; cols];
                box_1d(row, &mut expect, window);
                let got = &blocked[r * cols..(r + 1) * cols];
                assert!(
                    got.iter()
                        .zip(&expect)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "row {r}"
                );
            }
        }
    }

    #[test]
    fn box_filter_of_constant_is_constant() {
        let input = vec![3.0f32; 37];
        for window in 1..6 {
            let mut out = vec![0f32; 37];
            box_1d(&input, &mut out, window);
            assert!(out.iter().all(|&v| v == 3.0), "window {window}: {out:?}");
        }
    }
}
