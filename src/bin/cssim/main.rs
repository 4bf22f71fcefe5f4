//! The `cssim` command line: argument parsing, printing and exit codes.
//! All logic a library user would need lives in the `cssim` library.

mod attack_cmd;
mod bench_cmd;
mod demo_cmd;
mod edit_cmd;
mod eval_attacks_cmd;
mod eval_cmd;
mod hash_cmd;
mod hashset_cmd;
mod msg_cmd;
mod scenario_cmd;
mod style;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status when every input was processed.
pub const EXIT_OK: u8 = 0;
/// Exit status when the command ran but some inputs failed (each was reported).
pub const EXIT_SOME_FAILED: u8 = 1;
/// Exit status when the command could not run at all (bad arguments, unreadable key…).
pub const EXIT_ERROR: u8 = 2;
/// Exit status of `send` when the policy blocked the message (nothing was sent).
pub const EXIT_BLOCKED: u8 = 3;

const AFTER_HELP: &str = "\
Exit status: 0 when everything succeeded; 1 when the command ran but some
inputs failed (each failure is reported on stderr, one line each); 2 when the
command could not run (bad arguments, unreadable configuration); 3 when `send`
did not send because the policy blocks the message.

Colour is used on terminals; set NO_COLOR=1 to turn it off.";

/// cssim — a client-side scanning simulator: hash, scan, encrypt and measure.
///
/// Client-side scanning checks each message on the sender's device against a
/// list of hashes of known material before it is encrypted end to end. cssim
/// builds that pipeline from real parts so its false positives, evasions and
/// costs can be measured.
#[derive(Parser, Debug)]
#[command(name = "cssim", version, after_help = AFTER_HELP, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Hash files and folders with perceptual (PDQ, pHash, dHash, aHash) and exact hashes.
    Hash(hash_cmd::HashArgs),
    /// Compare two images: the distance under each algorithm and whether it is a match.
    Compare(hash_cmd::CompareArgs),
    /// Create an Ed25519 issuer key for signing hash sets.
    Keygen(hashset_cmd::KeygenArgs),
    /// Build, inspect, verify, check against, import and export signed hash sets.
    Hashset(hashset_cmd::HashsetArgs),
    /// Run the narrated end-to-end demo: scan, encrypt, relay, report, moderate, deliver.
    Demo(demo_cmd::DemoArgs),
    /// Create a workspace: identities, the demo hash set, a policy and a relay.
    Init(msg_cmd::InitArgs),
    /// Manage identities.
    #[command(subcommand)]
    Id(msg_cmd::IdCommand),
    /// Scan a message, encrypt it end to end and send it through the relay.
    Send(msg_cmd::SendArgs),
    /// Take and decrypt a user's messages.
    Inbox(msg_cmd::InboxArgs),
    /// Inspect or serve the relay.
    #[command(subcommand)]
    Relay(msg_cmd::RelayCommand),
    /// List, open and resolve the reports in the moderation queue.
    #[command(subcommand)]
    Moderate(msg_cmd::ModerateCommand),
    /// Measure what scanning adds to sending one message.
    Bench(bench_cmd::BenchArgs),
    /// Measure the hashes and the library: rates under edits, attacks over a corpus, Bloom false positives.
    #[command(subcommand)]
    Eval(eval_cmd::EvalCommand),
    /// Apply an edit chain (resize:0.5+jpeg:70, crop, rotate, …) to an image and write it.
    Edit(edit_cmd::EditArgs),
    /// White-box attacks on PDQ and pHash: evade a listed image, or collide an innocent one.
    #[command(subcommand)]
    Attack(attack_cmd::AttackCommand),
    /// Simulate a platform: users, offenders, adversaries, a policy and its moderators.
    #[command(subcommand)]
    Scenario(scenario_cmd::ScenarioCommand),
}

/// `cssim hash DIR | head` closes stdout early; printing then fails with a
/// broken pipe, which `println!` turns into a panic. That is the reader's
/// choice, not an error: end quietly, as `cat` would.
fn exit_quietly_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// One line from an error and its causes. Library errors already name their
/// cause in their own message, so a cause whose text is already there is not
/// repeated; I/O causes are worded as the library words them.
fn error_message(err: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in err.chain() {
        let text = match cause.downcast_ref::<std::io::Error>() {
            Some(io) => cssim::files::describe_io_error(io),
            None => cause.to_string(),
        };
        if msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}

fn main() -> ExitCode {
    exit_quietly_on_broken_pipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Hash(args) => hash_cmd::run_hash(args),
        Command::Compare(args) => hash_cmd::run_compare(args),
        Command::Keygen(args) => hashset_cmd::run_keygen(args),
        Command::Hashset(args) => hashset_cmd::run(args),
        Command::Demo(args) => demo_cmd::run(args),
        Command::Init(args) => msg_cmd::run_init(args),
        Command::Id(cmd) => msg_cmd::run_id(cmd),
        Command::Send(args) => msg_cmd::run_send(args),
        Command::Inbox(args) => msg_cmd::run_inbox(args),
        Command::Relay(cmd) => msg_cmd::run_relay(cmd),
        Command::Moderate(cmd) => msg_cmd::run_moderate(cmd),
        Command::Bench(args) => bench_cmd::run(args),
        Command::Eval(cmd) => eval_cmd::run(cmd),
        Command::Edit(args) => edit_cmd::run(args),
        Command::Attack(cmd) => attack_cmd::run(cmd),
        Command::Scenario(cmd) => scenario_cmd::run(cmd),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err)
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::from(EXIT_OK)
        }
        Err(err) => {
            eprintln!("{}", style::error_line(&error_message(&err)));
            ExitCode::from(EXIT_ERROR)
        }
    }
}
