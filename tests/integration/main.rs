//! cssim's integration tests, as one test binary.
//!
//! Each file here was once its own test binary under `tests/`, and each of those linked
//! the whole crate again: 18 links of the same library on every rebuild. As modules of
//! one binary they link once (see `docs/PERFORMANCE.md`, "Build times"). A test still
//! lives in the file named for what it covers; run one file's tests with
//! `cargo test --test integration security::`.
//!
//! The tests run as threads of one process, so none may change process-wide state
//! (environment variables, the current directory): a test that needs either sets it on
//! the `Command` it runs, as `util::cssim` does.

mod util;

mod attack_cli;
mod bench_cli;
mod bloom_fpr;
mod classic_pins;
mod cli_hash;
mod cli_messaging;
mod crash_window;
mod edit_cli;
mod golden;
mod hashset_cli;
mod hashset_images;
mod hpke_vectors;
mod imagehash_vectors;
mod pdq_kernels;
mod pdq_vectors;
mod rates_cli;
mod relay_load;
mod relay_serve;
mod scan_cli;
mod scenario;
mod scenario_library;
mod scenario_measured;
mod security;
mod web;
