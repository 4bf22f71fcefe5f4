//! The scenario file: a platform, its users, its content, its offenders and
//! adversaries, its hash set and its policy (TOML; every field is documented
//! in `docs/SCENARIOS.md`). Unknown fields are refused with their line, and
//! contradictory values with the field and the constraint.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Error;
use crate::hash::Algorithm;
use crate::scan::Policy;

/// A whole scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A name for reports.
    #[serde(default)]
    pub name: String,
    /// The seed of every random choice.
    #[serde(default)]
    pub seed: u64,
    /// Independent runs; intervals are taken over them.
    #[serde(default = "default_replicates")]
    pub replicates: u32,
    /// Users, days and messages.
    pub population: Population,
    /// Where benign images and the match rates come from.
    pub content: Content,
    /// Users who share listed material.
    #[serde(default)]
    pub offenders: Offenders,
    /// Collision campaigns and list poisoning.
    #[serde(default)]
    pub adversaries: Adversaries,
    /// The hash set the clients scan against.
    #[serde(default)]
    pub hashset: HashsetSpec,
    /// The client's policy and the platform's stages after it.
    #[serde(default)]
    pub policy: PolicySpec,
    /// Stated costs (from `cssim bench`), for the latency figures.
    #[serde(default)]
    pub cost: Cost,
    /// What the report adds (extrapolation).
    #[serde(default, skip_serializing_if = "ReportSpec::is_empty")]
    pub report: ReportSpec,
}

/// What the report adds to the simulated figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// The per-user daily figures scaled to this many users, labelled as
    /// extrapolation (linear in users).
    #[serde(default)]
    pub extrapolate_users: Option<u64>,
}

impl ReportSpec {
    fn is_empty(&self) -> bool {
        self.extrapolate_users.is_none()
    }
}

fn default_replicates() -> u32 {
    10
}

/// Users, days and messages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    /// Number of users.
    pub users: u64,
    /// Number of simulated days.
    pub days: u32,
    /// Messages each user sends a day.
    pub messages: Messages,
    /// Share of messages carrying an image.
    #[serde(default = "default_image_share")]
    pub image_share: f64,
    /// Share of messages carrying a link.
    #[serde(default)]
    pub link_share: f64,
    /// Share of messages carrying another file.
    #[serde(default)]
    pub file_share: f64,
}

fn default_image_share() -> f64 {
    0.2
}

/// How many messages a user sends a day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "distribution", rename_all = "lowercase")]
pub enum Messages {
    /// Exactly `mean` (rounded) every day.
    Fixed {
        /// Messages a day.
        mean: f64,
    },
    /// Poisson with this mean, every user alike.
    Poisson {
        /// Mean messages a day.
        mean: f64,
    },
    /// Each user's daily mean drawn once from a lognormal with this mean
    /// and log-scale spread (heavy-tailed: a few users send most), then
    /// Poisson each day.
    Lognormal {
        /// Mean messages a day over users.
        mean: f64,
        /// Standard deviation of the logarithm.
        sigma: f64,
    },
}

impl Messages {
    /// The mean over users.
    pub fn mean(&self) -> f64 {
        match *self {
            Messages::Fixed { mean }
            | Messages::Poisson { mean }
            | Messages::Lognormal { mean, .. } => mean,
        }
    }
}

/// Which content model a scenario uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Rates measured by `cssim eval rates`, each replicate drawing from
    /// their posterior.
    Rates,
    /// Rates stated in the scenario (an assumption, labelled as such).
    Assumed,
    /// A folder of real images, hashed and looked up in the real set.
    Library,
}

/// Where benign images and the match rates come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Content {
    /// `rates`, `assumed` or `library`.
    pub source: Source,
    /// `rates`: a `cssim eval rates` results.json (relative to the scenario file).
    #[serde(default)]
    pub rates: Option<PathBuf>,
    /// The client's perceptual algorithm (`rates`: which entry of the file).
    #[serde(default = "default_algorithm")]
    pub algorithm: Algorithm,
    /// `assumed`: probability that one benign image falsely matches the list.
    #[serde(default)]
    pub false_match_rate: Option<f64>,
    /// `library`: a folder of real images (relative to the scenario file).
    #[serde(default)]
    pub library: Option<PathBuf>,
    /// `library`: the sender edits benign images get, as weighted edit chains.
    #[serde(default)]
    pub edits: Vec<WeightedEdit>,
    /// `library`: how each image message picks its library item.
    #[serde(default)]
    pub order: Order,
}

