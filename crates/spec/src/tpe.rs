//! The tree-structured Parzen estimator (Bergstra et al. 2011) as Optuna 5's `TPESampler`
//! with its defaults (multivariate, constant liar; `optuna.samplers._tpe`): the observations
//! are split into the best `γ(n) = min(⌈n/10⌉, 25)` and the rest (points still running count
//! among the rest); each part becomes a mixture with one kernel per observation plus a prior
//! kernel, a kernel being a product over the searched keys of a truncated Gaussian (σ from the
//! neighbours' distances with the "magic clip"; the prior's at the range's middle with σ = the
//! range) — in log space for `log_uniform`, with unit steps for `int_uniform` — or a smoothed
//! histogram for `choice`; 24 candidates are drawn from the good mixture and the one with the
//! largest log l(x) − log g(x) is taken. `tests/tpe_golden.rs` checks these densities against
//! Optuna's on the same observations (scripts/golden_tpe.py).

use rand::Rng;

use crate::search::Dist;

/// Candidates drawn from the good mixture (Optuna's `n_ei_candidates`).
pub const CANDIDATES: usize = 24;

/// The number of observations that count as good among `n` (Optuna's `default_gamma`).
pub fn gamma(n: usize) -> usize {
    n.div_ceil(10).min(25)
}

/// The observations' weights, oldest first (Optuna's `default_weights`): equal below 25, the
/// older ones ramped down from there.
pub fn weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let ramp = n - 25;
    let mut w: Vec<f64> = (0..ramp)
        .map(|i| {
            if ramp == 1 {
                1.0 / n as f64
            } else {
                1.0 / n as f64 + (1.0 - 1.0 / n as f64) * i as f64 / (ramp - 1) as f64
            }
        })
        .collect();
    w.extend(std::iter::repeat_n(1.0, 25));
    w
}

/// A key's values as the estimator sees them: a number (the value itself; its logarithm is
/// taken inside) or a choice's index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Space {
    /// `[low, high]`; `step` 1 for integers; `log` for log-uniform keys.
    Numeric { low: f64, high: f64, step: Option<f64>, log: bool },
    /// `n` choices.
    Choice(usize),
}

impl Space {
    pub(crate) fn of(dist: &Dist) -> Space {
        match dist {
            Dist::Uniform(a, b) => Space::Numeric { low: *a, high: *b, step: None, log: false },
            Dist::LogUniform(a, b) => Space::Numeric { low: *a, high: *b, step: None, log: true },
            Dist::IntUniform(a, b) => Space::Numeric { low: *a as f64, high: *b as f64, step: Some(1.0), log: false },
            Dist::Choice(v) => Space::Choice(v.len()),
        }
    }
}

/// A mixture of one kernel per observation and a prior kernel (the last), each kernel a
/// product over the keys.
#[derive(Debug, Clone)]
pub struct Parzen {
    /// Mixture weights, summing to 1.
    weights: Vec<f64>,
    /// Per key, its factor of every kernel.
    keys: Vec<Kernels>,
}

#[derive(Debug, Clone)]
enum Kernels {
    /// Truncated Gaussians on `[low, high]` (log-transformed when `log`; widened by half a
    /// step on each side for integers).
    Numeric { mus: Vec<f64>, sigmas: Vec<f64>, low: f64, high: f64, step: Option<f64>, log: bool },
    /// Each kernel's probabilities of the choices.
    Choice(Vec<Vec<f64>>),
}

impl Parzen {
    /// The estimator of `observations` (each a value per key of `spaces`, in the keys' units;
    /// a choice's index for choices), oldest first.
    pub fn new(spaces: &[Space], observations: &[Vec<f64>]) -> Parzen {
        let n = observations.len();
        let mut weights = weights(n);
        weights.push(1.0); // the prior's weight
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        let keys = spaces
            .iter()
            .enumerate()
            .map(|(d, space)| {
                let values: Vec<f64> = observations.iter().map(|o| o[d]).collect();
                Kernels::new(*space, &values)
            })
            .collect();
        Parzen { weights, keys }
    }

    /// The log density at `x` (a value per key; for integers and choices the log
    /// probability, for log-uniform keys the density in log space, as Optuna's).
    pub fn log_pdf(&self, x: &[f64]) -> f64 {
        let terms: Vec<f64> = (0..self.weights.len())
            .map(|k| self.weights[k].ln() + self.keys.iter().zip(x).map(|(key, &v)| key.log_pdf(k, v)).sum::<f64>())
            .collect();
        let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if max == f64::NEG_INFINITY {
            return max;
        }
        max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
    }

