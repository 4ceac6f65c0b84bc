//! Reports on a results folder, computed with polars from its CSV files alone (so a copied
//! folder can be reported on anywhere).
//!
//! [`summarize`] groups `runs.csv` by grid point (the columns between `trial_id` and `seed`)
//! and aggregates each final metric over seeds; [`published`] compares the spec's
//! `[[published]]` figures with those aggregates; [`curves`] averages every trial's
//! `curve.csv` over seeds and [`plots`] draws them; [`write_report`] writes `report.md`,
//! `report.html` and `plots/*.svg` from the blocks of [`doc`]; [`compare`] puts two results
//! folders side by side.

pub mod compare;
pub mod curves;
pub mod doc;
pub mod plots;
pub mod published;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;

use rnnlab_spec::{ReportConfig, SuccessRule};

use doc::{Block, Table};

/// Final metrics aggregated per grid point, in the order they are shown.
const METRICS: &[&str] = &["test_accuracy", "test_mse", "test_nll", "test_loss", "train_loss"];

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },
    #[error("plotting {metric}: {message}")]
    Plot { metric: String, message: String },
    #[error("polars: {0}")]
    Polars(#[from] PolarsError),
}

/// A lazy scan of a CSV file with a header, the named columns read with the given types.
pub(crate) fn csv_scan(path: &Path, schema: Schema) -> PolarsResult<LazyFrame> {
    LazyCsvReader::new(PlRefPath::new(path.to_string_lossy().as_ref()))
        .with_has_header(true)
        .with_dtype_overwrite(Some(Arc::new(schema)))
        .finish()
}

/// Row `i` of column `name` as text (empty for null or a missing column).
pub(crate) fn text_at(df: &DataFrame, name: &str, i: usize) -> String {
    match df.column(name).ok().and_then(|c| c.get(i).ok()) {
        Some(AnyValue::String(s)) => s.to_string(),
        Some(AnyValue::StringOwned(s)) => s.to_string(),
        Some(AnyValue::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

/// One aggregated metric of one grid point.
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n − 1); NaN for one seed.
    pub std: f64,
    pub min: f64,
    pub max: f64,
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
    /// Per metric of `Summary::metrics`, over ok trials; `None` when the metric has no values.
    pub stats: Vec<Option<Stat>>,
    /// Ok trials that meet the success rule.
    pub successes: Option<usize>,
    pub mean_wall_seconds: f64,
}

/// The summary table of a results folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub grid: Vec<String>,
    pub metrics: Vec<String>,
    pub success: Option<SuccessRule>,
    pub rows: Vec<Row>,
    /// Index into `metrics` of the metric rows are sorted by.
    pub primary: Option<usize>,
}

/// Reads `[report]` from the folder's `spec.toml` (defaults when absent).
pub fn report_config(dir: &Path) -> Result<ReportConfig, ReportError> {
    let path = dir.join("spec.toml");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(ReportConfig::default()) };
    let err = |message: String| ReportError::Input { path: path.clone(), message };
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| err(e.to_string()))?;
    match table.get("report") {
        Some(toml::Value::Table(t)) => rnnlab_spec::decode(t).map_err(|e| err(format!("[report] {}", e.message))),
        _ => Ok(ReportConfig::default()),
    }
}

