//! Matching against a 1,000,000-entry hash set, single thread.
//!
//! - `pdq_1m_t31/{near,random}`: list lookups at threshold 31 through the
//!   multi-index (target ≥ 20,000 lookups/s); answers are compared with
//!   brute force for a sample of queries before anything is timed.
//! - `pdq_1m_t31_8bit/…`: the same with 8-bit substrings (32 tables, radius 0).
//! - `load_verify_1m`: parse + verify + index a 1M-entry file (target < 1 s).
//! - `bloom_64bit_1m/r{0,1,2}`: Bloom probe lookups for 64-bit hashes.
//!
//! Index memory against the raw hash bytes (target ≤ 2×) is printed once.
//!
//!     cargo bench --bench match

use std::hint::black_box;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use cssim::bench_support::{Index, brute_force_matches, pack_into};
use cssim::hash::{Algorithm, Digest, Threshold};
use cssim::hashset::{Builder, Representation, SignedSet};
use ed25519_dalek::SigningKey;
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ENTRIES: usize = 1_000_000;
const QUERIES: usize = 1_000;
const CHECKED: usize = 40;

fn random_digests(
    rng: &mut ChaCha8Rng,
    n: usize,
    bytes: usize,
    algorithm: Algorithm,
) -> Vec<Digest> {
    (0..n)
        .map(|_| {
            let mut b = vec![0u8; bytes];
            rng.fill_bytes(&mut b);
            Digest::new(algorithm, b)
        })
        .collect()
}

/// An entry with 0–40 distinct random bits flipped.
fn near(rng: &mut ChaCha8Rng, entries: &[Digest]) -> Digest {
    let e = &entries[rng.random_range(0..entries.len())];
    let mut b = e.bytes().to_vec();
    let k = rng.random_range(0..=40usize);
    let mut flipped = Vec::new();
    while flipped.len() < k {
        let bit = rng.random_range(0..256usize);
        if !flipped.contains(&bit) {
            flipped.push(bit);
            b[bit / 8] ^= 0x80 >> (bit % 8);
        }
    }
    Digest::new(Algorithm::Pdq, b)
}

fn build(entries: &[Digest], reprs: &[Representation], key: &SigningKey) -> Vec<u8> {
    let mut b = Builder::new("bench", "Bench issuer");
    b.created("2025-01-01T00:00:00Z")
        .seed(1)
        .representations(reprs);
    for d in entries {
        b.add(d.clone(), None);
    }
    b.build(key).expect("build").0
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[9u8; 32]);
    let mut rng = ChaCha8Rng::seed_from_u64(2025);
    let entries = random_digests(&mut rng, ENTRIES, 32, Algorithm::Pdq);
    let file = build(
        &entries,
        &[Representation::List, Representation::Bloom],
        &key,
    );

    let t = Instant::now();
    let set = SignedSet::from_bytes(&file, &key.verifying_key()).expect("load");
    println!(
        "load+verify 1M PDQ ({} MB file): {:.3} s (one-off)",
        file.len() / 1_000_000,
        t.elapsed().as_secs_f64()
    );
    let mem = set.memory();
    println!(
        "memory: raw hashes {} B, packed entries {} B, labels {} B, MIH index {} B = {:.2}x raw, bloom {} B",
        mem.raw_hash_bytes,
        mem.entry_bytes,
        mem.label_bytes,
        mem.index_bytes,
        mem.index_bytes as f64 / mem.raw_hash_bytes as f64,
        mem.bloom_bytes
    );

    let near_q: Vec<Digest> = (0..QUERIES).map(|_| near(&mut rng, &entries)).collect();
    let random_q = random_digests(&mut rng, QUERIES, 32, Algorithm::Pdq);

    // Correctness first, outside the timed loops: the index equals brute force.
    let sorted: Vec<Digest> = {
        let mut s = entries.clone();
        s.sort();
        s
    };
    let mut near_hits = 0;
    for q in near_q
        .iter()
        .take(CHECKED)
        .chain(random_q.iter().take(CHECKED))
    {
        let got: Vec<_> = set
            .lookup(q, Threshold(31))
            .expect("lookup")
            .matches
            .into_iter()
            .map(|m| (m.entry.expect("list entry"), m.distance))
            .collect();
        let mut want: Vec<_> = brute_force_matches(&sorted, q, 31)
            .into_iter()
            .map(|(i, d)| (sorted[i].clone(), d))
            .collect();
        want.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        assert_eq!(got, want, "index and brute force disagree on {q:?}");
        near_hits += usize::from(!got.is_empty());
    }
    println!(
        "checked {} queries against brute force: identical ({near_hits} with matches)",
        2 * CHECKED
    );

    let mut group = c.benchmark_group("pdq_1m_t31");
    group.throughput(Throughput::Elements(QUERIES as u64));
    group.sample_size(20);
    for (name, qs) in [("near", &near_q), ("random", &random_q)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0;
                for q in qs {
                    n += set.lookup(q, Threshold(31)).expect("lookup").matches.len();
                }
                black_box(n)
            })
        });
    }
    group.finish();

    // The same search with 8-bit substrings (m = 32, radius 0), index only.
    let mut words = Vec::with_capacity(ENTRIES * 4);
    for d in &sorted {
        pack_into(d.bytes(), &mut words);
    }
    let idx8 = Index::build_with_substring_bits(&words, 32, 8);
    let mut group = c.benchmark_group("pdq_1m_t31_8bit");
    group.throughput(Throughput::Elements(100));
    group.sample_size(10);
    for (name, qs) in [("near", &near_q), ("random", &random_q)] {
        let packed: Vec<Vec<u64>> = qs[..100]
            .iter()
            .map(|q| {
                let mut w = Vec::new();
                pack_into(q.bytes(), &mut w);
                w
            })
            .collect();
        group.bench_function(name, |b| {
            let mut out = Vec::new();
            b.iter(|| {
                for q in &packed {
                    out.clear();
                    idx8.search(&words, q, 31, &mut out);
                }
                black_box(out.len())
            })
        });
    }
    group.finish();
    drop((idx8, words, sorted));

    let mut group = c.benchmark_group("load_verify_1m");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(file.len() as u64));
    group.bench_function("pdq_list_bloom", |b| {
        b.iter(|| black_box(SignedSet::from_bytes(&file, &key.verifying_key()).expect("load")))
    });
    group.finish();
    drop(set);

    let dhash = random_digests(&mut rng, ENTRIES, 8, Algorithm::Dhash);
    let bloom_file = build(&dhash, &[Representation::Bloom], &key);
    let bloom_set = SignedSet::from_bytes(&bloom_file, &key.verifying_key()).expect("load");
    let queries: Vec<Digest> = (0..QUERIES).map(|i| dhash[i * 997].clone()).collect();
    let mut group = c.benchmark_group("bloom_64bit_1m");
    for r in [0u32, 1, 2] {
        let probes = cssim::bench_support::probe_count(64, r);
        let n = if r == 2 { 100 } else { QUERIES };
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("r{r}_{probes}probes")),
            &r,
            |b, &r| {
                b.iter(|| {
                    let mut hits = 0;
                    for q in &queries[..n] {
                        hits += bloom_set.lookup_bloom(q, r).expect("probe").matches.len();
                    }
                    black_box(hits)
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
