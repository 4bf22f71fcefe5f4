//! The simulation: users day by day, their matches counted against the
//! account threshold, reports through the server's second hash into the
//! moderators' queue, review, account action and appeals.
//!
//! Cost: one user-day is a handful of exact binomial and Poisson draws
//! (how many messages, how many images, how many of them match), never one
//! step per message, so a run costs O(users × days × replicates) plus the
//! reports reviewed, whatever the message volume; memory is one
//! [`USER_BYTES`] record per user plus the review queue.
//!
//! Determinism: users are simulated in fixed chunks of [`CHUNK`], each
//! with its own ChaCha8 stream derived from (seed, replicate, day, chunk);
//! chunks run in parallel (rayon) and their results are combined in chunk
//! order, and the review is sequential on its own stream. The same
//! scenario and seed give the same numbers at any thread count.

use std::collections::VecDeque;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::counts::{Counts, M};
use super::rates::{Drawn, Model};
use super::sample::{binomial, normal, poisson, uniform};
use super::scenario::{Loaded, Messages};
use crate::scan::OnMatch;

/// Users per chunk (each chunk-day has its own random stream).
pub const CHUNK: usize = 4096;

/// Bytes of state per user.
pub const USER_BYTES: usize = std::mem::size_of::<User>();

const OFFENDER: u8 = 1;
const REPORTED: u8 = 2;
const ACTIONED: u8 = 4;
const DETECTED: u8 = 8;
const SCOPE: u8 = 16;
const RECIPIENT: u8 = 32;

/// What a match was, for the stages after the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    True = 0,
    False = 1,
    Collision = 2,
    Poison = 3,
}

/// Reports that passed the server's hash: (user, kind, count), in user order.
type Passed = Vec<(u32, Kind, u32)>;

const KINDS: [Kind; 4] = [Kind::True, Kind::False, Kind::Collision, Kind::Poison];

#[derive(Clone, Copy, Debug, Default)]
struct User {
    /// Mean messages a day (lognormal populations).
    activity: f32,
    /// Matches so far (the account threshold's counter).
    matches: u32,
    /// Matches held on the device, by kind, until the threshold.
    held: [u32; 4],
    /// Confirmed reports.
    confirmed: u16,
    flags: u8,
}

/// One replicate's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Replicate {
    /// Its index (0-based).
    pub replicate: u32,
    /// The rates it drew.
    pub rates: Drawn,
    /// Counts per day.
    pub days: Vec<Counts>,
    /// Counts over all days (levels: the last day's).
    pub total: Counts,
}

/// Progress, reported after each simulated day.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// User-days simulated so far in this call.
    pub user_days: u64,
    /// User-days this call simulates.
    pub user_days_total: u64,
}

/// A ChaCha8 stream for one purpose, derived from the seed.
fn stream(seed: u64, parts: &[u64]) -> ChaCha8Rng {
    let mut h = sha2::Sha256::new();
    h.update(b"cssim scenario v1\0");
    h.update(seed.to_le_bytes());
    for p in parts {
        h.update(p.to_le_bytes());
    }
    ChaCha8Rng::from_seed(h.finalize().into())
}

const PURPOSE_RATES: u64 = 1;
const PURPOSE_INIT: u64 = 2;
const PURPOSE_DAY: u64 = 3;
const PURPOSE_REVIEW: u64 = 4;
const PURPOSE_EVASION: u64 = 5;

/// Runs the given replicates of a scenario.
pub fn run(
    loaded: &Loaded,
    model: &Model,
    evasion: Option<&super::evasion::Measured>,
    replicates: &[u32],
    progress: &(dyn Fn(Progress) + Sync),
) -> Vec<Replicate> {
    let s = &loaded.scenario;
    let total = s.population.users * u64::from(s.population.days) * replicates.len() as u64;
    let mut done = 0u64;
    replicates
        .iter()
        .map(|&r| {
            run_one(loaded, model, evasion, r, &mut |days_done| {
                done += s.population.users * days_done;
                progress(Progress {
                    user_days: done,
                    user_days_total: total,
                });
            })
        })
        .collect()
}

