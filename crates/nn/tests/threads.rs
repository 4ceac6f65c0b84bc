//! With more than one thread a layer's sequence runs over blocks of batch rows in parallel:
//! the loss, gradients and predictions are the same, bit for bit, as on one thread, for every
//! cell, for narrow and wide inputs, with a head at every step or at the last only. On three
//! threads the 200 rows split as 96 + 96 + 8: the last block is too small for the `gemm`
//! crate's usual path (it rounds products of at most 16 rows differently), so it must join the
//! block before it.
//! (Its own test binary: the thread count is process-wide.)

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use rnnlab_nn::{Batch, Network, Targets, Task};
use rnnlab_spec::ModelConfig;

#[test]
fn more_threads_compute_what_one_does() {
    for (input, per_step) in [(3, true), (7, true), (7, false), (1, false)] {
        check(input, per_step);
    }
    rnnlab_nn::set_threads(1);
}

fn check(input: usize, per_step: bool) {
    let mut rng = StdRng::seed_from_u64(5);
    let (size, steps) = (200, 6);
    let scored = if per_step { steps } else { 1 };
    let batch = Batch {
        size,
        steps,
        input_size: input,
        inputs: (0..size * steps * input).map(|_| rng.gen_range(-1.0..1.0)).collect(),
        targets: Targets::Classes((0..size * scored).map(|_| rng.gen_range(0..4)).collect()),
        mask: None,
    };
    let models = [
        "cell = 'lstm'\nhidden_size = 16\nlayers = 2",
        "cell = 'lstm'\nhidden_size = 16\nproj_size = 5",
        "cell = 'gru'\nhidden_size = 16\nlayers = 2",
        "cell = 'rnn'\nhidden_size = 16\nlayers = 2",
        "cell = 'rnn'\nhidden_size = 16\nnonlinearity = 'relu'",
    ];
    for model in models {
        let config: ModelConfig = toml::from_str(model).unwrap();
        let task = Task::Classify { classes: 4, per_step };
        let mut net = Network::new(&Cpu::default(), &config, input, task, &mut StdRng::seed_from_u64(2)).unwrap();
        let run = |net: &mut Network<Cpu>, threads: usize| {
            rnnlab_nn::set_threads(threads);
            (net.loss_and_grads(&batch), net.predict(&batch))
        };
        let one = run(&mut net, 1);
        for threads in [2, 3] {
            assert_eq!(one, run(&mut net, threads), "{model}, {threads} threads, input {input}, per step {per_step}");
        }
    }
}
