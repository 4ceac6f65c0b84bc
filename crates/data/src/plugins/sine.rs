//! `sine`: next-value regression on the curve y = x·sin x + x·cos 2x, the regression part of the
//! "Implementing a simple RNN" tutorial. x = linspace(0, 20, n_samples); the series is cut into
//! consecutive chunks of `seq_len` values, each step's target is the next value; the first chunks
//! train, the next `valid_fraction` (default none) validate and the last `test_fraction` test
//! (a chronological split).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use rnnlab_spec::{decode, FieldError};

use crate::base::{DataError, Dataset, LossReduction, Plugin, SequenceSet, Targets, Task};

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Points of y = x·sin x + x·cos 2x on x = linspace(0, 20).
    #[serde(default = "default_n_samples")]
    n_samples: usize,
    /// Steps per sequence.
    #[serde(default = "default_seq_len")]
    seq_len: usize,
    /// The last fraction of the sequences, tested (chronological split).
    #[serde(default = "default_test_fraction")]
    test_fraction: f64,
    /// The fraction of the sequences just before the test ones, held out to validate; 0 = no validation split.
    #[serde(default)]
    valid_fraction: f64,
}

fn default_n_samples() -> usize {
    1000
}

fn default_seq_len() -> usize {
    10
}

fn default_test_fraction() -> f64 {
    0.2
}

impl Config {
    fn read(keys: &toml::Table) -> Result<Config, FieldError> {
        let c: Config = decode(keys)?;
        if c.seq_len == 0 {
            return Err(FieldError::new(&["seq_len"], "must be at least 1"));
        }
        if !(c.test_fraction > 0.0 && c.test_fraction < 1.0) {
            return Err(FieldError::new(&["test_fraction"], "must be strictly between 0 and 1"));
        }
        if !(0.0..1.0).contains(&c.valid_fraction) || c.valid_fraction + c.test_fraction >= 1.0 {
            return Err(FieldError::new(&["valid_fraction"], "must be ≥ 0 and leave sequences to train on")
                .with_help("valid_fraction + test_fraction must be below 1"));
        }
        let chunks = c.chunks();
        let test = c.test_chunks();
        if c.valid_fraction > 0.0 && c.valid_chunks() == 0 {
            return Err(FieldError::new(
                &["valid_fraction"],
                format!("{chunks} sequences make no validation sequence"),
            )
            .with_help("raise valid_fraction or n_samples"));
        }
        if chunks < 2 || test == 0 || test + c.valid_chunks() >= chunks {
            return Err(FieldError::new(
                &["n_samples"],
                format!("{} samples make {chunks} sequences of {} steps: too few to split", c.n_samples, c.seq_len),
            )
            .with_help("use more samples or a shorter seq_len"));
        }
        Ok(c)
    }

    /// Sequences in the series (each needs `seq_len + 1` values: inputs and the next one).
    fn chunks(&self) -> usize {
        self.n_samples.saturating_sub(1) / self.seq_len
    }

    fn test_chunks(&self) -> usize {
        (self.chunks() as f64 * self.test_fraction).round() as usize
    }

    fn valid_chunks(&self) -> usize {
        (self.chunks() as f64 * self.valid_fraction).round() as usize
    }
}

/// The curve of the tutorial.
pub fn curve(x: f64) -> f64 {
    x * x.sin() + x * (2.0 * x).cos()
}

/// The `sine` plugin.
pub struct Sine;

const TASK: Task = Task::Regress { outputs: 1, per_step: true };

