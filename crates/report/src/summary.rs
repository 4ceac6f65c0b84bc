//! The summary of a results folder: `runs.csv` grouped by grid point (the columns between
//! `trial_id` and `seed`), each final metric aggregated over the ok seeds, success counts,
//! sorting by the primary (or `select`) metric, what pruning saved, and the tables made from it.
//! Over 300 lines: one polars pass computes all of it, and its tables stay beside it.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use polars::prelude::*;

use rnnlab_spec::vocab::{self, layout};
use rnnlab_spec::{Comparison, ReportConfig, Status, SuccessRule};

use crate::doc::Table;
use crate::error::ReportError;
use crate::frame::{read_csv, text_at, Kind};

/// One aggregated metric of one grid point.
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n − 1); NaN for one seed.
    pub std: f64,
    pub min: f64,
    pub max: f64,
    /// The ok seeds' values, in `runs.csv` order (the statistics of [`crate::stats`] resample them).
    pub values: Vec<f64>,
}

/// One grid point's row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Grid values, in `Summary::grid` order.
    pub point: Vec<String>,
    pub trials: usize,
    pub ok: usize,
    pub diverged: usize,
    pub failed: usize,
    /// Stopped early by `[prune]` (their metrics are left out of the statistics).
    pub pruned: usize,
    /// Per metric of `Summary::metrics`, over ok trials; `None` when the metric has no values.
    pub stats: Vec<Option<Stat>>,
    /// Ok trials that meet the success rule.
    pub successes: Option<usize>,
    pub mean_wall_seconds: f64,
    /// Trainable parameters of its trials (runs.csv's `params`; `None` in folders without it).
    pub params: Option<f64>,
    /// Over the trials that recorded their evaluation time (`None` in older results folders):
    /// (seconds evaluating, their wall seconds).
    pub eval_seconds: Option<(f64, f64)>,
}

/// The summary table of a results folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub grid: Vec<String>,
    pub metrics: Vec<String>,
    pub success: Option<SuccessRule>,
    pub rows: Vec<Row>,
    /// Index into `metrics` of the metric compared and reported first.
    pub primary: Option<usize>,
    /// Index into `metrics` of the metric rows are sorted by (`[report] select`, else the primary).
    pub rank: Option<usize>,
    /// Trials whose metrics are early stopping's selection (`selected_step` set), not their last
    /// evaluation.
    pub selected: usize,
    /// What pruning saved, when trials were pruned.
    pub pruning: Option<Pruning>,
}

/// Steps run and planned, over the pruned trials and over all trials that recorded their plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pruning {
    pub trials: usize,
    pub steps: usize,
    pub planned: usize,
    /// Planned steps of every trial of the folder that recorded them.
    pub all_planned: usize,
}

