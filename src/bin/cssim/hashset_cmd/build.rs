//! `cssim hashset build`: hash a folder or read a list, then sign.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use cssim::hash::{self, Algorithm};
use cssim::hashset::interchange::{self, Format};
use cssim::hashset::manifest::{self, Hashing, Representation};
use cssim::hashset::sign::SecretKey;
use cssim::hashset::{Builder, Label};

use crate::hash_cmd::{DecodeOpts, expand_paths};
use crate::{EXIT_OK, style};

/// Arguments of `cssim hashset build`.
#[derive(Args, Debug)]
#[command(after_help = "\
With a folder, every file is hashed with --algo (images only when a
perceptual algorithm is asked for; PDQ hashes of quality below 50 are left
out). With a file, it is read as a list in --format (default: csv, or the
plain format of a single --algo pdq|md5|sha256).

Same inputs, --seed, --created and --expires give a byte-identical file.

--no-exif-rotate and --no-jpeg-dc are recorded in the manifest, and the
classic hash size in each algorithm's bit count: clients (send, hashset check)
hash images the same way, so the set's entries can match.

--revision is the set's version: a client that has accepted version N of a
set (same issuer key, same --name) refuses any lower version. --expires is
when clients stop accepting it; without it the set never expires.

Example:
  cssim hashset build --from examples/images/listed --algo pdq,sha256 \\
      --sign demo.key --label demo --seed 1 --created 2025-06-01T00:00:00Z -o demo.hashset")]
pub struct BuildArgs {
    /// A folder of files to hash, or a list file.
    #[arg(long, value_name = "DIR|LIST")]
    pub from: PathBuf,
    /// Format of a list file: pdq, md5, sha256 or csv.
    #[arg(long)]
    pub format: Option<Format>,
    /// Algorithms, comma-separated (default for folders: pdq,sha256; for lists: all present).
    #[arg(long, value_delimiter = ',')]
    pub algo: Vec<Algorithm>,
    /// Representations, comma-separated: list, bloom.
    #[arg(long, value_delimiter = ',', default_value = "list,bloom")]
    pub repr: Vec<Representation>,
    /// Bloom false-positive rate per probe.
    #[arg(long, default_value_t = cssim::hashset::DEFAULT_FPR)]
    pub fpr: f64,
    /// The issuer's secret key file (from `cssim keygen`).
    #[arg(long, value_name = "KEY")]
    pub sign: PathBuf,
    /// Category label for entries that have none.
    #[arg(long, value_name = "CATEGORY")]
    pub label: Option<String>,
    /// Source label for entries that have none (with --label).
    #[arg(long, requires = "label")]
    pub source: Option<String>,
    /// Seed of the Bloom filters' hash keys.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Creation time, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339")]
    pub created: Option<String>,
    /// Expiry, RFC 3339, after the creation time (default: never expires).
    #[arg(long, value_name = "RFC3339")]
    pub expires: Option<String>,
    /// The set's name (default: the output file's stem).
    #[arg(long)]
    pub name: Option<String>,
    /// The set's version; raise it for every new release of the set.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub revision: u32,
    /// Free-text description.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Output file.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub decode: DecodeOpts,
}

