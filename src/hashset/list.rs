//! The `list` representation: every entry, sorted, with its label.
//!
//! Section layout (integers little-endian):
//!
//! ```text
//! u32 label count L
//! L × { u16 len, category UTF-8, u8 has_source, [u16 len, source UTF-8] }
//! u8  algorithm count A
//! A × { u8 algorithm code, u16 digest bytes w, u64 entry count n,
//!       n × w bytes   digests, strictly ascending (sorted, no duplicates),
//!       n × u32       label index (0xFFFF_FFFF = no label) }
//! ```
//!
//! In memory each digest is packed big-endian into `u64` words (zero
//! padded), which keeps byte order for binary search and makes Hamming
//! distance four XOR-popcounts for PDQ.

use serde::{Deserialize, Serialize};

use super::format::{Reader, algorithm_code, algorithm_from_code};
use super::{Error, Result};
use crate::hash::{Algorithm, Digest};

/// Label index meaning "no label".
pub const NO_LABEL: u32 = u32::MAX;

/// What an entry is and where it came from — what an auditor reads.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Label {
    /// The category (`demo`, `terror`, …).
    pub category: String,
    /// Where the entry came from (a list name, an organisation), if known.
    pub source: Option<String>,
}

/// `category (source)`, or the category alone: how every table and
/// verdict names an entry's label.
impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{} ({source})", self.category),
            None => f.write_str(&self.category),
        }
    }
}

impl Label {
    /// A label with a category and no source.
    pub fn new(category: impl Into<String>) -> Label {
        Label {
            category: category.into(),
            source: None,
        }
    }

    /// The label with `source` set.
    pub fn with_source(mut self, source: impl Into<String>) -> Label {
        self.source = Some(source.into());
        self
    }
}

/// The number of `u64` words a `width`-byte digest packs into.
pub fn words_for(width: usize) -> usize {
    width.div_ceil(8)
}

/// Packs `bytes` big-endian into `out`, zero padding the last word.
pub fn pack_into(bytes: &[u8], out: &mut Vec<u64>) {
    for chunk in bytes.chunks(8) {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        out.push(u64::from_be_bytes(w));
    }
}

/// One algorithm's entries.
#[derive(Clone, Debug)]
pub struct Entries {
    algorithm: Algorithm,
    width: usize,
    words: Vec<u64>,
    labels: Vec<u32>,
}

impl Entries {
    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Bytes per digest.
    pub fn width(&self) -> usize {
        self.width
    }

    /// `u64` words per digest.
    pub fn words_per_entry(&self) -> usize {
        words_for(self.width)
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// All entries' packed words, entry after entry.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Entry `i`'s packed words.
    pub fn entry_words(&self, i: usize) -> &[u64] {
        let w = self.words_per_entry();
        &self.words[i * w..(i + 1) * w]
    }

    /// Entry `i` as a digest.
    pub fn digest(&self, i: usize) -> Digest {
        let mut bytes = Vec::with_capacity(self.words_per_entry() * 8);
        for w in self.entry_words(i) {
            bytes.extend_from_slice(&w.to_be_bytes());
        }
        bytes.truncate(self.width);
        Digest::new(self.algorithm, bytes)
    }

    /// Entry `i`'s label index, if it has a label.
    pub fn label_index(&self, i: usize) -> Option<usize> {
        let l = self.labels[i];
        (l != NO_LABEL).then_some(l as usize)
    }

    /// The entry equal to `query` (packed words), by binary search.
    pub fn find_exact(&self, query: &[u64]) -> Option<usize> {
        let w = self.words_per_entry();
        let (mut lo, mut hi) = (0usize, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.words[mid * w..(mid + 1) * w].cmp(query) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }
}

/// One algorithm's entries for [`List::encode`]: the algorithm, the digest
/// size in bytes, and each digest with its label index.
pub type AlgorithmEntries<'a> = (Algorithm, usize, Vec<(&'a [u8], u32)>);

/// The decoded list section.
#[derive(Clone, Debug)]
pub struct List {
    /// The label table.
    pub labels: Vec<Label>,
    /// Entries per algorithm, in file order.
    pub entries: Vec<Entries>,
}

impl List {
    /// The entries of `algorithm`.
    pub fn get(&self, algorithm: Algorithm) -> Option<&Entries> {
        self.entries.iter().find(|e| e.algorithm == algorithm)
    }

    /// Serialises a list section. Each algorithm's digests must be sorted,
    /// unique and `width` bytes; label indices must point into `labels`
    /// (the builder guarantees both).
    pub fn encode(labels: &[Label], algorithms: &[AlgorithmEntries<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(labels.len() as u32).to_le_bytes());
        for l in labels {
            put_str(&mut out, &l.category);
            match &l.source {
                Some(s) => {
                    out.push(1);
                    put_str(&mut out, s);
                }
                None => out.push(0),
            }
        }
        out.push(algorithms.len() as u8);
        for (algorithm, width, entries) in algorithms {
            out.push(algorithm_code(*algorithm));
            out.extend_from_slice(&(*width as u16).to_le_bytes());
            out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
            for (d, _) in entries {
                out.extend_from_slice(d);
            }
            for (_, l) in entries {
                out.extend_from_slice(&l.to_le_bytes());
            }
        }
        out
    }

