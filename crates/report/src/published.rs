//! `[[published]]` figures against what the sweep measured: a verdict per entry.

use std::fmt;

use rnnlab_spec::Published;

use crate::doc::Table;
use crate::summary::{Stat, Summary};

/// How a measured mean compares with a published figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The published value lies within the tolerance of our mean, or inside our 95% CI.
    Reproduced,
    /// Outside both, on the good side (higher accuracy, lower error or loss).
    Better,
    Worse,
    /// No ok trial at the matching grid point, or the metric was not measured.
    NoData,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Reproduced => "reproduced",
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::NoData => "no data",
        })
    }
}

pub use rnnlab_spec::vocab::higher_is_better;

/// Two-sided 95% Student t quantiles for 1..=30 degrees of freedom.
const T95: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
    2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/// Half-width of the 95% confidence interval of the mean (Student t); `None` for one value.
pub fn ci95(stat: &Stat) -> Option<f64> {
    if stat.n < 2 || !stat.std.is_finite() {
        return None;
    }
    Some(t95(stat.n - 1) * stat.std / (stat.n as f64).sqrt())
}

/// The two-sided 95% Student t quantile for `df` ≥ 1 degrees of freedom (1.96 beyond 30).
pub fn t95(df: usize) -> f64 {
    T95.get(df.max(1) - 1).copied().unwrap_or(1.96)
}

/// `mean [lo, hi]` with the Student-t 95% interval kept inside the metric's range (an accuracy
/// interval ends at 1); the mean alone for one seed.
pub fn mean_ci(s: &Stat, metric: &str) -> String {
    match ci95(s) {
        Some(h) => {
            let (min, max) = rnnlab_spec::vocab::metric_range(metric);
            let (lo, hi) = ((s.mean - h).clamp(min, max), (s.mean + h).clamp(min, max));
            format!("{:.4} [{lo:.4}, {hi:.4}]", s.mean)
        }
        None => format!("{:.4}", s.mean),
    }
}

/// The verdict for a published `value` with `tolerance`, given our `stat` of `metric`.
pub fn verdict(metric: &str, value: f64, tolerance: f64, stat: Option<&Stat>) -> Verdict {
    let Some(s) = stat.filter(|s| s.n > 0 && s.mean.is_finite()) else { return Verdict::NoData };
    let diff = s.mean - value;
    let in_ci = ci95(s).is_some_and(|h| diff.abs() <= h);
    if diff.abs() <= tolerance || in_ci {
        Verdict::Reproduced
    } else if (diff > 0.0) == higher_is_better(metric) {
        Verdict::Better
    } else {
        Verdict::Worse
    }
}

/// One row of the published comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub entry: Published,
    /// The matching grid point, as `key=value` pairs ("" for an experiment without a grid).
    pub point: String,
    pub ours: Option<Stat>,
    pub verdict: Verdict,
}

/// A TOML value as it appears in a grid column of runs.csv.
fn as_cell(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Compares every entry with the summary row its `where` selects.
pub fn compare(summary: &Summary, published: &[Published]) -> Vec<Comparison> {
    published
        .iter()
        .map(|entry| {
            let row = summary.rows.iter().find(|r| {
                entry
                    .at
                    .iter()
                    .all(|(k, v)| summary.grid.iter().position(|g| g == k).is_some_and(|i| r.point[i] == as_cell(v)))
            });
            let ours = row.and_then(|r| summary.stat(r, &entry.metric).cloned());
            let point = rnnlab_spec::point_label(entry.at.iter().map(|(k, v)| (k, as_cell(v))));
            let verdict = verdict(&entry.metric, entry.value, entry.tolerance, ours.as_ref());
            Comparison { entry: entry.clone(), point, ours, verdict }
        })
        .collect()
}

/// The comparison as a table.
pub fn table(rows: &[Comparison]) -> Table {
    let mut table = Table::new(
        [
            "grid point",
            "metric",
            "published",
            "± tolerance",
            "ours (mean, 95% t-CI)",
            "n",
            "difference",
            "verdict",
            "source",
        ]
        .map(String::from)
        .to_vec(),
    );
    for c in rows {
        let (ours, n, diff) = match &c.ours {
            Some(s) => (mean_ci(s, &c.entry.metric), s.n.to_string(), format!("{:+.4}", s.mean - c.entry.value)),
            None => ("—".into(), "0".into(), "—".into()),
        };
        table.rows.push(vec![
            if c.point.is_empty() { "(all)".into() } else { c.point.clone() },
            c.entry.metric.clone(),
            c.entry.value.to_string(),
            c.entry.tolerance.to_string(),
            ours,
            n,
            diff,
            format!("**{}**", c.verdict),
            c.entry.source.clone(),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(n: usize, mean: f64, std: f64) -> Stat {
        Stat { n, mean, std, min: mean, max: mean, values: vec![mean; n] }
    }

    #[test]
    fn verdicts_follow_tolerance_ci_and_the_metric_direction() {
        // Within tolerance.
        assert_eq!(verdict("test_accuracy", 0.953, 0.02, Some(&stat(3, 0.9417, 0.0181))), Verdict::Reproduced);
        // Outside tolerance but inside the CI: t(2) = 4.303, half-width 4.303 · 0.05 / √3 ≈ 0.124.
        assert_eq!(verdict("test_accuracy", 0.95, 0.0, Some(&stat(3, 0.85, 0.05))), Verdict::Reproduced);
        // Outside both.
        assert_eq!(verdict("test_accuracy", 0.95, 0.01, Some(&stat(10, 0.99, 0.001))), Verdict::Better);
        assert_eq!(verdict("test_accuracy", 0.95, 0.01, Some(&stat(10, 0.90, 0.001))), Verdict::Worse);
        // Lower is better for losses and errors.
        assert_eq!(verdict("test_nll", 8.45, 0.1, Some(&stat(10, 8.0, 0.01))), Verdict::Better);
        assert_eq!(verdict("test_mse", 1.0, 0.1, Some(&stat(1, 2.0, f64::NAN))), Verdict::Worse);
        assert_eq!(verdict("test_accuracy", 0.9, 0.1, None), Verdict::NoData);
    }

    #[test]
    fn ci_uses_student_t() {
        let h = ci95(&stat(5, 1.0, 2.0)).unwrap();
        assert!((h - 2.776 * 2.0 / 5f64.sqrt()).abs() < 1e-12);
        assert_eq!(ci95(&stat(1, 1.0, f64::NAN)), None);
        assert!((ci95(&stat(100, 0.0, 1.0)).unwrap() - 0.196).abs() < 1e-12);
    }
}
