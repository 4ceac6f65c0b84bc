//! `[search] method = "tpe"` end to end: points drawn as trials finish, written to `tpe/`,
//! the same points from scratch with one worker, every point once with several, and a drawn
//! point's trial run again from its file after its result is lost.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use rnnlab_spec::{Override, Plan};
use rnnlab_sweep::{Builtin, Quiet, SweepOptions};

/// The repository's TPE example, cut to trials of 10 steps.
fn plan(sets: &[&str]) -> Plan {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/tpe_adding.toml");
    let mut all = vec![
        "dataset.length=8",
        "dataset.train_size=640",
        "dataset.valid_size=64",
        "dataset.test_size=64",
        "train.eval_every=5",
        "search.trials=6",
        "search.startup=2",
    ];
    all.extend_from_slice(sets);
    let overrides: Vec<Override> = all.iter().map(|s| Override::parse(s).unwrap()).collect();
    let text = std::fs::read_to_string(&spec).unwrap();
    let wide = "\"model.hidden_size\" = { int_uniform = [4, 64] }";
    assert!(text.contains(wide));
    let text = text.replace(wide, "\"model.hidden_size\" = { int_uniform = [4, 12] }");
    rnnlab_spec::load_str(&spec, &text, &overrides, &Builtin).unwrap()
}

fn sweep(plan: &Plan, out: &Path, jobs: usize) -> rnnlab_sweep::SweepOutcome {
    let opts = SweepOptions::new(out.to_path_buf(), jobs, "test".into());
    rnnlab_sweep::run(plan, &opts, &AtomicBool::new(false), &Quiet).unwrap()
}

/// runs.csv's rows as (trial id, cell, hidden size, lr), sorted.
fn points(dir: &Path) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = csv::Reader::from_path(dir.join("runs.csv"))
        .unwrap()
        .records()
        .map(|r| r.unwrap().iter().take(4).map(str::to_string).collect())
        .collect();
    rows.sort();
    rows
}

#[test]
fn one_worker_draws_the_same_points_every_time_and_a_rerun_draws_none() {
    let plan = plan(&[]);
    assert_eq!(plan.trials.len(), 4, "2 start-up points × 2 cells");
    let tpe = plan.tpe.as_ref().unwrap();
    assert_eq!((tpe.budget(), tpe.startup, tpe.groups.len(), tpe.metric.as_str()), (6, 2, 2, "valid_mse"));
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let out = sweep(&plan, a.path(), 1);
    assert_eq!((out.total, out.ran, out.ok), (12, 12, 12));
    sweep(&plan, b.path(), 1);
    let (pa, pb) = (points(&a.path().join("tpe_adding")), points(&b.path().join("tpe_adding")));
    assert_eq!(pa.len(), 12);
    assert_eq!(pa, pb, "two runs from scratch with --jobs 1 draw the same points");
    let drawn = std::fs::read_dir(a.path().join("tpe_adding/tpe")).unwrap().count();
    assert_eq!(drawn, 8, "4 drawn points per cell");
    // Every point of a cell is distinct.
    for cell in ["lstm", "gru"] {
        let mine: Vec<&Vec<String>> = pa.iter().filter(|r| r[1] == cell).collect();
        let distinct: std::collections::HashSet<&[String]> = mine.iter().map(|r| &r[2..4]).collect();
        assert_eq!((mine.len(), distinct.len()), (6, 6), "{cell}: {mine:?}");
    }
    let again = sweep(&plan, a.path(), 1);
    assert_eq!((again.total, again.skipped, again.ran), (12, 12, 0));
    assert_eq!(std::fs::read_dir(a.path().join("tpe_adding/tpe")).unwrap().count(), 8);

    // A drawn point whose result is lost runs again from its file: no new point is drawn.
    let mut extended = plan.clone();
    rnnlab_sweep::tpe::extend(&mut extended, &rnnlab_sweep::ResultsDir::new(a.path().join("tpe_adding"))).unwrap();
    assert_eq!(extended.trials.len(), 12);
    let lost = &extended.trials[11];
    std::fs::remove_dir_all(a.path().join("tpe_adding/trials").join(&lost.id)).unwrap();
    let rerun = sweep(&plan, a.path(), 1);
    assert_eq!((rerun.ran, rerun.ok), (1, 1));
    assert_eq!(points(&a.path().join("tpe_adding")), pa);
}

#[test]
fn two_workers_fill_every_cells_budget_once() {
    let plan = plan(&["experiment.seeds=[0, 1]"]);
    let tmp = tempfile::tempdir().unwrap();
    let out = sweep(&plan, tmp.path(), 2);
    assert_eq!((out.total, out.ran, out.ok), (24, 24, 24), "6 points × 2 cells × 2 seeds");
    let rows = points(&tmp.path().join("tpe_adding"));
    assert_eq!(rows.len(), 24);
    let ids: std::collections::HashSet<&String> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(ids.len(), 24, "no trial twice");
    assert_eq!(std::fs::read_dir(tmp.path().join("tpe_adding/tpe")).unwrap().count(), 8);
}

#[test]
fn a_tpe_search_needs_a_validation_metric() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/tpe_adding.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    let load = |t: &str| rnnlab_spec::load_str(&spec, t, &[], &Builtin).map(|_| ()).unwrap_err().to_string();
    let line = "metric = \"valid_mse\"             # what TPE minimises (default: [report] select)";
    assert!(text.contains(line));
    let no_metric = text.replace(line, "").replace("select = \"valid_mse\"\n", "");
    let e = load(&no_metric);
    assert!(e.contains("TPE needs the metric it optimises") && e.contains("tpe_adding.toml:"), "{e}");
    let e = load(&text.replace(line, "metric = \"test_mse\""));
    assert!(e.contains("TPE cannot optimise `test_mse`") && e.contains("leaks"), "{e}");
    let e = load(&text.replace("method = \"tpe\"", "method = \"random\"").replace(line, ""));
    assert!(e.contains("only the tpe method takes it"), "{e}");
    let e = load(&text.replace("startup = 4", "startup = 0"));
    assert!(e.contains("at least one random start-up point"), "{e}");
}
