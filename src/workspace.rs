//! A workspace: one folder holding everything a small simulated deployment
//! needs — identities, the hash set and its issuer key, the scanning policy,
//! the relay database, and each client's local state.
//!
//! ```text
//! DIR/workspace.toml           relay, hash set, issuer key, policy, moderator
//! DIR/policy.toml              the scanning policy (see scan::Policy)
//! DIR/hashsets/demo.hashset    the signed hash set; demo-issuer.key.pub verifies it
//! DIR/keys/NAME.key, NAME.pub  identities: X25519 + derived Ed25519 (secret files 0600)
//! DIR/state/NAME.db            a device's state: pinned keys, held reports,
//!                              received messages (SQLite, 0600)
//! DIR/relay.db                 the embedded relay (unless relay is http://…)
//! DIR/relay-ca.pem             the CA an https:// relay's certificate must
//!                              chain to (only with `cssim init --relay-ca`)
//! ```
//!
//! [`Workspace::init_with`] builds it all in a hidden sibling folder
//! and renames it into place, so a failed init leaves nothing behind;
//! [`Workspace::discover`] finds it from any folder inside it.
//!
//! An `https://` relay is trusted if its certificate chains to the CA in
//! the file `CSSIM_RELAY_CA` names (when set), else to `relay_ca` in
//! `workspace.toml`, else to Mozilla's roots.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::e2ee::{Identity, PublicIdentity, PublicKey};
use crate::hashset::{SignedSet, sign};
use crate::relay::{self, Relay, Signer};
use crate::scan::Policy;

/// The demo hash set shipped with cssim (built from the stand-in images in
/// `examples/images/listed/`; see `hashsets/README.md`).
pub const DEMO_HASHSET: &[u8] = include_bytes!("../hashsets/demo.hashset");
/// The public key of the demo hash set's issuer.
pub const DEMO_ISSUER_PUB: &str = include_str!("../hashsets/demo-issuer.key.pub");

/// Names `cssim init` creates identities for unless told otherwise
/// (`--users`).
pub const DEMO_USERS: [&str; 2] = ["alice", "bob"];
/// The folder commands fall back to when no `workspace.toml` is found in
/// the current folder or its parents.
pub const DEFAULT_DIR: &str = "cssim-workspace";
/// The moderator's identity name.
pub const MODERATOR: &str = "moderator";
/// The relay operator's identity name (reads the relay's overview).
pub const OPERATOR: &str = "operator";
/// The environment variable naming a CA file for an `https://` relay; it
/// takes precedence over `relay_ca` in `workspace.toml`.
pub const RELAY_CA_ENV: &str = "CSSIM_RELAY_CA";
/// Where `cssim init --relay-ca FILE` copies the CA certificate.
const RELAY_CA_FILE: &str = "relay-ca.pem";

/// `workspace.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the relay is: a database path (relative to the workspace),
    /// `http://HOST:PORT` or `https://HOST:PORT`.
    pub relay: String,
    /// The PEM file (relative to the workspace) of the CA an `https://`
    /// relay's certificate must chain to; without it, Mozilla's roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_ca: Option<PathBuf>,
    /// The hash set file.
    pub hashset: PathBuf,
    /// The issuer public key the hash set must be signed by.
    pub issuer: PathBuf,
    /// The policy file.
    pub policy: PathBuf,
    /// The moderator's identity name.
    pub moderator: String,
    /// The relay operator's identity name.
    #[serde(default = "default_operator")]
    pub operator: String,
}

fn default_operator() -> String {
    OPERATOR.to_string()
}

