//! PDQ's blur-and-decimate with the row passes vectorised: [`LANES`] image
//! rows are stored side by side (interleaved, column by column), so two
//! vector instructions advance the running sum of every row in the block —
//! additions, subtractions and divisions, which the scalar path
//! ([`super::downsample`]) does one at a time.
//!
//! Bit-exactness is kept the same way as there: each output value sees the
//! reference's single-precision operations in the reference's order; only
//! independent values are computed side by side. Three more savings change
//! no result either: the second pass divides only where the 64×64
//! decimation will sample (its column pass runs on the 64 sampled columns
//! alone: a column filter never mixes columns); a division by a window's
//! sample count is a multiply and two fused multiply-adds whose result is
//! the correctly rounded quotient, checked exhaustively ([`Divisor`]); and
//! the first pass is one fused sweep over the image, a block of `LANES`
//! rows and a few columns at a time:
//!
//! 1. luminance of 8 pixels of each row ([`Ops::luma8`]), moved by
//!    transposes into the interleaved block (the RGB image is read once, and
//!    the luminance is never stored row by row);
//! 2. the running sums along the rows advance over those columns as soon as
//!    their inputs exist (the block's recent columns are still in L1);
//! 3. every 32 output columns are transposed back and run straight through
//!    the column filter, four groups of 8 columns side by side, whose
//!    running sums stay in registers across the block's rows; its output
//!    rows go to the second pass.
//!
//! What depends on the instruction set is the [`Ops`] trait: transposes,
//! luminance, and 8-wide add, subtract and divide. `super::vectorised_downsample_64`
//! runs the kernel under `pulp`'s runtime-detected AVX-512 target (`V4`:
//! the luminance 8 doubles a vector, two 8×8 transposes at once), else AVX2
//! (`V3`, any x86-64 from 2013 on), else plain Rust on the baseline target.
//! The whole kernel is inlined into that one target-specific function, which
//! makes it fragile in ways the profile showed: a closure there is compiled
//! without the target (its intrinsics become calls), and in so large a
//! function the compiler stops inlining small library helpers (iterator
//! adaptors, `array::from_fn`) and stops vectorising loops it vectorised
//! before. Hence the structs for emitters, the index loops, and the
//! arithmetic written out in [`Ops`]. Fused multiply-add is never formed by
//! the compiler (Rust does not contract `a * b + c`); those written by hand
//! give exactly the rounded results the reference's operations give (see
//! [`Ops::luma8`] and [`Divisor`]).

// Index loops over fixed-size arrays on purpose: iterator adaptors are
// library functions the compiler may leave uninlined here (see `Lanes`).
#![allow(clippy::needless_range_loop)]

use super::downsample::jarosz_window;

/// Rows filtered side by side: two 256-bit vectors of `f32`. A running sum
/// is a chain of dependent additions and subtractions, so one vector's chain
/// waits on add latency at every column (the profile showed the row passes
/// bound by it); two independent chains halve that wait.
pub(super) const LANES: usize = 16;

/// One column of a block: `LANES` rows, as vectors of 8. Arrays of arrays
/// rather than one flat array, so that every access is built-in indexing:
/// the kernel is inlined into one large function, where the compiler stops
/// inlining small library helpers (iterator adaptors, slice-to-array
/// conversions) and stops vectorising loops it vectorised before — both
/// happened, each making the kernel 1.5–2× slower.
type Lanes = [[f32; 8]; LANES / 8];

const ZERO_LANES: Lanes = [[0f32; 8]; LANES / 8];

/// The unit of the transposes: 8 rows by 8 columns.
type Tile = [[f32; 8]; 8];

/// Columns of the first pass's block filled with luminance before the
/// running sums catch up with them: small enough that the block's recent
/// columns stay in L1 (64 columns × 16 rows × 4 bytes = 4 KiB).
const CHUNK: usize = 64;

/// Luminance exactly as [`super::downsample::luma_row`]'s tables give it:
/// `(0.299 r + 0.587 g) + 0.114 b` in double precision, rounded to single.
#[inline(always)]
fn luma(r: u8, g: u8, b: u8) -> f32 {
    (f64::from(r) * 0.299 + f64::from(g) * 0.587 + f64::from(b) * 0.114) as f32
}

/// What the kernel needs from the instruction set: the transposes that move
/// rows into and out of the interleaved layout, the luminance of 8 pixels,
/// and the running sums' add, subtract and divide, 8 lanes and a whole
/// column (16) at a time. The 16-lane and 16-row methods default to two of
/// the 8-lane ones; an instruction set with 512-bit vectors overrides them.
pub(super) trait Ops: Copy {
    /// `out[j][i] = t[i][j]`.
    fn t8(self, t: &Tile) -> Tile;
    /// [`luma`] of the 8 packed RGB pixels `px`, bit for bit.
    fn luma8(self, px: &[u8; 24]) -> [f32; 8];
    /// `s[i] / d`, each correctly rounded: bit for bit what `/` gives.
    fn div8(self, s: &[f32; 8], d: Divisor) -> [f32; 8];
    /// `a[i] + b[i]`. Written out rather than left to the compiler's
    /// vectoriser, which once turned the running sums into scalar code with
    /// the sums on the stack (1.5× slower) after an unrelated change.
    fn add8(self, a: [f32; 8], b: &[f32; 8]) -> [f32; 8];
    /// `a[i] - b[i]` (see [`Ops::add8`]).
    fn sub8(self, a: [f32; 8], b: &[f32; 8]) -> [f32; 8];

    /// `s += v` over a whole column of the block: two [`Ops::add8`] unless an
    /// instruction set has 16-lane vectors.
    #[inline(always)]
    fn add16(self, s: &mut Lanes, v: &Lanes) {
        for h in 0..LANES / 8 {
            s[h] = self.add8(s[h], &v[h]);
        }
    }

    /// `s -= v` over a whole column ([`Ops::add16`]).
    #[inline(always)]
    fn sub16(self, s: &mut Lanes, v: &Lanes) {
        for h in 0..LANES / 8 {
            s[h] = self.sub8(s[h], &v[h]);
        }
    }

    /// [`Ops::div8`] over a whole column.
    #[inline(always)]
    fn div16(self, s: &Lanes, d: Divisor) -> Lanes {
        let mut o = ZERO_LANES;
        for h in 0..LANES / 8 {
            o[h] = self.div8(&s[h], d);
        }
        o
    }

    /// 16 rows of 8 columns into 8 columns of 16 rows (`LANES` = 16):
    /// `out[j]` holds column `j` of `rows`. Two [`Ops::t8`] unless an
    /// instruction set does better.
    #[inline(always)]
    fn t16(self, rows: &[[f32; 8]; 16]) -> [Lanes; 8] {
        let mut out = [ZERO_LANES; 8];
        for h in 0..2 {
            let mut tile: Tile = [[0f32; 8]; 8];
            tile.copy_from_slice(&rows[8 * h..8 * h + 8]);
            let tile = self.t8(&tile);
            for j in 0..8 {
                out[j][h] = tile[j];
            }
        }
        out
    }

