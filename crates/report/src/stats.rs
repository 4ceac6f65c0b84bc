//! Statistics over seeds for reports, after rliable (Agarwal et al., NeurIPS 2021): the mean,
//! median and interquartile mean (IQM) with percentile-bootstrap 95% intervals, the
//! probability of improvement P(X > Y) between two sets of seeds, and Wilson intervals for
//! success counts. Every random draw comes from [`SEED`], so a report is reproducible.
//!
//! Definitions follow numpy/scipy, and `tests/stats.rs` checks them against values that
//! `scripts/stats_fixture.py` computed with numpy and scipy: quantiles interpolate linearly
//! (numpy's default), the IQM is `scipy.stats.trim_mean(x, 0.25)`, the bootstrap interval is
//! `scipy.stats.bootstrap(method="percentile")`, and the Wilson interval is
//! `scipy.stats.binomtest(k, n).proportion_ci(method="wilson")`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The resampling seed of every bootstrap in a report (stated in the report).
pub const SEED: u64 = 20_211_206;
/// Bootstrap resamples per interval (rliable's default).
pub const RESAMPLES: usize = 2000;
/// The two-sided 95% normal quantile.
const Z95: f64 = 1.959_963_984_540_054;

/// A statistic of a set of seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Estimator {
    Mean,
    Median,
    /// Interquartile mean: the mean of the middle half (a quarter trimmed from each end).
    Iqm,
}

impl Estimator {
    pub const ALL: [Estimator; 3] = [Estimator::Mean, Estimator::Median, Estimator::Iqm];

    pub fn name(self) -> &'static str {
        match self {
            Estimator::Mean => "mean",
            Estimator::Median => "median",
            Estimator::Iqm => "IQM",
        }
    }

    /// The statistic of `xs` (NaN when empty). Sorts `xs`.
    pub fn of(self, xs: &mut [f64]) -> f64 {
        match self {
            Estimator::Mean => mean(xs),
            Estimator::Median => {
                sort(xs);
                quantile_sorted(xs, 0.5)
            }
            Estimator::Iqm => iqm(xs),
        }
    }
}

/// An estimate with its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub value: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    /// Keeps the estimate and its bounds inside `[min, max]` (a metric's range).
    pub fn clip(self, min: f64, max: f64) -> Interval {
        let c = |v: f64| if v.is_nan() { v } else { v.clamp(min, max) };
        Interval { value: c(self.value), lo: c(self.lo), hi: c(self.hi) }
    }

    /// `0.9808 [0.9425, 1.0000]`.
    pub fn show(&self, digits: usize) -> String {
        if self.value.is_nan() {
            return "—".into();
        }
        format!("{:.d$} [{:.d$}, {:.d$}]", self.value, self.lo, self.hi, d = digits)
    }
}

fn sort(xs: &mut [f64]) {
    xs.sort_by(f64::total_cmp);
}

pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// numpy's default (linear) quantile of sorted values, `q` in [0, 1].
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n => {
            let h = q * (n - 1) as f64;
            let (i, frac) = (h.floor() as usize, h - h.floor());
            let next = sorted[(i + 1).min(n - 1)];
            sorted[i] + frac * (next - sorted[i])
        }
    }
}

/// `scipy.stats.trim_mean(xs, 0.25)`: drops ⌊n/4⌋ values from each end. Sorts `xs`.
pub fn iqm(xs: &mut [f64]) -> f64 {
    sort(xs);
    let cut = xs.len() / 4;
    mean(&xs[cut..xs.len() - cut])
}

