//! `cssim attack evade|collide`: white-box attacks on PDQ and pHash.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use cssim::attack::{self, Control, Outcome, Params, Progress, Second};
use cssim::hash::{self, Algorithm, Digest};
use cssim::hashset::SignedSet;
use cssim::hashset::sign::IssuerKey;
use image::RgbImage;
use indicatif::{ProgressBar, ProgressStyle};

use crate::{EXIT_OK, EXIT_SOME_FAILED, style};

const AFTER_HELP: &str = "\
The attacker holds what a client-side scanner ships: the hash function (and,
with --set, the hash list). The attack computes the smallest smooth change that
moves the hash's DCT coefficients across their median (both hashes are linear
in the pixels up to that threshold), applies it to the 8-bit image, and
repeats until the real hash of the result meets the goal. The result is
written as PNG (a lossy format would undo the change).

Output: whether it succeeded, the hashes, PSNR and SSIM against the input,
iterations and time (--json: one object). Ctrl-C stops the attack and keeps
the best image so far.

With --algo pdq,phash both hashes are attacked at once (the defence of a
client that ships two independent hashes): evade moves the image away under
both, collide brings it within both thresholds of the target's two hashes
(--target is then an image, or the two hashes as PDQHEX,PHASHHEX); the
output gives each hash's distance. evade --dihedral steers all eight PDQ
orientations, as a scanner with pdq_dihedral = true looks them up.

