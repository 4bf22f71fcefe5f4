//! `cssim keygen` and `cssim hashset build|info|verify|check|import|export`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use cssim::hash::{self, Algorithm, Threshold};
use cssim::hashset::interchange::{self, Format};
use cssim::hashset::manifest::{self, Representation};
use cssim::hashset::sign::{PublicKey, SecretKey};
use cssim::hashset::{Builder, HashSet, Label, format};
use serde_json::json;

use crate::hash_cmd::{DecodeOpts, expand_paths};
use crate::{EXIT_OK, EXIT_SOME_FAILED, style};

/// Arguments of `cssim keygen`.
#[derive(Args, Debug)]
#[command(after_help = "\
Writes KEY (the secret key, mode 0600) and KEY.pub (the public key, which
clients use to verify hash sets). Neither file is overwritten if it exists.")]
pub struct KeygenArgs {
    /// The issuer's name, recorded in both key files and in every hash set signed.
    #[arg(long)]
    pub issuer: String,
    /// Where to write the secret key; the public key goes to KEY.pub.
    #[arg(short, long, value_name = "KEY")]
    pub output: PathBuf,
}

/// Arguments of `cssim hashset`.
#[derive(Args, Debug)]
#[command(after_help = "\
Exit status: 0 on success; 1 when verify finds the file invalid or check
could not hash some inputs; 2 when the command could not run.")]
pub struct HashsetArgs {
    #[command(subcommand)]
    pub command: HashsetCommand,
}

/// The `cssim hashset` subcommands.
#[derive(Subcommand, Debug)]
pub enum HashsetCommand {
    /// Build and sign a hash set from a folder of files or a list.
    Build(Box<BuildArgs>),
    /// Show a hash set's manifest, sizes and Bloom rates (signature not verified).
    Info(InfoArgs),
    /// Verify a hash set's signature against an issuer's public key.
    Verify(VerifyArgs),
    /// Check files against a verified hash set.
    Check(CheckArgs),
    /// Convert a plain list (pdq, md5, sha256) or CSV to cssim's CSV.
    Import(ImportArgs),
    /// Write a verified hash set's list as a plain list or CSV.
    Export(ExportArgs),
}

/// Arguments of `cssim hashset build`.
#[derive(Args, Debug)]
#[command(after_help = "\
With a folder, every file is hashed with --algo (images only when a
perceptual algorithm is asked for; PDQ hashes of quality below 50 are left
out). With a file, it is read as a list in --format (default: csv, or the
plain format of a single --algo pdq|md5|sha256).

Same inputs, --seed and --created give a byte-identical file.

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
    /// The set's name (default: the output file's stem).
    #[arg(long)]
    pub name: Option<String>,
    /// The set's revision number.
    #[arg(long, default_value_t = 1)]
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

/// Arguments of `cssim hashset info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    /// The hash-set file.
    pub file: PathBuf,
    /// Also verify the signature against this public key.
    #[arg(long, value_name = "PUBKEY")]
    pub issuer: Option<PathBuf>,
    /// JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `cssim hashset verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The hash-set file.
    pub file: PathBuf,
    /// The issuer's public key file (KEY.pub).
    #[arg(long, value_name = "PUBKEY")]
    pub issuer: PathBuf,
}

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

/// Arguments of `cssim hashset import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Format of the input: pdq, md5, sha256 or csv.
    #[arg(long)]
    pub format: Format,
    /// The list to read.
    pub input: PathBuf,
    /// Where to write cssim's CSV.
    #[arg(short, long, value_name = "OUT.csv")]
    pub output: PathBuf,
}

/// Arguments of `cssim hashset export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Output format: pdq, md5, sha256 (that algorithm's entries) or csv (all).
    #[arg(long)]
    pub format: Format,
    /// The hash-set file (must have a list section).
    pub file: PathBuf,
    /// The issuer's public key file (KEY.pub).
    #[arg(long, value_name = "PUBKEY")]
    pub issuer: PathBuf,
    /// Where to write the list.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
}

/// `cssim keygen`.
pub fn run_keygen(args: KeygenArgs) -> anyhow::Result<u8> {
    let mut public_path = args.output.clone().into_os_string();
    public_path.push(".pub");
    let public_path = PathBuf::from(public_path);
    for p in [&args.output, &public_path] {
        if p.exists() {
            bail!(
                "{}: already exists; refusing to overwrite a key",
                p.display()
            );
        }
    }
    let secret = SecretKey::generate(&args.issuer)?;
    secret.write(&args.output)?;
    secret.public().write(&public_path)?;
    println!(
        "wrote {} (secret, keep private) and {}\nissuer {} fingerprint {}",
        args.output.display(),
        public_path.display(),
        secret.issuer(),
        secret.public().fingerprint()
    );
    Ok(EXIT_OK)
}

/// `cssim hashset …`.
pub fn run(args: HashsetArgs) -> anyhow::Result<u8> {
    match args.command {
        HashsetCommand::Build(a) => run_build(*a),
        HashsetCommand::Info(a) => run_info(a),
        HashsetCommand::Verify(a) => run_verify(a),
        HashsetCommand::Check(a) => run_check(a),
        HashsetCommand::Import(a) => run_import(a),
        HashsetCommand::Export(a) => run_export(a),
    }
}

