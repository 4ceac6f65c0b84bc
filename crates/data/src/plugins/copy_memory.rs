//! `copy_memory`: the copy-memory task as Bai, Kolter & Koltun (2018) generate it
//! (locuslab/TCN, `copy_memory/utils.py`). A sequence of `delay + 2·memory` steps: `memory`
//! symbols drawn uniformly from 1..=8, then `delay − 1` blanks (0), then `memory + 1` markers
//! (9); the targets are blanks for the first `delay + memory` steps and the `memory` symbols for
//! the last ones. Inputs are one-hot over the 10 symbols; the targets are 10-way classes at every
//! step, and the loss and accuracy average over every step as the paper's code does, so that
//! guessing blanks and then any symbol scores a test loss of 10·ln 8 / (T + 20) (0.0204 at T = 1000).

use rand::Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use rnnlab_spec::{decode, FieldError};

use crate::base::{DataError, Dataset, Plugin, SequenceSet, Targets, Task};
use crate::plugins::synthetic;

/// Blank, the symbols 1..=8, and the marker.
const SYMBOLS: usize = 10;
const MARKER: usize = 9;

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Blank steps between the symbols and the recall, T (the paper's table row uses 1000).
    #[serde(default = "default_delay")]
    delay: usize,
    /// Symbols to remember (the paper's generator: 10).
    #[serde(default = "default_memory")]
    memory: usize,
    /// Training sequences (the paper's generator: 10,000).
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

fn default_delay() -> usize {
    1000
}

fn default_memory() -> usize {
    10
}

fn default_train_size() -> usize {
    10_000
}

fn default_test_size() -> usize {
    1_000
}

impl Config {
    fn read(keys: &toml::Table) -> Result<Config, FieldError> {
        let c: Config = decode(keys)?;
        if c.delay == 0 {
            return Err(FieldError::new(&["delay"], "must be at least 1"));
        }
        if c.memory == 0 {
            return Err(FieldError::new(&["memory"], "must be at least 1"));
        }
        synthetic::check_sizes(c.train_size, c.test_size, c.steps(), SYMBOLS)?;
        Ok(c)
    }

    fn steps(&self) -> usize {
        self.delay.saturating_add(2 * self.memory)
    }
}

const TASK: Task = Task::Classify { classes: SYMBOLS, per_step: true };

/// The `copy_memory` plugin.
pub struct CopyMemory;

impl Plugin for CopyMemory {
    fn name(&self) -> &'static str {
        "copy_memory"
    }

    fn doc(&self) -> &'static str {
        "copy memory (Bai et al. 2018's generator): recall `memory` symbols after `delay` blanks; 10-way classes at every step"
    }

    fn keys(&self) -> schemars::Schema {
        rnnlab_spec::reference::schema_of::<Config>()
    }

    fn example(&self) -> &'static str {
        "plugin = \"copy_memory\"\ndelay = 20\ntrain_size = 200\ntest_size = 50\n"
    }

    fn has_validation(&self, keys: &toml::Table) -> bool {
        Config::read(keys).is_ok_and(|c| c.valid_size > 0)
    }

    fn input_size(&self, _keys: &toml::Table) -> Option<usize> {
        Some(SYMBOLS)
    }

    fn check(&self, keys: &toml::Table) -> Result<Task, FieldError> {
        Config::read(keys).map(|_| TASK)
    }

    fn build(&self, keys: &toml::Table, seed: u64) -> Result<Dataset, DataError> {
        let c = Config::read(keys).map_err(DataError::Config)?;
        let sizes = [c.train_size, c.valid_size, c.test_size];
        Ok(synthetic::dataset(TASK, self.name(), c.data_seed.unwrap_or(seed), sizes, |rng, n| sequences(rng, &c, n)))
    }
}

/// `n` sequences: symbols, blanks, markers in (one-hot); blanks, then the symbols, out.
fn sequences(rng: &mut impl Rng, c: &Config, n: usize) -> SequenceSet {
    let steps = c.steps();
    let mut inputs = vec![0.0f32; n * steps * SYMBOLS];
    let mut labels = vec![0u32; n * steps];
    for (x, y) in inputs.chunks_mut(steps * SYMBOLS).zip(labels.chunks_mut(steps)) {
        for t in 0..steps {
            let symbol = if t < c.memory {
                let s = rng.gen_range(1..=8);
                y[steps - c.memory + t] = s as u32;
                s
            } else if t < c.memory + c.delay - 1 {
                0
            } else {
                MARKER
            };
            x[t * SYMBOLS + symbol] = 1.0;
        }
    }
    SequenceSet { len: n, steps, lengths: None, input_size: SYMBOLS, inputs, targets: Targets::Classes(labels) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(src: &str) -> toml::Table {
        src.parse().unwrap()
    }

    fn symbol(step: &[f32]) -> usize {
        assert_eq!(step.iter().sum::<f32>(), 1.0, "one-hot");
        step.iter().position(|&v| v == 1.0).unwrap()
    }

    #[test]
    fn the_layout_of_the_papers_generator() {
        let d = CopyMemory.build(&keys("delay = 5\nmemory = 3\ntrain_size = 40\ntest_size = 7"), 2).unwrap();
        assert_eq!((d.train.len, d.test.len, d.train.steps, d.train.input_size), (40, 7, 11, 10));
        let Targets::Classes(y) = &d.train.targets else { panic!("classes") };
        for (x, y) in d.train.inputs.chunks(11 * 10).zip(y.chunks(11)) {
            let x: Vec<usize> = x.chunks(10).map(symbol).collect();
            // 3 symbols, 4 blanks, 4 markers in; 8 blanks and the 3 symbols out.
            assert!(x[..3].iter().all(|s| (1..=8).contains(s)), "{x:?}");
            assert_eq!(x[3..7], [0; 4]);
            assert_eq!(x[7..], [9; 4]);
            assert_eq!(y[..8], [0; 8]);
            assert_eq!(y[8..].iter().map(|&s| s as usize).collect::<Vec<_>>(), x[..3]);
        }
    }

    #[test]
    fn the_data_follows_data_seed_or_else_the_trial_seed() {
        let k = keys("delay = 5\ntrain_size = 20\ntest_size = 5");
        assert_eq!(CopyMemory.build(&k, 3).unwrap(), CopyMemory.build(&k, 3).unwrap());
        assert_ne!(CopyMemory.build(&k, 3).unwrap().train, CopyMemory.build(&k, 4).unwrap().train);
        let fixed = keys("delay = 5\ntrain_size = 20\ntest_size = 5\ndata_seed = 1");
        assert_eq!(CopyMemory.build(&fixed, 3).unwrap(), CopyMemory.build(&fixed, 4).unwrap());
        let v = CopyMemory.build(&keys("delay = 5\ntrain_size = 20\ntest_size = 5\nvalid_size = 2"), 3).unwrap();
        assert_eq!((v.valid.unwrap().len, v.train), (2, CopyMemory.build(&k, 3).unwrap().train));
    }

    #[test]
    fn bad_keys_are_refused_with_the_key() {
        let err = |src: &str| CopyMemory.check(&keys(src)).unwrap_err();
        assert_eq!(err("delay = 0").path, ["delay"]);
        assert_eq!(err("memory = 0").path, ["memory"]);
        assert_eq!(err("test_size = 0").path, ["test_size"]);
        assert_eq!(err("delay = 100000000").path, ["train_size"]);
        assert_eq!(err("T = 3").path, ["T"]);
    }
}
