//! Huffman tables and the bit reader for JPEG entropy-coded data.
//!
//! The reader keeps up to 64 bits right-aligned in an accumulator and refills
//! it 3–7 bytes at a time when those bytes hold no `0xFF` (the common case);
//! otherwise byte by byte, undoing the `FF 00` stuffing. At a marker it stops
//! and supplies zero bits, as libjpeg does, so a scan's last code never reads
//! past its segment.

/// Codes up to this long are decoded with one table look-up.
const LOOKAHEAD: u32 = 9;

/// A decoding table for one Huffman code (JPEG's DHT segment).
pub(super) struct Table {
    /// `(length << 8) | symbol` for every `LOOKAHEAD`-bit prefix that starts
    /// with a code of at most `LOOKAHEAD` bits; 0 where the code is longer.
    fast: [u16; 1 << LOOKAHEAD],
    /// Largest code of each length (index 1..=16), -1 where there is none.
    max_code: [i32; 17],
    /// Index into `symbols` of the first code of each length, minus that code.
    offset: [i32; 17],
    symbols: Vec<u8>,
}

impl Table {
    /// Builds the canonical code from the number of codes of each length
    /// (1..=16) and the symbols in code order. `None` for an over-full code.
    pub(super) fn new(counts: &[u8; 16], symbols: &[u8]) -> Option<Table> {
        let mut table = Table {
            fast: [0; 1 << LOOKAHEAD],
            max_code: [-1; 17],
            offset: [0; 17],
            symbols: symbols.to_vec(),
        };
        let mut code: u32 = 0;
        let mut k = 0usize;
        for len in 1..=16u32 {
            let n = usize::from(counts[len as usize - 1]);
            table.offset[len as usize] = k as i32 - code as i32;
            for _ in 0..n {
                if code >= 1 << len {
                    return None;
                }
                if len <= LOOKAHEAD {
                    let shift = LOOKAHEAD - len;
                    let entry = (len as u16) << 8 | u16::from(*symbols.get(k)?);
                    let first = (code << shift) as usize;
                    table.fast[first..first + (1 << shift)].fill(entry);
                }
                k += 1;
                code += 1;
            }
            if n > 0 {
                table.max_code[len as usize] = code as i32 - 1;
            }
            code <<= 1;
        }
        (k == symbols.len()).then_some(table)
    }
}

/// Reads bits from one entropy-coded segment.
pub(super) struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u64,
    /// Valid bits at the bottom of `acc`.
    n: u32,
    /// Zero bytes supplied past the end of the data (at a marker); they are
    /// the last ones in `acc`.
    padding: u32,
}

impl<'a> Bits<'a> {
    pub(super) fn new(data: &'a [u8], pos: usize) -> Bits<'a> {
        Bits {
            data,
            pos,
            acc: 0,
            n: 0,
            padding: 0,
        }
    }

    /// Tops the accumulator up to at least 57 bits (zeros past a marker).
    #[inline]
    fn refill(&mut self) {
        if let Some(chunk) = self.data.get(self.pos..self.pos + 8) {
            let x = u64::from_be_bytes(chunk.try_into().expect("8 bytes"));
            if !has_ff_byte(x) {
                let k = (63 - self.n) / 8;
                self.acc = (self.acc << (8 * k)) | (x >> (64 - 8 * k));
                self.n += 8 * k;
                self.pos += k as usize;
                return;
            }
        }
        while self.n <= 56 {
            let byte = match self.data.get(self.pos) {
                Some(&0xFF) if self.data.get(self.pos + 1) == Some(&0x00) => {
                    self.pos += 2;
                    0xFF
                }
                Some(&0xFF) | None => {
                    // A marker (or the end): feed zeros.
                    self.padding = self.padding.saturating_add(1);
                    0
                }
                Some(&b) => {
                    self.pos += 1;
                    b
                }
            };
            self.acc = (self.acc << 8) | u64::from(byte);
            self.n += 8;
        }
    }

    /// Makes at least 32 bits available: enough for one code and its extra bits.
    #[inline]
    pub(super) fn ensure(&mut self) {
        if self.n < 32 {
            self.refill();
        }
    }

    #[inline]
    fn peek(&self, k: u32) -> u32 {
        ((self.acc >> (self.n - k)) & ((1 << k) - 1)) as u32
    }

    /// The next `k` (≤ 16) bits as a number; call [`Bits::ensure`] first.
    #[inline]
    pub(super) fn take(&mut self, k: u32) -> u32 {
        let v = self.peek(k);
        self.n -= k;
        v
    }

    /// Skips `k` (≤ 16) bits; call [`Bits::ensure`] first.
    #[inline]
    pub(super) fn skip(&mut self, k: u32) {
        self.n -= k;
    }

    /// One symbol of `table`; `None` for a bit pattern that is no code.
    /// Call [`Bits::ensure`] first.
    #[inline]
    pub(super) fn symbol(&mut self, table: &Table) -> Option<u8> {
        let entry = table.fast[self.peek(LOOKAHEAD) as usize];
        if entry != 0 {
            self.n -= u32::from(entry >> 8);
            return Some(entry as u8);
        }
        for len in LOOKAHEAD + 1..=16 {
            let code = self.peek(len) as i32;
            if code <= table.max_code[len as usize] {
                self.n -= len;
                return table
                    .symbols
                    .get((code + table.offset[len as usize]) as usize)
                    .copied();
            }
        }
        None
    }

    /// A DC difference or AC value: `size` extra bits, sign-extended as
    /// JPEG's EXTEND procedure does. Call [`Bits::ensure`] first.
    #[inline]
    pub(super) fn signed(&mut self, size: u32) -> i32 {
        if size == 0 {
            return 0;
        }
        let v = self.take(size) as i32;
        if v < 1 << (size - 1) {
            v - (1 << size) + 1
        } else {
            v
        }
    }

    /// Whether codes were read past the segment's data, into the zeros
    /// supplied at its marker: the data is damaged or cut short.
    pub(super) fn overran(&self) -> bool {
        u64::from(self.n) < 8 * u64::from(self.padding)
    }

    /// Ends this segment at a restart marker: drops the padding bits and
    /// steps past `FF Dn`. `None` if the next marker is not a restart, or if
    /// the segment's codes ran past its data.
    pub(super) fn restart(&mut self) -> Option<()> {
        if self.overran() {
            return None;
        }
        let at = next_marker(self.data, self.pos)?;
        if !(0xD0..=0xD7).contains(self.data.get(at + 1)?) {
            return None;
        }
        self.pos = at + 2;
        self.acc = 0;
        self.n = 0;
        self.padding = 0;
        Some(())
    }

    /// The offset of the marker that ends this scan; `None` if the scan's
    /// codes ran past its data.
    pub(super) fn end(&self) -> Option<usize> {
        if self.overran() {
            return None;
        }
        next_marker(self.data, self.pos)
    }
}

/// The offset of the next marker's `FF` at or after `pos` in entropy-coded
/// data: stuffed `FF 00` pairs are data, and fill bytes (`FF FF`) are skipped.
pub(super) fn next_marker(data: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let at = pos + memchr::memchr(0xFF, data.get(pos..)?)?;
        match *data.get(at + 1)? {
            0x00 => pos = at + 2,
            0xFF => pos = at + 1,
            _ => return Some(at),
        }
    }
}

