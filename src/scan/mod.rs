//! Scanning a message before it is encrypted: [`Policy`] says what to scan
//! and how, [`Scanner::scan`] returns a [`Verdict`] with every match and the
//! time each step took.
//!
//! The scanner asks a [`Matcher`] (a hash set) about each digest; it never
//! encrypts or sends anything.

mod policy;

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use policy::{OnMatch, Policy, PolicyError};

use crate::hash::{self, Algorithm, Digest, Distance, HashConfig, Threshold};
use crate::message::{Attachment, Message};

/// One entry of a hash set that a digest matched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Hamming distance (0 for exact algorithms).
    pub distance: Distance,
    /// The entry's label (category, source), if the set has one.
    pub label: Option<String>,
    /// The entry itself, when the set can reveal it (a list; not a Bloom filter).
    pub entry: Option<String>,
    /// For a Bloom filter: the chance this hit is a false positive.
    pub false_positive_rate: Option<f64>,
}

/// Something that can say which entries a digest matches: a hash set.
pub trait Matcher: Send + Sync {
    /// The entries within `threshold` of `digest`.
    fn lookup(&self, digest: &Digest, threshold: Threshold) -> Result<Vec<Hit>, String>;
}

impl Matcher for crate::hashset::HashSet {
    fn lookup(&self, digest: &Digest, threshold: Threshold) -> Result<Vec<Hit>, String> {
        if !self.algorithms().contains(&digest.algorithm()) {
            return Ok(Vec::new());
        }
        let found =
            crate::hashset::HashSet::lookup(self, digest, threshold).map_err(|e| e.to_string())?;
        let fpr = found.bloom.as_ref().map(|b| b.compounded_fpr);
        Ok(found
            .matches
            .into_iter()
            .map(|m| Hit {
                distance: m.distance,
                label: m.label.map(|l| match l.source {
                    Some(src) => format!("{} ({src})", l.category),
                    None => l.category,
                }),
                entry: m.entry.map(|d| d.to_hex()),
                false_positive_rate: fpr,
            })
            .collect())
    }
}

/// Which part of a message matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Part {
    /// The message text.
    Text,
    /// A URL found in the text.
    Url {
        /// The URL (normalised).
        url: String,
    },
    /// An attachment.
    Attachment {
        /// Its position in the message.
        index: usize,
        /// Its name, or URL for links.
        name: String,
    },
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Part::Text => f.write_str("text"),
            Part::Url { url } => write!(f, "url {url}"),
            Part::Attachment { index, name } => write!(f, "attachment #{} {name}", index + 1),
        }
    }
}

/// One match.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Match {
    /// What matched.
    pub part: Part,
    /// Under which algorithm.
    pub algorithm: Algorithm,
    /// The digest of the part.
    pub digest: String,
    /// The threshold in force.
    pub threshold: Threshold,
    /// The hash-set entry it matched.
    pub hit: Hit,
}

impl std::fmt::Display for Match {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} matched via {} at distance {} (threshold {}), label '{}'",
            self.part,
            self.algorithm,
            self.hit.distance,
            self.threshold,
            self.hit.label.as_deref().unwrap_or("-")
        )
    }
}

/// How long one step took.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// The step, e.g. `decode cat.jpg` or `pdq cat.jpg`.
    pub step: String,
    /// Its duration in microseconds.
    pub micros: u64,
}

/// What the scanner decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// No match: send.
    Allow,
    /// Match, policy `warn`: tell the sender, send.
    Warn,
    /// Match, policy `block`: do not send.
    Block,
    /// Match, policy `report`: send, and report to the moderators.
    Report,
}

/// The outcome of scanning one message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Every match found.
    pub matches: Vec<Match>,
    /// What to do.
    pub action: Action,
    /// Time per step, in order.
    pub timings: Vec<Timing>,
    /// Parts not scanned, or scanned partly, and why (e.g. low PDQ quality).
    pub notes: Vec<String>,
}

