//! `cssim eval rates`: flags to a [`Config`], progress bars, and the files
//! of the output folder.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use cssim::eval::cache::Cache;
use cssim::eval::rates::{self, Chain, Config, Document, PairMode, Progress, SetInput};
use cssim::hash::{Algorithm, HashConfig, PdqRoute, decode::Limits};
use cssim::hashset::SignedSet;
use cssim::hashset::sign::IssuerKey;
use cssim::report::rates::{Closest, Curves};
use cssim::report::{Csv, Exporter, Json, Table};
use indicatif::{ProgressBar, ProgressStyle};

use super::parse_count;
use crate::EXIT_OK;

/// The edits measured when `--edits` is not given.
pub const DEFAULT_EDITS: &str = "jpeg:70; jpeg:30; resize:0.5; resize:0.5+jpeg:70; blur:1.5; \
                                 grayscale; brightness:+20; crop:0.8; pad:0.1; rotate:5; rotate:90; flip:h";

/// Arguments of `cssim eval rates`.
#[derive(Args, Debug)]
#[command(after_help = "\
Hashes every image of the corpus (the originals) and its copy under every edit
chain, then counts pairs by Hamming distance:
  genuine pairs   an original and its edited copy: detection rate per edit;
  impostor pairs  two distinct originals: false-match rate.
Every impostor pair is counted (all pairs of 100,000 PDQ hashes take seconds);
--pairs N samples N seeded random pairs instead. Rates come with 95% Wilson
intervals; a count of 0 (or all) gets the exact one-sided Clopper-Pearson bound
and is printed as '< 1.4e-4', never as 0.

Hashes are cached in --cache (key: file content SHA-256, the edit chain, the
algorithm, the hashing configuration), so a re-run, or one with one more edit or
algorithm, computes only what is new. Corrupt cache records are recomputed.

Writes OUT/results.json (every number, with the command and configuration),
OUT/summary.csv, OUT/curves.csv (every rate at every threshold),
OUT/closest.csv and OUT/report.html (one self-contained file: histograms,
detection curves, ROC and DET, the rate table, the closest impostor pairs).
The folder is written whole or not at all; an existing OUT is refused unless
--force.

Files that cannot be read or decoded are skipped and listed; fewer than 2
decodable images is an error. Exit status: 0 on success, 2 when the run could
not be done.

