//! Exact binomial confidence intervals (Clopper–Pearson).
//!
//! `k` successes in `n` independent trials with unknown rate `p`: the
//! Clopper–Pearson interval at confidence `1 − α` is
//!
//! ```text
//! lower = Beta⁻¹(α/2; k, n − k + 1)        (0 when k = 0)
//! upper = Beta⁻¹(1 − α/2; k + 1, n − k)    (1 when k = n)
//! ```
//!
//! It is "exact" in that its coverage is at least `1 − α` for every `p`
//! (conservative, never anti-conservative), which is what a test of "does
//! the measured rate agree with the stated one?" needs: a stated rate
//! outside it is rejected by the two-sided exact binomial test at level `α`.
//!
//! The regularised incomplete beta function is evaluated by its continued
//! fraction (modified Lentz), with `ln B(a, b)` computed from Stirling's
//! series in a form that stays accurate when `b` is 10⁸ and `a` is 10; the
//! quantile is found by bisection. Accuracy is about 10⁻⁹ relative, far
//! below the width of any interval that matters here.

use serde::Serialize;

/// A confidence interval for a rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Interval {
    /// The lower bound.
    pub lower: f64,
    /// The upper bound.
    pub upper: f64,
}

impl Interval {
    /// Whether `p` lies in the interval (bounds included).
    pub fn contains(&self, p: f64) -> bool {
        self.lower <= p && p <= self.upper
    }
}

/// The Clopper–Pearson interval for `successes` out of `trials` at
/// `confidence` (for example 0.95). With no trials the interval is [0, 1].
pub fn clopper_pearson(successes: u64, trials: u64, confidence: f64) -> Interval {
    let k = successes.min(trials) as f64;
    let n = trials as f64;
    let alpha = (1.0 - confidence).clamp(0.0, 1.0);
    if trials == 0 {
        return Interval {
            lower: 0.0,
            upper: 1.0,
        };
    }
    let lower = if k == 0.0 {
        0.0
    } else {
        beta_quantile(alpha / 2.0, k, n - k + 1.0)
    };
    let upper = if k == n {
        1.0
    } else {
        beta_quantile(1.0 - alpha / 2.0, k + 1.0, n - k)
    };
    Interval { lower, upper }
}

/// The Wilson score interval for `successes` out of `trials` at
/// `confidence`: the interval of rates a two-sided score test at level
/// `1 − confidence` does not reject. Close to nominal coverage and never
/// outside [0, 1], unlike the textbook `p ± z·sqrt(p(1−p)/n)`. With no
/// trials the interval is [0, 1].
pub fn wilson(successes: u64, trials: u64, confidence: f64) -> Interval {
    if trials == 0 {
        return Interval {
            lower: 0.0,
            upper: 1.0,
        };
    }
    let n = trials as f64;
    let p = successes.min(trials) as f64 / n;
    let z = normal_quantile(0.5 + confidence.clamp(0.0, 1.0) / 2.0);
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Interval {
        lower: (centre - half).max(0.0),
        upper: (centre + half).min(1.0),
    }
}

/// The interval `eval rates` reports: Wilson's (two-sided), except at zero
/// or all events. There the statement a reader needs is one-sided — "the
/// rate is below u" — so the bound is the exact one-sided Clopper–Pearson
/// bound at `confidence` (for zero events `1 − (1 − confidence)^(1/n)`:
/// 0 of 20,910 at 95% gives 1.43·10⁻⁴, about the rule of three's 3/n), and
/// the other end is 0 (or 1). Wilson's interval is not conservative there.
pub fn rate_interval(successes: u64, trials: u64, confidence: f64) -> (Interval, Method) {
    if trials > 0 && (successes == 0 || successes >= trials) {
        // A two-sided interval at 2c − 1 has c on each side.
        let one_sided = clopper_pearson(successes, trials, 2.0 * confidence - 1.0);
        (one_sided, Method::ClopperPearsonOneSided)
    } else {
        (wilson(successes, trials, confidence), Method::Wilson)
    }
}

/// Which interval [`rate_interval`] gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// The Wilson score interval.
    Wilson,
    /// The exact one-sided Clopper–Pearson bound (zero or all events).
    ClopperPearsonOneSided,
}

