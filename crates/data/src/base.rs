//! The dataset types and the [`Plugin`] trait every dataset implements.

use rnnlab_spec::FieldError;

/// What the model must predict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// One of `classes` labels, at every step or only at the last one.
    Classify { classes: usize, per_step: bool },
    /// `outputs` real values, at every step or only at the last one.
    Regress { outputs: usize, per_step: bool },
    /// `labels` independent binary labels (targets 0/1 as values; sigmoid per label), e.g. the
    /// notes of the next piano-roll frame.
    MultiLabel { labels: usize, per_step: bool },
}

impl Task {
    /// Size of the prediction at one step.
    pub fn output_size(&self) -> usize {
        match *self {
            Task::Classify { classes, .. } => classes,
            Task::Regress { outputs, .. } => outputs,
            Task::MultiLabel { labels, .. } => labels,
        }
    }

    /// The metrics a trial of this task records (`rnnlab_spec::vocab::METRICS` names): the
    /// loss always, accuracy for classification, MSE for regression, NLL for multi-label; the
    /// `valid_*` ones only `with_validation`.
    pub fn metrics(&self, with_validation: bool) -> Vec<&'static str> {
        let main = match self {
            Task::Classify { .. } => "accuracy",
            Task::Regress { .. } => "mse",
            Task::MultiLabel { .. } => "nll",
        };
        rnnlab_spec::vocab::METRICS
            .iter()
            .map(|m| m.name)
            .filter(|name| {
                let (split, what) = name.split_once('_').unwrap_or(("", name));
                (what == "loss" || what == main) && (split != "valid" || with_validation)
            })
            .collect()
    }

    pub fn per_step(&self) -> bool {
        match *self {
            Task::Classify { per_step, .. } | Task::Regress { per_step, .. } | Task::MultiLabel { per_step, .. } => {
                per_step
            }
        }
    }
}

/// Targets of a [`SequenceSet`], sequence-major: `[N, T]` (per step) or `[N]` (last step),
/// times `outputs` for regression.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    Classes(Vec<u32>),
    Values(Vec<f32>),
}

/// `len` sequences of `steps` steps of `input_size` features, sequence-major `[N, T, I]`.
/// Sequences of different lengths are stored padded with zeros to `steps` (inputs and
/// per-step targets), with their true `lengths`; the trainer masks the padding out of the loss
/// and the metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceSet {
    pub len: usize,
    pub steps: usize,
    /// Each sequence's length (≤ `steps`) when they differ; `None`: all are `steps` long.
    pub lengths: Option<Vec<usize>>,
    pub input_size: usize,
    pub inputs: Vec<f32>,
    pub targets: Targets,
}

impl SequenceSet {
    /// Whether the targets fit `task`: class labels in `0..classes`, values finite. The
    /// trainer calls this on every dataset (whatever plugin built it), so a bad label is a data
    /// error here, not an index out of bounds in a kernel.
    pub fn check_targets(&self, task: &Task) -> Result<(), String> {
        let per = if task.per_step() { self.steps } else { 1 };
        let at = |i: usize| {
            let (n, t) = (i / per, i % per);
            if task.per_step() {
                format!("sequence {n}, step {t}")
            } else {
                format!("sequence {n}")
            }
        };
        match (&self.targets, task) {
            (Targets::Classes(c), Task::Classify { classes, .. }) => {
                match c.iter().position(|&l| l as usize >= *classes) {
                    Some(i) => Err(format!(
                        "{}: label {} is outside 0..{} (the task has {classes} classes)",
                        at(i),
                        c[i],
                        classes - 1
                    )),
                    None => Ok(()),
                }
            }
            (Targets::Values(v), _) => match v.iter().position(|x| !x.is_finite()) {
                Some(i) => {
                    Err(format!("{}: target {} is not a finite number", at(i / task.output_size().max(1)), v[i]))
                }
                None => Ok(()),
            },
            (Targets::Classes(_), _) => Err("class labels for a task that is not classification".into()),
        }
    }
}

/// How the training loss combines the rows of a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LossReduction {
    /// PyTorch's default: the mean over the rows (and steps) that have targets.
    #[default]
    Mean,
    /// The sum over them (some tutorials' `reduce_sum`): the mean times the number of rows.
    Sum,
}

/// A built dataset: the task, its splits, and how its training loss is reduced.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub task: Task,
    pub train: SequenceSet,
    /// The held-out split that selects models and stops training early (`valid_*` metrics);
    /// `None` when the plugin's keys ask for none.
    pub valid: Option<SequenceSet>,
    pub test: SequenceSet,
    pub loss_reduction: LossReduction,
}

impl Dataset {
    pub fn input_size(&self) -> usize {
        self.train.input_size
    }

    /// [`SequenceSet::check_targets`] on both splits and finite inputs, naming the split.
    pub fn check(&self, plugin: &str) -> Result<(), DataError> {
        let splits = [("train", Some(&self.train)), ("valid", self.valid.as_ref()), ("test", Some(&self.test))];
        for (name, set) in splits.into_iter().filter_map(|(n, s)| s.map(|s| (n, s))) {
            let fail = |what: String| DataError::Other(format!("`{plugin}` {name} split: {what}"));
            set.check_targets(&self.task).map_err(fail)?;
            if let Some(i) = set.inputs.iter().position(|x| !x.is_finite()) {
                let (n, t) = (i / (set.steps * set.input_size).max(1), i / set.input_size.max(1) % set.steps.max(1));
                return Err(fail(format!("sequence {n}, step {t}: input {} is not a finite number", set.inputs[i])));
            }
        }
        Ok(())
    }
}

