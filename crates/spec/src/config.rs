//! The typed sections of a spec and their range checks.
//!
//! One resolved trial is a [`TrialConfig`]: every section with defaults filled in and one
//! value per grid axis. Its canonical TOML form is what the trial id hashes.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// `[experiment]`: names the results folder and lists the seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Results go to `results/<name>/`.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Every grid point runs once per seed.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}

/// The recurrent cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellKind {
    Lstm,
    Gru,
    Rnn,
}

impl CellKind {
    pub fn name(self) -> &'static str {
        match self {
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
            CellKind::Rnn => "rnn",
        }
    }
}

/// Activation of the simple RNN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Nonlinearity {
    #[default]
    Tanh,
    Relu,
}

/// How the recurrent weights are initialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// PyTorch's default: U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias.
    #[default]
    Pytorch,
    /// Xavier/Glorot uniform weights, zero biases.
    Xavier,
    /// Every recurrent weight and bias zero (the zero-initialised tanh RNN tutorial).
    Zeros,
    /// N(0, init_std²) weights, zero biases.
    Normal,
}

/// What maps the recurrent output to the task's outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeadKind {
    /// A linear layer (`head.weight`, `head.bias`), PyTorch's `nn.Linear` init.
    #[default]
    Linear,
    /// No head: the recurrent output is the prediction (its size must match the task).
    None,
}

/// How the recurrent layers are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KernelKind {
    /// One fused op per layer and sequence on raw buffers (CPU).
    #[default]
    Fused,
    /// The composite per-step dfdx ops (the reference the fused kernels are tested against).
    Reference,
}

/// `[model]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub cell: CellKind,
    pub hidden_size: usize,
    #[serde(default = "one")]
    pub layers: usize,
    /// LSTM only: size of the projected hidden state (PyTorch's `proj_size`); 0 = none.
    #[serde(default)]
    pub proj_size: usize,
    /// RNN only.
    #[serde(default)]
    pub nonlinearity: Nonlinearity,
    #[serde(default)]
    pub init: Init,
    /// Standard deviation for `init = "normal"`.
    #[serde(default = "default_init_std")]
    pub init_std: f64,
    /// LSTM only: added to the forget-gate bias at init (TensorFlow's BasicLSTMCell uses 1.0).
    #[serde(default)]
    pub forget_bias: f64,
    #[serde(default)]
    pub head: HeadKind,
    /// `fused` (default) or `reference`; both compute the same function to 1e-5.
    #[serde(default)]
    pub kernel: KernelKind,
}

fn one() -> usize {
    1
}

fn default_init_std() -> f64 {
    0.1
}

impl ModelConfig {
    /// Size of what each layer emits per step.
    pub fn output_size(&self) -> usize {
        if self.proj_size > 0 {
            self.proj_size
        } else {
            self.hidden_size
        }
    }

    fn check(&self) -> Result<(), FieldError> {
        if self.hidden_size == 0 {
            return Err(FieldError::new(&["hidden_size"], "must be at least 1"));
        }
        if self.layers == 0 {
            return Err(FieldError::new(&["layers"], "must be at least 1"));
        }
        if self.proj_size > 0 && self.cell != CellKind::Lstm {
            return Err(FieldError::new(&["proj_size"], format!("only the LSTM has a projection, not `{}`", self.cell.name()))
                .with_help("remove `proj_size`, or set it per cell with a section axis: \"model\" = [{cell = \"lstm\", proj_size = 2}, {cell = \"gru\"}]"));
        }
        if self.proj_size >= self.hidden_size && self.proj_size > 0 {
            return Err(FieldError::new(
                &["proj_size"],
                format!("must be smaller than hidden_size ({})", self.hidden_size),
            ));
        }
        if self.forget_bias != 0.0 && self.cell != CellKind::Lstm {
            return Err(FieldError::new(
                &["forget_bias"],
                format!("only the LSTM has a forget gate, not `{}`", self.cell.name()),
            ));
        }
        if self.nonlinearity != Nonlinearity::Tanh && self.cell != CellKind::Rnn {
            return Err(FieldError::new(
                &["nonlinearity"],
                "only the simple RNN (`cell = \"rnn\"`) takes a nonlinearity",
            ));
        }
        if !(self.init_std > 0.0 && self.init_std.is_finite()) {
            return Err(FieldError::new(&["init_std"], "must be a positive number"));
        }
        Ok(())
    }
}

