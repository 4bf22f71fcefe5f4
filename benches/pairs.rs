//! The all-pairs distance histogram of `cssim eval rates` (impostor pairs):
//! every pair of 10,000 random PDQ hashes (49,995,000 pairs), histogram and
//! the 20 closest pairs, on rayon's threads (one per core).
//!
//! The 100,000-hash figure (5·10⁹ pairs, target < 30 s on 2 cores) is
//! measured by `cssim bench --all-pairs 100000` (docs/PERFORMANCE.md); this
//! bench tracks the same loop at a size criterion can repeat.
//!
//!     cargo bench --bench pairs

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use cssim::eval::pairs::{Packed, all_pairs, pair_count};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const HASHES: usize = 10_000;

fn bench(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let hashes: Vec<[u8; 32]> = (0..HASHES)
        .map(|_| {
            let mut b = [0u8; 32];
            rng.fill_bytes(&mut b);
            b
        })
        .collect();
    let packed = Packed::from_bytes(256, hashes.iter().map(|h| &h[..]));
    let mut group = c.benchmark_group("all_pairs");
    group.sample_size(10);
    group.throughput(Throughput::Elements(pair_count(HASHES)));
    group.bench_function("pdq_10k", |b| {
        b.iter(|| {
            let count = all_pairs(black_box(&packed), 20, &|_| {});
            assert_eq!(count.pairs, pair_count(HASHES));
            black_box(count)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