/// The percentile-bootstrap 95% interval of `estimator` over `xs` (`resamples` draws with
/// replacement, seeded with `seed`).
pub fn bootstrap(xs: &[f64], estimator: Estimator, resamples: usize, seed: u64) -> Interval {
    let value = estimator.of(&mut xs.to_vec());
    if xs.len() < 2 {
        return Interval { value, lo: value, hi: value };
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut draw = vec![0.0; xs.len()];
    let mut stats: Vec<f64> = (0..resamples)
        .map(|_| {
            draw.iter_mut().for_each(|d| *d = xs[rng.gen_range(0..xs.len())]);
            estimator.of(&mut draw)
        })
        .collect();
    sort(&mut stats);
    Interval { value, lo: quantile_sorted(&stats, 0.025), hi: quantile_sorted(&stats, 0.975) }
}

/// The probability that a seed of `x` beats a seed of `y`: the Mann–Whitney statistic
/// U / (|x|·|y|), ties counting half. `better(a, b)` says whether `a` beats `b`.
pub fn prob_improvement(x: &[f64], y: &[f64], better: impl Fn(f64, f64) -> bool) -> f64 {
    if x.is_empty() || y.is_empty() {
        return f64::NAN;
    }
    let mut wins = 0.0;
    for &a in x {
        for &b in y {
            wins += if better(a, b) {
                1.0
            } else if better(b, a) {
                0.0
            } else {
                0.5
            };
        }
    }
    wins / (x.len() * y.len()) as f64
}

/// P(X > Y) with a stratified percentile-bootstrap 95% interval (`x` and `y` resampled
/// separately, as rliable does).
pub fn prob_improvement_ci(
    x: &[f64],
    y: &[f64],
    better: impl Fn(f64, f64) -> bool + Copy,
    resamples: usize,
    seed: u64,
) -> Interval {
    let value = prob_improvement(x, y, better);
    if x.is_empty() || y.is_empty() {
        return Interval { value, lo: value, hi: value };
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut dx, mut dy) = (vec![0.0; x.len()], vec![0.0; y.len()]);
    let mut stats: Vec<f64> = (0..resamples)
        .map(|_| {
            dx.iter_mut().for_each(|d| *d = x[rng.gen_range(0..x.len())]);
            dy.iter_mut().for_each(|d| *d = y[rng.gen_range(0..y.len())]);
            prob_improvement(&dx, &dy, better)
        })
        .collect();
    sort(&mut stats);
    Interval { value, lo: quantile_sorted(&stats, 0.025), hi: quantile_sorted(&stats, 0.975) }
}

/// The Wilson score 95% interval of `k` successes in `n` trials.
pub fn wilson(k: usize, n: usize) -> Interval {
    if n == 0 {
        return Interval { value: f64::NAN, lo: f64::NAN, hi: f64::NAN };
    }
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let z2 = Z95 * Z95;
    let center = (k + z2 / 2.0) / (n + z2);
    let half = Z95 * (n * p * (1.0 - p) + z2 / 4.0).sqrt() / (n + z2);
    Interval { value: p, lo: (center - half).max(0.0), hi: (center + half).min(1.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&xs, 0.5), 2.5);
        assert_eq!(quantile_sorted(&xs, 0.25), 1.75);
        assert_eq!(quantile_sorted(&xs, 1.0), 4.0);
        assert!(quantile_sorted(&[], 0.5).is_nan());
    }

    #[test]
    fn the_iqm_trims_a_quarter_from_each_end() {
        // n = 10: two values off each end, the mean of the middle six.
        let mut xs: Vec<f64> = vec![100.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, -100.0];
        assert_eq!(iqm(&mut xs), (1.0 + 2.0 + 3.0 + 4.0 + 5.0 + 6.0) / 6.0);
        assert_eq!(iqm(&mut [3.0]), 3.0);
    }

    #[test]
    fn a_constant_sample_has_a_zero_width_interval_and_resampling_is_seeded() {
        let i = bootstrap(&[0.5; 6], Estimator::Iqm, 500, SEED);
        assert_eq!((i.value, i.lo, i.hi), (0.5, 0.5, 0.5));
        let xs = [0.1, 0.9, 0.4, 0.7, 0.2];
        assert_eq!(bootstrap(&xs, Estimator::Mean, 500, 7), bootstrap(&xs, Estimator::Mean, 500, 7));
        assert_ne!(bootstrap(&xs, Estimator::Mean, 500, 7), bootstrap(&xs, Estimator::Mean, 500, 8));
    }

    #[test]
    fn probability_of_improvement_counts_ties_half_and_follows_the_direction() {
        let higher = |a: f64, b: f64| a > b;
        assert_eq!(prob_improvement(&[1.0, 1.0], &[0.0, 0.0], higher), 1.0);
        assert_eq!(prob_improvement(&[1.0], &[1.0], higher), 0.5);
        assert_eq!(prob_improvement(&[0.0, 2.0], &[1.0], higher), 0.5);
        assert_eq!(prob_improvement(&[1.0, 1.0], &[0.0, 0.0], |a, b| a < b), 0.0);
        let ci = prob_improvement_ci(&[1.0, 1.0, 1.0], &[0.0, 0.0], higher, 300, SEED);
        assert_eq!((ci.lo, ci.hi), (1.0, 1.0));
    }

    #[test]
    fn wilson_stays_inside_zero_and_one() {
        let all = wilson(10, 10);
        assert!(all.hi == 1.0 && all.lo > 0.6 && all.lo < 0.8, "{all:?}");
        let none = wilson(0, 10);
        assert!(none.lo == 0.0 && none.hi < 0.35, "{none:?}");
    }
}