/// Aggregates `dir/runs.csv` per grid point.
pub fn summarize(dir: &Path, config: &ReportConfig) -> Result<Summary, ReportError> {
    let path = dir.join("runs.csv");
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
    let present: Vec<&str> = METRICS.iter().copied().filter(|m| header.iter().any(|h| h == m)).collect();
    let success = config.success_rule().map_err(|e| input_err(format!("[report] success: {}", e.message)))?;

    // Grid values and text columns as strings, metrics as floats, whatever the inference says.
    let mut schema = Schema::default();
    for c in grid.iter().chain(["status", "message"].iter().map(|s| s.to_string()).collect::<Vec<_>>().iter()) {
        schema.with_column(c.as_str().into(), DataType::String);
    }
    for m in present.iter().chain(&["wall_seconds"]) {
        schema.with_column((*m).into(), DataType::Float64);
    }
    let lf = csv_scan(&path, schema)?;
    let ok = col("status").eq(lit("ok"));
    let mut aggs = vec![
        len().alias("trials"),
        ok.clone().cast(DataType::UInt32).sum().alias("ok"),
        col("status").eq(lit("diverged")).cast(DataType::UInt32).sum().alias("diverged"),
        col("status").eq(lit("failed")).cast(DataType::UInt32).sum().alias("failed"),
        col("wall_seconds").mean().alias("wall"),
    ];
    for m in &present {
        let v = col(*m).filter(ok.clone());
        aggs.push(v.clone().count().alias(format!("{m}__n")));
        aggs.push(v.clone().mean().alias(format!("{m}__mean")));
        aggs.push(v.clone().std(1).alias(format!("{m}__std")));
        aggs.push(v.clone().min().alias(format!("{m}__min")));
        aggs.push(v.max().alias(format!("{m}__max")));
    }
    if let Some(rule) = &success {
        let m = col(rule.metric.as_str());
        let t = lit(rule.threshold);
        let hit = match rule.op.as_str() {
            ">=" => m.gt_eq(t),
            ">" => m.gt(t),
            "<=" => m.lt_eq(t),
            _ => m.lt(t),
        };
        aggs.push(hit.and(ok.clone()).cast(DataType::UInt32).sum().alias("successes"));
    }
    let grouped = if grid.is_empty() {
        lf.select(aggs)
    } else {
        lf.group_by_stable(grid.iter().map(|c| col(c.as_str())).collect::<Vec<_>>()).agg(aggs)
    };
    let df = grouped.collect()?;

    let metrics: Vec<String> = present
        .iter()
        .filter(|m| {
            df.column(&format!("{m}__n")).ok().and_then(|c| c.u32().ok().and_then(|c| c.sum())).unwrap_or(0) > 0
        })
        .map(|m| m.to_string())
        .collect();
    let mut rows = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let text = |name: &str| text_at(&df, name, i);
        let num = |name: &str| -> f64 {
            df.column(name).ok().and_then(|c| c.get(i).ok()).and_then(|v| v.extract::<f64>()).unwrap_or(f64::NAN)
        };
        let count = |name: &str| num(name) as usize;
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
                })
            })
            .collect();
        rows.push(Row {
            point: grid.iter().map(|c| text(c)).collect(),
            trials: count("trials"),
            ok: count("ok"),
            diverged: count("diverged"),
            failed: count("failed"),
            stats,
            successes: success.as_ref().map(|_| count("successes")),
            mean_wall_seconds: num("wall"),
        });
    }
    let primary_name = config.primary.clone().or_else(|| metrics.first().cloned());
    let primary = primary_name.and_then(|p| metrics.iter().position(|m| *m == p));
    if let Some(k) = primary {
        let higher = metrics[k] == "test_accuracy";
        let key = |r: &Row| r.stats[k].as_ref().map_or(f64::NAN, |s| s.mean);
        rows.sort_by(|a, b| {
            let (x, y) = (key(a), key(b));
            // NaN (no data) last.
            match (x.is_nan(), y.is_nan()) {
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ if higher => y.total_cmp(&x),
                _ => x.total_cmp(&y),
            }
        });
    }
    Ok(Summary { grid, metrics, success, rows, primary })
}

