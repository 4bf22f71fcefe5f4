//! `cssim hash` and `cssim compare`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use cssim::hash::{self, Algorithm, FileDigests, HashConfig, decode::Limits};
use cssim::report::{Csv, Exporter, Json, Table};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::style;

/// File endings taken from folders when an image algorithm is requested.
const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "gif", "webp", "bmp"];

/// Options shared by commands that decode images.
#[derive(Args, Debug, Clone)]
pub struct DecodeOpts {
    /// Do not apply the EXIF orientation tag (by default a photo stored
    /// sideways is rotated upright before hashing, as Meta's tools do).
    #[arg(long)]
    pub no_exif_rotate: bool,
    /// Make pHash/dHash/aHash of a JPEG at least 64×SIDE px on its shorter
    /// side (512 px for 64-bit hashes) from its DC coefficients, the
    /// 1/8-scale image it stores, instead of decoding it: several times
    /// faster, but the hashes are an approximation of imagehash's (usually
    /// a few bits off; figures in docs/PERFORMANCE.md). Off by default. PDQ
    /// always decodes fully.
    #[arg(long)]
    pub jpeg_dc: bool,
    /// Accepted for old scripts: full decoding is now the default.
    #[arg(long, hide = true, conflicts_with = "jpeg_dc")]
    pub no_jpeg_dc: bool,
    /// Where PDQ's pixels come from: exact (Meta's PDQ, bit for bit) or
    /// fast (a JPEG at least 512 px on its shorter side is hashed from the
    /// 1/8-scale image its DC coefficients hold: several times faster, not
    /// bit-exact; agreement figures in docs/PERFORMANCE.md). Output marks
    /// each PDQ computed on the fast route.
    #[arg(long, value_name = "ROUTE", default_value = "exact")]
    pub pdq_route: hash::PdqRoute,
    /// Which PDQ arithmetic runs (same bits; for measuring).
    #[arg(long, hide = true, value_name = "KERNEL", value_parser = ["vectorised", "scalar"],
          default_value = "vectorised")]
    pub pdq_kernel: String,
    /// Refuse images with more pixels than this (decompression-bomb guard).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_pixels)]
    pub max_pixels: u64,
    /// Refuse images wider or taller than this many pixels.
    #[arg(long, value_name = "PX", default_value_t = Limits::default().max_width)]
    pub max_side: u32,
    /// Side of the grid for pHash/dHash/aHash: the hash has SIDE² bits, as
    /// imagehash's `hash_size` (a multiple of 4 from 4 to 32, so that the
    /// hash is whole bytes and its hex is imagehash's).
    #[arg(long, value_name = "SIDE", default_value_t = hash::classic::DEFAULT_SIZE,
          value_parser = parse_hash_size)]
    pub hash_size: u32,
}

impl DecodeOpts {
    /// The library configuration these options describe.
    pub fn config(&self) -> HashConfig {
        let limits = Limits {
            max_width: self.max_side,
            max_height: self.max_side,
            max_pixels: self.max_pixels,
            exif_rotate: !self.no_exif_rotate,
            ..Limits::default()
        };
        let mut config = HashConfig::new(limits, self.hash_size);
        config.jpeg_dc = self.jpeg_dc;
        config.pdq_route = self.pdq_route;
        if self.pdq_kernel == "scalar" {
            config.pdq_kernel = hash::pdq::Kernel::Scalar;
        }
        config
    }
}

/// A classic hash grid side: a multiple of 4 from 4 to 32.
fn parse_hash_size(s: &str) -> Result<u32, String> {
    let n: u32 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a whole number"))?;
    if !(4..=32).contains(&n) || n % 4 != 0 {
        return Err(format!(
            "{n} is not a multiple of 4 from 4 to 32 (4, 8, 12, 16, …, 32)"
        ));
    }
    Ok(n)
}

