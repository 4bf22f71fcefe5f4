//! The messaging commands: `init`, `id new`, `send`, `inbox`, `relay`, `moderate`.

use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::{Args, Subcommand};
use cssim::client::{Device, Received, SendOutcome};
use cssim::e2ee::PublicIdentity;
use cssim::message::Attachment;
use cssim::moderation::{self, Outcome};
use cssim::workspace::Workspace;
use serde_json::json;

use crate::style;

/// Where the workspace is (all messaging commands).
#[derive(Args, Debug, Clone)]
pub struct WorkspaceOpt {
    /// The workspace folder (created by `cssim init`).
    #[arg(
        long,
        short = 'w',
        env = "CSSIM_WORKSPACE",
        default_value = "cssim-workspace",
        value_name = "DIR"
    )]
    pub workspace: PathBuf,
}

impl WorkspaceOpt {
    fn open(&self) -> anyhow::Result<Workspace> {
        Ok(Workspace::open(&self.workspace)?)
    }
}

/// `cssim init`.
#[derive(Args, Debug)]
#[command(after_help = "\
Creates DIR (default ./cssim-workspace) with identities alice, bob and moderator,
the shipped demo hash set (stand-in images only) and its issuer key, the default
policy (policy.toml: edit it to change what is scanned and what a match does), and
an embedded relay database. Then try:
  cssim send --from alice --to bob --text 'hello'
  cssim inbox bob")]
pub struct InitArgs {
    /// Folder to create the workspace in.
    #[arg(default_value = "cssim-workspace")]
    pub dir: PathBuf,
    /// Use a served relay (`http://127.0.0.1:PORT`, or `https://HOST:PORT`)
    /// instead of the embedded database.
    #[arg(long, value_name = "URL")]
    pub relay: Option<String>,
    /// For an `https://` relay whose certificate is not signed by a public
    /// CA: the PEM certificate of the CA that signed it (copied into the
    /// workspace; `CSSIM_RELAY_CA=FILE` overrides it per command).
    #[arg(long, value_name = "FILE", requires = "relay")]
    pub relay_ca: Option<PathBuf>,
}

/// `cssim id`.
#[derive(Subcommand, Debug)]
pub enum IdCommand {
    /// Create an identity (X25519 key pair and the Ed25519 key derived from
    /// it) and register it with the relay.
    New {
        /// Its name (a-z, 0-9, _ and -).
        name: String,
        #[command(flatten)]
        ws: WorkspaceOpt,
    },
    /// Accept the key the relay now gives for PEER, after comparing the
    /// safety number with them in person.
    #[command(after_help = "\
Each device pins a contact's keys the first time it talks to them (trust on
first use). If the relay later gives a different key, send and inbox refuse it:
the contact may have a new device, or a malicious relay may be substituting its
own key to read the messages. Compare the safety number printed here (or in the
error) with the contact over another channel, then run this command.")]
    Trust {
        /// The contact whose new key to accept.
        peer: String,
        /// Whose device pins it.
        #[arg(long = "as", value_name = "NAME")]
        me: String,
        #[command(flatten)]
        ws: WorkspaceOpt,
    },
}

/// `cssim send`.
#[derive(Args, Debug)]
#[command(after_help = "\
The message is scanned on the sender's side first (policy.toml says what and how),
then encrypted end to end (HPKE, X25519 + AES-256-GCM, sender authenticated) and
handed to the relay. On a match the policy decides: report (deliver, and seal a
report to the moderator), block, or warn. Prints the verdict, the time each
scanning step took, and what was sent.")]
pub struct SendArgs {
    /// Sender identity.
    #[arg(long)]
    pub from: String,
    /// Recipient user name.
    #[arg(long)]
    pub to: String,
    /// Message text.
    #[arg(long)]
    pub text: Option<String>,
    /// Attach a file (images are recognised by content). Repeatable.
    #[arg(long, value_name = "FILE")]
    pub attach: Vec<PathBuf>,
    /// Attach a link. Repeatable.
    #[arg(long, value_name = "URL")]
    pub link: Vec<String>,
    /// JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub ws: WorkspaceOpt,
}