/// The optimizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Sgd,
    Adam,
    Adamw,
    Rmsprop,
    Adagrad,
}

/// RMSprop flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RmspropFlavor {
    /// `torch.optim.RMSprop`: square average starts at 0, eps added after the square root.
    #[default]
    Pytorch,
    /// TensorFlow 1.x `RMSPropOptimizer`: square average starts at 1, eps inside the square root.
    Tf1,
}

/// `[optimizer]`. Keys that an optimizer does not use are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    pub name: OptimizerKind,
    pub lr: f64,
    /// Global-norm gradient clipping; 0 = off.
    #[serde(default)]
    pub clip_grad_norm: f64,
    /// Defaults to 0.01 for adamw (PyTorch's default) and 0 otherwise.
    #[serde(default)]
    pub weight_decay: Option<f64>,
    /// sgd, rmsprop.
    #[serde(default)]
    pub momentum: f64,
    /// sgd.
    #[serde(default)]
    pub nesterov: bool,
    /// adam, adamw.
    #[serde(default = "default_beta1")]
    pub beta1: f64,
    /// adam, adamw.
    #[serde(default = "default_beta2")]
    pub beta2: f64,
    /// Defaults to each optimizer's PyTorch default when not given.
    #[serde(default)]
    pub eps: Option<f64>,
    /// rmsprop: smoothing constant (PyTorch `alpha`, TF `decay`).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// rmsprop.
    #[serde(default)]
    pub flavor: RmspropFlavor,
    /// rmsprop (PyTorch flavour): normalise by the centred second moment.
    #[serde(default)]
    pub centered: bool,
}

fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.999
}
fn default_alpha() -> f64 {
    0.99
}

impl OptimizerConfig {
    /// `eps` as given, or the optimizer's PyTorch/TensorFlow default.
    pub fn eps(&self) -> f64 {
        self.eps.unwrap_or(match (self.name, self.flavor) {
            (OptimizerKind::Rmsprop, RmspropFlavor::Tf1) => 1e-10,
            (OptimizerKind::Adagrad, _) => 1e-10,
            _ => 1e-8,
        })
    }

    /// `weight_decay` as given, or PyTorch's default for the optimizer.
    pub fn weight_decay(&self) -> f64 {
        self.weight_decay.unwrap_or(if self.name == OptimizerKind::Adamw { 0.01 } else { 0.0 })
    }

