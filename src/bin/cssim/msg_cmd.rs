//! The messaging commands: `init`, `id new`, `send`, `inbox`, `relay`, `moderate`.

use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::{Args, Subcommand};
use cssim::client::{Device, Inbox, Received, Saved, save_attachments};
use cssim::e2ee::PublicIdentity;
use cssim::message::Attachment;
use cssim::moderation::{self, Outcome, ReportStatus};
use cssim::report::{Exporter, Json, Queue, ReportView, Table};
use cssim::workspace::{Error as WsError, Workspace};

use crate::style;

/// Where the workspace is (all messaging commands).
#[derive(Args, Debug, Clone)]
pub struct WorkspaceOpt {
    /// The workspace folder (created by `cssim init`). Without it: the
    /// nearest of the current folder and its parents that holds a
    /// workspace.toml (as git finds its repository), else ./cssim-workspace.
    #[arg(long, short = 'w', env = "CSSIM_WORKSPACE", value_name = "DIR")]
    pub workspace: Option<PathBuf>,
}

impl WorkspaceOpt {
    fn open(&self) -> anyhow::Result<Workspace> {
        Ok(match &self.workspace {
            Some(dir) => Workspace::open(dir)?,
            None => Workspace::discover(&std::env::current_dir()?)?,
        })
    }
}

/// `cssim init`.
#[derive(Args, Debug)]
#[command(after_help = "\
Creates DIR (default ./cssim-workspace) with identities alice, bob (or --users),
moderator and operator, the shipped demo hash set (stand-in images only) and its
issuer key, the default policy (policy.toml: edit it to change what is scanned and
what a match does), and an embedded relay database. Then try:
  cssim send --from alice --to bob --text 'hello'
  cssim inbox bob

All or nothing: the workspace is built in a hidden folder next to DIR and renamed
into place when complete, so a failure (relay unreachable, a name already taken)
leaves nothing behind.

Two workspaces can share one relay: serve it (cssim relay serve) or give the same
database file (--relay ../shared.db; a relative path is relative to the workspace),
and register different names in each (--users carol,dave). Users of the two
workspaces message each other directly: each device pins the other's key from the
relay's directory on first contact, no key import needed. Each workspace has its
own moderator key; a served relay accepts only the moderator key it was started with.")]
pub struct InitArgs {
    /// Folder to create the workspace in.
    #[arg(default_value = "cssim-workspace")]
    pub dir: PathBuf,
    /// Use a served relay (`http://127.0.0.1:PORT`, or `https://HOST:PORT`)
    /// or another database file instead of the workspace's own relay.db.
    #[arg(long, value_name = "URL|FILE")]
    pub relay: Option<String>,
    /// For an `https://` relay whose certificate is not signed by a public
    /// CA: the PEM certificate of the CA that signed it (copied into the
    /// workspace; `CSSIM_RELAY_CA=FILE` overrides it per command).
    #[arg(long, value_name = "FILE", requires = "relay")]
    pub relay_ca: Option<PathBuf>,
    /// The users to create and register, comma-separated. `--users ''`
    /// registers nobody (join a relay and add users later with `cssim id new`).
    #[arg(
        long,
        value_name = "NAMES",
        value_delimiter = ',',
        default_value = "alice,bob"
    )]
    pub users: Vec<String>,
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
scanning step took, and what was sent.

