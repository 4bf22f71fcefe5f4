//! `cssim hashset check`: which files match a verified hash set.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use cssim::hash::{self, Algorithm, Threshold};
use cssim::hashset::manifest::Hashing;
use cssim::hashset::sign::IssuerKey;
use cssim::hashset::{Lookup, SignedSet};
use serde_json::json;

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
    #[arg(long)]
    pub json: bool,
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
    for f in &files {
        let digests = match hash::digest_file(f, &algos, &config) {
            Ok(d) => d,
            Err(e) => {
                failed = true;
                report_failure(&mut out, args.json, f, &e.to_string())?;
                continue;
            }
        };
        let mut found = Vec::new();
        let mut nearest = Vec::new();
        for d in &digests.digests {
            if d.algorithm() == Algorithm::Pdq
                && digests.pdq_quality.is_some_and(|q| !q.is_matchable())
            {
                continue;
            }
            let default = set.default_threshold(d.algorithm()).unwrap_or(Threshold(0));
            let t = match args.threshold {
                Some(t) if d.algorithm().is_perceptual() => Threshold(t),
                _ => default,
            };
            found.push(set.lookup(d, t)?);
            nearest.push(set.nearest(d));
        }
        if args.json {
            let lookups: Vec<serde_json::Value> = found
                .iter()
                .zip(&nearest)
                .map(|(l, n)| {
                    let mut v = serde_json::to_value(l).unwrap_or_default();
                    if l.algorithm.is_perceptual() {
                        v["nearest"] = json!(n.map(|d| d.0));
                    }
                    v
                })
                .collect();
            writeln!(
                out,
                "{}",
                json!({"path": style::json_path(f), "pdq_quality": digests.pdq_quality,
                       "lookups": lookups})
            )?;
            continue;
        }
        let mut any = false;
        for l in &found {
            for m in &l.matches {
                any = true;
                let label = m
                    .label
                    .as_ref()
                    .map_or("-".to_string(), |l| match &l.source {
                        Some(s) => format!("{} ({s})", l.category),
                        None => l.category.clone(),
                    });
                let entry = m.entry.as_ref().map_or_else(
                    || {
                        l.bloom.map_or(String::new(), |b| {
                            format!("bloom, false-positive chance {:.2e}", b.compounded_fpr)
                        })
                    },
                    |e| e.to_hex(),
                );
                writeln!(
                    out,
                    "{}\t{}\t{}\t{label}\t{entry}",
                    f.display(),
                    l.algorithm,
                    m.distance
                )?;
            }
        }
        if !any {
            let mut why: Vec<String> = found
                .iter()
                .zip(&nearest)
                .map(|(l, n)| no_match_reason(l, *n))
                .collect();
            if let Some(q) = digests.pdq_quality.filter(|q| !q.is_matchable()) {
                why.insert(
                    0,
                    format!(
                        "pdq not matched (quality {q} below {})",
                        hash::pdq::MIN_QUALITY
                    ),
                );
            }
            writeln!(out, "{}\tno match\t{}", f.display(), why.join("; "))?;
        }
    }
    Ok(if failed { EXIT_SOME_FAILED } else { EXIT_OK })
}

/// Why one lookup found nothing, with the nearest entry's distance where
/// the set can tell: `pdq nearest 84/256 (threshold 31)`, `sha256 not listed`.
fn no_match_reason(l: &Lookup, nearest: Option<hash::Distance>) -> String {
    let a = l.algorithm;
    if !a.is_perceptual() {
        return format!("{a} not listed");
    }
    match (nearest, &l.bloom) {
        (Some(d), _) => format!("{a} nearest {d} (threshold {})", l.threshold),
        (None, Some(b)) => format!(
            "{a} none within radius {} (a Bloom filter cannot tell the nearest)",
            b.radius
        ),
        (None, None) => format!("{a} no entries"),
    }
}

/// How to hash files for `set`: as its manifest records (EXIF rotation,
/// JPEG DC route, classic hash size), with the size limits of `opts`. An
/// option given that says otherwise is overridden, with a note on stderr:
/// hashes made another way would never match.
fn set_config(set: &SignedSet, opts: &DecodeOpts) -> hash::HashConfig {
    let mut config = set.hash_config();
    let recorded = Hashing::of(&config);
    let size = config_size(&config);
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
    config.limits = hash::decode::Limits {
        exif_rotate: recorded.exif_rotate,
        ..opts.config().limits
    };
    config
}

fn config_size(config: &hash::HashConfig) -> u32 {
    config.classic_size()
}