    fn check(&self) -> Result<(), FieldError> {
        use OptimizerKind::*;
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(FieldError::new(&["lr"], "must be a positive number").with_help("e.g. `lr = 0.001`"));
        }
        if self.clip_grad_norm.is_nan() || self.clip_grad_norm < 0.0 {
            return Err(FieldError::new(&["clip_grad_norm"], "must be ≥ 0 (0 turns clipping off)"));
        }
        if self.weight_decay().is_nan() || self.weight_decay() < 0.0 {
            return Err(FieldError::new(&["weight_decay"], "must be ≥ 0"));
        }
        let name = format!("{:?}", self.name).to_lowercase();
        let only = |key: &str, set: bool, allowed: &[OptimizerKind], who: &str| {
            if set && !allowed.contains(&self.name) {
                Err(FieldError::new(&[key], format!("`{key}` is not used by `{name}` (only by {who})"))
                    .with_help(format!("remove `{key}` or pick an optimizer that uses it")))
            } else {
                Ok(())
            }
        };
        only("momentum", self.momentum != 0.0, &[Sgd, Rmsprop], "sgd, rmsprop")?;
        only("nesterov", self.nesterov, &[Sgd], "sgd")?;
        only("beta1", self.beta1 != default_beta1(), &[Adam, Adamw], "adam, adamw")?;
        only("beta2", self.beta2 != default_beta2(), &[Adam, Adamw], "adam, adamw")?;
        only("alpha", self.alpha != default_alpha(), &[Rmsprop], "rmsprop")?;
        only("flavor", self.flavor != RmspropFlavor::Pytorch, &[Rmsprop], "rmsprop")?;
        only("centered", self.centered, &[Rmsprop], "rmsprop")?;
        if self.centered && self.flavor == RmspropFlavor::Tf1 {
            return Err(FieldError::new(
                &["centered"],
                "centered RMSprop is only available with `flavor = \"pytorch\"`",
            ));
        }
        only("eps", self.eps.is_some(), &[Adam, Adamw, Rmsprop, Adagrad], "adam, adamw, rmsprop, adagrad")?;
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err(FieldError::new(&["momentum"], "must be in [0, 1]"));
        }
        if self.nesterov && self.momentum == 0.0 {
            return Err(FieldError::new(&["nesterov"], "Nesterov momentum needs `momentum` > 0"));
        }
        for (key, v) in [("beta1", self.beta1), ("beta2", self.beta2), ("alpha", self.alpha)] {
            if !(0.0..1.0).contains(&v) {
                return Err(FieldError::new(&[key], "must be in [0, 1)"));
            }
        }
        if self.eps().is_nan() || self.eps() <= 0.0 {
            return Err(FieldError::new(&["eps"], "must be > 0"));
        }
        Ok(())
    }
}

/// `[train]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Optimizer steps; give this or `epochs`.
    #[serde(default)]
    pub steps: Option<usize>,
    /// Passes over the training set; give this or `steps`.
    #[serde(default)]
    pub epochs: Option<usize>,
    pub batch_size: usize,
    /// Evaluate on the test set every this many steps (and always at the end); 0 = only at the end.
    #[serde(default)]
    pub eval_every: usize,
    /// Batch size for evaluation (memory only; results do not depend on it).
    #[serde(default = "default_eval_batch")]
    pub eval_batch_size: usize,
    /// Write the trained parameters (`model.safetensors`, PyTorch names) and `model.toml` into
    /// the trial's folder, for `rnnlab predict` and for loading into PyTorch. Not serialised
    /// when false, so trial ids (hashes of the serialised config) from before it existed hold.
    #[serde(default, skip_serializing_if = "is_false")]
    pub save_checkpoint: bool,
}

fn is_false(b: &bool) -> bool {
    !b
}

fn default_eval_batch() -> usize {
    8192
}

impl TrainConfig {
    fn check(&self) -> Result<(), FieldError> {
        match (self.steps, self.epochs) {
            (None, None) => {
                return Err(
                    FieldError::new(&[], "no training length").with_help("add `steps = N` or `epochs = N` to [train]")
                )
            }
            (Some(_), Some(_)) => return Err(FieldError::new(&["epochs"], "give `steps` or `epochs`, not both")),
            (Some(0), _) => return Err(FieldError::new(&["steps"], "must be at least 1")),
            (_, Some(0)) => return Err(FieldError::new(&["epochs"], "must be at least 1")),
            _ => {}
        }
        if self.batch_size == 0 {
            return Err(FieldError::new(&["batch_size"], "must be at least 1"));
        }
        if self.eval_batch_size == 0 {
            return Err(FieldError::new(&["eval_batch_size"], "must be at least 1"));
        }
        Ok(())
    }
}

/// `[run]`: where and how a trial runs; does not change what it computes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// `cpu`, `cuda` (GPU 0) or `cuda:N`, parsed when the spec is decoded; whether this build
    /// and machine have CUDA is checked by the catalog before any trial runs.
    #[serde(default)]
    pub device: Device,
}

/// `[run] device`: the parsed device, serialised as the spec spelled it (`cuda` stays `cuda`,
/// so trial ids — hashes of the serialised config — do not depend on this type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub kind: DeviceKind,
    spelled: String,
}