/// How a library image message picks its item.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Uniformly at random.
    #[default]
    Random,
    /// In turn: a user's j-th image of the day is item j (mod the library
    /// size), so a user who sends as many images as the library holds
    /// shares each once (the validity test).
    Cycle,
}

fn default_algorithm() -> Algorithm {
    Algorithm::Pdq
}

/// An edit chain and its weight in a mixture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedEdit {
    /// The chain's text (`none`, `jpeg:70+resize:0.5`).
    pub chain: String,
    /// Relative weight.
    #[serde(default = "one")]
    pub weight: f64,
}

fn one() -> f64 {
    1.0
}

/// How offenders edit what they share.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Behaviour {
    /// Listed items as they are.
    #[default]
    None,
    /// Ordinary edits (re-encoding, resizing).
    Casual,
    /// Edits chosen to evade.
    Evasive,
}

/// Users who share listed material.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offenders {
    /// Number of offenders (the first users; users are exchangeable).
    #[serde(default)]
    pub count: u64,
    /// Listed items each shares a day (Poisson mean).
    #[serde(default = "one")]
    pub items_per_day: f64,
    /// Their edit behaviour.
    #[serde(default)]
    pub behaviour: Behaviour,
    /// The edit chains they use (each item one, uniformly); `rates`: names
    /// of the file's genuine entries.
    #[serde(default)]
    pub edits: Vec<String>,
    /// `assumed`: probability that one shared item matches.
    #[serde(default)]
    pub detection_rate: Option<f64>,
    /// `library`: a folder of listed items (images whose hash is in the
    /// set); default: the library's images that match unedited.
    #[serde(default)]
    pub library: Option<PathBuf>,
    /// `evasive`: the attack budget their evasion is measured at.
    #[serde(default)]
    pub evasion: Option<Evasion>,
}

/// Evasion by a `cssim attack` within a budget, measured by
/// `cssim eval attacks`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evasion {
    /// The `cssim eval attacks` results.json (relative to the scenario file).
    pub attacks: PathBuf,
    /// The PSNR budget, dB: an attack counts when it succeeded with at
    /// least this PSNR.
    pub budget_psnr: f64,
}

/// Collision campaigns and list poisoning.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adversaries {
    /// Crafted benign images that match listed hashes, spread to users.
    #[serde(default)]
    pub collision: Option<Collision>,
    /// Entries added to the list that target a widely shared benign image.
    #[serde(default)]
    pub poisoning: Option<Poisoning>,
}

/// A collision campaign.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collision {
    /// Crafted images in the campaign.
    pub images: u64,
    /// Innocent users who receive and forward them.
    pub recipients: u64,
    /// Crafted images each recipient forwards a day (Poisson mean).
    pub per_day: f64,
    /// First day of the campaign (0-based).
    #[serde(default)]
    pub start_day: u32,
    /// Share of crafted images that match on the device.
    #[serde(default = "one")]
    pub match_rate: f64,
    /// Share that also pass the server's independent second hash.
    #[serde(default)]
    pub server_pass_rate: f64,
}

/// List poisoning (scope creep).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Poisoning {
    /// Entries added.
    #[serde(default = "one_u64")]
    pub entries: u64,
    /// Share of benign images that are the targeted image (a meme).
    pub image_share: f64,
    /// First day the entries are in the list (0-based).
    #[serde(default)]
    pub start_day: u32,
    /// Share of the targeted image's copies that match.
    #[serde(default = "one")]
    pub match_rate: f64,
    /// Share a human reviewer confirms (0: reviewers refuse the scope creep).
    #[serde(default)]
    pub reviewer_confirms: f64,
}

fn one_u64() -> u64 {
    1
}