pub(super) fn run_build(args: BuildArgs) -> anyhow::Result<u8> {
    // Dates are checked before any file is hashed, and errors name the flag.
    let created = args.created.clone().unwrap_or_else(manifest::now_rfc3339);
    manifest::check_rfc3339(&created).map_err(flag_error)?;
    if let Some(expires) = &args.expires {
        manifest::check_expiry(&created, expires).map_err(flag_error)?;
    }
    let secret = SecretKey::read(&args.sign)?;
    let default_label = args.label.as_ref().map(|c| Label {
        category: c.clone(),
        source: args.source.clone(),
    });
    let name = match &args.name {
        Some(n) => n.clone(),
        None => args
            .output
            .file_stem()
            .map_or_else(|| "hashset".into(), |s| s.to_string_lossy().into_owned()),
    };
    let mut builder = Builder::new(name, secret.issuer());
    builder
        .version(args.revision)
        .description(&args.description)
        .created(&created)
        .seed(args.seed)
        .fpr(args.fpr)
        .representations(&args.repr)
        .hashing(Hashing::of(&args.decode.config()));
    if let Some(expires) = &args.expires {
        builder.expires(expires);
    }
    let low_quality = if args.from.is_dir() {
        add_folder(&mut builder, &args, default_label.as_ref())?
    } else {
        add_list(&mut builder, &args, default_label.as_ref())?
    };
    if low_quality > 0 {
        eprintln!(
            "note: {low_quality} PDQ hash(es) of quality below {} (not matchable per Meta's guidance)",
            hash::pdq::MIN_QUALITY
        );
    }
    let summary = builder
        .write_to(&args.output, secret.signing_key())
        .with_context(|| format!("building {}", args.output.display()))?;
    println!(
        "wrote {} ({} bytes), signed by {} ({})",
        args.output.display(),
        summary.file_bytes,
        secret.issuer(),
        summary.fingerprint
    );
    for a in &summary.algorithms {
        let fpr = a
            .bloom_fpr
            .map(|p| format!("  bloom fpr {p:.2e}"))
            .unwrap_or_default();
        println!(
            "  {:<7} {:>8} entries  {:>6} duplicates removed{fpr}",
            a.algorithm, a.entries, a.duplicates
        );
    }
    println!(
        "  total   {:>8} entries  {:>6} duplicates removed",
        summary.entries, summary.duplicates
    );
    if let Some(expires) = &args.expires {
        let past = manifest::parse_rfc3339("expires", expires)
            .is_ok_and(|t| t <= manifest::now_unix() as i64);
        if past {
            eprintln!("note: this set expired at {expires}; clients will refuse it");
        }
    }
    Ok(EXIT_OK)
}

/// A library option error worded with its flag: `--expires: 'x' is not …`.
fn flag_error(e: cssim::hashset::Error) -> anyhow::Error {
    match e {
        cssim::hashset::Error::InvalidOption {
            option,
            value,
            reason,
        } => anyhow::anyhow!("--{option}: '{value}' {reason}"),
        e => e.into(),
    }
}

/// Hashes every file in the folder `args.from` into `builder`; returns how
/// many PDQ hashes were left out for low quality. Any file that cannot be
/// hashed fails the build (each named on stderr), so nothing is written.
fn add_folder(
    builder: &mut Builder,
    args: &BuildArgs,
    label: Option<&Label>,
) -> anyhow::Result<u64> {
    let algos = if args.algo.is_empty() {
        vec![Algorithm::Pdq, Algorithm::Sha256]
    } else {
        args.algo.clone()
    };
    let (files, problems) = expand_paths(
        std::slice::from_ref(&args.from),
        algos.iter().any(|a| a.needs_pixels()),
    );
    let config = args.decode.config();
    let mut failures: Vec<String> = problems.into_iter().map(|(_, line)| line).collect();
    let mut low_quality = 0u64;
    for f in &files {
        match hash::digest_file(f, &algos, &config) {
            Ok(d) => {
                let pdq_low = d.low_pdq_quality().is_some();
                for digest in d.digests {
                    if digest.algorithm() == Algorithm::Pdq && pdq_low {
                        low_quality += 1;
                    } else {
                        builder.add(digest, label.cloned());
                    }
                }
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    if !failures.is_empty() {
        for f in &failures {
            eprintln!("{}", style::error_line(f));
        }
        bail!(
            "{} input(s) could not be hashed; nothing written",
            failures.len()
        );
    }
    Ok(low_quality)
}

/// Imports the list file `args.from` (its format from `--format`, else
/// from `--algo`, else CSV) into `builder`; returns how many PDQ hashes
/// were left out for low quality.
fn add_list(builder: &mut Builder, args: &BuildArgs, label: Option<&Label>) -> anyhow::Result<u64> {
    let format = match (args.format, args.algo.as_slice()) {
        (Some(f), _) => f,
        (None, [Algorithm::Pdq]) => Format::Pdq,
        (None, [Algorithm::Md5]) => Format::Md5,
        (None, [Algorithm::Sha256]) => Format::Sha256,
        (None, _) => Format::Csv,
    };
    let mut imported = interchange::read_file(&args.from, format)?;
    if let Some(l) = label {
        imported.label_unlabelled(l);
    }
    if imported.duplicates > 0 {
        eprintln!(
            "{}: {} duplicate line(s) dropped",
            args.from.display(),
            imported.duplicates
        );
    }
    for (d, l) in imported.entries {
        if !args.algo.is_empty() && !args.algo.contains(&d.algorithm()) {
            bail!(
                "{}: has {} entries, not in --algo",
                args.from.display(),
                d.algorithm()
            );
        }
        builder.add(d, l);
    }
    Ok(imported.low_quality)
}
