//! The results folder: what a sweep writes, written so that a crash never leaves half a file.
//!
//! ```text
//! results/<name>/
//!   spec.toml            the spec as run (overrides applied and listed)
//!   meta.toml            versions, machine, start and end of the last run
//!   runs.csv             one row per trial of the current plan, rewritten after every trial
//!   trials/<id>/         appears whole (built in a temporary folder, then renamed)
//!     trial.toml         grid point, seed and the resolved config
//!     curve.csv          step, epoch, train_loss, test metrics at every evaluation
//!     result.toml        status, message, final and best metrics, steps, wall time, parameters
//!     model.safetensors  with `[train] save_checkpoint`: the parameters under PyTorch names
//!     model.toml         … and the architecture, task and dataset section to load them with
//! ```

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use rnnlab_spec::Trial;
use rnnlab_train::checkpoint::Checkpoint;
use rnnlab_train::{CurvePoint, Status, TrialResult};

/// What a finished (or failed) trial left in `result.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// `ok`, `diverged` or `failed`.
    pub status: String,
    #[serde(default)]
    pub message: String,
    pub train_loss: Option<f64>,
    pub test_loss: Option<f64>,
    pub test_accuracy: Option<f64>,
    pub test_mse: Option<f64>,
    #[serde(default)]
    pub test_nll: Option<f64>,
    /// Name of the metric `best_value` is about (`test_accuracy`, `test_mse` or `test_nll`).
    pub best_metric: Option<String>,
    pub best_value: Option<f64>,
    pub best_step: Option<usize>,
    pub steps: usize,
    pub wall_seconds: f64,
    pub params: usize,
}

impl TrialRecord {
    /// The record of a trial that ran to the end or diverged.
    pub fn from_result(r: &TrialResult) -> Self {
        let last = r.final_point();
        let best = r.best_point();
        TrialRecord {
            status: match r.status {
                Status::Ok => "ok",
                Status::Diverged => "diverged",
            }
            .into(),
            message: r.message.clone(),
            train_loss: last.map(|p| p.train_loss).filter(|v| v.is_finite()),
            test_loss: last.map(|p| p.test.loss),
            test_accuracy: last.and_then(|p| p.test.accuracy),
            test_mse: last.and_then(|p| p.test.mse),
            test_nll: last.and_then(|p| p.test.nll),
            best_metric: best.map(|p| {
                if p.test.accuracy.is_some() {
                    "test_accuracy"
                } else if p.test.mse.is_some() {
                    "test_mse"
                } else {
                    "test_nll"
                }
                .into()
            }),
            best_value: best.map(|p| p.test.main()),
            best_step: best.map(|p| p.step),
            steps: r.steps_done,
            wall_seconds: r.wall_seconds,
            params: r.param_count,
        }
    }

    /// The record of a trial that could not run or panicked.
    pub fn failed(message: String, wall_seconds: f64) -> Self {
        TrialRecord {
            status: "failed".into(),
            message,
            train_loss: None,
            test_loss: None,
            test_accuracy: None,
            test_mse: None,
            test_nll: None,
            best_metric: None,
            best_value: None,
            best_step: None,
            steps: 0,
            wall_seconds,
            params: 0,
        }
    }

    /// Finished for good: a re-run skips it. Failed trials are retried.
    pub fn is_final(&self) -> bool {
        self.status != "failed"
    }
}

/// Errors writing or reading results.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Corrupt { path: PathBuf, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ResultsError + '_ {
    move |source| ResultsError::Io { path: path.to_path_buf(), source }
}

/// One experiment's results folder.
#[derive(Debug, Clone)]
pub struct ResultsDir {
    pub root: PathBuf,
}

impl ResultsDir {
    pub fn new(root: PathBuf) -> Self {
        ResultsDir { root }
    }

    pub fn trial_dir(&self, id: &str) -> PathBuf {
        self.root.join("trials").join(id)
    }

    /// Creates the folder (and `trials/`).
    pub fn create(&self) -> Result<(), ResultsError> {
        let trials = self.root.join("trials");
        fs::create_dir_all(&trials).map_err(io(&trials))
    }

