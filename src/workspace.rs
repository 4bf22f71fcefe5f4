//! A workspace: one folder holding everything a small simulated deployment
//! needs — identities, the hash set and its issuer key, the scanning policy,
//! the relay database, and each client's local state.
//!
//! ```text
//! DIR/workspace.toml           relay, hash set, issuer key, policy, moderator
//! DIR/policy.toml              the scanning policy (see scan::Policy)
//! DIR/hashsets/demo.hashset    the signed hash set; demo-issuer.pub verifies it
//! DIR/keys/NAME.key, NAME.pub  X25519 identities (secret files are 0600)
//! DIR/state/NAME.json          a client's matches and unreleased reports
//! DIR/relay.db                 the embedded relay (unless relay is http://…)
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::e2ee::{Identity, PublicKey};
use crate::hashset::{HashSet, sign};
use crate::relay::{self, Relay};
use crate::scan::Policy;

/// The demo hash set shipped with cssim (built from the stand-in images in
/// `examples/images/listed/`; see `hashsets/README.md`).
pub const DEMO_HASHSET: &[u8] = include_bytes!("../hashsets/demo.hashset");
/// The public key of the demo hash set's issuer.
pub const DEMO_ISSUER_PUB: &str = include_str!("../hashsets/demo-issuer.key.pub");

/// Names `cssim init` creates identities for.
pub const DEMO_USERS: [&str; 2] = ["alice", "bob"];
/// The moderator's identity name.
pub const MODERATOR: &str = "moderator";

/// `workspace.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the relay is: a database path (relative to the workspace) or `http://HOST:PORT`.
    pub relay: String,
    /// The hash set file.
    pub hashset: PathBuf,
    /// The issuer public key the hash set must be signed by.
    pub issuer: PathBuf,
    /// The policy file.
    pub policy: PathBuf,
    /// The moderator's identity name.
    pub moderator: String,
}

/// What can go wrong with a workspace.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A workspace file could not be read or written.
    #[error("{}: {}", path.display(), crate::hash::describe_io_error(source))]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The folder is not a workspace.
    #[error("{}: not a cssim workspace (no workspace.toml); create one with `cssim init {}`", path.display(), path.display())]
    NotAWorkspace {
        /// The folder.
        path: PathBuf,
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
}

/// An open workspace.
#[derive(Debug)]
pub struct Workspace {
    root: PathBuf,
    config: Config,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` atomically (see [`crate::atomic`]), creating
/// its folder, so a crash never leaves a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    crate::atomic::write_atomic(path, bytes, false).map_err(io(path))
}

impl Workspace {
    /// Creates a workspace in `root` (which may exist but must not hold one):
    /// identities for alice, bob and the moderator, the demo hash set and its
    /// issuer key, the default policy, and an embedded relay with alice and
    /// bob registered — or `relay` if given (a database path or `http://…`).
    pub fn init(root: &Path, relay: Option<&str>) -> Result<Workspace, Error> {
        if root.join("workspace.toml").exists() {
            return Err(Error::Exists {
                path: root.to_path_buf(),
            });
        }
        std::fs::create_dir_all(root).map_err(io(root))?;
        let config = Config {
            relay: relay.unwrap_or("relay.db").to_string(),
            hashset: PathBuf::from("hashsets/demo.hashset"),
            issuer: PathBuf::from("hashsets/demo-issuer.pub"),
            policy: PathBuf::from("policy.toml"),
            moderator: MODERATOR.to_string(),
        };
        let ws = Workspace {
            root: root.to_path_buf(),
            config,
        };
        // Reach the relay before writing anything, so that an unreachable or
        // broken relay leaves no half-made workspace behind.
        ws.relay()?.overview()?;
        let config = &ws.config;
        write_atomic(&root.join(&config.hashset), DEMO_HASHSET)?;
        write_atomic(&root.join(&config.issuer), DEMO_ISSUER_PUB.as_bytes())?;
        write_atomic(
            &root.join(&config.policy),
            Policy::default().to_toml().as_bytes(),
        )?;
        for name in DEMO_USERS.iter().chain([&MODERATOR]) {
            ws.new_identity(name)?;
        }
        let toml = toml::to_string_pretty(&ws.config).map_err(|e| Error::Invalid {
            path: root.join("workspace.toml"),
            reason: e.to_string(),
        })?;
        // Written last: a workspace.toml means the workspace is complete.
        write_atomic(&root.join("workspace.toml"), toml.as_bytes())?;
        Ok(ws)
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
    /// with the relay, unless it is the moderator (who has no mailbox).
    pub fn new_identity(&self, name: &str) -> Result<PublicKey, Error> {
        relay::validate_name(name)?;
        let path = self.key_path(name);
        if path.exists() {
            return Err(Error::Invalid {
                path,
                reason: format!("identity '{name}' already exists"),
            });
        }
        let id = Identity::generate();
        id.write_secret(&path)?;
        id.public().write(&path.with_extension("pub"))?;
        if name != self.config.moderator {
            self.relay()?.register(name, &id.public().to_bytes())?;
        }
        Ok(id.public())
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

    /// Connects to the relay.
    pub fn relay(&self) -> Result<Box<dyn Relay>, Error> {
        let spec = &self.config.relay;
        if spec.starts_with("http://") || spec.starts_with("https://") {
            Ok(relay::connect(spec)?)
        } else {
            Ok(relay::connect(&self.root.join(spec).to_string_lossy())?)
        }
    }

    /// Loads and verifies the hash set against the configured issuer key.
    pub fn hashset(&self) -> Result<HashSet, Error> {
        let issuer = sign::PublicKey::read(&self.root.join(&self.config.issuer))?;
        Ok(HashSet::open(
            &self.root.join(&self.config.hashset),
            &issuer.key,
        )?)
    }

    /// Loads the policy.
    pub fn policy(&self) -> Result<Policy, Error> {
        Ok(Policy::load(&self.root.join(&self.config.policy))?)
    }

    /// Path of a client's local state file.
    pub fn state_path(&self, name: &str) -> PathBuf {
        self.root.join("state").join(format!("{name}.json"))
    }
}