/// Aggregates `dir/runs.csv` per grid point.
pub fn summarize(dir: &Path, config: &ReportConfig) -> Result<Summary, ReportError> {
    let path = dir.join(layout::RUNS);
    let input_err = |message: String| ReportError::Input { path: path.clone(), message };
    let header_line = std::fs::read_to_string(&path)
        .map_err(|e| input_err(format!("{e} (has a sweep run here?)")))?
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let header: Vec<String> = header_line.split(',').map(str::to_string).collect();
    let seed_at = header.iter().position(|c| c == "seed").ok_or_else(|| input_err("no `seed` column".into()))?;
    if header.first().map(String::as_str) != Some("trial_id") {
        return Err(input_err("the first column must be `trial_id`".into()));
    }
    let grid: Vec<String> = header[1..seed_at].to_vec();
    // Metrics this file has (older results folders lack later columns).
    let present: Vec<&str> = vocab::METRICS.iter().map(|m| m.name).filter(|m| header.iter().any(|h| h == m)).collect();
    let success = config.success_rule().map_err(|e| input_err(format!("[report] success: {}", e.message)))?;

    // Grid values and text columns as strings, metrics as floats.
    let mut columns: Vec<(&str, Kind)> = grid.iter().map(|c| (c.as_str(), Kind::Text)).collect();
    columns.extend([("status", Kind::Text), ("message", Kind::Text)]);
    let has_eval = header.iter().any(|h| h == "eval_seconds");
    columns.extend(present.iter().chain(&["wall_seconds", "eval_seconds"]).map(|m| (*m, Kind::Float)));
    let has_selected = header.iter().any(|h| h == "selected_step");
    if has_selected {
        columns.push(("selected_step", Kind::Float));
    }
    let has_params = header.iter().any(|h| h == "params");
    if has_params {
        columns.push(("params", Kind::Float));
    }
    let has_planned = header.iter().any(|h| h == "planned_steps");
    if has_planned {
        columns.extend([("steps", Kind::Float), ("planned_steps", Kind::Float)]);
    }
    let lf = read_csv(&path, &columns)?;
    let pruning = if has_planned { pruning(lf.clone())? } else { None };
    let selected = if has_selected {
        let df = lf.clone().select([col("selected_step").is_not_null().cast(DataType::UInt32).sum()]).collect()?;
        df.column("selected_step").ok().and_then(|c| c.u32().ok().and_then(|c| c.get(0))).unwrap_or(0) as usize
    } else {
        0
    };
    let ok = col("status").eq(lit(Status::Ok.as_str()));
    let lf_values = lf.clone().filter(ok.clone());
    let aggs = aggregations(&present, has_params, has_eval, success.as_ref());
    let grouped = if grid.is_empty() {
        lf.select(aggs)
    } else {
        lf.group_by_stable(grid.iter().map(|c| col(c.as_str())).collect::<Vec<_>>()).agg(aggs)
    };
    let df = grouped.collect()?;
    let values = seed_values(lf_values, &grid, &present)?;

    let measured: Vec<String> = present
        .iter()
        .filter(|m| {
            df.column(&format!("{m}__n")).ok().and_then(|c| c.u32().ok().and_then(|c| c.sum())).unwrap_or(0) > 0
        })
        .map(|m| m.to_string())
        .collect();
    // A regression's loss is its MSE: `test_loss` beside an equal `test_mse` only repeats it
    // (unless the spec names it).
    let named: Vec<&str> =
        [config.primary.as_deref(), config.select.as_deref(), success.as_ref().map(|r| r.metric.as_str())]
            .into_iter()
            .flatten()
            .collect();
    let repeats_mse = |m: &str| {
        let Some(twin) = m.strip_suffix("_loss").map(|split| format!("{split}_mse")) else { return false };
        measured.contains(&twin)
            && !named.contains(&m)
            && values.iter().filter(|((_, metric), _)| metric == m).all(|((point, _), v)| {
                values.get(&(point.clone(), twin.clone())).is_some_and(|w| {
                    w.len() == v.len() && w.iter().zip(v).all(|(a, b)| (a - b).abs() <= 1e-9 * a.abs().max(1.0))
                })
            })
    };
    let metrics: Vec<String> = measured.iter().filter(|m| !repeats_mse(m)).cloned().collect();
    let mut rows = rows_of(&df, &grid, &metrics, &values, success.is_some(), has_params, has_eval);
    let primary_name = config.primary.clone().or_else(|| metrics.first().cloned());
    let primary = primary_name.and_then(|p| metrics.iter().position(|m| *m == p));
    // Rows are ranked by `select` when it was measured, else by the primary metric.
    let rank = config.select.as_ref().and_then(|s| metrics.iter().position(|m| m == s)).or(primary);
    if let Some(k) = rank {
        sort_rows(&mut rows, k, vocab::higher_is_better(&metrics[k]));
    }
    Ok(Summary { grid, metrics, success, rows, primary, rank, selected, pruning })
}

