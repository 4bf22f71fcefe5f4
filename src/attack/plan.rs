//! Which bits to move, and to which side of which threshold.
//!
//! A hash bit is `coefficient > median`, and exactly half the coefficients
//! lie above the median. A plan is a bit pattern `E` with that same count
//! of ones and a threshold `t`: every coefficient is then to be moved (if
//! it is not there already) to `t + m` (bit 1) or `t − m` (bit 0). With
//! half of them on each side, the median falls between the two groups, so
//! the hash is `E` exactly. The cost of a move of `Δ` is `Δ²` times the
//! coefficient's unit cost in the pixels ([`Model::unit_cost`]).

use super::model::Model;

/// A pattern and the threshold it is placed around.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub bits: Vec<bool>,
    pub threshold: f64,
}

/// The pixel cost of putting coefficient `b` (value `c`) on `side` of `t`
/// with margin `m`.
fn cost(model: &Model, b: usize, c: f64, side: bool, t: f64, m: f64) -> f64 {
    let need = if side { t + m - c } else { c - (t - m) };
    if need <= 0.0 {
        0.0
    } else {
        model.unit_cost(b) * need * need
    }
}

fn hamming(a: &[bool], b: &[bool]) -> u32 {
    a.iter().zip(b).filter(|(x, y)| x != y).count() as u32
}

/// Evasion: flip the cheapest bits, one from each side at a time (so the
/// count of ones stays half), until the pattern is more than `need` bits
/// from every hash in `avoid` (the first is the original's). Only bits on
/// which the nearest avoided hash agrees with the pattern are flipped, so
/// each pair moves it 2 bits further away. `None` when no pair is left.
pub(crate) fn evade(
    model: &Model,
    coefficients: &[f64],
    avoid: &[Vec<bool>],
    need: u32,
    margin: f64,
) -> Option<Plan> {
    let t = model.median(coefficients);
    let mut bits: Vec<bool> = coefficients.iter().map(|&c| c > t).collect();
    let mut flipped = vec![false; bits.len()];
    let flip_cost = |b: usize, to: bool| cost(model, b, coefficients[b], to, t, margin);
    while let Some(nearest) = avoid.iter().min_by_key(|a| hamming(&bits, a)) {
        if hamming(&bits, nearest) > need {
            break;
        }
        let cheapest = |from: bool| {
            (0..bits.len())
                .filter(|&b| !flipped[b] && bits[b] == from && nearest[b] == from)
                .min_by(|&x, &y| flip_cost(x, !from).total_cmp(&flip_cost(y, !from)))
        };
        let (Some(one), Some(zero)) = (cheapest(true), cheapest(false)) else {
            return None;
        };
        for b in [one, zero] {
            bits[b] = !bits[b];
            flipped[b] = true;
        }
    }
    Some(Plan { bits, threshold: t })
}

/// Collision: the cheapest pattern within `within` bits of `target` that has
/// half its bits set, over a grid of thresholds. Bits left unmatched keep
/// their present side; as many target-1 as target-0 bits are left (offset
/// by how far the target's count of ones is from half). `None` when the
/// target has so many or so few ones that no such pattern is near enough.
pub(crate) fn collide(
    model: &Model,
    coefficients: &[f64],
    target: &[bool],
    within: u32,
    margin: f64,
) -> Option<Plan> {
    let n = target.len();
    let ones = target.iter().filter(|&&b| b).count() as i64;
    // a (target-1 bits left at 0) − b (target-0 bits left at 1) = ones − n/2.
    let offset = ones - (n / 2) as i64;
    if offset.unsigned_abs() > u64::from(within) {
        return None;
    }
    let (lo, hi) = coefficients
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &c| (l.min(c), h.max(c)));
    let steps = 400;
    let mut best: Option<(f64, Plan)> = None;
    for s in 0..=steps {
        let t = lo + (hi - lo) * s as f64 / steps as f64;
        // Each bit's cost on the target's side, and what leaving it on the
        // other side saves.
        let mut total = 0.0;
        let mut gains: [Vec<(f64, usize)>; 2] = [Vec::new(), Vec::new()];
        for b in 0..n {
            let matched = cost(model, b, coefficients[b], target[b], t, margin);
            let other = cost(model, b, coefficients[b], !target[b], t, margin);
            total += matched;
            gains[usize::from(target[b])].push((matched - other, b));
        }
        for g in &mut gains {
            g.sort_by(|x, y| y.0.total_cmp(&x.0));
        }
        let prefix = |g: &[(f64, usize)], k: usize| g[..k].iter().map(|x| x.0).sum::<f64>();
        let mut choice: Option<(f64, usize, usize)> = None;
        for a in 0..=within as usize {
            let b = a as i64 - offset;
            if b < 0 || a + b as usize > within as usize {
                continue;
            }
            let b = b as usize;
            if a > gains[1].len() || b > gains[0].len() {
                continue;
            }
            let c = total - prefix(&gains[1], a) - prefix(&gains[0], b);
            if choice.is_none_or(|(best_c, _, _)| c < best_c) {
                choice = Some((c, a, b));
            }
        }
        let Some((c, a, b)) = choice else { continue };
        if best.as_ref().is_none_or(|(best_c, _)| c < *best_c) {
            let mut bits = target.to_vec();
            for &(_, bit) in gains[1][..a].iter().chain(&gains[0][..b]) {
                bits[bit] = !bits[bit];
            }
            best = Some((c, Plan { bits, threshold: t }));
        }
    }
    best.map(|(_, p)| p)
}