/// The standard normal quantile Φ⁻¹(p), 0 < p < 1 (Acklam's rational
/// approximation, relative error below 1.2·10⁻⁹).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.024_25 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.024_25 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The `q`-quantile of Beta(a, b), by bisection on the regularised
/// incomplete beta function (which increases with x).
fn beta_quantile(q: f64, a: f64, b: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi || hi - lo <= 1e-12 * mid {
            break;
        }
        if beta_inc(a, b, mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The regularised incomplete beta function I_x(a, b), a, b > 0.
fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    // x^a (1 − x)^b / B(a, b), in logs; ln_1p keeps (1 − x)^b accurate for
    // tiny x and huge b.
    let ln_front = a * x.ln() + b * (-x).ln_1p() - ln_beta(a, b);
    let front = ln_front.exp();
    // The continued fraction converges fast on this side of the mean.
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-15;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    // Large a and b need O(sqrt(max(a, b))) terms.
    for m in 1..1_000_000u32 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        // One Lentz step: folds the next partial numerator into (c, d) and
        // returns the factor h is multiplied by.
        let mut step = |aa: f64| {
            d = 1.0 + aa * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + aa / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            d * c
        };
        h *= step(m * (b - m) * x / ((qam + m2) * (a + m2)));
        let del = step(-(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)));
        h *= del;
        if (del - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// The tail of Stirling's series for ln Γ(x), x ≥ 10:
/// ln Γ(x) = (x − ½) ln x − x + ½ ln 2π + stirling_tail(x).
fn stirling_tail(x: f64) -> f64 {
    let r = 1.0 / x;
    let r2 = r * r;
    r * (1.0 / 12.0 - r2 * (1.0 / 360.0 - r2 * (1.0 / 1260.0 - r2 * (1.0 / 1680.0 - r2 / 1188.0))))
}

/// ln Γ(x) for x > 0: Stirling's series, shifted up to x ≥ 10.
fn ln_gamma(x: f64) -> f64 {
    let mut shift = 0.0;
    let mut x = x;
    while x < 10.0 {
        shift += x.ln();
        x += 1.0;
    }
    (x - 0.5) * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI).ln() + stirling_tail(x) - shift
}

/// ln B(a, b). When the larger argument is ≥ 10, ln Γ(b) − ln Γ(a + b) is
/// expanded so that the large (b − ½) ln b terms cancel analytically rather
/// than in floating point.
fn ln_beta(a: f64, b: f64) -> f64 {
    let (a, b) = if a <= b { (a, b) } else { (b, a) };
    if b < 10.0 {
        return ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b);
    }
    let s = a + b;
    let diff = -(b - 0.5) * (a / b).ln_1p() - a * s.ln() + a + stirling_tail(b) - stirling_tail(s);
    ln_gamma(a) + diff
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs()
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        assert!(ln_gamma(1.0).abs() < 1e-13, "{}", ln_gamma(1.0));
        assert!(close(ln_gamma(5.0), 24f64.ln(), 1e-14));
        assert!(close(
            ln_gamma(0.5),
            std::f64::consts::PI.sqrt().ln(),
            1e-13
        ));
        // ln(100!) = ln Γ(101).
        assert!(close(ln_gamma(101.0), 363.739_375_555_563_5, 1e-14));
    }

    #[test]
    fn wilson_matches_known_values() {
        // 5 of 10 at 95%: centre 0.5, half-width 0.5 · z/(1+z²/10)·sqrt(0.025+z²/400).
        let i = wilson(5, 10, 0.95);
        assert!(close(i.lower, 0.236_593_090_512_564_7, 1e-8), "{}", i.lower);
        assert!(close(i.upper, 0.763_406_909_487_435_3, 1e-8), "{}", i.upper);
        assert!(close(normal_quantile(0.975), 1.959_963_984_540_054, 1e-9));
        // Zero events: the exact one-sided bound 1 − 0.05^(1/n); 0 of 20,910 → 1.43e-4.
        let (i, m) = rate_interval(0, 20_910, 0.95);
        assert_eq!(m, Method::ClopperPearsonOneSided);
        assert_eq!(i.lower, 0.0);
        assert!(close(i.upper, 1.0 - 0.05f64.powf(1.0 / 20_910.0), 1e-7));
        assert!(close(i.upper, 1.432_577e-4, 1e-5), "{}", i.upper);
        let (i, _) = rate_interval(20, 20, 0.95);
        assert!(close(i.lower, 0.05f64.powf(1.0 / 20.0), 1e-7) && i.upper == 1.0);
        let (_, m) = rate_interval(3, 20_910, 0.95);
        assert_eq!(m, Method::Wilson);
    }

    #[test]
    fn intervals_match_published_values() {
        // Reference values from mpmath at 40+ digits (beta quantiles; the last
        // row by bisection on the exact binomial CDF).
        let cases: [(u64, u64, f64, f64); 5] = [
            (5, 10, 0.187_086_028_447_398_5, 0.812_913_971_552_601_4),
            (0, 10, 0.0, 0.308_497_107_818_760_8),
            (10, 10, 0.691_502_892_181_239_2, 1.0),
            (
                1,
                100,
                0.000_253_146_032_977_420_6,
                0.054_459_385_392_080_65,
            ),
            (
                100,
                100_000_000,
                8.136_399_842_560_571e-7,
                1.216_267_806_404_362e-6,
            ),
        ];
        for (k, n, lo, hi) in cases {
            let i = clopper_pearson(k, n, 0.95);
            assert!(
                close(i.lower, lo, 1e-8),
                "{k}/{n}: lower {} vs {lo}",
                i.lower
            );
            assert!(
                close(i.upper, hi, 1e-8),
                "{k}/{n}: upper {} vs {hi}",
                i.upper
            );
        }
        let i = clopper_pearson(0, 0, 0.95);
        assert_eq!((i.lower, i.upper), (0.0, 1.0));
    }
}