    /// The inverse of [`Ops::t16`]: columns `cols[..8]` (16 rows each) into
    /// 16 rows of 8.
    #[inline(always)]
    fn t16_back(self, cols: &[Lanes]) -> [[f32; 8]; 16] {
        let cols = &cols[..8];
        let mut out = [[0f32; 8]; 16];
        for h in 0..2 {
            let mut tile: Tile = [[0f32; 8]; 8];
            for j in 0..8 {
                tile[j] = cols[j][h];
            }
            let tile = self.t8(&tile);
            out[8 * h..8 * h + 8].copy_from_slice(&tile);
        }
        out
    }
}

const _: () = assert!(LANES == 16, "Ops::t16 moves blocks of 16 rows");

/// A division by a sample count (a whole number), with its reciprocal
/// rounded to single precision for [`Ops::div8`].
///
/// With fused multiply-add, `q = a·y` (`y` the rounded `1/c`), `r = a − q·c`
/// (exact: one rounding of a value that fits), `q' = q + r·y` is the
/// correctly rounded `a / c` — Markstein's correction. Rather than lean on
/// the theorem's conditions, [`RECIPROCAL_EXACT_UP_TO`] is where it was
/// checked exhaustively: for every divisor up to it and every single in
/// `[1, 2)` the three steps give `/`'s bits, and scaling `a` by a power of
/// two scales every step exactly, so that covers every normal `a` (the sums
/// here are whole multiples of 2^-27 or zero, far from subnormals; negative
/// `a` mirrors positive; `-0` would come out `+0`, but no running sum is
/// `-0`: they start at `+0`, and `x − x` is `+0`). Larger divisors divide.
#[derive(Clone, Copy, Debug)]
pub(super) struct Divisor {
    c: f32,
    inv: f32,
    exact_by_reciprocal: bool,
}

/// The largest divisor for which [`Divisor`]'s reciprocal steps were checked
/// against `/` on every single in `[1, 2)`: the ignored test
/// `reciprocal_division_is_exact_for_every_divisor` does it (run it with
/// `--ignored` in a release build), and `reciprocal_division_is_exact`
/// re-checks a part of it in every test run. PDQ's windows are about a side
/// over 128, so this covers images up to two million pixels a side; larger
/// windows divide.
pub(super) const RECIPROCAL_EXACT_UP_TO: usize = 16384;

impl Divisor {
    #[inline(always)]
    fn new(count: usize) -> Divisor {
        let c = count as f32;
        Divisor {
            c,
            inv: 1.0 / c,
            exact_by_reciprocal: count <= RECIPROCAL_EXACT_UP_TO,
        }
    }
}

/// Plain Rust (any target).
#[derive(Clone, Copy)]
pub(super) struct Plain;

impl Ops for Plain {
    #[inline(always)]
    fn t8(self, t: &Tile) -> Tile {
        std::array::from_fn(|j| std::array::from_fn(|i| t[i][j]))
    }

    #[inline(always)]
    fn luma8(self, px: &[u8; 24]) -> [f32; 8] {
        std::array::from_fn(|k| luma(px[3 * k], px[3 * k + 1], px[3 * k + 2]))
    }

    #[inline(always)]
    fn div8(self, s: &[f32; 8], d: Divisor) -> [f32; 8] {
        s.map(|a| a / d.c)
    }

    #[inline(always)]
    fn add8(self, a: [f32; 8], b: &[f32; 8]) -> [f32; 8] {
        std::array::from_fn(|i| a[i] + b[i])
    }

    #[inline(always)]
    fn sub8(self, a: [f32; 8], b: &[f32; 8]) -> [f32; 8] {
        std::array::from_fn(|i| a[i] - b[i])
    }
}

/// `vpshufb` masks placing channel `ch` of four pixels (at byte `off + 3k`
/// of a 16-byte lane) in the low byte of four 64-bit lanes, zeroing the
/// rest: pixels 0 and 1 from the low 128-bit lane, 2 and 3 from the high
/// one (both lanes hold the same 16 bytes).
#[cfg(target_arch = "x86_64")]
const fn channel_mask(off: usize, ch: usize) -> [u8; 32] {
    let mut m = [0x80u8; 32];
    let mut k = 0;
    while k < 4 {
        m[(k / 2) * 16 + (k % 2) * 8] = (off + 3 * k + ch) as u8;
        k += 1;
    }
    m
}

/// The transpose in 24 AVX shuffles (the compiler makes 64 scalar moves of
/// the plain one), and the luminance in AVX2 double precision, four pixels
/// a vector.
#[cfg(target_arch = "x86_64")]
impl Ops for pulp::x86::V3 {
    #[inline(always)]
    fn t8(self, t: &Tile) -> Tile {
        use core::arch::x86_64::__m256;
        use pulp::bytemuck::cast;
        let a = self.avx;
        let r: [__m256; 8] = [
            cast(t[0]),
            cast(t[1]),
            cast(t[2]),
            cast(t[3]),
            cast(t[4]),
            cast(t[5]),
            cast(t[6]),
            cast(t[7]),
        ];
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

    /// Each channel byte `v` becomes the double `2^52 + v` by placing it
    /// under the exponent bits of `2^52` (a shuffle and an OR, no
    /// conversion); `fma(2^52 + v, k, -(2^52 · k))` is then exactly
    /// `v · k` before its one rounding (`2^52 · k` is exact: a power of two
    /// times `k`), i.e. the very product `f64::from(v) * k` rounds to. The
    /// sums and the rounding to single are [`luma`]'s, in its order.
    #[inline(always)]
    fn luma8(self, px: &[u8; 24]) -> [f32; 8] {
        use pulp::bytemuck::cast;
        const MASKS: [[[u8; 32]; 3]; 2] = [
            [channel_mask(0, 0), channel_mask(0, 1), channel_mask(0, 2)],
            [channel_mask(4, 0), channel_mask(4, 1), channel_mask(4, 2)],
        ];
        // Pixels 0–3 are bytes 0..12, pixels 4–7 bytes 12..24 (at 4..16 of
        // the 16 bytes from 8).
        let mut lo = [0u8; 16];
        let mut hi = [0u8; 16];
        lo.copy_from_slice(&px[..16]);
        hi.copy_from_slice(&px[8..]);
        let (lo, hi) = (luma4(self, lo, &MASKS[0]), luma4(self, hi, &MASKS[1]));
        cast(self.avx._mm256_set_m128(hi, lo))
    }

    /// [`Divisor`]'s three steps: a multiply and two fused multiply-adds
    /// instead of a `vdivps` (one per 5 cycles here); larger divisors divide.
    #[inline(always)]
    fn div8(self, s: &[f32; 8], d: Divisor) -> [f32; 8] {
        use pulp::bytemuck::cast;
        let (avx, fma) = (self.avx, self.fma);
        let a = cast(*s);
        let c = avx._mm256_set1_ps(d.c);
        if !d.exact_by_reciprocal {
            return cast(avx._mm256_div_ps(a, c));
        }
        let y = avx._mm256_set1_ps(d.inv);
        let q = avx._mm256_mul_ps(a, y);
        let r = fma._mm256_fnmadd_ps(q, c, a);
        cast(fma._mm256_fmadd_ps(r, y, q))
    }

    #[inline(always)]
    fn add8(self, a: [f32; 8], b: &[f32; 8]) -> [f32; 8] {
        use pulp::bytemuck::cast;
        cast(self.avx._mm256_add_ps(cast(a), cast(*b)))
    }

    #[inline(always)]
    fn sub8(self, a: [f32; 8], b: &[f32; 8]) -> [f32; 8] {
        use pulp::bytemuck::cast;
        cast(self.avx._mm256_sub_ps(cast(a), cast(*b)))
    }
}

/// AVX-512 (where detected): the luminance 8 pixels a vector, the rest as
/// [`pulp::x86::V3`] does it.
#[cfg(target_arch = "x86_64")]
impl Ops for pulp::x86::V4 {
    #[inline(always)]
    fn t8(self, t: &Tile) -> Tile {
        (*self).t8(t)
    }