/// `cssim inbox`.
#[derive(Args, Debug)]
pub struct InboxArgs {
    /// Whose inbox.
    pub name: String,
    /// JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub ws: WorkspaceOpt,
}

/// Reads an attachment, refusing it before reading if it is over the limit.
fn read_attachment(path: &Path, max: u64) -> anyhow::Result<Attachment> {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let meta = std::fs::metadata(path).map_err(|e| {
        anyhow::anyhow!("{}: {}", path.display(), cssim::hash::describe_io_error(&e))
    })?;
    if meta.len() > max {
        bail!(
            "{}: attachment is {} bytes; the policy allows at most {max}",
            path.display(),
            meta.len()
        );
    }
    let bytes = std::fs::read(path).map_err(|e| {
        anyhow::anyhow!("{}: {}", path.display(), cssim::hash::describe_io_error(&e))
    })?;
    let is_image = image::guess_format(&bytes).is_ok();
    Ok(if is_image {
        Attachment::Image { name, bytes }
    } else {
        Attachment::File { name, bytes }
    })
}

/// `cssim init`.
pub fn run_init(args: InitArgs) -> anyhow::Result<u8> {
    if args.relay_ca.is_some()
        && !args
            .relay
            .as_deref()
            .is_some_and(|r| r.starts_with("https://"))
    {
        bail!("--relay-ca is for an https:// relay (--relay https://HOST:PORT)");
    }
    let ws = Workspace::init_with_ca(&args.dir, args.relay.as_deref(), args.relay_ca.as_deref())?;
    println!("created workspace {}", ws.root().display());
    println!("  identities: alice, bob, moderator (keys/, secret files 0600)");
    println!(
        "  hash set:   {} (stand-in images only)",
        ws.config().hashset.display()
    );
    println!("  policy:     {}", ws.config().policy.display());
    println!("  relay:      {}", ws.config().relay);
    if let Some(ca) = &ws.config().relay_ca {
        println!("  relay CA:   {}", ca.display());
    }
    Ok(crate::EXIT_OK)
}

/// `cssim id new`.
pub fn run_id(cmd: IdCommand) -> anyhow::Result<u8> {
    match cmd {
        IdCommand::New { name, ws } => {
            let ws = ws.open()?;
            let pk: PublicIdentity = ws.new_identity(&name)?;
            println!(
                "created identity {name} ({}, signing key {})",
                pk.x25519.fingerprint(),
                pk.ed25519.fingerprint()
            );
        }
        IdCommand::Trust { peer, me, ws } => {
            let ws = ws.open()?;
            let t = Device::open(&ws, &me)?.trust(&peer)?;
            match &t.previous {
                Some(old) if *old != t.pinned => {
                    println!("{me} now trusts {peer}'s key {} (was {old})", t.pinned)
                }
                _ => println!("{me} trusts {peer}'s key {}", t.pinned),
            }
            println!("safety number: {}", t.safety_number);
        }
    }
    Ok(crate::EXIT_OK)
}

/// `cssim send`.
pub fn run_send(args: SendArgs) -> anyhow::Result<u8> {
    let ws = args.ws.open()?;
    let policy = ws.policy()?;
    let mut attachments = Vec::new();
    for p in &args.attach {
        attachments.push(read_attachment(p, policy.max_attachment_bytes)?);
    }
    attachments.extend(
        args.link
            .iter()
            .map(|url| Attachment::Link { url: url.clone() }),
    );
    if args.text.is_none() && attachments.is_empty() {
        bail!("nothing to send: give --text, --attach or --link");
    }
    let outcome = Device::open(&ws, &args.from)?.send(&args.to, args.text.clone(), attachments)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        print_send(&outcome);
    }
    Ok(crate::EXIT_OK)
}

