//! A results folder under hostile conditions: planted links, litter from killed runs, `--fresh`
//! beside a running worker, damaged result files.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use rnnlab_spec::{Override, Plan};
use rnnlab_sweep::claims::DEFAULT_TIMEOUT;
use rnnlab_sweep::{Builtin, Claims, Quiet, ResultsDir, ResultsError, SweepError, SweepOptions};

fn smoke(sets: &[&str]) -> Plan {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/smoke.toml");
    let overrides: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
    rnnlab_spec::load(&spec, &overrides, &Builtin).unwrap()
}

fn options(out: &Path) -> SweepOptions {
    SweepOptions::new(out.to_path_buf(), 1, "test".into())
}

fn sweep(plan: &Plan, opts: &SweepOptions) -> Result<rnnlab_sweep::SweepOutcome, SweepError> {
    rnnlab_sweep::run(plan, opts, &AtomicBool::new(false), &Quiet)
}

/// A pid that no process has (above the kernel's maximum, 2^22).
const DEAD: u32 = 4_194_305;

#[test]
fn links_planted_in_a_results_folder_never_lead_writes_outside_it() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let dir = tmp.path().join("out/smoke");
    std::fs::create_dir_all(&dir).unwrap();
    // At every name the old writer used (`.<name>.tmp-<pid>` for a guessable pid) and at the
    // destinations themselves.
    for name in ["runs.csv", "spec.toml", "meta.toml", "report.md", "report.html"] {
        symlink(&victim, dir.join(name)).unwrap();
        for pid in std::process::id()..std::process::id() + 50 {
            let _ = symlink(&victim, dir.join(format!(".{name}.tmp-{pid}")));
        }
    }
    let plan = smoke(&["train.steps=2"]);
    sweep(&plan, &options(&tmp.path().join("out"))).unwrap();
    rnnlab_report::write_report(&dir, &plan.report).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    for name in ["runs.csv", "spec.toml", "meta.toml", "report.md", "report.html"] {
        let meta = std::fs::symlink_metadata(dir.join(name)).unwrap();
        assert!(meta.is_file(), "{name} is a regular file again");
    }
}

#[test]
fn linked_trials_or_plots_folders_are_refused_and_nothing_outside_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("keep.svg"), "<svg/>").unwrap();
    let dir = tmp.path().join("out/smoke");
    std::fs::create_dir_all(&dir).unwrap();
    symlink(&elsewhere, dir.join("trials")).unwrap();
    let plan = smoke(&["train.steps=2"]);
    let e = sweep(&plan, &options(&tmp.path().join("out"))).unwrap_err().to_string();
    assert!(e.contains("trials") && e.contains("symbolic link"), "{e}");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 1);

    // A real trials/ but plots/ linked: the report (with curves to draw) neither writes nor
    // deletes through it.
    std::fs::remove_file(dir.join("trials")).unwrap();
    let plan = smoke(&["train.steps=20"]);
    sweep(&plan, &options(&tmp.path().join("out"))).unwrap();
    symlink(&elsewhere, dir.join("plots")).unwrap();
    let e = rnnlab_report::write_report(&dir, &plan.report).unwrap_err().to_string();
    assert!(e.contains("plots") && e.contains("symbolic link"), "{e}");
    let left: Vec<_> = std::fs::read_dir(&elsewhere).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["keep.svg"]);
}

#[test]
fn litter_of_killed_runs_is_removed_by_the_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("smoke");
    std::fs::create_dir_all(dir.join("trials")).unwrap();
    let half = dir.join(format!("trials/.tmp-0123456789-{DEAD}"));
    let tagged = dir.join(format!("trials/.tmp-0123456789-{DEAD}.{}-Ab12Cd34", rnnlab_spec::files::host_tag()));
    std::fs::create_dir(&tagged).unwrap();
    std::fs::create_dir(&half).unwrap();
    std::fs::write(half.join("trial.toml"), "half").unwrap();
    std::fs::write(dir.join(format!(".runs.csv.tmp-{DEAD}")), "half").unwrap();
    std::fs::write(dir.join(format!(".meta.toml.tmp-{DEAD}-a1B2c3D4")), "half").unwrap();
    sweep(&smoke(&["train.steps=2"]), &options(tmp.path())).unwrap();
    let names = |p: &Path| -> Vec<String> {
        std::fs::read_dir(p).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
    };
    assert!(names(&dir).iter().all(|n| !n.contains(".tmp-")), "{:?}", names(&dir));
    assert!(names(&dir.join("trials")).iter().all(|n| !n.starts_with('.')), "{:?}", names(&dir.join("trials")));
}