/// Per grid point: trial counts by status, mean wall time, parameters, evaluation time, each
/// metric's count, mean, std, min and max over the ok trials, and the successes.
fn aggregations(present: &[&str], has_params: bool, has_eval: bool, success: Option<&SuccessRule>) -> Vec<Expr> {
    let ok = col("status").eq(lit(Status::Ok.as_str()));
    let mut aggs = vec![
        len().alias("trials"),
        ok.clone().cast(DataType::UInt32).sum().alias("ok"),
        col("status").eq(lit(Status::Diverged.as_str())).cast(DataType::UInt32).sum().alias("diverged"),
        col("status").eq(lit(Status::Failed.as_str())).cast(DataType::UInt32).sum().alias("failed"),
        col("status").eq(lit(Status::Pruned.as_str())).cast(DataType::UInt32).sum().alias("pruned"),
        col("wall_seconds").mean().alias("wall"),
    ];
    if has_params {
        aggs.push(col("params").max().alias("params"));
    }
    if has_eval {
        let timed = col("eval_seconds").is_not_null();
        aggs.push(col("eval_seconds").sum().alias("eval"));
        aggs.push(col("wall_seconds").filter(timed.clone()).sum().alias("eval_wall"));
        aggs.push(timed.cast(DataType::UInt32).sum().alias("eval_n"));
    }
    for m in present {
        let v = col(*m).filter(ok.clone());
        aggs.push(v.clone().count().alias(format!("{m}__n")));
        aggs.push(v.clone().mean().alias(format!("{m}__mean")));
        aggs.push(v.clone().std(1).alias(format!("{m}__std")));
        aggs.push(v.clone().min().alias(format!("{m}__min")));
        aggs.push(v.max().alias(format!("{m}__max")));
    }
    if let Some(rule) = success {
        let m = col(rule.metric.as_str());
        let t = lit(rule.threshold);
        let hit = match rule.op {
            Comparison::Ge => m.gt_eq(t),
            Comparison::Gt => m.gt(t),
            Comparison::Le => m.lt_eq(t),
            Comparison::Lt => m.lt(t),
        };
        aggs.push(hit.and(ok.clone()).cast(DataType::UInt32).sum().alias("successes"));
    }
    aggs
}

/// One row per grid point of the aggregated frame `df`.
fn rows_of(
    df: &DataFrame,
    grid: &[String],
    metrics: &[String],
    values: &SeedValues,
    success: bool,
    has_params: bool,
    has_eval: bool,
) -> Vec<Row> {
    let mut rows = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let text = |name: &str| text_at(df, name, i);
        let num = |name: &str| -> f64 {
            df.column(name).ok().and_then(|c| c.get(i).ok()).and_then(|v| v.extract::<f64>()).unwrap_or(f64::NAN)
        };
        let count = |name: &str| num(name) as usize;
        let point: Vec<String> = grid.iter().map(|c| text(c)).collect();
        let stats = metrics
            .iter()
            .map(|m| {
                let n = count(&format!("{m}__n"));
                (n > 0).then(|| Stat {
                    n,
                    mean: num(&format!("{m}__mean")),
                    std: num(&format!("{m}__std")),
                    min: num(&format!("{m}__min")),
                    max: num(&format!("{m}__max")),
                    values: values.get(&(point.clone(), m.clone())).cloned().unwrap_or_default(),
                })
            })
            .collect();
        rows.push(Row {
            point,
            trials: count("trials"),
            ok: count("ok"),
            diverged: count("diverged"),
            failed: count("failed"),
            pruned: count("pruned"),
            stats,
            successes: success.then(|| count("successes")),
            mean_wall_seconds: num("wall"),
            params: has_params.then(|| num("params")).filter(|p| p.is_finite() && *p > 0.0),
            eval_seconds: (has_eval && count("eval_n") > 0).then(|| (num("eval"), num("eval_wall"))),
        });
    }
    rows
}

