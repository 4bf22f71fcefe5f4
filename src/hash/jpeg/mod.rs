//! The 1/8-scale image a JPEG already holds: its DC coefficients.
//!
//! Each 8×8 block of a JPEG starts with a DC coefficient, which is the
//! block's mean (times 8, less 1024, quantised). The DC coefficients alone
//! are therefore the picture at 1/8 scale, and the classic hashes never need
//! more: they start from a grey thumbnail 64 px on its shorter side. Reading
//! only the DC coefficients is much cheaper than decoding:
//! - a progressive JPEG carries them in its first scans; the AC scans, most
//!   of the file, are stepped over without decoding a bit;
//! - a baseline JPEG interleaves DC and AC, so every code is still
//!   Huffman-decoded, but no inverse DCT, upsampling or colour conversion runs.
//!
//! Only the common kinds are read: 8-bit Huffman-coded baseline, extended and
//! progressive JPEGs with one (grey) or three (YCbCr) components. For anything
//! else — arithmetic coding, lossless, 12-bit, CMYK, RGB-coded, a damaged or
//! unexpected stream — [`read`] returns `None` and the caller decodes the
//! whole image instead, which also gives the error message if there is one.
//!
//! Damage confined to AC data that the reader steps over goes unnoticed: such
//! a file gets classic hashes where a full decode might refuse it.
//!
//! [`read_scaled`] can also keep more than the DC of the first component (Y,
//! or the grey plane): a **baseline** (sequential) file's low AC coefficients
//! are Huffman-decoded anyway, so keeping the 4×4 lowest ones and running a
//! reduced inverse DCT per block gives a 1/2-scale image ([`Scale::Half`],
//! the `idct` module, which also does 2×2 for 1/4). A progressive file is
//! not read at that scale: its low AC bands come in a first scan of a few bands at reduced
//! precision, and their low bits in refinement scans that span bands 1–63,
//! whose codes depend on which of all 63 coefficients are already non-zero —
//! so the exact low bands cost a Huffman decode of nearly all of the luma's
//! AC data. The caller decodes such a file fully.

#[cfg(test)]
mod dc_tests;
mod huffman;
mod idct;
#[cfg(test)]
mod reduced_tests;
mod scan;

use image::metadata::Orientation;

use super::decode::{Limits, check_dimensions};
use huffman::Table;

/// More scans than this and the file is left to the full decoder. A
/// progressive JPEG has about ten (libjpeg's default script has ten).
const MAX_SCANS: usize = 64;

/// How much of each block [`read_scaled`] keeps of the first component
/// (Y, or the grey plane); the other components always give their DC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// 1/8: the DC coefficient, the block's mean (any baseline, extended or
    /// progressive file).
    Eighth,
    /// 1/2: 4×4 samples a block, the 4-point inverse DCT of the 4×4 lowest
    /// coefficients (baseline files only).
    Half,
}

impl Scale {
    /// Samples per block side: 1 or 4.
    pub fn samples_per_block(self) -> u32 {
        match self {
            Scale::Eighth => 1,
            Scale::Half => 4,
        }
    }
}

/// The DC image of a JPEG: block means for each component (or, read by
/// [`read_scaled`] at a finer [`Scale`], a reduced image of the first).
pub struct DcImage {
    /// Width of the stored image in pixels (before EXIF orientation).
    pub width: u32,
    /// Height of the stored image in pixels.
    pub height: u32,
    /// The EXIF orientation to apply (`NoTransforms` if none, or if not asked for).
    pub orientation: Orientation,
    /// Y, or Y, Cb, Cr.
    pub planes: Vec<Plane>,
}

impl DcImage {
    /// Width and height after the EXIF orientation.
    pub fn oriented_dimensions(&self) -> (u32, u32) {
        if axes(self.orientation).swap {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }
}

/// How an EXIF orientation maps the stored image's axes onto the upright one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Axes {
    /// A quarter turn: stored x becomes upright y (width and height swap).
    pub swap: bool,
    /// The stored x axis runs against the upright axis it becomes.
    pub flip_x: bool,
    /// The stored y axis runs against the upright axis it becomes.
    pub flip_y: bool,
}