    /// As the AVX2 version, 8 doubles a vector: the 24 bytes go to the four
    /// 128-bit lanes as bytes 0–15, 0–15, 8–23, 8–23 (two pixels' worth per
    /// lane); one masked byte shuffle per channel writes each pixel's byte
    /// into the low byte of `2^52`'s bits, so it reads `2^52 + v`.
    #[inline(always)]
    fn luma8(self, px: &[u8; 24]) -> [f32; 8] {
        use core::arch::x86_64::{__m128i, __m512d, __m512i};
        use pulp::bytemuck::cast;
        const TWO52: f64 = 4_503_599_627_370_496.0;
        const MASKS: [[u8; 64]; 3] = [
            channel_mask_512(0),
            channel_mask_512(1),
            channel_mask_512(2),
        ];
        let (f, bw) = (self.avx512f, self.avx512bw);
        let mut lo = [0u8; 16];
        let mut hi = [0u8; 16];
        lo.copy_from_slice(&px[..16]);
        hi.copy_from_slice(&px[8..]);
        let both = self
            .avx
            ._mm256_set_m128i(cast::<[u8; 16], __m128i>(hi), cast(lo));
        let wide = f._mm512_castsi256_si512(both);
        // Lanes 0, 0, 1, 1 of `wide`: imm8 picks a 128-bit lane per 2 bits.
        let bytes = f._mm512_shuffle_i64x2::<0b0101_0000>(wide, wide);
        let magic: __m512i = cast([0x4330_0000_0000_0000u64; 8]);
        let mut p: [__m512d; 3] = [f._mm512_setzero_pd(); 3];
        for ((p, mask), k) in p.iter_mut().zip(&MASKS).zip([0.299, 0.587, 0.114]) {
            let v = bw._mm512_mask_shuffle_epi8(magic, 0x0101_0101_0101_0101, bytes, cast(*mask));
            *p = f._mm512_fmadd_pd(cast(v), f._mm512_set1_pd(k), f._mm512_set1_pd(-(TWO52 * k)));
        }
        let rg = f._mm512_add_pd(p[0], p[1]);
        cast(f._mm512_cvtpd_ps(f._mm512_add_pd(rg, p[2])))
    }

    #[inline(always)]
    fn div8(self, s: &[f32; 8], d: Divisor) -> [f32; 8] {
        (*self).div8(s, d)
    }

    #[inline(always)]
    fn add8(self, a: [f32; 8], b: &[f32; 8]) -> [f32; 8] {
        (*self).add8(a, b)
    }

    #[inline(always)]
    fn sub8(self, a: [f32; 8], b: &[f32; 8]) -> [f32; 8] {
        (*self).sub8(a, b)
    }

    /// A column's 16 lanes in one 512-bit vector.
    #[inline(always)]
    fn add16(self, s: &mut Lanes, v: &Lanes) {
        use pulp::bytemuck::cast;
        *s = cast(self.avx512f._mm512_add_ps(cast(*s), cast(*v)));
    }

    #[inline(always)]
    fn sub16(self, s: &mut Lanes, v: &Lanes) {
        use pulp::bytemuck::cast;
        *s = cast(self.avx512f._mm512_sub_ps(cast(*s), cast(*v)));
    }

    /// [`Divisor`]'s three steps on 16 lanes.
    #[inline(always)]
    fn div16(self, s: &Lanes, d: Divisor) -> Lanes {
        use pulp::bytemuck::cast;
        let f = self.avx512f;
        let a = cast(*s);
        let c = f._mm512_set1_ps(d.c);
        if !d.exact_by_reciprocal {
            return cast(f._mm512_div_ps(a, c));
        }
        let y = f._mm512_set1_ps(d.inv);
        let q = f._mm512_mul_ps(a, y);
        let r = f._mm512_fnmadd_ps(q, c, a);
        cast(f._mm512_fmadd_ps(r, y, q))
    }

    /// Both 8×8 transposes at once, rows `k` and `k + 8` sharing a 512-bit
    /// vector: 24 shuffles for the two instead of 48.
    #[inline(always)]
    fn t16(self, rows: &[[f32; 8]; 16]) -> [Lanes; 8] {
        use core::arch::x86_64::__m512;
        use pulp::bytemuck::cast;
        let (f, dq) = (self.avx512f, self.avx512dq);
        // Loops, not `array::from_fn`: its closure is compiled without
        // AVX-512 and left as a call.
        let mut z: [__m512; 8] = [f._mm512_setzero_ps(); 8];
        for k in 0..8 {
            z[k] = dq._mm512_insertf32x8::<1>(
                f._mm512_castps256_ps512(cast(rows[k])),
                cast(rows[k + 8]),
            );
        }
        let t = t8_twice(self, z);
        let mut out = [ZERO_LANES; 8];
        for j in 0..8 {
            out[j] = cast(t[j]);
        }
        out
    }

