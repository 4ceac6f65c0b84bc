//! A trained trial's model leaving rnnlab: `model.safetensors` (every parameter under its
//! PyTorch `state_dict` name, f32) and `model.toml` (the architecture, the task and the
//! `[dataset]` section, so inputs can be read and preprocessed as in training).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use rnnlab_data::{SequenceSet, Task};
use rnnlab_nn::checkpoint::{load_safetensors, to_safetensors, CheckpointError};
use rnnlab_nn::{Backend, Network};
use rnnlab_spec::{DatasetConfig, ModelConfig, TrialConfig};

/// `format` of the model.toml this version writes.
pub const FORMAT: &str = "rnnlab-checkpoint-1";

/// `model.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    pub format: String,
    pub seed: u64,
    /// Features per step.
    pub input_size: usize,
    pub task: TaskCard,
    /// Parameters by PyTorch name and shape, as stored in model.safetensors.
    pub parameters: Vec<ParamCard>,
    pub model: ModelConfig,
    /// The trial's `[dataset]` section: how `rnnlab predict` reads and preprocesses inputs.
    pub dataset: DatasetConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskCard {
    /// `classify`, `regress` or `multilabel`.
    pub kind: String,
    /// Classes, values or labels per prediction.
    pub outputs: usize,
    /// A prediction at every step, or only after the last one.
    pub per_step: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamCard {
    pub name: String,
    pub shape: Vec<usize>,
}

impl TaskCard {
    pub fn new(task: Task) -> Self {
        let (kind, outputs) = match task {
            Task::Classify { classes, .. } => ("classify", classes),
            Task::Regress { outputs, .. } => ("regress", outputs),
            Task::MultiLabel { labels, .. } => ("multilabel", labels),
        };
        TaskCard { kind: kind.into(), outputs, per_step: task.per_step() }
    }

    pub fn task(&self) -> Result<Task, String> {
        let (n, per_step) = (self.outputs, self.per_step);
        match self.kind.as_str() {
            "classify" => Ok(Task::Classify { classes: n, per_step }),
            "regress" => Ok(Task::Regress { outputs: n, per_step }),
            "multilabel" => Ok(Task::MultiLabel { labels: n, per_step }),
            k => Err(format!("task.kind `{k}` is not classify, regress or multilabel")),
        }
    }
}

/// The two files of a checkpoint, in memory (the sweep writes them with the trial's folder).
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub safetensors: Vec<u8>,
    pub model_toml: String,
}

/// The checkpoint of a trained network.
pub fn checkpoint<D: Backend>(config: &TrialConfig, net: &Network<D>) -> Checkpoint {
    let parameters =
        rnnlab_nn::params::param_infos(net).into_iter().map(|p| ParamCard { name: p.name, shape: p.shape }).collect();
    let card = ModelCard {
        format: FORMAT.into(),
        seed: config.seed,
        input_size: net.input_size,
        task: TaskCard::new(net.task),
        parameters,
        model: config.model.clone(),
        dataset: config.dataset.clone(),
    };
    let metadata = HashMap::from([("format".to_string(), FORMAT.to_string())]);
    Checkpoint {
        safetensors: to_safetensors(net, metadata),
        model_toml: toml::to_string(&card).expect("the model card serialises"),
    }
}

/// Why a checkpoint could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {message}")]
    Card { path: PathBuf, message: String },
    #[error("{path}: {error}")]
    Tensors { path: PathBuf, error: CheckpointError },
    #[error("{0}")]
    Model(#[from] rnnlab_nn::NnError),
}

/// A checkpoint loaded into a CPU network.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub card: ModelCard,
    pub net: Network<Cpu>,
}

/// Loads `dir/model.toml` and `dir/model.safetensors` (a trial folder).
pub fn load(dir: &Path) -> Result<Loaded, LoadError> {
    let card_path = dir.join("model.toml");
    let card_err = |message: String| LoadError::Card { path: card_path.clone(), message };
    let text = std::fs::read_to_string(&card_path).map_err(|e| {
        card_err(format!(
            "{} (is this a trial folder of a sweep with `[train] save_checkpoint = true`?)",
            rnnlab_spec::files::io_text(&e)
        ))
    })?;
    let card: ModelCard = toml::from_str(&text).map_err(|e| card_err(e.to_string()))?;
    if card.format != FORMAT {
        return Err(card_err(format!("format `{}`, this rnnlab reads `{FORMAT}`", card.format)));
    }
    let task = card.task.task().map_err(card_err)?;
    // model.toml's sizes must agree with the tensors file before anything that size is built.
    let tensors = dir.join("model.safetensors");
    let params = crate::memory::param_count(&card.model, card.input_size, task.output_size());
    let file_len = std::fs::metadata(&tensors).map(|m| m.len() as u128).unwrap_or(0);
    if params * 4 > file_len {
        return Err(card_err(format!(
            "describes a model of {params} parameters ({}), but {} holds only {} bytes: the file is truncated, or model.toml does not belong to these tensors",
            crate::memory::human(params * 4),
            tensors.display(),
            file_len
        )));
    }
    let mut net = Network::zeros(&Cpu::default(), &card.model, card.input_size, task)?;
    let bytes = std::fs::read(&tensors).map_err(|e| LoadError::Tensors {
        path: tensors.clone(),
        error: CheckpointError::Format(rnnlab_spec::files::io_text(&e)),
    })?;
    load_safetensors(&mut net, &bytes).map_err(|error| LoadError::Tensors { path: tensors, error })?;
    Ok(Loaded { card, net })
}

impl Loaded {
    /// The network's output for every sequence of `set` (see [`crate::predict_sequences`]);
    /// `every_step` asks a last-step model for its output after every step too.
    pub fn predict(
        &self,
        set: &SequenceSet,
        every_step: bool,
        batch_size: usize,
    ) -> Result<Vec<Vec<Vec<f32>>>, String> {
        if set.input_size != self.card.input_size {
            return Err(format!(
                "the input has {} features per step, the model was trained on {}",
                set.input_size, self.card.input_size
            ));
        }
        let mut net = self.net.clone();
        if every_step {
            net.task = match net.task {
                Task::Classify { classes, .. } => Task::Classify { classes, per_step: true },
                Task::Regress { outputs, .. } => Task::Regress { outputs, per_step: true },
                Task::MultiLabel { labels, .. } => Task::MultiLabel { labels, per_step: true },
            };
        }
        Ok(crate::predict_sequences(&net, set, batch_size))
    }
}
