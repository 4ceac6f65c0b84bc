//! `manual`: a handful of sequences written inline in the spec, for hand-checked examples such
//! as the hand-unrolled 3-step RNN tutorial (`rnnlab forward` prints the output of every step).
//! The same sequences are the training and the test set.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use rnnlab_spec::{decode, FieldError};

use crate::base::{DataError, Dataset, LossReduction, Plugin, SequenceSet, Targets, Task};

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Kind {
    /// Real values, mean squared error.
    #[default]
    Regress,
    /// Labels in 0..classes, cross-entropy.
    Classify,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The sequences, `[N][T][I]` numbers.
    inputs: Vec<Vec<Vec<f64>>>,
    /// `[N][T][outputs]` or `[N][T]` labels (per step), `[N][outputs]` or `[N]` (last step) (default: zeros).
    #[schemars(with = "Option<Vec<rnnlab_spec::reference::AnyValue>>")]
    targets: Option<toml::Value>,
    /// What the targets are.
    #[serde(default)]
    task: Kind,
    /// Targets at every step, or only at the last.
    #[serde(default = "yes")]
    per_step: bool,
    /// Regression: values per target (default 1).
    outputs: Option<usize>,
    /// Classification: the number of classes (required to classify).
    classes: Option<usize>,
}

fn yes() -> bool {
    true
}

/// The checked shape and task of a manual dataset.
struct Shape {
    n: usize,
    steps: usize,
    input: usize,
    task: Task,
}

impl Config {
    fn read(keys: &toml::Table) -> Result<(Config, Shape), FieldError> {
        let c: Config = decode(keys)?;
        let n = c.inputs.len();
        let steps = c.inputs.first().map_or(0, Vec::len);
        let input = c.inputs.first().and_then(|s| s.first()).map_or(0, Vec::len);
        if n == 0 || steps == 0 || input == 0 {
            return Err(FieldError::new(&["inputs"], "needs at least one sequence of one step of one feature")
                .with_help("write [sequence][step][feature], e.g. inputs = [[[1, 2], [7, 8], [13, 14]]]"));
        }
        for (i, s) in c.inputs.iter().enumerate() {
            if s.len() != steps || s.iter().any(|x| x.len() != input) {
                return Err(FieldError::new(
                    &["inputs"],
                    format!("sequence {i} is not {steps} steps of {input} features like sequence 0"),
                ));
            }
        }
        let task = match c.task {
            Kind::Regress => Task::Regress { outputs: c.outputs.unwrap_or(1), per_step: c.per_step },
            Kind::Classify => match c.classes {
                Some(k) if k >= 2 => Task::Classify { classes: k, per_step: c.per_step },
                _ => {
                    return Err(FieldError::new(&["classes"], "classification needs `classes` (at least 2)")
                        .with_help("add e.g. `classes = 2`"))
                }
            },
        };
        if task.output_size() == 0 {
            return Err(FieldError::new(&["outputs"], "must be at least 1"));
        }
        let shape = Shape { n, steps, input, task };
        if let Some(t) = &c.targets {
            targets(t, &shape)?;
        }
        Ok((c, shape))
    }
}

/// Reads `targets` for `shape`, flattening it sequence-major.
fn targets(value: &toml::Value, shape: &Shape) -> Result<Targets, FieldError> {
    let rows = shape.n * if shape.task.per_step() { shape.steps } else { 1 };
    let mut flat = Vec::new();
    fn walk(v: &toml::Value, out: &mut Vec<f64>) -> Result<(), ()> {
        match v {
            toml::Value::Array(a) => a.iter().try_for_each(|x| walk(x, out)),
            toml::Value::Integer(i) => {
                out.push(*i as f64);
                Ok(())
            }
            toml::Value::Float(f) => {
                out.push(*f);
                Ok(())
            }
            _ => Err(()),
        }
    }
    walk(value, &mut flat).map_err(|_| FieldError::new(&["targets"], "must hold numbers only"))?;
    match shape.task {
        Task::Regress { outputs, .. } | Task::MultiLabel { labels: outputs, .. } => {
            if flat.len() != rows * outputs {
                return Err(FieldError::new(
                    &["targets"],
                    format!("{} values; {rows} rows × {outputs} outputs = {} expected", flat.len(), rows * outputs),
                ));
            }
            Ok(Targets::Values(flat.into_iter().map(|v| v as f32).collect()))
        }
        Task::Classify { classes, .. } => {
            if flat.len() != rows {
                return Err(FieldError::new(&["targets"], format!("{} labels; {rows} expected", flat.len())));
            }
            if let Some(bad) = flat.iter().find(|&&v| v < 0.0 || v >= classes as f64 || v.fract() != 0.0) {
                return Err(FieldError::new(&["targets"], format!("label {bad} is not a class 0..{}", classes - 1)));
            }
            Ok(Targets::Classes(flat.into_iter().map(|v| v as u32).collect()))
        }
    }
}