    #[inline(always)]
    fn t16_back(self, cols: &[Lanes]) -> [[f32; 8]; 16] {
        use core::arch::x86_64::__m512;
        use pulp::bytemuck::cast;
        let (f, dq) = (self.avx512f, self.avx512dq);
        let cols = &cols[..8];
        // Each half loaded on its own: the columns were just written as two
        // 256-bit halves, and one 512-bit load of them would wait for both
        // stores to retire (no store forwarding across two stores).
        let mut z: [__m512; 8] = [f._mm512_setzero_ps(); 8];
        for j in 0..8 {
            z[j] = dq._mm512_insertf32x8::<1>(
                f._mm512_castps256_ps512(cast(cols[j][0])),
                cast(cols[j][1]),
            );
        }
        let t = t8_twice(self, z);
        let mut out = [[0f32; 8]; 16];
        for k in 0..8 {
            out[k] = cast(f._mm512_castps512_ps256(t[k]));
            out[k + 8] = cast(dq._mm512_extractf32x8_ps::<1>(t[k]));
        }
        out
    }
}

/// Two 8×8 transposes side by side: the low and the high 256 bits of the 8
/// vectors `z` are each 8 rows of 8, transposed in place — [`Ops::t8`]'s
/// network on 512-bit vectors, its last step (which swaps 128-bit lanes
/// within each half) one two-source permute per output.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn t8_twice(
    simd: pulp::x86::V4,
    z: [core::arch::x86_64::__m512; 8],
) -> [core::arch::x86_64::__m512; 8] {
    use core::arch::x86_64::__m512i;
    use pulp::bytemuck::cast;
    let f = simd.avx512f;
    let u = [
        f._mm512_unpacklo_ps(z[0], z[1]),
        f._mm512_unpackhi_ps(z[0], z[1]),
        f._mm512_unpacklo_ps(z[2], z[3]),
        f._mm512_unpackhi_ps(z[2], z[3]),
        f._mm512_unpacklo_ps(z[4], z[5]),
        f._mm512_unpackhi_ps(z[4], z[5]),
        f._mm512_unpacklo_ps(z[6], z[7]),
        f._mm512_unpackhi_ps(z[6], z[7]),
    ];
    let v = [
        f._mm512_shuffle_ps::<0x44>(u[0], u[2]),
        f._mm512_shuffle_ps::<0xEE>(u[0], u[2]),
        f._mm512_shuffle_ps::<0x44>(u[1], u[3]),
        f._mm512_shuffle_ps::<0xEE>(u[1], u[3]),
        f._mm512_shuffle_ps::<0x44>(u[4], u[6]),
        f._mm512_shuffle_ps::<0xEE>(u[4], u[6]),
        f._mm512_shuffle_ps::<0x44>(u[5], u[7]),
        f._mm512_shuffle_ps::<0xEE>(u[5], u[7]),
    ];
    // Output j < 4: 128-bit lanes (v[j].0, v[j+4].0, v[j].2, v[j+4].2);
    // j ≥ 4: (v[j-4].1, v[j].1, v[j-4].3, v[j].3).
    let low: __m512i = cast([0u32, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27]);
    let high: __m512i = cast([
        4u32, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31,
    ]);
    [
        f._mm512_permutex2var_ps(v[0], low, v[4]),
        f._mm512_permutex2var_ps(v[1], low, v[5]),
        f._mm512_permutex2var_ps(v[2], low, v[6]),
        f._mm512_permutex2var_ps(v[3], low, v[7]),
        f._mm512_permutex2var_ps(v[0], high, v[4]),
        f._mm512_permutex2var_ps(v[1], high, v[5]),
        f._mm512_permutex2var_ps(v[2], high, v[6]),
        f._mm512_permutex2var_ps(v[3], high, v[7]),
    ]
}

/// `vpshufb` masks (zmm) placing channel `ch` of pixel `k` in the low byte
/// of 64-bit lane `k`, the lanes holding bytes 0–15, 0–15, 8–23, 8–23 of
/// the 8 pixels (see [`pulp::x86::V4`]'s `luma8`); the other bytes are
/// not written (masked).
#[cfg(target_arch = "x86_64")]
const fn channel_mask_512(ch: usize) -> [u8; 64] {
    let mut m = [0u8; 64];
    let mut k = 0;
    while k < 8 {
        // Pixel k's byte in the 8 pixels, then within its 128-bit lane.
        let at = 3 * k + ch;
        let lane_start = if k < 4 { 0 } else { 8 };
        m[8 * k] = (at - lane_start) as u8;
        k += 1;
    }
    m
}

/// Four pixels of [`Ops::luma8`] for AVX2 (a function, not a closure: a
/// closure is compiled without the AVX2 target, and its intrinsics would
/// become calls).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn luma4(
    simd: pulp::x86::V3,
    bytes: [u8; 16],
    masks: &[[u8; 32]; 3],
) -> core::arch::x86_64::__m128 {
    use core::arch::x86_64::{__m128i, __m256d, __m256i};
    use pulp::bytemuck::cast;
    const TWO52: f64 = 4_503_599_627_370_496.0;
    let (avx, avx2, fma) = (simd.avx, simd.avx2, simd.fma);
    let magic: __m256i = cast([0x4330_0000_0000_0000u64; 4]);
    let bytes = avx2._mm256_broadcastsi128_si256(cast::<[u8; 16], __m128i>(bytes));
    let mut p: [__m256d; 3] = [avx._mm256_setzero_pd(); 3];
    for ((p, mask), k) in p.iter_mut().zip(masks).zip([0.299, 0.587, 0.114]) {
        let v = avx2._mm256_or_si256(avx2._mm256_shuffle_epi8(bytes, cast(*mask)), magic);
        *p = fma._mm256_fmadd_pd(
            cast(v),
            avx._mm256_set1_pd(k),
            avx._mm256_set1_pd(-(TWO52 * k)),
        );
    }
    let rg = avx._mm256_add_pd(p[0], p[1]);
    avx._mm256_cvtpd_ps(avx._mm256_add_pd(rg, p[2]))
}

/// Where a running sum's outputs go: `emit(oi, sums, count)` receives each
/// output position with the running sums and the sample count there. A
/// trait with an `#[inline(always)]` method, never a closure: a closure is
/// compiled without the AVX2 target, so its intrinsics would become calls,
/// and the compiler may leave the closure itself a call (once it did, for
/// every column of the second pass: a fifth of the kernel's time).
trait Emit {
    fn emit(&mut self, oi: usize, sums: &Lanes, count: Divisor);
}

/// The reference's running-sum box filter (as [`super::downsample::box_1d`])
/// over `LANES` interleaved rows, all of it.
#[inline(always)]
fn box_lanes<T: Ops>(tr: T, input: &[Lanes], window: usize, emit: impl Emit) {
    let mut sums = ZERO_LANES;
    let steps = box_steps(input.len(), window);
    box_run(tr, input, window, &mut sums, 0..steps, emit);
}

/// How many steps [`box_run`] takes over `cols` inputs: one per input, then
/// the shrinking tail.
#[inline(always)]
fn box_steps(cols: usize, window: usize) -> usize {
    cols + (window + 2) / 2 - 1
}