/// Whether any byte of `x` is `0xFF`.
#[inline]
fn has_ff_byte(x: u64) -> bool {
    let v = !x; // an 0xFF byte becomes a zero byte
    v.wrapping_sub(0x0101_0101_0101_0101) & !v & 0x8080_8080_8080_8080 != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// JPEG's standard luminance DC table (ITU T.81, table K.3).
    fn standard_dc() -> Table {
        let counts = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
        Table::new(&counts, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]).unwrap()
    }

    #[test]
    #[allow(clippy::unusual_byte_groupings)] // grouped by code, not by nibble
    fn decodes_codes_of_every_length_in_the_standard_table() {
        // K.3 codes: 0 → 00, 1 → 010, 5 → 110, 6 → 1110, 11 → 111111110 (9 bits).
        // Bits: 00 010 110 1110 111111110, padded with ones.
        let bits: u64 = 0b00_010_110_1110_111111110;
        let total = 2 + 3 + 3 + 4 + 9;
        let padded = (bits << (32 - total)) | ((1 << (32 - total)) - 1);
        let data = (padded as u32).to_be_bytes();
        let mut r = Bits::new(&data, 0);
        let t = standard_dc();
        r.ensure();
        let got: Vec<u8> = (0..5).map(|_| r.symbol(&t).unwrap()).collect();
        assert_eq!(got, [0, 1, 5, 6, 11]);
    }

    #[test]
    fn codes_longer_than_the_lookahead_decode() {
        // Two codes of length 12 and one of length 1: "0" and "1000 0000 0000"...
        let mut counts = [0u8; 16];
        counts[0] = 1;
        counts[11] = 2;
        let t = Table::new(&counts, &[7, 8, 9]).unwrap();
        // 0 (bit 31), then 100000000000 (first 12-bit code), then 100000000001.
        let bits: u32 = (0b1000_0000_0000 << 19) | (0b1000_0000_0001 << 7);
        let data = bits.to_be_bytes();
        let mut r = Bits::new(&data, 0);
        r.ensure();
        assert_eq!(r.symbol(&t), Some(7));
        assert_eq!(r.symbol(&t), Some(8));
        assert_eq!(r.symbol(&t), Some(9));
    }

    #[test]
    fn over_full_codes_are_refused() {
        let mut counts = [0u8; 16];
        counts[0] = 3; // three 1-bit codes cannot exist
        assert!(Table::new(&counts, &[1, 2, 3]).is_none());
    }

    #[test]
    fn stuffed_bytes_are_data_and_markers_end_the_segment() {
        let data = [0xFF, 0x00, 0xA5, 0xFF, 0xD9];
        let mut r = Bits::new(&data, 0);
        r.ensure();
        assert_eq!(r.take(8), 0xFF);
        assert_eq!(r.take(8), 0xA5);
        assert_eq!(r.end(), Some(3), "nothing read past the data yet");
        assert_eq!(r.take(16), 0, "past the marker the reader supplies zeros");
        assert_eq!(r.end(), None, "codes that run past the data are refused");
    }

    #[test]
    fn extend_gives_negative_values_for_a_leading_zero() {
        let data = [0b0101_1000];
        let mut r = Bits::new(&data, 0);
        r.ensure();
        assert_eq!(r.signed(2), -2); // 01: below 2, so 1 - 4 + 1
        assert_eq!(r.signed(3), -4); // 011: below 4, so 3 - 8 + 1
        assert_eq!(r.signed(3), 0b000 - 8 + 1); // 000: the most negative 3-bit value
    }

    #[test]
    fn next_marker_skips_stuffing_and_fill() {
        assert_eq!(
            next_marker(&[1, 0xFF, 0x00, 2, 0xFF, 0xFF, 0xD9], 0),
            Some(5)
        );
        assert_eq!(next_marker(&[1, 2, 3], 0), None);
    }

    #[test]
    fn ff_bytes_are_found_in_any_position() {
        assert!(!has_ff_byte(0x0102_0304_0506_07FE));
        for i in 0..8 {
            assert!(has_ff_byte(0xFFu64 << (8 * i)), "{i}");
        }
    }
}