Exit status: 0 sent; 2 could not send (error on stderr); 3 not sent because the
policy blocks the message (the verdict is still printed).")]
pub struct SendArgs {
    /// Sender identity.
    #[arg(long)]
    pub from: String,
    /// Recipient user name.
    #[arg(long)]
    pub to: String,
    /// Message text; `-` reads it from standard input (for long texts: the
    /// shell limits the length of arguments).
    #[arg(long, value_name = "TEXT")]
    pub text: Option<String>,
    /// Read the message text from FILE (UTF-8; `-` is standard input).
    #[arg(long, value_name = "FILE", conflicts_with = "text")]
    pub text_file: Option<PathBuf>,
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
#[command(after_help = "\
Messages are fetched, stored on the device, acknowledged to the relay and shown
once. --peek shows them without acknowledging or marking them shown: the relay
offers them again and the next `cssim inbox` shows them (it reads the first page
the relay offers, up to 200 messages).

--save DIR writes each received image and file into DIR. The sender chooses an
attachment's name, so only its last part is kept (no folders, no `..`, no hidden
files), and an existing file is never replaced: photo.jpg, photo-1.jpg, … If
saving fails, the messages are not marked shown and come again.")]
pub struct InboxArgs {
    /// Whose inbox.
    pub name: String,
    /// Write received attachments to this folder (created if missing).
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,
    /// Show without acknowledging: the messages are shown again next time.
    #[arg(long)]
    pub peek: bool,
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
        anyhow::anyhow!(
            "{}: {}",
            path.display(),
            cssim::files::describe_io_error(&e)
        )
    })?;
    if meta.len() > max {
        bail!(
            "{}: attachment is {} bytes; the policy allows at most {max}",
            path.display(),
            meta.len()
        );
    }
    let bytes = std::fs::read(path).map_err(|e| {
        anyhow::anyhow!(
            "{}: {}",
            path.display(),
            cssim::files::describe_io_error(&e)
        )
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
    let users: Vec<&str> = args
        .users
        .iter()
        .map(|u| u.trim())
        .filter(|u| !u.is_empty())
        .collect();
    let ws = Workspace::init_with(
        &args.dir,
        args.relay.as_deref(),
        args.relay_ca.as_deref(),
        &users,
    )?;
    let config = ws.config();
    let identities: Vec<&str> = users
        .iter()
        .copied()
        .chain([config.moderator.as_str(), config.operator.as_str()])
        .collect();
    println!("created workspace {}", ws.root().display());
    println!(
        "  identities: {} (keys/, secret files 0600)",
        identities.join(", ")
    );
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

/// Reads all of `reader` as UTF-8 text of at most `max` bytes.
fn read_text(reader: impl std::io::Read, what: &str, max: u64) -> anyhow::Result<String> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    reader
        .take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| anyhow::anyhow!("{what}: {}", cssim::files::describe_io_error(&e)))?;
    if bytes.len() as u64 > max {
        bail!(
            "{what}: the text is more than {max} bytes; the policy allows at most {max} per part (max_attachment_bytes)"
        );
    }
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{what}: not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// The message text from `--text`, `--text -` or `--text-file`.
fn message_text(args: &SendArgs, max: u64) -> anyhow::Result<Option<String>> {
    let stdin = || read_text(std::io::stdin().lock(), "standard input", max);
    Ok(match (&args.text, &args.text_file) {
        (Some(t), _) if t == "-" => Some(stdin()?),
        (Some(t), _) => Some(t.clone()),
        (None, Some(f)) if f.as_os_str() == "-" => Some(stdin()?),
        (None, Some(f)) => {
            let file = std::fs::File::open(f).map_err(|e| {
                anyhow::anyhow!("{}: {}", f.display(), cssim::files::describe_io_error(&e))
            })?;
            Some(read_text(file, &f.display().to_string(), max)?)
        }
        (None, None) => None,
    })
}

/// `cssim send`.
pub fn run_send(args: SendArgs) -> anyhow::Result<u8> {
    let ws = args.ws.open()?;
    // The device loads the policy once; its size limit also bounds what is
    // read from disk here (a file over it is refused before it is read).
    let mut device = Device::open(&ws, &args.from)?;
    let max = device.policy().max_attachment_bytes;
    let text = message_text(&args, max)?;
    let mut attachments = Vec::new();
    for p in &args.attach {
        attachments.push(read_attachment(p, max)?);
    }
    attachments.extend(
        args.link
            .iter()
            .map(|url| Attachment::Link { url: url.clone() }),
    );
    if text.is_none() && attachments.is_empty() {
        bail!("nothing to send: give --text, --text-file, --attach or --link");
    }
    let outcome = device.send(&args.to, text, attachments)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        print!(
            "{}",
            Table::coloured(style::stdout_colour()).document(&outcome)?
        );
    }
    // Blocked by the policy: nothing was sent, which a script must be able
    // to tell from a message that went.
    Ok(if outcome.sent {
        crate::EXIT_OK
    } else {
        crate::EXIT_BLOCKED
    })
}

/// Saves the attachments of each readable message into `dir` (if given):
/// one list per received item.
fn save_all(received: &[Received], dir: Option<&Path>) -> Result<Vec<Vec<Saved>>, WsError> {
    received
        .iter()
        .map(|r| match (r, dir) {
            (Received::Message(m), Some(dir)) => save_attachments(dir, m),
            _ => Ok(Vec::new()),
        })
        .collect()
}

