//! Writing a report: the blocks of [`crate::doc`] built from the summary, the published
//! comparison and the curves, rendered to `report.md`, `report.html` and `plots/*.svg`.

use std::path::{Path, PathBuf};

use rnnlab_spec::vocab::{layout, Meta};
use rnnlab_spec::{files, ReportConfig};

use crate::doc::{self, Block, Table};
use crate::error::ReportError;
use crate::folder::Folder;
use crate::summary::{not_ok, summarize, Summary};
use crate::{curves, pairwise, plots, profile, published, sampled, stats};

/// What [`write_report`] wrote.
#[derive(Debug, Clone)]
pub struct Report {
    /// The experiment's name (`[experiment] name`, else the folder's).
    pub name: String,
    pub summary: Summary,
    pub published: Vec<published::Comparison>,
    /// The pairwise comparison of `[report] compare`'s axis (default `model.cell`), if it has two
    /// values with results.
    pub versus: Option<pairwise::Pairwise>,
    /// `report.md`.
    pub path: PathBuf,
    pub html: PathBuf,
    /// `plots/<metric>.svg`, one per curve metric with data.
    pub plots: Vec<PathBuf>,
    /// Written while workers run trials, or before every trial has a result.
    pub partial: bool,
    /// The best ok trial of each compared value, by the ranking metric.
    pub best: Vec<crate::best::BestTrial>,
}

/// How often a partial report.html reloads itself in a browser.
pub const REFRESH_SECONDS: u32 = 10;

/// "Partial: …" when workers hold live claims or fewer trials than the plan's have a result
/// (`meta.toml` counts the plan's trials). A failed trial has a result, though not a final one
/// (the next sweep runs it again): a sweep whose trials all failed is complete, and says so.
fn partial_note(folder: &Folder, finished: usize, failed: usize) -> Option<String> {
    let planned = folder.meta.as_ref().map_or(0, |m| m.trials);
    if folder.running == 0 && finished + failed >= planned {
        return None;
    }
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    let of = if planned > 0 { format!(" of {planned}") } else { String::new() };
    Some(format!(
        "**Partial report** (written {now}): {finished}{of} trials have a final result, {} running. \
         It is rewritten as trials finish; `rnnlab status {}` shows the workers.",
        folder.running,
        folder.dir.display()
    ))
}

/// Writes `dir/report.md`, `dir/report.html` and `dir/plots/<metric>.svg` (each atomically):
/// the header, the verdicts (published figures, the comparison), the tuning budget, the best
/// trials, the summary tables, the learning curves and the trials that did not end ok.
pub fn write_report(dir: &Path, config: &ReportConfig) -> Result<Report, ReportError> {
    let folder = Folder::read(dir)?;
    let summary = summarize(dir, config)?;
    let comparisons = published::compare(&summary, &folder.published);
    let curves = curves::read_curves(dir, &summary.grid)?;
    let name = folder.name.clone();
    let axis = config.compare.as_deref().unwrap_or(pairwise::DEFAULT_AXIS);
    let mut figures = Figures { dir, written: Vec::new() };

    let (mut blocks, partial) = header_blocks(&folder, &summary);
    // The verdicts come first: the published figures the experiment reproduces, then the
    // question the sweep was run for.
    if !comparisons.is_empty() {
        blocks.push(Block::Heading(2, "Published figures".into()));
        blocks.push(Block::Table(published::table(&comparisons)));
    }
    let versus = pairwise::compare(&summary, config.compare.as_deref());
    if let Some(versus) = &versus {
        blocks.push(Block::Heading(2, format!("Which `{}` is better", versus.axis)));
        blocks.push(Block::Table(versus.verdict_table()));
        blocks.push(Block::Paragraph(versus.explanation()));
        blocks.push(Block::Table(versus.contender_table()));
    } else {
        blocks.push(Block::Paragraph(pairwise::why_not(&summary, config.compare.as_deref())));
    }
    figures.extend(&mut blocks, crate::budget::blocks(&summary, axis)?)?;
    let best = crate::best::best_trials(dir, &summary, config.compare.as_deref())?;
    blocks.extend(best_blocks(&best, axis));
    blocks.push(Block::Table(run_table(folder.meta.as_ref(), &summary)));
    blocks.extend(results_blocks(&summary));
    figures.extend(&mut blocks, crate::pareto::blocks(&summary)?)?;
    blocks.extend(robust_blocks(&summary));
    if let Some(metric) = summary.primary.map(|k| summary.metrics[k].clone()) {
        figures.extend(&mut blocks, primary_figures(&folder, &summary, &metric, axis)?)?;
    }
    // The comparison's contenders already are the best grid point of each cell.
    let cells_compared = versus.as_ref().is_some_and(|v| v.axis == pairwise::DEFAULT_AXIS);
    if let Some(best) = summary.best_per_cell().filter(|_| !cells_compared) {
        blocks.push(Block::Heading(2, "Best grid point per cell".into()));
        blocks.push(Block::Table(best));
    }
    figures.extend(&mut blocks, curve_blocks(&curves)?)?;
    figures.remove_stale();

    let bad = not_ok(dir)?;
    if !bad.is_empty() {
        blocks.push(Block::Heading(2, "Trials that did not end ok".into()));
        let mut t = Table::new(vec!["trial".into(), "status".into(), "message".into()]);
        t.rows = bad.into_iter().map(|(id, status, message)| vec![id, status, message]).collect();
        blocks.push(Block::Table(t));
    }

    let path = dir.join(layout::REPORT_MD);
    write_file(&path, &doc::to_markdown(&blocks))?;
    let html = dir.join(layout::REPORT_HTML);
    // A partial page reloads itself, so a browser tab follows the sweep.
    let refresh = partial.is_some().then_some(REFRESH_SECONDS);
    write_file(&html, &doc::to_html(&format!("rnnlab report: {name}"), &blocks, refresh))?;
    let plots = figures.written;
    Ok(Report { name, summary, published: comparisons, versus, path, html, plots, partial: partial.is_some(), best })
}

