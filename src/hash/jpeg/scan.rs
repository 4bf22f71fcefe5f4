//! Decoding one scan's DC coefficients (ITU T.81 F.2 and G.1.2.1), and in
//! a sequential scan the low AC coefficients of a component kept at a
//! reduced scale (`Component::keep` > 1).

use super::Frame;
use super::huffman::{Bits, Table, next_marker};
use super::idct::Kernel;

/// A scan header (SOS), checked against the frame.
pub(super) struct Scan {
    /// For each component in the scan: its index in the frame, its DC and AC
    /// table numbers.
    pub components: Vec<(usize, usize, usize)>,
    /// Spectral selection start and end, successive approximation high and low.
    pub ss: u8,
    pub se: u8,
    pub ah: u8,
    pub al: u8,
}

/// What the scan holds, as far as DC is concerned.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Sequential: every block's DC difference followed by its AC codes.
    Sequential,
    /// Progressive, first DC scan: differences of `DC >> al`.
    DcFirst,
    /// Progressive DC refinement: one more bit of each DC value.
    DcRefine,
    /// Progressive AC scan: nothing the DC image needs.
    Ac,
}

/// Decodes the scan whose entropy-coded data starts at `pos`, storing DC
/// values into the frame's components; returns the offset of the marker that
/// ends it. `None` for anything malformed or outside what this decoder reads.
pub(super) fn decode(
    data: &[u8],
    pos: usize,
    scan: &Scan,
    frame: &mut Frame,
    dc_tables: &[Option<Table>; 4],
    ac_tables: &[Option<Table>; 4],
    restart_interval: usize,
) -> Option<usize> {
    let kind = match (frame.progressive, scan.ss, scan.se, scan.ah) {
        (false, 0, 63, 0) if scan.al == 0 => Kind::Sequential,
        (true, 0, 0, 0) => Kind::DcFirst,
        (true, 0, 0, ah) if ah == scan.al + 1 => Kind::DcRefine,
        (true, ss, se, _) if ss > 0 && se >= ss && se < 64 && scan.components.len() == 1 => {
            Kind::Ac
        }
        _ => return None,
    };
    if kind == Kind::Ac {
        return skip_entropy_data(data, pos);
    }
    // The tables each component uses in this scan (a refinement uses none).
    let mut tables = Vec::with_capacity(scan.components.len());
    for &(c, td, ta) in &scan.components {
        let dc = match kind {
            Kind::DcRefine => None,
            _ => Some(dc_tables[td].as_ref()?),
        };
        let ac = match kind {
            Kind::Sequential => Some(ac_tables[ta].as_ref()?),
            _ => None,
        };
        let comp = &mut frame.components[c];
        comp.dc_seen = true;
        // A reduced inverse DCT needs the AC codes of a sequential scan.
        let kernel = match (kind, comp.keep) {
            (_, 1) => None,
            (Kind::Sequential, n) => Some(Kernel::new(n)?),
            _ => return None,
        };
        tables.push((c, dc, ac, kernel));
    }
    let mut coefs = [0i32; 64];
    let al = u32::from(scan.al);
    let interleaved = scan.components.len() > 1;
    let (units_x, units) = if interleaved {
        (frame.mcus_x, frame.mcus_x * frame.mcus_y)
    } else {
        let c = &frame.components[scan.components[0].0];
        (c.blocks_w, c.blocks_w * c.blocks_h)
    };

    let mut bits = Bits::new(data, pos);
    let mut predictions = [0i32; 4];
    for unit in 0..units {
        // Data that ends early is damaged: stop now rather than walk the rest
        // of the frame on zeros (a tiny file could declare a huge frame).
        if bits.overran() {
            return None;
        }
        if restart_interval > 0 && unit > 0 && unit % restart_interval == 0 {
            bits.restart()?;
            predictions = [0; 4];
        }
        let (ux, uy) = (unit % units_x, unit / units_x);
        for (slot, (c, dc, ac, kernel)) in tables.iter().enumerate() {
            let (c, dc, ac) = (*c, *dc, *ac);
            let comp = &mut frame.components[c];
            let (bw, bh) = if interleaved {
                (usize::from(comp.h), usize::from(comp.v))
            } else {
                (1, 1)
            };
            for by in 0..bh {
                for bx in 0..bw {
                    let index = (uy * bh + by) * comp.stride + ux * bw + bx;
                    let value = comp.dc.get_mut(index)?;
                    bits.ensure();
                    match kind {
                        Kind::Sequential | Kind::DcFirst => {
                            let size = u32::from(bits.symbol(dc?)?);
                            if size > 11 {
                                return None;
                            }
                            predictions[slot] = predictions[slot].wrapping_add(bits.signed(size));
                            *value = predictions[slot] << al;
                            match (ac, kernel) {
                                (Some(ac), Some(kernel)) => {
                                    coefs[0] = predictions[slot];
                                    read_low_ac(&mut bits, ac, kernel.last(), &mut coefs)?;
                                    let n = kernel.n();
                                    let stride = comp.stride * n;
                                    let (row, col) = (uy * bh + by, ux * bw + bx);
                                    let start = row * n * stride + col * n;
                                    let out = comp.samples.get_mut(start..)?;
                                    kernel.block(&coefs, comp.quant.as_ref()?, out, stride)?;
                                }
                                (Some(ac), None) => skip_ac(&mut bits, ac)?,
                                (None, _) => {}
                            }
                        }
                        Kind::DcRefine => {
                            if bits.take(1) == 1 {
                                *value |= 1 << al;
                            }
                        }
                        Kind::Ac => unreachable!("AC scans are skipped above"),
                    }
                }
            }
        }
    }
    bits.end()
}

