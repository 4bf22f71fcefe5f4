//! `cssim demo`: prints the library's demo steps for an audience.

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;
use cssim::demo::{self, Actor, Step};
use cssim::report::{Exporter, Json};

use crate::style;

/// Arguments of `cssim demo`.
#[derive(Args, Debug)]
#[command(after_help = "\
Runs on a temporary workspace with the shipped stand-in images and demo hash set;
nothing to set up, nothing left behind (unless --keep). Steps: keys → a benign text
→ a benign photo → a resized, recompressed copy of a listed stand-in image (matches,
is reported) → a heavily cropped copy (evades) → what the relay saw → what the
moderator sees → Bob's inbox.

With --serve, the same workspace setup behind a live page for presenters: Alice's
device, the relay, the moderator and Bob's device side by side in a browser, with
policy controls, edits and a guided mode (see README, \"Presenting\"). It listens on
127.0.0.1 unless --listen says otherwise; Ctrl-C stops it and removes the workspace.")]
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
    /// Serve the live demo page instead of narrating.
    #[arg(long, conflicts_with_all = ["json", "step", "keep"])]
    pub serve: bool,
    /// Address the page listens on (anything but loopback is reachable by
    /// other machines, over plain HTTP).
    #[arg(long, requires = "serve", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Largest image upload the page accepts, in MB.
    #[arg(long, requires = "serve", default_value_t = 20, value_name = "MB")]
    pub max_upload: u64,
}

/// `cssim demo --serve`.
fn serve(args: &DemoArgs) -> anyhow::Result<u8> {
    let options = cssim::web::Options {
        listen: args.listen,
        max_upload: args.max_upload.saturating_mul(1 << 20),
    };
    cssim::web::serve(&options, |server| {
        println!("cssim demo page: {}", server.url());
        if server.loopback_only() {
            println!("listening on {} (this machine only)", server.addr());
        } else {
            println!(
                "WARNING: listening on {}: reachable by other machines, over plain HTTP",
                server.addr()
            );
        }
        println!(
            "workspace {} (removed on exit); uploads up to {} MB; Ctrl-C stops",
            server.folder().display(),
            args.max_upload
        );
    })?;
    println!("stopped; workspace removed");
    Ok(crate::EXIT_OK)
}

fn actor_label(a: Actor, colour: bool) -> String {
    let code = match a {
        Actor::Setup => "1",
        Actor::Client => "1;34",
        Actor::Relay => "1;33",
        Actor::Moderator => "1;35",
        Actor::Recipient => "1;32",
    };
    style::paint(&format!("[{}]", a.label()), code, colour)
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
    if args.serve {
        return serve(&args);
    }
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
    let transcript = demo::run(&dir, &mut print)?;
    if json {
        print!("{}", Json::pretty().document(&transcript)?);
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
