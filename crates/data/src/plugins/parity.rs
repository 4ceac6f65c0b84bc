//! `parity`: running parity (XOR) of bit strings, from the "Implementing a simple RNN"
//! tutorial. One bit per step in; the parity of the bits so far out (2 classes), at every step
//! or (`target = "final"`) only at the last.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use rnnlab_spec::{decode, FieldError};

use crate::base::{DataError, Dataset, LossReduction, Plugin, SequenceSet, Targets, Task};

/// Strings of up to this length may be enumerated.
const MAX_ENUMERATE: usize = 20;

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Bits per training string.
    length: usize,
    /// Bits per test string (default: `length`); longer than `length` tests generalisation.
    test_length: Option<usize>,
    /// Train on all 2^length strings instead of drawing `n_train` (default: when length ≤ 16).
    enumerate: Option<bool>,
    /// Training strings drawn with the trial seed when not enumerating.
    #[serde(default = "default_n")]
    n_train: usize,
    /// Test strings drawn when test_length > 16 (else all 2^test_length are tested).
    #[serde(default = "default_n")]
    n_test: usize,
    /// Validation strings of `test_length`, drawn with their own seeded generator; 0 = no validation split.
    #[serde(default)]
    n_valid: usize,
    /// Which parity is predicted.
    #[serde(default)]
    target: Target,
}

fn default_n() -> usize {
    10_000
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Target {
    /// The parity of the bits so far, at every step.
    #[default]
    Running,
    /// The parity of the whole string, at the last step only.
    Final,
}

impl Config {
    fn read(keys: &toml::Table) -> Result<Config, FieldError> {
        let c: Config = decode(keys)?;
        for (key, len) in [("length", c.length), ("test_length", c.test_length())] {
            if len == 0 || len > 64 {
                return Err(FieldError::new(&[key], "must be between 1 and 64"));
            }
        }
        if c.enumerate() && c.length > MAX_ENUMERATE {
            return Err(FieldError::new(&["enumerate"], format!("2^{} strings are too many to enumerate", c.length))
                .with_help(format!(
                    "set `enumerate = false` and draw `n_train` strings, or use length ≤ {MAX_ENUMERATE}"
                )));
        }
        for (key, n) in [("n_train", c.n_train), ("n_test", c.n_test)] {
            if n == 0 {
                return Err(FieldError::new(&[key], "must be at least 1"));
            }
        }
        Ok(c)
    }

    fn test_length(&self) -> usize {
        self.test_length.unwrap_or(self.length)
    }

    fn enumerate(&self) -> bool {
        self.enumerate.unwrap_or(self.length <= 16)
    }

    fn task(&self) -> Task {
        Task::Classify { classes: 2, per_step: self.target == Target::Running }
    }
}

/// The `parity` plugin.
pub struct Parity;

impl Plugin for Parity {
    fn name(&self) -> &'static str {
        "parity"
    }

    fn doc(&self) -> &'static str {
        "running parity (XOR) of random bit strings; 2-way classification at every step or the last"
    }

    fn keys(&self) -> schemars::Schema {
        rnnlab_spec::reference::schema_of::<Config>()
    }

    fn example(&self) -> &'static str {
        "plugin = \"parity\"\nlength = 8\ntest_length = 10\n"
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
        let mut rng = StdRng::seed_from_u64(seed ^ 0x7061_7269_7479); // "parity"
        let final_only = c.target == Target::Final;
        let train = if c.enumerate() {
            strings(c.length, (0..1u64 << c.length).collect(), final_only)
        } else {
            strings(c.length, (0..c.n_train).map(|_| random_bits(&mut rng, c.length)).collect(), final_only)
        };
        let test = if c.test_length() <= 16 {
            strings(c.test_length(), (0..1u64 << c.test_length()).collect(), final_only)
        } else {
            strings(
                c.test_length(),
                (0..c.n_test).map(|_| random_bits(&mut rng, c.test_length())).collect(),
                final_only,
            )
        };
        // A generator of its own, so that asking for a validation split leaves train and test as they were.
        let mut valid_rng = StdRng::seed_from_u64(seed ^ 0x76_616c_6964); // "valid"
        let valid = (c.n_valid > 0).then(|| {
            let numbers = (0..c.n_valid).map(|_| random_bits(&mut valid_rng, c.test_length())).collect();
            strings(c.test_length(), numbers, final_only)
        });
        Ok(Dataset { task: c.task(), train, valid, test, loss_reduction: LossReduction::Mean })
    }
}

