//! `rnnlab sweep --slurm`: a sweep as Slurm job arrays whose elements are workers of the results
//! folder (one trial each), plus a collection job that rebuilds runs.csv and the report.
//!
//! ```text
//! results/<name>/slurm/
//!   job.sh               the script every element runs: `exec rnnlab worker …` (so rnnlab gets the signals)
//!   manifest-000.txt     trial ids, one per line; element i runs line i
//!   submissions.toml     every sbatch call: arguments, job id or error, time
//!   logs/%A_%a.out       each element's output (appended across requeues)
//! ```
//!
//! Only files are state: `sacct` is not used (accounting is often off) and `squeue` only to
//! learn which submitted elements are still queued or running, so that re-running the command
//! submits exactly the trials with no result, no live claim and no queued element. A manifest
//! holds at most `MaxArraySize` ids (the limit caps the array index, not the count).
//!
//! (Over 300 lines: submission, its records and the job script are one conversation with
//! sbatch; splitting it would scatter the invariants above.)

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use rnnlab_spec::vocab::layout;
use rnnlab_spec::{Plan, SlurmConfig};

use crate::claims::Claims;
use crate::results::{ResultsDir, ResultsError};

/// Errors from Slurm's commands, with what to do about them.
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    #[error("`{command}` not found: --slurm needs Slurm's client commands (sbatch, squeue, scontrol) on PATH; on a cluster, run this on a login node")]
    NotInstalled { command: String },
    #[error("`{command}` failed: {message}")]
    Failed { command: String, message: String },
    #[error(transparent)]
    Results(#[from] ResultsError),
}

/// What one `submit` did.
#[derive(Debug, Clone, Default)]
pub struct Submitted {
    /// `(job id, manifest, trials)` of each array submitted now.
    pub arrays: Vec<(String, String, usize)>,
    /// The collection job's id (when arrays were submitted).
    pub collect: Option<String>,
    /// Trials already queued or running from earlier submissions.
    pub queued: usize,
    /// Trials with a final result.
    pub done: usize,
}

/// One sbatch call, as `submissions.toml` records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Submission {
    pub submitted: String,
    /// `array` or `collect`.
    pub kind: String,
    #[serde(default)]
    pub manifest: String,
    #[serde(default)]
    pub trials: usize,
    /// The job id; empty when sbatch failed.
    #[serde(default)]
    pub job: String,
    #[serde(default)]
    pub error: String,
    pub args: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Submissions {
    #[serde(default)]
    submission: Vec<Submission>,
}

/// Runs a Slurm command and returns its standard output.
pub fn command(program: &str, args: &[String]) -> Result<String, SlurmError> {
    let shown = || format!("{program} {}", args.join(" "));
    let out = Command::new(program).args(args).output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => SlurmError::NotInstalled { command: program.into() },
        _ => SlurmError::Failed { command: shown(), message: e.to_string() },
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let message = if err.is_empty() { format!("exit status {}", out.status) } else { err };
        return Err(SlurmError::Failed { command: shown(), message });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `MaxArraySize` from `scontrol show config` (Slurm's default, 1001, if it is not listed).
pub fn max_array_size() -> Result<usize, SlurmError> {
    let config = command("scontrol", &["show".into(), "config".into()])?;
    Ok(config
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == "MaxArraySize").then(|| v.trim().parse().ok()).flatten()
        })
        .unwrap_or(1001))
}

/// The job name of a results folder's elements: the experiment and a hash of the folder's
/// absolute path (two folders of one experiment do not mix).
pub fn job_name(dir: &Path) -> String {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let hash = rnnlab_spec::short_hash(&abs.to_string_lossy());
    format!("rnnlab-{name}-{}", &hash[..6])
}

/// Element ids (`<job>_<index>`) of `name` that are still queued or running.
pub fn queued_elements(name: &str) -> Result<Vec<String>, SlurmError> {
    let out = command("squeue", &["-h".into(), "-r".into(), "-n".into(), name.into(), "-o".into(), "%i".into()])?;
    Ok(out.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect())
}