/// Steps `steps` of [`box_1d`](super::downsample::box_1d)'s running sum over
/// `LANES` interleaved rows, so that a pass can advance as its input
/// arrives: step `t` adds input `t` (if `t < cols`), then subtracts input
/// `t - window` (if `t ≥ window`), then emits output `t - (half - 1)` (if
/// `t ≥ half - 1`), dividing by the samples then in the window. Step by step
/// these are `box_1d`'s operations in its order (its four loops are the four
/// ranges of `t` below). Step `t` reads inputs up to `t` only.
#[inline(always)]
fn box_run<T: Ops>(
    tr: T,
    input: &[Lanes],
    window: usize,
    sums: &mut Lanes,
    steps: std::ops::Range<usize>,
    mut emit: impl Emit,
) {
    let cols = input.len();
    let half = (window + 2) / 2;
    let clip = |a: usize, b: usize| steps.start.max(a)..steps.end.min(b);
    for t in clip(0, half - 1) {
        tr.add16(sums, &input[t]);
    }
    for t in clip(half - 1, window) {
        tr.add16(sums, &input[t]);
        emit.emit(t + 1 - half, sums, Divisor::new(t + 1));
    }
    let c = Divisor::new(window);
    for t in clip(window, cols) {
        tr.add16(sums, &input[t]);
        tr.sub16(sums, &input[t - window]);
        emit.emit(t + 1 - half, sums, c);
    }
    for t in clip(cols, cols + half - 1) {
        tr.sub16(sums, &input[t - window]);
        emit.emit(t + 1 - half, sums, Divisor::new(cols + window - 1 - t));
    }
}

/// `LANES` rows (row-major, `cols` each) into the interleaved layout, 8×8
/// tiles at a time (each group of 8 rows fills its 8 of the lanes).
#[inline(always)]
fn to_lanes<T: Ops>(tr: T, rows: &[f32], out: &mut [Lanes]) {
    let cols = out.len();
    let tiles = cols / 8;
    let rows = &rows[..LANES * cols];
    for k in 0..tiles {
        let x0 = 8 * k;
        let mut tile = [[0f32; 8]; 16];
        for l in 0..16 {
            tile[l].copy_from_slice(&rows[l * cols + x0..l * cols + x0 + 8]);
        }
        out[x0..x0 + 8].copy_from_slice(&tr.t16(&tile));
    }
    for x in tiles * 8..cols {
        for l in 0..LANES {
            out[x][l / 8][l % 8] = rows[l * cols + x];
        }
    }
}

/// Luminance of input columns `xs` (8-aligned start) of the block's `n`
/// rows (packed RGB, `cols` pixels a row) into the interleaved block: 8
/// pixels of 8 rows at a time, then an 8×8 transpose. Lanes past `n` get 0.
#[inline(always)]
fn luma_into<T: Ops>(
    tr: T,
    rgb: &[u8],
    n: usize,
    cols: usize,
    xs: std::ops::Range<usize>,
    block: &mut [Lanes],
) {
    let tiles_end = if xs.end == cols { cols / 8 * 8 } else { xs.end };
    for k in 0..(tiles_end - xs.start) / 8 {
        let x0 = xs.start + 8 * k;
        let mut rows = [[0f32; 8]; 16];
        for l in 0..n.min(16) {
            let at = 3 * (cols * l + x0);
            let mut px = [0u8; 24];
            px.copy_from_slice(&rgb[at..at + 24]);
            rows[l] = tr.luma8(&px);
        }
        block[x0..x0 + 8].copy_from_slice(&tr.t16(&rows));
    }
    for x in tiles_end..xs.end {
        for (l, c) in block[x].as_flattened_mut().iter_mut().enumerate() {
            *c = if l < n {
                let p = &rgb[3 * (cols * l + x)..];
                luma(p[0], p[1], p[2])
            } else {
                0.0
            };
        }
    }
}

/// One input row of the column filter within a block (see
/// [`ColumnFilter::plan`]): where it goes in the ring, which ring row it
/// subtracts, which output row it divides into, and by what. Rows before
/// the window is full subtract the ring's row of zeros (`x − 0` is `x`, bit
/// for bit), and rows before the first output write to a scratch row, so
/// the loop over a block's rows has no branches.
#[derive(Clone, Copy)]
struct RowPlan {
    new: usize,
    old: usize,
    out: usize,
    by: Divisor,
}

/// The first pass's column filter (as [`super::downsample`]'s
/// `ColumnStage`), fed by the row filter 8 columns by `LANES` rows at a
/// time: one running sum per column, a ring of the last `window + 1` input
/// rows for the subtractions (and a row of zeros after them). Row `t` of the
/// input adds, then (once `t ≥ window`) subtracts row `t - window`, then
/// (once `t ≥ half - 1`) divides into output row `t - (half - 1)`; after the
/// last input row, `half - 1` more steps only subtract and divide — the
/// reference's operations in its order, for every column.
struct ColumnFilter {
    rows: usize,
    cols: usize,
    window: usize,
    half: usize,
    ring: Vec<f32>,
    sums: Vec<f32>,
}

impl ColumnFilter {
    fn new(rows: usize, cols: usize) -> ColumnFilter {
        let window = jarosz_window(rows, 64);
        ColumnFilter {
            rows,
            cols,
            window,
            half: (window + 2) / 2,
            ring: vec![0f32; (window + 2) * cols],
            sums: vec![0f32; cols],
        }
    }

    #[inline(always)]
    fn slot(&self, t: usize) -> usize {
        (t % (self.window + 1)) * self.cols
    }

    /// How many output rows exist once input rows `0..r` are in.
    #[inline(always)]
    fn emitted(&self, r: usize) -> usize {
        (r + 1).saturating_sub(self.half)
    }

    /// For each of the block's rows `y0..y0 + n`: where it goes in the ring,
    /// which ring row it subtracts, and which output row it divides into,
    /// by what — computed once a block, not per 8 columns (the ring's
    /// modulo is an integer division).
    #[inline(always)]
    fn plan(&self, y0: usize, n: usize) -> [RowPlan; LANES] {
        let zeros = (self.window + 1) * self.cols;
        let mut plan = [RowPlan {
            new: 0,
            old: zeros,
            out: SCRATCH_ROW * self.cols,
            by: Divisor::new(1),
        }; LANES];
        for (l, p) in plan.iter_mut().enumerate().take(n) {
            let t = y0 + l;
            p.new = self.slot(t);
            if t >= self.window {
                p.old = self.slot(t - self.window);
            }
            if t + 1 >= self.half {
                p.out = second_row(t + 1 - self.half, self.cols);
                p.by = Divisor::new((t + 1).min(self.window));
            }
        }
        plan
    }

