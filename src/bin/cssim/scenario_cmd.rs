//! `cssim scenario run | sweep | check | merge`: the policy researchers'
//! simulator (the engine is `cssim::sim`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use cssim::eval::cache::Cache;
use cssim::report::{Csv, DayRows, Exporter, Table};
use cssim::sim::library::Library;
use cssim::sim::{self, Loaded, RunResult, Scenario, Shard, sweep};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::EXIT_OK;

/// `cssim scenario …`.
#[derive(Subcommand, Debug)]
pub enum ScenarioCommand {
    /// Run a scenario: terminal summary, results.json, days.csv in --out.
    Run(RunArgs),
    /// Run a scenario at every point of a grid of parameters.
    Sweep(SweepArgs),
    /// Validate a scenario file without running it.
    Check(CheckArgs),
    /// Combine the results of `run --shard` parts into the single run's.
    Merge(MergeArgs),
}

/// Arguments of `cssim scenario run`.
#[derive(Args, Debug)]
#[command(after_help = "\
Writes into --out: results.json (the scenario, seed, version, every
replicate's counts per day and the summary), days.csv (each count per day:
mean and 95% interval over replicates), report.html (timeline, funnel, the
table of intervals; self-contained). results.json is written last and
atomically: an interrupted run leaves none.

--shard i/n runs the replicates r with r mod n = i and writes their counts
without a summary; `cssim scenario merge` combines the parts into exactly the
results.json a single run writes. Fields are documented in docs/SCENARIOS.md.

Example: cssim scenario run examples/scenarios/baseline.toml --out out/baseline")]
pub struct RunArgs {
    /// The scenario file (TOML).
    pub file: PathBuf,
    /// Folder for the results (created).
    #[arg(long)]
    pub out: PathBuf,
    /// Run one part of the replicates: i/n (0-based i).
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// Threads (default: all cores); results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Also give the per-user daily figures scaled to N users, labelled
    /// "extrapolated (linear in users)" (overrides report.extrapolate_users).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub extrapolate_users: Option<u64>,
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// Where `library` mode keeps its hashes.
#[derive(Args, Debug)]
pub struct CacheArgs {
    /// The hash cache folder (library mode; shared with `cssim eval rates`).
    #[arg(long, value_name = "DIR", default_value = ".cssim-cache")]
    pub cache: PathBuf,
    /// Neither read nor write the cache.
    #[arg(long)]
    pub no_cache: bool,
}

/// Arguments of `cssim scenario sweep`.
#[derive(Args, Debug)]
#[command(after_help = "\
Each --param is FIELD=V1,V2,… or FIELD=FROM..TO:STEP, FIELD a dotted scenario
field (policy.account_threshold, hashset.threshold, offenders.count, …). The
grid is every combination; each point is validated before any runs. Writes
sweep.json, sweep.csv and report.html (each metric across the points) into --out.

Example: cssim scenario sweep s.toml --param policy.account_threshold=1,5,10,30 \\
         --param hashset.threshold=20..40:4 --out out/sweep")]
pub struct SweepArgs {
    /// The scenario file (TOML).
    pub file: PathBuf,
    /// A parameter and its values.
    #[arg(long = "param", required = true)]
    pub params: Vec<String>,
    /// Folder for the results (created).
    #[arg(long)]
    pub out: PathBuf,
    /// Run one part of the points: i/n (0-based i).
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// Threads (default: all cores); results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// Arguments of `cssim scenario check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The scenario file (TOML).
    pub file: PathBuf,
}

/// Arguments of `cssim scenario merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Folders (or results.json files) of the parts.
    #[arg(required = true)]
    pub parts: Vec<PathBuf>,
    /// Folder for the merged results (created).
    #[arg(long)]
    pub out: PathBuf,
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| format!("'{s}' is not i/n (like 0/4)"))?;
    let index: u32 = i
        .trim()
        .parse()
        .map_err(|_| format!("'{i}' is not a whole number"))?;
    let count: u32 = n
        .trim()
        .parse()
        .map_err(|_| format!("'{n}' is not a whole number"))?;
    if count == 0 || index >= count {
        return Err(format!("shard {index}/{count}: need 0 ≤ i < n"));
    }
    Ok(Shard { index, count })
}

/// `cssim scenario …`.
pub fn run(cmd: ScenarioCommand) -> anyhow::Result<u8> {
    match cmd {
        ScenarioCommand::Run(args) => run_run(args),
        ScenarioCommand::Sweep(args) => run_sweep(args),
        ScenarioCommand::Check(args) => run_check(args),
        ScenarioCommand::Merge(args) => run_merge(args),
    }
}

fn threads(n: Option<usize>) -> anyhow::Result<()> {
    if let Some(n) = n {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .context("cannot start the worker threads")?;
    }
    Ok(())
}

fn load(file: &Path) -> anyhow::Result<Loaded> {
    let loaded = Scenario::load(file)?;
    sim::check_memory(&loaded.scenario, sim::available_memory())?;
    Ok(loaded)
}

fn bar(label: &'static str) -> (ProgressBar, Instant) {
    let bar = ProgressBar::hidden();
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {label} {{human_pos}}/{{human_len}} user-days [{{bar:30}}] eta {{eta}} {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    (bar, Instant::now())
}

fn show(bar: &ProgressBar, start: Instant, p: sim::Progress) {
    if bar.is_hidden() && start.elapsed().as_secs_f64() > 1.0 {
        bar.set_draw_target(ProgressDrawTarget::stderr());
    }
    bar.set_length(p.user_days_total);
    bar.set_position(p.user_days);
}

/// `library` mode: hashes the library once (progress bar on stderr), through
/// the cache; `None` in other modes.
fn prepare(loaded: &Loaded, args: &CacheArgs) -> anyhow::Result<Option<Arc<Library>>> {
    if loaded.scenario.content.source != sim::Source::Library {
        return Ok(None);
    }
    let cache = if args.no_cache {
        Cache::disabled()
    } else {
        Cache::open(&args.cache)?
    };
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} hashing the library {pos}/{len} files [{bar:30}] eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let library = sim::library::prepare(loaded, &cache, &|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    Ok(Some(Arc::new(library?)))
}

fn create_dir(out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("{}: cannot create the folder", out.display()))
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    cssim::files::write_atomic(path, bytes, false)?;
    Ok(())
}