    /// Parses a list section, checking every count against the bytes left,
    /// the sort order, and every label index.
    pub fn decode(bytes: &[u8]) -> Result<List> {
        let mut r = Reader::new(bytes, "list");
        let label_count = r.u32("label count")?;
        // Each label takes at least 3 bytes: bound the allocation by the input.
        let mut labels = Vec::with_capacity((label_count as usize).min(bytes.len() / 3));
        for _ in 0..label_count {
            let category = get_str(&mut r, "label category")?;
            let source = match r.u8("label source flag")? {
                0 => None,
                1 => Some(get_str(&mut r, "label source")?),
                f => return Err(r.error(format!("label source flag {f} (expected 0 or 1)"))),
            };
            labels.push(Label { category, source });
        }
        let algo_count = r.u8("algorithm count")?;
        let mut entries: Vec<Entries> = Vec::new();
        for _ in 0..algo_count {
            let code = r.u8("algorithm code")?;
            let algorithm = algorithm_from_code(code)
                .ok_or_else(|| r.error(format!("unknown algorithm code {code}")))?;
            if entries.iter().any(|e| e.algorithm == algorithm) {
                return Err(r.error(format!("{algorithm} appears twice")));
            }
            let width = r.u16("digest size")? as usize;
            if width == 0 {
                return Err(r.error(format!("{algorithm} digests of 0 bytes")));
            }
            let n = r.u64("entry count")?;
            let digest_bytes = n
                .checked_mul(width as u64)
                .ok_or_else(|| r.error("entry count overflows"))?;
            let raw = r.take(digest_bytes, "digests")?;
            let label_raw = r.take(n.saturating_mul(4), "label indices")?;
            let mut words = Vec::with_capacity(raw.len().div_ceil(8) + 1);
            let mut prev: Option<&[u8]> = None;
            for d in raw.chunks_exact(width) {
                if prev.is_some_and(|p| p >= d) {
                    return Err(r.error(format!("{algorithm} entries not strictly ascending")));
                }
                prev = Some(d);
                pack_into(d, &mut words);
            }
            let mut label_idx = Vec::with_capacity(n as usize);
            for c in label_raw.chunks_exact(4) {
                let l = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                if l != NO_LABEL && l >= label_count {
                    return Err(r.error(format!("label index {l} of {label_count}")));
                }
                label_idx.push(l);
            }
            entries.push(Entries {
                algorithm,
                width,
                words,
                labels: label_idx,
            });
        }
        r.finish()?;
        Ok(List { labels, entries })
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn get_str(r: &mut Reader<'_>, what: &str) -> Result<String> {
    let len = r.u16(what)?;
    let b = r.take(u64::from(len), what)?;
    String::from_utf8(b.to_vec()).map_err(|_| r.error(format!("{what} is not UTF-8")))
}

/// Checks a label's strings fit the section format (at most 65,535 bytes
/// each) and are one line.
pub fn check_label(label: &Label) -> Result<()> {
    for (option, s) in [
        ("category", Some(&label.category)),
        ("source", label.source.as_ref()),
    ] {
        let Some(s) = s else { continue };
        if s.len() > u16::MAX as usize || s.chars().any(char::is_control) {
            return Err(Error::InvalidOption {
                option,
                value: s.chars().take(60).collect(),
                reason: "must be one line of at most 65,535 bytes".into(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binary_search() {
        let labels = vec![Label::new("demo").with_source("test"), Label::new("other")];
        let a = [0x01u8; 32];
        let b = [0x80u8; 32];
        let enc = List::encode(
            &labels,
            &[(Algorithm::Pdq, 32, vec![(&a[..], 1), (&b[..], NO_LABEL)])],
        );
        let list = List::decode(&enc).unwrap();
        assert_eq!(list.labels, labels);
        let e = list.get(Algorithm::Pdq).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e.digest(1).bytes(), &b);
        assert_eq!(e.label_index(0), Some(1));
        assert_eq!(e.label_index(1), None);
        let mut q = Vec::new();
        pack_into(&b, &mut q);
        assert_eq!(e.find_exact(&q), Some(1));
        q[3] ^= 1;
        assert_eq!(e.find_exact(&q), None);
    }

    #[test]
    fn decode_refuses_unsorted_and_dangling_labels() {
        let a = [0x01u8; 16];
        let enc = List::encode(
            &[],
            &[(
                Algorithm::Md5,
                16,
                vec![(&a[..], NO_LABEL), (&a[..], NO_LABEL)],
            )],
        );
        let e = List::decode(&enc).unwrap_err().to_string();
        assert_eq!(e, "section list: md5 entries not strictly ascending");
        let enc = List::encode(&[], &[(Algorithm::Md5, 16, vec![(&a[..], 0)])]);
        let e = List::decode(&enc).unwrap_err().to_string();
        assert_eq!(e, "section list: label index 0 of 0");
    }

    #[test]
    fn huge_counts_are_refused_before_allocating() {
        let mut enc = List::encode(&[], &[(Algorithm::Md5, 16, vec![])]);
        let n = enc.len() - 8;
        enc[n..].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(List::decode(&enc).is_err());
        let mut enc = vec![0xff, 0xff, 0xff, 0xff];
        enc.push(0);
        assert!(List::decode(&enc).is_err());
    }
}