/// The `manual` plugin.
pub struct Manual;

impl Plugin for Manual {
    fn name(&self) -> &'static str {
        "manual"
    }

    fn doc(&self) -> &'static str {
        "sequences written in the spec ([sequence][step][feature]); train = test; see `rnnlab forward`"
    }

    fn keys(&self) -> schemars::Schema {
        rnnlab_spec::reference::schema_of::<Config>()
    }

    fn example(&self) -> &'static str {
        "plugin = \"manual\"\ninputs = [[[1, 2], [7, 8], [13, 14]], [[3, 4], [9, 10], [15, 16]]]\n"
    }

    fn input_size(&self, keys: &toml::Table) -> Option<usize> {
        Config::read(keys).ok().and_then(|(c, _)| c.inputs.first().and_then(|s| s.first()).map(Vec::len))
    }

    fn check(&self, keys: &toml::Table) -> Result<Task, FieldError> {
        Config::read(keys).map(|(_, s)| s.task)
    }

    fn build(&self, keys: &toml::Table, _seed: u64) -> Result<Dataset, DataError> {
        let (c, shape) = Config::read(keys).map_err(DataError::Config)?;
        let rows = shape.n * if shape.task.per_step() { shape.steps } else { 1 };
        let targets = match &c.targets {
            Some(t) => targets(t, &shape).map_err(DataError::Config)?,
            None => match shape.task {
                Task::Regress { outputs, .. } | Task::MultiLabel { labels: outputs, .. } => {
                    Targets::Values(vec![0.0; rows * outputs])
                }
                Task::Classify { .. } => Targets::Classes(vec![0; rows]),
            },
        };
        let inputs = c.inputs.iter().flatten().flatten().map(|&v| v as f32).collect();
        let set =
            SequenceSet { lengths: None, len: shape.n, steps: shape.steps, input_size: shape.input, inputs, targets };
        Ok(Dataset {
            task: shape.task,
            train: set.clone(),
            valid: None,
            test: set,
            loss_reduction: LossReduction::Mean,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(src: &str) -> toml::Table {
        src.parse().unwrap()
    }

    #[test]
    fn inline_sequences_and_targets() {
        let d = Manual
            .build(&keys("inputs = [[[1, 2], [7, 8]], [[3, 4], [9, 10]]]\ntargets = [[[0.5], [1]], [[2], [3]]]"), 0)
            .unwrap();
        assert_eq!((d.train.len, d.train.steps, d.train.input_size), (2, 2, 2));
        assert_eq!(d.train.inputs, [1.0, 2.0, 7.0, 8.0, 3.0, 4.0, 9.0, 10.0]);
        assert_eq!(d.train.targets, Targets::Values(vec![0.5, 1.0, 2.0, 3.0]));
        assert_eq!(d.test, d.train);
        let c = Manual
            .build(&keys("inputs = [[[1], [0]], [[0], [1]]]\ntask = 'classify'\nclasses = 3\nper_step = false\ntargets = [2, 0]"), 0)
            .unwrap();
        assert_eq!(c.task, Task::Classify { classes: 3, per_step: false });
        assert_eq!(c.train.targets, Targets::Classes(vec![2, 0]));
    }

    #[test]
    fn bad_keys_are_refused_with_the_key() {
        let err = |src: &str| Manual.check(&keys(src)).unwrap_err();
        assert_eq!(err("inputs = []").path, ["inputs"]);
        assert!(err("inputs = [[[1, 2]], [[1]]]").message.contains("sequence 1"));
        assert_eq!(err("inputs = [[[1]]]\ntask = 'classify'").path, ["classes"]);
        assert_eq!(err("inputs = [[[1]]]\ntargets = [[[1], [2]]]").path, ["targets"]);
        assert_eq!(err("inputs = [[[1]]]\ntask = 'classify'\nclasses = 2\ntargets = [[5]]").path, ["targets"]);
    }
}
