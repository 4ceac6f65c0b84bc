//! With more than one thread each step's recurrent product and element-wise pass run over
//! blocks of rows in parallel: the loss, gradients and predictions are the same, bit for bit,
//! as on one thread, for every cell.
//! (Its own test binary: the thread count is process-wide.)

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use rnnlab_nn::{Batch, Network, Targets, Task};
use rnnlab_spec::ModelConfig;

#[test]
fn two_threads_compute_what_one_does() {
    let mut rng = StdRng::seed_from_u64(5);
    let (size, steps, input) = (200, 6, 3);
    let batch = Batch {
        size,
        steps,
        input_size: input,
        inputs: (0..size * steps * input).map(|_| rng.gen_range(-1.0..1.0)).collect(),
        targets: Targets::Classes((0..size * steps).map(|_| rng.gen_range(0..4)).collect()),
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
        let task = Task::Classify { classes: 4, per_step: true };
        let mut net = Network::new(&Cpu::default(), &config, input, task, &mut StdRng::seed_from_u64(2)).unwrap();
        let run = |net: &mut Network<Cpu>, threads: usize| {
            rnnlab_nn::set_threads(threads);
            (net.loss_and_grads(&batch), net.predict(&batch))
        };
        let one = run(&mut net, 1);
        let two = run(&mut net, 2);
        assert_eq!(one, two, "{model}");
    }
    rnnlab_nn::set_threads(1);
}
