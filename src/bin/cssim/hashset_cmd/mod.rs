//! `cssim keygen` and `cssim hashset build|info|verify|check|import|export`.

use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::{Args, Subcommand};
use cssim::hash::{self, Algorithm};
use cssim::hashset::interchange::{self, Format};
use cssim::hashset::sign::{IssuerKey, SecretKey};
use cssim::hashset::{SignedSet, manifest};
use cssim::report::{Exporter, Json, Table};

use crate::{EXIT_OK, EXIT_SOME_FAILED, style};

mod build;
mod check;

pub use build::BuildArgs;
use build::run_build;
pub use check::CheckArgs;
use check::run_check;

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
Exit status: 0 on success; 1 when verify finds the file invalid or expired,
or check could not hash some inputs; 2 when the command could not run (check
refuses an expired set with 2).")]
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
    /// Verify a hash set's signature against an issuer's public key, and that it has not expired.
    Verify(VerifyArgs),
    /// Check files against a verified hash set.
    Check(CheckArgs),
    /// Convert a plain list (pdq, md5, sha256) or CSV to cssim's CSV.
    Import(ImportArgs),
    /// Write a verified hash set's list as a plain list or CSV.
    Export(ExportArgs),
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

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        anyhow::anyhow!(
            "{}: {}",
            path.display(),
            cssim::files::describe_io_error(&e)
        )
    })
}

fn run_info(args: InfoArgs) -> anyhow::Result<u8> {
    let bytes = read(&args.file)?;
    let issuer = args.issuer.as_deref().map(IssuerKey::read).transpose()?;
    let info = cssim::hashset::Info::of(&args.file, &bytes, issuer.as_ref(), manifest::now_unix())?;
    let text = if args.json {
        Json::lines().document(&info)?
    } else {
        Table::plain().document(&info)?
    };
    print!("{text}");
    Ok(EXIT_OK)
}

fn run_verify(args: VerifyArgs) -> anyhow::Result<u8> {
    let key = IssuerKey::read(&args.issuer)?;
    match SignedSet::open(&args.file, &key.key) {
        Ok(set) => {
            let m = set.manifest();
            let expiry = m
                .expires
                .as_ref()
                .map_or_else(|| "no expiry".to_string(), |e| format!("expires {e}"));
            println!(
                "OK: {} is signed by {} ({}); {} version {}, {expiry}; {} entries",
                args.file.display(),
                key.issuer,
                key.fingerprint(),
                m.name,
                m.version,
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

fn run_import(args: ImportArgs) -> anyhow::Result<u8> {
    let imported = interchange::read_file(&args.input, args.format)?;
    let text = interchange::write(
        imported.entries.iter().map(|(d, l)| (d, l.as_ref())),
        Format::Csv,
    )?;
    cssim::files::write_atomic(&args.output, text.as_bytes(), false)?;
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
    let key = IssuerKey::read(&args.issuer)?;
    // Exporting is auditing: an expired set can still be read out.
    let set = SignedSet::open_ignoring_expiry(&args.file, &key.key)?;
    let algos: Vec<Algorithm> = match args.format.algorithm() {
        Some(a) => vec![a],
        None => set.algorithms(),
    };
    let mut entries = Vec::new();
    for a in algos {
        entries.extend(set.entries(a).map_err(|e| e.in_file(&args.file))?);
    }
    let text = interchange::write(entries.iter().map(|(d, l)| (d, *l)), args.format)?;
    cssim::files::write_atomic(&args.output, text.as_bytes(), false)?;
    println!(
        "wrote {} entries to {}",
        entries.len(),
        args.output.display()
    );
    Ok(EXIT_OK)
}