    /// Input rows `y0..y0 + n` (as `plan` describes them) at columns
    /// `x0..x0 + 8·G`, as the row filter left them interleaved in `pending`
    /// (column `x0 + j` in `pending[j]`); output rows go to `out` (the
    /// second pass's ring of rows). Each group of 8 columns is one running
    /// sum down the rows, a chain of dependent additions; `G` of them side
    /// by side keep the adder busy instead of waiting on its latency (with
    /// one, this loop was a fifth of the kernel).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn tile<T: Ops, const G: usize>(
        ring: &mut [f32],
        sums: &mut [f32],
        out: &mut [f32],
        plan: &[RowPlan; LANES],
        tr: T,
        x0: usize,
        pending: &[Lanes],
        n: usize,
    ) {
        let mut v = [[[0f32; 8]; G]; LANES];
        for g in 0..G {
            let rows = tr.t16_back(&pending[8 * g..]);
            for l in 0..LANES {
                v[l][g] = rows[l];
            }
        }
        let mut s = [[0f32; 8]; G];
        for g in 0..G {
            s[g].copy_from_slice(&sums[x0 + 8 * g..x0 + 8 * g + 8]);
        }
        for l in 0..n {
            let p = plan[l];
            // Each row's three slices are cut once (8·G long), so the
            // indexing inside needs no bounds checks.
            let mut old = [[0f32; 8]; G];
            let from = &ring[p.old + x0..p.old + x0 + 8 * G];
            for g in 0..G {
                old[g].copy_from_slice(&from[8 * g..8 * g + 8]);
                s[g] = tr.sub8(tr.add8(s[g], &v[l][g]), &old[g]);
            }
            let to = &mut ring[p.new + x0..p.new + x0 + 8 * G];
            for g in 0..G {
                to[8 * g..8 * g + 8].copy_from_slice(&v[l][g]);
            }
            let to = &mut out[p.out + x0..p.out + x0 + 8 * G];
            for g in 0..G {
                to[8 * g..8 * g + 8].copy_from_slice(&tr.div8(&s[g], p.by));
            }
        }
        for g in 0..G {
            sums[x0 + 8 * g..x0 + 8 * g + 8].copy_from_slice(&s[g]);
        }
    }

    /// As [`ColumnFilter::tile`] for the last columns `x0..cols` (fewer than
    /// 8; column `x0 + j` in `pending[j]`).
    #[inline(always)]
    fn tail<T: Ops>(
        &mut self,
        x0: usize,
        pending: &[Lanes],
        y0: usize,
        n: usize,
        second: &mut SecondPass<T>,
    ) {
        for x in x0..self.cols {
            let mut s = self.sums[x];
            for (l, &v) in pending[x - x0].as_flattened().iter().enumerate().take(n) {
                let t = y0 + l;
                s += v;
                if t >= self.window {
                    s -= self.ring[self.slot(t - self.window) + x];
                }
                let w = self.slot(t) + x;
                self.ring[w] = v;
                if t + 1 >= self.half {
                    let c = (t + 1).min(self.window) as f32;
                    second.row_mut(t + 1 - self.half)[x] = s / c;
                }
            }
            self.sums[x] = s;
        }
    }

    /// After the last input row: the remaining output rows.
    #[inline(always)]
    fn drain<T: Ops>(&mut self, second: &mut SecondPass<T>) {
        for t in self.rows..self.rows + self.half - 1 {
            let o = self.slot(t - self.window);
            let c = (self.rows + self.window - 1 - t) as f32;
            let out = second.row_mut(t + 1 - self.half);
            for ((s, v), d) in self
                .sums
                .iter_mut()
                .zip(&self.ring[o..o + self.cols])
                .zip(out)
            {
                *s -= v;
                *d = *s / c;
            }
            second.advance(t + 2 - self.half);
        }
    }
}

/// The second pass's column filter (as [`super::downsample`]'s
/// `ColumnStage`) on the 64 sampled columns: one running sum per column, fed
/// a row at a time, with a ring of the last `window + 1` rows for the
/// subtractions.
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

    /// Takes lane `l` of the 64 sampled columns as the next input row;
    /// returns the next output row once there is one. Once the window is
    /// full, adding the new row, subtracting the oldest and dividing run in
    /// one loop (each column still sees add, subtract, divide in that order).
    #[inline(always)]
    fn push(&mut self, sampled: &[Lanes; 64], l: usize) -> Option<&[f32]> {
        let s = self.slot(self.ri);
        let cols = self.cols;
        for (d, s) in self.ring[s..s + cols].iter_mut().zip(sampled) {
            *d = s[l / 8][l % 8];
        }
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
/// filter are collected `LANES` at a time (in a ring of two blocks, written
/// in place by [`ColumnFilter`]), filtered along rows (dividing only at the
/// 64 sampled columns), then down those 64 columns, and the sampled rows are
/// kept.
struct SecondPass<T> {
    tr: T,
    total: usize,
    rows: Vec<f32>,
    start: usize,
    block: Vec<Lanes>,
    window: usize,
    cols_wanted: [usize; 64],
    rows_wanted: [usize; 64],
    sampled: [Lanes; 64],
    columns: Columns,
    next_row: usize,
    out: Vec<[f32; 64]>,
}

impl<T: Ops> SecondPass<T> {
    fn new(tr: T, rows: usize, cols: usize) -> SecondPass<T> {
        let pick = |n: usize| -> [usize; 64] {
            std::array::from_fn(|o| (((o as f64 + 0.5) * n as f64) / 64.0) as usize)
        };
        SecondPass {
            tr,
            total: rows,
            rows: vec![0f32; (SCRATCH_ROW + 1) * cols],
            start: 0,
            block: vec![ZERO_LANES; cols],
            window: jarosz_window(cols, 64),
            cols_wanted: pick(cols),
            rows_wanted: pick(rows),
            sampled: [ZERO_LANES; 64],
            columns: Columns::new(64, jarosz_window(rows, 64)),
            next_row: 0,
            out: vec![[0f32; 64]; 64],
        }
    }

    /// Where row `o` of the first pass's output goes.
    #[inline(always)]
    fn row_mut(&mut self, o: usize) -> &mut [f32] {
        let cols = self.block.len();
        let s = second_row(o, cols);
        &mut self.rows[s..s + cols]
    }

    /// Runs every complete block once rows `0..emitted` are written.
    #[inline(always)]
    fn advance(&mut self, emitted: usize) {
        while emitted >= self.start + LANES {
            self.run_block(LANES);
        }
    }

    #[inline(always)]
    fn run_block(&mut self, n: usize) {
        let cols = self.block.len();
        let s = (self.start % (2 * LANES)) * cols;
        self.start += n;
        to_lanes(self.tr, &self.rows[s..s + LANES * cols], &mut self.block);
        let mut sample = Sample {
            tr: self.tr,
            wanted: &self.cols_wanted,
            sampled: &mut self.sampled,
            k: 0,
        };
        box_lanes(self.tr, &self.block, self.window, &mut sample);
        for l in 0..n {
            if let Some(done) = self.columns.push(&self.sampled, l) {
                keep(&self.rows_wanted, &mut self.out, &mut self.next_row, done);
            }
        }
    }

    #[inline(always)]
    fn finish(mut self) -> Vec<[f32; 64]> {
        if self.start < self.total {
            self.run_block(self.total - self.start);
        }
        while let Some(done) = self.columns.drain() {
            keep(&self.rows_wanted, &mut self.out, &mut self.next_row, done);
        }
        self.out
    }
}

/// The second row pass's outputs: divided only at the 64 sampled columns.
struct Sample<'a, T> {
    tr: T,
    wanted: &'a [usize; 64],
    sampled: &'a mut [Lanes; 64],
    k: usize,
}