impl Summary {
    /// A row's grid point as `key=value` pairs (empty values left out), `(all)` without a grid.
    pub fn label(&self, row: &Row) -> String {
        let parts: Vec<String> =
            self.grid.iter().zip(&row.point).filter(|(_, v)| !v.is_empty()).map(|(g, v)| format!("{g}={v}")).collect();
        if parts.is_empty() {
            "(all)".into()
        } else {
            parts.join(", ")
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
        let rows = self
            .rows
            .iter()
            .map(|r| {
                let mut cells = r.point.clone();
                cells.push(r.ok.to_string());
                cells.extend(r.stats.iter().map(|s| mean_std(s.as_ref())));
                if let Some(k) = r.successes {
                    cells.push(format!("{k}/{}", r.ok));
                }
                let bad = r.diverged + r.failed;
                cells.push(if bad == 0 { "0".into() } else { format!("{} diverged, {} failed", r.diverged, r.failed) });
                cells.push(format!("{:.1}", r.mean_wall_seconds));
                cells
            })
            .collect();
        Table { header, rows }
    }

    /// The main table as Markdown.
    pub fn to_markdown(&self) -> String {
        self.table().to_markdown()
    }

    /// The 95% confidence interval (Student t) of every metric's mean, per grid point.
    pub fn ci_table(&self) -> Table {
        let header = self.grid.iter().chain(&self.metrics).cloned().collect();
        let rows = self
            .rows
            .iter()
            .map(|r| {
                let mut cells = r.point.clone();
                cells.extend(r.stats.iter().map(|s| {
                    match s.as_ref().and_then(|s| published::ci95(s).map(|h| (s.mean, h))) {
                        Some((m, h)) => format!("[{:.4}, {:.4}]", m - h, m + h),
                        None => "—".into(),
                    }
                }));
                cells
            })
            .collect();
        Table { header, rows }
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
    let mut schema = Schema::default();
    for c in ["trial_id", "status", "message"] {
        schema.with_column(c.into(), DataType::String);
    }
    let df = csv_scan(&dir.join("runs.csv"), schema)?
        .filter(col("status").neq(lit("ok")))
        .select([col("trial_id"), col("status"), col("message")])
        .collect()?;
    let text = |name: &str, i: usize| text_at(&df, name, i);
    Ok((0..df.height()).map(|i| (text("trial_id", i), text("status", i), text("message", i))).collect())
}

/// What [`write_report`] wrote.
#[derive(Debug, Clone)]
pub struct Report {
    pub summary: Summary,
    pub published: Vec<published::Comparison>,
    /// `report.md`.
    pub path: PathBuf,
    pub html: PathBuf,
    /// `plots/<metric>.svg`, one per curve metric with data.
    pub plots: Vec<PathBuf>,
}

/// Writes `dir/report.md`, `dir/report.html` and `dir/plots/<metric>.svg` (each atomically):
/// the header, the summary tables, the published comparison, the learning curves and the
/// trials that did not end ok.
pub fn write_report(dir: &Path, config: &ReportConfig) -> Result<Report, ReportError> {
    let summary = summarize(dir, config)?;
    let comparisons = published::compare(&summary, &published::read_published(dir)?);
    let curves = curves::read_curves(dir, &summary.grid)?;
    let spec: toml::Table =
        std::fs::read_to_string(dir.join("spec.toml")).ok().and_then(|t| t.parse().ok()).unwrap_or_default();
    let experiment = spec.get("experiment").and_then(|e| e.as_table());
    let field = |k: &str| experiment.and_then(|e| e.get(k)).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let name = match field("name") {
        n if n.is_empty() => dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(),
        n => n,
    };

    let mut blocks = vec![Block::Heading(1, name.clone())];
    if !field("description").is_empty() {
        blocks.push(Block::Paragraph(field("description")));
    }
    let (trials, ok) = summary.rows.iter().fold((0, 0), |(t, o), r| (t + r.trials, o + r.ok));
    let (diverged, failed) = summary.rows.iter().fold((0, 0), |(d, f), r| (d + r.diverged, f + r.failed));
    blocks.push(Block::Paragraph(format!("{trials} trials: {ok} ok, {diverged} diverged, {failed} failed.")));
    blocks.push(Block::Table(run_table(dir, &summary)));

    blocks.push(Block::Heading(2, "Results".into()));
    blocks.push(Block::Paragraph("Mean ± sample std over the ok seeds of each grid point.".into()));
    blocks.push(Block::Table(summary.table()));
    blocks.push(Block::Paragraph(
        "95% confidence intervals of the means (Student t over seeds; — for a single seed):".into(),
    ));
    blocks.push(Block::Table(summary.ci_table()));
    if let Some(best) = summary.best_per_cell() {
        blocks.push(Block::Heading(2, "Best grid point per cell".into()));
        blocks.push(Block::Table(best));
    }
    if !comparisons.is_empty() {
        blocks.push(Block::Heading(2, "Published figures".into()));
        blocks.push(Block::Table(published::table(&comparisons)));
    }

    let mut plots = Vec::new();
    if !curves.lines.is_empty() && curves.lines.iter().all(|l| l.steps.len() < 2) {
        blocks.push(Block::Heading(2, "Learning curves".into()));
        blocks.push(Block::Paragraph(
            "None: every trial was evaluated once, at the end (set `[train] eval_every` to get curves).".into(),
        ));
    } else if !curves.lines.is_empty() {
        blocks.push(Block::Heading(2, "Learning curves".into()));
        blocks.push(Block::Paragraph(
            "Mean over the ok seeds of each grid point at every evaluation, shaded ±1 sample std; \
             losses and errors on a log scale when they span more than a decade."
                .into(),
        ));
        if !curves.missing.is_empty() {
            blocks.push(Block::Paragraph(format!(
                "**{} ok trials have no curve.csv** and are left out of the curves: {}.",
                curves.missing.len(),
                curves.missing.join(", ")
            )));
        }
        for (m, metric) in curves.metrics.iter().enumerate() {
            let Some(svg) = plots::curve_svg(&curves, m)? else { continue };
            let rel = format!("plots/{metric}.svg");
            write_file(&dir.join(&rel), &svg)?;
            plots.push(dir.join(&rel));
            blocks.push(Block::Figure { path: rel, svg, caption: metric.clone() });
        }
    }

    // Figures of an earlier report that this one no longer draws would mislead: remove them.
    if let Ok(entries) = std::fs::read_dir(dir.join("plots")) {
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "svg") && !plots.contains(&p) {
                let _ = std::fs::remove_file(&p);
            }
        }
    }