fn run_build(args: BuildArgs) -> anyhow::Result<u8> {
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
        .created(args.created.clone().unwrap_or_else(manifest::now_rfc3339))
        .seed(args.seed)
        .fpr(args.fpr)
        .representations(&args.repr);
    let mut low_quality = 0u64;
    if args.from.is_dir() {
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
        let mut failures = problems;
        for f in &files {
            match hash::digest_file(f, &algos, &config) {
                Ok(d) => {
                    for digest in d.digests {
                        let low = digest.algorithm() == Algorithm::Pdq
                            && d.pdq_quality.is_some_and(|q| !q.is_matchable());
                        if low {
                            low_quality += 1;
                        } else {
                            builder.add(digest, default_label.clone());
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
    } else {
        let format = match (args.format, args.algo.as_slice()) {
            (Some(f), _) => f,
            (None, [Algorithm::Pdq]) => Format::Pdq,
            (None, [Algorithm::Md5]) => Format::Md5,
            (None, [Algorithm::Sha256]) => Format::Sha256,
            (None, _) => Format::Csv,
        };
        let mut imported = interchange::read_file(&args.from, format)?;
        if let Some(l) = &default_label {
            imported.label_unlabelled(l);
        }
        low_quality = imported.low_quality;
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
    }
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
    Ok(EXIT_OK)
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), hash::describe_io_error(&e)))
}

fn run_info(args: InfoArgs) -> anyhow::Result<u8> {
    let bytes = read(&args.file)?;
    let info = format::inspect(&bytes).map_err(|e| e.in_file(&args.file))?;
    let verified = match &args.issuer {
        Some(p) => {
            let key = PublicKey::read(p)?;
            HashSet::from_bytes(&bytes, &key.key).map_err(|e| e.in_file(&args.file))?;
            format!("signature valid ({} {})", key.issuer, key.fingerprint())
        }
        None => "signature not verified (pass --issuer PUBKEY to verify)".to_string(),
    };
    let m = &info.manifest;
    if args.json {
        let sections: serde_json::Map<_, _> = info
            .sections
            .iter()
            .map(|(k, n)| (k.name().to_string(), json!(n)))
            .collect();
        let out = json!({"file": args.file, "file_bytes": info.file_bytes, "sections": sections,
                         "signature": verified, "manifest": m});
        println!("{out}");
        return Ok(EXIT_OK);
    }
    println!(
        "{}  {} v{}  created {}",
        args.file.display(),
        m.name,
        m.version,
        m.created
    );
    println!(
        "issuer       {} (fingerprint {}, as stated by the file)",
        m.issuer.name, m.issuer.fingerprint
    );
    println!("{verified}");
    if !m.description.is_empty() {
        println!("description  {}", m.description);
    }
    let reprs: Vec<&str> = m.representations.iter().map(|r| r.name()).collect();
    println!("represented  {}", reprs.join(", "));
    for (k, n) in &info.sections {
        println!("section      {:<9} {n} bytes", k.name());
    }
    for a in &m.algorithms {
        let bloom = a.bloom.as_ref().map_or(String::new(), |b| {
            format!(
                "  bloom {} bits, k={}, fpr {:.2e}/probe",
                b.bits, b.hashes, b.estimated_fpr
            )
        });
        println!(
            "{:<7} {:>9} entries  {} bits  threshold {}{bloom}",
            a.algorithm, a.entries, a.bits, a.default_threshold
        );
    }
    if let Some(b) = &m.bloom {
        println!(
            "bloom        target fpr {:.1e}, seed {}",
            b.target_fpr, b.seed
        );
    }
    Ok(EXIT_OK)
}

fn run_verify(args: VerifyArgs) -> anyhow::Result<u8> {
    let key = PublicKey::read(&args.issuer)?;
    match HashSet::open(&args.file, &key.key) {
        Ok(set) => {
            let m = set.manifest();
            println!(
                "OK: {} is signed by {} ({}); {} entries",
                args.file.display(),
                key.issuer,
                key.fingerprint(),
                m.total_entries()
            );
            if m.issuer.name != key.issuer {
                eprintln!(
                    "note: the file names its issuer '{}', the key file '{}'",
                    m.issuer.name, key.issuer
                );
            }
            Ok(EXIT_OK)
        }
        Err(e) => {
            eprintln!("{}", style::error_line(&e.to_string()));
            Ok(EXIT_SOME_FAILED)
        }
    }
}

fn run_check(args: CheckArgs) -> anyhow::Result<u8> {
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

fn run_import(args: ImportArgs) -> anyhow::Result<u8> {
    let imported = interchange::read_file(&args.input, args.format)?;
    let text = interchange::write(
        imported.entries.iter().map(|(d, l)| (d, l.as_ref())),
        Format::Csv,
    )?;
    cssim::hashset::write_atomic(&args.output, text.as_bytes(), false)?;
    println!(
        "wrote {} entries to {} ({} duplicates dropped, {} below PDQ quality {})",
        imported.entries.len(),
        args.output.display(),
        imported.duplicates,
        imported.low_quality,
        hash::pdq::MIN_QUALITY
    );
    Ok(EXIT_OK)
}

fn run_export(args: ExportArgs) -> anyhow::Result<u8> {
    let key = PublicKey::read(&args.issuer)?;
    let set = HashSet::open(&args.file, &key.key)?;
    let algos: Vec<Algorithm> = match args.format.algorithm() {
        Some(a) => vec![a],
        None => set.algorithms(),
    };
    let mut entries = Vec::new();
    for a in algos {
        entries.extend(set.entries(a).map_err(|e| e.in_file(&args.file))?);
    }
    let text = interchange::write(entries.iter().map(|(d, l)| (d, *l)), args.format)?;
    cssim::hashset::write_atomic(&args.output, text.as_bytes(), false)?;
    println!(
        "wrote {} entries to {}",
        entries.len(),
        args.output.display()
    );
    Ok(EXIT_OK)
}
