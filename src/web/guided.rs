//! Guided mode: one button steps through the story `cssim demo` tells, on
//! the page's own workspace, plus the scene a room asks about (a mirrored copy
//! caught only with dihedral matching on). Every caption is computed from
//! the result it describes, as in [`crate::demo`].

use serde::Serialize;

use super::state::{Controls, Demo, Refusal, SendRequest, Sent};
use crate::scan::OnMatch;

/// What the page shows for the current step of the guided mode.
#[derive(Clone, Debug, Serialize)]
pub struct Caption {
    /// Step number, from 1.
    pub step: usize,
    /// Number of steps.
    pub of: usize,
    /// Short title.
    pub title: String,
    /// The panel to look at: `alice`, `relay`, `moderator`, `bob` or `all`.
    pub panel: &'static str,
    /// Narration, a line each.
    pub lines: Vec<String>,
}

/// Where the guided mode is.
#[derive(Clone, Debug, Default)]
pub struct Guide {
    /// The next step to run (0: start over).
    pub next: usize,
    /// The caption of the step last run.
    pub caption: Option<Caption>,
}

/// The steps, by title.
const STEPS: [&str; 12] = [
    "Keys and the hash set",
    "A benign text",
    "A benign photo",
    "A resized, recompressed copy of a listed image",
    "What the relay saw",
    "What the moderator sees",
    "Bob's inbox",
    "A heavily cropped copy",
    "A mirrored copy, dihedral matching off",
    "The same mirrored copy, dihedral matching on",
    "An innocent photo that matches",
    "What client-side scanning cannot promise",
];

fn example(name: &str, edits: &str) -> SendRequest {
    SendRequest {
        text: None,
        image: Some(format!("example:{name}")),
        edits: edits.into(),
    }
}

fn verdict_line(s: &Sent) -> String {
    let v = &s.outcome.verdict;
    let mut line = format!(
        "Scan on Alice's device: {} match(es) in {:.2} ms → {}.",
        v.matches.len(),
        v.total().as_secs_f64() * 1e3,
        format!("{:?}", v.action).to_lowercase()
    );
    if let Some(n) = s.image.as_ref().and_then(|i| i.nearest.as_ref()) {
        line.push_str(&format!(
            " PDQ distance to the nearest list entry: {} bits ({} the threshold of {}).",
            n.distance,
            if n.distance <= n.threshold {
                "within"
            } else {
                "above"
            },
            n.threshold
        ));
    }
    line
}

fn outcome_line(s: &Sent) -> String {
    let o = &s.outcome;
    match (&o.report, o.sent) {
        (Some(r), _) if r.released_now > 0 => format!(
            "A {}-byte report was sealed to the moderator's key and released to the relay; the message was delivered too.",
            r.sealed_size
        ),
        (Some(r), _) => format!(
            "A {}-byte report was sealed and is held on Alice's device until her account reaches {} matches ({} so far).",
            r.sealed_size, r.account_threshold, r.account_matches
        ),
        (None, true) => format!(
            "Encrypted end to end: {} bytes became a {}-byte envelope; the relay stored it, Bob decrypted it.",
            o.plaintext_size,
            o.envelope_size.unwrap_or(0)
        ),
        (None, false) => "Not sent: the policy blocks messages that match.".into(),
    }
}

impl Demo {
    /// Runs the next step of the guided mode; after the last, starts over.
    pub fn guided_next(&mut self) -> Result<Caption, Refusal> {
        if self.guide.next == 0 || self.guide.next >= STEPS.len() {
            self.reset()?;
        }
        let step = self.guide.next;
        let (panel, lines) = self.guided_step(step)?;
        let caption = Caption {
            step: step + 1,
            of: STEPS.len(),
            title: STEPS[step].into(),
            panel,
            lines,
        };
        self.guide.next = step + 1;
        self.guide.caption = Some(caption.clone());
        self.touch();
        Ok(caption)
    }

