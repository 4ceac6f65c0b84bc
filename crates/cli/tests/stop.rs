//! How `rnnlab` runs, stops and fails as processes: workers sharing a results folder, killed
//! workers, signals, `--fresh` beside running work, sizes that cannot fit, and the exit codes
//! docs/results.md lists.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rnnlab"))
}

fn smoke() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/smoke.toml")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A sweep of 6 trials, one at a time, each long enough (about a second in a debug build on the
/// 2-core Xeon VM) to be caught running.
fn slow_sweep(out: &Path, extra: &[&str]) -> Child {
    bin()
        .args(["sweep", smoke().to_str().unwrap(), "--out", out.to_str().unwrap(), "--jobs", "1"])
        .args(["--set", "train.steps=50000", "--set", "train.eval_every=12500"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !done() {
        assert!(t0.elapsed() < Duration::from_secs(120), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn rows(runs: &Path) -> usize {
    std::fs::read_to_string(runs).map_or(0, |t| t.lines().count().saturating_sub(1))
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill").args([&format!("-{sig}"), &child.id().to_string()]).status().unwrap();
    assert!(ok.success());
}

#[test]
fn sigterm_and_sighup_stop_like_ctrl_c_and_keep_finished_trials() {
    for (sig, code) in [("TERM", 143), ("HUP", 129), ("INT", 130)] {
        let tmp = tempfile::tempdir().unwrap();
        let runs = tmp.path().join("smoke/runs.csv");
        let child = slow_sweep(tmp.path(), &[]);
        wait_for("the first trial", || rows(&runs) >= 1);
        signal(&child, sig);
        let o = child.wait_with_output().unwrap();
        let t = text(&o);
        assert_eq!(o.status.code(), Some(code), "SIG{sig}: {t}");
        assert!(t.contains("interrupted:") && t.contains("run the same command again"), "SIG{sig}: {t}");
        let done = rows(&runs);
        assert!((1..6).contains(&done), "SIG{sig}: {done} rows");
        assert!(tmp.path().join("smoke/report.md").is_file(), "SIG{sig}: the report is written");
    }
}

/// The `ran N trials` count a sweep printed.
fn ran(o: &Output) -> usize {
    let t = String::from_utf8_lossy(&o.stdout);
    t.split("ran ").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// Trial ids of runs.csv, in order.
fn run_ids(runs: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(runs).unwrap();
    text.lines().skip(1).map(|l| l.split(',').next().unwrap().to_string()).collect()
}

/// `(trial id, pid)` of every claim file in a results folder.
fn claims(dir: &Path) -> Vec<(String, u32)> {
    let Ok(entries) = std::fs::read_dir(dir.join("claims")) else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let id = name.strip_suffix(".toml")?.to_string();
            let text = std::fs::read_to_string(e.path()).ok()?;
            let pid = text.lines().find_map(|l| l.strip_prefix("pid = "))?.trim().parse().ok()?;
            Some((id, pid))
        })
        .collect()
}

#[test]
fn three_workers_on_one_folder_run_each_trial_once() {
    let tmp = tempfile::tempdir().unwrap();
    let workers: Vec<Child> = (0..3).map(|_| slow_sweep(tmp.path(), &[])).collect();
    let outputs: Vec<Output> = workers.into_iter().map(|w| w.wait_with_output().unwrap()).collect();
    for o in &outputs {
        assert!(o.status.success(), "{}", text(o));
    }
    let total: usize = outputs.iter().map(ran).sum();
    assert_eq!(total, 6, "each trial ran once between the three: {:?}", outputs.iter().map(ran).collect::<Vec<_>>());
    let mut ids = run_ids(&tmp.path().join("smoke/runs.csv"));
    assert_eq!(ids.len(), 6);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6, "no trial twice in runs.csv");
    assert!(claims(&tmp.path().join("smoke")).is_empty(), "every claim released");
}

#[test]
fn a_killed_workers_trial_is_taken_over_and_status_shows_who_runs_what() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("smoke");
    let mut a = slow_sweep(tmp.path(), &[]);
    let b = slow_sweep(tmp.path(), &[]);
    wait_for("a claim of worker A", || claims(&dir).iter().any(|(_, pid)| *pid == a.id()));
    let o = bin().args(["status", dir.to_str().unwrap()]).output().unwrap();
    let t = text(&o);
    assert!(o.status.success() && t.contains("running:") && t.contains(&format!("pid {}", a.id())), "{t}");
    assert!(t.contains("6 trials:") && t.contains("seed"), "{t}");
    let (taken, _) = claims(&dir).into_iter().find(|(_, pid)| *pid == a.id()).unwrap();
    a.kill().unwrap();
    a.wait().unwrap();
    let o = b.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let ids = run_ids(&dir.join("runs.csv"));
    assert_eq!(ids.len(), 6, "worker B finished every trial, A's too");
    assert!(ids.contains(&taken));
    let result = std::fs::read_to_string(dir.join("trials").join(&taken).join("result.toml")).unwrap();
    assert!(result.contains("status = \"ok\""), "{result}");
    assert!(claims(&dir).is_empty());

    // `collect` rebuilds runs.csv from the trial folders; `status` then says all is done.
    std::fs::remove_file(dir.join("runs.csv")).unwrap();
    let o = bin().args(["collect", dir.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success() && text(&o).contains("6 of 6 trials have results"), "{}", text(&o));
    assert_eq!(run_ids(&dir.join("runs.csv")).len(), 6);
    let o = bin().args(["status", dir.to_str().unwrap(), "--watch"]).output().unwrap();
    assert!(text(&o).contains("6 done (6 ok, 0 diverged), 0 running, 0 pending, 0 failed"), "{}", text(&o));
}

#[test]
fn the_report_follows_a_running_sweep_and_is_complete_at_the_end() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("smoke/report.md");
    let mut child = bin()
        .args(["sweep", smoke().to_str().unwrap(), "--out", tmp.path().to_str().unwrap(), "--jobs", "1"])
        // Long enough that the sweep outlasts the report's first rewrite (5 s) on a fast
        // machine: 6 trials of about 4 s each on the 2-core Xeon VM (debug build).
        .args(["--set", "train.steps=200000", "--set", "train.eval_every=50000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("a report written during the sweep", || report.is_file());
    let during = std::fs::read_to_string(&report).unwrap();
    assert!(child.try_wait().unwrap().is_none(), "the sweep was still running");
    assert!(during.contains("**Partial report**") && during.contains("of 6 trials have a final result"), "{during}");
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let after = std::fs::read_to_string(&report).unwrap();
    assert!(!after.contains("Partial report") && after.contains("6 trials: 6 ok"), "{after}");
}

#[test]
fn fresh_beside_a_running_worker_names_it_and_deletes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("smoke");
    let first = slow_sweep(tmp.path(), &[]);
    wait_for("a claim", || !claims(&dir).is_empty());
    let o = bin()
        .args(["sweep", smoke().to_str().unwrap(), "--out", tmp.path().to_str().unwrap(), "--fresh"])
        .args(["--set", "train.steps=50000", "--set", "train.eval_every=12500"])
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(4), "{t}");
    assert!(t.contains("--fresh would delete their work") && t.contains(&format!("pid {}", first.id())), "{t}");
    // Another spec cannot join it either.
    let o = bin()
        .args(["sweep", smoke().to_str().unwrap(), "--out", tmp.path().to_str().unwrap()])
        .args(["--set", "train.steps=50001", "--set", "train.eval_every=12500"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("with a different spec.toml"), "{}", text(&o));
    let o = first.wait_with_output().unwrap();
    assert!(o.status.success() && ran(&o) == 6, "{}", text(&o));
}

#[test]
fn slurm_missing_is_a_clear_error_with_its_own_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let o = bin()
        .env("PATH", tmp.path())
        .args(["sweep", smoke().to_str().unwrap(), "--out", tmp.path().to_str().unwrap(), "--slurm"])
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(5), "{t}");
    assert!(t.contains("not found") && t.contains("sbatch, squeue, scontrol"), "{t}");
    assert!(!tmp.path().join("smoke/slurm").exists(), "nothing submitted, nothing half-written");
}

#[test]
fn sizes_that_cannot_fit_are_refused_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("huge.toml");
    let src = std::fs::read_to_string(smoke()).unwrap().replace(
        "\"model.cell\" = [\"lstm\", \"gru\", \"rnn\"]",
        "\"model.cell\" = [\"lstm\", \"gru\", \"rnn\"]\n\"model.hidden_size\" = [8, 300000]",
    );
    std::fs::write(&spec, &src).unwrap();
    let line = src.lines().position(|l| l.contains("300000")).unwrap() + 1;
    let o = bin().args(["sweep", spec.to_str().unwrap(), "--out", tmp.path().join("out").to_str().unwrap()]).output();
    let o = o.unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains(&format!("huge.toml:{line}:")) && t.contains("GiB of memory") && t.contains("estimate"), "{t}");
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn a_model_card_that_does_not_match_its_tensors_is_an_error_not_an_abort() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    let o = bin()
        .args(["sweep", smoke().to_str().unwrap(), "--out", out, "--set", "train.steps=2"])
        .args(["--set", "train.save_checkpoint=true", "--set", "experiment.seeds=[0]"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let trial = std::fs::read_dir(tmp.path().join("smoke/trials")).unwrap().next().unwrap().unwrap().path();
    let card = std::fs::read_to_string(trial.join("model.toml")).unwrap();
    let card = card.replace("hidden_size = 8", "hidden_size = 4000000000");
    std::fs::write(trial.join("model.toml"), card).unwrap();
    let input = tmp.path().join("in.csv");
    std::fs::write(&input, "sequence,step,x\na,0,1\n").unwrap();
    let o = bin()
        .args(["predict", "--checkpoint", trial.to_str().unwrap(), "--input", input.to_str().unwrap()])
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("model.toml") && t.contains("does not belong to these tensors"), "{t}");
}

