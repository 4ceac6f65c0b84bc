//! The training loop through its public entry point: evaluation schedule, learning, stopping,
//! divergence, and the checks that run before anything is allocated.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use rnnlab_spec::{Status, TrialConfig};
use rnnlab_train::{run_trial, TrainError};

fn config(optimizer: &str, train: &str) -> TrialConfig {
    toml::from_str(&format!(
        "seed = 1\n\
         [dataset]\nplugin = 'parity'\nlength = 4\n\
         [model]\ncell = 'gru'\nhidden_size = 8\n\
         [optimizer]\n{optimizer}\n\
         [train]\n{train}\n\
         [run]\n"
    ))
    .unwrap()
}

#[test]
fn evaluations_follow_the_schedule_and_training_lowers_the_loss() {
    rnnlab_train::set_threads(1);
    let c = config("name = 'adam'\nlr = 0.05", "steps = 120\nbatch_size = 16\neval_every = 40");
    let seen = Mutex::new(Vec::new());
    let r = run_trial(&c, &AtomicBool::new(false), &|p, total| seen.lock().unwrap().push((p.step, total))).unwrap();
    assert_eq!(r.status, Status::Ok);
    assert_eq!(r.steps_done, 120);
    assert_eq!(seen.into_inner().unwrap(), [(40, 120), (80, 120), (120, 120)]);
    let steps: Vec<usize> = r.curve.iter().map(|p| p.step).collect();
    assert_eq!(steps, [40, 80, 120]);
    // Epochs count passes over the 16 training strings of length 4.
    assert_eq!(r.curve[0].epoch, 40.0);
    let (first, last) = (r.curve[0].train_loss, r.curve[2].train_loss);
    assert!(last < first, "train loss {first} -> {last}");
    assert!(r.curve[2].test.accuracy.unwrap() > r.curve[0].test.accuracy.unwrap() - 1e-9);
    assert!(r.param_count > 0 && r.wall_seconds > 0.0);
    // The same config and seed give the same curve.
    let again = run_trial(&c, &AtomicBool::new(false), &|_, _| {}).unwrap();
    let losses = |r: &rnnlab_train::TrialResult| r.curve.iter().map(|p| p.train_loss).collect::<Vec<_>>();
    assert_eq!(losses(&r), losses(&again));
}

#[test]
fn a_stop_request_interrupts_at_the_next_step() {
    let c = config("name = 'adam'\nlr = 0.05", "steps = 100000\nbatch_size = 16\neval_every = 10");
    let stop = AtomicBool::new(false);
    let evals = AtomicUsize::new(0);
    let r = run_trial(&c, &stop, &|_, _| {
        if evals.fetch_add(1, Ordering::SeqCst) == 1 {
            stop.store(true, Ordering::SeqCst);
        }
    });
    assert!(matches!(r, Err(TrainError::Interrupted)), "{r:?}");
    assert_eq!(evals.into_inner(), 2, "no evaluation after the stop");
}

#[test]
fn a_loss_that_blows_up_ends_the_trial_as_diverged_with_its_step() {
    // A ReLU RNN (unbounded activations) with an absurd learning rate overflows f32.
    let mut c = config("name = 'sgd'\nlr = 1e30", "steps = 50\nbatch_size = 16\neval_every = 5");
    c.model.cell = rnnlab_spec::CellKind::Rnn;
    c.model.nonlinearity = rnnlab_spec::Nonlinearity::Relu;
    let r = run_trial(&c, &AtomicBool::new(false), &|_, _| {}).unwrap();
    assert_eq!(r.status, Status::Diverged, "{r:?}");
    assert!(r.message.contains("at step") && r.steps_done < 50, "{}", r.message);
    assert!(r.checkpoint.is_none());
}

#[test]
fn a_trial_too_large_for_this_machine_fails_before_allocating() {
    let Some(total) = rnnlab_data::files::memory_total() else { return };
    // A GRU's 3·H·(1 + H) weights, ×6 copies (values, flat, gradients, Adam's two moments) of
    // 4 bytes: a hidden size twice the largest that fits.
    let mut c = config("name = 'adam'\nlr = 0.05", "steps = 1\nbatch_size = 16");
    c.model.hidden_size = 2 * (total as f64 / 72.0).sqrt() as usize;
    let r = run_trial(&c, &AtomicBool::new(false), &|_, _| {});
    match r {
        Err(TrainError::Memory(m)) => assert!(m.contains("GiB") && m.contains("estimate"), "{m}"),
        other => panic!("expected a memory error, got {other:?}"),
    }
}