    fn guided_step(&mut self, step: usize) -> Result<(&'static str, Vec<String>), Refusal> {
        Ok(match step {
            0 => {
                let manifest = self.set_manifest();
                (
                    "all",
                    vec![
                        "Alice and Bob each have a key pair; the relay knows only their public keys. The moderator holds the key that opens reports.".into(),
                        manifest,
                        "The policy: a match is reported (and the message still delivered), PDQ threshold 31 bits, the account threshold 1.".into(),
                    ],
                )
            }
            1 => {
                let s = self.send(&SendRequest {
                    text: Some("Lunch at noon? The usual place.".into()),
                    ..SendRequest::default()
                })?;
                ("alice", vec![verdict_line(&s), outcome_line(&s)])
            }
            2 => {
                let s = self.send(&SendRequest {
                    text: Some("Look what I saw at the museum".into()),
                    ..example("astronaut.jpg", "")
                })?;
                ("alice", vec![verdict_line(&s), outcome_line(&s)])
            }
            3 => {
                let s = self.send(&example("rocket.jpg", "resize:0.6+jpeg:70"))?;
                (
                    "alice",
                    vec![
                        "Alice sends a copy of a listed stand-in image (the rocket), resized to 60% and recompressed as JPEG quality 70.".into(),
                        verdict_line(&s),
                        outcome_line(&s),
                    ],
                )
            }
            4 => {
                let o = self.overview()?;
                (
                    "relay",
                    vec![format!(
                        "The relay stores {} envelope(s) and {} sealed report(s). It sees who wrote to whom, when, and how big — not what.",
                        o.messages.len(),
                        o.reports.len()
                    )],
                )
            }
            5 => {
                let reviewed = self.review()?;
                let verified = reviewed
                    .iter()
                    .filter(|r| r.verification.as_ref().is_some_and(|v| v.verified))
                    .count();
                let mut lines = vec![format!(
                    "The moderator's key opens {} report(s), {verified} verified: signed by the sender's device, about a message the relay's receipt shows it carried.",
                    reviewed.len()
                )];
                lines.push(if reviewed.is_empty() {
                    "No report reached the moderator.".into()
                } else {
                    "Open one to see exactly the evidence it carries: a human now looks at this content. Every other message stays end-to-end encrypted.".into()
                });
                ("moderator", lines)
            }
            6 => {
                let n = self.delivered()?;
                (
                    "bob",
                    vec![format!(
                        "Bob's device decrypted {n} message(s), the reported image among them: under a report policy, scanning does not stop a message, it tells someone about it."
                    )],
                )
            }
            7 => {
                let s = self.send(&example("rocket.jpg", "crop:0.5"))?;
                let evades = s.outcome.verdict.matches.is_empty();
                (
                    "alice",
                    vec![
                        "Alice sends the rocket cropped to its central 50%.".into(),
                        verdict_line(&s),
                        if evades {
                            "Nothing matched: the cropped copy evades the list.".into()
                        } else {
                            "It is still caught.".into()
                        },
                    ],
                )
            }
            8 => {
                self.set_dihedral(false)?;
                let s = self.send(&mirrored())?;
                let mut lines = vec![
                    "Alice sends the rocket mirrored left to right, with dihedral matching off (one lookup, the image as sent).".into(),
                    verdict_line(&s),
                ];
                if let Some(n) = s.image.as_ref().and_then(|i| i.nearest.as_ref()) {
                    lines.push(format!(
                        "In the best of its eight orientations it is {} bits from the list.",
                        n.dihedral_distance
                    ));
                }
                ("alice", lines)
            }
            9 => {
                self.set_dihedral(true)?;
                let s = self.send(&mirrored());
                self.set_dihedral(false)?;
                let s = s?;
                let caught = s.outcome.verdict.matches.first();
                (
                    "alice",
                    vec![
                        "The same mirrored copy with dihedral matching on: eight lookups (rotated by 90°, 180°, 270°, and mirrored), and eight chances of a false match.".into(),
                        verdict_line(&s),
                        match caught {
                            Some(m) => format!(
                                "Caught, in orientation {}.",
                                m.orientation.as_deref().unwrap_or("original")
                            ),
                            None => "Still not caught.".into(),
                        },
                    ],
                )
            }
            10 => {
                let s = self.send(&SendRequest {
                    text: Some("The Hubble deep field: every dot is a galaxy".into()),
                    ..example("collision.png", "")
                })?;
                let reported = !s.outcome.verdict.matches.is_empty();
                (
                    "alice",
                    vec![
                        "Alice sends a photo of galaxies (the Hubble deep field), changed by `cssim attack collide` until its PDQ hash is near the listed rocket's; the change is hard to see (37.9 dB PSNR). Made to frame a recipient or flood moderators.".into(),
                        verdict_line(&s),
                        if reported {
                            "Reported as the rocket: a moderator now looks at an innocent private photo. Open the report and mark it a false positive.".into()
                        } else {
                            "Not matched under this policy.".into()
                        },
                    ],
                )
            }
            _ => ("all", vec![crate::demo::LIMITS.into()]),
        })
    }

    fn set_manifest(&self) -> String {
        match self.ws.hashset() {
            Ok(set) => {
                let m = set.manifest();
                format!(
                    "Alice's device holds the hash set '{}' ({} entries, signed by '{}', signature verified). Its entries are innocuous stand-in images: the rocket, the cat and the coffee.",
                    m.name,
                    m.total_entries(),
                    m.issuer.name
                )
            }
            Err(e) => format!("The hash set could not be loaded: {e}"),
        }
    }

    fn set_dihedral(&mut self, on: bool) -> Result<(), Refusal> {
        self.set_controls(Controls {
            pdq_dihedral: on,
            on_match: OnMatch::Report,
            ..self.controls.clone()
        })
    }
}

fn mirrored() -> SendRequest {
    example("rocket.jpg", "flip:h")
}
