//! The learning-rate schedules against PyTorch's (golden vectors in
//! crates/nn/tests/golden/schedules.json, from scripts/golden.py): every schedule's rate per
//! step, the plateau rule after each evaluation, and Adam following a `StepLR` trajectory.

use serde_json::Value;

fn golden(name: &str) -> Value {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../nn/tests/golden");
    serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
}

fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(flat).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        other => panic!("not numeric: {other}"),
    }
}

fn assert_close(what: &str, got: &[f32], want: &[f64], abs: f64, rel: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = abs.max(rel * w.abs());
        assert!((g as f64 - w).abs() <= tol, "{what}[{i}]: got {g}, PyTorch {w} (tolerance {tol:e})");
    }
}

#[test]
fn learning_rate_schedules_match_pytorch() {
    let g = golden("schedules.json");
    let (base, steps) = (g["base_lr"].as_f64().unwrap(), g["steps"].as_u64().unwrap() as usize);
    let cases = g["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 6);
    for (name, case) in cases {
        let schedule: rnnlab_spec::ScheduleConfig = toml::from_str(case["rnnlab"].as_str().unwrap()).unwrap();
        let want = flat(&case["lr"]);
        for (k, w) in want.iter().enumerate() {
            let got = rnnlab_train::schedule::lr_at(base, Some(&schedule), k, steps);
            assert!((got - w).abs() <= 1e-12 * w.abs().max(1e-3), "{name} step {k}: {got} vs PyTorch {w}");
        }
    }
}

#[test]
fn the_plateau_schedule_matches_pytorchs_reduce_lr_on_plateau() {
    let cases = golden("schedules.json")["plateau"].as_object().unwrap().clone();
    assert_eq!(cases.len(), 3);
    for (name, case) in &cases {
        let schedule: rnnlab_spec::ScheduleConfig = toml::from_str(case["rnnlab"].as_str().unwrap()).unwrap();
        let mut plateau = rnnlab_train::schedule::Plateau::new(0.1, Some(&schedule)).unwrap();
        for (k, (v, want)) in flat(&case["values"]).iter().zip(flat(&case["lr_after_each"])).enumerate() {
            let got = plateau.step(*v);
            assert!((got - want).abs() <= 1e-12 * want.abs(), "{name} evaluation {k}: {got} vs PyTorch {want}");
        }
    }
}

#[test]
fn a_scheduled_optimizer_follows_pytorchs_trajectory() {
    // Adam at lr 0.01 halved every 2 steps (`StepLR`), 5 steps.
    let g = &golden("schedules.json")["adam_step"];
    let config: rnnlab_spec::OptimizerConfig = toml::from_str(g["rnnlab"].as_str().unwrap()).unwrap();
    let mut p: Vec<f32> = flat(&g["initial_params"]).iter().map(|&v| v as f32).collect();
    let grads: Vec<Vec<f32>> =
        g["grads_per_step"].as_array().unwrap().iter().map(|s| flat(s).iter().map(|&v| v as f32).collect()).collect();
    let mut opt = rnnlab_nn::optim::build(&config, p.len());
    for (k, (grad, want)) in grads.iter().zip(g["after_each_step"].as_array().unwrap()).enumerate() {
        opt.set_lr(rnnlab_train::schedule::lr_at(config.lr, config.schedule.as_ref(), k, grads.len()));
        opt.step(&mut p, grad);
        assert_close(&format!("scheduled adam step {}", k + 1), &p, &flat(want), 1e-5, 1e-5);
    }
}