/// What stays fixed through a replicate.
struct Params<'a> {
    loaded: &'a Loaded,
    library: Option<&'a super::library::Decisions>,
    rates: Drawn,
    threshold: u32,
    seed: u64,
    replicate: u64,
}

fn run_one(
    loaded: &Loaded,
    model: &Model,
    evasion: Option<&super::evasion::Measured>,
    replicate: u32,
    tick: &mut dyn FnMut(u64),
) -> Replicate {
    let s = &loaded.scenario;
    let mut rates = model.draw(&mut stream(s.seed, &[PURPOSE_RATES, u64::from(replicate)]));
    // Its own stream, so a scenario without evasion draws as before.
    if let Some(e) = evasion {
        rates.evasion = e.count.draw(&mut stream(
            s.seed,
            &[PURPOSE_EVASION, u64::from(replicate)],
        ));
    }
    let p = Params {
        loaded,
        library: match model {
            Model::Library { decisions, .. } => Some(decisions),
            _ => None,
        },
        rates,
        threshold: loaded.policy.account_threshold,
        seed: s.seed,
        replicate: u64::from(replicate),
    };
    let users = s.population.users as usize;
    let offenders = s.offenders.count as usize;
    let recipients = s
        .adversaries
        .collision
        .as_ref()
        .map_or(0, |c| c.recipients as usize);
    let mut state = vec![User::default(); users];
    state
        .par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(ci, chunk)| {
            let mut rng = stream(p.seed, &[PURPOSE_INIT, p.replicate, ci as u64]);
            for (j, u) in chunk.iter_mut().enumerate() {
                let i = ci * CHUNK + j;
                if i < offenders {
                    u.flags |= OFFENDER;
                } else if i < offenders + recipients {
                    u.flags |= RECIPIENT;
                }
                u.activity = match s.population.messages {
                    Messages::Lognormal { mean, sigma } => {
                        (mean.ln() - sigma * sigma / 2.0 + sigma * normal(&mut rng)).exp() as f32
                    }
                    _ => s.population.messages.mean() as f32,
                };
            }
        });
    let review = &s.policy.review;
    let capacity = review.capacity_per_day();
    let mut queue: VecDeque<(u32, Kind, u32)> = VecDeque::new();
    let mut days = Vec::with_capacity(s.population.days as usize);
    let mut total = Counts::default();
    for day in 0..s.population.days {
        let outs: Vec<(Counts, Passed)> = state
            .par_chunks_mut(CHUNK)
            .enumerate()
            .map(|(ci, chunk)| simulate_chunk(&p, day, ci, chunk))
            .collect();
        let mut counts = Counts::default();
        for (c, passed) in outs {
            counts.add_all(&c);
            queue.extend(passed);
        }
        // Review, first in first out, as far as the day's capacity goes.
        let mut rng = stream(p.seed, &[PURPOSE_REVIEW, p.replicate, u64::from(day)]);
        let mut left = capacity;
        while left > 0 {
            let Some(front) = queue.front_mut() else {
                break;
            };
            let take = u64::from(front.2).min(left);
            let (user, kind) = (front.0, front.1);
            front.2 -= take as u32;
            if front.2 == 0 {
                queue.pop_front();
            }
            left -= take;
            review_items(
                &p,
                &mut state[user as usize],
                kind,
                take,
                day,
                &mut rng,
                &mut counts,
            );
        }
        counts.set(M::Backlog, queue.iter().map(|q| u64::from(q.2)).sum());
        total.accumulate(&counts);
        days.push(counts);
        tick(1);
    }
    Replicate {
        replicate,
        rates,
        days,
        total,
    }
}

