//! What the generated long-memory tasks (`adding`, `copy_memory`) share: their size checks and
//! the seeded generator of their data.

use rand::rngs::StdRng;
use rand::SeedableRng;

use rnnlab_spec::FieldError;

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

/// The generator of a task's data: `seed` mixed with the task's name, so that two tasks with
/// the same seed draw unrelated data.
pub fn rng(seed: u64, task: &[u8]) -> StdRng {
    let salt = task.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    StdRng::seed_from_u64(seed ^ salt)
}
