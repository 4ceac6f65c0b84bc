//! Learning curves: every ok trial's `curve.csv`, aggregated over seeds per grid point and
//! evaluation step with polars (median and quartiles, mean and std), and each seed's own curve.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

use polars::prelude::*;

use crate::error::ReportError;
use crate::frame::{read_csv, text_at, Kind};

/// The column naming each row's trial in the concatenated curves.
const TRIAL: &str = "__trial";

/// Metrics a `curve.csv` may hold, in the order they are plotted.
pub const CURVE_METRICS: &[&str] = &[
    "test_accuracy",
    "test_loss",
    "test_nll",
    "test_mse",
    "valid_accuracy",
    "valid_loss",
    "valid_nll",
    "valid_mse",
    "train_loss",
];

/// One metric along one grid point's curve, over the seeds that reached each step.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Band {
    pub mean: Vec<f64>,
    /// Sample std (NaN for one seed).
    pub std: Vec<f64>,
    /// Median and quartiles (linear interpolation, as numpy's default): the plotted line and band.
    pub median: Vec<f64>,
    pub q25: Vec<f64>,
    pub q75: Vec<f64>,
    /// Each seed's curve as (step, value), in step order.
    pub seeds: Vec<Vec<(f64, f64)>>,
}

/// One grid point's curve.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Grid values, in `Curves::grid` order.
    pub point: Vec<String>,
    /// Evaluation steps, ascending.
    pub steps: Vec<f64>,
    /// Per metric of `Curves::metrics`.
    pub bands: Vec<Band>,
}

/// The learning curves of a results folder.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Curves {
    pub grid: Vec<String>,
    /// Metrics with at least one value.
    pub metrics: Vec<String>,
    /// In the order the grid points first appear in `runs.csv`.
    pub lines: Vec<Line>,
    /// Ok trials whose `curve.csv` is missing (a partly copied folder).
    pub missing: Vec<String>,
    /// Why each unreadable `curve.csv` was left out (file:line and what is wrong).
    pub unreadable: Vec<String>,
}

impl Curves {
    /// A legend label per line: the grid values that differ between lines, as `key=value`
    /// with the key's last dotted segment.
    pub fn labels(&self) -> Vec<String> {
        let varies: Vec<bool> =
            (0..self.grid.len()).map(|g| self.lines.iter().any(|l| l.point[g] != self.lines[0].point[g])).collect();
        self.lines
            .iter()
            .map(|l| {
                let parts: Vec<String> = self
                    .grid
                    .iter()
                    .zip(&l.point)
                    .zip(&varies)
                    .filter(|((_, v), vary)| **vary && !v.is_empty())
                    .map(|((g, v), _)| format!("{}={v}", g.rsplit('.').next().unwrap_or(g)))
                    .collect();
                if parts.is_empty() {
                    "all".to_string()
                } else {
                    parts.join(", ")
                }
            })
            .collect()
    }
}

fn input(path: &Path, message: String) -> ReportError {
    ReportError::Input { path: path.to_path_buf(), message }
}