impl Verdict {
    /// Total scanning time.
    pub fn total(&self) -> Duration {
        Duration::from_micros(self.timings.iter().map(|t| t.micros).sum())
    }
}

/// Scans messages under a policy against a hash set.
pub struct Scanner<'a> {
    policy: Policy,
    matcher: &'a dyn Matcher,
    config: HashConfig,
}

impl<'a> Scanner<'a> {
    /// A scanner for `policy` over `matcher`.
    pub fn new(policy: Policy, matcher: &'a dyn Matcher) -> Scanner<'a> {
        Scanner {
            policy,
            matcher,
            config: HashConfig::default(),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Scans `message`.
    pub fn scan(&self, message: &Message) -> Verdict {
        let mut run = Run {
            scanner: self,
            verdict: Verdict {
                matches: Vec::new(),
                action: Action::Allow,
                timings: Vec::new(),
                notes: Vec::new(),
            },
        };
        if self.policy.scan_text {
            if let Some(text) = &message.text {
                run.scan_text(text);
            }
        }
        for (index, attachment) in message.attachments.iter().enumerate() {
            run.scan_attachment(index, attachment);
        }
        let mut verdict = run.verdict;
        if !verdict.matches.is_empty() {
            verdict.action = match self.policy.on_match {
                OnMatch::Report => Action::Report,
                OnMatch::Block => Action::Block,
                OnMatch::Warn => Action::Warn,
            };
        }
        verdict
    }
}

struct Run<'s, 'a> {
    scanner: &'s Scanner<'a>,
    verdict: Verdict,
}

impl Run<'_, '_> {
    fn time<T>(&mut self, step: impl Into<String>, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.verdict.timings.push(Timing {
            step: step.into(),
            micros: start.elapsed().as_micros() as u64,
        });
        out
    }

    fn check(&mut self, part: Part, digest: Digest) {
        let algorithm = digest.algorithm();
        let threshold = self.scanner.policy.threshold(algorithm);
        let hits = self.time(format!("lookup {algorithm} for {part}"), || {
            self.scanner.matcher.lookup(&digest, threshold)
        });
        match hits {
            Ok(hits) => {
                for hit in hits {
                    self.verdict.matches.push(Match {
                        part: part.clone(),
                        algorithm,
                        digest: digest.to_hex(),
                        threshold,
                        hit,
                    });
                }
            }
            Err(e) => self
                .verdict
                .notes
                .push(format!("{part}: lookup failed: {e}")),
        }
    }

    fn scan_text(&mut self, text: &str) {
        let d = self.time("hash text", || hash::text::digests(text));
        self.check(Part::Text, d.text);
        for (url, digest) in d.urls {
            self.check(Part::Url { url }, digest);
        }
    }

    fn scan_attachment(&mut self, index: usize, attachment: &Attachment) {
        let policy = &self.scanner.policy;
        match attachment {
            Attachment::Link { url } if policy.scan_links => {
                let part = Part::Attachment {
                    index,
                    name: url.clone(),
                };
                let digest = self.time(format!("hash {part}"), || hash::text::hash_url(url));
                self.check(part, digest);
            }
            Attachment::Image { name, bytes } if policy.scan_images => {
                let part = Part::Attachment {
                    index,
                    name: name.clone(),
                };
                self.scan_image(part, bytes);
            }
            Attachment::File { name, bytes } if policy.scan_files => {
                let part = Part::Attachment {
                    index,
                    name: name.clone(),
                };
                let algos = policy.file_algorithms.clone();
                self.scan_exact(&part, bytes, &algos);
            }
            _ => self
                .verdict
                .notes
                .push(format!("attachment #{} not scanned (policy)", index + 1)),
        }
    }

    fn scan_exact(&mut self, part: &Part, bytes: &[u8], algorithms: &[Algorithm]) {
        for &a in algorithms {
            let digest = match a {
                Algorithm::Sha256 => {
                    self.time(format!("sha256 {part}"), || hash::exact::sha256(bytes))
                }
                Algorithm::Md5 => self.time(format!("md5 {part}"), || hash::exact::md5(bytes)),
                _ => continue,
            };
            self.check(part.clone(), digest);
        }
    }

    fn scan_image(&mut self, part: Part, bytes: &[u8]) {
        let algorithms = self.scanner.policy.image_algorithms.clone();
        let config = &self.scanner.config;
        let decoded = self.time(format!("decode {part}"), || {
            hash::decode_for(bytes, &algorithms, config)
        });
        let exact: Vec<Algorithm> = algorithms
            .iter()
            .copied()
            .filter(|a| !a.is_perceptual())
            .collect();
        self.scan_exact(&part, bytes, &exact);
        let decoded = match decoded {
            Ok(d) => d,
            Err(e) => {
                self.verdict
                    .notes
                    .push(format!("{part}: not decoded ({e}); exact hashes only"));
                return;
            }
        };
        for a in algorithms.into_iter().filter(|a| a.is_perceptual()) {
            if a == Algorithm::Pdq {
                let Some(pdq) = self.time(format!("pdq {part}"), || decoded.pdq()) else {
                    continue;
                };
                if pdq.quality.0 < self.scanner.policy.min_pdq_quality {
                    self.verdict.notes.push(format!(
                        "{part}: PDQ quality {} below {}, not matched",
                        pdq.quality, self.scanner.policy.min_pdq_quality
                    ));
                    continue;
                }
                self.check(part.clone(), pdq.hash.to_digest());
            } else {
                let config = &self.scanner.config;
                let digest = self.time(format!("{a} {part}"), || decoded.classic(config, a));
                if let Some(d) = digest {
                    self.check(part.clone(), d);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageId;

    /// Brute force over a list: the simplest correct matcher.
    struct ListMatcher(Vec<(Digest, &'static str)>);

    impl Matcher for ListMatcher {
        fn lookup(&self, digest: &Digest, threshold: Threshold) -> Result<Vec<Hit>, String> {
            Ok(self
                .0
                .iter()
                .filter_map(|(d, label)| {
                    let distance = d.distance(digest)?;
                    threshold.admits(distance).then(|| Hit {
                        distance,
                        label: Some(label.to_string()),
                        entry: Some(d.to_hex()),
                        false_positive_rate: None,
                    })
                })
                .collect())
        }
    }

    fn png(img: &image::RgbImage) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn picture() -> image::RgbImage {
        image::RgbImage::from_fn(160, 120, |x, y| {
            let (fx, fy) = (x as f32, y as f32);
            let v = (128.0 + 120.0 * (fx / 5.0).sin() * (fy / 7.0).cos()) as u8;
            image::Rgb([v, (fx + fy) as u8, 255 - v])
        })
    }

    fn message(text: Option<&str>, attachments: Vec<Attachment>) -> Message {
        Message {
            id: MessageId([1; 16]),
            from: "alice".into(),
            to: "bob".into(),
            sent_at: 0,
            text: text.map(String::from),
            attachments,
        }
    }

    fn listed() -> ListMatcher {
        let img = picture();
        ListMatcher(vec![
            (
                hash::pdq::hash_image(&img).hash.to_digest(),
                "stand-in/pattern",
            ),
            (hash::text::hash("Forbidden  PHRASE"), "stand-in/text"),
            (
                hash::text::hash_url("https://bad.example/x"),
                "stand-in/url",
            ),
        ])
    }

    #[test]
    fn resized_listed_image_is_reported_with_its_label_and_timings() {
        let matcher = listed();
        let scanner = Scanner::new(Policy::default(), &matcher);
        let small =
            image::imageops::resize(&picture(), 80, 60, image::imageops::FilterType::Triangle);
        let m = message(
            Some("hi"),
            vec![Attachment::Image {
                name: "copy.png".into(),
                bytes: png(&small),
            }],
        );
        let v = scanner.scan(&m);
        assert_eq!(v.action, Action::Report, "{v:?}");
        assert_eq!(v.matches.len(), 1);
        let hit = &v.matches[0];
        assert_eq!(hit.algorithm, Algorithm::Pdq);
        assert_eq!(hit.hit.label.as_deref(), Some("stand-in/pattern"));
        assert!(hit.hit.distance.0 <= 31);
        for step in [
            "hash text",
            "decode attachment #1 copy.png",
            "pdq attachment #1 copy.png",
        ] {
            assert!(
                v.timings.iter().any(|t| t.step == step),
                "no timing for {step}: {:?}",
                v.timings
            );
        }
    }

    #[test]
    fn attachments_get_the_classic_hashes_cssim_hash_gives() {
        // A 512-px JPEG: its pHash comes from DC coefficients, and differs
        // from a full decode's; the scanner must use the same route as
        // `hash::digest_bytes`, or a listed file would be off by bits.
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/images/benign/astronaut.jpg"
        ))
        .unwrap();
        let digest = |config: &HashConfig| {
            hash::digest_bytes(&bytes, &[Algorithm::Phash], config)
                .unwrap()
                .digests[0]
                .clone()
        };
        let listed = digest(&HashConfig::default());
        let mut full = HashConfig::default();
        full.jpeg_dc = false;
        assert_ne!(
            listed,
            digest(&full),
            "this file must tell the routes apart"
        );
        let matcher = ListMatcher(vec![(listed, "stand-in/astronaut")]);
        let policy = Policy {
            image_algorithms: vec![Algorithm::Phash],
            ..Policy::default()
        };
        let scanner = Scanner::new(policy, &matcher);
        let v = scanner.scan(&message(
            None,
            vec![Attachment::Image {
                name: "astronaut.jpg".into(),
                bytes: bytes.clone(),
            }],
        ));
        assert_eq!(v.matches.len(), 1, "{v:?}");
        assert_eq!(v.matches[0].hit.distance, hash::Distance(0));
    }

    #[test]
    fn text_and_urls_match_after_normalisation() {
        let matcher = listed();
        let scanner = Scanner::new(
            Policy {
                on_match: OnMatch::Block,
                ..Policy::default()
            },
            &matcher,
        );
        let v = scanner.scan(&message(Some("  forbidden phrase "), vec![]));
        assert_eq!((v.action, v.matches.len()), (Action::Block, 1));
        let v = scanner.scan(&message(Some("look at HTTPS://BAD.example/x now"), vec![]));
        assert_eq!(
            v.matches[0].part,
            Part::Url {
                url: "https://bad.example/x".into()
            }
        );
        let v = scanner.scan(&message(
            None,
            vec![Attachment::Link {
                url: "https://bad.example/x".into(),
            }],
        ));
        assert_eq!(v.matches.len(), 1);
        let v = scanner.scan(&message(Some("an ordinary message"), vec![]));
        assert_eq!((v.action, v.matches.len()), (Action::Allow, 0));
    }

    #[test]
    fn low_quality_images_and_unscanned_parts_are_noted_not_matched() {
        let flat = image::RgbImage::from_pixel(100, 100, image::Rgb([128, 128, 128]));
        let matcher = ListMatcher(vec![(
            hash::pdq::hash_image(&flat).hash.to_digest(),
            "flat",
        )]);
        let scanner = Scanner::new(
            Policy {
                scan_files: false,
                ..Policy::default()
            },
            &matcher,
        );
        let m = message(
            None,
            vec![
                Attachment::Image {
                    name: "flat.png".into(),
                    bytes: png(&flat),
                },
                Attachment::File {
                    name: "a.bin".into(),
                    bytes: vec![1, 2, 3],
                },
            ],
        );
        let v = scanner.scan(&m);
        assert_eq!(v.action, Action::Allow);
        assert!(
            v.notes.iter().any(|n| n.contains("PDQ quality 0 below 50")),
            "{:?}",
            v.notes
        );
        assert!(
            v.notes.iter().any(|n| n.contains("#2 not scanned")),
            "{:?}",
            v.notes
        );
    }
}