/// Human-readable account of a send.
pub fn print_send(o: &SendOutcome) {
    let colour = style::stdout_colour();
    let v = &o.verdict;
    let action = format!("{:?}", v.action).to_lowercase();
    let action = if v.matches.is_empty() {
        style::paint(&action, "32", colour)
    } else {
        style::paint(&action, "1;31", colour)
    };
    println!(
        "scan: {} match(es) → {action}  ({:.2} ms)",
        v.matches.len(),
        v.total().as_secs_f64() * 1e3
    );
    for m in &v.matches {
        println!("  {m}");
    }
    for u in &v.unscannable {
        println!("  unscannable: {u}");
    }
    for n in &v.notes {
        println!("  note: {n}");
    }
    for t in &v.timings {
        println!("  {:>9.3} ms  {}", t.micros as f64 / 1e3, t.step);
    }
    if !v.matches.is_empty() || !v.unscannable.is_empty() {
        println!(
            "sender told: {}",
            if o.sender_told {
                "yes"
            } else {
                "no — the sender's app shows nothing (policy notify_sender = false); this line is the simulator's view"
            }
        );
    }
    if let Some(r) = &o.report {
        if let Some(e) = &r.release_error {
            println!(
                "report: sealed ({} bytes) but not yet released ({e}); {} held, retried with the next send",
                r.sealed_size, r.held
            );
        } else if r.released_now > 0 {
            println!(
                "report: sealed to the moderator ({} bytes); {} released to the relay (account at {}/{} matches)",
                r.sealed_size, r.released_now, r.account_matches, r.account_threshold
            );
        } else {
            println!(
                "report: sealed ({} bytes) and held on this device until the account reaches {} matches ({} so far)",
                r.sealed_size, r.account_threshold, r.account_matches
            );
        }
    }
    if o.sent {
        println!(
            "sent: message {} — {} bytes of plaintext as a {}-byte envelope (sealed in {:.3} ms)",
            o.message_id,
            o.plaintext_size,
            o.envelope_size.unwrap_or(0),
            o.seal_micros.unwrap_or(0) as f64 / 1e3
        );
    } else {
        println!("not sent: the policy blocks messages that match");
    }
}

/// `cssim inbox`.
pub fn run_inbox(args: InboxArgs) -> anyhow::Result<u8> {
    let ws = args.ws.open()?;
    let received = Device::open(&ws, &args.name)?.inbox()?;
    let mut failed = false;
    if args.json {
        let items: Vec<_> = received
            .iter()
            .map(|r| match r {
                Received::Message(m) => json!({
                    "id": m.id.to_hex(), "from": m.from, "sent_at": m.sent_at, "text": m.text,
                    "attachments": m.attachments.iter().map(Attachment::describe).collect::<Vec<_>>(),
                }),
                Received::Unreadable { id, reason } => json!({"id": id, "error": reason}),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&items)?);
    }
    if received.is_empty() && !args.json {
        println!("{}: no new messages", args.name);
    }
    for r in &received {
        match r {
            Received::Message(m) if !args.json => {
                println!("from {} (message {}):", m.from, m.id);
                if let Some(t) = &m.text {
                    println!("  {t}");
                }
                for a in &m.attachments {
                    println!("  [{}]", a.describe());
                }
            }
            Received::Unreadable { id, reason } => {
                failed = true;
                eprintln!("{}", style::error_line(&format!("message {id}: {reason}")));
            }
            _ => {}
        }
    }
    Ok(if failed {
        crate::EXIT_SOME_FAILED
    } else {
        crate::EXIT_OK
    })
}

/// `cssim relay`.
#[derive(Subcommand, Debug)]
pub enum RelayCommand {
    /// Show what the relay holds: users, mailbox sizes, message metadata, sealed reports — never plaintext.
    Show {
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        ws: WorkspaceOpt,
    },
    /// Serve a relay database over HTTP, or HTTPS with --tls-cert/--tls-key.
    #[command(after_help = "\
Every request is signed by the key of whoever it acts for (see docs/SECURITY.md):
users by their own keys, the moderator by --moderator-key, the operator by
--operator-key. Without --moderator-key nobody can list or resolve reports;
without --operator-key nobody can read /overview. Requests for another Host
name (DNS rebinding) and cross-origin browser requests are refused.

With --tls-cert and --tls-key the relay serves HTTPS only (rustls); clients
use https://HOST:PORT, and `cssim init --relay-ca CA.pem` when the certificate
is not signed by a public CA. Without TLS, a --listen address other than
loopback prints a warning: metadata and request signatures would travel in the
clear (content is end-to-end encrypted either way).

Example, with a workspace made by `cssim init ws --relay http://127.0.0.1:7878`:
  cssim relay serve --db relay.db \\
      --moderator-key ws/keys/moderator.pub --operator-key ws/keys/operator.pub")]
    Serve {
        /// Address to listen on. Anything but loopback is reachable by other
        /// machines: serve it with --tls-cert/--tls-key.
        #[arg(long, default_value = "127.0.0.1:7878")]
        listen: std::net::SocketAddr,
        /// The server's certificate chain, PEM (its own certificate first).
        #[arg(long, value_name = "CERT.pem", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key, PEM (PKCS#8, PKCS#1 or SEC1).
        #[arg(long, value_name = "KEY.pem", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// The database file (created if missing, mode 0600).
        #[arg(long, default_value = "relay.db")]
        db: PathBuf,
        /// The moderator's public key file (keys/moderator.pub).
        #[arg(long, value_name = "FILE")]
        moderator_key: Option<PathBuf>,
        /// The operator's public key file (keys/operator.pub).
        #[arg(long, value_name = "FILE")]
        operator_key: Option<PathBuf>,
        /// Another host name clients use for this relay (repeatable).
        #[arg(long = "name", value_name = "HOST")]
        names: Vec<String>,
    },
}

