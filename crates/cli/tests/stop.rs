//! How `rnnlab` stops and fails as a process: signals, a busy results folder, sizes that
//! cannot fit, and the exit codes README lists.

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

/// A sweep of 6 trials, one at a time, each long enough (about a second) to be caught running.
fn slow_sweep(out: &Path, extra: &[&str]) -> Child {
    bin()
        .args(["sweep", smoke().to_str().unwrap(), "--out", out.to_str().unwrap(), "--jobs", "1"])
        .args(["--set", "train.steps=20000", "--set", "train.eval_every=5000"])
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

#[test]
fn a_second_sweep_on_a_busy_folder_names_the_holder_or_waits() {
    let tmp = tempfile::tempdir().unwrap();
    let first = slow_sweep(tmp.path(), &[]);
    wait_for("the lock", || std::fs::read_to_string(tmp.path().join("smoke/.lock")).is_ok_and(|t| !t.is_empty()));
    let o = bin()
        .args(["sweep", smoke().to_str().unwrap(), "--out", tmp.path().to_str().unwrap(), "--fresh"])
        .args(["--set", "train.steps=20000", "--set", "train.eval_every=5000"])
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(4), "{t}");
    assert!(t.contains("in use by another sweep") && t.contains(&format!("pid {}", first.id())), "{t}");
    // `--wait` queues behind it and then finds every trial done.
    let second = slow_sweep(tmp.path(), &["--wait"]);
    let o = first.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = second.wait_with_output().unwrap();
    assert!(o.status.success() && text(&o).contains("nothing to do"), "{}", text(&o));
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
