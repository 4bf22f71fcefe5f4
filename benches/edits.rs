//! The edits' resampler against the `image` crate's, in one run: the
//! `resize:0.5` edit of a 2-MP photo (what the demo page's timed send does)
//! and `imageops::resize` with Lanczos3 on the same pixels. The edit gives
//! the same bytes (tested in `eval::transform::resample` and
//! `edit_cli::`); this measures what the reimplementation saves.
//!
//!     cargo bench --bench edits
//!
//! The photo is the committed 1411×1411 JPEG (`tests/data/pdq/images/
//! jpeg_retina_1411.jpg`, 1.99 MP); `CSSIM_BENCH_MEDIUM` names another.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use cssim::eval::transform::Chain;
use image::imageops::{self, FilterType};

fn bench(c: &mut Criterion) {
    let path = std::env::var("CSSIM_BENCH_MEDIUM")
        .unwrap_or_else(|_| "tests/data/pdq/images/jpeg_retina_1411.jpg".into());
    let photo = image::open(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .into_rgb8();
    let (w, h) = photo.dimensions();
    let half = Chain::parse("resize:0.5").expect("a valid edit");
    assert_eq!(
        half.apply(&photo, 0).expect("resize").as_raw(),
        imageops::resize(&photo, w.div_ceil(2), h.div_ceil(2), FilterType::Lanczos3).as_raw(),
        "the edit and image's resize differ"
    );
    let mut group = c.benchmark_group(format!("resize 50% of {w}x{h}"));
    group.sample_size(20);
    group.bench_function("cssim edit resize:0.5", |b| {
        b.iter(|| black_box(half.apply(black_box(&photo), 0)))
    });
    group.bench_function("image imageops::resize Lanczos3", |b| {
        b.iter(|| {
            black_box(imageops::resize(
                black_box(&photo),
                w.div_ceil(2),
                h.div_ceil(2),
                FilterType::Lanczos3,
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
