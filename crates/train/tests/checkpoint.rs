//! Save → load → identical predictions, and clear errors for checkpoints that do not fit.

use rnnlab_spec::TrialConfig;
use rnnlab_train::checkpoint::{load, Checkpoint};

fn config(cell: &str, extra: &str) -> TrialConfig {
    toml::from_str(&format!(
        "seed = 3\n\
         [dataset]\nplugin = 'parity'\nlength = 6\ntest_length = 8\n\
         [model]\ncell = '{cell}'\nhidden_size = 8\nlayers = 2\n{extra}\n\
         [optimizer]\nname = 'adam'\nlr = 0.05\n\
         [train]\nsteps = 5\nbatch_size = 32\nsave_checkpoint = true\n\
         [run]\n"
    ))
    .unwrap()
}

fn save(c: &Checkpoint) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.safetensors"), &c.safetensors).unwrap();
    std::fs::write(dir.path().join("model.toml"), &c.model_toml).unwrap();
    dir
}

fn trained(config: &TrialConfig) -> Checkpoint {
    rnnlab_train::set_threads(1);
    let result = rnnlab_train::run_trial(config, &Default::default(), &|_, _| {}).unwrap();
    result.checkpoint.expect("save_checkpoint = true")
}

#[test]
fn a_reloaded_checkpoint_predicts_exactly_what_the_trained_model_did() {
    for (cell, extra) in [("lstm", "proj_size = 4"), ("gru", ""), ("rnn", "nonlinearity = 'relu'")] {
        let config = config(cell, extra);
        let dir = save(&trained(&config));
        let loaded = load(dir.path()).unwrap();
        assert_eq!(loaded.card.model, config.model);
        // The same trial trained again (deterministic with one thread), then run forward on
        // the whole test set in one batch, as the reloaded model is (the summation order of a
        // product depends on the batch size, so other batch sizes agree to ~1e-7, not bitwise).
        let pass = rnnlab_train::forward(&config, true).unwrap();
        let reloaded = loaded.predict(&pass.inputs, false, pass.inputs.len).unwrap();
        for (s, step) in pass.outputs.steps.iter().enumerate() {
            for n in 0..pass.inputs.len {
                assert_eq!(&step[n * 2..n * 2 + 2], reloaded[n][s].as_slice(), "{cell}: sequence {n}, step {s}");
            }
        }
        let names: Vec<&str> = loaded.card.parameters.iter().map(|p| p.name.as_str()).collect();
        assert!(names.contains(&"rnn.weight_ih_l1") && names.contains(&"head.weight"), "{cell}: {names:?}");
    }
}

#[test]
fn checkpoints_that_do_not_fit_are_clear_errors() {
    let c = trained(&config("gru", ""));
    // Truncated tensors.
    let dir = save(&c);
    std::fs::write(dir.path().join("model.safetensors"), &c.safetensors[..c.safetensors.len() / 2]).unwrap();
    let e = load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("model.safetensors") && e.contains("truncated"), "{e}");
    // A card describing a different model: a larger hidden size.
    let dir = save(&c);
    std::fs::write(dir.path().join("model.toml"), c.model_toml.replace("hidden_size = 8", "hidden_size = 9")).unwrap();
    let e = load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("rnn.weight_ih_l0") && e.contains("[24, 1]") && e.contains("[27, 1]"), "{e}");
    // One layer instead of two: the second layer's tensors are extra.
    let dir = save(&c);
    std::fs::write(dir.path().join("model.toml"), c.model_toml.replace("layers = 2", "layers = 1")).unwrap();
    let e = load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("does not") && e.contains("rnn.bias_hh_l1"), "{e}");
    // No model.toml.
    let dir = save(&c);
    std::fs::remove_file(dir.path().join("model.toml")).unwrap();
    let e = load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("model.toml") && e.contains("save_checkpoint"), "{e}");
}
