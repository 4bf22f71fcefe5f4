//! `cssim bench`: what scanning costs a user per message, against the demo
//! set, a hash-set file, or a generated set of N entries.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use cssim::e2ee::{Envelope, Identity};
use cssim::hash::{self, Algorithm, Digest, Threshold};
use cssim::hashset::{Builder, Representation, SignedSet};
use cssim::message::{Attachment, Message, MessageId};
use cssim::scan::Matcher;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

/// The default image: a shipped 512×512 stand-in photo (NASA, public
/// domain; see `examples/images/SOURCES.md`).
const DEFAULT_IMAGE: &[u8] = include_bytes!("../../../examples/images/benign/astronaut.jpg");
const DEFAULT_IMAGE_NAME: &str = "examples/images/benign/astronaut.jpg";

/// Arguments of `cssim bench`.
#[derive(Args, Debug)]
#[command(after_help = "\
Measures, over N runs on one thread, each step a sending device pays for one
message: for a text message (normalise + SHA-256, lookup, seal) and for an image
(decode, PDQ, SHA-256, the PDQ and SHA-256 lookups, seal of the whole message).
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
    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,
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
            json!({"all_pairs": n, "pairs": count.pairs, "seconds": secs,
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

/// One measured step: durations in nanoseconds.
struct Series {
    name: &'static str,
    nanos: Vec<u64>,
}

impl Series {
    fn quantile(&self, q: f64) -> u64 {
        let mut v = self.nanos.clone();
        v.sort_unstable();
        let i = ((v.len() - 1) as f64 * q).round() as usize;
        v[i]
    }
}

/// Microseconds with whole nanoseconds: what the clock measured, no more.
fn micros(nanos: u64) -> f64 {
    nanos as f64 / 1e3
}

/// A duration for the table, in the unit that fits.
fn human(nanos: u64) -> String {
    match nanos {
        0..1_000 => format!("{:.3} µs", nanos as f64 / 1e3),
        1_000..1_000_000 => format!("{:.1} µs", nanos as f64 / 1e3),
        _ => format!("{:.3} ms", nanos as f64 / 1e6),
    }
}

fn time<T>(out: &mut Vec<u64>, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let r = f();
    out.push(start.elapsed().as_nanos() as u64);
    r
}

/// The set benchmarked, and how it is described.
struct Loaded {
    set: SignedSet,
    source: serde_json::Value,
    description: String,
    load_nanos: Option<u64>,
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
        return Ok(Loaded {
            description: format!(
                "{} ('{}' v{}, {} entries)",
                path.display(),
                m.name,
                m.version,
                m.total_entries()
            ),
            source: json!({"kind": "file", "path": crate::style::json_path(path),
                           "entries": m.total_entries()}),
            set,
            load_nanos: Some(load_nanos),
        });
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
        return Ok(Loaded {
            description: format!(
                "generated, {distinct} random PDQ entries (seed {}, {}, {} bytes)",
                args.seed,
                reprs.join("+"),
                bytes.len()
            ),
            source: json!({"kind": "generated", "entries": distinct, "seed": args.seed,
                           "representations": reprs, "file_bytes": bytes.len()}),
            set,
            load_nanos: Some(load_nanos),
        });
    }
    let issuer = cssim::hashset::sign::IssuerKey::parse(
        cssim::workspace::DEMO_ISSUER_PUB,
        std::path::Path::new("demo-issuer.key.pub"),
    )?;
    let set = SignedSet::from_bytes(cssim::workspace::DEMO_HASHSET, &issuer.key)?;
    let entries = set.manifest().total_entries();
    Ok(Loaded {
        set,
        source: json!({"kind": "demo", "entries": entries}),
        description: format!("shipped demo set ({entries} entries)"),
        load_nanos: None,
    })
}

/// A listed PDQ hash with 8 bits flipped: a query that hits.
fn near_entry(set: &SignedSet) -> Option<Digest> {
    let entries = set.entries(Algorithm::Pdq).ok()?;
    let (first, _) = entries.first()?;
    let mut b = first.bytes().to_vec();
    for byte in b.iter_mut().step_by(4) {
        *byte ^= 0x01;
    }
    Some(Digest::new(Algorithm::Pdq, b))
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
    let mut loaded = load(&args)?;
    loaded.set.set_bloom_radius(args.radius);
    let bloom_only = loaded.set.list().is_none();
    if bloom_only {
        loaded.description += &format!(", PDQ probed within radius {}", args.radius);
        loaded.source["bloom_radius"] = json!(args.radius);
    }
    let set = &loaded.set;
    let near = near_entry(set);
    let (alice, bob) = (Identity::generate(), Identity::generate());
    let limits = hash::decode::Limits::default();
    let text = "Are we still on for Saturday? I found the photos from last summer.";
    let pdq_t = Threshold(hash::pdq::MATCH_THRESHOLD);
    let exact_t = Threshold(0);

    let names = [
        "text: normalise + SHA-256",
        "text: lookup",
        "text: seal",
        "text: total",
        "image: decode",
        "image: PDQ",
        "image: SHA-256",
        "image: PDQ lookup",
        "image: SHA-256 lookup",
        "image: seal",
        "image: total",
        "lookup: PDQ near an entry",
    ];
    let mut s: Vec<Vec<u64>> = vec![Vec::new(); names.len()];
    let mut near_hits = 0usize;
    for _ in 0..args.runs {
        let t0 = Instant::now();
        let d = time(&mut s[0], || hash::text::hash(text));
        time(&mut s[1], || Matcher::lookup(set, &d, exact_t)).map_err(anyhow::Error::msg)?;
        let msg = Message {
            id: MessageId::random(),
            from: "alice".into(),
            to: "bob".into(),
            sent_at: 0,
            text: Some(text.into()),
            attachments: vec![],
        };
        time(&mut s[2], || {
            Envelope::seal(&alice, &bob.public(), msg.id.0, 0, [0; 32], &msg.to_bytes())
                .map(|e| e.to_bytes())
        })?;
        s[3].push(t0.elapsed().as_nanos() as u64);

        let t0 = Instant::now();
        let img = time(&mut s[4], || hash::decode::decode(&image_bytes, &limits))
            .context("decoding the image")?;
        let p = time(&mut s[5], || hash::pdq::hash_image(&img));
        let sha = time(&mut s[6], || hash::exact::sha256(&image_bytes));
        let pdq = p.hash.to_digest();
        time(&mut s[7], || Matcher::lookup(set, &pdq, pdq_t)).map_err(anyhow::Error::msg)?;
        time(&mut s[8], || Matcher::lookup(set, &sha, exact_t)).map_err(anyhow::Error::msg)?;
        let msg = Message {
            id: MessageId::random(),
            from: "alice".into(),
            to: "bob".into(),
            sent_at: 0,
            text: None,
            attachments: vec![Attachment::Image {
                name: "x".into(),
                bytes: image_bytes.clone(),
            }],
        };
        time(&mut s[9], || {
            Envelope::seal(&alice, &bob.public(), msg.id.0, 0, [0; 32], &msg.to_bytes())
                .map(|e| e.to_bytes())
        })?;
        s[10].push(t0.elapsed().as_nanos() as u64);
        if let Some(q) = &near {
            let hits =
                time(&mut s[11], || Matcher::lookup(set, q, pdq_t)).map_err(anyhow::Error::msg)?;
            near_hits += usize::from(!hits.is_empty());
        }
    }
    let series: Vec<Series> = names
        .iter()
        .zip(s)
        .map(|(&name, nanos)| Series { name, nanos })
        .filter(|x| !x.nanos.is_empty())
        .collect();
    let (w, h) = hash::decode::decode(&image_bytes, &limits)
        .map(|i| i.dimensions())
        .unwrap_or((0, 0));
    if args.json {
        let rows: Vec<_> = series
            .iter()
            .map(|x| {
                json!({"step": x.name, "median_us": micros(x.quantile(0.5)),
                       "p99_us": micros(x.quantile(0.99))})
            })
            .collect();
        let mut hashset = loaded.source.clone();
        hashset["load_us"] = json!(loaded.load_nanos.map(micros));
        let v = json!({"runs": args.runs,
                       "image": {"path": image_name, "bytes": image_bytes.len(), "width": w, "height": h},
                       "hashset": hashset, "steps": rows});
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(crate::EXIT_OK);
    }
    println!(
        "{} runs, one thread; image {image_name}, {w}×{h} ({} bytes)",
        args.runs,
        image_bytes.len()
    );
    let load = loaded.load_nanos.map_or(String::new(), |n| {
        format!("; verified and indexed in {}", human(n))
    });
    println!("hash set: {}{load}", loaded.description);
    if near.is_some() {
        println!(
            "near-entry lookups found the entry in {near_hits} of {} runs",
            args.runs
        );
    }
    println!("{:<28} {:>12} {:>12}", "STEP", "MEDIAN", "P99");
    for x in &series {
        println!(
            "{:<28} {:>12} {:>12}",
            x.name,
            human(x.quantile(0.5)),
            human(x.quantile(0.99))
        );
    }
    Ok(crate::EXIT_OK)
}