/// The axes of `o`, as `image`'s `apply_orientation` turns and flips.
pub fn axes(o: Orientation) -> Axes {
    let (swap, flip_x, flip_y) = match o {
        Orientation::NoTransforms => (false, false, false),
        Orientation::FlipHorizontal => (false, true, false),
        Orientation::FlipVertical => (false, false, true),
        Orientation::Rotate180 => (false, true, true),
        Orientation::Rotate90FlipH => (true, false, false),
        Orientation::Rotate90 => (true, false, true),
        Orientation::Rotate270 => (true, true, false),
        Orientation::Rotate270FlipH => (true, true, true),
    };
    Axes {
        swap,
        flip_x,
        flip_y,
    }
}

/// One component's block means (or reduced samples).
pub struct Plane {
    /// The mean of each block, on the 0–255 pixel scale, row by row; with
    /// `samples_per_block` n > 1, n × n samples a block, each the reduced
    /// inverse DCT's value for its `8/n × 8/n` part of the block.
    pub means: Vec<f32>,
    /// Entries per row of `means` (at least `blocks_w × samples_per_block`).
    pub stride: usize,
    /// Image pixels per component sample across and down: 1 for luma, 2 for
    /// chroma subsampled 2:1 in that direction.
    pub scale: (u32, u32),
    /// Samples per block side: 1 (block means) or 4 ([`Scale::Half`]).
    pub samples_per_block: u32,
}

impl Plane {
    /// Image pixels one entry of `means` covers across and down.
    pub fn sample_size(&self) -> (u32, u32) {
        let n = self.samples_per_block.max(1);
        (8 * self.scale.0 / n, 8 * self.scale.1 / n)
    }
}

/// One frame component while decoding.
struct Component {
    id: u8,
    h: u8,
    v: u8,
    quant_table: usize,
    /// The quantisers (zig-zag order), taken from the table in force at the
    /// component's first scan.
    quant: Option<[u16; 64]>,
    /// Blocks holding real samples across and down.
    blocks_w: usize,
    blocks_h: usize,
    /// Row length of `dc` (padded to whole MCUs).
    stride: usize,
    dc: Vec<i32>,
    dc_seen: bool,
    /// Samples per block side kept (1: DC only).
    keep: usize,
    /// With `keep` > 1: the reduced inverse DCT's samples, `stride × keep`
    /// a row.
    samples: Vec<f32>,
}

/// The frame (SOF) being decoded.
struct Frame {
    width: u32,
    height: u32,
    progressive: bool,
    h_max: u8,
    v_max: u8,
    mcus_x: usize,
    mcus_y: usize,
    components: Vec<Component>,
}

/// Reads the DC image of `bytes`, applying the EXIF orientation tag if
/// `limits.exif_rotate`. The declared size is checked against `limits` before
/// any allocation. `None` if the bytes are not a JPEG this module reads (see
/// the module docs), the image is over the limits, or its shorter side is
/// under `min_side` pixels (a caller with no use for so small a DC image is
/// spared decoding it: the frame header says so before any scan).
pub fn read(bytes: &[u8], limits: &Limits, min_side: u32) -> Option<DcImage> {
    read_scaled(bytes, limits, |side| {
        (side >= min_side).then_some(Scale::Eighth)
    })
}