/// Reads past one block's AC codes (F.2.2.2) without keeping them. The
/// same loop as [`read_low_ac`] without its keeping, on purpose: written as
/// `read_low_ac` keeping nothing (`last = 0`, or a const parameter compiling
/// the keeping out) the DC route read baseline JPEGs 4–15% slower
/// (`cargo bench --bench hash -- 'jpeg dc read'`, 2026-11-30).
#[inline]
fn skip_ac(bits: &mut Bits, table: &Table) -> Option<()> {
    let mut k = 1;
    while k < 64 {
        bits.ensure();
        let rs = bits.symbol(table)?;
        let (run, size) = (u32::from(rs >> 4), u32::from(rs & 15));
        if size == 0 {
            if run != 15 {
                return Some(()); // end of block
            }
            k += 16;
        } else {
            bits.skip(size);
            k += run + 1;
        }
    }
    (k == 64).then_some(())
}

/// Reads one block's AC codes, keeping the coefficients at zig-zag
/// positions `1..=last` in `coefs` (the others are zeroed or left alone).
#[inline]
fn read_low_ac(bits: &mut Bits, table: &Table, last: usize, coefs: &mut [i32; 64]) -> Option<()> {
    coefs[1..=last].fill(0);
    let mut k = 1;
    while k < 64 {
        bits.ensure();
        let rs = bits.symbol(table)?;
        let (run, size) = (usize::from(rs >> 4), u32::from(rs & 15));
        if size == 0 {
            if run != 15 {
                return Some(()); // end of block
            }
            k += 16;
        } else {
            k += run;
            if k > 63 {
                return None;
            }
            if k <= last {
                coefs[k] = bits.signed(size);
            } else {
                bits.skip(size);
            }
            k += 1;
        }
    }
    (k == 64).then_some(())
}

/// The offset of the first marker after a scan's data that is not a restart
/// marker: a progressive AC scan is stepped over without decoding a bit.
fn skip_entropy_data(data: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let at = next_marker(data, pos)?;
        if (0xD0..=0xD7).contains(data.get(at + 1)?) {
            pos = at + 2;
        } else {
            return Some(at);
        }
    }
}
