//! "Which cell is better, and how sure are we": the values of one grid axis (`[report]
//! compare`, by default `model.cell`) compared pairwise on the primary metric, each at its best
//! grid point, by the probability of improvement over seeds with a bootstrap interval; and the
//! robust per-grid-point statistics (mean, median, IQM with bootstrap intervals clipped to the
//! metric's range; successes with a Wilson interval).

use rnnlab_spec::vocab::metric_range;

use crate::doc::Table;
use crate::stats::{self, Estimator, Interval};
use crate::summary::{Row, Summary};

/// The axis compared when `[report] compare` is not set.
pub const DEFAULT_AXIS: &str = "model.cell";

/// Seeds each side needs for a verdict: with fewer, even a complete separation (every seed of
/// one beating every seed of the other) is not significant at 5% by the exact two-sided
/// Mann–Whitney test (3 against 3: p = 0.1), while the bootstrap interval of P would be [1, 1].
pub const MIN_SEEDS: usize = 4;

/// One value of the compared axis, at its best grid point.
#[derive(Debug, Clone, PartialEq)]
pub struct Contender {
    /// The axis value (e.g. `gru`).
    pub name: String,
    /// Its best grid point (by the primary metric's mean), as `key=value` pairs.
    pub point: String,
    pub values: Vec<f64>,
    pub iqm: Interval,
}

/// One pair's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// The better side first when the interval separates them, else in ranking order.
    pub first: usize,
    pub second: usize,
    /// P(a seed of `first` beats a seed of `second`), with its stratified bootstrap interval.
    pub p: Interval,
    pub separable: bool,
}

/// The pairwise comparison of an axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Pairwise {
    pub axis: String,
    pub metric: String,
    pub higher_is_better: bool,
    /// Best first (by the primary metric's mean at each one's best grid point).
    pub contenders: Vec<Contender>,
    pub pairs: Vec<Pair>,
    /// Whether the metric values are early stopping's selections rather than final values.
    pub selected: bool,
    /// The metric that picked each contender's grid point, when it is not `metric`.
    pub ranked_by: Option<String>,
}

/// Compares the values of `axis` (or [`DEFAULT_AXIS`]) on the primary metric; `None` when the
/// grid has no such axis, fewer than two of its values have results, or there is no metric.
pub fn compare(summary: &Summary, axis: Option<&str>) -> Option<Pairwise> {
    let axis = axis.unwrap_or(DEFAULT_AXIS);
    let a = summary.grid.iter().position(|g| g == axis)?;
    let k = summary.primary?;
    let metric = summary.metrics[k].clone();
    let higher = rnnlab_spec::vocab::higher_is_better(&metric);
    let (min, max) = metric_range(&metric);
    let mut contenders: Vec<Contender> = Vec::new();
    // Rows are sorted best first: the first row of each axis value is its best grid point.
    for row in &summary.rows {
        let Some(stat) = row.stats[k].as_ref().filter(|s| !s.values.is_empty()) else { continue };
        if contenders.iter().any(|c| c.name == row.point[a]) {
            continue;
        }
        contenders.push(Contender {
            name: row.point[a].clone(),
            point: summary.label(row),
            values: stat.values.clone(),
            iqm: stats::bootstrap(&stat.values, Estimator::Iqm, stats::RESAMPLES, stats::SEED).clip(min, max),
        });
    }
    if contenders.len() < 2 {
        return None;
    }
    let better = move |x: f64, y: f64| if higher { x > y } else { x < y };
    let mut pairs = Vec::new();
    for i in 0..contenders.len() {
        for j in i + 1..contenders.len() {
            let p = stats::prob_improvement_ci(
                &contenders[i].values,
                &contenders[j].values,
                better,
                stats::RESAMPLES,
                stats::SEED,
            );
            let enough = contenders[i].values.len() >= MIN_SEEDS && contenders[j].values.len() >= MIN_SEEDS;
            pairs.push(if !enough {
                Pair { first: i, second: j, p, separable: false }
            } else if p.hi < 0.5 {
                // The second is better: state it that way round (ties count half, so
                // P(Y > X) = 1 − P(X > Y)).
                let flipped = Interval { value: 1.0 - p.value, lo: 1.0 - p.hi, hi: 1.0 - p.lo };
                Pair { first: j, second: i, p: flipped, separable: true }
            } else {
                Pair { first: i, second: j, p, separable: p.lo > 0.5 }
            });
        }
    }
    let selected = summary.selected > 0;
    let ranked_by = summary.rank.filter(|&r| r != k).map(|r| summary.metrics[r].clone());
    Some(Pairwise { axis: axis.to_string(), metric, higher_is_better: higher, contenders, pairs, selected, ranked_by })
}

/// Why [`compare`] made no comparison, in a sentence for the report (the section says so
/// rather than disappearing).
pub fn why_not(summary: &Summary, axis: Option<&str>) -> String {
    let axis = axis.unwrap_or(DEFAULT_AXIS);
    if !summary.grid.iter().any(|g| g == axis) {
        return if summary.grid.is_empty() {
            format!("No comparison of `{axis}`: this sweep has one grid point.")
        } else {
            format!(
                "No comparison: `{axis}` is not a grid axis of this sweep (`[report] compare` names one of {}).",
                summary.grid.iter().map(|g| format!("`{g}`")).collect::<Vec<_>>().join(", ")
            )
        };
    }
    match summary.primary {
        None => format!("No comparison of `{axis}`: no trial has a value of the primary metric yet."),
        Some(k) => format!(
            "No comparison of `{axis}`: fewer than two of its values have an ok trial with `{}`.",
            summary.metrics[k]
        ),
    }
}

