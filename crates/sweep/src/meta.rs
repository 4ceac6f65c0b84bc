//! `meta.toml`: what produced a results folder (versions, machine, command, times).

use std::process::Command;
use std::time::SystemTime;

use serde::Serialize;

use rnnlab_spec::Plan;

use crate::SweepOptions;

/// The dfdx release rnnlab is built against (checked against Cargo.lock in a test).
pub const DFDX_VERSION: &str = "0.13.0";

/// The contents of `meta.toml`.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    pub rnnlab_version: String,
    pub dfdx_version: String,
    pub git_revision: String,
    pub host: String,
    pub cores: usize,
    pub cpu: String,
    pub jobs: usize,
    pub command: String,
    pub spec: String,
    pub spec_hash: String,
    pub trials: usize,
    pub started: String,
    pub finished: String,
    pub trials_run: usize,
}

impl Meta {
    pub fn new(plan: &Plan, opts: &SweepOptions) -> Self {
        Meta {
            rnnlab_version: env!("CARGO_PKG_VERSION").into(),
            dfdx_version: DFDX_VERSION.into(),
            git_revision: git_revision(),
            host: std::fs::read_to_string("/etc/hostname")
                .map(|s| s.trim().to_string())
                .or_else(|_| std::env::var("HOSTNAME"))
                .unwrap_or_else(|_| "unknown".into()),
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

    pub fn finish(&mut self, trials_run: usize) {
        self.finished = now();
        self.trials_run = trials_run;
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("meta serialises")
    }
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