/// The figures of a report, each written to its file as its block is added.
struct Figures<'a> {
    dir: &'a Path,
    written: Vec<PathBuf>,
}

impl Figures<'_> {
    /// Adds `more` to `blocks`, writing each figure's SVG to its path.
    fn extend(&mut self, blocks: &mut Vec<Block>, more: Vec<Block>) -> Result<(), ReportError> {
        for block in more {
            if let Block::Figure { path, svg, .. } = &block {
                write_file(&self.dir.join(path), svg)?;
                self.written.push(self.dir.join(path));
            }
            blocks.push(block);
        }
        Ok(())
    }

    /// Removes figures of an earlier report that this one no longer draws (they would
    /// mislead); only from a real folder: a link at plots/ leads nowhere rnnlab deletes in.
    fn remove_stale(&self) {
        let plots = self.dir.join(layout::PLOTS);
        let real = std::fs::symlink_metadata(&plots).is_ok_and(|m| m.is_dir());
        if let Some(entries) = real.then(|| std::fs::read_dir(&plots).ok()).flatten() {
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "svg") && !self.written.contains(&p) {
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
    }
}

/// The title, the description, the partial or all-failed note, the counts and pruning's
/// savings; and the partial note, if the report is partial.
fn header_blocks(folder: &Folder, summary: &Summary) -> (Vec<Block>, Option<String>) {
    let mut blocks = vec![Block::Heading(1, folder.name.clone())];
    if !folder.description.is_empty() {
        blocks.push(Block::Paragraph(folder.description.clone()));
    }
    let (trials, ok) = summary.rows.iter().fold((0, 0), |(t, o), r| (t + r.trials, o + r.ok));
    let (diverged, failed) = summary.rows.iter().fold((0, 0), |(d, f), r| (d + r.diverged, f + r.failed));
    let pruned: usize = summary.rows.iter().map(|r| r.pruned).sum();
    let partial = partial_note(folder, ok + diverged + pruned, failed);
    if let Some(note) = &partial {
        blocks.push(Block::Paragraph(note.clone()));
    } else if failed > 0 && failed == trials {
        blocks.push(Block::Paragraph(
            "**Every trial failed**: their messages are under \"Trials that did not end ok\" below. Running the same \
             command again runs them again, once the cause is fixed."
                .into(),
        ));
    }
    let pruned_text = if pruned > 0 { format!(" {pruned} pruned,") } else { String::new() };
    blocks.push(Block::Paragraph(format!(
        "{trials} trials: {ok} ok,{pruned_text} {diverged} diverged, {failed} failed."
    )));
    if let Some(p) = summary.pruning {
        blocks.push(Block::Paragraph(format!(
            "Pruning stopped {} trials early: they ran {} of their {} planned steps, {:.0}% of the steps \
             planned for all {} trials saved. Pruned trials are listed below and left out of the statistics.",
            p.trials,
            p.steps,
            p.planned,
            100.0 * (p.planned - p.steps.min(p.planned)) as f64 / p.all_planned.max(1) as f64,
            trials
        )));
    }
    (blocks, partial)
}