#[test]
fn a_trials_results_do_not_depend_on_its_thread_count() {
    // The sweep gives running trials more threads when cores fall idle, mid-trial: that must not
    // change what they compute. Shapes large enough that the products split across threads.
    let mut c = config("name = 'adam'\nlr = 0.05", "steps = 3\nbatch_size = 1024\neval_every = 1");
    c.dataset.keys.insert("length".into(), toml::Value::Integer(10));
    c.model.hidden_size = 64;
    let run = |threads: usize| {
        rnnlab_train::set_threads(threads);
        let r = run_trial(&c, &AtomicBool::new(false), &|_, _| {}).unwrap();
        r.curve.iter().map(|p| (p.train_loss.to_bits(), p.test.loss.to_bits())).collect::<Vec<_>>()
    };
    let one = run(1);
    assert_eq!(one.len(), 3);
    assert_eq!(run(3), one);
    assert_eq!(run(2), one);
    rnnlab_train::set_threads(1);
}

#[test]
fn a_validation_split_is_evaluated_beside_the_test_set_and_changes_nothing_else() {
    let c = config("name = 'adam'\nlr = 0.05", "steps = 40\nbatch_size = 16\neval_every = 20");
    let mut v = c.clone();
    v.dataset.keys.insert("n_valid".into(), toml::Value::Integer(64));
    let (plain, valid) = (
        run_trial(&c, &AtomicBool::new(false), &|_, _| {}).unwrap(),
        run_trial(&v, &AtomicBool::new(false), &|_, _| {}).unwrap(),
    );
    assert!(plain.curve.iter().all(|p| p.valid.is_none()));
    for (a, b) in plain.curve.iter().zip(&valid.curve) {
        assert_eq!((a.train_loss, a.test), (b.train_loss, b.test), "a validation split changed training or test");
        let m = b.valid.expect("valid metrics at every evaluation");
        assert!(m.accuracy.is_some_and(|x| (0.0..=1.0).contains(&x)) && m.loss.is_finite(), "{m:?}");
    }
    assert_eq!(valid.selected_step, None, "no early stopping: the last evaluation is reported");
}

#[test]
fn early_stopping_reports_the_best_validation_evaluation_and_stops_after_its_patience() {
    let train = "steps = 2000\nbatch_size = 16\neval_every = 10\nsave_checkpoint = true\n\
                 [train.early_stopping]\nmetric = 'valid_loss'\npatience = 3\nmin_delta = 0.01";
    let mut c = config("name = 'adam'\nlr = 0.05", train);
    c.dataset.keys.insert("n_valid".into(), toml::Value::Integer(64));
    let r = run_trial(&c, &AtomicBool::new(false), &|_, _| {}).unwrap();
    assert_eq!(r.status, Status::Ok);
    let losses: Vec<f64> = r.curve.iter().map(|p| p.valid.unwrap().loss).collect();
    // The selected evaluation is the last one that improved by more than min_delta, and training
    // stopped `patience` evaluations after it.
    let mut best = (f64::INFINITY, 0);
    for (i, &l) in losses.iter().enumerate() {
        if l < best.0 - 0.01 {
            best = (l, i);
        }
    }
    assert!(r.steps_done < 2000, "never stopped: {losses:?}");
    assert_eq!(r.curve.len() - 1 - best.1, 3, "{losses:?}");
    assert_eq!(r.steps_done, r.curve.last().unwrap().step);
    assert_eq!(r.selected_step, Some(r.curve[best.1].step));
    assert_eq!(r.reported_point().unwrap().step, r.curve[best.1].step);
    // The checkpoint holds the selected evaluation's parameters: those of a run that ends there.
    let mut short = c.clone();
    (short.train.steps, short.train.early_stopping) = (Some(r.curve[best.1].step), None);
    let ended = run_trial(&short, &AtomicBool::new(false), &|_, _| {}).unwrap();
    assert_eq!(r.checkpoint.unwrap().safetensors, ended.checkpoint.unwrap().safetensors);
}