/// As [`read`], at the [`Scale`] that `scale` chooses for the image's
/// shorter side (`None`: too small, the caller decodes fully). The first
/// component of a baseline file is kept at that scale; a progressive file
/// asked for more than [`Scale::Eighth`] gives `None` (see the module docs).
pub fn read_scaled(
    bytes: &[u8],
    limits: &Limits,
    scale: impl Fn(u32) -> Option<Scale>,
) -> Option<DcImage> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut tables = Tables::default();
    let mut frame: Option<Frame> = None;
    let mut exif: Option<&[u8]> = None;
    let mut adobe_transform: Option<u8> = None;
    let mut decoded_scans = 0;
    let mut pos = 2;
    loop {
        let (marker, segment) = match next_marker(bytes, &mut pos)? {
            Marker::End => break,
            Marker::Standalone => continue,
            Marker::Segment(marker, segment) => (marker, segment),
        };
        match marker {
            0xC0..=0xC2 if frame.is_none() => {
                let mut f = read_frame(segment, marker == 0xC2, limits)?;
                let keep = scale(f.width.min(f.height))?.samples_per_block() as usize;
                if keep > 1 {
                    if f.progressive {
                        return None;
                    }
                    let y = f.components.first_mut()?;
                    y.keep = keep;
                    y.samples = vec![0.0; y.dc.len() * keep * keep];
                }
                frame = Some(f);
            }
            // A second frame, or lossless, hierarchical or arithmetic coding.
            0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return None,
            0xC4 => read_huffman_tables(segment, &mut tables.dc, &mut tables.ac)?,
            0xDB => read_quant_tables(segment, &mut tables.quant)?,
            0xDD => {
                tables.restart_interval = usize::from(u16::from_be_bytes(segment.try_into().ok()?));
            }
            // As the full decoder does: the last EXIF and Adobe segments
            // before the first scan count, later ones are ignored.
            0xE1 if decoded_scans == 0 && segment.starts_with(b"Exif\0\0") => {
                exif = Some(&segment[6..]);
            }
            0xEE if decoded_scans == 0 && segment.starts_with(b"Adobe") && segment.len() >= 12 => {
                adobe_transform = Some(segment[11]);
            }
            0xDA => {
                let frame = frame.as_mut()?;
                // Everything the colour space depends on comes before the
                // first scan: refuse an RGB or CMYK file before reading it.
                if decoded_scans == 0 && !is_grey_or_ycbcr(frame, adobe_transform) {
                    return None;
                }
                // A DC scan walks every block, whatever its length: a file
                // of many tiny scans must not cost as many decodes.
                decoded_scans += 1;
                if decoded_scans > MAX_SCANS {
                    return None;
                }
                pos = decode_scan(bytes, pos, segment, frame, &tables)?;
            }
            _ => {}
        }
    }
    dc_image(frame?, exif, limits)
}

/// The tables in force: quantisers, Huffman tables, restart interval.
#[derive(Default)]
struct Tables {
    quant: [Option<[u16; 64]>; 4],
    dc: [Option<Table>; 4],
    ac: [Option<Table>; 4],
    restart_interval: usize,
}

/// What a marker starts.
enum Marker<'a> {
    /// End of image.
    End,
    /// A marker without a segment (restart, TEM).
    Standalone,
    /// A marker code and its segment's payload.
    Segment(u8, &'a [u8]),
}

/// Reads the marker at `pos` (FF, any fill bytes, then the code) and its
/// segment, moving `pos` past them; `None` if the bytes are not a marker, a
/// second start of image, or a segment runs past the end.
fn next_marker<'a>(bytes: &'a [u8], pos: &mut usize) -> Option<Marker<'a>> {
    if *bytes.get(*pos)? != 0xFF {
        return None;
    }
    while bytes.get(*pos + 1) == Some(&0xFF) {
        *pos += 1;
    }
    let marker = *bytes.get(*pos + 1)?;
    *pos += 2;
    match marker {
        0xD9 => return Some(Marker::End),
        0x01 | 0xD0..=0xD7 => return Some(Marker::Standalone),
        0xD8 => return None,
        _ => {}
    }
    let len = usize::from(u16::from_be_bytes([
        *bytes.get(*pos)?,
        *bytes.get(*pos + 1)?,
    ]));
    if len < 2 {
        return None;
    }
    let segment = bytes.get(*pos + 2..*pos + len)?;
    *pos += len;
    Some(Marker::Segment(marker, segment))
}

