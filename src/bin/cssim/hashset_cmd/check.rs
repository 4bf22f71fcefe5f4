//! `cssim hashset check`: which files match a verified hash set.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use cssim::hash::{self, Threshold};

use cssim::hashset::SignedSet;
use cssim::hashset::sign::IssuerKey;

use crate::hash_cmd::{DecodeOpts, expand_paths, report_failure};
use crate::{EXIT_OK, EXIT_SOME_FAILED, style};

/// Arguments of `cssim hashset check`.
#[derive(Args, Debug)]
#[command(after_help = "\
Each file is hashed with the set's algorithms, the way the set was built
(its manifest's EXIF rotation and JPEG DC route, its classic hash size), and
looked up at the set's default thresholds (--threshold overrides it for
perceptual algorithms). Bloom-only sets probe every hash within --radius of
the query and report the chance that a hit is false.

Output: PATH ALGO DISTANCE LABEL ENTRY for each match; for a file with none,
PATH \"no match\" and, per algorithm, the distance to the nearest entry (a
list set; a Bloom filter cannot tell) or \"not listed\" for exact hashes.
With --json one object a line: {\"path\", \"pdq_quality\", \"lookups\"}, each
perceptual lookup with \"nearest\". A file that cannot be hashed: one error
line on stderr, or with --json one {\"path\", \"error\"} line on stdout and
nothing on stderr; the exit status is then 1.")]
pub struct CheckArgs {
    /// The hash-set file.
    pub file: PathBuf,
    /// The issuer's public key file (KEY.pub).
    #[arg(long, value_name = "PUBKEY")]
    pub issuer: PathBuf,
    /// Files or folders to check.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Threshold for perceptual algorithms (default: the set's).
    #[arg(long, value_name = "BITS")]
    pub threshold: Option<u32>,
    /// Probe radius for Bloom-only sets.
    #[arg(long, default_value_t = 0)]
    pub radius: u32,
    /// One JSON object a line.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV (a header, then one row a file and algorithm) instead of lines.
    #[arg(long)]
    pub csv: bool,
    #[command(flatten)]
    pub decode: DecodeOpts,
}

pub(super) fn run_check(args: CheckArgs) -> anyhow::Result<u8> {
    let key = IssuerKey::read(&args.issuer)?;
    let mut set = SignedSet::open(&args.file, &key.key)?;
    set.set_bloom_radius(args.radius);
    let algos = set.algorithms();
    let config = set_config(&set, &args.decode);
    let (files, problems) = expand_paths(&args.paths, algos.iter().any(|a| a.needs_pixels()));
    let mut out = std::io::stdout().lock();
    let mut failed = !problems.is_empty();
    for (path, line) in &problems {
        report_failure(&mut out, args.json, path, line)?;
    }
    let format = style::format(args.json, args.csv);
    write!(out, "{}", style::header::<cssim::hashset::Check>(format))?;
    let threshold = args.threshold.map(Threshold);
    for f in &files {
        let digests = match hash::digest_file(f, &algos, &config) {
            Ok(d) => d,
            Err(e) => {
                failed = true;
                report_failure(&mut out, args.json, f, &e.to_string())?;
                continue;
            }
        };
        let check = set.check(f, &digests, threshold)?;
        write!(out, "{}", style::record(format, &check)?)?;
    }
    Ok(if failed { EXIT_SOME_FAILED } else { EXIT_OK })
}

/// How to hash files for `set`: as its manifest records (EXIF rotation,
/// JPEG DC route, classic hash size), with the size limits of `opts`. An
/// option given that says otherwise is overridden, with a note on stderr:
/// hashes made another way would never match.
fn set_config(set: &SignedSet, opts: &DecodeOpts) -> hash::HashConfig {
    let recorded = set.manifest().hashing;
    let size = set.hash_config().classic_size();
    let classic = set.algorithms().iter().any(|a| a.is_classic());
    let overridden = (opts.no_exif_rotate && recorded.exif_rotate)
        || (opts.jpeg_dc && !recorded.jpeg_dc)
        || (classic && opts.hash_size != hash::classic::DEFAULT_SIZE && opts.hash_size != size);
    if overridden {
        eprintln!(
            "note: hashing as the set was built ({recorded}{}); the options that say otherwise are ignored",
            if classic {
                format!(", classic hash size {size}")
            } else {
                String::new()
            }
        );
    }
    let mut config = recorded.config(opts.config().limits, size);
    // The route is the checker's choice (the set may record that its own
    // entries were made on the fast route; a client may still hash exactly).
    config.pdq_route = opts.pdq_route;
    config
}