/// How the hash set is represented.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Representation {
    /// The exact list.
    #[default]
    List,
    /// A Bloom filter at a false-positive rate.
    Bloom,
}

/// The hash set the clients scan against.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashsetSpec {
    /// A signed set file (`library`), relative to the scenario file.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// `library`: the set issuer's public key file (KEY.pub).
    #[serde(default)]
    pub issuer: Option<PathBuf>,
    /// Entries in the list (for the per-image false-match rate in `rates`).
    #[serde(default = "default_entries")]
    pub entries: u64,
    /// Matching threshold of the client's perceptual algorithm; when absent,
    /// the policy's.
    #[serde(default)]
    pub threshold: Option<u32>,
    /// List or Bloom.
    #[serde(default)]
    pub representation: Representation,
    /// Bloom: false-positive rate per lookup.
    #[serde(default)]
    pub bloom_fpr: Option<f64>,
}

fn default_entries() -> u64 {
    100_000
}

impl Default for HashsetSpec {
    fn default() -> HashsetSpec {
        HashsetSpec {
            file: None,
            issuer: None,
            entries: default_entries(),
            threshold: None,
            representation: Representation::List,
            bloom_fpr: None,
        }
    }
}

/// The client's policy (a `policy.toml`, fields overridable here) and the
/// platform's stages after it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicySpec {
    /// The client's policy file, relative to the scenario file.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// A second, independent hash on the server.
    #[serde(default)]
    pub server_hash: Option<ServerHash>,
    /// Human review.
    #[serde(default)]
    pub review: Review,
    /// Account action.
    #[serde(default)]
    pub action: Action,
    /// Appeals of wrongful actions.
    #[serde(default)]
    pub appeals: Appeals,
    /// Any field of the client's `policy.toml`, overriding the file's.
    #[serde(flatten)]
    pub client: toml::Table,
}

/// The server's second hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerHash {
    /// `rates`: the algorithm whose measured rates apply.
    #[serde(default)]
    pub algorithm: Option<Algorithm>,
    /// `rates`: its threshold.
    #[serde(default)]
    pub threshold: Option<u32>,
    /// `assumed`: share of true matches that pass.
    #[serde(default)]
    pub true_pass: Option<f64>,
    /// `assumed`: share of false matches that pass.
    #[serde(default)]
    pub false_pass: Option<f64>,
}

/// Human review.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// Probability that a reviewer decides an item correctly.
    #[serde(default = "default_accuracy")]
    pub accuracy: f64,
    /// Minutes per item.
    #[serde(default = "default_minutes")]
    pub minutes_per_item: f64,
    /// Reviewers.
    #[serde(default = "default_reviewers")]
    pub reviewers: u32,
    /// Working hours each reviewer gives a day.
    #[serde(default = "default_hours")]
    pub hours_per_day: f64,
}

fn default_accuracy() -> f64 {
    0.98
}
fn default_minutes() -> f64 {
    2.0
}
fn default_reviewers() -> u32 {
    10
}
fn default_hours() -> f64 {
    8.0
}

impl Default for Review {
    fn default() -> Review {
        Review {
            accuracy: default_accuracy(),
            minutes_per_item: default_minutes(),
            reviewers: default_reviewers(),
            hours_per_day: default_hours(),
        }
    }
}

impl Review {
    /// Items the team reviews a day: reviewers × hours × 60 / minutes per item.
    pub fn capacity_per_day(&self) -> u64 {
        (f64::from(self.reviewers) * self.hours_per_day * 60.0 / self.minutes_per_item).floor()
            as u64
    }
}

/// Account action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// Confirmed reports before the account is actioned (suspended).
    #[serde(default = "one_u32")]
    pub after_confirmed: u32,
}

fn one_u32() -> u32 {
    1
}

impl Default for Action {
    fn default() -> Action {
        Action { after_confirmed: 1 }
    }
}

/// Appeals.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Appeals {
    /// Share of wrongly actioned users who appeal.
    #[serde(default)]
    pub share: f64,
    /// Share of appeals that succeed (the account is restored).
    #[serde(default)]
    pub success: f64,
}