/// Why a dataset could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("dataset keys: {}: {}", .0.path.join("."), .0.message)]
    Config(FieldError),
    /// A data file the plugin reads is not there (the message says how to get it).
    #[error("{0}")]
    Missing(String),
    #[error("{0}")]
    Other(String),
}

/// A dataset plugin.
pub trait Plugin: Sync {
    /// The name used in `[dataset] plugin = "..."`.
    fn name(&self) -> &'static str;
    /// One line for `rnnlab plugins`.
    fn doc(&self) -> &'static str;
    /// Its keys: the plugin's serde `Config`, described (`rnnlab_spec::reference::schema_of`),
    /// so its doc comments and defaults are the one declaration of each key.
    fn keys(&self) -> schemars::Schema;
    /// A complete `[dataset]` section that builds (tested for every plugin).
    fn example(&self) -> &'static str;
    /// Features per step of the sequences the keys describe, from the keys alone (what
    /// `[model] params` solves the hidden size with); `None` when the keys do not decode.
    fn input_size(&self, keys: &toml::Table) -> Option<usize>;
    /// Whether the keys ask for a validation split (the `valid_*` metrics).
    fn has_validation(&self, _keys: &toml::Table) -> bool {
        false
    }
    /// Checks the keys (everything but `plugin`) and says what the task will be, without building.
    fn check(&self, keys: &toml::Table) -> Result<Task, FieldError>;
    /// Builds the data for one trial.
    fn build(&self, keys: &toml::Table, seed: u64) -> Result<Dataset, DataError>;
    /// Whether [`Plugin::check_files`] opens anything (the caller caches its answer per
    /// `[dataset]` section, and asks only plugins that read files).
    fn reads_files(&self) -> bool {
        false
    }
    /// Opens the data files `keys` name and checks them as a trial would (columns, steps,
    /// shapes, label ranges), so `rnnlab validate` and `plan` refuse a spec whose data a trial
    /// could not read; the error's path is the key that names the file (or the column).
    fn check_files(&self, _keys: &toml::Table) -> Result<(), FieldError> {
        Ok(())
    }
    /// Reads sequences from one file in this plugin's format, preprocessed as [`Plugin::build`]
    /// does, for `rnnlab predict`; the targets are read when the file has them.
    fn read_input(&self, _keys: &toml::Table, _path: &std::path::Path) -> Result<Input, DataError> {
        Err(DataError::Other(format!(
            "the `{}` plugin reads no input files; `rnnlab predict --input` reads files of the `csv` and `mnist` plugins",
            self.name()
        )))
    }
}

/// Sequences read by [`Plugin::read_input`].
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub set: SequenceSet,
    /// Each sequence's name in the file (the csv `sequence` column, the image index).
    pub ids: Vec<String>,
    /// Whether `set.targets` came from the file (else they are zeros).
    pub labelled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(targets: Targets, inputs: Vec<f32>) -> SequenceSet {
        SequenceSet { len: 2, steps: 1, lengths: None, input_size: 1, inputs, targets }
    }

    #[test]
    fn each_task_records_its_own_metrics() {
        let classify = Task::Classify { classes: 2, per_step: true };
        assert_eq!(classify.metrics(false), ["test_accuracy", "test_loss", "train_loss"]);
        let regress = Task::Regress { outputs: 1, per_step: false };
        assert_eq!(regress.metrics(true), ["test_mse", "test_loss", "valid_mse", "valid_loss", "train_loss"]);
        assert!(Task::MultiLabel { labels: 88, per_step: true }.metrics(false).contains(&"test_nll"));
    }

    #[test]
    fn labels_outside_the_classes_and_non_finite_values_are_data_errors() {
        let task = Task::Classify { classes: 10, per_step: false };
        let ok = set(Targets::Classes(vec![0, 9]), vec![0.0, 1.0]);
        let data =
            Dataset { task, train: ok.clone(), valid: None, test: ok.clone(), loss_reduction: LossReduction::Mean };
        assert!(data.check("x").is_ok());
        let bad = Dataset { test: set(Targets::Classes(vec![0, 200]), vec![0.0, 1.0]), ..data.clone() };
        let e = bad.check("mnist").unwrap_err().to_string();
        assert_eq!(e, "`mnist` test split: sequence 1: label 200 is outside 0..9 (the task has 10 classes)");
        let valid = Dataset { valid: Some(set(Targets::Classes(vec![10, 0]), vec![0.0, 1.0])), ..data.clone() };
        assert!(valid.check("x").unwrap_err().to_string().starts_with("`x` valid split: sequence 0: label 10"));
        let nan = Dataset { train: set(Targets::Classes(vec![0, 1]), vec![f32::NAN, 1.0]), ..data };
        assert!(nan.check("x").unwrap_err().to_string().contains("train split: sequence 0, step 0: input NaN"));
        let reg = Task::Regress { outputs: 1, per_step: false };
        assert!(set(Targets::Values(vec![1.0, f32::INFINITY]), vec![0.0; 2]).check_targets(&reg).is_err());
    }
}