/// Reads the curves of the ok trials of `dir` (grid columns as in `runs.csv`).
pub fn read_curves(dir: &Path, grid: &[String]) -> Result<Curves, ReportError> {
    let columns: Vec<(&str, Kind)> =
        grid.iter().map(String::as_str).chain(["trial_id", "status"]).map(|c| (c, Kind::Text)).collect();
    let runs = read_csv(&dir.join(rnnlab_spec::vocab::layout::RUNS), &columns)?
        .filter(col("status").eq(lit(rnnlab_spec::Status::Ok.as_str())))
        .select(std::iter::once(col("trial_id")).chain(grid.iter().map(|g| col(g.as_str()))).collect::<Vec<_>>())
        .collect()?;

    let mut frames = Vec::new();
    let mut missing = Vec::new();
    let mut unreadable = Vec::new();
    let mut present: Vec<&str> = Vec::new();
    for i in 0..runs.height() {
        let id = text_at(&runs, "trial_id", i);
        let path = dir.join("trials").join(&id).join("curve.csv");
        // The header only (polars reads the rest): which metric columns this file has.
        let mut first = String::new();
        let Ok(_) = std::fs::File::open(&path).and_then(|f| BufReader::new(f).read_line(&mut first)) else {
            missing.push(id);
            continue;
        };
        let header: Vec<&str> = first.trim_end().split(',').collect();
        // A damaged curve (text in a number column, a cut row) fails the report, naming it.
        let text = std::fs::read_to_string(&path).map_err(|e| input(&path, e.to_string()))?;
        if let Some(damage) = rnnlab_spec::vocab::layout::curve_damage(&text) {
            return Err(input(
                &path,
                format!(
                    "{damage} (a damaged curve.csv: delete the trial's folder and run the sweep again to re-run it)"
                ),
            ));
        }
        let columns: Vec<(&str, Kind)> =
            header.iter().filter(|c| **c == "step" || CURVE_METRICS.contains(c)).map(|c| (*c, Kind::Float)).collect();
        let mut exprs = vec![col("step")];
        for m in CURVE_METRICS {
            if header.contains(m) {
                exprs.push(col(*m));
                if !present.contains(m) {
                    present.push(m);
                }
            } else {
                exprs.push(lit(NULL).cast(DataType::Float64).alias(*m));
            }
        }
        for g in grid {
            exprs.push(lit(text_at(&runs, g, i)).alias(g.as_str()));
        }
        exprs.push(lit(id.clone()).alias(TRIAL));
        // A damaged curve leaves its trial out of the curves (listed), not the whole report.
        match read_csv(&path, &columns) {
            Ok(lf) => frames.push(lf.select(exprs)),
            Err(e) => unreadable.push(e.to_string()),
        }
    }
    if frames.is_empty() {
        return Ok(Curves { grid: grid.to_vec(), missing, unreadable, ..Curves::default() });
    }
    let keys: Vec<Expr> = grid.iter().map(|g| col(g.as_str())).chain([col("step")]).collect();
    let aggs: Vec<Expr> = CURVE_METRICS
        .iter()
        .flat_map(|m| {
            let quantile =
                |q: f64, name: &str| col(*m).quantile(lit(q), QuantileMethod::Linear).alias(format!("{m}__{name}"));
            [
                col(*m).mean().alias(format!("{m}__mean")),
                col(*m).std(1).alias(format!("{m}__std")),
                col(*m).median().alias(format!("{m}__median")),
                quantile(0.25, "q25"),
                quantile(0.75, "q75"),
            ]
        })
        .collect();
    let all = concat(frames, UnionArgs::default())?.collect()?;
    let df = all.clone().lazy().group_by_stable(keys).agg(aggs).collect()?;

    let metrics: Vec<&str> = CURVE_METRICS
        .iter()
        .copied()
        .filter(|m| present.contains(m))
        .filter(|m| df.column(&format!("{m}__mean")).is_ok_and(|c| c.null_count() < c.len()))
        .collect();
    let num = |name: &str, i: usize| -> f64 {
        df.column(name).ok().and_then(|c| c.get(i).ok()).and_then(|v| v.extract::<f64>()).unwrap_or(f64::NAN)
    };
    let mut lines: Vec<Line> = Vec::new();
    for i in 0..df.height() {
        let point: Vec<String> = grid.iter().map(|g| text_at(&df, g, i)).collect();
        let k = match lines.iter().position(|l| l.point == point) {
            Some(k) => k,
            None => {
                let bands = metrics.iter().map(|_| Band::default()).collect();
                lines.push(Line { point, steps: Vec::new(), bands });
                lines.len() - 1
            }
        };
        let line = &mut lines[k];
        line.steps.push(num("step", i));
        for (band, m) in line.bands.iter_mut().zip(&metrics) {
            band.mean.push(num(&format!("{m}__mean"), i));
            band.std.push(num(&format!("{m}__std"), i));
            band.median.push(num(&format!("{m}__median"), i));
            band.q25.push(num(&format!("{m}__q25"), i));
            band.q75.push(num(&format!("{m}__q75"), i));
        }
    }
    seed_curves(&all, grid, &metrics, &mut lines);
    // Trials of one grid point may stop at different steps; put each line in step order.
    lines.iter_mut().for_each(Line::sort_by_step);
    Ok(Curves {
        grid: grid.to_vec(),
        metrics: metrics.iter().map(|m| m.to_string()).collect(),
        lines,
        missing,
        unreadable,
    })
}

impl Line {
    /// Its evaluations in step order.
    fn sort_by_step(&mut self) {
        let mut order: Vec<usize> = (0..self.steps.len()).collect();
        order.sort_by(|&a, &b| self.steps[a].total_cmp(&self.steps[b]));
        self.steps = order.iter().map(|&j| self.steps[j]).collect();
        for band in &mut self.bands {
            for v in [&mut band.mean, &mut band.std, &mut band.median, &mut band.q25, &mut band.q75] {
                *v = order.iter().map(|&j| v[j]).collect();
            }
        }
    }
}

/// Adds each trial's own curve (finite values, in step order) to its grid point's bands.
fn seed_curves(all: &DataFrame, grid: &[String], metrics: &[&str], lines: &mut [Line]) {
    let values: Vec<_> = metrics.iter().map(|m| all.column(m).ok().and_then(|c| c.f64().ok().cloned())).collect();
    let steps = all.column("step").ok().and_then(|c| c.f64().ok().cloned());
    // Each trial's line is looked up once: trial → (its line, its curve's index in the bands).
    let line_of: HashMap<Vec<String>, usize> = lines.iter().enumerate().map(|(k, l)| (l.point.clone(), k)).collect();
    let mut slot: HashMap<String, (usize, usize)> = HashMap::new();
    for i in 0..all.height() {
        let Some(step) = steps.as_ref().and_then(|s| s.get(i)) else { continue };
        let trial = text_at(all, TRIAL, i);
        let (k, s) = match slot.get(&trial) {
            Some(&found) => found,
            None => {
                let point: Vec<String> = grid.iter().map(|g| text_at(all, g, i)).collect();
                let Some(&k) = line_of.get(&point) else { continue };
                let s = lines[k].bands.first().map_or(0, |b| b.seeds.len());
                slot.insert(trial, (k, s));
                (k, s)
            }
        };
        for (band, column) in lines[k].bands.iter_mut().zip(&values) {
            if band.seeds.len() <= s {
                band.seeds.resize(s + 1, Vec::new());
            }
            if let Some(v) = column.as_ref().and_then(|c| c.get(i)).filter(|v| v.is_finite()) {
                band.seeds[s].push((step, v));
            }
        }
    }
    for band in lines.iter_mut().flat_map(|l| l.bands.iter_mut()) {
        for seed in &mut band.seeds {
            seed.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
    }
}
