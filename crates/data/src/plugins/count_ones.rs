//! `count_ones`: how many ones a bit string holds, from the "RNNs in TensorFlow, a practical
//! guide" (noob's guide) tutorial. All 2^length strings, shuffled with the trial seed; the first
//! `n_train` train, the next `n_valid` (default none) validate, the rest (or a seeded `n_test`
//! of them) test. One bit per step in;
//! `length + 1`-way classification at the last step. The tutorial sums the loss over the batch
//! (`loss_reduction = "sum"`).

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use rnnlab_spec::{decode, FieldError};

use crate::base::{DataError, Dataset, LossReduction, Plugin, SequenceSet, Targets, Task};

/// Longest string whose 2^length variants are enumerated.
const MAX_LENGTH: usize = 24;

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Bits per string; all 2^length strings are used (1 to 24).
    #[serde(default = "default_length")]
    length: usize,
    /// Training strings, the first after a seeded shuffle.
    #[serde(default = "default_n_train")]
    n_train: usize,
    /// Test on a seeded subset of this many of the remaining strings (default: all of them).
    n_test: Option<usize>,
    /// Validation strings, the next ones after the training strings; 0 = no validation split.
    #[serde(default)]
    n_valid: usize,
    /// How the training loss combines a batch (the tutorial sums).
    #[serde(default)]
    loss_reduction: LossReduction,
}

fn default_length() -> usize {
    20
}

fn default_n_train() -> usize {
    10_000
}

impl Config {
    fn read(keys: &toml::Table) -> Result<Config, FieldError> {
        let c: Config = decode(keys)?;
        if c.length == 0 || c.length > MAX_LENGTH {
            return Err(FieldError::new(&["length"], format!("must be between 1 and {MAX_LENGTH}")));
        }
        let total = 1usize << c.length;
        if c.n_train == 0 || c.n_train >= total {
            return Err(FieldError::new(
                &["n_train"],
                format!("must be between 1 and {} (2^{} strings, some left to test on)", total - 1, c.length),
            ));
        }
        if c.n_valid >= total - c.n_train {
            return Err(FieldError::new(
                &["n_valid"],
                format!(
                    "must be below {} (the strings not used for training; some are left to test on)",
                    total - c.n_train
                ),
            ));
        }
        let rest = total - c.n_train - c.n_valid;
        if let Some(n) = c.n_test {
            if n == 0 || n > rest {
                return Err(FieldError::new(
                    &["n_test"],
                    format!("must be between 1 and {rest} (the strings not used for training or validation)"),
                )
                .with_help("leave it out to test on every string not used for training"));
            }
        }
        Ok(c)
    }

    fn task(&self) -> Task {
        Task::Classify { classes: self.length + 1, per_step: false }
    }
}

/// The `count_ones` plugin.
pub struct CountOnes;

impl Plugin for CountOnes {
    fn name(&self) -> &'static str {
        "count_ones"
    }

    fn doc(&self) -> &'static str {
        "number of ones in a bit string; (length+1)-way classification at the last step"
    }

    fn keys(&self) -> schemars::Schema {
        rnnlab_spec::reference::schema_of::<Config>()
    }

    fn example(&self) -> &'static str {
        "plugin = \"count_ones\"\nlength = 8\nn_train = 100\n"
    }

    fn has_validation(&self, keys: &toml::Table) -> bool {
        Config::read(keys).is_ok_and(|c| c.n_valid > 0)
    }

    fn input_size(&self, _keys: &toml::Table) -> Option<usize> {
        Some(1)
    }

    fn check(&self, keys: &toml::Table) -> Result<Task, FieldError> {
        Config::read(keys).map(|c| c.task())
    }

    fn build(&self, keys: &toml::Table, seed: u64) -> Result<Dataset, DataError> {
        let c = Config::read(keys).map_err(DataError::Config)?;
        let mut rng = StdRng::seed_from_u64(seed ^ 0x63_6f75_6e74); // "count"
        let mut numbers: Vec<u32> = (0..1u32 << c.length).collect();
        numbers.shuffle(&mut rng);
        let valid_end = c.n_train + c.n_valid;
        let test_end = valid_end + c.n_test.unwrap_or(numbers.len() - valid_end);
        Ok(Dataset {
            task: c.task(),
            train: strings(c.length, &numbers[..c.n_train]),
            valid: (c.n_valid > 0).then(|| strings(c.length, &numbers[c.n_train..valid_end])),
            test: strings(c.length, &numbers[valid_end..test_end]),
            loss_reduction: c.loss_reduction,
        })
    }
}

