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

/// How the training loss combines the rows of a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossReduction {
    /// PyTorch's default: the mean over the rows (and steps) that have targets.
    #[default]
    Mean,
    /// The sum over them (some tutorials' `reduce_sum`): the mean times the number of rows.
    Sum,
}

/// A built dataset: the task, its two splits, and how its training loss is reduced.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub task: Task,
    pub train: SequenceSet,
    pub test: SequenceSet,
    pub loss_reduction: LossReduction,
}

impl Dataset {
    pub fn input_size(&self) -> usize {
        self.train.input_size
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

/// One documented key of a plugin, for `rnnlab plugins`.
#[derive(Debug, Clone, Copy)]
pub struct KeyDoc {
    pub name: &'static str,
    pub kind: &'static str,
    pub default: &'static str,
    pub doc: &'static str,
}

/// A dataset plugin.
pub trait Plugin: Sync {
    /// The name used in `[dataset] plugin = "..."`.
    fn name(&self) -> &'static str;
    /// One line for `rnnlab plugins`.
    fn doc(&self) -> &'static str;
    fn keys(&self) -> &'static [KeyDoc];
    /// A complete `[dataset]` section that builds (tested for every plugin).
    fn example(&self) -> &'static str;
    /// Checks the keys (everything but `plugin`) and says what the task will be, without building.
    fn check(&self, keys: &toml::Table) -> Result<Task, FieldError>;
    /// Builds the data for one trial.
    fn build(&self, keys: &toml::Table, seed: u64) -> Result<Dataset, DataError>;
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