/// `cssim relay`.
pub fn run_relay(cmd: RelayCommand) -> anyhow::Result<u8> {
    match cmd {
        RelayCommand::Show { json, ws } => {
            let ws = ws.open()?;
            let overview = ws.relay_as(&ws.config().operator)?.overview()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&overview)?);
            } else {
                print!("{}", overview);
            }
        }
        RelayCommand::Serve {
            listen,
            db,
            moderator_key,
            operator_key,
            names,
            tls_cert,
            tls_key,
        } => {
            let read = |p: &Option<PathBuf>| -> anyhow::Result<_> {
                Ok(match p {
                    Some(p) => Some(PublicIdentity::read(p)?.ed25519),
                    None => None,
                })
            };
            let tls = match (&tls_cert, &tls_key) {
                (Some(cert), Some(key)) => {
                    Some(cssim::relay::ServerTls::from_pem_files(cert, key)?)
                }
                _ => None,
            };
            let config = cssim::relay::ServerConfig {
                moderator: read(&moderator_key)?,
                operator: read(&operator_key)?,
                names,
                tls,
            };
            // Bound before the database is opened: a busy port fails here,
            // with nothing created.
            let listener = cssim::relay::Listener::bind(listen)?;
            if !listen.ip().is_loopback() && config.tls.is_none() {
                eprintln!(
                    "{}",
                    style::warning_line(&format!(
                        "--listen {listen} is not loopback and this relay speaks plain HTTP: anyone on the path sees who writes to whom, when and how much (never the content), and can delay or drop requests; serve it with --tls-cert/--tls-key"
                    ))
                );
            }
            if config.moderator.is_none() {
                eprintln!(
                    "note: no --moderator-key: reports can be submitted but nobody can list or resolve them"
                );
            }
            let store = cssim::relay::Store::open(&db)?;
            eprintln!(
                "relay serving {} on {}://{} (Ctrl-C to stop)",
                db.display(),
                if config.tls.is_some() {
                    "https"
                } else {
                    "http"
                },
                listener.local_addr()
            );
            cssim::relay::serve(listener, store, config)?;
        }
    }
    Ok(crate::EXIT_OK)
}

/// `cssim moderate`.
#[derive(Subcommand, Debug)]
pub enum ModerateCommand {
    /// List the reports in the queue (opens each with the moderator key).
    List {
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        ws: WorkspaceOpt,
    },
    /// Open one report: matches and evidence.
    Open {
        /// Report id (a prefix is enough).
        id: String,
        /// Write attachment evidence to this folder.
        #[arg(long, value_name = "DIR")]
        save: Option<PathBuf>,
        #[command(flatten)]
        ws: WorkspaceOpt,
    },
    /// Record a decision on a report.
    Resolve {
        /// Report id (a prefix is enough).
        id: String,
        /// confirmed or false-positive.
        #[arg(long)]
        outcome: Outcome,
        #[command(flatten)]
        ws: WorkspaceOpt,
    },
}