fn review_items(
    p: &Params,
    u: &mut User,
    kind: Kind,
    take: u64,
    day: u32,
    rng: &mut ChaCha8Rng,
    counts: &mut Counts,
) {
    let s = &p.loaded.scenario;
    let accuracy = s.policy.review.accuracy;
    counts.add(M::Reviewed, take);
    let confirm = match kind {
        Kind::True => accuracy,
        Kind::False | Kind::Collision => 1.0 - accuracy,
        Kind::Poison => s
            .adversaries
            .poisoning
            .as_ref()
            .map_or(0.0, |q| q.reviewer_confirms),
    };
    let confirmed = binomial(rng, take, confirm);
    if kind == Kind::True {
        counts.add(M::ConfirmedTrue, confirmed);
    } else {
        counts.add(M::ReviewedInnocent, take);
        counts.add(M::ConfirmedInnocent, confirmed);
    }
    if kind == Kind::Collision {
        counts.add(M::CollisionReviewed, take);
    }
    if confirmed == 0 {
        return;
    }
    u.confirmed = u
        .confirmed
        .saturating_add(confirmed.min(u64::from(u16::MAX)) as u16);
    let offender = u.flags & OFFENDER != 0;
    if offender && u.flags & DETECTED == 0 {
        u.flags |= DETECTED;
        counts.add(M::OffendersDetected, 1);
        counts.add(M::DetectionDays, u64::from(day) + 1);
    }
    if u32::from(u.confirmed) >= s.policy.action.after_confirmed && u.flags & ACTIONED == 0 {
        if offender {
            u.flags |= ACTIONED;
            counts.add(M::ActionedOffenders, 1);
        } else {
            counts.add(M::ActionedInnocent, 1);
            let appeals = &s.policy.appeals;
            if uniform(rng) < appeals.share * appeals.success {
                counts.add(M::AppealsReversed, 1);
                u.confirmed = 0;
            } else {
                u.flags |= ACTIONED;
            }
        }
    }
}