    let bad = not_ok(dir)?;
    if !bad.is_empty() {
        blocks.push(Block::Heading(2, "Trials that did not end ok".into()));
        let mut t = Table::new(vec!["trial".into(), "status".into(), "message".into()]);
        t.rows = bad.into_iter().map(|(id, status, message)| vec![id, status, message]).collect();
        blocks.push(Block::Table(t));
    }

    let path = dir.join("report.md");
    write_file(&path, &doc::to_markdown(&blocks))?;
    let html = dir.join("report.html");
    write_file(&html, &doc::to_html(&format!("rnnlab report: {name}"), &blocks))?;
    Ok(Report { summary, published: comparisons, path, html, plots })
}

/// What produced the results: `meta.toml`'s fields that a reader needs, and wall times.
fn run_table(dir: &Path, summary: &Summary) -> Table {
    let meta: toml::Table =
        std::fs::read_to_string(dir.join("meta.toml")).ok().and_then(|t| t.parse().ok()).unwrap_or_default();
    let get = |k: &str| match meta.get(k) {
        Some(toml::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => "—".into(),
    };
    let (trials, total) =
        summary.rows.iter().fold((0, 0.0), |(n, t), r| (n + r.trials, t + r.mean_wall_seconds * r.trials as f64));
    let mut t = Table::new(vec!["run".into(), "".into()]);
    let wall = format!("{total:.1} s in trials, {:.1} s per trial", total / trials.max(1) as f64);
    if meta.is_empty() {
        t.rows.push(vec!["wall time".into(), wall]);
        t.rows.push(vec!["meta.toml".into(), "missing: where and how these results were made is unknown".into()]);
        return t;
    }
    t.rows = vec![
        vec!["spec".into(), format!("{} (sha256 {})", get("spec"), get("spec_hash"))],
        vec!["command".into(), get("command")],
        vec!["wall time".into(), wall],
        vec![
            "ran".into(),
            format!(
                "{} → {} ({} trials run, {} jobs)",
                get("started"),
                get("finished"),
                get("trials_run"),
                get("jobs")
            ),
        ],
        vec!["machine".into(), format!("{} cores, {} ({})", get("cores"), get("cpu"), get("host"))],
        vec![
            "versions".into(),
            format!("rnnlab {}, dfdx {}, git {}", get("rnnlab_version"), get("dfdx_version"), get("git_revision")),
        ],
    ];
    t
}

/// Writes `path` through a temporary file and a rename, creating its folder.
fn write_file(path: &Path, contents: &str) -> Result<(), ReportError> {
    let io = |e: std::io::Error| ReportError::Input { path: path.to_path_buf(), message: e.to_string() };
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, contents).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

impl fmt::Display for Summary {
    /// An aligned plain-text table for the terminal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.table().to_text())
    }
}