/// Stated costs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cost {
    /// Milliseconds of device time to scan one image (a `cssim bench` figure).
    #[serde(default)]
    pub scan_ms_per_image: Option<f64>,
    /// Where that figure comes from (machine, command).
    #[serde(default)]
    pub source: String,
    /// A `cssim bench --json` output (relative to the scenario file): the
    /// measured cost per image and text message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench: Option<PathBuf>,
}

/// The names of [`PolicySpec`]'s own fields (all others are the client's).
const PLATFORM_FIELDS: [&str; 5] = ["file", "server_hash", "review", "action", "appeals"];

/// A scenario with its file's location and the client policy resolved.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The scenario as written.
    pub scenario: Scenario,
    /// The client's policy, parsed by the client's own parser.
    pub policy: Policy,
    /// The folder relative paths are resolved against.
    pub base: PathBuf,
    /// The file (for errors).
    pub path: PathBuf,
    /// `library`: the library hashed ([`super::library::prepare`]).
    pub library: Option<std::sync::Arc<super::library::Library>>,
}

impl Loaded {
    /// A path of the scenario, resolved against its folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    /// The client's matching threshold for its perceptual algorithm.
    pub fn threshold(&self) -> u32 {
        self.scenario
            .hashset
            .threshold
            .unwrap_or_else(|| self.policy.threshold(self.scenario.content.algorithm).0)
    }
}

/// Line (1-based) of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line of `key = …` inside table `[table]`, for errors about values
/// the client's parser checks.
fn line_of_key(text: &str, table: &str, key: &str) -> Option<usize> {
    let mut in_table = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            in_table = t.trim_start_matches('[').trim_end_matches(']').trim() == table;
            continue;
        }
        if in_table && t.split('=').next().is_some_and(|k| k.trim() == key) && t.contains('=') {
            return Some(i + 1);
        }
    }
    None
}