fn simulate_chunk(p: &Params, day: u32, ci: usize, chunk: &mut [User]) -> (Counts, Passed) {
    let s = &p.loaded.scenario;
    let pop = &s.population;
    let mut rng = stream(
        p.seed,
        &[PURPOSE_DAY, p.replicate, u64::from(day), ci as u64],
    );
    let mut c = Counts::default();
    let mut passed = Vec::new();
    let scan = p.loaded.policy.scan_images;
    let link_p = if pop.image_share < 1.0 {
        pop.link_share / (1.0 - pop.image_share)
    } else {
        0.0
    };
    let rest = 1.0 - pop.image_share - pop.link_share;
    let file_p = if rest > 0.0 {
        (pop.file_share / rest).min(1.0)
    } else {
        0.0
    };
    let collision = s
        .adversaries
        .collision
        .as_ref()
        .filter(|c| day >= c.start_day);
    let poison = s
        .adversaries
        .poisoning
        .as_ref()
        .filter(|q| day >= q.start_day);
    let server = [
        p.rates.server_true,
        p.rates.server_false,
        collision.map_or(0.0, |c| c.server_pass_rate),
        1.0,
    ];
    for (j, u) in chunk.iter_mut().enumerate() {
        if u.flags & ACTIONED != 0 {
            c.add(M::Held, u.held.iter().map(|&h| u64::from(h)).sum());
            continue;
        }
        let n = match pop.messages {
            Messages::Fixed { mean } => mean.round() as u64,
            Messages::Poisson { mean } => poisson(&mut rng, mean),
            Messages::Lognormal { .. } => poisson(&mut rng, f64::from(u.activity)),
        };
        let images = binomial(&mut rng, n, pop.image_share);
        let links = binomial(&mut rng, n - images, link_p);
        let files = binomial(&mut rng, n - images - links, file_p);
        let offender = u.flags & OFFENDER != 0;
        let items = if offender {
            poisson(&mut rng, s.offenders.items_per_day)
        } else {
            0
        };
        let crafted = match collision {
            Some(col) if u.flags & RECIPIENT != 0 => poisson(&mut rng, col.per_day),
            _ => 0,
        };
        c.add(M::Messages, n + items + crafted);
        c.add(M::Images, images + items + crafted);
        c.add(M::Links, links);
        c.add(M::Files, files);
        c.add(M::OffenderItems, items);
        c.add(M::CollisionImages, crafted);
        let mut found = [0u64; 4];
        if scan {
            let memes = poison.map_or(0, |q| binomial(&mut rng, images, q.image_share));
            c.add(M::PoisonImages, memes);
            found[Kind::Poison as usize] =
                poison.map_or(0, |q| binomial(&mut rng, memes, q.match_rate));
            match p.library {
                // Each image an (item, edit) with its real decision.
                // Items an attack evaded are not matched (the same rate on
                // either content model).
                Some(lib) => {
                    found[Kind::False as usize] = lib.benign_matches(&mut rng, images - memes);
                    let attacked = if p.rates.evasion > 0.0 {
                        binomial(&mut rng, items, p.rates.evasion)
                    } else {
                        0
                    };
                    found[Kind::True as usize] = lib.listed_matches(&mut rng, items - attacked);
                }
                None => {
                    found[Kind::False as usize] =
                        binomial(&mut rng, images - memes, p.rates.false_match);
                    found[Kind::True as usize] =
                        binomial(&mut rng, items, p.rates.detection * (1.0 - p.rates.evasion));
                }
            }
            found[Kind::Collision as usize] =
                collision.map_or(0, |col| binomial(&mut rng, crafted, col.match_rate));
        }
        c.add(M::Evaded, items - found[Kind::True as usize]);
        c.add(M::TrueMatches, found[Kind::True as usize]);
        c.add(M::FalseMatches, found[Kind::False as usize]);
        c.add(M::CollisionMatches, found[Kind::Collision as usize]);
        c.add(M::PoisonMatches, found[Kind::Poison as usize]);
        let matched: u64 = found.iter().sum();
        match p.loaded.policy.on_match {
            OnMatch::Block => c.add(M::Blocked, matched),
            OnMatch::Warn => c.add(M::Warned, matched),
            OnMatch::Report if matched > 0 => {
                for k in KINDS {
                    u.held[k as usize] =
                        u.held[k as usize].saturating_add(found[k as usize] as u32);
                }
                u.matches = u.matches.saturating_add(matched as u32);
                if u.matches >= p.threshold {
                    release(
                        p,
                        u,
                        (ci * CHUNK + j) as u32,
                        &server,
                        &mut rng,
                        &mut c,
                        &mut passed,
                    );
                }
            }
            OnMatch::Report => {}
        }
        c.add(M::Held, u.held.iter().map(|&h| u64::from(h)).sum());
    }
    (c, passed)
}

/// The account reached its threshold: every held match is reported.
fn release(
    p: &Params,
    u: &mut User,
    index: u32,
    server: &[f64; 4],
    rng: &mut ChaCha8Rng,
    c: &mut Counts,
    passed: &mut Passed,
) {
    let _ = p;
    const RELEASED: [M; 4] = [
        M::ReleasedTrue,
        M::ReleasedFalse,
        M::ReleasedCollision,
        M::ReleasedPoison,
    ];
    let innocent = u.flags & OFFENDER == 0;
    let mut any = false;
    for k in KINDS {
        let n = u64::from(std::mem::take(&mut u.held[k as usize]));
        if n == 0 {
            continue;
        }
        any = true;
        c.add(RELEASED[k as usize], n);
        if innocent && k == Kind::Poison && u.flags & SCOPE == 0 {
            u.flags |= SCOPE;
            c.add(M::ScopeFlagged, 1);
        }
        let through = binomial(rng, n, server[k as usize]);
        if through > 0 {
            c.add(M::ServerPassed, through);
            passed.push((index, k, through as u32));
        }
    }
    if any && innocent && u.flags & REPORTED == 0 {
        u.flags |= REPORTED;
        c.add(M::InnocentReported, 1);
    }
}
