//! What the commands share: the spec argument and its loading (errors printed, located), the
//! claim timeout of the commands that read claims, and the exit codes.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use rnnlab_spec::{LoadError, Override, Plan};
use rnnlab_sweep::WithData;

#[derive(Args)]
pub struct SpecArgs {
    /// The experiment spec (TOML).
    pub spec: PathBuf,
    /// Override a key of the spec: `--set model.hidden_size=32`, `--set 'grid.model.cell=["gru"]'`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// Exit codes (docs/results.md, "Exit codes"): 0 done, 1 some trial failed, 2 invalid spec or input,
/// 3 the results folder could not be read or written, 4 the results folder is busy (`--fresh`
/// beside running workers, or joining them with other trials), 5 Slurm refused or is missing,
/// 128 + N interrupted by signal N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP, 138 SIGUSR1).
pub mod exit {
    pub const TRIAL_FAILED: u8 = 1;
    pub const INVALID: u8 = 2;
    pub const RESULTS_IO: u8 = 3;
    pub const BUSY: u8 = 4;
    pub const SLURM: u8 = 5;
}

#[derive(Args)]
pub struct ClaimArgs {
    /// Seconds without a heartbeat after which a worker's claim on a trial is taken over by
    /// another worker (a worker on this host that is gone is detected at once).
    #[arg(long, value_name = "SECS", default_value_t = rnnlab_sweep::claims::DEFAULT_TIMEOUT.as_secs())]
    pub claim_timeout: u64,
}

impl ClaimArgs {
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs(self.claim_timeout.max(1))
    }
}

/// Loads and checks a spec; prints its errors and returns `None` when it is invalid.
pub fn load(args: &SpecArgs) -> anyhow::Result<Option<Plan>> {
    let mut overrides = Vec::new();
    for text in &args.set {
        match Override::parse(text) {
            Ok(o) => overrides.push(o),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(None);
            }
        }
    }
    match rnnlab_spec::load(&args.spec, &overrides, &WithData) {
        Ok(plan) => Ok(Some(plan)),
        Err(LoadError::Invalid(errors)) => {
            eprint!("error: {errors}");
            eprintln!("nothing was run");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}
