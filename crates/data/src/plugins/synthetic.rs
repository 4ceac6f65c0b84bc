//! What the generated long-memory tasks (`adding`, `copy_memory`) share: their size checks and
//! the seeded generator of their data.

use rand::rngs::StdRng;
use rand::SeedableRng;

use rnnlab_spec::FieldError;

use crate::base::{Dataset, LossReduction, SequenceSet, Task};

/// The most floats one generated split may hold (4 GiB of inputs).
const MAX_FLOATS: usize = 1 << 30;

/// `train_size` and `test_size` at least 1, and a training split of `steps` steps of `features`
/// inputs that fits in memory.
pub fn check_sizes(train_size: usize, test_size: usize, steps: usize, features: usize) -> Result<(), FieldError> {
    for (key, n) in [("train_size", train_size), ("test_size", test_size)] {
        if n == 0 {
            return Err(FieldError::new(&[key], "must be at least 1"));
        }
    }
    let floats = train_size.saturating_mul(steps).saturating_mul(features);
    if floats > MAX_FLOATS {
        return Err(FieldError::new(
            &["train_size"],
            format!(
                "{train_size} sequences of {steps} steps × {features} inputs are {floats} floats, over the {MAX_FLOATS} a split may hold"
            ),
        )
        .with_help("use fewer or shorter sequences"));
    }
    Ok(())
}

/// A generated task's dataset: `sizes` (train, validation — none when 0 —, test) drawn in that
/// order by `draw` from one generator seeded with `seed` and the task's `name`, so that asking
/// for a validation split leaves the training sequences as they were.
pub fn dataset(
    task: Task,
    name: &str,
    seed: u64,
    [train, valid, test]: [usize; 3],
    mut draw: impl FnMut(&mut StdRng, usize) -> SequenceSet,
) -> Dataset {
    let mut rng = rng(seed, name.as_bytes());
    let train = draw(&mut rng, train);
    let valid = (valid > 0).then(|| draw(&mut rng, valid));
    let test = draw(&mut rng, test);
    Dataset { task, train, valid, test, loss_reduction: LossReduction::Mean }
}

/// The generator of a task's data: `seed` mixed with the task's name, so that two tasks with
/// the same seed draw unrelated data.
pub fn rng(seed: u64, task: &[u8]) -> StdRng {
    StdRng::seed_from_u64(seed ^ rnnlab_spec::fnv1a(task))
}
