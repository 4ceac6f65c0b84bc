//! Learning curves: every ok trial's `curve.csv`, averaged over seeds per grid point and
//! evaluation step with polars.

use std::io::{BufRead, BufReader};
use std::path::Path;

use polars::prelude::*;

use crate::frame::{read_csv, text_at, Kind};
use crate::ReportError;

/// Metrics a `curve.csv` may hold, in the order they are plotted.
pub const CURVE_METRICS: &[&str] = &["test_accuracy", "test_loss", "test_nll", "test_mse", "train_loss"];

/// The seed-mean and -std of one metric along one grid point's curve.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub mean: Vec<f64>,
    /// Sample std over the seeds that reached the step (NaN for one seed).
    pub std: Vec<f64>,
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
        if !header.contains(&"step") {
            unreadable.push(format!("{}: no `step` column", path.display()));
            continue;
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
    let mut aggs = Vec::new();
    for m in CURVE_METRICS {
        aggs.push(col(*m).mean().alias(format!("{m}__mean")));
        aggs.push(col(*m).std(1).alias(format!("{m}__std")));
    }
    let df = concat(frames, UnionArgs::default())?.group_by_stable(keys).agg(aggs).collect()?;

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
                let bands = metrics.iter().map(|_| Band { mean: Vec::new(), std: Vec::new() }).collect();
                lines.push(Line { point, steps: Vec::new(), bands });
                lines.len() - 1
            }
        };
        let line = &mut lines[k];
        line.steps.push(num("step", i));
        for (band, m) in line.bands.iter_mut().zip(&metrics) {
            band.mean.push(num(&format!("{m}__mean"), i));
            band.std.push(num(&format!("{m}__std"), i));
        }
    }
    // Trials of one grid point may stop at different steps; put each line in step order.
    for line in &mut lines {
        let mut order: Vec<usize> = (0..line.steps.len()).collect();
        order.sort_by(|&a, &b| line.steps[a].total_cmp(&line.steps[b]));
        line.steps = order.iter().map(|&j| line.steps[j]).collect();
        for band in &mut line.bands {
            band.mean = order.iter().map(|&j| band.mean[j]).collect();
            band.std = order.iter().map(|&j| band.std[j]).collect();
        }
    }
    Ok(Curves {
        grid: grid.to_vec(),
        metrics: metrics.iter().map(|m| m.to_string()).collect(),
        lines,
        missing,
        unreadable,
    })
}