impl Scenario {
    /// Reads, parses and validates a scenario file.
    pub fn load(path: &Path) -> Result<Loaded, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::parse(&text, path)
    }

    /// Parses and validates scenario TOML; `path` locates relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Loaded, Error> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| parse_error(path, text, &e))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut loaded = Loaded {
            policy: Policy::default(),
            scenario,
            base,
            path: path.to_path_buf(),
            library: None,
        };
        loaded.policy = client_policy(&loaded, text)?;
        loaded
            .scenario
            .validate()
            .map_err(|(field, reason)| Error::Invalid {
                path: path.to_path_buf(),
                line: field_line(text, &field),
                field,
                reason,
            })?;
        loaded.validate_against_policy()?;
        Ok(loaded)
    }

    fn validate(&self) -> Result<(), (String, String)> {
        let share = |field: &str, v: f64| -> Result<(), (String, String)> {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err((
                    field.to_string(),
                    format!("{v} is not a share between 0 and 1"),
                ))
            }
        };
        let positive = |field: &str, v: f64| -> Result<(), (String, String)> {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err((field.to_string(), format!("{v} must be 0 or more")))
            }
        };
        if self.replicates == 0 {
            return Err(("replicates".into(), "must be at least 1".into()));
        }
        let p = &self.population;
        if p.users == 0 {
            return Err(("population.users".into(), "must be at least 1".into()));
        }
        if p.users > u64::from(u32::MAX) {
            return Err((
                "population.users".into(),
                format!(
                    "{} is more than {} (the simulator's limit)",
                    p.users,
                    u32::MAX
                ),
            ));
        }
        if p.days == 0 || p.days > u32::from(u16::MAX) {
            return Err(("population.days".into(), "must be 1..=65535".into()));
        }
        positive("population.messages.mean", p.messages.mean())?;
        if let Messages::Lognormal { sigma, .. } = p.messages {
            positive("population.messages.sigma", sigma)?;
        }
        share("population.image_share", p.image_share)?;
        share("population.link_share", p.link_share)?;
        share("population.file_share", p.file_share)?;
        let total = p.image_share + p.link_share + p.file_share;
        if total > 1.0 + 1e-12 {
            return Err((
                "population.image_share".into(),
                format!("image_share + link_share + file_share is {total}, more than 1"),
            ));
        }
        let c = &self.content;
        match c.source {
            Source::Rates if c.rates.is_none() => {
                return Err((
                    "content.rates".into(),
                    "source = \"rates\" needs a results.json".into(),
                ));
            }
            Source::Assumed if c.false_match_rate.is_none() => {
                return Err((
                    "content.false_match_rate".into(),
                    "source = \"assumed\" needs the rate it assumes".into(),
                ));
            }
            Source::Library if c.library.is_none() => {
                return Err((
                    "content.library".into(),
                    "source = \"library\" needs a folder".into(),
                ));
            }
            _ => {}
        }
        if !c.algorithm.is_perceptual() {
            return Err((
                "content.algorithm".into(),
                format!("{} is not a perceptual hash", c.algorithm),
            ));
        }
        if let Some(r) = c.false_match_rate {
            share("content.false_match_rate", r)?;
        }
        for e in &c.edits {
            positive("content.edits.weight", e.weight)?;
        }
        let o = &self.offenders;
        if o.count > p.users {
            return Err((
                "offenders.count".into(),
                format!("{} offenders is more than the {} users", o.count, p.users),
            ));
        }
        positive("offenders.items_per_day", o.items_per_day)?;
        if let Some(d) = o.detection_rate {
            share("offenders.detection_rate", d)?;
        }
        if o.count > 0 && c.source == Source::Assumed && o.detection_rate.is_none() {
            return Err((
                "offenders.detection_rate".into(),
                "source = \"assumed\" with offenders needs the detection rate it assumes".into(),
            ));
        }
        if let Some(ev) = &o.evasion {
            if o.behaviour != Behaviour::Evasive {
                return Err((
                    "offenders.evasion".into(),
                    "needs behaviour = \"evasive\"".into(),
                ));
            }
            if !(ev.budget_psnr.is_finite() && ev.budget_psnr > 0.0) {
                return Err((
                    "offenders.evasion.budget_psnr".into(),
                    format!("{} is not a PSNR in dB (more than 0)", ev.budget_psnr),
                ));
            }
        }
        if o.behaviour != Behaviour::None
            && o.edits.is_empty()
            && o.evasion.is_none()
            && c.source == Source::Rates
        {
            return Err((
                "offenders.edits".into(),
                format!(
                    "behaviour \"{:?}\" needs the edit chains it uses",
                    o.behaviour
                )
                .to_lowercase(),
            ));
        }
        if let Some(col) = &self.adversaries.collision {
            if col.recipients > p.users - o.count {
                return Err((
                    "adversaries.collision.recipients".into(),
                    format!(
                        "{} recipients is more than the {} users who are not offenders",
                        col.recipients,
                        p.users - o.count
                    ),
                ));
            }
            positive("adversaries.collision.per_day", col.per_day)?;
            share("adversaries.collision.match_rate", col.match_rate)?;
            share(
                "adversaries.collision.server_pass_rate",
                col.server_pass_rate,
            )?;
            if col.start_day >= p.days {
                return Err((
                    "adversaries.collision.start_day".into(),
                    format!(
                        "day {} is after the last day ({})",
                        col.start_day,
                        p.days - 1
                    ),
                ));
            }
            if col.images == 0 && col.recipients > 0 {
                return Err((
                    "adversaries.collision.images".into(),
                    "must be at least 1".into(),
                ));
            }
        }
        if let Some(poison) = &self.adversaries.poisoning {
            share("adversaries.poisoning.image_share", poison.image_share)?;
            share("adversaries.poisoning.match_rate", poison.match_rate)?;
            share(
                "adversaries.poisoning.reviewer_confirms",
                poison.reviewer_confirms,
            )?;
            if poison.start_day >= p.days {
                return Err((
                    "adversaries.poisoning.start_day".into(),
                    format!(
                        "day {} is after the last day ({})",
                        poison.start_day,
                        p.days - 1
                    ),
                ));
            }
        }
        let h = &self.hashset;
        if h.entries == 0 {
            return Err(("hashset.entries".into(), "must be at least 1".into()));
        }
        if let Some(t) = h.threshold {
            let bits = if c.algorithm == Algorithm::Pdq {
                256
            } else {
                64
            };
            if t > bits {
                return Err((
                    "hashset.threshold".into(),
                    format!("{t} is outside 0..={bits}"),
                ));
            }
        }
        if c.source == Source::Library {
            if h.file.is_none() {
                return Err((
                    "hashset.file".into(),
                    "source = \"library\" needs a signed set file (a generated set is not built in this version)".into(),
                ));
            }
            if h.issuer.is_none() {
                return Err((
                    "hashset.issuer".into(),
                    "source = \"library\" needs the set issuer's public key file (KEY.pub)".into(),
                ));
            }
            if h.representation == Representation::Bloom {
                return Err((
                    "hashset.representation".into(),
                    "source = \"library\" looks up in the set file as it is (build it with --repr bloom for a Bloom filter)".into(),
                ));
            }
        } else {
            for (field, set) in [
                ("content.library", c.library.is_some()),
                ("offenders.library", self.offenders.library.is_some()),
                ("hashset.issuer", h.issuer.is_some()),
            ] {
                if set {
                    return Err((field.into(), "is only for source = \"library\"".into()));
                }
            }
        }
        match (h.representation, h.bloom_fpr) {
            (Representation::Bloom, None) => {
                return Err((
                    "hashset.bloom_fpr".into(),
                    "representation = \"bloom\" needs its rate".into(),
                ));
            }
            (Representation::List, Some(_)) => {
                return Err((
                    "hashset.bloom_fpr".into(),
                    "is only for representation = \"bloom\"".into(),
                ));
            }
            (_, Some(f)) => share("hashset.bloom_fpr", f)?,
            _ => {}
        }
        let r = &self.policy.review;
        share("policy.review.accuracy", r.accuracy)?;
        if !(r.minutes_per_item.is_finite() && r.minutes_per_item > 0.0) {
            return Err((
                "policy.review.minutes_per_item".into(),
                "must be more than 0".into(),
            ));
        }
        positive("policy.review.hours_per_day", r.hours_per_day)?;
        if r.hours_per_day > 24.0 {
            return Err((
                "policy.review.hours_per_day".into(),
                "must be at most 24".into(),
            ));
        }
        if self.policy.action.after_confirmed == 0 {
            return Err((
                "policy.action.after_confirmed".into(),
                "must be at least 1".into(),
            ));
        }
        share("policy.appeals.share", self.policy.appeals.share)?;
        share("policy.appeals.success", self.policy.appeals.success)?;
        if let Some(s) = &self.policy.server_hash {
            if let Some(v) = s.true_pass {
                share("policy.server_hash.true_pass", v)?;
            }
            if let Some(v) = s.false_pass {
                share("policy.server_hash.false_pass", v)?;
            }
            let rated = s.algorithm.is_some();
            let stated = s.true_pass.is_some() || s.false_pass.is_some();
            if rated == stated {
                return Err((
                    "policy.server_hash".into(),
                    "give either algorithm (measured rates) or true_pass and false_pass (assumed)"
                        .into(),
                ));
            }
            if rated && c.source != Source::Rates {
                return Err((
                    "policy.server_hash.algorithm".into(),
                    "measured server rates need content.source = \"rates\"".into(),
                ));
            }
            if stated && (s.true_pass.is_none() || s.false_pass.is_none()) {
                return Err((
                    "policy.server_hash".into(),
                    "give both true_pass and false_pass".into(),
                ));
            }
        }
        if self.report.extrapolate_users == Some(0) {
            return Err((
                "report.extrapolate_users".into(),
                "must be at least 1".into(),
            ));
        }
        if self.cost.bench.is_some() && self.cost.scan_ms_per_image.is_some() {
            return Err((
                "cost.bench".into(),
                "give the measured bench file or a stated scan_ms_per_image, not both".into(),
            ));
        }
        if let Some(ms) = self.cost.scan_ms_per_image {
            positive("cost.scan_ms_per_image", ms)?;
        }
        Ok(())
    }

    /// Bytes the engine holds: per-user state, the per-day series and the
    /// review queue's worst case (a day's reports).
    pub fn memory_estimate(&self) -> u64 {
        let users = self.population.users;
        let per_user = super::engine::USER_BYTES as u64;
        let days = u64::from(self.population.days) * u64::from(self.replicates);
        users * per_user + days * super::counts::N as u64 * 8 * 4 + (64 << 20)
    }
}

