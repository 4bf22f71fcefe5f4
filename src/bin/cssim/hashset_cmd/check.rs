//! `cssim hashset check`: which files match a verified hash set.

use std::path::PathBuf;

use clap::Args;
use cssim::hash::{self, Algorithm, Threshold};
use cssim::hashset::HashSet;
use cssim::hashset::sign::PublicKey;
use serde_json::json;

use crate::hash_cmd::{DecodeOpts, expand_paths};
use crate::{EXIT_OK, EXIT_SOME_FAILED, style};

/// Arguments of `cssim hashset check`.
#[derive(Args, Debug)]
#[command(after_help = "\
Each file is hashed with the set's algorithms and looked up at the set's
default thresholds (--threshold overrides it for perceptual algorithms).
Bloom-only sets probe every hash within --radius of the query and report
the chance that a hit is false. Output: PATH ALGO DISTANCE LABEL ENTRY, or
with --json one object a line.")]
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
    let key = PublicKey::read(&args.issuer)?;
    let mut set = HashSet::open(&args.file, &key.key)?;
    set.set_bloom_radius(args.radius);
    let algos = set.algorithms();
    let (files, problems) = expand_paths(&args.paths, algos.iter().any(|a| a.needs_pixels()));
    let mut failed = !problems.is_empty();
    for p in &problems {
        eprintln!("{}", style::error_line(p));
    }
    let config = args.decode.config();
    for f in &files {
        let digests = match hash::digest_file(f, &algos, &config) {
            Ok(d) => d,
            Err(e) => {
                failed = true;
                if args.json {
                    println!("{}", json!({"path": f, "error": e.to_string()}));
                } else {
                    eprintln!("{}", style::error_line(&e.to_string()));
                }
                continue;
            }
        };
        let mut found = Vec::new();
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
        }
        if args.json {
            println!(
                "{}",
                json!({"path": f, "pdq_quality": digests.pdq_quality, "lookups": found})
            );
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
                println!(
                    "{}\t{}\t{}\t{label}\t{entry}",
                    f.display(),
                    l.algorithm,
                    m.distance
                );
            }
        }
        if !any {
            println!("{}\tno match", f.display());
        }
    }
    Ok(if failed { EXIT_SOME_FAILED } else { EXIT_OK })
}