/// `cssim moderate`.
pub fn run_moderate(cmd: ModerateCommand) -> anyhow::Result<u8> {
    let (ws, want) = match &cmd {
        ModerateCommand::List { ws, .. } => (ws.open()?, None),
        ModerateCommand::Open { ws, id, .. } | ModerateCommand::Resolve { ws, id, .. } => {
            (ws.open()?, Some(id.clone()))
        }
    };
    let moderator = ws.identity(&ws.config().moderator)?;
    let relay = ws.relay_as(&ws.config().moderator)?;
    let reviewed = moderation::review(&*relay, &moderator, None)?;
    let find = |prefix: &str| {
        let found: Vec<_> = reviewed
            .iter()
            .filter(|r| hex::encode(r.stored.id).starts_with(prefix))
            .collect();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(anyhow::anyhow!("no report with id {prefix}")),
            _ => Err(anyhow::anyhow!("id prefix {prefix} is ambiguous")),
        }
    };
    let verdict = |r: &moderation::Reviewed| {
        r.verification
            .as_ref()
            .map_or_else(|| "unverified".to_string(), ToString::to_string)
    };
    match cmd {
        ModerateCommand::List { json, .. } => {
            if json {
                let v: Vec<_> = reviewed
                    .iter()
                    .map(|r| match &r.opened {
                        Ok(o) => json!({"id": hex::encode(r.stored.id), "status": r.stored.status, "account": o.report.account,
                                        "submitted_by": r.stored.submitted_by,
                                        "verified": r.verification.as_ref().is_some_and(|v| v.verified),
                                        "problems": r.verification.as_ref().map(|v| v.problems.clone()).unwrap_or_default(),
                                        "matches": o.report.matches.len(), "account_matches": o.report.account_matches}),
                        Err(e) => json!({"id": hex::encode(r.stored.id), "status": r.stored.status, "verified": false, "error": e}),
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else if reviewed.is_empty() {
                println!("no reports");
            } else {
                for r in &reviewed {
                    let id = hex::encode(r.stored.id);
                    match &r.opened {
                        Ok(o) => println!(
                            "{}  {:<15} account {:<10} {} match(es): {}  [{}]",
                            &id[..12],
                            r.stored.status,
                            o.report.account,
                            o.report.matches.len(),
                            o.report
                                .matches
                                .iter()
                                .map(|m| m.part.to_string())
                                .collect::<Vec<_>>()
                                .join(", "),
                            verdict(r)
                        ),
                        Err(e) => {
                            println!("{}  {:<15} cannot open: {e}", &id[..12], r.stored.status)
                        }
                    }
                }
            }
        }
        ModerateCommand::Open { save, .. } => {
            let r = find(want.as_deref().unwrap_or_default())?;
            let rep = &r
                .opened
                .as_ref()
                .map_err(|e| anyhow::anyhow!("opening the report: {e}"))?
                .report;
            println!("report {} ({})", rep.id, r.stored.status);
            println!("check: {}", verdict(r));
            println!(
                "account {} → {} at {}, policy {}",
                rep.account, rep.recipient, rep.sent_at, rep.policy
            );
            println!(
                "the account had {} matching message(s)",
                rep.account_matches
            );
            for m in &rep.matches {
                println!("  {m}");
            }
            for e in &rep.evidence {
                match (&e.text, &e.bytes_hex) {
                    (Some(t), _) => println!("  evidence {}: {t:?}", e.part),
                    (None, Some(b)) => {
                        println!("  evidence {}: {} bytes", e.part, e.size);
                        if let Some(dir) = &save {
                            std::fs::create_dir_all(dir)?;
                            let path = dir.join(format!(
                                "{}-{}",
                                &rep.id[..8],
                                e.part.replace([' ', '#', '/'], "_")
                            ));
                            std::fs::write(&path, hex::decode(b)?)?;
                            println!("    saved to {}", path.display());
                        }
                    }
                    _ => {}
                }
            }
        }
        ModerateCommand::Resolve { outcome, .. } => {
            let r = find(want.as_deref().unwrap_or_default())?;
            relay.resolve_report(r.stored.id, outcome)?;
            println!(
                "report {} resolved: {outcome:?}",
                &hex::encode(r.stored.id)[..12]
            );
        }
    }
    Ok(crate::EXIT_OK)
}