/// Decodes the scan whose header is `segment` and whose entropy-coded data
/// starts at `pos`; returns the position after it.
fn decode_scan(
    bytes: &[u8],
    pos: usize,
    segment: &[u8],
    frame: &mut Frame,
    tables: &Tables,
) -> Option<usize> {
    let scan = read_scan_header(segment, frame)?;
    for &(c, _, _) in &scan.components {
        let comp = &mut frame.components[c];
        comp.quant = comp.quant.or(tables.quant[comp.quant_table]);
    }
    scan::decode(
        bytes,
        pos,
        &scan,
        frame,
        &tables.dc,
        &tables.ac,
        tables.restart_interval,
    )
}

/// The decoded frame's DC image: each component's block means, oriented
/// by the EXIF chunk if `limits.exif_rotate`. `None` if a component had no
/// DC scan or no quantiser.
fn dc_image(frame: Frame, exif: Option<&[u8]>, limits: &Limits) -> Option<DcImage> {
    let orientation = match exif {
        Some(chunk) if limits.exif_rotate => {
            Orientation::from_exif_chunk(chunk).unwrap_or(Orientation::NoTransforms)
        }
        _ => Orientation::NoTransforms,
    };
    let (h_max, v_max) = (frame.h_max, frame.v_max);
    let mut planes = Vec::with_capacity(frame.components.len());
    for c in frame.components {
        if !c.dc_seen {
            return None;
        }
        let scale = (u32::from(h_max / c.h), u32::from(v_max / c.v));
        if c.keep > 1 {
            planes.push(Plane {
                means: c.samples,
                stride: c.stride * c.keep,
                scale,
                samples_per_block: c.keep as u32,
            });
            continue;
        }
        let q = f32::from(c.quant?[0]);
        planes.push(Plane {
            // F(0,0) = 8 × (mean − 128) before quantisation.
            means: c.dc.iter().map(|&v| v as f32 * q / 8.0 + 128.0).collect(),
            stride: c.stride,
            scale,
            samples_per_block: 1,
        });
    }
    Some(DcImage {
        width: frame.width,
        height: frame.height,
        orientation,
        planes,
    })
}

/// Whether the frame is grey or YCbCr, decided as the full decoder
/// (zune-jpeg) decides it, so that the two routes agree: components named R,
/// G, B are RGB whatever the Adobe segment says; an Adobe transform of 0 is
/// RGB, 1 YCbCr, 2 YCCK, anything else an error.
fn is_grey_or_ycbcr(frame: &Frame, adobe_transform: Option<u8>) -> bool {
    let rgb_ids = frame.components.iter().map(|c| c.id).eq(*b"RGB");
    match (frame.components.len(), adobe_transform) {
        (_, Some(t)) if t > 2 => false,
        (1, _) => true,
        (3, None | Some(1)) => !rgb_ids,
        _ => false,
    }
}

fn read_frame(s: &[u8], progressive: bool, limits: &Limits) -> Option<Frame> {
    let (&precision, rest) = s.split_first()?;
    let height = u32::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
    let width = u32::from(u16::from_be_bytes([*rest.get(2)?, *rest.get(3)?]));
    let n = usize::from(*rest.get(4)?);
    let specs = rest.get(5..5 + 3 * n)?;
    // Height 0 means "given later by a DNL marker", which this reader skips.
    if precision != 8 || width == 0 || height == 0 || !(n == 1 || n == 3) {
        return None;
    }
    check_dimensions(width, height, limits).ok()?;
    let factors: Vec<(u8, u8)> = specs.chunks(3).map(|c| (c[1] >> 4, c[1] & 15)).collect();
    if factors
        .iter()
        .any(|&(h, v)| !(1..=4).contains(&h) || !(1..=4).contains(&v))
    {
        return None;
    }
    let h_max = factors.iter().map(|f| f.0).max()?;
    let v_max = factors.iter().map(|f| f.1).max()?;
    let mcus_x = width.div_ceil(8 * u32::from(h_max)) as usize;
    let mcus_y = height.div_ceil(8 * u32::from(v_max)) as usize;
    let mut components = Vec::with_capacity(n);
    for (spec, &(h, v)) in specs.chunks(3).zip(&factors) {
        // Sampling factors must divide the largest, so that a sample covers
        // a whole number of pixels.
        if h_max % h != 0 || v_max % v != 0 {
            return None;
        }
        let quant_table = usize::from(spec[2]);
        if quant_table > 3 {
            return None;
        }
        let samples_w = (width * u32::from(h)).div_ceil(u32::from(h_max));
        let samples_h = (height * u32::from(v)).div_ceil(u32::from(v_max));
        let stride = mcus_x * usize::from(h);
        let rows = mcus_y * usize::from(v);
        components.push(Component {
            id: spec[0],
            h,
            v,
            quant_table,
            quant: None,
            blocks_w: samples_w.div_ceil(8) as usize,
            blocks_h: samples_h.div_ceil(8) as usize,
            stride,
            dc: vec![0; stride * rows],
            dc_seen: false,
            keep: 1,
            samples: Vec::new(),
        });
    }
    Some(Frame {
        width,
        height,
        progressive,
        h_max,
        v_max,
        mcus_x,
        mcus_y,
        components,
    })
}

