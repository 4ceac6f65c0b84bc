//! `adding`: the adding problem of Hochreiter & Schmidhuber (1997) as Bai, Kolter & Koltun
//! (2018) generate it (locuslab/TCN, `adding_problem/utils.py`). Each step has two inputs: a
//! number drawn uniformly from [0, 1) and a marker, 1 at exactly two distinct steps chosen
//! uniformly and 0 elsewhere; the target, at the last step, is the sum of the two marked numbers.
//! Predicting the mean, 1, scores an MSE of 1/6 ≈ 0.167.

use rand::seq::index::sample;
use rand::Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use rnnlab_spec::{decode, FieldError};

use crate::base::{DataError, Dataset, Plugin, SequenceSet, Targets, Task};
use crate::plugins::synthetic;

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Steps per sequence, T (the paper's table row uses 600).
    #[serde(default = "default_length")]
    length: usize,
    /// Training sequences (the paper's generator: 50,000).
    #[serde(default = "default_train_size")]
    train_size: usize,
    /// Validation sequences, drawn after the training ones; 0 = no validation split.
    #[serde(default)]
    valid_size: usize,
    /// Test sequences (the paper's generator: 1,000).
    #[serde(default = "default_test_size")]
    test_size: usize,
    /// Seed of the data; absent: the trial's seed, so each seed also draws its own data.
    data_seed: Option<u64>,
}

fn default_length() -> usize {
    600
}

fn default_train_size() -> usize {
    50_000
}

fn default_test_size() -> usize {
    1_000
}

impl Config {
    fn read(keys: &toml::Table) -> Result<Config, FieldError> {
        let c: Config = decode(keys)?;
        if c.length < 2 {
            return Err(FieldError::new(&["length"], "must be at least 2 (two steps are marked)"));
        }
        synthetic::check_sizes(c.train_size, c.test_size, c.length, 2)?;
        Ok(c)
    }
}

const TASK: Task = Task::Regress { outputs: 1, per_step: false };

/// The `adding` plugin.
pub struct Adding;

impl Plugin for Adding {
    fn name(&self) -> &'static str {
        "adding"
    }

    fn doc(&self) -> &'static str {
        "the adding problem (Bai et al. 2018's generator): sum of the two marked numbers; regression at the last step"
    }

    fn keys(&self) -> schemars::Schema {
        rnnlab_spec::reference::schema_of::<Config>()
    }

    fn example(&self) -> &'static str {
        "plugin = \"adding\"\nlength = 20\ntrain_size = 200\ntest_size = 50\n"
    }

    fn has_validation(&self, keys: &toml::Table) -> bool {
        Config::read(keys).is_ok_and(|c| c.valid_size > 0)
    }

    fn input_size(&self, _keys: &toml::Table) -> Option<usize> {
        Some(2)
    }

    fn check(&self, keys: &toml::Table) -> Result<Task, FieldError> {
        Config::read(keys).map(|_| TASK)
    }

    fn build(&self, keys: &toml::Table, seed: u64) -> Result<Dataset, DataError> {
        let c = Config::read(keys).map_err(DataError::Config)?;
        let sizes = [c.train_size, c.valid_size, c.test_size];
        Ok(synthetic::dataset(TASK, self.name(), c.data_seed.unwrap_or(seed), sizes, |rng, n| {
            sequences(rng, c.length, n)
        }))
    }
}

/// `n` sequences of `length` steps: `[number, marker]` per step, the marked numbers' sum as target.
fn sequences(rng: &mut impl Rng, length: usize, n: usize) -> SequenceSet {
    let mut inputs = vec![0.0f32; n * length * 2];
    let mut targets = Vec::with_capacity(n);
    for seq in inputs.chunks_mut(length * 2) {
        for step in seq.chunks_mut(2) {
            step[0] = rng.gen::<f32>();
        }
        let mut sum = 0.0;
        for t in sample(rng, length, 2) {
            seq[2 * t + 1] = 1.0;
            sum += seq[2 * t];
        }
        targets.push(sum);
    }
    SequenceSet { len: n, steps: length, lengths: None, input_size: 2, inputs, targets: Targets::Values(targets) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(src: &str) -> toml::Table {
        src.parse().unwrap()
    }

    #[test]
    fn two_marked_steps_and_their_sum() {
        let d = Adding.build(&keys("length = 30\ntrain_size = 100\ntest_size = 20\nvalid_size = 10"), 1).unwrap();
        assert_eq!((d.train.len, d.valid.as_ref().unwrap().len, d.test.len), (100, 10, 20));
        assert_eq!((d.train.steps, d.train.input_size), (30, 2));
        let Targets::Values(y) = &d.train.targets else { panic!("values") };
        for (seq, &target) in d.train.inputs.chunks(60).zip(y) {
            let marked: Vec<usize> = (0..30).filter(|t| seq[2 * t + 1] == 1.0).collect();
            assert_eq!(marked.len(), 2, "exactly two markers");
            assert!((0..30).all(|t| seq[2 * t + 1] == 0.0 || seq[2 * t + 1] == 1.0));
            assert!((0..30).all(|t| (0.0..1.0).contains(&seq[2 * t])));
            assert_eq!(target, seq[2 * marked[0]] + seq[2 * marked[1]]);
        }
        // The mean predictor's MSE is about 1/6.
        let mean = y.iter().sum::<f32>() / y.len() as f32;
        let mse = y.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / y.len() as f32;
        assert!((mse - 1.0 / 6.0).abs() < 0.05, "{mse}");
    }

    #[test]
    fn the_data_follows_data_seed_or_else_the_trial_seed() {
        let k = keys("length = 10\ntrain_size = 20\ntest_size = 5");
        assert_eq!(Adding.build(&k, 3).unwrap(), Adding.build(&k, 3).unwrap());
        assert_ne!(Adding.build(&k, 3).unwrap().train, Adding.build(&k, 4).unwrap().train);
        let fixed = keys("length = 10\ntrain_size = 20\ntest_size = 5\ndata_seed = 7");
        assert_eq!(Adding.build(&fixed, 3).unwrap(), Adding.build(&fixed, 4).unwrap());
        // Adding a validation split keeps the training sequences.
        let v = keys("length = 10\ntrain_size = 20\ntest_size = 5\nvalid_size = 4");
        assert_eq!(Adding.build(&v, 3).unwrap().train, Adding.build(&k, 3).unwrap().train);
    }

    #[test]
    fn bad_keys_are_refused_with_the_key() {
        let err = |src: &str| Adding.check(&keys(src)).unwrap_err();
        assert_eq!(err("length = 1").path, ["length"]);
        assert_eq!(err("train_size = 0").path, ["train_size"]);
        assert_eq!(err("test_size = 0").path, ["test_size"]);
        assert_eq!(err("length = 100000\ntrain_size = 100000").path, ["train_size"]);
        assert_eq!(err("size = 3").path, ["size"]);
    }
}
