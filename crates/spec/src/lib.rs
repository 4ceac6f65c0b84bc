//! Experiment specs: the TOML a researcher writes, checked before anything runs and expanded
//! into trials (grid × seeds).
//!
//! [`load`] reads a spec, applies `--set` overrides, expands `[grid]`, decodes and range-checks
//! every trial and returns a [`Plan`], or every error found, each with file:line:col, the key
//! and a hint. This crate knows nothing of tensors or dataframes; dataset keys are checked
//! through the [`Catalog`] the caller passes in.

mod axis;
pub mod cluster;
mod config;
mod decode;
mod error;
mod expand;
pub mod files;
mod load;
mod locate;
mod overrides;
mod plan;
mod prune;
mod published;
mod recorded;
pub mod reference;
mod search;
pub mod sequential;
mod source;
pub mod tpe;
pub mod vocab;

pub use cluster::SlurmConfig;
pub use config::*;
pub use decode::decode;
pub use error::{closest, FieldError, LoadError, Location, SpecError, SpecErrors};
pub use load::{load, load_str};
pub use overrides::Override;
pub use plan::{fnv1a, point_label, short_hash, trial_id, Plan, Trial};
pub use prune::{PruneConfig, PruneMethod};
pub use sequential::{Tpe, TpeGroup};
pub use source::{KeyPath, SourceMap};
pub use vocab::{Comparison, Metric, MetricKind, Status};

/// What the spec loader needs to know of the rest of rnnlab (implemented by the sweep crate).
pub trait Catalog {
    /// Names of the dataset plugins, for "unknown plugin" errors.
    fn dataset_plugins(&self) -> Vec<&'static str>;
    /// Checks what the spec crate cannot: the dataset plugin's keys, and that the model fits the
    /// dataset. Paths in the error are relative to the spec root (e.g. `dataset.length`).
    fn check_trial(&self, trial: &TrialConfig) -> Result<(), FieldError>;
    /// What the dataset of a trial gives its network (input and output sizes) and which
    /// metrics the trial records, from the dataset keys alone; `None` when unknown (then no
    /// metric is checked, and `[model] params` cannot be solved).
    fn facts(&self, _trial: &TrialConfig) -> Option<Facts> {
        None
    }
}

/// What the catalog knows of a trial before it runs ([`Catalog::facts`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// Features per step of the network's input.
    pub input_size: usize,
    /// The head's outputs per step.
    pub output_size: usize,
    /// The metrics the trial records (`vocab::METRICS` names: by its task, and whether its
    /// dataset has a validation split).
    pub metrics: Vec<&'static str>,
}
