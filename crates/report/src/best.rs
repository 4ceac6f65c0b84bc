//! The best trial of each compared value (each cell, by default): which trial to look at, load
//! or run `rnnlab predict` with, named by its id and folder, so nobody sorts runs.csv by hand.

use std::path::{Path, PathBuf};

use rnnlab_spec::vocab::{find_metric, layout};

use crate::error::ReportError;
use crate::summary::Summary;

/// One compared value's best ok trial, by the metric that ranks grid points (`[report]
/// select`, else the primary metric).
#[derive(Debug, Clone, PartialEq)]
pub struct BestTrial {
    /// The compared value (`lstm`), or `(all)` when the grid has no such axis.
    pub group: String,
    pub id: String,
    /// Its grid point (`model.cell=lstm, optimizer.lr=0.01`) and seed.
    pub point: String,
    pub seed: String,
    pub metric: String,
    pub value: f64,
    /// `trials/<id>` inside the results folder.
    pub folder: PathBuf,
    /// Whether the folder holds a checkpoint (`save_checkpoint = true`) for `rnnlab predict`.
    pub checkpoint: bool,
}

/// The best ok trial of each value of `axis` (default `model.cell`) in `dir/runs.csv`.
pub fn best_trials(dir: &Path, summary: &Summary, axis: Option<&str>) -> Result<Vec<BestTrial>, ReportError> {
    let Some(metric) = summary.rank.or(summary.primary).map(|k| summary.metrics[k].clone()) else {
        return Ok(Vec::new());
    };
    let better = |a: f64, b: f64| find_metric(&metric).is_none_or(|m| m.better(a, b));
    let path = dir.join(layout::RUNS);
    let fail = |message: String| ReportError::Input { path: path.clone(), message };
    let mut reader = csv::Reader::from_path(&path).map_err(|e| fail(e.to_string()))?;
    let header = reader.headers().map_err(|e| fail(e.to_string()))?.clone();
    let at = |name: &str| header.iter().position(|h| h == name);
    let (Some(id_at), Some(status_at), Some(seed_at), Some(value_at)) =
        (at("trial_id"), at("status"), at("seed"), at(&metric))
    else {
        return Ok(Vec::new());
    };
    let axis = axis.unwrap_or(crate::pairwise::DEFAULT_AXIS);
    let group_at = at(axis).filter(|_| summary.grid.iter().any(|g| g == axis));
    let grid_at: Vec<(String, usize)> = summary.grid.iter().filter_map(|g| at(g).map(|i| (g.clone(), i))).collect();
    let mut best: Vec<BestTrial> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| fail(e.to_string()))?;
        let field = |i: usize| record.get(i).unwrap_or("");
        let Ok(value) = field(value_at).parse::<f64>() else { continue };
        if field(status_at) != "ok" || !value.is_finite() {
            continue;
        }
        let group = group_at.map_or("(all)".to_string(), |i| field(i).to_string());
        let id = field(id_at).to_string();
        let folder = dir.join(layout::TRIALS).join(&id);
        let trial = BestTrial {
            group: group.clone(),
            point: match rnnlab_spec::point_label(grid_at.iter().map(|(g, i)| (g.as_str(), field(*i)))) {
                label if label.is_empty() => "(all)".into(),
                label => label,
            },
            seed: field(seed_at).to_string(),
            metric: metric.clone(),
            value,
            checkpoint: folder.join(layout::MODEL_TENSORS).is_file(),
            folder,
            id,
        };
        match best.iter_mut().find(|b| b.group == group) {
            Some(b) if better(value, b.value) => *b = trial,
            Some(_) => {}
            None => best.push(trial),
        }
    }
    Ok(best)
}

impl BestTrial {
    /// One line: `lstm: trial 1a2b3c4d5e (model.cell=lstm, seed 2), valid_nll 8.2460 → results/x/trials/1a2b3c4d5e`.
    pub fn sentence(&self) -> String {
        format!(
            "{}: trial {} ({}, seed {}), {} {} → {}",
            self.group,
            self.id,
            self.point,
            self.seed,
            self.metric,
            self.value_text(),
            self.folder.display()
        )
    }

    /// The value to 4 decimals, or 4 significant digits when it is smaller than 0.01.
    pub fn value_text(&self) -> String {
        if self.value != 0.0 && self.value.abs() < 0.01 {
            format!("{:.3e}", self.value)
        } else {
            format!("{:.4}", self.value)
        }
    }

    /// The `rnnlab predict` line for its checkpoint, if it has one, naming the trial's folder as
    /// `folder` (its full path on a terminal, `trials/<id>` in the report).
    pub fn predict_line(&self, folder: &Path) -> Option<String> {
        self.checkpoint
            .then(|| format!("rnnlab predict --checkpoint {} --input YOUR_DATA -o predictions.csv", folder.display()))
    }
}