/// Writes a run's files; results.json last, so that its presence means the
/// rest is there.
fn write_run(out: &Path, result: &RunResult) -> anyhow::Result<()> {
    create_dir(out)?;
    if let Some(summary) = &result.summary {
        write(
            &out.join("days.csv"),
            Csv.document(&DayRows(summary))?.as_bytes(),
        )?;
    }
    let html = cssim::report::run_page(result).map_err(|e| anyhow::anyhow!("report.html: {e}"))?;
    write(&out.join("report.html"), html.as_bytes())?;
    let mut json = serde_json::to_string_pretty(result)?;
    json.push('\n');
    write(&out.join("results.json"), json.as_bytes())
}

fn run_run(args: RunArgs) -> anyhow::Result<u8> {
    threads(args.threads)?;
    let mut loaded = load(&args.file)?;
    if let Some(n) = args.extrapolate_users {
        loaded.scenario.report.extrapolate_users = Some(n);
    }
    loaded.library = prepare(&loaded, &args.cache)?;
    let (bar, start) = bar("simulated");
    let result = sim::run(&loaded, args.shard, &|p| show(&bar, start, p))?;
    bar.finish_and_clear();
    write_run(&args.out, &result)?;
    let table = Table::coloured(crate::style::stdout_colour());
    print!("{}", table.document(&result)?);
    if let Some(x) = result
        .summary
        .as_ref()
        .and_then(|s| s.extrapolated.as_ref())
    {
        print!("{}", table.document(x)?);
    }
    let secs = start.elapsed().as_secs_f64();
    let messages: u64 = result.replicates.iter().map(|r| r.total.0[0]).sum();
    eprintln!(
        "simulated {messages} messages in {secs:.1} s ({:.1} M/s); wrote {}",
        messages as f64 / secs / 1e6,
        args.out.join("results.json").display()
    );
    Ok(EXIT_OK)
}

fn run_check(args: CheckArgs) -> anyhow::Result<u8> {
    let loaded = Scenario::load(&args.file)?;
    let needed = sim::check_memory(&loaded.scenario, sim::available_memory())?;
    let s = &loaded.scenario;
    println!(
        "{}: valid. {} users × {} days × {} replicates; content {:?}; policy '{}' (account threshold {}, threshold {}); about {:.0} MiB of memory.",
        args.file.display(),
        s.population.users,
        s.population.days,
        s.replicates,
        s.content.source,
        loaded.policy.name,
        loaded.policy.account_threshold,
        loaded.threshold(),
        needed as f64 / (1u64 << 20) as f64
    );
    cssim::sim::evasion::load(&loaded)?;
    cssim::sim::cost::load(&loaded)?;
    if s.content.source != sim::Source::Library {
        cssim::sim::rates::model(&loaded)?;
    } else {
        println!(
            "library mode: the library is hashed (and undecodable files counted) when the scenario runs."
        );
    }
    Ok(EXIT_OK)
}

fn read_part(p: &Path) -> anyhow::Result<RunResult> {
    let file = if p.is_dir() {
        p.join("results.json")
    } else {
        p.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).with_context(|| format!("{}", file.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not a `cssim scenario run` results.json",
            file.display()
        )
    })
}

fn run_merge(args: MergeArgs) -> anyhow::Result<u8> {
    let parts = args
        .parts
        .iter()
        .map(|p| read_part(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let result = sim::merge(parts)?;
    write_run(&args.out, &result)?;
    print!(
        "{}",
        Table::coloured(crate::style::stdout_colour()).document(&result)?
    );
    Ok(EXIT_OK)
}

fn run_sweep(args: SweepArgs) -> anyhow::Result<u8> {
    threads(args.threads)?;
    let params = args
        .params
        .iter()
        .map(|p| p.parse::<sweep::Param>())
        .collect::<Result<Vec<_>, _>>()?;
    let text = std::fs::read_to_string(&args.file).map_err(|source| sim::Error::Read {
        path: args.file.clone(),
        source,
    })?;
    let points = sweep::check(&text, &args.file, &params)?;
    for l in &points {
        sim::check_memory(&l.scenario, sim::available_memory())?;
    }
    let library = match points.first() {
        Some(l) => prepare(l, &args.cache)?,
        None => None,
    };
    let (bar, start) = bar("simulated");
    let result = sweep::run(
        &text,
        &args.file,
        params,
        args.shard,
        library,
        &|i, n, p| {
            bar.set_message(format!("point {}/{n}", i + 1));
            show(&bar, start, p);
        },
    )?;
    bar.finish_and_clear();
    create_dir(&args.out)?;
    write(
        &args.out.join("sweep.csv"),
        Csv.document(&result)?.as_bytes(),
    )?;
    let mut json = serde_json::to_string_pretty(&result)?;
    json.push('\n');
    let html =
        cssim::report::sweep_page(&result).map_err(|e| anyhow::anyhow!("report.html: {e}"))?;
    write(&args.out.join("report.html"), html.as_bytes())?;
    write(&args.out.join("sweep.json"), json.as_bytes())?;
    print!(
        "{}",
        Table::coloured(crate::style::stdout_colour()).document(&result)?
    );
    Ok(EXIT_OK)
}