fn read_huffman_tables(
    mut s: &[u8],
    dc: &mut [Option<Table>; 4],
    ac: &mut [Option<Table>; 4],
) -> Option<()> {
    while let Some((&class_id, rest)) = s.split_first() {
        let counts: &[u8; 16] = rest.get(..16)?.try_into().ok()?;
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let symbols = rest.get(16..16 + total)?;
        let table = Table::new(counts, symbols)?;
        let id = usize::from(class_id & 15);
        match class_id >> 4 {
            0 => *dc.get_mut(id)? = Some(table),
            1 => *ac.get_mut(id)? = Some(table),
            _ => return None,
        }
        s = &rest[16 + total..];
    }
    Some(())
}

fn read_quant_tables(mut s: &[u8], quant: &mut [Option<[u16; 64]>; 4]) -> Option<()> {
    while let Some((&precision_id, rest)) = s.split_first() {
        let id = usize::from(precision_id & 15);
        let wide = match precision_id >> 4 {
            0 => false,
            1 => true,
            _ => return None,
        };
        let size = if wide { 128 } else { 64 };
        let values = rest.get(..size)?;
        let mut table = [0u16; 64];
        for (k, q) in table.iter_mut().enumerate() {
            *q = if wide {
                u16::from_be_bytes([values[2 * k], values[2 * k + 1]])
            } else {
                u16::from(values[k])
            };
        }
        // A zero DC quantiser would blank the image: refuse the file.
        if table[0] == 0 {
            return None;
        }
        *quant.get_mut(id)? = Some(table);
        s = &rest[size..];
    }
    Some(())
}

fn read_scan_header(s: &[u8], frame: &Frame) -> Option<scan::Scan> {
    let n = usize::from(*s.first()?);
    if n == 0 || n > 4 || s.len() != 1 + 2 * n + 3 {
        return None;
    }
    let mut components = Vec::with_capacity(n);
    for spec in s[1..1 + 2 * n].chunks(2) {
        let c = frame.components.iter().position(|c| c.id == spec[0])?;
        let (td, ta) = (usize::from(spec[1] >> 4), usize::from(spec[1] & 15));
        if td > 3 || ta > 3 || components.iter().any(|&(other, _, _)| other == c) {
            return None;
        }
        components.push((c, td, ta));
    }
    // Blocks per MCU of an interleaved scan are limited to 10 (T.81 B.2.3).
    let blocks: usize = components
        .iter()
        .map(|&(c, _, _)| usize::from(frame.components[c].h) * usize::from(frame.components[c].v))
        .sum();
    if n > 1 && blocks > 10 {
        return None;
    }
    let tail = &s[1 + 2 * n..];
    Some(scan::Scan {
        components,
        ss: tail[0],
        se: tail[1],
        ah: tail[2] >> 4,
        al: tail[2] & 15,
    })
}
