//! `rnnlab sweep --slurm` on a real Slurm: the one-node cluster of `scripts/slurm-local.sh`.
//! These tests run when `RNNLAB_SLURM=1` (`.ci/run` starts the cluster and sets it); without
//! it they return at once, saying so. With it, a cluster that is not up fails them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The one-node cluster has 2 CPUs: tests that need elements running at the same time would
/// starve each other, so they take the cluster one at a time.
static CLUSTER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn cluster() -> std::sync::MutexGuard<'static, ()> {
    CLUSTER.lock().unwrap_or_else(|p| p.into_inner())
}

fn enabled() -> bool {
    let on = std::env::var("RNNLAB_SLURM").is_ok_and(|v| v == "1");
    if !on {
        eprintln!("skipped: set RNNLAB_SLURM=1 with scripts/slurm-local.sh start to run the Slurm tests");
    }
    on
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rnnlab"))
}

fn smoke() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/smoke.toml")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn sweep(out: &Path, sets: &[&str], extra: &[&str]) -> Output {
    let mut c = bin();
    c.args(["sweep", smoke().to_str().unwrap(), "--out", out.to_str().unwrap(), "--slurm"]);
    for s in sets {
        c.args(["--set", s]);
    }
    c.args(extra).output().unwrap()
}

fn sh(program: &str, args: &[&str]) -> String {
    let o = Command::new(program).args(args).output().unwrap();
    assert!(o.status.success(), "{program} {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn wait_for(what: &str, limit: u64, mut done: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !done() {
        assert!(t0.elapsed() < Duration::from_secs(limit), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// runs.csv as `trial id → row without wall_seconds`.
fn runs(dir: &Path) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut r = csv::Reader::from_path(dir.join("runs.csv")).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let wall = header.iter().position(|h| h == "wall_seconds").unwrap();
    r.records()
        .map(|row| {
            let row = row.unwrap();
            let cells: Vec<String> =
                row.iter().enumerate().filter(|(i, _)| *i != wall).map(|(_, c)| c.to_string()).collect();
            (cells[0].clone(), cells)
        })
        .collect()
}

/// `(trial id, Slurm element)` of every claim held by an array element.
fn element_claims(dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir.join("claims")) else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| {
            let id = e.file_name().to_string_lossy().strip_suffix(".toml")?.to_string();
            let text = std::fs::read_to_string(e.path()).ok()?;
            let job = text.lines().find_map(|l| l.strip_prefix("job = "))?.trim().trim_matches('"').to_string();
            (!job.is_empty()).then_some((id, job))
        })
        .collect()
}

fn job_queued(name_part: &str) -> bool {
    sh("squeue", &["-h", "-r", "-o", "%j"]).lines().any(|l| l.contains(name_part))
}

fn max_array_size() -> usize {
    let config = sh("scontrol", &["show", "config"]);
    config
        .lines()
        .find_map(|l| l.strip_prefix("MaxArraySize").map(|v| v.trim_start_matches([' ', '=']).trim().parse().unwrap()))
        .unwrap()
}

