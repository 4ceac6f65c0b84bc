//! The results folder: what a sweep writes, written so that a crash never leaves half a file.
//!
//! ```text
//! results/<name>/
//!   spec.toml            the spec as run (overrides applied and listed)
//!   meta.toml            versions, machine, start and end of the last run
//!   runs.csv             one row per trial of the current plan, rewritten after every trial
//!   claims/<id>.toml     the worker running trial <id> (see `claims`)
//!   slurm/               with `--slurm`: job script, manifests, submissions, logs
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

use rnnlab_spec::files::{self, io_text};
use rnnlab_spec::vocab::layout;
use rnnlab_spec::Trial;
use rnnlab_train::checkpoint::Checkpoint;
use rnnlab_train::CurvePoint;

pub use crate::record::TrialRecord;

/// Errors writing or reading results.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("{}: {}", path.display(), io_text(error))]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{}: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    /// `--fresh` while other workers run trials here.
    #[error(
        "{} has trials running in other workers ({running}); --fresh would delete their work: stop them first (see `rnnlab status {}`)",
        dir.display(), dir.display()
    )]
    Busy { dir: PathBuf, running: String },
    /// Joining workers that run a different spec.
    #[error(
        "{} is being swept by other workers ({running}) with a different spec.toml; join with the same spec and --set options, or wait for them to finish",
        dir.display()
    )]
    SpecChanged { dir: PathBuf, running: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ResultsError + '_ {
    move |error| ResultsError::Io { path: path.to_path_buf(), error }
}