/// Best first on metric `k`'s mean (no data last).
fn sort_rows(rows: &mut [Row], k: usize, higher: bool) {
    let key = |r: &Row| r.stats[k].as_ref().map_or(f64::NAN, |s| s.mean);
    rows.sort_by(|a, b| {
        let (x, y) = (key(a), key(b));
        match (x.is_nan(), y.is_nan()) {
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ if higher => y.total_cmp(&x),
            _ => x.total_cmp(&y),
        }
    });
}

/// Steps run and planned by the pruned trials, and planned by all; `None` when none was pruned.
fn pruning(lf: LazyFrame) -> Result<Option<Pruning>, ReportError> {
    let pruned = col("status").eq(lit(Status::Pruned.as_str()));
    let df = lf
        .select([
            pruned.clone().cast(DataType::UInt32).sum().alias("trials"),
            col("steps").filter(pruned.clone()).sum().alias("steps"),
            col("planned_steps").filter(pruned).sum().alias("planned"),
            col("planned_steps").sum().alias("all_planned"),
        ])
        .collect()?;
    let get = |name: &str| {
        df.column(name).ok().and_then(|c| c.get(0).ok()).and_then(|v| v.extract::<f64>()).unwrap_or(0.0) as usize
    };
    Ok((get("trials") > 0).then(|| Pruning {
        trials: get("trials"),
        steps: get("steps"),
        planned: get("planned"),
        all_planned: get("all_planned"),
    }))
}

/// Every ok seed's value of a metric, keyed by (grid point, metric).
type SeedValues = HashMap<(Vec<String>, String), Vec<f64>>;

fn seed_values(ok_rows: LazyFrame, grid: &[String], metrics: &[&str]) -> Result<SeedValues, ReportError> {
    let df = ok_rows.collect()?;
    let mut out = SeedValues::new();
    let columns: Vec<_> = metrics.iter().map(|m| (*m, df.column(m).ok().and_then(|c| c.f64().ok().cloned()))).collect();
    for i in 0..df.height() {
        let point: Vec<String> = grid.iter().map(|c| text_at(&df, c, i)).collect();
        for (m, column) in &columns {
            if let Some(v) = column.as_ref().and_then(|c| c.get(i)) {
                out.entry((point.clone(), m.to_string())).or_default().push(v);
            }
        }
    }
    Ok(out)
}

impl Summary {
    /// A row's grid point as `key=value` pairs (empty values left out), `(all)` without a grid.
    pub fn label(&self, row: &Row) -> String {
        match rnnlab_spec::point_label(self.grid.iter().zip(&row.point)) {
            label if label.is_empty() => "(all)".into(),
            label => label,
        }
    }

