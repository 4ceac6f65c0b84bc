//! Two results folders side by side (`rnnlab compare A B`): every final metric of every grid
//! point of either, with the difference and whether it is larger than seed noise (Welch's t
//! test at 95%).

use std::path::Path;

use crate::doc::Table;
use crate::error::ReportError;
use crate::published::{higher_is_better, t95};
use crate::report_config;
use crate::summary::{mean_std, summarize, Stat};

/// How B's mean differs from A's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Significantly better in B (Welch's t test, 95%).
    Better,
    Worse,
    /// Within seed noise.
    Same,
    /// Fewer than two seeds on a side: no test possible.
    TooFew,
    /// The grid point or metric is in one folder only.
    Missing,
}

/// Welch's test of `a` against `b` for `metric`; `TooFew` when either side has < 2 seeds.
pub fn change(metric: &str, a: Option<&Stat>, b: Option<&Stat>) -> Change {
    let (Some(a), Some(b)) = (a, b) else { return Change::Missing };
    if a.n < 2 || b.n < 2 || !a.std.is_finite() || !b.std.is_finite() {
        return Change::TooFew;
    }
    let (va, vb) = (a.std * a.std / a.n as f64, b.std * b.std / b.n as f64);
    let diff = b.mean - a.mean;
    let se = (va + vb).sqrt();
    // Means that differ only by rounding (e.g. 0.1 vs the mean of three 0.1s) are the same.
    if diff.abs() <= 1e-9 * a.mean.abs().max(b.mean.abs()).max(1e-12) {
        return Change::Same;
    }
    if se == 0.0 {
        return if (diff > 0.0) == higher_is_better(metric) { Change::Better } else { Change::Worse };
    }
    // Welch–Satterthwaite degrees of freedom, rounded down (conservative).
    let df = (va + vb).powi(2) / (va * va / (a.n as f64 - 1.0) + vb * vb / (b.n as f64 - 1.0));
    if diff.abs() / se <= t95(df.floor() as usize) {
        Change::Same
    } else if (diff > 0.0) == higher_is_better(metric) {
        Change::Better
    } else {
        Change::Worse
    }
}

/// One row per grid point and metric of A or B, in A's order, then B's extra points.
pub fn compare(a_dir: &Path, b_dir: &Path) -> Result<Table, ReportError> {
    let a = summarize(a_dir, &report_config(a_dir)?)?;
    let b = summarize(b_dir, &report_config(b_dir)?)?;
    let a_points: Vec<String> = a.rows.iter().map(|r| a.label(r)).collect();
    let b_points: Vec<String> = b.rows.iter().map(|r| b.label(r)).collect();
    let mut points = a_points.clone();
    points.extend(b_points.iter().filter(|p| !a_points.contains(p)).cloned());
    let mut metrics = a.metrics.clone();
    metrics.extend(b.metrics.iter().filter(|m| !a.metrics.contains(m)).cloned());

    let name = |d: &Path| d.display().to_string();
    let mut table = Table::new(vec![
        "grid point".into(),
        "metric".into(),
        format!("A: {}", name(a_dir)),
        format!("B: {}", name(b_dir)),
        "B − A".into(),
        "change (Welch 95%)".into(),
    ]);
    for p in &points {
        let (ia, ib) = (a_points.iter().position(|x| x == p), b_points.iter().position(|x| x == p));
        for m in &metrics {
            let (sa, sb) = (ia.and_then(|i| a.stat(&a.rows[i], m)), ib.and_then(|i| b.stat(&b.rows[i], m)));
            if sa.is_none() && sb.is_none() {
                continue;
            }
            let with_n = |s: Option<&Stat>| match s {
                Some(st) => format!("{} (n={})", mean_std(s), st.n),
                None => "—".into(),
            };
            let diff = match (sa, sb) {
                (Some(x), Some(y)) => format!("{:+.4}", y.mean - x.mean),
                _ => "—".into(),
            };
            let verdict = match change(m, sa, sb) {
                Change::Better => "**better**",
                Change::Worse => "**worse**",
                Change::Same => "same",
                Change::TooFew => "n < 2, untested",
                Change::Missing => "only in one",
            };
            table.rows.push(vec![p.clone(), m.clone(), with_n(sa), with_n(sb), diff, verdict.into()]);
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: usize, mean: f64, std: f64) -> Stat {
        Stat { n, mean, std, min: mean, max: mean, values: vec![mean; n] }
    }

    #[test]
    fn welch_separates_signal_from_seed_noise() {
        // 0.90 ± 0.01 vs 0.95 ± 0.01, 5 seeds each: t ≈ 7.9, far beyond 2.306.
        assert_eq!(change("test_accuracy", Some(&s(5, 0.90, 0.01)), Some(&s(5, 0.95, 0.01))), Change::Better);
        assert_eq!(change("test_loss", Some(&s(5, 0.90, 0.01)), Some(&s(5, 0.95, 0.01))), Change::Worse);
        // Same means ± 0.05: t ≈ 1.58 < 2.306.
        assert_eq!(change("test_accuracy", Some(&s(5, 0.90, 0.05)), Some(&s(5, 0.95, 0.05))), Change::Same);
        assert_eq!(change("test_accuracy", Some(&s(1, 0.90, f64::NAN)), Some(&s(5, 0.95, 0.0))), Change::TooFew);
        assert_eq!(change("test_accuracy", None, Some(&s(5, 0.95, 0.0))), Change::Missing);
    }
}