#[test]
fn early_stopping_without_a_validation_split_is_a_data_error_that_says_how_to_add_one() {
    let c =
        config("name = 'adam'\nlr = 0.05", "steps = 10\nbatch_size = 16\n[train.early_stopping]\nmetric = 'valid_nll'");
    let e = run_trial(&c, &AtomicBool::new(false), &|_, _| {}).unwrap_err().to_string();
    assert!(e.contains("no validation split") && e.contains("n_valid"), "{e}");
    let mut c = c;
    c.dataset.keys.insert("n_valid".into(), toml::Value::Integer(8));
    let e = run_trial(&c, &AtomicBool::new(false), &|_, _| {}).unwrap_err().to_string();
    assert!(e.contains("watches `valid_nll`, which this task does not record"), "{e}");
}

#[test]
fn the_plateau_schedule_lowers_the_rate_when_the_validation_metric_stalls() {
    let schedule = "name = 'adam'\nlr = 0.05\nschedule = { kind = 'plateau', metric = 'valid_loss', patience = 0, gamma = 0.1, threshold = 0.2 }";
    let mut plateau = config(schedule, "steps = 200\nbatch_size = 16\neval_every = 10");
    let e = run_trial(&plateau, &AtomicBool::new(false), &|_, _| {}).unwrap_err().to_string();
    assert!(e.contains("the plateau schedule watches `valid_loss`") && e.contains("no validation split"), "{e}");
    plateau.dataset.keys.insert("n_valid".into(), toml::Value::Integer(64));
    let mut constant = config("name = 'adam'\nlr = 0.05", "steps = 200\nbatch_size = 16\neval_every = 10");
    constant.dataset.keys.insert("n_valid".into(), toml::Value::Integer(64));
    let (p, c) = (
        run_trial(&plateau, &AtomicBool::new(false), &|_, _| {}).unwrap(),
        run_trial(&constant, &AtomicBool::new(false), &|_, _| {}).unwrap(),
    );
    // Identical until the first evaluation whose validation loss is not 20% below the best so
    // far; the rate drops there, and the curves part.
    let losses: Vec<f64> = c.curve.iter().map(|q| q.valid.unwrap().loss).collect();
    let best_before = |k: usize| losses[..k].iter().cloned().fold(f64::INFINITY, f64::min);
    let stall = (1..losses.len()).find(|&k| losses[k] >= best_before(k) * 0.8);
    let stall = stall.expect("the constant-rate run stalls at some evaluation");
    let values = |r: &rnnlab_train::TrialResult| -> Vec<_> {
        r.curve.iter().map(|q| (q.step, q.train_loss, q.test, q.valid)).collect()
    };
    assert_eq!(values(&p)[..=stall], values(&c)[..=stall]);
    assert!(p.curve[stall + 1..].iter().zip(&c.curve[stall + 1..]).any(|(a, b)| a.train_loss != b.train_loss));
}

#[test]
fn dropout_is_deterministic_per_seed_and_changes_training() {
    let base = config("name = 'adam'\nlr = 0.05", "steps = 30\nbatch_size = 16\neval_every = 30");
    let mut c = base.clone();
    (c.model.layers, c.model.dropout, c.model.head_dropout) = (2, 0.3, 0.2);
    let run = |c: &TrialConfig| run_trial(c, &AtomicBool::new(false), &|_, _| {}).unwrap();
    let (a, b) = (run(&c), run(&c));
    assert_eq!(a.curve[0].train_loss, b.curve[0].train_loss, "the same seed draws the same masks");
    assert_eq!(a.curve[0].test, b.curve[0].test);
    let mut other_seed = c.clone();
    other_seed.seed = 2;
    assert_ne!(run(&other_seed).curve[0].train_loss, a.curve[0].train_loss);
    // Without dropout (same layers, same init and batch order) training differs.
    let mut plain = c.clone();
    (plain.model.dropout, plain.model.head_dropout) = (0.0, 0.0);
    assert_ne!(run(&plain).curve[0].train_loss, a.curve[0].train_loss);
}

/// A trial's curve and result without its timings (which an interruption changes).
fn untimed(r: &rnnlab_train::TrialResult) -> (Vec<rnnlab_train::CurvePoint>, Option<usize>, usize, Option<Vec<u8>>) {
    let curve = r.curve.iter().map(|p| rnnlab_train::CurvePoint { wall_seconds: 0.0, ..p.clone() }).collect();
    (curve, r.selected_step, r.steps_done, r.checkpoint.as_ref().map(|c| c.safetensors.clone()))
}