impl Loaded {
    fn validate_against_policy(&self) -> Result<(), Error> {
        let invalid = |field: &str, reason: String| Error::Invalid {
            path: self.path.clone(),
            line: None,
            field: field.to_string(),
            reason,
        };
        if !self
            .policy
            .image_algorithms
            .contains(&self.scenario.content.algorithm)
            && self.policy.scan_images
        {
            return Err(invalid(
                "content.algorithm",
                format!(
                    "{} is not among the policy's image_algorithms",
                    self.scenario.content.algorithm
                ),
            ));
        }
        Ok(())
    }
}

/// The client's policy: the file named by `policy.file` (if any), with the
/// scenario's overrides, through the client's own parser.
fn client_policy(loaded: &Loaded, text: &str) -> Result<Policy, Error> {
    let spec = &loaded.scenario.policy;
    let (mut table, origin) = match &spec.file {
        Some(f) => {
            let p = loaded.resolve(f);
            let t = std::fs::read_to_string(&p).map_err(|source| Error::Read {
                path: p.clone(),
                source,
            })?;
            let table: toml::Table = toml::from_str(&t).map_err(|e| {
                Error::Policy(crate::scan::PolicyError::Parse {
                    path: p.clone(),
                    reason: e
                        .to_string()
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" "),
                })
            })?;
            (table, p)
        }
        None => (toml::Table::new(), loaded.path.clone()),
    };
    for (k, v) in &spec.client {
        if PLATFORM_FIELDS.contains(&k.as_str()) {
            continue;
        }
        table.insert(k.clone(), v.clone());
    }
    let merged = toml::to_string(&table).unwrap_or_default();
    Policy::parse(&merged, &origin).map_err(|e| {
        // An override's error names the scenario file and its line.
        let field = match &e {
            crate::scan::PolicyError::Invalid { field, .. } => Some(field.clone()),
            crate::scan::PolicyError::Parse { reason, .. } => spec
                .client
                .keys()
                .find(|k| reason.contains(&format!("`{k}`")))
                .cloned(),
            _ => None,
        };
        let key = field
            .as_deref()
            .map(|f| f.split('.').next().unwrap_or(f).to_string());
        match (key, e) {
            (Some(k), crate::scan::PolicyError::Invalid { field, reason, .. })
                if spec.client.contains_key(&k) =>
            {
                Error::Invalid {
                    path: loaded.path.clone(),
                    line: line_of_key(text, "policy", &k),
                    field: format!("policy.{field}"),
                    reason,
                }
            }
            (Some(k), crate::scan::PolicyError::Parse { reason, .. })
                if spec.client.contains_key(&k) =>
            {
                // The client's parser saw the merged text; keep its message
                // and give the scenario's line.
                let reason = match reason.find("unknown field") {
                    Some(i) => format!("[policy]: {}", &reason[i..]),
                    None => reason,
                };
                Error::Parse {
                    path: loaded.path.clone(),
                    line: line_of_key(text, "policy", &k),
                    reason,
                }
            }
            (_, e) => Error::Policy(e),
        }
    })
}