    /// Removes everything a previous sweep wrote here (for `--fresh`).
    pub fn clear(&self) -> Result<(), ResultsError> {
        for name in ["trials", "runs.csv", "meta.toml", "spec.toml"] {
            let p = self.root.join(name);
            let r = if p.is_dir() { fs::remove_dir_all(&p) } else { fs::remove_file(&p) };
            match r {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&p)(e)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Writes `name` atomically (temporary file, then rename).
    pub fn write_file(&self, name: &str, contents: &str) -> Result<(), ResultsError> {
        write_atomic(&self.root.join(name), contents.as_bytes())
    }

    /// The record of trial `id`, if it has one.
    pub fn record(&self, id: &str) -> Result<Option<TrialRecord>, ResultsError> {
        let path = self.trial_dir(id).join("result.toml");
        match fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text)
                .map(Some)
                .map_err(|e| ResultsError::Corrupt { path, message: format!("{e} (delete the folder to re-run it)") }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Writes a trial's folder whole: built under a temporary name, then renamed into place.
    pub fn write_trial(
        &self,
        trial: &Trial,
        curve: &[CurvePoint],
        record: &TrialRecord,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<(), ResultsError> {
        let final_dir = self.trial_dir(&trial.id);
        let tmp = self.root.join("trials").join(format!(".tmp-{}-{}", trial.id, std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        let header: String = trial.point.iter().map(|(k, v)| format!("# {k} = {v}\n")).collect();
        let trial_toml = format!("# trial {}\n{header}{}", trial.id, trial.to_toml());
        write_plain(&tmp.join("trial.toml"), trial_toml.as_bytes())?;
        write_plain(&tmp.join("curve.csv"), &curve_csv(curve))?;
        let result = toml::to_string(record).expect("records serialise");
        write_plain(&tmp.join("result.toml"), result.as_bytes())?;
        if let Some(c) = checkpoint {
            write_plain(&tmp.join("model.safetensors"), &c.safetensors)?;
            write_plain(&tmp.join("model.toml"), c.model_toml.as_bytes())?;
        }
        if final_dir.exists() {
            fs::remove_dir_all(&final_dir).map_err(io(&final_dir))?;
        }
        fs::rename(&tmp, &final_dir).map_err(io(&final_dir))
    }

    /// Rewrites `runs.csv` from `records` (by trial id), in plan order; trials without a record
    /// are left out.
    pub fn write_runs(
        &self,
        columns: &[String],
        trials: &[Trial],
        records: &HashMap<String, TrialRecord>,
    ) -> Result<usize, ResultsError> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header: Vec<String> = vec!["trial_id".into()];
        header.extend(columns.iter().cloned());
        header.extend(RUN_COLUMNS.iter().map(|s| s.to_string()));
        w.write_record(&header).expect("writing to memory");
        let mut rows = 0;
        for trial in trials {
            let Some(r) = records.get(&trial.id) else { continue };
            let mut row: Vec<String> = vec![trial.id.clone()];
            row.extend(trial.point.iter().map(|(_, v)| v.clone()));
            let num = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
            row.extend([
                trial.config.seed.to_string(),
                r.status.clone(),
                r.message.clone(),
                num(r.train_loss),
                num(r.test_loss),
                num(r.test_accuracy),
                num(r.test_mse),
                num(r.test_nll),
                r.best_metric.clone().unwrap_or_default(),
                num(r.best_value),
                r.best_step.map(|s| s.to_string()).unwrap_or_default(),
                r.steps.to_string(),
                format!("{:.3}", r.wall_seconds),
                r.params.to_string(),
            ]);
            w.write_record(&row).expect("writing to memory");
            rows += 1;
        }
        let bytes = w.into_inner().expect("in-memory writer");
        write_atomic(&self.root.join("runs.csv"), &bytes)?;
        Ok(rows)
    }
}

/// Columns of `runs.csv` after the trial id and the grid columns.
pub const RUN_COLUMNS: &[&str] = &[
    "seed",
    "status",
    "message",
    "train_loss",
    "test_loss",
    "test_accuracy",
    "test_mse",
    "test_nll",
    "best_metric",
    "best_value",
    "best_step",
    "steps",
    "wall_seconds",
    "params",
];

fn curve_csv(curve: &[CurvePoint]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["step", "epoch", "train_loss", "test_loss", "test_accuracy", "test_mse", "test_nll"])
        .expect("memory");
    let num = |v: Option<f64>| v.filter(|x| x.is_finite()).map(|x| x.to_string()).unwrap_or_default();
    for p in curve {
        w.write_record([
            p.step.to_string(),
            p.epoch.to_string(),
            num(Some(p.train_loss)),
            num(Some(p.test.loss)),
            num(p.test.accuracy),
            num(p.test.mse),
            num(p.test.nll),
        ])
        .expect("memory");
    }
    w.into_inner().expect("in-memory writer")
}

fn write_plain(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    let mut f = fs::File::create(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// Writes `path` through a temporary file in the same folder and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io(dir))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    write_plain(&tmp, bytes)?;
    fs::rename(&tmp, path).map_err(io(path))
}