impl Pairwise {
    /// A pair in words: `gru > rnn (P = 1.00 [1.00, 1.00])`, or `lstm vs gru: not separable
    /// with 10 seeds (P = 0.45 [0.25, 0.66])`.
    pub fn sentence(&self, pair: &Pair) -> String {
        let (x, y) = (&self.contenders[pair.first], &self.contenders[pair.second]);
        let p = format!("P = {:.2} [{:.2}, {:.2}]", pair.p.value, pair.p.lo, pair.p.hi);
        if pair.separable {
            format!("{} > {} ({p})", x.name, y.name)
        } else {
            let (a, b) = (x.values.len(), y.values.len());
            let seeds = match (a == b, b) {
                (true, 1) => "1 seed".to_string(),
                (true, _) => format!("{a} seeds"),
                (false, 1) => format!("{a} and 1 seed"),
                (false, _) => format!("{a} and {b} seeds"),
            };
            format!("{} vs {}: not separable with {seeds} ({p})", x.name, y.name)
        }
    }

    /// What the comparison means, for the paragraph above its tables.
    pub fn explanation(&self) -> String {
        format!(
            "`{}` compared on {} `{}` ({} is better), each at its best grid point{}. `X > Y`: a seed \
             of X beats a seed of Y with probability P (Mann–Whitney over all pairs of seeds, ties \
             count half), and the stratified bootstrap 95% interval of P excludes 0.5; otherwise \
             the two are not separable with these seeds. A verdict needs at least {} seeds on each \
             side (with fewer, even a complete separation is not significant at 5% by the exact \
             Mann–Whitney test). Intervals: percentile bootstrap, {} resamples, seed {}.",
            self.axis,
            if self.selected { "early-stopping-selected" } else { "final" },
            self.metric,
            if self.higher_is_better { "higher" } else { "lower" },
            self.ranked_by.as_ref().map_or(String::new(), |r| format!(" by mean `{r}`")),
            MIN_SEEDS,
            stats::RESAMPLES,
            stats::SEED
        )
    }

    /// One row per pair: the verdict, P and its interval.
    pub fn verdict_table(&self) -> Table {
        let mut t = Table::new(vec!["verdict".into(), "P(first beats second)".into(), "95% CI".into()]);
        for pair in &self.pairs {
            let sentence = self.sentence(pair);
            let short = sentence.rsplit_once(" (P =").map_or(sentence.as_str(), |(s, _)| s);
            t.rows.push(vec![
                format!("**{short}**"),
                format!("{:.2}", pair.p.value),
                format!("[{:.2}, {:.2}]", pair.p.lo, pair.p.hi),
            ]);
        }
        t
    }

    /// One row per contender: its best grid point, seeds and IQM with its interval.
    pub fn contender_table(&self) -> Table {
        let mut t = Table::new(vec![
            self.axis.clone(),
            "best grid point".into(),
            "n".into(),
            format!("{} IQM [95% CI]", self.metric),
        ]);
        for c in &self.contenders {
            t.rows.push(vec![c.name.clone(), c.point.clone(), c.values.len().to_string(), c.iqm.show(4)]);
        }
        t
    }
}

/// Per grid point: n, mean, median and IQM of `metric` with percentile-bootstrap 95% intervals
/// (clipped to the metric's range), and, for the success rule's metric, the success count with
/// its Wilson interval.
pub fn robust_table(summary: &Summary, metric: &str) -> Option<Table> {
    let k = summary.metrics.iter().position(|m| m == metric)?;
    let (min, max) = metric_range(metric);
    let success = summary.success.as_ref().filter(|r| r.metric == metric);
    let mut header = summary.grid.clone();
    header.push("n".into());
    header.extend(Estimator::ALL.iter().map(|e| format!("{} [95% CI]", e.name())));
    if let Some(rule) = success {
        header.push(format!("{} {} {} (Wilson 95%)", rule.metric, rule.op, rule.threshold));
    }
    let row_cells = |r: &Row| -> Vec<String> {
        let mut cells = r.point.clone();
        let values = r.stats[k].as_ref().map(|s| s.values.as_slice()).unwrap_or_default();
        cells.push(values.len().to_string());
        for e in Estimator::ALL {
            cells.push(if values.is_empty() {
                "—".into()
            } else {
                stats::bootstrap(values, e, stats::RESAMPLES, stats::SEED).clip(min, max).show(4)
            });
        }
        if success.is_some() {
            let w = stats::wilson(r.successes.unwrap_or(0), r.ok);
            cells.push(if r.ok == 0 {
                "—".into()
            } else {
                format!("{}/{} [{:.2}, {:.2}]", r.successes.unwrap_or(0), r.ok, w.lo, w.hi)
            });
        }
        cells
    };
    Some(Table { header, rows: summary.rows.iter().map(row_cells).collect() })
}