#[test]
fn a_trial_resumed_from_any_snapshot_ends_bit_for_bit_as_an_uninterrupted_one() {
    use rnnlab_train::{run_resumable_trial, Resume, Snapshot};
    rnnlab_train::set_threads(1);
    // Everything with state of its own: shuffled batches, dropout masks, weight noise, Adam's
    // moments, early stopping's selection (with the checkpoint's best parameters) and the
    // plateau schedule.
    let c: TrialConfig = toml::from_str(
        "seed = 3\n\
         [dataset]\nplugin = 'parity'\nlength = 6\nn_valid = 8\n\
         [model]\ncell = 'lstm'\nhidden_size = 8\nlayers = 2\ndropout = 0.2\n\
         [optimizer]\nname = 'adam'\nlr = 0.03\nclip_grad_norm = 1.0\n\
         [optimizer.schedule]\nkind = 'plateau'\nmetric = 'valid_loss'\npatience = 1\n\
         [train]\nsteps = 60\nbatch_size = 8\neval_every = 10\nweight_noise = 0.01\nsave_checkpoint = true\n\
         [train.early_stopping]\nmetric = 'valid_loss'\n\
         [run]\n",
    )
    .unwrap();
    let snapshots = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    let save = |s: &Snapshot| snapshots.lock().unwrap().push(s.clone());
    let whole = run_resumable_trial(&c, &stop, &|_, _| {}, &|_| None, Resume { from: None, save: &save }).unwrap();
    assert_eq!(whole.resumed_from, None);
    let snapshots = snapshots.into_inner().unwrap();
    assert_eq!(
        snapshots.iter().map(|s| s.step).collect::<Vec<_>>(),
        [10, 20, 30, 40, 50],
        "one per evaluation but the last"
    );
    let first = snapshots[0].clone();
    for s in snapshots {
        let step = s.step;
        let from = Snapshot::from_bytes(&s.to_bytes()).unwrap();
        let resumed =
            run_resumable_trial(&c, &stop, &|_, _| {}, &|_| None, Resume { from: Some(from), save: &|_| {} }).unwrap();
        assert_eq!(resumed.resumed_from, Some(step));
        assert_eq!(untimed(&resumed), untimed(&whole), "resumed from step {step}");
    }
    // A snapshot of another network is ignored: the trial starts over, and ends the same.
    let other = Snapshot {
        step: 10,
        params: vec![0.0; 3],
        optimizer: Default::default(),
        dropout_words: 0,
        noise_words: 0,
        curve: whole.curve[..1].to_vec(),
        best_params: None,
        eval_seconds: 0.0,
        wall_seconds: 0.0,
    };
    // So is a damaged one: a negative time, a curve that does not end at its step, best
    // parameters of another length.
    let damaged = [
        Snapshot { wall_seconds: -1.0, ..first.clone() },
        Snapshot { step: 20, ..first.clone() },
        Snapshot { best_params: Some(vec![1.0]), ..first },
        other,
    ];
    for snapshot in damaged {
        let fresh =
            run_resumable_trial(&c, &stop, &|_, _| {}, &|_| None, Resume { from: Some(snapshot), save: &|_| {} })
                .unwrap();
        assert_eq!((fresh.resumed_from, untimed(&fresh)), (None, untimed(&whole)));
    }
}

#[test]
fn an_lstm_learns_the_adding_problem() {
    // Issue 31's check: T = 30, 32 units, Adam, 800 steps of 64; predicting the mean scores ≈ 0.167.
    rnnlab_train::set_threads(1);
    let c: TrialConfig = toml::from_str(
        "seed = 0\n\
         [dataset]\nplugin = 'adding'\nlength = 30\ntrain_size = 51200\ntest_size = 1000\n\
         [model]\ncell = 'lstm'\nhidden_size = 32\n\
         [optimizer]\nname = 'adam'\nlr = 0.004\n\
         [train]\nsteps = 800\nbatch_size = 64\n\
         [run]\n",
    )
    .unwrap();
    let r = run_trial(&c, &AtomicBool::new(false), &|_, _| {}).unwrap();
    let mse = r.curve.last().unwrap().test.mse.unwrap();
    assert!(mse < 0.055, "test MSE {mse}");
}