Example: cssim eval rates --corpus examples/images --edits 'jpeg:70;flip:h' --out rates-out")]
pub struct RatesArgs {
    /// The folder of original images (searched recursively).
    #[arg(long, value_name = "DIR")]
    pub corpus: PathBuf,
    /// Perceptual algorithms.
    #[arg(
        long = "algo",
        value_delimiter = ',',
        default_value = "pdq,phash,dhash,ahash"
    )]
    pub algorithms: Vec<Algorithm>,
    /// Edit chains: a file (one chain a line, '#' comments) or a list
    /// separated by ';' (default: twelve common edits: jpeg:70, jpeg:30,
    /// resize:0.5, resize:0.5+jpeg:70, blur:1.5, grayscale, brightness:+20,
    /// crop:0.8, pad:0.1, rotate:5, rotate:90, flip:h).
    #[arg(long, value_name = "FILE|LIST")]
    pub edits: Option<String>,
    /// Impostor pairs: 'all', 'auto' (all up to 1e10 pairs, else 1e8
    /// sampled) or a number of seeded random pairs.
    #[arg(long, default_value = "auto", value_parser = parse_pairs)]
    pub pairs: PairMode,
    /// Seed of sampled pairs and seeded edits.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Match PDQ against the eight rotations and mirror images.
    #[arg(long)]
    pub dihedral: bool,
    /// Report rates at this threshold (default: each algorithm's, PDQ 31, others 10).
    #[arg(long, value_name = "BITS")]
    pub threshold: Option<u32>,
    /// The false-match rate to find a threshold for.
    #[arg(long, default_value_t = 1e-3, value_name = "RATE")]
    pub target_fmr: f64,
    /// Derive the chance that one innocent image matches a list of N entries.
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub list_size: Option<u64>,
    /// Measure the originals against this signed hash set (needs --issuer).
    #[arg(long, value_name = "HASHSET", requires = "issuer")]
    pub set: Option<PathBuf>,
    /// The set's issuer public key (KEY.pub).
    #[arg(long, value_name = "PUBKEY")]
    pub issuer: Option<PathBuf>,
    /// Group originals within this PDQ distance as one image (frames,
    /// re-uploads), so they are not counted as false matches.
    #[arg(long, value_name = "BITS")]
    pub dedupe: Option<u32>,
    /// Closest impostor pairs listed per algorithm.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub closest: usize,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// The hash cache folder.
    #[arg(long, value_name = "DIR", default_value = ".cssim-cache")]
    pub cache: PathBuf,
    /// Neither read nor write the cache.
    #[arg(long, conflicts_with = "cache")]
    pub no_cache: bool,
    /// Side of the pHash/dHash/aHash grid (SIDE² bits).
    #[arg(long, value_name = "SIDE", default_value_t = cssim::hash::classic::DEFAULT_SIZE)]
    pub hash_size: u32,
    /// Where PDQ's pixels come from: 'exact' (Meta's PDQ, bit for bit) or
    /// 'fast' (an original that is a JPEG of at least 512 px on its shorter
    /// side is hashed from its DC coefficients; not bit-exact). Edited
    /// copies are always hashed from their pixels.
    #[arg(long, value_name = "ROUTE", default_value = "exact")]
    pub pdq_route: PdqRoute,
    /// The output folder.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: PathBuf,
    /// Replace an existing output folder.
    #[arg(long)]
    pub force: bool,
}

fn parse_pairs(s: &str) -> Result<PairMode, String> {
    match s.trim() {
        "all" => Ok(PairMode::All),
        "auto" => Ok(PairMode::Auto),
        n => parse_count(n).map(PairMode::Sample).map_err(|_| {
            format!("'{s}' is not 'all', 'auto' or a number of pairs like 1000000 or 1M")
        }),
    }
}

/// The edit chains `--edits` names: a file if one exists at that path, else
/// the text itself.
fn edits(arg: Option<&str>) -> anyhow::Result<Vec<Chain>> {
    let text = match arg {
        None => DEFAULT_EDITS.to_string(),
        Some(a) if Path::new(a).is_file() => {
            std::fs::read_to_string(a).with_context(|| format!("edits file {a}"))?
        }
        Some(a) => a.to_string(),
    };
    let chains = Chain::parse_list(&text).context("--edits")?;
    if chains.is_empty() {
        bail!("--edits: no edit chain given");
    }
    Ok(chains)
}

/// Progress bars on stderr (hidden when it is not a terminal).
struct Bars {
    bar: ProgressBar,
}

impl Progress for Bars {
    fn stage(&self, name: &str, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(0);
        self.bar.set_message(name.to_string());
    }

    fn position(&self, done: u64) {
        self.bar.set_position(done);
    }
}

