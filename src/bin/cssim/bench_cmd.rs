//! `cssim bench`: what scanning costs a user per message.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use cssim::e2ee::{Envelope, Identity};
use cssim::hash::{self, Threshold};
use cssim::message::{Attachment, Message, MessageId};
use serde_json::json;

/// Arguments of `cssim bench`.
#[derive(Args, Debug)]
#[command(after_help = "\
Measures, over N runs on one thread, each step a sending device pays for one
message: for a text message (normalise + SHA-256, lookup, seal) and for an image
(decode, PDQ, SHA-256, lookups, seal of the whole message). Prints the median and
99th percentile of each step and of the total — the answer to \"how many
milliseconds does scanning add?\". The hash set is the shipped demo set.

Example: cssim bench --image photo.jpg --runs 200")]
pub struct BenchArgs {
    /// The image to scan (default: a shipped 512×512 stand-in photo).
    #[arg(long, value_name = "FILE")]
    pub image: Option<PathBuf>,
    /// Runs per measurement.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(5..=100_000))]
    pub runs: u32,
    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

struct Series {
    name: String,
    micros: Vec<f64>,
}

impl Series {
    fn quantile(&self, q: f64) -> f64 {
        let mut v = self.micros.clone();
        v.sort_by(f64::total_cmp);
        let i = ((v.len() - 1) as f64 * q).round() as usize;
        v[i]
    }
}

fn time<T>(out: &mut Vec<f64>, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let r = f();
    out.push(start.elapsed().as_secs_f64() * 1e6);
    r
}

/// `cssim bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<u8> {
    let image_bytes = match &args.image {
        Some(p) => std::fs::read(p).with_context(|| format!("{}", p.display()))?,
        None => include_bytes!("../../../tests/data/pdq/images/photo_astronaut_512.png").to_vec(),
    };
    let issuer = cssim::hashset::sign::PublicKey::parse(
        cssim::workspace::DEMO_ISSUER_PUB,
        std::path::Path::new("demo-issuer.pub"),
    )?;
    let set = cssim::hashset::HashSet::from_bytes(cssim::workspace::DEMO_HASHSET, &issuer.key)?;
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
        "image: lookups",
        "image: seal",
        "image: total",
    ];
    let mut s: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..args.runs {
        let t0 = Instant::now();
        let d = time(&mut s[0], || hash::text::hash(text));
        time(&mut s[1], || {
            cssim::scan::Matcher::lookup(&set, &d, exact_t)
        })
        .map_err(anyhow::Error::msg)?;
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
        s[3].push(t0.elapsed().as_secs_f64() * 1e6);

        let t0 = Instant::now();
        let img = time(&mut s[4], || hash::decode::decode(&image_bytes, &limits))
            .context("decoding the image")?;
        let p = time(&mut s[5], || hash::pdq::hash_image(&img));
        let sha = time(&mut s[6], || hash::exact::sha256(&image_bytes));
        time(&mut s[7], || {
            let _ = set.lookup(&p.hash.to_digest(), pdq_t);
            let _ = set.lookup(&sha, exact_t);
        });
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
        time(&mut s[8], || {
            Envelope::seal(&alice, &bob.public(), msg.id.0, 0, [0; 32], &msg.to_bytes())
                .map(|e| e.to_bytes())
        })?;
        s[9].push(t0.elapsed().as_secs_f64() * 1e6);
    }
    let series: Vec<Series> = names
        .iter()
        .zip(s)
        .map(|(n, micros)| Series {
            name: n.to_string(),
            micros,
        })
        .collect();
    let (w, h) = hash::decode::decode(&image_bytes, &limits)
        .map(|i| i.dimensions())
        .unwrap_or((0, 0));
    if args.json {
        let rows: Vec<_> = series.iter().map(|x| json!({"step": x.name, "median_us": x.quantile(0.5), "p99_us": x.quantile(0.99)})).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"runs": args.runs, "image": {"bytes": image_bytes.len(), "width": w, "height": h}, "steps": rows})
            )?
        );
    } else {
        println!(
            "{} runs, one thread; image {}×{} ({} bytes); hash set: shipped demo set",
            args.runs,
            w,
            h,
            image_bytes.len()
        );
        println!("{:<28} {:>11} {:>11}", "STEP", "MEDIAN ms", "P99 ms");
        for x in &series {
            println!(
                "{:<28} {:>11.3} {:>11.3}",
                x.name,
                x.quantile(0.5) / 1e3,
                x.quantile(0.99) / 1e3
            );
        }
    }
    Ok(crate::EXIT_OK)
}