fn slurm_dir(dir: &ResultsDir) -> PathBuf {
    dir.root.join(layout::SLURM)
}

fn read_submissions(dir: &ResultsDir) -> Result<Submissions, ResultsError> {
    let path = slurm_dir(dir).join("submissions.toml");
    match std::fs::read_to_string(&path) {
        Ok(t) => toml::from_str(&t).map_err(|e| ResultsError::Corrupt { path, message: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Submissions::default()),
        Err(error) => Err(ResultsError::Io { path, error }),
    }
}

fn record(dir: &ResultsDir, s: Submission) -> Result<(), ResultsError> {
    let mut all = read_submissions(dir)?;
    all.submission.push(s);
    let text = toml::to_string(&all).expect("submissions serialise");
    crate::results::write_atomic(&slurm_dir(dir).join("submissions.toml"), text.as_bytes())
}

/// Trial ids of the elements in `queued`, through the manifests of earlier submissions.
fn queued_trials(dir: &ResultsDir, queued: &[String]) -> Result<HashSet<String>, ResultsError> {
    let subs = read_submissions(dir)?;
    let mut ids = HashSet::new();
    for element in queued {
        let Some((job, index)) = element.split_once('_') else { continue };
        let Some(sub) = subs.submission.iter().find(|s| s.job == job && s.kind == "array") else { continue };
        let path = slurm_dir(dir).join(&sub.manifest);
        let text = std::fs::read_to_string(&path).map_err(|error| ResultsError::Io { path: path.clone(), error })?;
        // `5` or a pending range such as `[3-7%2]` (squeue -r lists elements one by one, but
        // a range is read too).
        let index = index.trim_matches(['[', ']']);
        let index = index.split('%').next().unwrap_or(index);
        let (lo, hi) = match index.split_once('-') {
            Some((a, b)) => (a.parse().unwrap_or(0), b.parse().unwrap_or(0)),
            None => {
                let i: usize = index.parse().unwrap_or(usize::MAX);
                (i, i)
            }
        };
        for (i, id) in text.lines().enumerate() {
            if (lo..=hi).contains(&i) {
                ids.insert(id.trim().to_string());
            }
        }
    }
    Ok(ids)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The job script (the same for every submission of a folder).
fn job_script(exe: &Path, dir: &Path) -> String {
    let exe = shell_quote(&exe.to_string_lossy());
    let dir = shell_quote(&dir.to_string_lossy());
    format!(
        "#!/bin/sh\n\
         # Written by `rnnlab sweep --slurm`. An array element runs the trial on line\n\
         # $SLURM_ARRAY_TASK_ID of the manifest given as $1; `collect` rebuilds runs.csv and the\n\
         # report. `exec`, so that rnnlab itself receives Slurm's signals (SIGTERM on preemption\n\
         # or scancel, SIGUSR1 before the time limit).\n\
         if [ \"$1\" = collect ]; then exec {exe} collect {dir}; fi\n\
         exec {exe} worker {dir} --manifest \"$1\" --index \"$SLURM_ARRAY_TASK_ID\" --jobs \"${{SLURM_CPUS_PER_TASK:-1}}\"\n"
    )
}

/// The sbatch options every array element gets from `[slurm]`.
fn options(cfg: &SlurmConfig) -> Vec<String> {
    let mut args = vec![format!("--cpus-per-task={}", cfg.cpus_per_task.unwrap_or(1))];
    if let Some(p) = &cfg.partition {
        args.push(format!("--partition={p}"));
    }
    if let Some(t) = &cfg.time {
        args.push(format!("--time={t}"));
        args.push(format!("--signal=B:USR1@{}", cfg.signal_before.unwrap_or(60)));
    }
    if let Some(m) = &cfg.mem {
        args.push(format!("--mem={m}"));
    }
    args.extend(cfg.extra.iter().cloned());
    args
}

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Submits every trial of `plan` in `dir` that has no final result, no live claim and no
/// queued element, longest first, as arrays of at most `MaxArraySize`, then a collection job
/// after them.
/// Elements run `exe` in `cwd` (where the spec's relative data paths resolve). Every sbatch
/// call is recorded in `slurm/submissions.toml` as soon as it returns.
pub fn submit(plan: &Plan, dir: &ResultsDir, claims: &Claims, exe: &Path, cwd: &Path) -> Result<Submitted, SlurmError> {
    let name = job_name(&dir.root);
    let queued = queued_trials(dir, &queued_elements(&name)?)?;
    let running: HashSet<String> = claims.list().into_iter().filter(|c| !c.stale).map(|c| c.id).collect();
    let mut out = Submitted::default();
    let mut missing = Vec::new();
    // Longest first, as local workers claim them: Slurm starts array elements in index order.
    for i in crate::cost::longest_first(plan.trials.iter().map(|t| &t.config)) {
        let t = &plan.trials[i];
        if dir.record(&t.id)?.is_some_and(|r| r.is_final()) {
            out.done += 1;
        } else if queued.contains(&t.id) || running.contains(&t.id) {
            out.queued += 1;
        } else {
            missing.push(t.id.as_str());
        }
    }
    // A TPE search: one `tpe:<n>` element per trial of the points not drawn yet, less those
    // queued (each draws a point when it starts, or runs a drawn point's trial nobody runs).
    let draws = crate::tpe::remaining(plan, &plan.trials) * plan.experiment.seeds.len();
    let queued_draws = queued.iter().filter(|id| id.starts_with(TPE_LINE)).count();
    out.queued += queued_draws.min(draws);
    let serial = read_submissions(dir)?.submission.iter().map(|s| s.trials).sum::<usize>();
    let draw_lines: Vec<String> =
        (0..draws.saturating_sub(queued_draws)).map(|k| format!("{TPE_LINE}{}", serial + k)).collect();
    missing.extend(draw_lines.iter().map(String::as_str));
    if missing.is_empty() {
        return Ok(out);
    }
    let sdir = slurm_dir(dir);
    let logs = sdir.join("logs");
    for d in [&sdir, &logs] {
        rnnlab_spec::files::real_dir(d).map_err(|error| ResultsError::Io { path: d.clone(), error })?;
    }
    let abs = std::path::absolute(&dir.root).unwrap_or_else(|_| dir.root.clone());
    let script = sdir.join("job.sh");
    crate::results::write_atomic(&script, job_script(exe, &abs).as_bytes())?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .map_err(|error| ResultsError::Io { path: script.clone(), error })?;
    }
    let chunk = max_array_size()?.max(1);
    let first = std::fs::read_dir(&sdir)
        .map(|es| es.flatten().filter(|e| e.file_name().to_string_lossy().starts_with("manifest-")).count())
        .unwrap_or(0);
    let cwd = cwd.to_string_lossy();
    let common =
        |job_name: &str| vec!["--parsable".to_string(), format!("--job-name={job_name}"), format!("--chdir={cwd}")];
    for (k, ids) in missing.chunks(chunk).enumerate() {
        let manifest = format!("manifest-{:03}.txt", first + k);
        let text: String = ids.iter().map(|id| format!("{id}\n")).collect();
        crate::results::write_atomic(&sdir.join(&manifest), text.as_bytes())?;
        let mut args = common(&name);
        let limit = plan.slurm.array_parallelism.map(|p| format!("%{p}")).unwrap_or_default();
        args.push(format!("--array=0-{}{limit}", ids.len() - 1));
        args.push(format!("--output={}/logs/%A_%a.out", sdir.display()));
        args.extend(["--open-mode=append".into(), "--requeue".into()]);
        args.extend(options(&plan.slurm));
        args.extend([script.display().to_string(), manifest.clone()]);
        let job = sbatch(dir, "array", &manifest, ids.len(), args)?;
        out.arrays.push((job, manifest, ids.len()));
    }
    let after: Vec<&str> = out.arrays.iter().map(|(j, _, _)| j.as_str()).collect();
    let mut args = common(&format!("{name}-collect"));
    args.push(format!("--dependency=afterany:{}", after.join(":")));
    args.push(format!("--output={}/logs/collect-%j.out", sdir.display()));
    args.extend(["--cpus-per-task=1".to_string()]);
    if let Some(p) = &plan.slurm.partition {
        args.push(format!("--partition={p}"));
    }
    args.extend(plan.slurm.extra.iter().cloned());
    args.extend([script.display().to_string(), "collect".into()]);
    let job = sbatch(dir, "collect", "", 0, args)?;
    out.collect = Some(job);
    Ok(out)
}

/// Runs `sbatch args` and records the call in `submissions.toml` as soon as it returns, whether
/// it succeeded or not; returns the job id.
fn sbatch(
    dir: &ResultsDir,
    kind: &str,
    manifest: &str,
    trials: usize,
    args: Vec<String>,
) -> Result<String, SlurmError> {
    let result = command("sbatch", &args);
    let (job, error) = match &result {
        Ok(o) => (o.trim().split(';').next().unwrap_or("").to_string(), String::new()),
        Err(e) => (String::new(), e.to_string()),
    };
    record(
        dir,
        Submission {
            submitted: now(),
            kind: kind.into(),
            manifest: manifest.into(),
            trials,
            job: job.clone(),
            error,
            args,
        },
    )?;
    result.map(|_| job)
}

/// A manifest line that is not a trial id but a TPE draw (`tpe:<n>`, n unique in the folder).
pub const TPE_LINE: &str = "tpe:";

/// The trial id on line `index` of `manifest` (a file in the folder's `slurm/`), or a
/// [`TPE_LINE`].
pub fn manifest_trial(dir: &ResultsDir, manifest: &str, index: usize) -> Result<String, ResultsError> {
    let path = slurm_dir(dir).join(manifest);
    let text = std::fs::read_to_string(&path).map_err(|error| ResultsError::Io { path: path.clone(), error })?;
    text.lines().nth(index).map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).ok_or_else(|| {
        ResultsError::Corrupt { path, message: format!("has no line {index} (array index out of range)") }
    })
}

