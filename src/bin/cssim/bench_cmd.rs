//! `cssim bench`: what scanning costs a user per message, against the demo
//! set, a hash-set file, or a generated set of N entries.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use cssim::eval::cost::{self, SetInfo, SetSource, Setup};
use cssim::hash::{self, Algorithm, Digest};
use cssim::hashset::{Builder, Representation, SignedSet};
use cssim::report::{Exporter, Json, Table};
use cssim::scan::Policy;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The default image: a shipped 512×512 stand-in photo (NASA, public
/// domain; see `examples/images/SOURCES.md`).
const DEFAULT_IMAGE: &[u8] = include_bytes!("../../../examples/images/benign/astronaut.jpg");
const DEFAULT_IMAGE_NAME: &str = "examples/images/benign/astronaut.jpg";

/// Arguments of `cssim bench`.
#[derive(Args, Debug)]
#[command(after_help = "\
Measures, over N runs on one thread, each step a sending device pays for one
message, through the client's own scanner (the default policy or --policy FILE):
for a text message (normalise + SHA-256, lookup, seal) and for an image (decode,
SHA-256, PDQ and whatever else the policy hashes, each lookup, seal of the whole
message). A lookup the hash set cannot answer stops the bench with its reason.
Prints the median and 99th percentile of each step and of the total — the
answer to \"how many milliseconds does scanning add?\".

The hash set is the shipped demo set (9 entries), a set file (--hashset FILE
--issuer KEY.pub), or a generated one (--entries N: N random PDQ entries from
--seed, built and signed in memory as `hashset build` would, --repr list,bloom
by default), so the lookup cost at 100,000 or 1,000,000 entries is measured.
With a list, \"lookup: PDQ near an entry\" times a query 8 bits from a listed
PDQ hash (a hit), besides the photo's own hash (usually a miss). A Bloom-only
set answers PDQ lookups by probing every hash within --radius (default 0).

Timings are taken with a nanosecond clock: JSON gives microseconds with 3
decimals (whole nanoseconds).

Examples:
  cssim bench --runs 200
  cssim bench --entries 1000000 --seed 1 --json")]
pub struct BenchArgs {
    /// The image to scan (default: examples/images/benign/astronaut.jpg, 512×512).
    #[arg(long, value_name = "FILE")]
    pub image: Option<PathBuf>,
    /// Where PDQ's pixels come from: exact (full decode) or fast (a JPEG at
    /// least 512 px a side from its DC image, a baseline one of 128-511 px
    /// from a 1/2-scale decode; not bit-exact), overriding the
    /// policy's pdq_route. With fast, the decode row is the DC read and its
    /// name says so.
    #[arg(long, value_name = "ROUTE", default_value = "exact")]
    pub pdq_route: hash::PdqRoute,
    /// Runs per measurement.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(5..=100_000))]
    pub runs: u32,
    /// A hash-set file to look up against (with --issuer).
    #[arg(
        long,
        value_name = "FILE",
        requires = "issuer",
        conflicts_with = "entries"
    )]
    pub hashset: Option<PathBuf>,
    /// The issuer's public key file for --hashset.
    #[arg(long, value_name = "PUBKEY", requires = "hashset")]
    pub issuer: Option<PathBuf>,
    /// Generate a set of N random PDQ entries instead of the demo set.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub entries: Option<u64>,
    /// Seed of the generated entries (and of their Bloom filter).
    #[arg(long, default_value_t = 1, requires = "entries")]
    pub seed: u64,
    /// Representations of the generated set: list, bloom.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "list,bloom",
        requires = "entries"
    )]
    pub repr: Vec<Representation>,
    /// Probe radius of a Bloom-only set's PDQ lookups (as `hashset check
    /// --radius`; 0 finds only the exact hash, 2 probes 32,897 hashes).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=3))]
    pub radius: u32,
    /// The policy the scanner runs (image algorithms, thresholds, dihedral
    /// PDQ), as `policy.toml` in a workspace; default: the default policy
    /// (PDQ and SHA-256 for images).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// JSON instead of a table.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV (a header, then one row a step) instead of a table.
    #[arg(long, conflicts_with = "all_pairs")]
    pub csv: bool,
    /// Instead: time the all-pairs distance histogram of `eval rates` over
    /// N random PDQ hashes (seed 1), on every core.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(2..=10_000_000))]
    pub all_pairs: Option<u64>,
}

/// `--all-pairs N`: the popcount loop of `eval rates` on N random PDQ hashes.
fn run_all_pairs(n: u64, seed: u64, json: bool) -> anyhow::Result<u8> {
    let hashes = random_pdq(n, seed);
    let packed = cssim::eval::pairs::Packed::from_bytes(256, hashes.iter().map(|d| d.bytes()));
    let start = Instant::now();
    let count = cssim::eval::pairs::all_pairs(&packed, 20, &|_| {});
    let secs = start.elapsed().as_secs_f64();
    let threads = rayon::current_num_threads();
    if json {
        println!(
            "{}",
            serde_json::json!({"all_pairs": n, "pairs": count.pairs, "seconds": secs,
                   "pairs_per_second": count.pairs as f64 / secs, "threads": threads,
                   "smallest_distance": count.closest.first().map(|p| p.distance)})
        );
    } else {
        println!(
            "all pairs of {n} random PDQ hashes: {} pairs in {secs:.2} s ({:.3e} pairs/s, {threads} threads); smallest distance {}",
            count.pairs,
            count.pairs as f64 / secs,
            count.closest.first().map_or(256, |p| p.distance)
        );
    }
    Ok(crate::EXIT_OK)
}