#[test]
fn fresh_beside_a_live_worker_deletes_nothing_and_a_plain_sweep_joins_it() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = smoke(&["train.steps=2"]);
    let dir = ResultsDir::new(tmp.path().join("smoke"));
    std::fs::create_dir_all(&dir.root).unwrap();
    // Another worker (here: claims of this process, alive) runs the first trial.
    let other = Claims::open(&dir, DEFAULT_TIMEOUT).unwrap();
    let busy = &plan.trials[0].id;
    assert!(other.try_claim(busy, &dir).unwrap());
    let joined = sweep(&plan, &options(tmp.path())).unwrap();
    assert_eq!((joined.ran, joined.missing, joined.total), (5, 1, 6), "the claimed trial is left to its worker");
    let e = sweep(&plan, &SweepOptions { fresh: true, ..options(tmp.path()) }).unwrap_err();
    let SweepError::Results(ResultsError::Busy { running, .. }) = &e else { panic!("{e}") };
    assert!(running.contains(busy.as_str()) && running.contains(&format!("pid {}", std::process::id())), "{running}");
    assert!(e.to_string().contains("--fresh would delete their work"), "{e}");
    assert_eq!(std::fs::read_dir(tmp.path().join("smoke/trials")).unwrap().count(), 5, "--fresh deleted nothing");
    // Joining with other `[slurm]` options is joining the same trials; other trials are refused.
    let same = smoke(&["train.steps=2", "slurm.partition=other"]);
    assert_eq!(sweep(&same, &options(tmp.path())).unwrap().missing, 1);
    let e = sweep(&smoke(&["train.steps=3"]), &options(tmp.path())).unwrap_err();
    assert!(matches!(e, SweepError::Results(ResultsError::SpecChanged { .. })), "{e}");
    other.release(busy);
    let rest = sweep(&plan, &options(tmp.path())).unwrap();
    assert_eq!((rest.ran, rest.skipped, rest.missing), (1, 5, 0));
    let again = sweep(&plan, &SweepOptions { fresh: true, ..options(tmp.path()) }).unwrap();
    assert_eq!(again.ran, 6);
}

#[test]
fn a_waiting_worker_takes_over_the_trial_of_a_silent_worker_on_another_host() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = smoke(&["train.steps=2"]);
    let claims = tmp.path().join("smoke/claims");
    std::fs::create_dir_all(&claims).unwrap();
    let silent = "host = \"elsewhere\"\npid = 1\nstarted = \"2026-01-01T00:00:00Z\"\n\
                  heartbeat = \"2026-01-01T00:00:00Z\"\ntoken = \"theirs\"\n";
    std::fs::write(claims.join(format!("{}.toml", plan.trials[0].id)), silent).unwrap();
    let timeout = std::time::Duration::from_secs(5);
    // Without --wait the worker leaves the claimed trial to its worker ...
    let left = sweep(&plan, &SweepOptions { claim_timeout: timeout, ..options(tmp.path()) }).unwrap();
    assert_eq!((left.ran, left.missing, left.running_elsewhere), (5, 1, 1));
    // ... with --wait it waits until the claim's heartbeat is older than the timeout, then runs it.
    let t0 = std::time::Instant::now();
    let waited = sweep(&plan, &SweepOptions { wait: true, claim_timeout: timeout, ..options(tmp.path()) }).unwrap();
    assert_eq!((waited.ran, waited.missing), (1, 0));
    assert!(t0.elapsed() >= std::time::Duration::from_millis(500), "it waited for the claim to go stale");
    assert!(std::fs::read_dir(&claims).unwrap().next().is_none(), "the taken-over claim is gone");
}

#[test]
fn a_result_with_an_unknown_status_is_not_final() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = smoke(&["train.steps=2"]);
    sweep(&plan, &options(tmp.path())).unwrap();
    let result = tmp.path().join("smoke/trials").join(&plan.trials[0].id).join("result.toml");
    let text = std::fs::read_to_string(&result).unwrap().replace("status = \"ok\"", "status = \"exploded\"");
    std::fs::write(&result, text).unwrap();
    let again = sweep(&plan, &options(tmp.path())).unwrap();
    assert_eq!((again.ran, again.skipped), (1, 5));
}

#[test]
fn failed_trials_are_retried_by_the_next_sweep_not_by_every_worker_of_this_one() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = smoke(&["train.steps=2"]);
    sweep(&plan, &options(tmp.path())).unwrap();
    let result = tmp.path().join("smoke/trials").join(&plan.trials[0].id).join("result.toml");
    let failed = std::fs::read_to_string(&result).unwrap().replace("status = \"ok\"", "status = \"failed\"");
    std::fs::write(&result, &failed).unwrap();
    // Failed before this sweep started: run again.
    let again = sweep(&plan, &options(tmp.path())).unwrap();
    assert_eq!((again.ran, again.skipped), (1, 5));
    // Failed while this sweep runs (another worker's result, written after this one started):
    // left for the next sweep.
    std::fs::write(&result, &failed).unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&result).unwrap().set_modified(later).unwrap();
    let joined = sweep(&plan, &options(tmp.path())).unwrap();
    assert_eq!((joined.ran, joined.missing, joined.running_elsewhere), (0, 1, 0));
}

#[test]
fn a_damaged_or_deleted_curve_fails_the_report_and_its_trial_runs_again() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = smoke(&["train.steps=20"]);
    sweep(&plan, &options(tmp.path())).unwrap();
    let dir = tmp.path().join("smoke");
    let curve = |i: usize| dir.join("trials").join(&plan.trials[i].id).join("curve.csv");
    let text = std::fs::read_to_string(curve(0)).unwrap();
    std::fs::write(curve(0), text.replacen(",0.", ",zero.", 1)).unwrap();
    let e = rnnlab_report::write_report(&dir, &plan.report).unwrap_err().to_string();
    assert!(e.contains(&curve(0).display().to_string()) && e.contains("line 2: `"), "{e}");
    assert!(e.contains("is `zero."), "{e}");
    std::fs::remove_file(curve(1)).unwrap();
    // Neither trial is done: the next sweep runs both again, and the report is whole.
    let again = sweep(&plan, &options(tmp.path())).unwrap();
    assert_eq!(again.ran, 2);
    assert!(rnnlab_spec::vocab::layout::curve_damage(&std::fs::read_to_string(curve(0)).unwrap()).is_none());
    assert!(curve(1).is_file());
    rnnlab_report::write_report(&dir, &plan.report).unwrap();
}