impl Plugin for Sine {
    fn name(&self) -> &'static str {
        "sine"
    }

    fn doc(&self) -> &'static str {
        "next value of y = x·sin x + x·cos 2x on linspace(0, 20); per-step regression, chronological split"
    }

    fn keys(&self) -> schemars::Schema {
        rnnlab_spec::reference::schema_of::<Config>()
    }

    fn example(&self) -> &'static str {
        "plugin = \"sine\"\nn_samples = 101\nseq_len = 10\n"
    }

    fn has_validation(&self, keys: &toml::Table) -> bool {
        Config::read(keys).is_ok_and(|c| c.valid_fraction > 0.0)
    }

    fn input_size(&self, _keys: &toml::Table) -> Option<usize> {
        Some(1)
    }

    fn check(&self, keys: &toml::Table) -> Result<Task, FieldError> {
        Config::read(keys).map(|_| TASK)
    }

    fn build(&self, keys: &toml::Table, _seed: u64) -> Result<Dataset, DataError> {
        let c = Config::read(keys).map_err(DataError::Config)?;
        let step = 20.0 / (c.n_samples - 1) as f64;
        let y: Vec<f32> = (0..c.n_samples).map(|i| curve(i as f64 * step) as f32).collect();
        let set = |chunks: std::ops::Range<usize>| {
            let (mut inputs, mut targets) = (Vec::new(), Vec::new());
            for k in chunks.clone() {
                let start = k * c.seq_len;
                inputs.extend_from_slice(&y[start..start + c.seq_len]);
                targets.extend_from_slice(&y[start + 1..start + c.seq_len + 1]);
            }
            SequenceSet {
                lengths: None,
                len: chunks.len(),
                steps: c.seq_len,
                input_size: 1,
                inputs,
                targets: Targets::Values(targets),
            }
        };
        let valid_start = c.chunks() - c.test_chunks();
        let train_chunks = valid_start - c.valid_chunks();
        Ok(Dataset {
            task: TASK,
            train: set(0..train_chunks),
            valid: (c.valid_chunks() > 0).then(|| set(train_chunks..valid_start)),
            test: set(valid_start..c.chunks()),
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
    fn targets_are_the_next_values_and_the_split_is_chronological() {
        let d = Sine.build(&keys("n_samples = 101\nseq_len = 10\ntest_fraction = 0.2"), 0).unwrap();
        assert_eq!((d.train.len, d.test.len, d.train.steps), (8, 2, 10));
        let Targets::Values(t) = &d.train.targets else { panic!("values") };
        assert_eq!(d.train.inputs[1..10], t[..9]);
        // x = 0.2 at sample 1.
        assert!((d.train.inputs[1] - curve(0.2) as f32).abs() < 1e-6);
        // The test set starts where training stops: sample 80.
        assert!((d.test.inputs[0] - curve(16.0) as f32).abs() < 1e-5);
    }

    #[test]
    fn the_validation_sequences_come_just_before_the_test_ones() {
        let plain = Sine
            .build(
                &keys(
                    "n_samples = 101
seq_len = 10
test_fraction = 0.2",
                ),
                0,
            )
            .unwrap();
        let d = Sine
            .build(
                &keys(
                    "n_samples = 101
seq_len = 10
test_fraction = 0.2
valid_fraction = 0.2",
                ),
                0,
            )
            .unwrap();
        let v = d.valid.unwrap();
        assert_eq!((d.train.len, v.len, d.test), (6, 2, plain.test));
        assert_eq!(v.inputs[..], plain.train.inputs[60..80]);
        for bad in ["valid_fraction = 0.8", "valid_fraction = -0.1", "valid_fraction = 0.01"] {
            let e = Sine
                .check(&keys(&format!(
                    "n_samples = 101
seq_len = 10
{bad}"
                )))
                .unwrap_err();
            assert_eq!(e.path, ["valid_fraction"], "{bad}");
        }
    }

    #[test]
    fn bad_keys_are_refused_with_the_key() {
        let err = |src: &str| Sine.check(&keys(src)).unwrap_err();
        assert_eq!(err("seq_len = 0").path, ["seq_len"]);
        assert_eq!(err("test_fraction = 1.0").path, ["test_fraction"]);
        assert_eq!(err("n_samples = 12").path, ["n_samples"]);
    }
}