    /// A row's aggregate of `metric`, if the metric was measured.
    pub fn stat<'a>(&self, row: &'a Row, metric: &str) -> Option<&'a Stat> {
        let k = self.metrics.iter().position(|m| m == metric)?;
        row.stats[k].as_ref()
    }

    /// The main table: grid values, counts, `mean ± std` per metric, successes, wall time.
    pub fn table(&self) -> Table {
        let mut header = self.grid.clone();
        header.push("n".into());
        header.extend(self.metrics.iter().cloned());
        if let Some(rule) = &self.success {
            header.push(format!("{} {} {}", rule.metric, rule.op, rule.threshold));
        }
        header.push("not ok".into());
        header.push("wall s".into());
        // Grid points whose every trial was pruned have no values: one line says how many.
        let all_pruned = |r: &Row| r.ok == 0 && r.pruned > 0;
        let collapsed: Vec<&Row> = self.rows.iter().filter(|r| all_pruned(r)).collect();
        let mut rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .filter(|r| !all_pruned(r) || collapsed.len() == 1)
            .map(|r| {
                let mut cells = r.point.clone();
                cells.push(r.ok.to_string());
                cells.extend(r.stats.iter().map(|s| mean_std(s.as_ref())));
                if let Some(k) = r.successes {
                    cells.push(format!("{k}/{}", r.ok));
                }
                let bad = r.diverged + r.failed + r.pruned;
                cells.push(match (bad, r.pruned) {
                    (0, _) => "0".into(),
                    (_, 0) => format!("{} diverged, {} failed", r.diverged, r.failed),
                    _ => format!("{} pruned, {} diverged, {} failed", r.pruned, r.diverged, r.failed),
                });
                cells.push(format!("{:.1}", r.mean_wall_seconds));
                cells
            })
            .collect();
        if collapsed.len() > 1 {
            let mut cells = vec![String::new(); header.len()];
            cells[0] = format!("({} grid points, every trial pruned)", collapsed.len());
            cells[self.grid.len().max(1)..].iter_mut().for_each(|c| *c = "—".into());
            if !self.grid.is_empty() {
                cells[self.grid.len()] = "0".into();
            }
            let n = header.len();
            cells[n - 2] = format!("{} pruned", collapsed.iter().map(|r| r.pruned).sum::<usize>());
            let wall = collapsed.iter().map(|r| r.mean_wall_seconds).sum::<f64>() / collapsed.len() as f64;
            cells[n - 1] = format!("{wall:.1}");
            rows.push(cells);
        }
        Table { header, rows }
    }

    /// `rows sorted by valid_nll (lower is better), best first`, when rows are ranked.
    pub fn sort_note(&self) -> Option<String> {
        let k = self.rank?;
        let m = &self.metrics[k];
        let better = if vocab::higher_is_better(m) { "higher" } else { "lower" };
        Some(format!("rows sorted by {m} ({better} is better), best first"))
    }

    /// The main table as Markdown.
    pub fn to_markdown(&self) -> String {
        self.table().to_markdown()
    }

    /// The best grid point of each cell (rows are sorted best first by the primary metric);
    /// `None` without a `model.cell` grid column or with a single cell.
    pub fn best_per_cell(&self) -> Option<Table> {
        let c = self.grid.iter().position(|g| g == "model.cell")?;
        let k = self.primary?;
        let mut seen: Vec<&str> = Vec::new();
        let mut table = Table::new(vec!["cell".into(), "grid point".into(), "n".into(), self.metrics[k].clone()]);
        for r in &self.rows {
            if seen.contains(&r.point[c].as_str()) {
                continue;
            }
            seen.push(&r.point[c]);
            table.rows.push(vec![r.point[c].clone(), self.label(r), r.ok.to_string(), mean_std(r.stats[k].as_ref())]);
        }
        (seen.len() > 1).then_some(table)
    }
}

/// `mean ± std` (just the mean for one seed, — for none).
pub fn mean_std(stat: Option<&Stat>) -> String {
    match stat {
        Some(s) if s.n > 1 => format!("{:.4} ± {:.4}", s.mean, s.std),
        Some(s) => format!("{:.4}", s.mean),
        None => "—".into(),
    }
}

/// The trials that did not end ok: `(trial_id, status, message)` from `runs.csv`.
pub fn not_ok(dir: &Path) -> Result<Vec<(String, String, String)>, ReportError> {
    let columns = [("trial_id", Kind::Text), ("status", Kind::Text), ("message", Kind::Text)];
    let df = read_csv(&dir.join(layout::RUNS), &columns)?
        .filter(col("status").neq(lit(Status::Ok.as_str())))
        .select([col("trial_id"), col("status"), col("message")])
        .collect()?;
    let text = |name: &str, i: usize| text_at(&df, name, i);
    Ok((0..df.height()).map(|i| (text("trial_id", i), text("status", i), text("message", i))).collect())
}

impl fmt::Display for Summary {
    /// An aligned plain-text table for the terminal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.table().to_text())?;
        match self.sort_note() {
            Some(note) => writeln!(f, "({note})"),
            None => Ok(()),
        }
    }
}
