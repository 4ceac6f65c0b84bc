//! Sweeps end to end on the smoke spec: results layout, resume, interruption, failures.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rnnlab_spec::{Override, Plan, Trial};
use rnnlab_sweep::{Builtin, Progress, Quiet, SweepOptions, TrialRecord};

fn smoke(sets: &[&str]) -> Plan {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/smoke.toml");
    let overrides: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
    rnnlab_spec::load(&spec, &overrides, &Builtin).unwrap()
}

fn options(out: &Path, jobs: usize) -> SweepOptions {
    SweepOptions::new(out.to_path_buf(), jobs, "test".into())
}

fn runs(dir: &Path) -> Vec<csv::StringRecord> {
    csv::Reader::from_path(dir.join("runs.csv")).unwrap().records().map(Result::unwrap).collect()
}

#[test]
fn sweep_writes_every_trial_and_a_rerun_does_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = smoke(&[]);
    let out = rnnlab_sweep::run(&plan, &options(tmp.path(), 2), &AtomicBool::new(false), &Quiet).unwrap();
    assert_eq!((out.total, out.ran, out.ok, out.failed), (6, 6, 6, 0));
    let dir = tmp.path().join("smoke");
    for name in ["spec.toml", "meta.toml", "runs.csv"] {
        assert!(dir.join(name).is_file(), "{name}");
    }
    let rows = runs(&dir);
    assert_eq!(rows.len(), 6);
    // Plan order, one row per trial, all ok.
    let ids: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(ids, plan.trials.iter().map(|t| t.id.as_str()).collect::<Vec<_>>());
    assert!(rows.iter().all(|r| &r[3] == "ok"), "{rows:?}");
    for t in &plan.trials {
        for f in ["trial.toml", "curve.csv", "result.toml"] {
            assert!(dir.join("trials").join(&t.id).join(f).is_file(), "{}/{f}", t.id);
        }
    }
    // Every trial records how much of its time went to evaluation (3 evaluations here).
    let header = csv::Reader::from_path(dir.join("runs.csv")).unwrap().headers().unwrap().clone();
    let (wall, eval) =
        (header.iter().position(|h| h == "wall_seconds"), header.iter().position(|h| h == "eval_seconds"));
    for r in &rows {
        let (wall, eval): (f64, f64) = (r[wall.unwrap()].parse().unwrap(), r[eval.unwrap()].parse().unwrap());
        assert!(eval >= 0.0 && eval <= wall, "eval {eval} s of {wall} s");
    }
    let result: toml::Table = std::fs::read_to_string(dir.join("trials").join(&plan.trials[0].id).join("result.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let (eval, wall) = (result["eval_seconds"].as_float().unwrap(), result["wall_seconds"].as_float().unwrap());
    assert!(eval > 0.0 && eval < wall, "eval {eval} s of {wall} s");
    let meta_before = std::fs::read_to_string(dir.join("meta.toml")).unwrap();
    let again = rnnlab_sweep::run(&plan, &options(tmp.path(), 2), &AtomicBool::new(false), &Quiet).unwrap();
    assert_eq!((again.ran, again.skipped), (0, 6));
    assert_eq!(runs(&dir), rows);
    assert_eq!(std::fs::read_to_string(dir.join("meta.toml")).unwrap(), meta_before);
}

#[test]
fn same_seed_same_curve_bit_for_bit() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let plan = smoke(&[]);
    for d in [&a, &b] {
        rnnlab_sweep::run(&plan, &options(d.path(), 1), &AtomicBool::new(false), &Quiet).unwrap();
    }
    for t in &plan.trials {
        let curve = |d: &Path| std::fs::read(d.join("smoke/trials").join(&t.id).join("curve.csv")).unwrap();
        assert_eq!(curve(a.path()), curve(b.path()), "trial {}", t.id);
    }
}

/// Raises the stop flag after `after` trials finish, like Ctrl-C.
struct StopAfter<'a>(usize, &'a AtomicBool, AtomicUsize);
impl Progress for StopAfter<'_> {
    fn trial_done(&self, _: &Trial, _: &TrialRecord) {
        if self.2.fetch_add(1, Ordering::SeqCst) + 1 >= self.0 {
            self.1.store(true, Ordering::SeqCst);
        }
    }
}

