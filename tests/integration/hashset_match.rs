//! Invariants of matching: the multi-index equals brute force, and Bloom
//! filters have no false negatives.

use cssim::hash::{Algorithm, Digest, Threshold};
use cssim::hashset::bloom::Filter;
use cssim::hashset::list::pack_into;
use cssim::hashset::mih::Index;
use cssim::hashset::{Builder, HashSet, Representation, brute};
use proptest::prelude::*;

/// Flips `k` distinct bits of `bytes`, chosen by `picks`.
fn flip_bits(bytes: &[u8], k: usize, picks: &[u16]) -> Vec<u8> {
    let bits = bytes.len() * 8;
    let mut out = bytes.to_vec();
    let mut chosen: Vec<usize> = Vec::new();
    for &p in picks.iter().cycle().take(bits * 4) {
        if chosen.len() == k.min(bits) {
            break;
        }
        let mut b = p as usize % bits;
        while chosen.contains(&b) {
            b = (b + 1) % bits;
        }
        chosen.push(b);
    }
    for b in chosen {
        out[b / 8] ^= 0x80 >> (b % 8);
    }
    out
}

/// Random entries, half of them near others so that answers are not empty.
fn entry_set(width: usize) -> impl Strategy<Value = Vec<Vec<u8>>> {
    (
        prop::collection::vec(prop::collection::vec(any::<u8>(), width), 1..60),
        prop::collection::vec(
            (
                0usize..60,
                0usize..48,
                prop::collection::vec(any::<u16>(), 8),
            ),
            0..60,
        ),
    )
        .prop_map(|(mut base, near)| {
            for (from, k, picks) in near {
                let src = base[from % base.len()].clone();
                base.push(flip_bits(&src, k, &picks));
            }
            base.sort();
            base.dedup();
            base
        })
}

/// The index's answer and the oracle's, as sorted (entry, distance) lists.
/// Sorted `(entry, distance)` pairs.
type Answer = Vec<(usize, u32)>;

fn both_answers(
    entries: &[Vec<u8>],
    algorithm: Algorithm,
    query: &[u8],
    t: u32,
) -> (Answer, Answer) {
    let width = entries[0].len();
    let mut words = Vec::new();
    for e in entries {
        pack_into(e, &mut words);
    }
    let index = Index::build(&words, width);
    let mut q = Vec::new();
    pack_into(query, &mut q);
    let mut got = Vec::new();
    index.search(&words, &q, t, &mut got);
    let digests: Vec<Digest> = entries
        .iter()
        .map(|e| Digest::new(algorithm, e.clone()))
        .collect();
    let want = brute::matches(&digests, &Digest::new(algorithm, query.to_vec()), t)
        .into_iter()
        .map(|(i, d)| (i, d.0))
        .collect();
    (got, want)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn pdq_index_equals_brute_force(
        entries in entry_set(32),
        pick in any::<prop::sample::Index>(),
        kind in 0u8..4,
        k in 0usize..64,
        picks in prop::collection::vec(any::<u16>(), 8),
        random in prop::collection::vec(any::<u8>(), 32),
        t in prop_oneof![Just(31u32), 0u32..=64, 100u32..=256],
    ) {
        let base = &entries[pick.index(entries.len())];
        // Exactly at T and at T + 1 from an entry, near, or unrelated.
        let query = match kind {
            0 => flip_bits(base, t as usize, &picks),
            1 => flip_bits(base, t as usize + 1, &picks),
            2 => flip_bits(base, k, &picks),
            _ => random,
        };
        let (got, want) = both_answers(&entries, Algorithm::Pdq, &query, t);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn classic_64_bit_index_equals_brute_force(
        entries in entry_set(8),
        pick in any::<prop::sample::Index>(),
        at_edge in any::<bool>(),
        picks in prop::collection::vec(any::<u16>(), 8),
        t in prop_oneof![Just(10u32), 0u32..=24, 25u32..=64],
    ) {
        let base = &entries[pick.index(entries.len())];
        let k = if at_edge { t as usize } else { t as usize + 1 };
        let query = flip_bits(base, k, &picks);
        let (got, want) = both_answers(&entries, Algorithm::Dhash, &query, t);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn odd_widths_and_unsorted_entries_still_equal_brute_force(
        mut entries in entry_set(5),
        query in prop::collection::vec(any::<u8>(), 5),
        t in 0u32..=40,
    ) {
        entries.reverse();
        let (got, want) = both_answers(&entries, Algorithm::Ahash, &query, t);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn bloom_filters_have_no_false_negatives(
        entries in entry_set(8),
        seed in any::<u64>(),
        fpr in prop_oneof![Just(1e-6), Just(1e-2), Just(0.5)],
        pick in any::<prop::sample::Index>(),
        r in 0u32..=2,
        picks in prop::collection::vec(any::<u16>(), 8),
    ) {
        let f = Filter::build(Algorithm::Dhash, 8, entries.iter().map(Vec::as_slice), entries.len(), fpr, seed).unwrap();
        for e in &entries {
            prop_assert!(f.contains(e));
        }
        let base = &entries[pick.index(entries.len())];
        let query = flip_bits(base, r as usize, &picks);
        let (_, hits) = f.probe(&query, r).unwrap();
        prop_assert!(hits.contains(&r), "entry at distance {} not found", r);
    }
}

#[test]
fn lookups_through_the_file_equal_brute_force() {
    let key = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]);
    let mut entries: Vec<Vec<u8>> = (0..200u32)
        .map(|i| {
            (0..32)
                .map(|j| (i.wrapping_mul(2654435761).rotate_left(j) >> 3) as u8)
                .collect()
        })
        .collect();
    for i in 0..100 {
        let e = flip_bits(&entries[i], i % 40, &[i as u16 * 7 + 1, 3, 11, 97]);
        entries.push(e);
    }
    let mut b = Builder::new("prop", "Test issuer");
    b.created("2025-01-01T00:00:00Z")
        .representations(&[Representation::List]);
    for e in &entries {
        b.add(Digest::new(Algorithm::Pdq, e.clone()), None);
    }
    let set = HashSet::from_bytes(&b.build(&key).unwrap().0, &key.verifying_key()).unwrap();
    let all: Vec<Digest> = set
        .entries(Algorithm::Pdq)
        .unwrap()
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    for (i, e) in entries.iter().enumerate().step_by(7) {
        let q = Digest::new(Algorithm::Pdq, flip_bits(e, i % 45, &[5, i as u16]));
        let got = set.lookup(&q, Threshold(31)).unwrap();
        let mut want = brute::matches(&all, &q, 31);
        want.sort_by_key(|&(i, d)| (d, i));
        let got: Vec<_> = got
            .matches
            .iter()
            .map(|m| (m.entry.clone().unwrap(), m.distance))
            .collect();
        let want: Vec<_> = want.into_iter().map(|(i, d)| (all[i].clone(), d)).collect();
        assert_eq!(got, want);
    }
}