Exit status: 0 on success; 1 when the goal was not reached (the best image
found is still written and the output says \"failed\"); 2 on bad input (an
unreadable image, a bad target hash, an image below PDQ's quality floor).";

/// `cssim attack …`.
#[derive(Subcommand, Debug)]
pub enum AttackCommand {
    /// Change an image invisibly until its hash no longer matches its original's.
    #[command(after_help = AFTER_HELP)]
    Evade(EvadeArgs),
    /// Change an innocent image until its hash matches a target hash.
    #[command(after_help = AFTER_HELP)]
    Collide(CollideArgs),
}

/// Options both attacks take.
#[derive(Args, Debug)]
pub struct CommonArgs {
    /// The hash to attack: pdq or phash, or both at once (pdq,phash).
    #[arg(long, default_value = "pdq", value_delimiter = ',', value_parser = parse_algo)]
    pub algo: Vec<Algorithm>,
    /// Match threshold in bits of a single attacked hash (default: PDQ 31, pHash 10; with --set, the set's).
    #[arg(long, value_name = "BITS")]
    pub threshold: Option<u32>,
    /// Extra bits: evade to more than threshold + M, collide to within threshold - M.
    #[arg(long, value_name = "M", default_value_t = 0)]
    pub margin: u32,
    /// Lowest PSNR (dB) the result may have; missing it is a reported failure.
    #[arg(long, value_name = "PSNR")]
    pub budget: Option<f64>,
    /// Most linearised steps.
    #[arg(long, value_name = "N", default_value_t = 40)]
    pub max_iterations: u32,
    /// Where to write the attacked image (PNG).
    #[arg(short, long, value_name = "OUT.png")]
    pub output: PathBuf,
    /// The result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `cssim attack evade`.
#[derive(Args, Debug)]
pub struct EvadeArgs {
    /// The image to evade with.
    pub image: PathBuf,
    /// A signed hash set whose entries near the image must be evaded too.
    #[arg(long, value_name = "SET", requires = "issuer")]
    pub set: Option<PathBuf>,
    /// The set's issuer public key (KEY.pub).
    #[arg(long, value_name = "PUBKEY")]
    pub issuer: Option<PathBuf>,
    /// Evade PDQ in all eight orientations (rotations and flips), as a
    /// scanner with the policy's pdq_dihedral = true matches.
    #[arg(long)]
    pub dihedral: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Arguments of `cssim attack collide`.
#[derive(Args, Debug)]
pub struct CollideArgs {
    /// The innocent image to change.
    pub source: PathBuf,
    /// The hash to collide with: its hex (PDQHEX,PHASHHEX for --algo pdq,phash), or an image to take it from.
    #[arg(long, value_name = "HASH|IMAGE")]
    pub target: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

fn parse_algo(s: &str) -> Result<Algorithm, String> {
    match s.parse::<Algorithm>() {
        Ok(a @ (Algorithm::Pdq | Algorithm::Phash)) => Ok(a),
        _ => Err(format!("'{s}': the attacks support pdq and phash")),
    }
}

/// `cssim attack …`.
pub fn run(cmd: AttackCommand) -> anyhow::Result<u8> {
    match cmd {
        AttackCommand::Evade(args) => run_evade(args),
        AttackCommand::Collide(args) => run_collide(args),
    }
}

fn read_image(path: &Path) -> anyhow::Result<RgbImage> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("{}: cannot read", path.display()))
        .map_err(|e| {
            anyhow::anyhow!(
                "{}: {}",
                path.display(),
                e.root_cause()
                    .downcast_ref::<std::io::Error>()
                    .map(cssim::files::describe_io_error)
                    .unwrap_or_else(|| e.to_string())
            )
        })?;
    hash::decode::decode(&bytes, &hash::decode::Limits::default())
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn check_output(path: &Path) -> anyhow::Result<()> {
    let png = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if !png {
        bail!(
            "{}: the attacked image must be written as .png (a lossy format would undo the change)",
            path.display()
        );
    }
    Ok(())
}

/// The attacked hashes, first first: one, or two different ones.
fn algorithms(common: &CommonArgs) -> anyhow::Result<(Algorithm, Option<Algorithm>)> {
    match common.algo.as_slice() {
        [a] => Ok((*a, None)),
        [a, b] if a != b => {
            if common.threshold.is_some() {
                bail!(
                    "--threshold sets one hash's threshold; with --algo {a},{b} each hash uses its own (PDQ 31, pHash 10, or the set's)"
                );
            }
            Ok((*a, Some(*b)))
        }
        _ => bail!(
            "--algo {}: one hash, or two different ones (pdq,phash)",
            common
                .algo
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

fn params(
    common: &CommonArgs,
    set_threshold: &dyn Fn(Algorithm) -> Option<u32>,
) -> anyhow::Result<Params> {
    if let Some(b) = common.budget
        && !(b.is_finite() && b > 0.0)
    {
        bail!("--budget {b}: a PSNR budget is a positive number of dB");
    }
    let (first, second) = algorithms(common)?;
    let mut p = Params::new(first);
    p.threshold = common
        .threshold
        .or(set_threshold(first))
        .unwrap_or(p.threshold);
    p.second = second.map(|a| {
        let mut s = Second::new(a);
        s.threshold = set_threshold(a).unwrap_or(s.threshold);
        s
    });
    p.margin = common.margin;
    p.budget = common.budget;
    p.max_iterations = common.max_iterations.max(1);
    Ok(p)
}

/// Set by Ctrl-C; the attack's progress callback stops on it.
fn interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        if rt.block_on(tokio::signal::ctrl_c()).is_ok() {
            f.store(true, Ordering::SeqCst);
        }
    });
    flag
}

/// Runs an attack with a progress bar (after a second) and Ctrl-C handling.
fn with_progress(
    attack: impl FnOnce(&mut dyn FnMut(&Progress) -> Control) -> Result<Outcome, attack::Error>,
) -> anyhow::Result<Outcome> {
    let stop = interrupt_flag();
    let start = Instant::now();
    let bar = ProgressBar::hidden();
    let mut callback = |p: &Progress| {
        if bar.is_hidden() && start.elapsed().as_secs_f64() > 1.0 {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} iteration {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
        }
        bar.set_length(u64::from(p.max_iterations));
        bar.set_position(u64::from(p.iteration));
        bar.set_message(format!("distance {} PSNR {:.1} dB", p.distance, p.psnr));
        if stop.load(Ordering::SeqCst) {
            Control::Stop
        } else {
            Control::Continue
        }
    };
    let outcome = attack(&mut callback);
    bar.finish_and_clear();
    Ok(outcome?)
}

fn finish(outcome: &Outcome, common: &CommonArgs) -> anyhow::Result<u8> {
    let mut png = Vec::new();
    outcome
        .image
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .context("cannot encode the result as PNG")?;
    cssim::files::write_atomic(&common.output, &png, false)?;
    let format = style::format(common.json, false);
    let text = match format {
        cssim::report::Format::Json => serde_json::to_string_pretty(outcome)? + "\n",
        _ => style::record(format, outcome)?,
    };
    print!("{text}");
    if !common.json {
        println!("written to {}", common.output.display());
    }
    Ok(if outcome.success {
        EXIT_OK
    } else {
        EXIT_SOME_FAILED
    })
}

fn run_evade(args: EvadeArgs) -> anyhow::Result<u8> {
    check_output(&args.common.output)?;
    let (first, second) = algorithms(&args.common)?;
    let attacked: Vec<Algorithm> = std::iter::once(first).chain(second).collect();
    if args.dihedral && !attacked.contains(&Algorithm::Pdq) {
        bail!("--dihedral steers PDQ's eight orientations; it needs pdq in --algo");
    }
    let image = read_image(&args.image)?;
    let mut avoid = Vec::new();
    let mut set = None;
    if let (Some(set_path), Some(issuer)) = (&args.set, &args.issuer) {
        let key = IssuerKey::read(issuer)?;
        let opened = SignedSet::open(set_path, &key.key)?;
        for &a in &attacked {
            let entries = opened
                .entries(a)
                .with_context(|| format!("{}: no {a} entries", set_path.display()))?;
            avoid.extend(entries.into_iter().map(|(d, _)| d));
        }
        set = Some(opened);
    }
    let mut params = params(&args.common, &|a| {
        set.as_ref()
            .and_then(|s| s.default_threshold(a))
            .map(|t| t.0)
    })?;
    params.dihedral = args.dihedral;
    // Only PDQ entries the change could bring within reach need steering
    // away from (flipping k bits moves the hash at most k nearer to any
    // entry; under --dihedral, nearer to any of the image's orientations).
    let own: Vec<Digest> = if args.dihedral {
        cssim::hash::pdq::hash_image_dihedral(&image)
            .hashes
            .iter()
            .map(|h| h.to_digest())
            .collect()
    } else {
        vec![cssim::hash::pdq::hash_image(&image).hash.to_digest()]
    };
    let pdq_threshold = if params.algorithm == Algorithm::Pdq {
        params.threshold
    } else {
        params.second.map_or(31, |s| s.threshold)
    };
    let reach = 2 * (pdq_threshold + params.margin) + 2;
    avoid.retain(|d| {
        d.algorithm() != Algorithm::Pdq
            || own
                .iter()
                .any(|o| o.distance(d).is_none_or(|x| x.0 <= reach))
    });
    let outcome = with_progress(|cb| attack::evade(&image, &avoid, &params, cb))?;
    finish(&outcome, &args.common)
}

fn run_collide(args: CollideArgs) -> anyhow::Result<u8> {
    check_output(&args.common.output)?;
    let params = params(&args.common, &|_| None)?;
    let source = read_image(&args.source)?;
    let attacked: Vec<Algorithm> = std::iter::once(params.algorithm)
        .chain(params.second.map(|s| s.algorithm))
        .collect();
    let targets = parse_target(&args.target, &attacked)?;
    let outcome = with_progress(|cb| attack::collide_joint(&source, &targets, &params, cb))?;
    finish(&outcome, &args.common)
}

/// Hex hashes of `algorithms` (comma-separated, in that order), or an
/// existing image file to take them from.
fn parse_target(text: &str, algorithms: &[Algorithm]) -> anyhow::Result<Vec<Digest>> {
    let path = Path::new(text);
    if path.is_file() {
        let d = hash::digest_file(path, algorithms, &hash::HashConfig::default())?;
        if let Some(q) = d.low_pdq_quality() {
            bail!("{}: target image's {q}", path.display());
        }
        return algorithms
            .iter()
            .map(|&a| {
                d.get(a)
                    .cloned()
                    .with_context(|| format!("{}: no {a} hash", path.display()))
            })
            .collect();
    }
    let parts: Vec<&str> = text.split(',').collect();
    let want = |a: Algorithm| if a == Algorithm::Pdq { 256 } else { 64 };
    let names = algorithms
        .iter()
        .map(|&a| format!("a {a} hash ({} hex characters)", want(a) / 4))
        .collect::<Vec<_>>()
        .join(", then ");
    let bad = || anyhow::anyhow!("--target '{text}': neither an image file nor {names}");
    if parts.len() != algorithms.len() {
        return Err(bad());
    }
    parts
        .iter()
        .zip(algorithms)
        .map(|(part, &a)| {
            Digest::from_hex(a, part)
                .ok()
                .filter(|d| d.bits() == want(a))
                .ok_or_else(bad)
        })
        .collect()
}