#[test]
fn interrupted_sweep_resumes_without_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = smoke(&[]);
    let stop = AtomicBool::new(false);
    let first =
        rnnlab_sweep::run(&plan, &options(tmp.path(), 1), &stop, &StopAfter(2, &stop, AtomicUsize::new(0))).unwrap();
    assert!(first.interrupted);
    assert_eq!(first.ran, 2);
    let dir = tmp.path().join("smoke");
    assert_eq!(runs(&dir).len(), 2);
    let second = rnnlab_sweep::run(&plan, &options(tmp.path(), 2), &AtomicBool::new(false), &Quiet).unwrap();
    assert_eq!((second.skipped, second.ran, second.interrupted), (2, 4, false));
    let rows = runs(&dir);
    let mut ids: Vec<String> = rows.iter().map(|r| r[0].to_string()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6);
    // No temporary folders left behind.
    let leftovers: Vec<PathBuf> = std::fs::read_dir(dir.join("trials"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn diverging_trials_are_recorded_as_diverged() {
    let tmp = tempfile::tempdir().unwrap();
    // A relu RNN with this learning rate overflows to inf within a few steps.
    let plan = smoke(&[
        "optimizer.name=sgd",
        "optimizer.lr=1e30",
        "grid.model.cell=[\"rnn\"]",
        "model.nonlinearity=relu",
        "experiment.seeds=[0]",
    ]);
    let out = rnnlab_sweep::run(&plan, &options(tmp.path(), 1), &AtomicBool::new(false), &Quiet).unwrap();
    assert_eq!((out.diverged, out.ok), (1, 0));
    let rows = runs(&tmp.path().join("smoke"));
    assert_eq!(&rows[0][3], "diverged");
    assert!(rows[0][4].contains("at step"), "{:?}", &rows[0]);
}

#[test]
fn fresh_starts_over() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = smoke(&["experiment.seeds=[0]"]);
    rnnlab_sweep::run(&plan, &options(tmp.path(), 1), &AtomicBool::new(false), &Quiet).unwrap();
    let opts = SweepOptions { fresh: true, ..options(tmp.path(), 1) };
    let out = rnnlab_sweep::run(&plan, &opts, &AtomicBool::new(false), &Quiet).unwrap();
    assert_eq!((out.ran, out.skipped), (3, 0));
}

#[test]
fn a_report_written_while_workers_run_says_it_is_partial_and_reloads() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = smoke(&["train.steps=2"]);
    rnnlab_sweep::run(&plan, &options(tmp.path(), 1), &AtomicBool::new(false), &Quiet).unwrap();
    let dir = tmp.path().join("smoke");
    let report = rnnlab_report::write_report(&dir, &plan.report).unwrap();
    assert!(!report.partial);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(!html.contains("http-equiv=\"refresh\""));
    // A worker's live claim (as rnnlab_sweep::claims writes it).
    std::fs::write(dir.join("claims/0123456789.toml"), "host = \"h\"\n").unwrap();
    let report = rnnlab_report::write_report(&dir, &plan.report).unwrap();
    assert!(report.partial);
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("**Partial report**") && md.contains("6 of 6 trials have a final result, 1 running"), "{md}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"10\"/>"), "{html}");
}

#[test]
fn validation_metrics_and_the_selected_step_reach_result_toml_runs_csv_and_curve_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = smoke(&["dataset.n_valid=32", "train.early_stopping.metric=valid_loss", "experiment.seeds=[0]"]);
    let out = rnnlab_sweep::run(&plan, &options(tmp.path(), 2), &AtomicBool::new(false), &Quiet).unwrap();
    assert_eq!((out.ran, out.ok), (3, 3));
    let dir = tmp.path().join("smoke");
    let header = csv::Reader::from_path(dir.join("runs.csv")).unwrap().headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    for (row, trial) in runs(&dir).iter().zip(&plan.trials) {
        let trial_dir = dir.join("trials").join(&trial.id);
        let record: TrialRecord =
            toml::from_str(&std::fs::read_to_string(trial_dir.join("result.toml")).unwrap()).unwrap();
        let curve: Vec<csv::StringRecord> =
            csv::Reader::from_path(trial_dir.join("curve.csv")).unwrap().records().map(Result::unwrap).collect();
        // curve.csv: step, epoch, train_loss, 4 test columns, then valid_loss first of 4 valid columns.
        let valid_loss: Vec<f64> = curve.iter().map(|r| r[7].parse().unwrap()).collect();
        let best = (0..valid_loss.len()).fold(0, |b, i| if valid_loss[i] < valid_loss[b] { i } else { b });
        let selected = (best + 1) * 10;
        assert_eq!(record.selected_step, Some(selected), "{valid_loss:?}");
        assert_eq!(record.valid_loss, Some(valid_loss[best]));
        assert!(record.valid_accuracy.is_some() && record.valid_nll.is_none());
        assert_eq!(record.test_loss, Some(curve[best][3].parse().unwrap()), "test metrics at the selected step");
        assert_eq!(row[at("selected_step")], selected.to_string());
        assert_eq!(row[at("valid_loss")].parse::<f64>().unwrap(), valid_loss[best]);
    }
}