#[test]
fn a_sweep_through_slurm_gives_the_local_sweeps_runs_number_for_number() {
    if !enabled() {
        return;
    }
    let _cluster = cluster();
    let tmp = tempfile::tempdir().unwrap();
    let o = sweep(&tmp.path().join("slurm"), &[], &["--wait"]);
    assert!(o.status.success(), "{}", text(&o));
    let local = bin()
        .args(["sweep", smoke().to_str().unwrap(), "--out", tmp.path().join("local").to_str().unwrap(), "--jobs", "1"])
        .output()
        .unwrap();
    assert!(local.status.success(), "{}", text(&local));
    let (a, b) = (runs(&tmp.path().join("slurm/smoke")), runs(&tmp.path().join("local/smoke")));
    assert_eq!(a.len(), 6);
    assert_eq!(a, b, "same trials, same numbers");
    // MaxArraySize caps the array index: the 6 trials were split into manifests of at most that.
    let max = max_array_size();
    let manifests = std::fs::read_dir(tmp.path().join("slurm/smoke/slurm"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("manifest-"))
        .count();
    assert_eq!(manifests, 6usize.div_ceil(max), "MaxArraySize {max}");
    // Nothing is missing: the same command submits nothing.
    let o = sweep(&tmp.path().join("slurm"), &[], &[]);
    assert!(text(&o).contains("nothing to submit: all 6 trials have results"), "{}", text(&o));
}

/// Three trials long enough (several seconds each) to be caught running.
const SLOW: &[&str] = &["train.steps=60000", "train.eval_every=5000", "experiment.seeds=[0]"];

#[test]
fn a_cancelled_element_is_the_only_trial_submitted_again() {
    if !enabled() {
        return;
    }
    let _cluster = cluster();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("smoke");
    let o = sweep(tmp.path(), SLOW, &[]);
    assert!(o.status.success() && text(&o).contains("rnnlab status"), "{}", text(&o));
    let mut running = Vec::new();
    wait_for("a running element", 120, || {
        running = element_claims(&dir);
        !running.is_empty()
    });
    let (cancelled, element) = running[0].clone();
    sh("scancel", &[&element]);
    wait_for("the arrays and the collection job", 300, || !job_queued("rnnlab-smoke"));
    let after = runs(&dir);
    assert_eq!(after.len(), 2, "the cancelled trial has no result");
    assert!(!after.contains_key(&cancelled));
    assert!(element_claims(&dir).is_empty(), "SIGTERM released the claim");
    let o = sweep(tmp.path(), SLOW, &["--wait"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("submitted 1 trials as job array"), "{}", text(&o));
    let manifests: Vec<PathBuf> = {
        let mut m: Vec<PathBuf> = std::fs::read_dir(dir.join("slurm"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("manifest-"))
            .collect();
        m.sort();
        m
    };
    assert_eq!(std::fs::read_to_string(manifests.last().unwrap()).unwrap().trim(), cancelled);
    let done = runs(&dir);
    assert_eq!(done.len(), 3);
    for (id, row) in &after {
        assert_eq!(&done[id], row, "the finished trials were not run again");
    }
}

#[test]
fn requeued_and_self_requeued_elements_complete_their_trials() {
    if !enabled() {
        return;
    }
    let _cluster = cluster();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("smoke");
    let o = sweep(tmp.path(), SLOW, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let mut running = Vec::new();
    let snapshot = |id: &str| dir.join("resume").join(format!("{id}.safetensors")).is_file();
    wait_for("two running elements past their first evaluation", 120, || {
        running = element_claims(&dir);
        running.len() >= 2 && running.iter().take(2).all(|(id, _)| snapshot(id))
    });
    // Preemption as Slurm does it (SIGTERM, back to pending), and the warning before a time
    // limit (SIGUSR1 to the batch shell, which is rnnlab: it stops and requeues itself).
    let (preempted, e1) = running[0].clone();
    let (warned, e2) = running[1].clone();
    sh("scontrol", &["requeue", &e1]);
    sh("scancel", &["--signal=USR1", "--batch", &e2]);
    for e in [&e1, &e2] {
        wait_for("the element to be pending again", 60, || {
            sh("squeue", &["-h", "-r", "-j", e, "-o", "%T"]).trim() == "PENDING"
        });
        // Skip Slurm's hold of a requeued job (about two minutes).
        sh("scontrol", &["update", &format!("JobId={e}"), "StartTime=now"]);
    }
    wait_for("every element and the collection job", 300, || !job_queued("rnnlab-smoke"));
    let done = runs(&dir);
    let logs = dir.join("slurm/logs");
    let log = |e: &str| std::fs::read_to_string(logs.join(format!("{e}.out"))).unwrap_or_default();
    assert_eq!(done.len(), 3, "{done:?}\n{e1}: {}\n{e2}: {}", log(&e1), log(&e2));
    for id in [&preempted, &warned] {
        assert!(done[id.as_str()].iter().any(|c| c == "ok"), "{id}: {:?}", done[id.as_str()]);
    }
    assert!(log(&e1).contains("restart 1"), "{}", log(&e1));
    assert!(log(&e2).contains("requeued") && log(&e2).contains("restart 1"), "{}", log(&e2));
    // The requeued elements continued from their snapshots, not from step 0.
    for id in [&preempted, &warned] {
        let result = std::fs::read_to_string(dir.join("trials").join(id).join("result.toml")).unwrap();
        assert!(result.contains("resumed_from = "), "{id}: {result}");
        assert!(!snapshot(id), "{id}: the snapshot is removed at the end");
    }
    // ... and ended bit for bit as the same trials run here in one go.
    let whole = tempfile::tempdir().unwrap();
    let mut c = bin();
    c.args(["sweep", smoke().to_str().unwrap(), "--out", whole.path().to_str().unwrap(), "--jobs", "1"]);
    for s in SLOW {
        c.args(["--set", s]);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let curve =
        |root: &Path, id: &str| std::fs::read_to_string(root.join("trials").join(id).join("curve.csv")).unwrap();
    for id in [&preempted, &warned] {
        assert_eq!(curve(&dir, id), curve(&whole.path().join("smoke"), id), "{id}");
    }
}

#[test]
fn slurm_errors_are_clear_and_recorded() {
    if !enabled() {
        return;
    }
    let _cluster = cluster();
    let tmp = tempfile::tempdir().unwrap();
    let o = sweep(tmp.path(), &["slurm.partition=nosuch"], &[]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert!(text(&o).contains("sbatch") && text(&o).contains("nosuch"), "{}", text(&o));
    let record = std::fs::read_to_string(tmp.path().join("smoke/slurm/submissions.toml")).unwrap();
    assert!(record.contains("--partition=nosuch") && record.contains("error = "), "{record}");
}

#[test]
fn a_tpe_search_through_slurm_draws_its_points_in_the_elements() {
    if !enabled() {
        return;
    }
    let _cluster = cluster();
    let tmp = tempfile::tempdir().unwrap();
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/tpe_adding.toml");
    let sets = [
        "dataset.length=8",
        "dataset.train_size=640",
        "dataset.valid_size=64",
        "dataset.test_size=64",
        "train.eval_every=5",
        "search.trials=4",
        "search.startup=2",
        "experiment.seeds=[0, 1]",
    ];
    let run = |extra: &[&str]| {
        let mut c = bin();
        c.args(["sweep", spec.to_str().unwrap(), "--out", tmp.path().to_str().unwrap(), "--slurm"]);
        for s in sets {
            c.args(["--set", s]);
        }
        c.args(extra).output().unwrap()
    };
    let o = run(&["--wait"]);
    assert!(o.status.success(), "{}", text(&o));
    let dir = tmp.path().join("tpe_adding");
    let rows = runs(&dir);
    assert_eq!(rows.len(), 16, "4 points × 2 cells × 2 seeds: {rows:?}");
    assert_eq!(std::fs::read_dir(dir.join("tpe")).unwrap().count(), 4, "2 drawn points per cell");
    let manifests: String = std::fs::read_dir(dir.join("slurm"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("manifest-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    // The start-up trials by id (2 points × 2 cells × 2 seeds), then one draw element per trial
    // of the points left (2 × 2 × 2); each element ran one trial.
    assert_eq!(manifests.lines().filter(|l| l.starts_with("tpe:")).count(), 8, "{manifests}");
    assert_eq!(manifests.lines().filter(|l| !l.starts_with("tpe:")).count(), 8, "{manifests}");
    let logs = std::fs::read_dir(dir.join("slurm/logs")).unwrap().flatten();
    let ran: usize = logs
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .filter(|t| t.contains("trial tpe:"))
        .filter(|t| t.lines().any(|l| l.ends_with(": done")))
        .count();
    assert_eq!(ran, 8, "every draw element ran a trial");
    let o = run(&[]);
    assert!(text(&o).contains("nothing to submit: all 16 trials have results"), "{}", text(&o));
}
