//! `cssim demo`: prints the library's demo steps for an audience.

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;
use cssim::demo::{self, Actor, Step};

use crate::style;

/// Arguments of `cssim demo`.
#[derive(Args, Debug)]
#[command(after_help = "\
Runs on a temporary workspace with the shipped stand-in images and demo hash set;
nothing to set up, nothing left behind (unless --keep). Steps: keys → a benign text
→ a benign photo → a resized, recompressed copy of a listed stand-in image (matches,
is reported) → a heavily cropped copy (evades) → what the relay saw → what the
moderator sees → Bob's inbox.")]
pub struct DemoArgs {
    /// Print a JSON transcript instead of the narration.
    #[arg(long)]
    pub json: bool,
    /// Pause for Enter between steps (for a live audience).
    #[arg(long)]
    pub step: bool,
    /// Keep the workspace in this folder instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<std::path::PathBuf>,
}

fn actor_label(a: Actor, colour: bool) -> String {
    let (name, code) = match a {
        Actor::Setup => ("setup", "1"),
        Actor::Client => ("Alice's device", "1;34"),
        Actor::Relay => ("relay", "1;33"),
        Actor::Moderator => ("moderator", "1;35"),
        Actor::Recipient => ("Bob's device", "1;32"),
    };
    style::paint(&format!("[{name}]"), code, colour)
}

/// `cssim demo`.
pub fn run(args: DemoArgs) -> anyhow::Result<u8> {
    let colour = style::stdout_colour();
    let tmp = tempfile::tempdir()?;
    let dir = args
        .keep
        .clone()
        .unwrap_or_else(|| tmp.path().join("workspace"));
    let pause = args.step && std::io::stdin().is_terminal();
    let json = args.json;
    let mut print = |s: &Step| {
        if json {
            return;
        }
        println!();
        println!(
            "{} {} {}",
            style::paint(&format!("Step {}:", s.number), "1", colour),
            style::paint(&s.title, "1", colour),
            actor_label(s.actor, colour)
        );
        for l in &s.lines {
            println!("  {l}");
        }
        if pause {
            print!(
                "{}",
                style::paint("  (Enter for the next step)", "2", colour)
            );
            let _ = std::io::stdout().flush();
            let _ = std::io::stdin().lock().read_line(&mut String::new());
        }
    };
    if !json {
        println!(
            "{}",
            style::paint("cssim demo — client-side scanning, end to end", "1", colour)
        );
        println!(
            "The hash set holds innocuous stand-in images; nothing here is real abuse material."
        );
    }
    let steps = demo::run(&dir, &mut print)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&steps)?);
    } else if let Some(k) = &args.keep {
        println!();
        println!(
            "workspace kept in {} (try: cssim relay show -w {})",
            k.display(),
            k.display()
        );
    }
    Ok(crate::EXIT_OK)
}