    /// One draw: a kernel by weight, then each key from its factor of that kernel.
    pub fn sample(&self, rng: &mut impl Rng) -> Vec<f64> {
        let k = pick(&self.weights, rng.gen());
        self.keys.iter().map(|key| key.sample(k, rng)).collect()
    }
}

/// The index at cumulative probability `u` of `probs`.
fn pick(probs: &[f64], mut u: f64) -> usize {
    for (i, p) in probs.iter().enumerate() {
        if u < *p {
            return i;
        }
        u -= p;
    }
    probs.len() - 1
}

impl Kernels {
    fn new(space: Space, observations: &[f64]) -> Kernels {
        let n = observations.len();
        match space {
            Space::Choice(k) => {
                let rows = n + 1;
                let mut probs = vec![vec![1.0 / rows as f64; k]; rows];
                for (row, &x) in probs.iter_mut().zip(observations) {
                    row[x as usize] += 1.0;
                }
                for row in &mut probs {
                    let s: f64 = row.iter().sum();
                    row.iter_mut().for_each(|p| *p /= s);
                }
                Kernels::Choice(probs)
            }
            Space::Numeric { low, high, step, log } => {
                let half = step.unwrap_or(0.0) / 2.0;
                let (mut low, mut high) = (low - half, high + half);
                let mut mus: Vec<f64> = observations.to_vec();
                if log {
                    (low, high) = (low.ln(), high.ln());
                    mus.iter_mut().for_each(|m| *m = m.ln());
                }
                let mut sigmas = bandwidths(&mus, low, high);
                mus.push(0.5 * (low + high));
                sigmas.push(high - low);
                Kernels::Numeric { mus, sigmas, low, high, step, log }
            }
        }
    }

    /// Kernel `k`'s log density (log probability for integers and choices) at `x`.
    fn log_pdf(&self, k: usize, x: f64) -> f64 {
        match self {
            Kernels::Choice(probs) => probs[k][x as usize].ln(),
            Kernels::Numeric { mus, sigmas, low, high, step, log } => {
                let (mu, sigma) = (mus[k], sigmas[k]);
                let norm = log_mass((low - mu) / sigma, (high - mu) / sigma);
                let density = match step {
                    Some(s) => log_mass((x - s / 2.0 - mu) / sigma, (x + s / 2.0 - mu) / sigma),
                    None => {
                        let z = ((if *log { x.ln() } else { x }) - mu) / sigma;
                        -0.5 * z * z - 0.5 * (2.0 * std::f64::consts::PI).ln() - sigma.ln()
                    }
                };
                density - norm
            }
        }
    }

    /// A draw from kernel `k` (in the key's units; an index for choices).
    fn sample(&self, k: usize, rng: &mut impl Rng) -> f64 {
        match self {
            Kernels::Choice(probs) => pick(&probs[k], rng.gen()) as f64,
            Kernels::Numeric { mus, sigmas, low, high, step, log } => {
                // Rejection from the kernel's Gaussian: its mean lies in the range and σ is at
                // most the range, so a third or more of the draws land inside.
                let x = loop {
                    let z: f64 = rng.sample(rand_distr::StandardNormal);
                    let x = mus[k] + sigmas[k] * z;
                    if (*low..=*high).contains(&x) {
                        break x;
                    }
                };
                let x = if *log { x.exp() } else { x };
                match step {
                    Some(s) => {
                        let (lo, hi) = (low + s / 2.0, high - s / 2.0);
                        (lo + ((x - lo) / s).round() * s).clamp(lo, hi)
                    }
                    None => x,
                }
            }
        }
    }
}

/// Each kernel's σ: the larger distance to its sorted neighbours (the range's ends count as
/// neighbours, except for the outermost kernels once there are two), clipped to
/// [range / min(100, n + 2), range] (Optuna's `consider_magic_clip`, `consider_endpoints=False`).
fn bandwidths(mus: &[f64], low: f64, high: f64) -> Vec<f64> {
    let n = mus.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| mus[a].total_cmp(&mus[b]));
    let mut ends = Vec::with_capacity(n + 2);
    ends.push(low);
    ends.extend(order.iter().map(|&i| mus[i]));
    ends.push(high);
    let mut sorted: Vec<f64> = (1..=n).map(|i| (ends[i] - ends[i - 1]).max(ends[i + 1] - ends[i])).collect();
    if n >= 2 {
        sorted[0] = ends[2] - ends[1];
        sorted[n - 1] = ends[n] - ends[n - 1];
    }
    let max = high - low;
    let min = (high - low) / (100f64).min(1.0 + (n + 1) as f64);
    let mut sigmas = vec![0.0; n];
    for (rank, &i) in order.iter().enumerate() {
        sigmas[i] = sorted[rank].clamp(min, max);
    }
    sigmas
}

