//! The cross-experiment index: `rnnlab report results/` on a folder of results folders writes
//! each experiment's report and `results/index.md` and `index.html`, one row per
//! `[[published]]` figure across experiments (source, metric, published value, ours with its
//! interval, n, verdict, a link to the experiment's report) and one row per experiment without
//! published figures (its headline comparison).

use std::path::{Path, PathBuf};

use rnnlab_spec::vocab::layout;

use crate::doc::{self, Block, Table};
use crate::error::ReportError;
use crate::published::{mean_ci, Verdict};
use crate::write::write_file;
use crate::write::Report;

/// What [`write_index`] wrote.
#[derive(Debug)]
pub struct Index {
    pub md: PathBuf,
    pub html: PathBuf,
    /// Every experiment folder, with its report or why it has none.
    pub experiments: Vec<(String, Result<Report, String>)>,
}

impl Index {
    /// Published figures per verdict across experiments: reproduced, better, worse, no data.
    pub fn verdict_counts(&self) -> [usize; 4] {
        let mut counts = [0; 4];
        for c in self.experiments.iter().filter_map(|(_, r)| r.as_ref().ok()).flat_map(|r| &r.published) {
            counts[match c.verdict {
                Verdict::Reproduced => 0,
                Verdict::Better => 1,
                Verdict::Worse => 2,
                Verdict::NoData => 3,
            }] += 1;
        }
        counts
    }
}

/// Whether `dir` is a folder of results folders (it has no `runs.csv`, one of its folders has).
pub fn is_collection(dir: &Path) -> bool {
    !dir.join(layout::RUNS).exists() && !experiment_folders(dir).is_empty()
}

/// The folders of `dir` that hold a `runs.csv`, and those one level further down in folders
/// that do not (`--out results/variant` puts an experiment at `results/variant/<name>`), by
/// path (links are not followed).
fn experiment_folders(dir: &Path) -> Vec<PathBuf> {
    let folders = |dir: &Path| -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
        entries.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()).collect()
    };
    let mut found = Vec::new();
    for sub in folders(dir) {
        if sub.join(layout::RUNS).is_file() {
            found.push(sub);
        } else {
            found.extend(folders(&sub).into_iter().filter(|p| p.join(layout::RUNS).is_file()));
        }
    }
    found.sort();
    found
}

/// Writes every experiment's report with `write_one` (the caller locks each folder) and then
/// `dir/index.md` and `dir/index.html`. An experiment whose report fails is listed with why.
pub fn write_index(
    dir: &Path,
    mut write_one: impl FnMut(&Path) -> Result<Report, String>,
) -> Result<Index, ReportError> {
    let experiments: Vec<(String, Result<Report, String>)> = experiment_folders(dir)
        .into_iter()
        .map(|p| {
            let relative = p.strip_prefix(dir).unwrap_or(&p);
            let name = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            (name, write_one(&p))
        })
        .collect();
    let md = dir.join("index.md");
    let html = dir.join("index.html");
    write_file(&md, &doc::to_markdown(&blocks(&experiments, "md")))?;
    write_file(&html, &doc::to_html("rnnlab: experiments", &blocks(&experiments, "html"), None))?;
    Ok(Index { md, html, experiments })
}

/// The index page, linking each experiment's `report.<ext>`.
fn blocks(experiments: &[(String, Result<Report, String>)], ext: &str) -> Vec<Block> {
    // The folder names the row (the experiment's name, or `variant/name` one level down).
    let link = |folder: &str| format!("[{folder}]({folder}/report.{ext})");
    let mut published = Table::new(
        ["experiment", "source", "metric", "grid point", "published", "ours (mean, 95% t-CI)", "n", "verdict"]
            .map(String::from)
            .to_vec(),
    );
    let mut headlines = Table::new(["experiment", "trials", "headline"].map(String::from).to_vec());
    let mut problems = Vec::new();
    for (folder, report) in experiments {
        let report = match report {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("`{folder}`: {e}"));
                continue;
            }
        };
        for c in &report.published {
            let ours = c.ours.as_ref().map_or("—".into(), |s| mean_ci(s, &c.entry.metric));
            let tolerance = if c.entry.tolerance > 0.0 { format!(" ± {}", c.entry.tolerance) } else { String::new() };
            published.rows.push(vec![
                link(folder),
                c.entry.source.clone(),
                c.entry.metric.clone(),
                if c.point.is_empty() { "(all)".into() } else { c.point.clone() },
                format!("{}{tolerance}", c.entry.value),
                ours,
                c.ours.as_ref().map_or(0, |s| s.n).to_string(),
                format!("**{}**", c.verdict),
            ]);
        }
        if report.published.is_empty() {
            let trials: usize = report.summary.rows.iter().map(|r| r.trials).sum();
            headlines.rows.push(vec![link(folder), trials.to_string(), headline(report)]);
        }
    }
    let mut blocks = vec![
        Block::Heading(1, "Experiments".into()),
        Block::Paragraph(format!(
            "{} experiments. Written by `rnnlab report` on this folder from each experiment's results; \
             a verdict is **reproduced** when the published value is within its tolerance of our mean or \
             inside our 95% interval, else **better** or **worse**.",
            experiments.len()
        )),
    ];
    if !published.rows.is_empty() {
        blocks.push(Block::Heading(2, "Published figures".into()));
        blocks.push(Block::Table(published));
    }
    if !headlines.rows.is_empty() {
        blocks.push(Block::Heading(2, "Experiments without published figures".into()));
        blocks.push(Block::Table(headlines));
    }
    if !problems.is_empty() {
        blocks.push(Block::Heading(2, "Folders without a report".into()));
        blocks.extend(problems.into_iter().map(Block::Paragraph));
    }
    blocks
}

/// An experiment's headline: its comparison's verdicts, else its best grid point.
fn headline(report: &Report) -> String {
    if let Some(v) = &report.versus {
        let verdicts: Vec<String> = v.pairs.iter().map(|p| v.sentence(p)).collect();
        return format!("{} on {}: {}", v.axis, v.metric, verdicts.join("; "));
    }
    let s = &report.summary;
    match (s.primary, s.rows.first()) {
        (Some(k), Some(row)) => match row.stats[k].as_ref() {
            Some(stat) => format!("best: {} with {} {:.4} (n = {})", s.label(row), s.metrics[k], stat.mean, stat.n),
            None => "no ok trials".into(),
        },
        _ => "no ok trials".into(),
    }
}