#[test]
fn a_results_folder_that_cannot_be_written_exits_3() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-folder");
    std::fs::write(&file, "").unwrap();
    let o = bin()
        .args(["sweep", smoke().to_str().unwrap(), "--out", file.to_str().unwrap(), "--set", "train.steps=2"])
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(t.contains("not-a-folder") && !t.contains("os error"), "{t}");
}

#[test]
fn a_trial_stopped_mid_way_resumes_from_its_last_evaluation_and_ends_as_an_uninterrupted_one() {
    let (tmp, whole) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // One trial long enough (about 8 s in a debug build on the 2-core Xeon VM) to be stopped
    // between its evaluations.
    let one = [
        "--set",
        "grid.model.cell=[\"gru\"]",
        "--set",
        "experiment.seeds=[0]",
        "--set",
        "train.steps=400000",
        "--set",
        "train.eval_every=50000",
    ];
    let child = slow_sweep(tmp.path(), &one);
    // SIGTERM once the trial has passed its second evaluation (100,000 of 400,000 steps).
    let resume = tmp.path().join("smoke/resume");
    let step = |t: &str| -> usize {
        t.split("step ").nth(1).and_then(|r| r.split('/').next()).and_then(|n| n.parse().ok()).unwrap_or(0)
    };
    let progressed = || {
        std::fs::read_dir(&resume).ok().and_then(|mut d| d.next()).is_some()
            && bin()
                .args(["status", tmp.path().join("smoke").to_str().unwrap()])
                .output()
                .is_ok_and(|o| step(&text(&o)) >= 100_000)
    };
    wait_for("two evaluations", progressed);
    signal(&child, "TERM");
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(143), "{}", text(&o));
    assert_eq!(std::fs::read_dir(&resume).unwrap().count(), 1, "the snapshot stays for the next run");
    // Run again: it continues from the last snapshot and says so.
    let again = slow_sweep(tmp.path(), &one).wait_with_output().unwrap();
    let said = text(&again);
    assert!(again.status.success(), "{said}");
    let from: usize = said
        .split("(resumed from step ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no resume in: {said}"));
    assert!(from >= 100_000 && from.is_multiple_of(50_000) && from < 400_000, "{said}");
    assert_eq!(std::fs::read_dir(&resume).unwrap().count(), 0, "the snapshot is removed with the trial's end");
    // The same trial without interruption: the same curve and metrics, bit for bit.
    let o = slow_sweep(whole.path(), &one).wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let trial = |root: &Path, file: &str| {
        let trials = root.join("smoke/trials");
        let dir = std::fs::read_dir(&trials).unwrap().next().unwrap().unwrap().path();
        std::fs::read_to_string(dir.join(file)).unwrap()
    };
    assert_eq!(trial(tmp.path(), "curve.csv"), trial(whole.path(), "curve.csv"));
    let metrics = |t: String| -> Vec<String> {
        t.lines().filter(|l| !l.contains("seconds") && !l.starts_with("resumed_from")).map(str::to_string).collect()
    };
    assert_eq!(metrics(trial(tmp.path(), "result.toml")), metrics(trial(whole.path(), "result.toml")));
    assert!(trial(tmp.path(), "result.toml").contains("resumed_from = "));
}
