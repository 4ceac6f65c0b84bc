//! `[slurm]`: how `rnnlab sweep --slurm` submits a sweep as a Slurm job array. Every key is
//! optional; none of them is part of a trial, so none changes a trial id.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::FieldError;

/// `[slurm]`: only for `rnnlab sweep --slurm` (docs/cluster.md). Every key is optional and
/// none is part of a trial: changing them changes no trial id. `--set slurm.…` overrides them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlurmConfig {
    /// `--partition`; default: the cluster's default partition.
    #[serde(default)]
    pub partition: Option<String>,
    /// `--time` per trial, in any form sbatch takes (`90`, `02:00:00`, `1-00:00:00`).
    #[serde(default)]
    pub time: Option<String>,
    /// `--cpus-per-task`, also the trial's thread count (default 1).
    #[serde(default)]
    pub cpus_per_task: Option<usize>,
    /// `--mem` per trial (`4G`).
    #[serde(default)]
    pub mem: Option<String>,
    /// At most this many trials at once (`--array=…%N`).
    #[serde(default)]
    pub array_parallelism: Option<usize>,
    /// With `time`: seconds before the limit at which a trial stops and requeues itself
    /// (`--signal=B:USR1@<s>`; default 60).
    #[serde(default)]
    pub signal_before: Option<u64>,
    /// Further sbatch arguments, e.g. `["--account=proj42", "--qos=short"]`.
    #[serde(default)]
    pub extra: Vec<String>,
}

impl SlurmConfig {
    pub fn check(&self) -> Result<(), FieldError> {
        if self.cpus_per_task == Some(0) {
            return Err(FieldError::new(&["cpus_per_task"], "must be at least 1"));
        }
        if self.array_parallelism == Some(0) {
            return Err(FieldError::new(&["array_parallelism"], "must be at least 1 (leave it out for no limit)"));
        }
        for (key, v) in [("partition", &self.partition), ("time", &self.time), ("mem", &self.mem)] {
            if v.as_ref().is_some_and(|v| v.is_empty() || v.contains(char::is_whitespace)) {
                return Err(FieldError::new(&[key], "must be one word, as sbatch takes it"));
            }
        }
        if let Some(bad) = self.extra.iter().find(|a| !a.starts_with('-')) {
            return Err(FieldError::new(&["extra"], format!("`{bad}` is not an sbatch option"))
                .with_help("write each option with its value, e.g. `\"--account=proj42\"`"));
        }
        Ok(())
    }
}
