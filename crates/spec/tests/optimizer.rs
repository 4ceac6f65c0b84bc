//! `[optimizer]`: the optimizer's own keys are decoded and checked by its file in
//! `rnnlab-optim`, and trial ids stay what they were when one struct held every optimizer's keys.

mod common;

use rnnlab_spec::{Catalog, FieldError, Plan, SpecErrors, TrialConfig};

struct Parity;
impl Catalog for Parity {
    fn dataset_plugins(&self) -> Vec<&'static str> {
        vec!["parity"]
    }
    fn check_trial(&self, _: &TrialConfig) -> Result<(), FieldError> {
        Ok(())
    }
}

/// `experiments/smoke.toml` when these ids were recorded.
const SMOKE: &str = include_str!("../../../experiments/smoke.toml");

fn load(src: &str, sets: &[&str]) -> Result<Plan, SpecErrors> {
    common::load_in(&Parity, src, sets)
}

/// Ids of the first trial (LSTM, seed 0) of `smoke.toml` with these overrides, as
/// `rnnlab plan` printed them before the optimizers owned their keys (the release binary
/// of commit 95c3b9a).
const PINNED: [(&[&str], &str); 8] = [
    (
        &[
            "optimizer.name=sgd",
            "optimizer.lr=0.1",
            "optimizer.momentum=0.9",
            "optimizer.nesterov=true",
            "optimizer.weight_decay=0.0001",
        ],
        "4ec57bd930",
    ),
    (&["optimizer.name=adamw"], "259329ac09"),
    (&["optimizer.eps=0.000001", "optimizer.beta2=0.99", "optimizer.clip_grad_norm=0.5"], "31168e540e"),
    (
        &["optimizer.name=rmsprop", "optimizer.flavor=tf1", "optimizer.momentum=0.5", "optimizer.alpha=0.9"],
        "94f7bd96c6",
    ),
    (&["optimizer.name=rmsprop", "optimizer.centered=true"], "f0ed0092a7"),
    (&["optimizer.name=adagrad", "optimizer.weight_decay=0.01"], "970247d75d"),
    // A key another optimizer has, at the value the one struct held: accepted, id unchanged.
    (&["optimizer.momentum=0"], "3a8473552f"),
    (&["optimizer.schedule={kind=\"cosine\",t_max=30,warmup_steps=5}"], "0424479771"),
];

#[test]
fn trial_ids_are_those_of_the_single_optimizer_struct() {
    for (sets, id) in PINNED {
        let plan = load(SMOKE, sets).unwrap_or_else(|e| panic!("{sets:?}: {e}"));
        assert_eq!(plan.trials[0].id, id, "{sets:?}");
    }
}

fn check_error(src: &str, line: usize, col: usize, needles: &[&str]) {
    common::check_error_in(&Parity, src, &[], line, col, needles)
}

#[test]
fn each_optimizer_refuses_keys_it_does_not_use_and_bad_values_where_they_are() {
    let with = |keys: &str| SMOKE.replace("name = \"adam\"\nlr = 0.05", &format!("{keys}\nlr = 0.05"));
    check_error(&with("name = \"adm\""), 17, 8, &["unknown optimizer `adm`", "did you mean `adam`?"]);
    check_error(
        &with("name = \"sgd\"\nbeta1 = 0.8"),
        18,
        1,
        &["`beta1` is not used by `sgd` (only by adam, adamw)", "remove `beta1`"],
    );
    check_error(&with("name = \"adam\"\nmomntum = 0.9"), 18, 1, &["unknown key `momntum`", "did you mean `momentum`?"]);
    check_error(&with("name = \"adam\"\nbeta2 = 1.5"), 18, 9, &["`optimizer.beta2`", "must be in [0, 1)"]);
    check_error(&with("name = \"adam\"\neps = \"x\""), 18, 7, &["`optimizer.eps`", "invalid type"]);
    check_error(
        &with("name = \"rmsprop\"\nflavor = \"tf1\"\ncentered = true"),
        19,
        12,
        &["centered RMSprop is only available with `flavor = \"pytorch\"`"],
    );
}