/// Requeues this array element (`scontrol requeue <job>_<task>`), for a trial stopped by
/// SIGUSR1 before the time limit.
pub fn requeue_self() -> Result<(), SlurmError> {
    let job = crate::claims::slurm_job();
    if job.is_empty() {
        return Ok(());
    }
    command("scontrol", &["requeue".into(), job]).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_script_execs_rnnlab_with_quoted_paths() {
        let s = job_script(Path::new("/opt/it's/rnnlab"), Path::new("/data/results/parity"));
        assert!(s.contains("exec '/opt/it'\\''s/rnnlab' worker '/data/results/parity' --manifest \"$1\""), "{s}");
        assert!(s.contains("exec '/opt/it'\\''s/rnnlab' collect"), "{s}");
    }

    #[test]
    fn options_follow_the_slurm_section() {
        let cfg = SlurmConfig {
            partition: Some("gpu".into()),
            time: Some("01:00:00".into()),
            cpus_per_task: Some(4),
            mem: Some("8G".into()),
            array_parallelism: None,
            signal_before: None,
            extra: vec!["--qos=short".into()],
        };
        assert_eq!(
            options(&cfg),
            [
                "--cpus-per-task=4",
                "--partition=gpu",
                "--time=01:00:00",
                "--signal=B:USR1@60",
                "--mem=8G",
                "--qos=short"
            ]
        );
        assert_eq!(options(&SlurmConfig::default()), ["--cpus-per-task=1"]);
    }

    #[test]
    fn missing_commands_are_named() {
        let e = command("rnnlab-no-such-sbatch", &[]).unwrap_err();
        assert!(e.to_string().contains("not found") && e.to_string().contains("login node"), "{e}");
    }
}
