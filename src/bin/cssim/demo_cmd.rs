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

/// Width of the narration: the terminal's, or 100 columns when stdout is
/// not a terminal (a file, a pipe, a projector's capture).
fn narration_width() -> usize {
    const DEFAULT: usize = 100;
    if std::io::stdout().is_terminal() {
        textwrap::termwidth().clamp(40, 160)
    } else {
        DEFAULT
    }
}

/// One narration line, indented two columns and wrapped to `width`;
/// continuation lines are indented two more than the line's own indent.
fn wrap(line: &str, width: usize) -> Vec<String> {
    let own = line.len() - line.trim_start().len();
    let first = format!("  {}", &line[..own]);
    let rest = format!("{first}  ");
    let options = textwrap::Options::new(width)
        .initial_indent(&first)
        .subsequent_indent(&rest)
        .break_words(false);
    textwrap::wrap(line.trim_start(), options)
        .into_iter()
        .map(|c| c.into_owned())
        .collect()
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
    let width = narration_width();
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
            for w in wrap(l, width) {
                println!("{w}");
            }
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

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn long_lines_wrap_with_a_hanging_indent() {
        let line = format!("  evidence: {}", "word ".repeat(40));
        let out = wrap(&line, 60);
        assert!(out.len() > 1);
        assert!(out.iter().all(|l| l.chars().count() <= 60), "{out:?}");
        assert!(out[0].starts_with("    evidence:"));
        assert!(out[1].starts_with("      word"));
    }
}