/// The set benchmarked, and how it is described.
struct Loaded {
    set: SignedSet,
    info: SetInfo,
}

fn info(source: SetSource, description: String, load_nanos: Option<u64>) -> SetInfo {
    SetInfo {
        source,
        bloom_radius: None,
        load_us: load_nanos.map(|n| n as f64 / 1e3),
        description,
    }
}

/// `n` random PDQ hashes from `seed` (ChaCha8).
fn random_pdq(n: u64, seed: u64) -> Vec<Digest> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let mut b = vec![0u8; 32];
            rng.fill_bytes(&mut b);
            Digest::new(Algorithm::Pdq, b)
        })
        .collect()
}

fn load(args: &BenchArgs) -> anyhow::Result<Loaded> {
    if let (Some(path), Some(issuer)) = (&args.hashset, &args.issuer) {
        let key = cssim::hashset::sign::IssuerKey::read(issuer)?;
        let start = Instant::now();
        let set = SignedSet::open(path, &key.key)?;
        let load_nanos = start.elapsed().as_nanos() as u64;
        let m = set.manifest();
        let description = format!(
            "{} ('{}' v{}, {} entries)",
            path.display(),
            m.name,
            m.version,
            m.total_entries()
        );
        let source = SetSource::File {
            path: path.to_string_lossy().into_owned(),
            entries: m.total_entries(),
        };
        let info = info(source, description, Some(load_nanos));
        return Ok(Loaded { set, info });
    }
    if let Some(n) = args.entries {
        let entries = random_pdq(n, args.seed);
        let key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
        let mut builder = Builder::new("bench", "Bench issuer");
        builder
            .created("2025-01-01T00:00:00Z")
            .seed(args.seed)
            .representations(&args.repr);
        for d in entries {
            builder.add(d, None);
        }
        let (bytes, _) = builder.build(&key)?;
        let start = Instant::now();
        let set = SignedSet::from_bytes(&bytes, &key.verifying_key())?;
        let load_nanos = start.elapsed().as_nanos() as u64;
        let reprs: Vec<&str> = args.repr.iter().map(|r| r.name()).collect();
        let distinct = set.manifest().total_entries();
        let description = format!(
            "generated, {distinct} random PDQ entries (seed {}, {}, {} bytes)",
            args.seed,
            reprs.join("+"),
            bytes.len()
        );
        let source = SetSource::Generated {
            entries: distinct,
            seed: args.seed,
            representations: reprs.iter().map(|r| r.to_string()).collect(),
            file_bytes: bytes.len(),
        };
        let info = info(source, description, Some(load_nanos));
        return Ok(Loaded { set, info });
    }
    let issuer = cssim::hashset::sign::IssuerKey::parse(
        cssim::workspace::DEMO_ISSUER_PUB,
        std::path::Path::new("demo-issuer.key.pub"),
    )?;
    let set = SignedSet::from_bytes(cssim::workspace::DEMO_HASHSET, &issuer.key)?;
    let entries = set.manifest().total_entries();
    let description = format!("shipped demo set ({entries} entries)");
    let info = info(SetSource::Demo { entries }, description, None);
    Ok(Loaded { set, info })
}

/// `cssim bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<u8> {
    if let Some(n) = args.all_pairs {
        return run_all_pairs(n, 1, args.json);
    }
    let (image_bytes, image_name) = match &args.image {
        Some(p) => (
            std::fs::read(p).with_context(|| format!("{}", p.display()))?,
            p.display().to_string(),
        ),
        None => (DEFAULT_IMAGE.to_vec(), DEFAULT_IMAGE_NAME.to_string()),
    };
    let mut policy = match &args.policy {
        Some(path) => Policy::load(path)?,
        None => Policy::default(),
    };
    if args.pdq_route == hash::PdqRoute::Fast {
        policy.pdq_route = hash::PdqRoute::Fast;
    }
    let Loaded { mut set, mut info } = load(&args)?;
    set.set_bloom_radius(args.radius);
    if set.list().is_none() {
        info.description += &format!(", PDQ probed within radius {}", args.radius);
        info.bloom_radius = Some(args.radius);
    }
    let report = cost::measure(Setup {
        set: &set,
        hashset: info,
        policy,
        image: (&image_name, &image_bytes),
        runs: args.runs,
    })?;
    let out = if args.json {
        Json::pretty().document(&report)?
    } else if args.csv {
        cssim::report::Csv.document(&report)?
    } else {
        Table::coloured(crate::style::stdout_colour()).document(&report)?
    };
    print!("{out}");
    Ok(crate::EXIT_OK)
}
