//! `cssim eval attacks`: both attacks over a corpus, with the defence table.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use cssim::eval::attacks::{self, Config};
use cssim::hash::Algorithm;
use cssim::report::{Csv, Exporter, Summaries, Table};
use indicatif::{ProgressBar, ProgressStyle};

use crate::EXIT_OK;

/// Arguments of `cssim eval attacks`.
#[derive(Args, Debug)]
#[command(after_help = "\
For each image in --corpus (file-name order, at most --limit) and each
algorithm: an evasion (more than the threshold from its own hash: PDQ 31,
pHash 10) and a collision with another corpus image's hash (the target drawn
from --seed). Images below PDQ's quality floor are skipped and listed. With
PDQ attacked, one more row evades all eight PDQ orientations (a scanner with
pdq_dihedral = true; --no-dihedral leaves it out); with both hashes, two more
rows attack both at once (evade+phash, collide+phash: does the second hash
still help when the attacker attacks it too? --no-joint leaves them out).

Writes to --out: results.json (configuration, per-algorithm summaries with the
success-versus-PSNR-budget curves, every attack), results.csv (one attack a
row) and report.html (summary, curves, the defence table, and original /
attacked / amplified difference for a sample). Prints the summary table.

Exit status: 0 when the run completed (whatever the success rates); 2 on bad
arguments or an unreadable corpus.

Example: cssim eval attacks --corpus ../shared/corpus/photos --algo pdq,phash --out target/attacks")]
pub struct AttacksArgs {
    /// Folder of images (jpg, png, webp, gif, bmp).
    #[arg(long, value_name = "DIR")]
    pub corpus: PathBuf,
    /// Attacked algorithms.
    #[arg(long, value_delimiter = ',', default_value = "pdq,phash", value_parser = parse_algo)]
    pub algo: Vec<Algorithm>,
    /// Folder for results.json, results.csv and report.html.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Use at most N images.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Seed of the collision targets.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Most linearised steps per attack.
    #[arg(long, value_name = "N", default_value_t = 40)]
    pub max_iterations: u32,
    /// Leave out the evasion against all eight PDQ orientations.
    #[arg(long)]
    pub no_dihedral: bool,
    /// Leave out the joint attack on both hashes at once.
    #[arg(long)]
    pub no_joint: bool,
    /// Successful attacks shown as pictures in report.html.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub samples: usize,
}

fn parse_algo(s: &str) -> Result<Algorithm, String> {
    match s.parse::<Algorithm>() {
        Ok(a @ (Algorithm::Pdq | Algorithm::Phash)) => Ok(a),
        _ => Err(format!("'{s}': the attacks support pdq and phash")),
    }
}

/// `cssim eval attacks`.
pub fn run(args: AttacksArgs) -> anyhow::Result<u8> {
    let mut algorithms = args.algo.clone();
    algorithms.dedup();
    let config = Config {
        algorithms,
        limit: args.limit,
        seed: args.seed,
        max_iterations: args.max_iterations.max(1),
        dihedral: !args.no_dihedral,
        joint: !args.no_joint,
        ..Config::default()
    };
    let start = Instant::now();
    let bar = ProgressBar::hidden();
    let (report, samples) = attacks::run(&args.corpus, &config, args.samples, &mut |p| {
        if bar.is_hidden() && start.elapsed().as_secs_f64() > 1.0 {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} attacks {pos}/{len} [{bar:30}] eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
        }
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
    })?;
    bar.finish_and_clear();
    let command: Vec<String> = std::env::args().collect();
    let mut json = serde_json::to_value(&report)?;
    json["command"] = serde_json::json!(command);
    let mut csv = Csv.header::<attacks::AttackResult>();
    for r in &report.results {
        csv.push_str(&Csv.record(r)?);
    }
    let html = cssim::report::attacks_page(&report, &samples, &command.join(" "))?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create the folder", args.out.display()))?;
    cssim::files::write_atomic(
        &args.out.join("results.json"),
        (serde_json::to_string_pretty(&json)? + "\n").as_bytes(),
        false,
    )?;
    cssim::files::write_atomic(&args.out.join("results.csv"), csv.as_bytes(), false)?;
    cssim::files::write_atomic(&args.out.join("report.html"), html.as_bytes(), false)?;
    print!(
        "{}",
        Table::plain().document(&Summaries(&report.summaries))?
    );
    println!(
        "{} images ({} skipped), {:.1} s; results.json, results.csv, report.html in {}",
        report.images,
        report.skipped.len(),
        start.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(EXIT_OK)
}