impl Default for Device {
    fn default() -> Self {
        Device { kind: DeviceKind::Cpu, spelled: "cpu".into() }
    }
}

impl std::str::FromStr for Device {
    type Err = String;

    fn from_str(s: &str) -> Result<Device, String> {
        let kind = match s {
            "cpu" => DeviceKind::Cpu,
            "cuda" => DeviceKind::Cuda(0),
            d => match d.strip_prefix("cuda:").map(str::parse) {
                Some(Ok(n)) => DeviceKind::Cuda(n),
                _ => return Err(format!("unknown device `{s}`: use \"cpu\", \"cuda\" (the first GPU) or \"cuda:N\"")),
            },
        };
        Ok(Device { kind, spelled: s.to_string() })
    }
}

impl Serialize for Device {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.spelled)
    }
}

impl<'de> Deserialize<'de> for Device {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Device, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Where a trial runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Cpu,
    /// The CUDA GPU with this ordinal.
    Cuda(usize),
}

impl std::fmt::Display for DeviceKind {
    /// As `[run] device` spells it: `cpu`, `cuda:N`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceKind::Cpu => f.write_str("cpu"),
            DeviceKind::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl RunConfig {
    /// The device trials run on.
    pub fn device(&self) -> DeviceKind {
        self.device.kind
    }
}

/// `[report]`: how results are summarised.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// Metric the summary is sorted by (default: test_accuracy, else test_mse, else test_loss).
    #[serde(default)]
    pub primary: Option<String>,
    /// A seed succeeds when this holds for its final metrics, e.g. `test_accuracy >= 0.99`.
    #[serde(default)]
    pub success: Option<String>,
}

/// A success rule parsed from `[report] success`.
#[derive(Debug, Clone, PartialEq)]
pub struct SuccessRule {
    pub metric: String,
    pub op: crate::vocab::Comparison,
    pub threshold: f64,
}

impl ReportConfig {
    /// Parses `success`, e.g. `test_accuracy >= 0.99`.
    pub fn success_rule(&self) -> Result<Option<SuccessRule>, FieldError> {
        let Some(text) = &self.success else {
            return Ok(None);
        };
        let bad = || {
            FieldError::new(&["success"], format!("cannot read `{text}`"))
                .with_help("write `METRIC OP VALUE`, e.g. `test_accuracy >= 0.99` (OP: >=, >, <=, <)")
        };
        let mut parts = text.split_whitespace();
        let (Some(metric), Some(op), Some(value), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let op = crate::vocab::Comparison::parse(op).ok_or_else(bad)?;
        let threshold: f64 = value.parse().map_err(|_| bad())?;
        Ok(Some(SuccessRule { metric: metric.into(), op, threshold }))
    }
}

/// A `[[published]]` figure the experiment tries to reproduce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Published {
    pub source: String,
    pub metric: String,
    pub value: f64,
    #[serde(default)]
    pub tolerance: f64,
    /// Grid values that pick the matching grid point, e.g. `{ "model.cell" = "lstm" }`.
    #[serde(default, rename = "where")]
    pub at: toml::Table,
}

/// Everything one trial needs: the resolved sections and its seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialConfig {
    pub seed: u64,
    /// Dataset plugin name and its keys (validated by the plugin).
    pub dataset: DatasetConfig,
    pub model: ModelConfig,
    pub optimizer: OptimizerConfig,
    pub train: TrainConfig,
    pub run: RunConfig,
}

/// `[dataset]`: a plugin name plus the plugin's own keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetConfig {
    pub plugin: String,
    #[serde(flatten)]
    pub keys: toml::Table,
}

impl TrialConfig {
    /// Range checks that serde cannot express; the path names the failing key.
    pub fn check(&self) -> Result<(), FieldError> {
        self.model.check().map_err(|e| e.within(&["model"]))?;
        self.optimizer.check().map_err(|e| e.within(&["optimizer"]))?;
        self.train.check().map_err(|e| e.within(&["train"]))?;
        Ok(())
    }
}
