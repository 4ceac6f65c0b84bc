//! What the spec loader asks of the rest of rnnlab: dataset plugin names and per-trial checks
//! ([`Builtin`]), and the same with every data file opened ([`WithData`]).

use std::collections::HashMap;
use std::sync::Mutex;

use rnnlab_data::{find, PLUGINS};
use rnnlab_spec::{Catalog, Facts, FieldError, HeadKind, TrialConfig};

/// The catalog of this build of rnnlab: keys, sizes, devices and memory; no data file is opened
/// (what `status`, `collect` and workers load a results folder's spec with).
#[derive(Debug, Clone, Copy, Default)]
pub struct Builtin;

/// [`Builtin`], and every data file a spec names opened and checked through its plugin, as a
/// trial would read it (what `validate`, `plan`, `sweep` and `forward` load a spec with): a
/// missing file or column is refused before anything runs. Each distinct `[dataset]` section
/// is checked once per process.
#[derive(Debug, Clone, Copy, Default)]
pub struct WithData;

impl Catalog for WithData {
    fn dataset_plugins(&self) -> Vec<&'static str> {
        Builtin.dataset_plugins()
    }

    fn facts(&self, trial: &TrialConfig) -> Option<Facts> {
        Builtin.facts(trial)
    }

    fn check_trial(&self, trial: &TrialConfig) -> Result<(), FieldError> {
        Builtin.check_trial(trial)?;
        let plugin = find(&trial.dataset.plugin).expect("the loader checked the plugin name");
        if !plugin.reads_files() {
            return Ok(());
        }
        static CHECKED: Mutex<Option<HashMap<String, Result<(), FieldError>>>> = Mutex::new(None);
        let key = format!("{}\n{}", plugin.name(), toml::to_string(&trial.dataset.keys).unwrap_or_default());
        if let Some(answer) = CHECKED.lock().expect("no panics under the lock").get_or_insert_default().get(&key) {
            return answer.clone();
        }
        let answer = plugin.check_files(&trial.dataset.keys).map_err(|e| e.within(&["dataset"]));
        CHECKED.lock().expect("no panics under the lock").get_or_insert_default().insert(key, answer.clone());
        answer
    }
}

impl Catalog for Builtin {
    fn dataset_plugins(&self) -> Vec<&'static str> {
        PLUGINS.iter().map(|p| p.name()).collect()
    }

    fn facts(&self, trial: &TrialConfig) -> Option<Facts> {
        let plugin = find(&trial.dataset.plugin)?;
        let keys = &trial.dataset.keys;
        let task = plugin.check(keys).ok()?;
        Some(Facts {
            input_size: plugin.input_size(keys)?,
            output_size: task.output_size(),
            metrics: task.metrics(plugin.has_validation(keys)),
        })
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