/// Arguments of `cssim hash`.
#[derive(Args, Debug)]
#[command(after_help = "\
Folders are searched recursively. With an image algorithm, only files ending in
.png .jpg .jpeg .gif .webp .bmp are taken from folders (files named on the
command line are always hashed). Each file gets the algorithms that apply to
it: text is skipped for a file that is not UTF-8, the image hashes for one
that is not an image, each skip shown with its reason. A file that cannot be
hashed gets one error line on stderr (with --json: one {\"path\", \"error\"}
line on stdout instead, nothing on stderr) and the batch goes on; the exit
status is then 1.

Output: a table (path, algorithm, digest, PDQ quality or note; text adds one
row for each URL in it), or with --json one JSON object a line: {\"path\",
\"width\", \"height\", \"pdq_quality\", \"digests\": {algo: hex}} (and \"pdq_route\":
\"fast\" when PDQ came from a JPEG's DC image or 1/2-scale decode), plus \"urls\":
[{\"url\", \"text\": hex}] with text and \"skipped\": {algo: reason} when any
was skipped. With --csv: the table's columns and rows as CSV. PDQ digests
are Meta's 64-hex-character form. Paths in JSON are UTF-8, bytes that are
not replaced by U+FFFD.

Examples:
  cssim hash examples/images/
  cssim hash --algo pdq,sha256 --json photo.jpg > hashes.jsonl")]
pub struct HashArgs {
    /// Files or folders to hash.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Algorithms, comma-separated: pdq, phash, dhash, ahash, sha256, md5, text.
    #[arg(long, short, value_delimiter = ',', default_value = "pdq,phash,sha256")]
    pub algo: Vec<Algorithm>,
    /// One JSON object a line instead of a table.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV (a header, then the table's rows) instead of a table.
    #[arg(long)]
    pub csv: bool,
    /// Worker threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub decode: DecodeOpts,
}

/// Arguments of `cssim compare`.
#[derive(Args, Debug)]
#[command(after_help = "\
A pair matches under a perceptual algorithm when the Hamming distance is at
most its threshold: 31 of 256 bits for PDQ (Meta's recommendation; hashes of
quality below 50 are not matched), 10 of 64 bits for pHash/dHash/aHash, or
--threshold. Exact hashes (sha256, md5) have no distance: the files are equal
or different. The pdq-dihedral row is the smallest distance between B and any
rotation or mirror image of A.

JSON: {\"a\", \"b\", \"results\": [...]}, a result being {\"algorithm\", \"match\",
\"distance\", \"bits\", \"threshold\", \"below_min_quality\"} for perceptual
algorithms and {\"algorithm\", \"match\", \"equal\"} for exact ones.")]
pub struct CompareArgs {
    /// First file.
    pub a: PathBuf,
    /// Second file.
    pub b: PathBuf,
    /// Algorithms, comma-separated.
    #[arg(
        long,
        short,
        value_delimiter = ',',
        default_value = "pdq,phash,dhash,ahash,sha256"
    )]
    pub algo: Vec<Algorithm>,
    /// Threshold for the perceptual algorithms, in bits (default: each
    /// algorithm's own: 31 for PDQ, 10 for the classic hashes).
    #[arg(long, value_name = "BITS")]
    pub threshold: Option<u32>,
    /// JSON instead of a table.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV (a header, then the table's rows) instead of a table.
    #[arg(long)]
    pub csv: bool,
    #[command(flatten)]
    pub decode: DecodeOpts,
}

/// The files a list of paths names, folders expanded; problems found on
/// the way (a folder with nothing to hash, an unreadable entry) are returned
/// as (path, error line) pairs.
pub fn expand_paths(
    paths: &[PathBuf],
    images_only: bool,
) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        if !p.is_dir() {
            files.push(p.clone());
            continue;
        }
        let before = files.len();
        for entry in walkdir::WalkDir::new(p)
            .follow_links(true)
            .sort_by_file_name()
        {
            match entry {
                Ok(e) if e.file_type().is_file() => {
                    if !images_only || has_image_extension(e.path()) {
                        files.push(e.into_path());
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let at = e.path().unwrap_or(p).to_path_buf();
                    let why = e
                        .io_error()
                        .map_or_else(|| e.to_string(), cssim::files::describe_io_error);
                    problems.push((at.clone(), format!("{}: {why}", at.display())));
                }
            }
        }
        if files.len() == before {
            problems.push((
                p.clone(),
                if images_only {
                    format!(
                        "{}: no images found (looked for .{})",
                        p.display(),
                        IMAGE_EXTENSIONS.join(", .")
                    )
                } else {
                    format!("{}: no files found", p.display())
                },
            ));
        }
    }
    (files, problems)
}

fn has_image_extension(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// A progress bar on stderr for batches big enough to notice; hidden when
/// stderr is not a terminal.
pub fn progress(len: usize, what: &str) -> ProgressBar {
    if len < 20 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {what} {{pos}}/{{len}} [{{bar:30}}] {{per_sec}} eta {{eta}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn dedup_algorithms(algos: &[Algorithm]) -> Vec<Algorithm> {
    let mut out: Vec<Algorithm> = Vec::new();
    for &a in algos {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// `cssim hash`.
pub fn run_hash(args: HashArgs) -> anyhow::Result<u8> {
    let algos = dedup_algorithms(&args.algo);
    let config = args.decode.config();
    let images_only = algos.iter().any(|a| a.needs_pixels());
    let (files, problems) = expand_paths(&args.paths, images_only);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = !problems.is_empty();
    for (path, line) in &problems {
        report_failure(&mut out, args.json, path, line)?;
    }

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("starting worker threads")?;
    let bar = progress(files.len(), "hashing");
    let results: Vec<Result<FileDigests, hash::Error>> = pool.install(|| {
        // One job per file: sizes vary by 1000x (thumbnails next to 16-MP
        // photos), and rayon's default chunking would leave a core idle
        // behind a run of large files.
        files
            .par_iter()
            .with_max_len(1)
            .map(|f| {
                let r = hash::digest_file_applicable(f, &algos, &config);
                bar.inc(1);
                r
            })
            .collect()
    });
    bar.finish_and_clear();

    let format = crate::style::format(args.json, args.csv);
    if !files.is_empty() {
        write!(out, "{}", style::header::<hash::Record>(format))?;
    }
    for (path, result) in files.iter().zip(results) {
        match result {
            Ok(digests) => {
                let record = hash::Record {
                    path: path.clone(),
                    digests,
                };
                write!(out, "{}", style::record(format, &record)?)?;
            }
            Err(e) => {
                failed = true;
                report_failure(&mut out, args.json, path, &e.to_string())?;
            }
        }
    }
    out.flush()?;
    Ok(if failed {
        crate::EXIT_SOME_FAILED
    } else {
        crate::EXIT_OK
    })
}

/// One input that failed, by the `--json` convention ([`style::json_failure`]):
/// a JSON line on stdout under `--json`, else an `error:` line on stderr.
pub fn report_failure(
    out: &mut impl Write,
    json: bool,
    path: &Path,
    message: &str,
) -> std::io::Result<()> {
    if json {
        writeln!(out, "{}", style::json_failure(path, message))
    } else {
        out.flush()?;
        eprintln!("{}", style::error_line(message));
        Ok(())
    }
}

/// `cssim compare`.
pub fn run_compare(args: CompareArgs) -> anyhow::Result<u8> {
    let algos = dedup_algorithms(&args.algo);
    if algos.contains(&Algorithm::Text) {
        bail!("--algo text compares messages, not files; use sha256 for exact file identity");
    }
    let config = args.decode.config();
    if config.pdq_route == hash::PdqRoute::Fast && algos.contains(&Algorithm::Pdq) {
        eprintln!(
            "note: --pdq-route fast: PDQ of a JPEG at least {} px a side comes from its DC image, of a baseline JPEG of {}-{} px from a 1/2-scale decode (not bit-exact)",
            hash::PDQ_FAST_MIN_SIDE,
            hash::PDQ_FAST_HALF_MIN_SIDE,
            hash::PDQ_FAST_MIN_SIDE - 1
        );
    }
    let threshold = args.threshold.map(hash::Threshold);
    let comparison = hash::compare(&args.a, &args.b, &algos, threshold, &config)?;
    let text = if args.json {
        Json::pretty().document(&comparison)?
    } else if args.csv {
        Csv.document(&comparison)?
    } else {
        Table::coloured(style::stdout_colour()).document(&comparison)?
    };
    print!("{text}");
    Ok(crate::EXIT_OK)
}