/// `cssim eval rates`.
pub fn run(args: RatesArgs) -> anyhow::Result<u8> {
    let start = Instant::now();
    if args.out.exists() && !args.force {
        bail!("{}: exists; pass --force to replace it", args.out.display());
    }
    if !(0.0..1.0).contains(&args.target_fmr) {
        bail!(
            "--target-fmr {}: must be from 0 to below 1",
            args.target_fmr
        );
    }
    let mut config = Config::new(
        args.corpus.clone(),
        args.algorithms.clone(),
        edits(args.edits.as_deref())?,
    );
    config.pairs = args.pairs;
    config.seed = args.seed;
    config.dihedral = args.dihedral;
    config.threshold = args.threshold;
    config.target_fmr = args.target_fmr;
    config.list_size = args.list_size;
    config.closest = args.closest;
    config.dedupe = args.dedupe;
    config.threads = args.threads;
    config.hash = HashConfig::new(Limits::default(), args.hash_size);
    config.hash.pdq_route = args.pdq_route;
    let set = match (&args.set, &args.issuer) {
        (Some(path), Some(issuer)) => {
            let key = IssuerKey::read(issuer)?;
            Some((
                SignedSet::open(path, &key.key)?,
                path.to_string_lossy().into_owned(),
            ))
        }
        _ => None,
    };
    let set_input = set.as_ref().map(|(set, path)| SetInput {
        set,
        path: path.clone(),
    });
    let cache = if args.no_cache {
        Cache::disabled()
    } else {
        Cache::open(&args.cache)?
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:24} [{bar:30}] {human_pos}/{human_len} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let results = rates::run(
        &config,
        &cache,
        set_input.as_ref(),
        &Bars { bar: bar.clone() },
    )?;
    bar.finish_and_clear();
    let doc = Document::new(
        std::iter::once("cssim".to_string())
            .chain(std::env::args().skip(1))
            .collect(),
        config.record(set_input.as_ref().map(|s| s.path.as_str())),
        results,
    );
    for s in &doc.results.corpus.skipped {
        eprintln!("skipped {}: {}", s.path.display(), s.reason);
    }
    for f in &doc.results.corpus.edit_failures {
        eprintln!(
            "edit {} failed on {}: {}",
            f.edit,
            f.path.display(),
            f.reason
        );
    }
    write_out(&args, &doc, &config.hash)?;
    print!(
        "{}",
        Table::coloured(crate::style::stdout_colour()).document(&doc)?
    );
    eprintln!(
        "wrote {} (results.json, summary.csv, curves.csv, closest.csv, report.html); took {:.1} s",
        args.out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(EXIT_OK)
}

/// Writes every output file into a fresh hidden folder beside OUT, then
/// renames it to OUT: a run stopped part-way leaves no half-written OUT.
fn write_out(args: &RatesArgs, doc: &Document, hash: &HashConfig) -> anyhow::Result<()> {
    let out = &args.out;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "rates".into());
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| parent.display().to_string())?;
    let partial = parent.join(format!(".{name}.partial-{}", std::process::id()));
    std::fs::create_dir_all(&partial).with_context(|| partial.display().to_string())?;
    let write = |file: &str, text: &str| -> anyhow::Result<()> {
        cssim::files::write_atomic(&partial.join(file), text.as_bytes(), false)?;
        Ok(())
    };
    let result = (|| -> anyhow::Result<()> {
        write(
            "results.json",
            &Json::pretty().in_declared_order().document(doc)?,
        )?;
        write("summary.csv", &Csv.document(doc)?)?;
        write("curves.csv", &Csv.document(&Curves(doc))?)?;
        write("closest.csv", &Csv.document(&Closest(doc))?)?;
        write(
            "report.html",
            &cssim::report::rates::html(doc, &thumbnails(doc, hash))?,
        )?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e);
    }
    if out.exists() {
        std::fs::remove_dir_all(out)
            .with_context(|| format!("{}: cannot replace it", out.display()))?;
    }
    std::fs::rename(&partial, out).with_context(|| out.display().to_string())?;
    Ok(())
}

/// Thumbnails of the first algorithm's five closest impostor pairs.
fn thumbnails(doc: &Document, hash: &HashConfig) -> Vec<(String, Vec<u8>)> {
    let Some(a) = doc.results.algorithms.first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for p in a.impostor.closest.iter().take(5) {
        for f in [&p.a, &p.b] {
            if let Some(png) = rates::thumbnail_png(f, 160, hash) {
                let name = f.file_name().map_or_else(
                    || f.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                out.push((format!("{} d={}: {name}", a.algorithm, p.distance), png));
            }
        }
    }
    out
}