/// What can go wrong with a workspace.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A workspace file could not be read or written.
    #[error("{}: {}", path.display(), crate::files::describe_io_error(source))]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A workspace file (or its folder) could not be written.
    #[error(transparent)]
    Write(#[from] crate::files::WriteError),
    /// The folder is not a workspace.
    #[error("{}: not a cssim workspace (no workspace.toml); create one with `cssim init {}`", path.display(), path.display())]
    NotAWorkspace {
        /// The folder.
        path: PathBuf,
    },
    /// No workspace was found from `start` up, nor in the default folder.
    #[error(
        "no cssim workspace here: no workspace.toml in {} or any folder above it, and no ./{DEFAULT_DIR}; \
         create one with `cssim init`, or name one with -w DIR",
        start.display()
    )]
    NotFound {
        /// Where the search started.
        start: PathBuf,
    },
    /// A user name `init` was asked to register is already on the relay.
    #[error(
        "user '{name}' is already registered on the relay {relay}: to join it with other names, \
         use `cssim init --users NAME,…` (or `--users ''` to register nobody)"
    )]
    NameTaken {
        /// The name.
        name: String,
        /// The relay.
        relay: String,
    },
    /// The folder already holds a workspace.
    #[error("{}: a workspace already exists here", path.display())]
    Exists {
        /// The folder.
        path: PathBuf,
    },
    /// A file's contents are wrong.
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No identity of that name.
    #[error("no identity '{name}' in this workspace (create it with `cssim id new {name}`)")]
    UnknownIdentity {
        /// The name.
        name: String,
    },
    /// From the keys module.
    #[error(transparent)]
    Keys(#[from] crate::e2ee::Error),
    /// From the hash set.
    #[error(transparent)]
    HashSet(#[from] crate::hashset::Error),
    /// From the relay.
    #[error(transparent)]
    Relay(#[from] relay::Error),
    /// From the policy.
    #[error(transparent)]
    Policy(#[from] crate::scan::PolicyError),
    /// A peer's key differs from the one pinned on first contact.
    #[error(
        "the relay now gives a different key for '{peer}' (pinned {pinned}, offered {offered}): \
         {peer} may have a new device, or the relay may be substituting keys to read the messages. \
         Compare the safety number {safety_number} with {peer} in person, then accept the new key \
         with `cssim id trust {peer} --as {me}`"
    )]
    KeyChanged {
        /// The peer.
        peer: String,
        /// Whose device pinned the old key.
        me: String,
        /// Fingerprint of the pinned key.
        pinned: String,
        /// Fingerprint of the key now offered.
        offered: String,
        /// The safety number with the offered key.
        safety_number: String,
    },
}

/// An open workspace.
#[derive(Clone, Debug)]
pub struct Workspace {
    root: PathBuf,
    config: Config,
    /// The CA file `init` was given: used for every connection `init`
    /// makes, ahead of `CSSIM_RELAY_CA`.
    init_ca: Option<PathBuf>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` atomically ([`crate::files::write_atomic`]),
/// creating its folder, so a crash never leaves a half-written file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    crate::files::create_parent(path)?;
    Ok(crate::files::write_atomic(path, bytes, false)?)
}

/// The entries `init` creates at the top of a workspace folder.
fn top_level_entries(dir: &Path) -> Result<Vec<std::ffi::OsString>, Error> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        names.push(entry.map_err(io(dir))?.file_name());
    }
    // workspace.toml last: its presence means the workspace is complete.
    names.sort_by_key(|n| n == "workspace.toml");
    Ok(names)
}

/// Creates `dir`'s missing ancestors; returns those it created, deepest
/// first, so a failed `init` can remove them again.
fn create_ancestors(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut missing = Vec::new();
    let mut d = dir;
    while !d.as_os_str().is_empty() && !d.exists() {
        missing.push(d.to_path_buf());
        match d.parent() {
            Some(p) => d = p,
            None => break,
        }
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    Ok(missing)
}

fn fsync_dir(dir: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io(dir))?;
    let _ = dir;
    Ok(())
}

impl Workspace {
    /// Creates a workspace in `root` with the demo users alice and bob; see
    /// [`Workspace::init_with`].
    pub fn init(root: &Path, relay: Option<&str>) -> Result<Workspace, Error> {
        Workspace::init_with(root, relay, None, &DEMO_USERS)
    }

    /// Creates a workspace in `root` (which may exist but must not hold
    /// one): identities for `users`, the moderator and the operator, the
    /// demo hash set and its issuer key, the default policy, and an
    /// embedded relay with `users` registered — or `relay` if given (a
    /// database path, relative to the workspace, `http://…` or
    /// `https://…`). With no users it joins an existing relay without
    /// registering anyone. An `https://` relay whose certificate is not
    /// signed by a public CA needs `relay_ca`, the PEM file of the CA that
    /// signed it (copied into the workspace as `relay-ca.pem`).
    ///
    /// All or nothing: the workspace is built in a hidden sibling folder
    /// and renamed into place only when complete, so a failure (an
    /// unreachable relay, a name already taken) leaves nothing behind and a
    /// retry starts afresh. Names already registered on the relay are
    /// refused before anything is registered; a relay that fails between
    /// two registrations keeps the ones it accepted (a relay has no way to
    /// unregister), so the retry needs other names.
    pub fn init_with(
        root: &Path,
        relay: Option<&str>,
        relay_ca: Option<&Path>,
        users: &[&str],
    ) -> Result<Workspace, Error> {
        if root.join("workspace.toml").exists() {
            return Err(Error::Exists {
                path: root.to_path_buf(),
            });
        }
        let config = Config {
            relay: relay.unwrap_or("relay.db").to_string(),
            relay_ca: relay_ca.map(|_| PathBuf::from(RELAY_CA_FILE)),
            hashset: PathBuf::from("hashsets/demo.hashset"),
            issuer: PathBuf::from("hashsets/demo-issuer.key.pub"),
            policy: PathBuf::from("policy.toml"),
            moderator: MODERATOR.to_string(),
            operator: OPERATOR.to_string(),
        };
        for (i, name) in users.iter().enumerate() {
            relay::validate_name(name)?;
            if *name == config.moderator || *name == config.operator || users[..i].contains(name) {
                return Err(Error::Invalid {
                    path: root.to_path_buf(),
                    reason: format!(
                        "cannot create user '{name}': the name is taken (the moderator, the operator, or listed twice)"
                    ),
                });
            }
        }
        if root.exists() && !root.is_dir() {
            return Err(Error::Invalid {
                path: root.to_path_buf(),
                reason: "exists and is not a folder".into(),
            });
        }
        // `cssim init .` or `init ..`: the folder's real name and parent,
        // so the temporary folder is its sibling, not inside it.
        let named = if root.exists() {
            root.canonicalize().map_err(io(root))?
        } else {
            std::path::absolute(root).map_err(io(root))?
        };
        let parent = match named.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let leaf = named
            .file_name()
            .map_or_else(|| "workspace".into(), |n| n.to_string_lossy().into_owned());
        let created = create_ancestors(&parent)?;
        let result = (|| {
            // A sibling, so a relay path relative to the workspace (such as
            // `../shared.db`) means the same while building as after.
            let tmp = tempfile::Builder::new()
                .prefix(&format!(".{leaf}.cssim-init-"))
                .tempdir_in(&parent)
                .map_err(io(&parent))?;
            // The CA given to init is the one every connection init makes
            // checks (and the one kept); without one, CSSIM_RELAY_CA as for
            // any command.
            let building = Workspace {
                root: tmp.path().to_path_buf(),
                config: config.clone(),
                init_ca: relay_ca.map(Path::to_path_buf),
            };
            if let Some(ca) = relay_ca {
                let pem = std::fs::read(ca).map_err(io(ca))?;
                write_atomic(&tmp.path().join(RELAY_CA_FILE), &pem)?;
            }
            building.build(users)?;
            building.move_into(&named)?;
            // Renamed away: nothing is left to clean up.
            let _ = tmp.keep();
            Ok(Workspace {
                root: root.to_path_buf(),
                config: config.clone(),
                init_ca: None,
            })
        })();
        if result.is_err() {
            for dir in &created {
                let _ = std::fs::remove_dir(dir);
            }
        }
        result
    }

    /// Fills the (empty) folder: reaches the relay, checks the names are
    /// free, writes every file, and registers the users last.
    fn build(&self, users: &[&str]) -> Result<(), Error> {
        let root = &self.root;
        let relay = self.relay()?;
        relay.relay_key()?;
        // A served relay tells only its registered users who is registered:
        // then the first name is checked by registering it, and the others
        // with a request signed by the first.
        let mut checked = self.names_free(&*relay, users)?;
        drop(relay);
        let config = &self.config;
        write_atomic(&root.join(&config.hashset), DEMO_HASHSET)?;
        write_atomic(&root.join(&config.issuer), DEMO_ISSUER_PUB.as_bytes())?;
        write_atomic(
            &root.join(&config.policy),
            Policy::default().to_toml().as_bytes(),
        )?;
        for name in [MODERATOR, OPERATOR] {
            self.new_identity(name)?;
        }
        for (i, name) in users.iter().enumerate() {
            if !checked && i == 1 {
                checked = self.names_free(&*self.relay_as(users[0])?, &users[1..])?;
            }
            match self.new_identity(name) {
                Err(Error::Relay(relay::Error::UserExists { name })) => {
                    return Err(Error::NameTaken {
                        name,
                        relay: config.relay.clone(),
                    });
                }
                other => other?,
            };
        }
        let toml = toml::to_string_pretty(config).map_err(|e| Error::Invalid {
            path: root.join("workspace.toml"),
            reason: e.to_string(),
        })?;
        // Written last: a workspace.toml means the workspace is complete.
        write_atomic(&root.join("workspace.toml"), toml.as_bytes())
    }

    /// Whether none of `names` is registered on `relay` (an error naming
    /// the first that is); `false` when the relay will not say.
    fn names_free(&self, relay: &dyn Relay, names: &[&str]) -> Result<bool, Error> {
        for name in names {
            match relay.user_keys(name) {
                Err(relay::Error::UnknownUser { .. }) => {}
                Err(relay::Error::Unauthorized { .. } | relay::Error::Forbidden { .. }) => {
                    return Ok(false);
                }
                Err(e) => return Err(e.into()),
                Ok(_) => {
                    return Err(Error::NameTaken {
                        name: name.to_string(),
                        relay: self.config.relay.clone(),
                    });
                }
            }
        }
        Ok(true)
    }

    /// Moves this complete workspace to `to`: one rename when `to` does
    /// not exist; otherwise entry by entry (workspace.toml last), after
    /// checking that none of them is there already. An existing folder is
    /// never replaced: it may be someone's current folder, and it keeps its
    /// owner and mode.
    fn move_into(&self, to: &Path) -> Result<(), Error> {
        if !to.exists() {
            std::fs::rename(&self.root, to).map_err(io(to))?;
        } else {
            let names = top_level_entries(&self.root)?;
            if let Some(taken) = names.iter().find(|n| to.join(n).exists()) {
                return Err(Error::Invalid {
                    path: to.join(taken),
                    reason:
                        "already exists; not overwriting it (remove it, or pick another folder)"
                            .into(),
                });
            }
            for name in &names {
                let dest = to.join(name);
                std::fs::rename(self.root.join(name), &dest).map_err(io(&dest))?;
            }
            std::fs::remove_dir(&self.root).map_err(io(&self.root))?;
            fsync_dir(to)?;
        }
        fsync_dir(
            to.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        )
    }

    /// Finds the workspace for a command run in `start`: the nearest of
    /// `start` and its parents holding a `workspace.toml` (as git finds its
    /// repository), else `start/cssim-workspace`.
    pub fn discover(start: &Path) -> Result<Workspace, Error> {
        for dir in start.ancestors() {
            if dir.join("workspace.toml").is_file() {
                return Workspace::open(dir);
            }
        }
        let fallback = start.join(DEFAULT_DIR);
        if fallback.join("workspace.toml").is_file() {
            return Workspace::open(&fallback);
        }
        Err(Error::NotFound {
            start: start.to_path_buf(),
        })
    }

    /// Opens the workspace in `root`.
    pub fn open(root: &Path) -> Result<Workspace, Error> {
        let path = root.join("workspace.toml");
        if !path.exists() {
            return Err(Error::NotAWorkspace {
                path: root.to_path_buf(),
            });
        }
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        let config: Config = toml::from_str(&text).map_err(|e| Error::Invalid {
            path: path.clone(),
            reason: e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        })?;
        Ok(Workspace {
            root: root.to_path_buf(),
            config,
            init_ca: None,
        })
    }

    /// The workspace folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn key_path(&self, name: &str) -> PathBuf {
        self.root.join("keys").join(format!("{name}.key"))
    }

    /// Creates identity `name` (key files under `keys/`) and registers it
    /// with the relay (a request signed by the new key), unless it is the
    /// moderator or the operator (who have no mailbox).
    pub fn new_identity(&self, name: &str) -> Result<PublicIdentity, Error> {
        relay::validate_name(name)?;
        let path = self.key_path(name);
        if path.exists() {
            return Err(Error::Invalid {
                path,
                reason: format!("identity '{name}' already exists"),
            });
        }
        let id = Arc::new(Identity::generate());
        if name != self.config.moderator && name != self.config.operator {
            // Registered first: a name the relay refuses leaves no key files.
            self.relay_with(name, id.clone())?
                .register(name, &id.public_identity())?;
        }
        id.write_secret(&path)?;
        id.public_identity().write(&path.with_extension("pub"))?;
        Ok(id.public_identity())
    }

    /// Loads identity `name`.
    pub fn identity(&self, name: &str) -> Result<Identity, Error> {
        let path = self.key_path(name);
        if !path.exists() {
            return Err(Error::UnknownIdentity {
                name: name.to_string(),
            });
        }
        Ok(Identity::read_secret(&path)?)
    }

    /// The moderator's public key.
    pub fn moderator_key(&self) -> Result<PublicKey, Error> {
        let path = self.key_path(&self.config.moderator).with_extension("pub");
        Ok(PublicKey::read(&path)?)
    }

    /// Connects to the relay without a key (enough for the embedded
    /// store, and for the relay's own public key over HTTP).
    pub fn relay(&self) -> Result<Box<dyn Relay>, Error> {
        self.connect(None)
    }

    /// Connects to the relay acting as identity `name` (over HTTP, every
    /// request is signed with its key; the moderator and the operator sign
    /// as `@moderator` and `@operator`).
    pub fn relay_as(&self, name: &str) -> Result<Box<dyn Relay>, Error> {
        let identity = Arc::new(self.identity(name)?);
        self.relay_with(name, identity)
    }

    /// Connects to the relay acting as `name` with `identity`.
    pub fn relay_with(&self, name: &str, identity: Arc<Identity>) -> Result<Box<dyn Relay>, Error> {
        let key_id = if name == self.config.moderator {
            relay::MODERATOR_KEY_ID.to_string()
        } else if name == self.config.operator {
            relay::OPERATOR_KEY_ID.to_string()
        } else {
            name.to_string()
        };
        self.connect(Some(Signer { key_id, identity }))
    }

    /// The CA file an `https://` relay's certificate must chain to: while
    /// `init` runs, the one it was given; otherwise `CSSIM_RELAY_CA`, else
    /// `relay_ca` (relative to the workspace), else none (Mozilla's roots).
    pub fn relay_ca(&self) -> Option<PathBuf> {
        self.init_ca.clone().or_else(|| {
            std::env::var_os(RELAY_CA_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| self.config.relay_ca.as_ref().map(|p| self.root.join(p)))
        })
    }

    fn connect(&self, signer: Option<Signer>) -> Result<Box<dyn Relay>, Error> {
        let ca = self.relay_ca();
        let spec = &self.config.relay;
        if spec.contains("://") {
            Ok(relay::connect(spec, signer, ca.as_deref())?)
        } else {
            Ok(relay::connect(
                &self.root.join(spec).to_string_lossy(),
                signer,
                None,
            )?)
        }
    }

    /// Loads and verifies the hash set against the configured issuer key.
    pub fn hashset(&self) -> Result<SignedSet, Error> {
        let issuer = sign::IssuerKey::read(&self.root.join(&self.config.issuer))?;
        Ok(SignedSet::open(
            &self.root.join(&self.config.hashset),
            &issuer.key,
        )?)
    }

    /// Loads the policy.
    pub fn policy(&self) -> Result<Policy, Error> {
        Ok(Policy::load(&self.root.join(&self.config.policy))?)
    }

    /// Path of a device's local state database.
    pub fn device_path(&self, name: &str) -> PathBuf {
        self.root.join("state").join(format!("{name}.db"))
    }

    /// Path of identity `name`'s public key file.
    pub fn public_key_path(&self, name: &str) -> PathBuf {
        self.key_path(name).with_extension("pub")
    }
}