fn random_bits(rng: &mut StdRng, length: usize) -> u64 {
    let bits: u64 = rng.gen();
    if length == 64 {
        bits
    } else {
        bits & ((1u64 << length) - 1)
    }
}

/// Sequences whose step `t` is bit `t` of each number, with running (or final) parity targets.
fn strings(length: usize, numbers: Vec<u64>, final_only: bool) -> SequenceSet {
    let mut inputs = Vec::with_capacity(numbers.len() * length);
    let mut labels = Vec::with_capacity(numbers.len() * if final_only { 1 } else { length });
    for n in &numbers {
        let mut parity = 0;
        for t in 0..length {
            let bit = ((n >> t) & 1) as u32;
            parity ^= bit;
            inputs.push(bit as f32);
            if !final_only {
                labels.push(parity);
            }
        }
        if final_only {
            labels.push(parity);
        }
    }
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
    fn running_parity_of_every_string() {
        let d = Parity.build(&keys("length = 3"), 0).unwrap();
        assert_eq!(d.train.len, 8);
        // 6 = bits 0,1,1 (least significant first) -> running parity 0,1,0.
        assert_eq!(&d.train.inputs[18..21], &[0.0, 1.0, 1.0]);
        assert_eq!(
            d.train.targets,
            Targets::Classes(vec![0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0, 1])
        );
        assert_eq!(d.test, d.train);
    }

    #[test]
    fn final_target_and_longer_tests() {
        let d = Parity.build(&keys("length = 2\ntest_length = 4\ntarget = 'final'"), 0).unwrap();
        assert_eq!(d.task, Task::Classify { classes: 2, per_step: false });
        assert_eq!(d.train.targets, Targets::Classes(vec![0, 1, 1, 0]));
        assert_eq!((d.test.len, d.test.steps), (16, 4));
    }

    #[test]
    fn drawn_strings_depend_on_the_seed_only() {
        let k = keys("length = 30\nn_train = 50\nn_test = 20");
        let a = Parity.build(&k, 1).unwrap();
        assert_eq!(a, Parity.build(&k, 1).unwrap());
        assert_ne!(a.train, Parity.build(&k, 2).unwrap().train);
        assert_eq!((a.train.len, a.test.len, a.test.steps), (50, 20, 30));
    }

    #[test]
    fn a_validation_split_is_drawn_apart_and_leaves_train_and_test_as_they_were() {
        let plain = Parity
            .build(
                &keys(
                    "length = 4
test_length = 6",
                ),
                7,
            )
            .unwrap();
        let d = Parity
            .build(
                &keys(
                    "length = 4
test_length = 6
n_valid = 5",
                ),
                7,
            )
            .unwrap();
        assert_eq!((&d.train, &d.test, plain.valid), (&plain.train, &plain.test, None));
        let v = d.valid.unwrap();
        assert_eq!((v.len, v.steps), (5, 6));
    }

    #[test]
    fn bad_keys_are_refused_with_the_key() {
        let err = |src: &str| Parity.check(&keys(src)).unwrap_err();
        assert_eq!(err("length = 0").path, ["length"]);
        assert_eq!(err("length = 24\nenumerate = true").path, ["enumerate"]);
        assert_eq!(err("length = 4\nlenght = 3").help.as_deref(), Some("did you mean `length`?"));
        assert_eq!(err("length = 4\ntarget = 'all'").path, ["target"]);
    }
}