/// "Best trials": each compared value's best ok trial, and the `predict` lines for their
/// checkpoints.
fn best_blocks(best: &[crate::best::BestTrial], axis: &str) -> Vec<Block> {
    let Some(first) = best.first() else { return Vec::new() };
    let mut blocks = vec![
        Block::Heading(2, "Best trials".into()),
        Block::Paragraph(format!(
            "The best ok trial of each `{axis}` value by `{}`, the metric that ranks grid points (folders \
             relative to this report's).",
            first.metric
        )),
    ];
    blocks.push(Block::Table(Table {
        header: [axis, "trial", "grid point", "seed", first.metric.as_str(), "folder"].map(String::from).to_vec(),
        rows: best
            .iter()
            .map(|b| {
                vec![
                    b.group.clone(),
                    format!("`{}`", b.id),
                    b.point.clone(),
                    b.seed.clone(),
                    b.value_text(),
                    format!("`trials/{}`", b.id),
                ]
            })
            .collect(),
    }));
    // Relative to the report's folder, so that a report reads the same wherever it is.
    let lines: Vec<String> =
        best.iter().filter_map(|b| b.predict_line(&Path::new(layout::TRIALS).join(&b.id))).collect();
    if !lines.is_empty() {
        blocks.push(Block::Paragraph(
            "Their checkpoints, on your own sequences, run from this folder (`rnnlab predict` reads files of \
             the `csv` and `mnist` plugins; docs/results.md):"
                .into(),
        ));
        blocks.push(Block::Code { lang: "sh".into(), text: lines.join("\n") });
    }
    blocks
}

/// "Results": what the numbers are, and the summary table.
fn results_blocks(summary: &Summary) -> Vec<Block> {
    let mut results = String::from("Mean ± sample std over the ok seeds of each grid point.");
    if let Some(note) = summary.sort_note() {
        let mut note = note;
        note[..1].make_ascii_uppercase();
        results += &format!(" {note}.");
    }
    if summary.selected > 0 {
        results += &format!(
            " Test and validation metrics of {} trials are those of their early-stopping selection (the \
             evaluation with the best validation metric; `selected_step` in runs.csv), not of their last \
             evaluation.",
            summary.selected
        );
    }
    vec![Block::Heading(2, "Results".into()), Block::Paragraph(results), Block::Table(summary.table())]
}

/// Robust statistics over seeds, one table per metric.
fn robust_blocks(summary: &Summary) -> Vec<Block> {
    let mut blocks = vec![Block::Paragraph(format!(
        "Robust statistics over seeds: mean, median and interquartile mean (IQM: the mean of the middle \
         half), each with a percentile-bootstrap 95% interval ({} resamples, seed {}) clipped to the \
         metric's range; success counts with a Wilson 95% interval.",
        stats::RESAMPLES,
        stats::SEED
    ))];
    for metric in &summary.metrics {
        if let Some(table) = pairwise::robust_table(summary, metric) {
            blocks.push(Block::Heading(3, metric.clone()));
            blocks.push(Block::Table(table));
        }
    }
    blocks
}

/// The primary metric's performance profile and its scatter against each searched key.
fn primary_figures(folder: &Folder, summary: &Summary, metric: &str, axis: &str) -> Result<Vec<Block>, ReportError> {
    let mut blocks = Vec::new();
    if let Some(svg) = profile::profile_svg(summary, metric)? {
        blocks.push(Block::Heading(3, format!("Performance profile: {metric}")));
        blocks.push(Block::Paragraph(
            "For every threshold τ, the fraction of each grid point's seeds whose final value beats it \
             (rliable's performance profile): a curve above another everywhere dominates it."
                .into(),
        ));
        let path = format!("plots/profile_{metric}.svg");
        blocks.push(Block::Figure { path, svg, caption: format!("{metric} profile") });
    }
    let mut first = true;
    for key in &folder.search {
        let Some(svg) = sampled::scatter_svg(summary, key, metric, Some(axis))? else { continue };
        if std::mem::take(&mut first) {
            blocks.push(Block::Heading(3, format!("{metric} against the searched keys")));
            blocks.push(Block::Paragraph(
                "Every ok seed of every sampled point, one colour per compared value (log axis for \
                 log-uniform keys); the Results table above ranks the points."
                    .into(),
            ));
        }
        let path = format!("plots/search_{}_{metric}.svg", key.name.replace('.', "_"));
        blocks.push(Block::Figure { path, svg, caption: format!("{metric} against {}", key.name) });
    }
    Ok(blocks)
}

