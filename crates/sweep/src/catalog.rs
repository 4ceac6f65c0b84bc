//! What the spec loader asks of the rest of rnnlab: dataset plugin names and per-trial checks.

use rnnlab_data::{find, PLUGINS};
use rnnlab_spec::{Catalog, FieldError, HeadKind, TrialConfig};

/// The catalog of this build of rnnlab.
#[derive(Debug, Clone, Copy, Default)]
pub struct Builtin;

impl Catalog for Builtin {
    fn dataset_plugins(&self) -> Vec<&'static str> {
        PLUGINS.iter().map(|p| p.name()).collect()
    }

    fn check_trial(&self, trial: &TrialConfig) -> Result<(), FieldError> {
        rnnlab_train::check_device(&trial.run).map_err(|e| FieldError::new(&["run", "device"], e))?;
        let plugin = find(&trial.dataset.plugin).expect("the loader checked the plugin name");
        let task = plugin.check(&trial.dataset.keys).map_err(|e| e.within(&["dataset"]))?;
        let out = trial.model.output_size();
        let task_out = task.output_size();
        if trial.model.head == HeadKind::None && out != task.output_size() {
            return Err(FieldError::new(
                &["model", "head"],
                format!(
                    "without a head the recurrent output ({out} = {}) must equal the task's output size ({})",
                    if trial.model.proj_size > 0 { "proj_size" } else { "hidden_size" },
                    task.output_size()
                ),
            )
            .with_help("use `head = \"linear\"`, or set proj_size (LSTM) to the output size"));
        }
        let bytes = rnnlab_train::memory::trial_bytes(&trial.model, &trial.optimizer, &trial.train, task_out, None);
        rnnlab_train::memory::check_fits(bytes, "this trial")
            .map_err(|e| FieldError::new(&["model", "hidden_size"], e))?;
        Ok(())
    }
}
