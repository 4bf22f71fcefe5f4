//! `cssim eval`: instruments that measure what the library states.

use std::time::Instant;

use clap::{Args, Subcommand};
use cssim::eval::bloom::{self, Config};
use cssim::report::Exporter;
use indicatif::{ProgressBar, ProgressStyle};

use crate::{EXIT_OK, EXIT_SOME_FAILED};

mod rates;
pub use rates::RatesArgs;

/// `cssim eval …`.
#[derive(Subcommand, Debug)]
pub enum EvalCommand {
    /// Measure the false-positive rate of Bloom sets against the rate they state.
    Bloom(BloomArgs),
    /// Detection and false-match rates of perceptual hashes on a corpus, under edits.
    Rates(RatesArgs),
    /// Run the evasion and collision attacks over a corpus: success vs PSNR budget, the defence table.
    Attacks(crate::eval_attacks_cmd::AttacksArgs),
}

/// Arguments of `cssim eval bloom`.
#[derive(Args, Debug)]
#[command(after_help = "\
For each target rate, set size and radius, builds a Bloom filter of random PDQ
entries exactly as `hashset build --repr bloom` does, looks up random
non-member digests at that radius (each lookup probes every digest within the
radius: 1, 257 or 32,897 probes at radius 0, 1, 2) and counts the false
positives: admitted probes against the rate per probe the set states (`hashset
info`), and lookups with a hit against the compounded rate 1-(1-p)^probes
(`hashset check`). Each count gets an exact Clopper-Pearson interval; a stated
rate agrees when it lies inside. The intervals are Bonferroni-corrected so
that, for a correct filter, the chance that any comparison of the run
disagrees is 5%; the plain 95% intervals are in --json.

Why two target rates: at the default 1e-6 (what `hashset build` uses) a cell of
2e7 probes expects about 20 false positives, enough to catch a filter that is
off by a factor of two or more; at 1e-2 the same probes give about 2e5, which
tests the stated rate to about 1%. --probes sets the probes per cell (lookups =
probes / probes per lookup); --queries fixes the lookups per cell instead.
The default run (7 sizes x 3 radii x 2 rates, 2e7 probes a cell) takes about a
minute on 2 cores in a release build (37-68 s measured; docs/BLOOM.md).

Exit status: 0 when every stated rate agrees, 1 when one does not, 2 on bad
arguments.

Example: cssim eval bloom --sizes 1,1k,1M --radius 0,2 --fpr 1e-6")]
pub struct BloomArgs {
    /// Set sizes (entries); 1k and 1M are accepted.
    #[arg(long, value_delimiter = ',', value_parser = parse_count,
          default_value = "1,10,100,1k,10k,100k,1M")]
    pub sizes: Vec<u64>,
    /// Probe radii.
    #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
    pub radius: Vec<u32>,
    /// Target false-positive rates per probe the filters are sized for.
    #[arg(long, value_delimiter = ',', default_value = "1e-6,1e-2")]
    pub fpr: Vec<f64>,
    /// Probes per (rate, size, radius) cell.
    #[arg(long, value_parser = parse_count, default_value = "20M")]
    pub probes: u64,
    /// Lookups per cell, whatever the radius (overrides --probes).
    #[arg(long, value_parser = parse_count, value_name = "M")]
    pub queries: Option<u64>,
    /// Seed of the entries, the queries and the filters' keys.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The report as one JSON object instead of a table.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// The table as CSV (a header, then one row a cell of the experiment).
    #[arg(long)]
    pub csv: bool,
}

/// `12`, `1k`, `20M`, `1e6`.
pub(crate) fn parse_count(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1e3),
        Some((i, 'M')) => (&t[..i], 1e6),
        Some((i, 'G')) => (&t[..i], 1e9),
        _ => (t, 1.0),
    };
    let v = num
        .parse::<f64>()
        .ok()
        .map(|v| v * mult)
        .filter(|v| v.is_finite() && *v >= 0.0 && v.fract() == 0.0 && *v < 1.8e19)
        .ok_or_else(|| format!("'{s}' is not a whole number like 1000, 1k, 20M or 1e6"))?;
    Ok(v as u64)
}

/// `cssim eval …`.
pub fn run(cmd: EvalCommand) -> anyhow::Result<u8> {
    match cmd {
        EvalCommand::Bloom(args) => run_bloom(args),
        EvalCommand::Rates(args) => rates::run(args),
        EvalCommand::Attacks(args) => crate::eval_attacks_cmd::run(args),
    }
}

fn run_bloom(args: BloomArgs) -> anyhow::Result<u8> {
    let config = Config {
        sizes: args.sizes,
        radii: args.radius,
        target_fprs: args.fpr,
        probes: args.probes,
        lookups: args.queries,
        seed: args.seed,
        ..Config::default()
    };
    let start = Instant::now();
    let bar = ProgressBar::hidden();
    let report = bloom::run(&config, |p| {
        if bar.is_hidden() && start.elapsed().as_secs_f64() > 1.0 {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} probes {human_pos}/{human_len} [{bar:30}] eta {eta} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
        }
        bar.set_length(p.probes_total);
        bar.set_position(p.probes_done);
        bar.set_message(format!("{} entries", p.entries));
    })?;
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if args.csv {
        print!("{}", cssim::report::Csv.document(&report)?);
    } else {
        print!("{}", cssim::report::Table::plain().document(&report)?);
        eprintln!("took {:.1} s", start.elapsed().as_secs_f64());
    }
    Ok(if report.all_agree {
        EXIT_OK
    } else {
        EXIT_SOME_FAILED
    })
}

#[cfg(test)]
mod tests {
    use super::parse_count;

    #[test]
    fn counts_take_suffixes() {
        assert_eq!(parse_count("12"), Ok(12));
        assert_eq!(parse_count("1k"), Ok(1_000));
        assert_eq!(parse_count("20M"), Ok(20_000_000));
        assert_eq!(parse_count("1e6"), Ok(1_000_000));
        assert!(parse_count("1.5").is_err());
        assert!(parse_count("-3").is_err());
        assert!(parse_count("lots").is_err());
    }
}