impl<T: Ops> Emit for &mut Sample<'_, T> {
    #[inline(always)]
    fn emit(&mut self, oi: usize, sums: &Lanes, d: Divisor) {
        // The division inside the test: written inside the loop, it was
        // hoisted out of it and ran at every column.
        if self.k < 64 && self.wanted[self.k] == oi {
            let q = self.tr.div16(sums, d);
            while self.k < 64 && self.wanted[self.k] == oi {
                self.sampled[self.k] = q;
                self.k += 1;
            }
        }
    }
}

/// The row after [`SecondPass`]'s ring of two blocks of rows, where
/// [`ColumnFilter::tile`] writes the outputs that do not exist yet.
const SCRATCH_ROW: usize = 2 * LANES;

/// Where row `o` of the first pass's output starts in [`SecondPass`]'s ring
/// of two blocks of rows.
#[inline(always)]
fn second_row(o: usize, cols: usize) -> usize {
    (o % (2 * LANES)) * cols
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

/// Columns of the first row filter's output collected before they go
/// through the column filter ([`ColumnFilter::tile`] with 4 groups of 8).
const PENDING: usize = 32;

/// The first row filter's outputs for rows `y0..y0 + n`: divided, collected
/// [`PENDING`] columns at a time, then handed to the column filter.
struct RowOutputs<'a, T> {
    tr: T,
    pending: [Lanes; PENDING],
    n: usize,
    plan: [RowPlan; LANES],
    ring: &'a mut [f32],
    sums: &'a mut [f32],
    out: &'a mut [f32],
}

impl<T: Ops> Emit for &mut RowOutputs<'_, T> {
    #[inline(always)]
    fn emit(&mut self, oi: usize, sums: &Lanes, count: Divisor) {
        self.pending[oi % PENDING] = self.tr.div16(sums, count);
        if oi % PENDING == PENDING - 1 {
            ColumnFilter::tile::<T, { PENDING / 8 }>(
                self.ring,
                self.sums,
                self.out,
                &self.plan,
                self.tr,
                oi + 1 - PENDING,
                &self.pending,
                self.n,
            );
        }
    }
}

impl<T: Ops> RowOutputs<'_, T> {
    /// After the row filter's last output: the columns still pending, 8 at
    /// a time, then the last few (`cols` in all).
    #[inline(always)]
    fn flush(&mut self, cols: usize) -> usize {
        let start = cols / PENDING * PENDING;
        let tiles = cols / 8 * 8;
        for x0 in (start..tiles).step_by(8) {
            ColumnFilter::tile::<T, 1>(
                self.ring,
                self.sums,
                self.out,
                &self.plan,
                self.tr,
                x0,
                &self.pending[x0 - start..],
                self.n,
            );
        }
        tiles - start
    }
}

