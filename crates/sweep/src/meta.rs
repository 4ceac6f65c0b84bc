//! `meta.toml`: what produced a results folder (versions, machine, command, times).

use std::process::Command;
use std::time::SystemTime;

use rnnlab_spec::vocab::Meta;
use rnnlab_spec::Plan;

use crate::SweepOptions;

/// The dfdx release rnnlab is built against (checked against Cargo.lock in a test).
pub const DFDX_VERSION: &str = "0.13.0";

/// The `meta.toml` of a sweep that starts now.
pub fn start(plan: &Plan, opts: &SweepOptions) -> Meta {
    Meta {
        rnnlab_version: env!("CARGO_PKG_VERSION").into(),
        dfdx_version: DFDX_VERSION.into(),
        git_revision: git_revision(),
        host: rnnlab_spec::files::hostname().to_string(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu: cpu_model(),
        jobs: opts.jobs,
        command: opts.command.clone(),
        spec: plan.spec_path.display().to_string(),
        spec_hash: plan.spec_hash.clone(),
        trials: plan.trials.len(),
        started: now(),
        finished: String::new(),
        trials_run: 0,
    }
}

/// Records the end of the sweep.
pub fn finish(meta: &mut Meta, trials_run: usize) {
    meta.finished = now();
    meta.trials_run = trials_run;
}

fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

fn git_revision() -> String {
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "--short=12", "HEAD"]) {
        Some(rev) => match run(&["status", "--porcelain", "--untracked-files=no"]) {
            Some(s) if !s.is_empty() => format!("{rev}-dirty"),
            _ => rev,
        },
        None => "unknown".into(),
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn dfdx_version_matches_the_lock_file() {
        let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock")).unwrap();
        let expected = format!("name = \"dfdx\"\nversion = \"{}\"", super::DFDX_VERSION);
        assert!(lock.contains(&expected), "update DFDX_VERSION to the dfdx in Cargo.lock");
    }
}