/// `cssim inbox`.
pub fn run_inbox(args: InboxArgs) -> anyhow::Result<u8> {
    let ws = args.ws.open()?;
    let mut device = Device::open(&ws, &args.name)?;
    let save = args.save.as_deref();
    let (received, saved) = if args.peek {
        let received = device.peek()?;
        let saved = save_all(&received, save)?;
        (received, saved)
    } else {
        // Saved before the messages are marked shown: if saving fails they
        // come again.
        device.inbox_then(|r| save_all(r, save))?
    };
    let inbox = Inbox::new(
        &args.name,
        args.peek,
        &received,
        save.is_some().then_some(saved.as_slice()),
    );
    if args.json {
        print!("{}", Json::pretty().document(&inbox)?);
    } else {
        print!(
            "{}",
            Table::coloured(style::stdout_colour()).document(&inbox)?
        );
        for (id, reason) in inbox.unreadable() {
            eprintln!("{}", style::error_line(&format!("message {id}: {reason}")));
        }
    }
    Ok(if inbox.unreadable().next().is_some() {
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
            let text = if json {
                Json::pretty().in_declared_order().document(&overview)?
            } else {
                Table::plain().document(&overview)?
            };
            print!("{text}");
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
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// CSV: a header, then one row a report.
        #[arg(long)]
        csv: bool,
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
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
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
        /// Replace an earlier decision (without it, a decided report is
        /// refused). Every decision stays in the report's history.
        #[arg(long)]
        change: bool,
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
    let want = want.as_deref().unwrap_or_default();
    match cmd {
        ModerateCommand::List { json, csv, .. } => {
            let queue = Queue::of(&reviewed);
            let text = if json {
                Json::pretty().document(&queue)?
            } else if csv {
                cssim::report::Csv.document(&cssim::report::QueueTable(&queue))?
            } else {
                Table::plain().document(&queue)?
            };
            print!("{text}");
        }
        ModerateCommand::Open { save, json, .. } => {
            let view = open_report(find_report(&reviewed, want)?, save.as_deref())?;
            let text = if json {
                Json::pretty().document(&view)?
            } else {
                Table::plain().document(&view)?
            };
            print!("{text}");
        }
        ModerateCommand::Resolve {
            outcome, change, ..
        } => {
            let r = find_report(&reviewed, want)?;
            relay.resolve_report(r.stored.id, outcome, change)?;
            let id = hex::encode(r.stored.id);
            match r.stored.status {
                ReportStatus::Open => println!("report {} resolved: {outcome}", &id[..12]),
                earlier => println!(
                    "report {} changed from {earlier} to {outcome} (both kept in its history)",
                    &id[..12]
                ),
            }
        }
    }
    Ok(crate::EXIT_OK)
}

/// The one report whose id starts with `prefix`.
fn find_report<'r>(
    reviewed: &'r [moderation::Reviewed],
    prefix: &str,
) -> anyhow::Result<&'r moderation::Reviewed> {
    let found: Vec<_> = reviewed
        .iter()
        .filter(|r| hex::encode(r.stored.id).starts_with(prefix))
        .collect();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(anyhow::anyhow!("no report with id {prefix}")),
        _ => Err(anyhow::anyhow!("id prefix {prefix} is ambiguous")),
    }
}

/// `cssim moderate open`: the report as the library's [`ReportView`], with
/// each attachment written to `save` (if given) and its path recorded.
fn open_report(r: &moderation::Reviewed, save: Option<&Path>) -> anyhow::Result<ReportView> {
    let mut view = ReportView::of(r).map_err(|e| anyhow::anyhow!("opening the report: {e}"))?;
    let Some(dir) = save else {
        return Ok(view);
    };
    let rep = &r
        .opened
        .as_ref()
        .map_err(|e| anyhow::anyhow!("opening the report: {e}"))?
        .report;
    for e in &rep.evidence {
        let Some(bytes) = &e.bytes else { continue };
        if e.text.is_some() {
            continue;
        }
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!(
            "{}-{}",
            &rep.id[..8],
            e.part.replace([' ', '#', '/'], "_")
        ));
        std::fs::write(&path, bytes)?;
        if let Some(v) = view.evidence.iter_mut().find(|v| v.part == e.part) {
            v.saved_to = Some(path);
        }
    }
    Ok(view)
}