/// The line of a dotted field (`policy.review.accuracy`) in the file, if it
/// is written there.
fn field_line(text: &str, field: &str) -> Option<usize> {
    let (table, key) = match field.rsplit_once('.') {
        Some((t, k)) => (t, k),
        None => ("", field),
    };
    line_of_key(text, table, key).or_else(|| {
        // `messages = { distribution = …, mean = … }` and other inline tables.
        let (outer, inner) = table.rsplit_once('.').unwrap_or(("", table));
        line_of_key(text, outer, inner)
    })
}

fn parse_error(path: &Path, text: &str, e: &toml::de::Error) -> Error {
    let reason = e.message().trim().to_string();
    // Inside `[policy]` (whose client fields are collected whole) the parser
    // loses the span; the field it names is found by its key instead.
    let line = e.span().map(|s| line_of(text, s.start)).or_else(|| {
        let name = reason.split('`').nth(1)?;
        text.lines()
            .position(|l| {
                l.trim().split('=').next().is_some_and(|k| k.trim() == name) && l.contains('=')
            })
            .map(|i| i + 1)
    });
    Error::Parse {
        path: path.to_path_buf(),
        line,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "\
seed = 3
replicates = 2

[population]
users = 1000
days = 5
messages = { distribution = \"poisson\", mean = 10 }

[content]
source = \"assumed\"
false_match_rate = 1e-3
";

    fn parse(text: &str) -> Result<Loaded, Error> {
        Scenario::parse(text, Path::new("s.toml"))
    }

    #[test]
    fn a_minimal_scenario_parses_with_defaults() {
        let l = parse(BASE).unwrap();
        assert_eq!(l.scenario.replicates, 2);
        assert_eq!(l.policy, Policy::default());
        assert_eq!(l.threshold(), 31);
        assert_eq!(l.scenario.policy.review.capacity_per_day(), 2400);
    }

    #[test]
    fn an_unknown_field_is_named_with_its_line() {
        let e = parse(&BASE.replace("days = 5", "days = 5\nusres = 3"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("s.toml: line 7: unknown field `usres`"),
            "{e}"
        );
        let e = parse(&format!(
            "{BASE}\n[policy.review]\naccuracy = 0.9\nreviwers = 3\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("s.toml: line 15: unknown field `reviwers`"),
            "{e}"
        );
    }

    #[test]
    fn an_unknown_client_policy_field_is_named_with_its_line() {
        let e = parse(&format!("{BASE}\n[policy]\naccount_treshold = 30\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("s.toml: line 14: [policy]: unknown field `account_treshold`"),
            "{e}"
        );
    }

    #[test]
    fn contradictory_values_name_the_field_and_the_constraint() {
        let cases = [
            (
                format!("{BASE}\n[policy]\naccount_threshold = 0\n"),
                "field 'policy.account_threshold': must be at least 1",
            ),
            (
                format!("{BASE}\n[policy.review]\naccuracy = 1.5\n"),
                "field 'policy.review.accuracy': 1.5 is not a share between 0 and 1",
            ),
            (
                format!("{BASE}\n[offenders]\ncount = 2000\ndetection_rate = 0.5\n"),
                "field 'offenders.count': 2000 offenders is more than the 1000 users",
            ),
            (
                BASE.replace("false_match_rate = 1e-3", ""),
                "field 'content.false_match_rate': source = \"assumed\" needs the rate it assumes",
            ),
            (
                format!("{BASE}\n[hashset]\nrepresentation = \"bloom\"\n"),
                "field 'hashset.bloom_fpr'",
            ),
            (
                BASE.replace(
                    "mean = 10 }",
                    "mean = 10 }\nimage_share = 0.8\nlink_share = 0.5",
                ),
                "more than 1",
            ),
        ];
        for (text, want) in cases {
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(want), "{e}\n  wanted: {want}");
        }
        // The line is given where the field is written.
        let e = parse(&format!("{BASE}\n[policy.review]\naccuracy = 1.5\n"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.toml: line 14: field"), "{e}");
    }

    #[test]
    fn a_scenario_bigger_than_the_machine_is_refused_with_the_estimate() {
        let l = parse(&BASE.replace("users = 1000", "users = 4000000000")).unwrap();
        let e = super::super::check_memory(&l.scenario, Some(8 << 30))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("needs about 1") && e.contains("GiB") && e.contains("8.0 GiB available"),
            "{e}"
        );
        assert!(super::super::check_memory(&parse(BASE).unwrap().scenario, Some(8 << 30)).is_ok());
    }

    #[test]
    fn fifty_million_users_fit_in_24_gib() {
        let l = parse(&BASE.replace("users = 1000", "users = 50000000")).unwrap();
        assert!(
            l.scenario.memory_estimate() < 24 << 30,
            "{}",
            l.scenario.memory_estimate()
        );
    }
}