/// Luminance, two passes of the tent filter, and 64×64 decimation of packed
/// RGB (`rows × cols` pixels, at least 5 a side, not exactly 64×64: the
/// caller handles that unfiltered case), bit-identical to
/// [`super::downsample::luma_downsample_64`]. `tr` supplies the transposes
/// and the luminance.
#[inline(always)]
pub(super) fn luma_downsample_64<T: Ops>(
    tr: T,
    rgb: &[u8],
    rows: usize,
    cols: usize,
) -> Vec<[f32; 64]> {
    let window = jarosz_window(cols, 64);
    let steps = box_steps(cols, window);
    let tiles = cols / 8 * 8;
    let mut block = vec![ZERO_LANES; cols];
    let mut columns = ColumnFilter::new(rows, cols);
    let mut second = SecondPass::new(tr, rows, cols);
    for (b, rgb_rows) in rgb[..3 * rows * cols].chunks(LANES * 3 * cols).enumerate() {
        let (y0, n) = (b * LANES, rgb_rows.len() / (3 * cols));
        let mut sums = ZERO_LANES;
        let mut emit = RowOutputs {
            tr,
            pending: [ZERO_LANES; PENDING],
            n,
            plan: columns.plan(y0, n),
            ring: &mut columns.ring,
            sums: &mut columns.sums,
            out: &mut second.rows,
        };
        let mut done = 0;
        for x0 in (0..cols).step_by(CHUNK) {
            let x1 = (x0 + CHUNK).min(cols);
            luma_into(tr, rgb_rows, n, cols, x0..x1, &mut block);
            box_run(tr, &block, window, &mut sums, done..x1, &mut emit);
            done = x1;
        }
        box_run(tr, &block, window, &mut sums, done..steps, &mut emit);
        let rest = emit.flush(cols);
        let pending = emit.pending;
        columns.tail(tiles, &pending[rest..], y0, n, &mut second);
        second.advance(columns.emitted(y0 + n));
    }
    columns.drain(&mut second);
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

    /// The plain and the vectorised blocked kernels against the scalar
    /// path, bit for bit, on noise of `rows`×`cols`.
    fn kernels_agree(rows: usize, cols: usize, seed: u32) {
        let rgb = noise(rows, cols, seed);
        let want = super::super::downsample::luma_downsample_64(&rgb, rows, cols);
        for got in [
            luma_downsample_64(Plain, &rgb, rows, cols),
            super::super::avx2_downsample_64(&rgb, rows, cols),
            super::super::vectorised_downsample_64(&rgb, rows, cols),
        ] {
            for (g, w) in got.iter().zip(&want) {
                for (a, b) in g.iter().zip(w) {
                    assert_eq!(a.to_bits(), b.to_bits(), "{rows}×{cols}");
                }
            }
        }
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
            kernels_agree(rows, cols, (rows * 131 + cols) as u32);
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

    /// Every shape from 5×5 to 40×40 (all phases of both running sums, full
    /// and partial blocks of rows, tiles and tail columns), and sides of 64,
    /// 65 and 1411.
    #[test]
    fn blocked_equals_the_scalar_path_on_small_and_odd_shapes() {
        let mut shapes: Vec<(usize, usize)> = (5..=40)
            .flat_map(|r| (5..=40).map(move |c| (r, c)))
            .collect();
        shapes.extend([
            (64, 65),
            (65, 64),
            (65, 65),
            (64, 9),
            (7, 64),
            (1411, 6),
            (6, 1411),
            (40, 1411),
            (1411, 23),
        ]);
        for (rows, cols) in shapes {
            kernels_agree(rows, cols, (rows * 7919 + cols) as u32);
        }
    }

    /// The AVX2 and AVX-512 luminance (magic-number conversion and fused
    /// multiply-add) against the tables, on [`luma_cases`].
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx_luma_equals_the_tables() {
        let px = luma_cases();
        let mut want = vec![0f32; px.len() / 3];
        super::super::downsample::luma_row(&px, &mut want);
        if let Some(simd) = pulp::x86::V3::try_new() {
            luma_agrees(simd, &px, &want, |simd, job| simd.vectorize(job));
        }
        if let Some(simd) = pulp::x86::V4::try_new() {
            luma_agrees(simd, &px, &want, |simd, job| simd.vectorize(job));
        } else {
            eprintln!("no AVX-512 here: its luminance is not tested");
        }
    }

    /// Every value of each channel, with the other two channels running
    /// through all values too.
    #[cfg(target_arch = "x86_64")]
    fn luma_cases() -> Vec<u8> {
        let mut px = Vec::with_capacity(3 * 256 * 256);
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                px.extend([a, b, a.wrapping_mul(31).wrapping_add(b)]);
                px.extend([b, a.wrapping_add(b), a]);
            }
        }
        px
    }

    #[cfg(target_arch = "x86_64")]
    fn luma_agrees<S: Ops>(
        simd: S,
        px: &[u8],
        want: &[f32],
        run: impl Fn(S, AvxLuma<'_, S>) -> [f32; 8],
    ) {
        for (chunk, w) in px.chunks_exact(24).zip(want.chunks_exact(8)) {
            let Some(chunk) = chunk.first_chunk::<24>() else {
                unreachable!("chunks of 24")
            };
            let got = run(simd, AvxLuma { simd, px: chunk });
            for (g, w) in got.iter().zip(w) {
                assert_eq!(g.to_bits(), w.to_bits(), "{chunk:?}");
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    struct AvxLuma<'a, S> {
        simd: S,
        px: &'a [u8; 24],
    }

    #[cfg(target_arch = "x86_64")]
    impl<S: Ops> pulp::NullaryFnOnce for AvxLuma<'_, S> {
        type Output = [f32; 8];

        #[inline(always)]
        fn call(self) -> [f32; 8] {
            self.simd.luma8(self.px)
        }
    }

    /// [`Divisor`]'s reciprocal steps, as the AVX2 [`Ops::div8`] runs them,
    /// against `/`: every single in `[1, 2)` for divisors up to 48 (PDQ's
    /// windows for sides up to 6,000 pixels; the exhaustive run up to
    /// [`RECIPROCAL_EXACT_UP_TO`] is in `PERFORMANCE.md` §6), every 4099th
    /// for each divisor up to [`RECIPROCAL_EXACT_UP_TO`], and other binades,
    /// negative values and zero. Not `-0`, which the steps turn into `+0`:
    /// no sum here is ever `-0` (they start at `+0`, add and subtract
    /// values, and `x − x` is `+0`).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn reciprocal_division_is_exact() {
        let ones = |step: u32| (0..1u32 << 23).step_by(step as usize);
        let mut values: Vec<f32> = ones(1).map(|m| f32::from_bits(0x3f80_0000 | m)).collect();
        assert_eq!(first_wrong_division(&values, 1..49), None);
        values = ones(4099)
            .map(|m| f32::from_bits(0x3f80_0000 | m))
            .chain([0.0, 255.0, 1e-6, 3.0e5, 7.5, 2f32.powi(-27), 12_345.679])
            .flat_map(|a| [a, -a, a * 1024.0])
            .filter(|a| a.to_bits() != (-0f32).to_bits())
            .collect();
        assert_eq!(
            first_wrong_division(&values, 1..RECIPROCAL_EXACT_UP_TO + 1),
            None
        );
    }

    /// The whole check behind [`RECIPROCAL_EXACT_UP_TO`]: every divisor up to
    /// it, every single in `[1, 2)`, 1.4·10^11 divisions for each of the AVX2
    /// and the AVX-512 arm (about 3 minutes on two cores in a release build):
    /// `cargo test --release --lib reciprocal_division_is_exact_for_every_divisor -- --ignored`
    #[cfg(target_arch = "x86_64")]
    #[test]
    #[ignore = "exhaustive: a minute or more, in a release build"]
    fn reciprocal_division_is_exact_for_every_divisor() {
        use rayon::prelude::*;
        let values: Vec<f32> = (0..1u32 << 23)
            .map(|m| f32::from_bits(0x3f80_0000 | m))
            .collect();
        let wrong: Vec<(f32, usize)> = (1..RECIPROCAL_EXACT_UP_TO + 1)
            .into_par_iter()
            .filter_map(|c| first_wrong_division(&values, c..c + 1))
            .collect();
        assert_eq!(wrong, []);
    }

    /// The first `(a, divisor)` where `/` and [`Ops::div16`] differ, under
    /// AVX2 (two [`Ops::div8`]) and, where the processor has it, AVX-512 (one
    /// 16-lane vector). `None` without AVX2: the plain kernel divides.
    #[cfg(target_arch = "x86_64")]
    fn first_wrong_division(
        values: &[f32],
        divisors: std::ops::Range<usize>,
    ) -> Option<(f32, usize)> {
        let avx2 = pulp::x86::V3::try_new().and_then(|simd| {
            simd.vectorize(DivJob {
                simd,
                values,
                divisors: divisors.clone(),
            })
        });
        let avx512 = pulp::x86::V4::try_new().and_then(|simd| {
            simd.vectorize(DivJob {
                simd,
                values,
                divisors,
            })
        });
        avx2.or(avx512)
    }

    #[cfg(target_arch = "x86_64")]
    struct DivJob<'a, S> {
        simd: S,
        values: &'a [f32],
        divisors: std::ops::Range<usize>,
    }

    #[cfg(target_arch = "x86_64")]
    impl<S: Ops> pulp::NullaryFnOnce for DivJob<'_, S> {
        type Output = Option<(f32, usize)>;

        #[inline(always)]
        fn call(self) -> Option<(f32, usize)> {
            for c in self.divisors {
                let d = Divisor::new(c);
                assert!(d.exact_by_reciprocal);
                for chunk in self.values.chunks(16) {
                    let mut a = ZERO_LANES;
                    for (i, v) in chunk.iter().enumerate() {
                        a[i / 8][i % 8] = *v;
                    }
                    let got = self.simd.div16(&a, d);
                    for (i, v) in chunk.iter().enumerate() {
                        if got[i / 8][i % 8].to_bits() != (v / c as f32).to_bits() {
                            return Some((*v, c));
                        }
                    }
                }
            }
            None
        }
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