#[test]
fn asha_prunes_trials_from_the_folders_reports_and_pruned_trials_are_final() {
    let tmp = tempfile::tempdir().unwrap();
    let sets = [
        "dataset.n_valid=32",
        "prune.method=asha",
        "prune.metric=valid_loss",
        "prune.min_steps=10",
        "experiment.seeds=[0,1,2]",
    ];
    let plan = smoke(&sets);
    let ids: Vec<String> = plan.trials.iter().map(|t| t.id.clone()).collect();
    assert_eq!(
        ids,
        smoke(&["dataset.n_valid=32", "experiment.seeds=[0,1,2]"])
            .trials
            .iter()
            .map(|t| t.id.clone())
            .collect::<Vec<_>>(),
        "[prune] is not part of any trial"
    );
    let out = rnnlab_sweep::run(&plan, &options(tmp.path(), 1), &AtomicBool::new(false), &Quiet).unwrap();
    assert_eq!(out.ran, 9);
    // With one job each trial meets every earlier one at rung 10: the third and later go on
    // only among the best third, so some are pruned, and the first one never is.
    assert!(out.pruned >= 1 && out.ok >= 1 && out.ok + out.pruned == 9, "{} ok, {} pruned", out.ok, out.pruned);
    let dir = tmp.path().join("smoke");
    let header = csv::Reader::from_path(dir.join("runs.csv")).unwrap().headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    for row in runs(&dir) {
        assert_eq!(&row[at("planned_steps")], "30");
        let steps: usize = row[at("steps")].parse().unwrap();
        let curve = std::fs::read_to_string(dir.join("trials").join(&row[0]).join("curve.csv")).unwrap();
        match &row[at("status")] {
            "pruned" => {
                assert_eq!(steps, 10, "pruned at the first rung");
                assert_eq!(curve.lines().count(), 2, "the curve up to the rung");
                assert!(row[at("message")].contains("rung 10"));
            }
            status => assert_eq!((status, steps), ("ok", 30)),
        }
        assert!(dir.join("prune").join(format!("{}.csv", &row[0])).is_file());
    }
    let again = rnnlab_sweep::run(&plan, &options(tmp.path(), 1), &AtomicBool::new(false), &Quiet).unwrap();
    assert_eq!((again.ran, again.skipped), (0, 9), "pruned trials are final");
}

#[test]
fn pruning_groups_compete_only_among_themselves() {
    let tmp = tempfile::tempdir().unwrap();
    let sets = [
        "dataset.n_valid=32",
        "prune.method=asha",
        "prune.metric=valid_loss",
        "prune.min_steps=10",
        "prune.group_by=[\"model.cell\"]",
        "experiment.seeds=[0,1,2,3]",
    ];
    let plan = smoke(&sets);
    let out = rnnlab_sweep::run(&plan, &options(tmp.path(), 1), &AtomicBool::new(false), &Quiet).unwrap();
    assert_eq!(out.ran, 12);
    let dir = tmp.path().join("smoke");
    let header = csv::Reader::from_path(dir.join("runs.csv")).unwrap().headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    for cell in ["lstm", "gru", "rnn"] {
        let rows: Vec<_> = runs(&dir).into_iter().filter(|r| &r[at("model.cell")] == cell).collect();
        // The first of each cell to reach the rung goes on; a judged trial met its own cell's
        // trials only (at most 4 values at the rung, itself included).
        assert!(rows.iter().any(|r| &r[at("status")] == "ok"), "{cell}: none ok");
        for r in rows.iter().filter(|r| &r[at("status")] == "pruned") {
            let n: usize = r[at("message")].split(" of ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
            assert!(n <= 4, "{cell}: {}", &r[at("message")]);
        }
    }
}