/// The folder lock, released when dropped (or when the process ends, however it ends: the
/// lock is the kernel's `flock`, not the file's existence).
#[derive(Debug)]
pub struct FolderLock {
    _file: fs::File,
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
        self.root.join(layout::TRIALS).join(id)
    }

    /// Takes the folder's lock (creating the folder), waiting while another worker holds it.
    /// Workers hold it only for short changes to the folder (set-up, a takeover, a commit and
    /// the rebuild of runs.csv, the report), never while a trial runs.
    pub fn lock(&self) -> Result<FolderLock, ResultsError> {
        fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        let path = self.root.join(layout::LOCK);
        let file = {
            use std::os::unix::fs::OpenOptionsExt;
            // O_NOFOLLOW: a link planted at .lock is an error, not a file written elsewhere.
            fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)
                .map_err(io(&path))?
        };
        file.lock().map_err(io(&path))?;
        Ok(FolderLock { _file: file })
    }

    /// Creates `trials/` (refusing links in place of the folders rnnlab writes into) and removes
    /// temporary files and folders that killed runs left behind. Call with the lock held.
    pub fn create(&self) -> Result<(), ResultsError> {
        files::real_dir(&self.root).map_err(io(&self.root))?;
        let trials = self.root.join(layout::TRIALS);
        files::real_dir(&trials).map_err(io(&trials))?;
        files::remove_stale_temps(&self.root).map_err(io(&self.root))?;
        files::remove_stale_temps(&trials).map_err(io(&trials))?;
        let resume = self.root.join(layout::RESUME);
        if fs::symlink_metadata(&resume).is_ok() {
            files::real_dir(&resume).map_err(io(&resume))?;
            files::remove_stale_temps(&resume).map_err(io(&resume))?;
        }
        Ok(())
    }

    /// Removes everything a previous sweep wrote here (for `--fresh`). Call with the lock held.
    pub fn clear(&self) -> Result<(), ResultsError> {
        use layout::*;
        for name in [TRIALS, CLAIMS, PRUNE, RESUME, TPE, RUNS, META, SPEC, REPORT_MD, REPORT_HTML, PLOTS] {
            let p = self.root.join(name);
            // symlink_metadata: a link is removed itself, never what it points to.
            let r = match fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => fs::remove_dir_all(&p),
                Ok(_) => fs::remove_file(&p),
                Err(e) => Err(e),
            };
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

    /// The record of trial `id`, if it has one. A `result.toml` whose `curve.csv` is missing
    /// or damaged (`layout::curve_damage`) is no record: the trial is not done and runs again.
    pub fn record(&self, id: &str) -> Result<Option<TrialRecord>, ResultsError> {
        let path = self.trial_dir(id).join(layout::RESULT);
        match fs::read_to_string(&path) {
            Ok(text) => {
                let curve = fs::read_to_string(self.trial_dir(id).join(layout::CURVE));
                if !curve.is_ok_and(|c| layout::curve_damage(&c).is_none()) {
                    return Ok(None);
                }
                toml::from_str(&text).map(Some).map_err(|e| ResultsError::Corrupt {
                    path,
                    message: format!("{e} (delete the folder to re-run it)"),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    fn snapshot_path(&self, id: &str) -> PathBuf {
        self.root.join(layout::RESUME).join(format!("{id}.safetensors"))
    }

    /// Trial `id`'s snapshot, if it has a readable one (an unreadable one is as none: the
    /// trial starts over).
    pub fn snapshot(&self, id: &str) -> Option<rnnlab_train::Snapshot> {
        let path = self.snapshot_path(id);
        // O_NOFOLLOW-like: a link in place of a snapshot is not read.
        let meta = fs::symlink_metadata(&path).ok().filter(|m| m.is_file())?;
        let bytes = fs::read(&path).ok().filter(|b| b.len() as u64 == meta.len())?;
        rnnlab_train::Snapshot::from_bytes(&bytes).ok()
    }

    /// Writes trial `id`'s snapshot atomically, replacing the previous one.
    pub fn write_snapshot(&self, id: &str, snapshot: &rnnlab_train::Snapshot) -> Result<(), ResultsError> {
        let folder = self.root.join(layout::RESUME);
        files::real_dir(&folder).map_err(io(&folder))?;
        write_atomic(&self.snapshot_path(id), &snapshot.to_bytes())
    }

    /// Removes trial `id`'s snapshot (its trial has ended).
    pub fn remove_snapshot(&self, id: &str) {
        let _ = fs::remove_file(self.snapshot_path(id));
    }

    /// When trial `id`'s `result.toml` was written, if it exists.
    pub fn result_written(&self, id: &str) -> Option<std::time::SystemTime> {
        fs::metadata(self.trial_dir(id).join(layout::RESULT)).and_then(|m| m.modified()).ok()
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
        let trials = self.root.join(layout::TRIALS);
        // A new folder under an unpredictable name (created with mkdir, which never follows a
        // link); kept on success by the rename below, left for `create` to clear on a crash.
        let tmp = files::temp_dir_in(&trials, &trial.id).map_err(io(&trials))?;
        let header: String = trial.point.iter().map(|(k, v)| format!("# {k} = {v}\n")).collect();
        let trial_toml = format!("# trial {}\n{header}{}", trial.id, trial.to_toml());
        write_plain(&tmp.join(layout::TRIAL), trial_toml.as_bytes())?;
        write_plain(&tmp.join(layout::CURVE), &curve_csv(curve))?;
        let result = toml::to_string(record).expect("records serialise");
        write_plain(&tmp.join(layout::RESULT), result.as_bytes())?;
        if let Some(c) = checkpoint {
            write_plain(&tmp.join(layout::MODEL_TENSORS), &c.safetensors)?;
            write_plain(&tmp.join(layout::MODEL_CARD), c.model_toml.as_bytes())?;
        }
        match fs::symlink_metadata(&final_dir) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(&final_dir).map_err(io(&final_dir))?,
            Ok(_) => fs::remove_file(&final_dir).map_err(io(&final_dir))?,
            Err(_) => {}
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
                r.status.to_string(),
                r.message.clone(),
                num(r.train_loss),
                num(r.test_loss),
                num(r.test_accuracy),
                num(r.test_mse),
                num(r.test_nll),
                num(r.valid_loss),
                num(r.valid_accuracy),
                num(r.valid_mse),
                num(r.valid_nll),
                r.selected_step.map(|s| s.to_string()).unwrap_or_default(),
                r.best_metric.clone().unwrap_or_default(),
                num(r.best_value),
                r.best_step.map(|s| s.to_string()).unwrap_or_default(),
                r.steps.to_string(),
                r.planned_steps.map(|s| s.to_string()).unwrap_or_default(),
                format!("{:.3}", r.wall_seconds),
                r.params.to_string(),
                r.eval_seconds.map(|v| format!("{v:.3}")).unwrap_or_default(),
            ]);
            w.write_record(&row).expect("writing to memory");
            rows += 1;
        }
        let bytes = w.into_inner().expect("in-memory writer");
        write_atomic(&self.root.join(layout::RUNS), &bytes)?;
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
    "valid_loss",
    "valid_accuracy",
    "valid_mse",
    "valid_nll",
    "selected_step",
    "best_metric",
    "best_value",
    "best_step",
    "steps",
    "planned_steps",
    "wall_seconds",
    "params",
    "eval_seconds",
];

/// `curve.csv`: one row per evaluation; the `valid_*` columns only when the trial has a
/// validation split.
fn curve_csv(curve: &[CurvePoint]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let has_valid = curve.iter().any(|p| p.valid.is_some());
    let mut header = vec!["step", "epoch", "train_loss", "test_loss", "test_accuracy", "test_mse", "test_nll"];
    if has_valid {
        header.extend(["valid_loss", "valid_accuracy", "valid_mse", "valid_nll"]);
    }
    w.write_record(&header).expect("memory");
    let num = |v: Option<f64>| v.filter(|x| x.is_finite()).map(|x| x.to_string()).unwrap_or_default();
    for p in curve {
        let mut row = vec![
            p.step.to_string(),
            p.epoch.to_string(),
            num(Some(p.train_loss)),
            num(Some(p.test.loss)),
            num(p.test.accuracy),
            num(p.test.mse),
            num(p.test.nll),
        ];
        if has_valid {
            let v = p.valid;
            row.extend([
                num(v.map(|v| v.loss)),
                num(v.and_then(|v| v.accuracy)),
                num(v.and_then(|v| v.mse)),
                num(v.and_then(|v| v.nll)),
            ]);
        }
        w.write_record(&row).expect("memory");
    }
    w.into_inner().expect("in-memory writer")
}

/// A new file in a folder this process just created (`create_new`: never an existing name).
fn write_plain(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    let mut f = fs::File::create_new(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// [`files::write_atomic`] with the path in the error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    files::write_atomic(path, bytes).map_err(io(path))
}