/// "Learning curves": one figure per metric, and which trials' curves are missing or unreadable.
fn curve_blocks(curves: &curves::Curves) -> Result<Vec<Block>, ReportError> {
    if curves.lines.is_empty() {
        return Ok(Vec::new());
    }
    let mut blocks = vec![Block::Heading(2, "Learning curves".into())];
    if curves.lines.iter().all(|l| l.steps.len() < 2) {
        blocks.push(Block::Paragraph(
            "None: every trial was evaluated once, at the end (set `[train] eval_every` to get curves).".into(),
        ));
        return Ok(blocks);
    }
    blocks.push(Block::Paragraph(format!(
        "Median over the ok seeds of each grid point at every evaluation, its interquartile range \
             shaded, and each seed's own curve as a thin line (up to {} seeds per grid point); losses \
             and errors on a log scale when they span more than a decade.",
        plots::MAX_SEED_LINES
    )));
    if !curves.unreadable.is_empty() {
        blocks.push(Block::Paragraph(format!(
            "**{} ok trials have an unreadable curve.csv** and are left out of the curves: {}.",
            curves.unreadable.len(),
            curves.unreadable.join("; ")
        )));
    }
    if !curves.missing.is_empty() {
        blocks.push(Block::Paragraph(format!(
            "**{} ok trials have no curve.csv** and are left out of the curves: {}.",
            curves.missing.len(),
            curves.missing.join(", ")
        )));
    }
    for (m, metric) in curves.metrics.iter().enumerate() {
        let Some(svg) = plots::curve_svg(curves, m)? else { continue };
        blocks.push(Block::Figure { path: format!("plots/{metric}.svg"), svg, caption: metric.clone() });
    }
    Ok(blocks)
}

/// What produced the results: `meta.toml`'s fields that a reader needs, and wall times.
fn run_table(meta: Option<&Meta>, summary: &Summary) -> Table {
    let (trials, total) =
        summary.rows.iter().fold((0, 0.0), |(n, t), r| (n + r.trials, t + r.mean_wall_seconds * r.trials as f64));
    let mut t = Table::new(vec!["run".into(), "".into()]);
    let mut wall = format!("{total:.1} s in trials, {:.1} s per trial", total / trials.max(1) as f64);
    // The share of trial time spent evaluating, over the grid points that recorded it.
    let (eval, timed) =
        summary.rows.iter().filter_map(|r| r.eval_seconds).fold((0.0, 0.0), |(e, w), (re, rw)| (e + re, w + rw));
    if timed > 0.0 {
        wall += &format!(", {:.0}% of it evaluating", 100.0 * eval / timed);
    }
    let Some(m) = meta else {
        t.rows.push(vec!["wall time".into(), wall]);
        t.rows.push(vec!["meta.toml".into(), "missing: where and how these results were made is unknown".into()]);
        return t;
    };

    t.rows = vec![
        vec!["spec".into(), format!("{} (sha256 {})", m.spec, m.spec_hash)],
        vec!["command".into(), m.command.clone()],
        vec!["wall time".into(), wall],
        vec!["ran".into(), format!("{} → {} ({} trials run, {} jobs)", m.started, m.finished, m.trials_run, m.jobs)],
        vec!["machine".into(), format!("{} cores, {} ({})", m.cores, m.cpu, m.host)],
        vec![
            "versions".into(),
            format!("rnnlab {}, dfdx {}, git {}", m.rnnlab_version, m.dfdx_version, m.git_revision),
        ],
    ];
    t
}

/// Writes `path` atomically (rnnlab's one writer, [`rnnlab_spec::files::write_atomic`]),
/// creating its folder unless a link stands in its place.
pub(crate) fn write_file(path: &Path, contents: &str) -> Result<(), ReportError> {
    let io = |e: std::io::Error| ReportError::Input { path: path.to_path_buf(), message: files::io_text(&e) };
    let parent = path.parent().unwrap_or(Path::new("."));
    files::real_dir(parent)
        .map_err(|e| ReportError::Input { path: parent.to_path_buf(), message: files::io_text(&e) })?;
    files::write_atomic(path, contents.as_bytes()).map_err(io)
}
