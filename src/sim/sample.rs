//! Exact samplers for the distributions the engine draws from: uniform,
//! normal, gamma, beta, binomial and Poisson, on a ChaCha8 stream.
//!
//! Exact means each draw has the stated distribution (up to floating
//! point), not an approximation (no normal stand-in for a binomial):
//! the binomial splits `n` at an order statistic drawn from a beta
//! (Knuth, TAOCP 3.4.1) until `n·p` is small, then counts geometric gaps;
//! the Poisson splits at a gamma draw (also Knuth) until its mean is small,
//! then multiplies uniforms. Each costs O(log n) draws, so a user-day of a
//! thousand messages costs as little as one of ten. Written here instead of
//! adding `rand_distr`, whose releases follow `rand`'s and which the
//! library (built without `rand`) would have pulled in for five functions.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::Rng;

/// A uniform draw in (0, 1) (never 0 or 1).
#[inline]
pub fn uniform(rng: &mut ChaCha8Rng) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
}

/// A standard normal draw (Box–Muller, one of the pair).
pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u = uniform(rng);
    let v = uniform(rng);
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// A Gamma(shape, 1) draw (Marsaglia–Tsang; shape < 1 boosted by U^(1/shape)).
pub fn gamma(rng: &mut ChaCha8Rng, shape: f64) -> f64 {
    if shape < 1.0 {
        let u = uniform(rng);
        return gamma(rng, shape + 1.0) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let (x, v) = loop {
            let x = normal(rng);
            let v = 1.0 + c * x;
            if v > 0.0 {
                break (x, v * v * v);
            }
        };
        let u = uniform(rng);
        if u < 1.0 - 0.0331 * x * x * x * x || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
            return d * v;
        }
    }
}

/// A Beta(a, b) draw.
pub fn beta(rng: &mut ChaCha8Rng, a: f64, b: f64) -> f64 {
    let x = gamma(rng, a);
    let y = gamma(rng, b);
    if x + y == 0.0 { 0.5 } else { x / (x + y) }
}

/// A Binomial(n, p) draw.
pub fn binomial(rng: &mut ChaCha8Rng, n: u64, p: f64) -> u64 {
    if n == 0 || p <= 0.0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    if p > 0.5 {
        return n - binomial(rng, n, 1.0 - p);
    }
    let (mut n, mut p, mut base) = (n, p, 0u64);
    // Split at the median order statistic of n uniforms until n·p is small.
    while n as f64 * p > 16.0 {
        let a = n / 2 + 1;
        let x = beta(rng, a as f64, (n + 1 - a) as f64);
        if x >= p {
            n = a - 1;
            p /= x;
        } else {
            base += a;
            n -= a;
            p = (p - x) / (1.0 - x);
        }
    }
    base + binomial_small(rng, n, p)
}

/// Binomial by geometric gaps between successes: O(n·p) draws.
fn binomial_small(rng: &mut ChaCha8Rng, n: u64, p: f64) -> u64 {
    if p <= 0.0 || n == 0 {
        return 0;
    }
    let log_q = (-p).ln_1p();
    if log_q == 0.0 {
        return 0;
    }
    let mut count = 0u64;
    let mut pos = 0f64;
    let n = n as f64;
    loop {
        pos += (uniform(rng).ln() / log_q).floor() + 1.0;
        if pos > n {
            return count;
        }
        count += 1;
    }
}

/// A Poisson(mean) draw.
pub fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> u64 {
    let (mut mean, mut base) = (mean, 0u64);
    while mean > 12.0 {
        let m = (mean * 0.875).floor() as u64;
        let x = gamma(rng, m as f64);
        if x < mean {
            base += m;
            mean -= x;
        } else {
            return base + binomial(rng, m - 1, mean / x);
        }
    }
    if mean <= 0.0 {
        return base;
    }
    let limit = (-mean).exp();
    let mut k = 0;
    let mut prod = uniform(rng);
    while prod > limit {
        k += 1;
        prod *= uniform(rng);
    }
    base + k
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    fn moments(draws: impl Iterator<Item = f64>) -> (f64, f64) {
        let v: Vec<f64> = draws.collect();
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
        (mean, var)
    }

    #[test]
    fn binomial_has_its_mean_and_variance() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for (n, p) in [
            (10u64, 0.3),
            (1000, 0.2),
            (1_000_000, 0.01),
            (50, 0.9),
            (7, 1e-9),
        ] {
            let (m, v) = moments((0..40_000).map(|_| binomial(&mut rng, n, p) as f64));
            let (em, ev) = (n as f64 * p, n as f64 * p * (1.0 - p));
            // Five standard errors of the mean; 10 % on the variance.
            assert!(
                (m - em).abs() <= 5.0 * (ev / 40_000.0).sqrt() + 1e-9,
                "{n} {p}: {m} vs {em}"
            );
            assert!(
                (v - ev).abs() <= 0.1 * ev + 1e-6,
                "{n} {p}: var {v} vs {ev}"
            );
        }
    }

    #[test]
    fn binomial_probabilities_are_exact_for_a_small_case() {
        // Binomial(4, 0.5): P(2) = 6/16.
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let n = 160_000;
        let twos = (0..n).filter(|_| binomial(&mut rng, 4, 0.5) == 2).count() as f64;
        let p = 6.0 / 16.0;
        assert!((twos / n as f64 - p).abs() < 5.0 * (p * (1.0 - p) / n as f64).sqrt());
    }

    #[test]
    fn poisson_has_its_mean_and_variance() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for mean in [0.5, 5.0, 20.0, 300.0, 1e5] {
            let (m, v) = moments((0..40_000).map(|_| poisson(&mut rng, mean) as f64));
            assert!(
                (m - mean).abs() <= 5.0 * (mean / 40_000.0).sqrt(),
                "{mean}: {m}"
            );
            assert!((v - mean).abs() <= 0.1 * mean, "{mean}: var {v}");
        }
    }

    #[test]
    fn beta_has_its_mean() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for (a, b) in [(1.0, 1.0), (1.0, 7751.0), (0.5, 3.0), (30.0, 10.0)] {
            let (m, _) = moments((0..40_000).map(|_| beta(&mut rng, a, b)));
            let em = a / (a + b);
            let sd = (a * b / ((a + b) * (a + b) * (a + b + 1.0))).sqrt();
            assert!((m - em).abs() <= 5.0 * sd / 200.0, "{a} {b}: {m} vs {em}");
        }
    }
}
