//! Decode + hash throughput per algorithm, on a small photo, a 2-MP baseline
//! JPEG and a 16-MP progressive one.
//!
//! Images: `CSSIM_BENCH_SMALL` / `CSSIM_BENCH_MEDIUM` / `CSSIM_BENCH_LARGE` if
//! set, else the committed test photos; decode is included in every
//! measurement because a client pays for it on every image it scans. Here
//! the classic hashes of a JPEG at least 512 px a side come from its DC
//! coefficients (`HashConfig::jpeg_dc`, opt-in since the classic hashes
//! follow imagehash); "phash (full decode)" is the default. PDQ is timed
//! with both kernels (vectorised, the default, and scalar: the same bits)
//! and on the opt-in fast route (`HashConfig::pdq_route`).
//!
//! A second group, "pdq cpu", times PDQ without decoding on the thread's CPU
//! clock (Linux: `/proc/thread-self/schedstat`) instead of the wall clock,
//! so that a figure taken while other processes share the cores still says
//! what the arithmetic costs; divide by the pixels for ns per pixel.
//!
//!     cargo bench --bench hash
//!     cargo bench --bench hash -- 'pdq cpu'

use std::path::{Path, PathBuf};

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use cssim::hash::{self, Algorithm, HashConfig};

fn image_path(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join(default),
        PathBuf::from,
    )
}

fn bench(c: &mut Criterion) {
    let mut config = HashConfig::default();
    config.jpeg_dc = true;
    let full_decode = HashConfig::default();
    let mut fast = HashConfig::default();
    fast.pdq_route = hash::PdqRoute::Fast;
    let inputs = [
        (
            "small",
            image_path(
                "CSSIM_BENCH_SMALL",
                "tests/data/pdq/images/jpeg_chelsea_q85_420.jpg",
            ),
        ),
        (
            "medium",
            image_path(
                "CSSIM_BENCH_MEDIUM",
                "tests/data/pdq/images/jpeg_retina_1411.jpg",
            ),
        ),
        (
            "large",
            image_path(
                "CSSIM_BENCH_LARGE",
                "tests/data/pdq/images/jpeg_seeding_5312x2988_16mp.jpg",
            ),
        ),
    ];
    let mut group = c.benchmark_group("decode+hash");
    group.sample_size(10);
    for (label, path) in &inputs {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let img = hash::decode::decode(&bytes, &config.limits).expect("bench image decodes");
        let (w, h) = img.dimensions();
        let id = format!("{label} {w}x{h}");
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new("decode", &id), &bytes, |b, bytes| {
            b.iter(|| hash::decode::decode(bytes, &config.limits).expect("decodes"))
        });
        for algo in [
            Algorithm::Pdq,
            Algorithm::Phash,
            Algorithm::Dhash,
            Algorithm::Ahash,
        ] {
            group.bench_with_input(BenchmarkId::new(algo.name(), &id), &bytes, |b, bytes| {
                b.iter(|| hash::digest_bytes(bytes, &[algo], &config).expect("hashes"))
            });
        }
        group.bench_with_input(
            BenchmarkId::new("phash (full decode)", &id),
            &bytes,
            |b, bytes| {
                b.iter(|| {
                    hash::digest_bytes(bytes, &[Algorithm::Phash], &full_decode).expect("hashes")
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("jpeg dc read", &id), &bytes, |b, bytes| {
            b.iter(|| cssim::bench_support::jpeg_dc_image(bytes, &config.limits, 0))
        });
        pdq_only(&mut group, &id, &img);
        group.bench_with_input(
            BenchmarkId::new("pdq fast route (reduced JPEG)", &id),
            &bytes,
            |b, bytes| {
                b.iter(|| hash::digest_bytes(bytes, &[Algorithm::Pdq], &fast).expect("hashes"))
            },
        );
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("sha256", &id), &bytes, |b, bytes| {
            b.iter(|| hash::exact::sha256(bytes))
        });
    }
    group.finish();
}

/// CPU time of the calling thread, in nanoseconds (the first field of
/// Linux's `/proc/thread-self/schedstat`), or `None` where there is none.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Criterion's measurement on the thread's CPU clock.
struct ThreadCpu;

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns().unwrap_or(0)
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().unwrap_or(0).saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (div, unit) = match typical {
            t if t < 1e3 => (1.0, "ns cpu"),
            t if t < 1e6 => (1e3, "µs cpu"),
            t if t < 1e9 => (1e6, "ms cpu"),
            _ => (1e9, "s cpu"),
        };
        values.iter_mut().for_each(|v| *v /= div);
        unit
    }
    fn scale_throughputs(&self, _: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let n = match t {
            Throughput::Elements(n) | Throughput::Bytes(n) => *n as f64,
            _ => 1.0,
        };
        values.iter_mut().for_each(|v| *v = n / (*v * 1e-9));
        "per cpu second"
    }
    fn scale_for_machines(&self, _: &mut [f64]) -> &'static str {
        "ns cpu"
    }
}

/// PDQ of decoded pixels with each kernel (the vectorised default and the
/// scalar oracle), on whichever clock the group measures.
fn pdq_only<M: Measurement>(
    group: &mut criterion::BenchmarkGroup<'_, M>,
    id: &str,
    img: &image::RgbImage,
) {
    group.bench_with_input(
        BenchmarkId::new("pdq-only (no decode)", id),
        img,
        |b, img| b.iter(|| hash::pdq::hash_image(img)),
    );
    group.bench_with_input(
        BenchmarkId::new("pdq-only scalar kernel (no decode)", id),
        img,
        |b, img| b.iter(|| hash::pdq::hash_image_with(img, hash::pdq::Kernel::Scalar)),
    );
}

fn bench_cpu(c: &mut Criterion<ThreadCpu>) {
    if thread_cpu_ns().is_none() {
        eprintln!("pdq cpu: no thread CPU clock here (/proc/thread-self/schedstat), skipped");
        return;
    }
    let limits = HashConfig::default().limits;
    let mut group = c.benchmark_group("pdq cpu");
    group.sample_size(10);
    for (label, var, default) in [
        (
            "medium",
            "CSSIM_BENCH_MEDIUM",
            "tests/data/pdq/images/jpeg_retina_1411.jpg",
        ),
        (
            "large",
            "CSSIM_BENCH_LARGE",
            "tests/data/pdq/images/jpeg_seeding_5312x2988_16mp.jpg",
        ),
    ] {
        let path = image_path(var, default);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let img = hash::decode::decode(&bytes, &limits).expect("bench image decodes");
        let (w, h) = img.dimensions();
        let id = format!("{label} {w}x{h}");
        group.throughput(Throughput::Elements(u64::from(w) * u64::from(h)));
        pdq_only(&mut group, &id, &img);
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = bench_cpu
}
criterion_main!(benches, cpu);