/// ln(Φ(b) − Φ(a)) for a < b, computed on the side of 0 that keeps it accurate.
fn log_mass(a: f64, b: f64) -> f64 {
    let tail = |x: f64| 0.5 * libm::erfc(x / std::f64::consts::SQRT_2); // P(Z > x)
    let mass = if a >= 0.0 {
        tail(a) - tail(b)
    } else if b <= 0.0 {
        tail(-b) - tail(-a)
    } else {
        1.0 - tail(-a) - tail(b)
    };
    mass.ln()
}

/// The next point: `good` and `bad` are the observations (each oldest first), the draw the
/// candidate with the largest log l(x) − log g(x).
pub fn suggest(spaces: &[Space], good: &[Vec<f64>], bad: &[Vec<f64>], rng: &mut impl Rng) -> Vec<f64> {
    let (l, g) = (Parzen::new(spaces, good), Parzen::new(spaces, bad));
    let mut best: (f64, Vec<f64>) = (f64::NEG_INFINITY, Vec::new());
    for _ in 0..CANDIDATES {
        let x = l.sample(rng);
        let score = l.log_pdf(&x) - g.log_pdf(&x);
        if score > best.0 || best.1.is_empty() {
            best = (score, x);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn gamma_and_weights_are_optunas() {
        assert_eq!([0, 1, 10, 11, 24, 300].map(gamma), [0, 1, 1, 2, 3, 25]);
        assert_eq!(weights(3), vec![1.0; 3]);
        let w = weights(30);
        assert_eq!(w.len(), 30);
        assert!((w[0] - 1.0 / 30.0).abs() < 1e-12 && (w[4] - 1.0).abs() < 1e-12 && w[29] == 1.0);
    }

    #[test]
    fn densities_integrate_to_one_and_draws_stay_in_range() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let uniform = Space::Numeric { low: -1.0, high: 3.0, step: None, log: false };
        let p = Parzen::new(&[uniform], &[vec![0.2], vec![0.25], vec![2.9]]);
        let steps = 40_000;
        let mass: f64 = (0..steps)
            .map(|i| p.log_pdf(&[-1.0 + 4.0 * (i as f64 + 0.5) / steps as f64]).exp() * 4.0 / steps as f64)
            .sum();
        assert!((mass - 1.0).abs() < 1e-6, "{mass}");
        let ints = Space::Numeric { low: 2.0, high: 9.0, step: Some(1.0), log: false };
        // A joint mixture of an integer and a choice sums to 1 over the grid of both.
        let both = Parzen::new(&[ints, Space::Choice(3)], &[vec![3.0, 2.0], vec![3.0, 2.0], vec![8.0, 0.0]]);
        let total: f64 =
            (2..=9).flat_map(|i| (0..3).map(move |c| [i as f64, c as f64])).map(|x| both.log_pdf(&x).exp()).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        let log = Space::Numeric { low: 1e-4, high: 1e-1, step: None, log: true };
        let r = Parzen::new(&[log, ints], &[vec![1e-3, 9.0]]);
        for _ in 0..500 {
            let x = r.sample(&mut rng);
            assert!((1e-4..=1e-1).contains(&x[0]));
            assert!((2.0..=9.0).contains(&x[1]) && x[1].fract() == 0.0);
        }
    }

    #[test]
    fn suggestions_move_towards_the_good_observations() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let space = Space::Numeric { low: 0.0, high: 10.0, step: None, log: false };
        let good = [vec![8.0], vec![8.5]];
        let bad: Vec<Vec<f64>> = [1.0, 2.0, 3.0, 4.0, 5.0, 1.5, 2.5, 0.5].iter().map(|&x| vec![x]).collect();
        let draws: Vec<f64> = (0..50).map(|_| suggest(&[space], &good, &bad, &mut rng)[0]).collect();
        let near = draws.iter().filter(|&&x| x > 6.0).count();
        assert!(near >= 45, "{near} of 50 near the good points: {draws:?}");
    }
}