/// One bit per step (least significant first) and the count of ones as the label.
fn strings(length: usize, numbers: &[u32]) -> SequenceSet {
    let mut inputs = Vec::with_capacity(numbers.len() * length);
    for n in numbers {
        inputs.extend((0..length).map(|t| ((n >> t) & 1) as f32));
    }
    let labels = numbers.iter().map(|n| n.count_ones()).collect();
    SequenceSet {
        lengths: None,
        len: numbers.len(),
        steps: length,
        input_size: 1,
        inputs,
        targets: Targets::Classes(labels),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(src: &str) -> toml::Table {
        src.parse().unwrap()
    }

    #[test]
    fn every_string_once_split_by_the_seeded_shuffle() {
        let d = CountOnes.build(&keys("length = 6\nn_train = 20"), 3).unwrap();
        assert_eq!(d.task, Task::Classify { classes: 7, per_step: false });
        assert_eq!((d.train.len, d.test.len, d.train.steps), (20, 44, 6));
        // Every string appears once across the splits, with its count as the label.
        let mut seen = Vec::new();
        for set in [&d.train, &d.test] {
            let Targets::Classes(labels) = &set.targets else { panic!("classes") };
            for (s, &label) in set.inputs.chunks(6).zip(labels) {
                let n = s.iter().enumerate().map(|(t, &b)| (b as u32) << t).sum::<u32>();
                assert_eq!(n.count_ones(), label);
                seen.push(n);
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..64).collect::<Vec<_>>());
        assert_eq!(d, CountOnes.build(&keys("length = 6\nn_train = 20"), 3).unwrap());
        assert_ne!(d.train, CountOnes.build(&keys("length = 6\nn_train = 20"), 4).unwrap().train);
    }

    #[test]
    fn test_subset_and_loss_reduction() {
        let d = CountOnes.build(&keys("length = 6\nn_train = 20\nn_test = 5\nloss_reduction = 'sum'"), 0).unwrap();
        assert_eq!(d.test.len, 5);
        assert_eq!(d.loss_reduction, LossReduction::Sum);
    }

    #[test]
    fn the_validation_strings_follow_the_training_ones_and_are_not_tested() {
        let plain = CountOnes
            .build(
                &keys(
                    "length = 6
n_train = 20",
                ),
                3,
            )
            .unwrap();
        let d = CountOnes
            .build(
                &keys(
                    "length = 6
n_train = 20
n_valid = 4",
                ),
                3,
            )
            .unwrap();
        let v = d.valid.clone().unwrap();
        assert_eq!((d.train.clone(), v.len, d.test.len), (plain.train, 4, plain.test.len - 4));
        assert_eq!(v.inputs[..], plain.test.inputs[..4 * 6], "the first strings after training validate");
        assert_eq!(d.test.inputs[..], plain.test.inputs[4 * 6..]);
        let e = CountOnes
            .check(&keys(
                "length = 6
n_train = 20
n_valid = 44",
            ))
            .unwrap_err();
        assert_eq!(e.path, ["n_valid"]);
    }

    #[test]
    fn bad_keys_are_refused_with_the_key() {
        let err = |src: &str| CountOnes.check(&keys(src)).unwrap_err();
        assert_eq!(err("length = 30").path, ["length"]);
        assert_eq!(err("length = 4\nn_train = 16").path, ["n_train"]);
        assert_eq!(err("length = 4\nn_train = 10\nn_test = 7").path, ["n_test"]);
        assert_eq!(err("loss_reduction = 'max'").path, ["loss_reduction"]);
    }
}
