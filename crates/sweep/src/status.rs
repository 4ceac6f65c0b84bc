//! What a results folder says of its sweep: trials done, running (where, for how long, at which
//! step), pending, failed, and stale claims. `rnnlab status` prints it.

use std::collections::HashMap;
use std::time::Duration;

use rnnlab_spec::{Plan, Status};

use crate::claims::{self, ClaimView};
use crate::results::{ResultsDir, ResultsError};

/// A sweep's state, read from its folder.
#[derive(Debug, Clone)]
pub struct SweepStatus {
    pub total: usize,
    pub ok: usize,
    pub diverged: usize,
    pub failed: usize,
    /// Other final statuses (pruned, interrupted).
    pub other: usize,
    /// Live claims of trials without a final result.
    pub running: Vec<ClaimView>,
    /// Claims whose worker is gone or silent: their trials are claimable.
    pub stale: Vec<ClaimView>,
    /// Neither final nor running.
    pub pending: usize,
}

impl SweepStatus {
    pub fn done(&self) -> usize {
        self.ok + self.diverged + self.other
    }
}

/// Reads the state of `plan`'s trials in `dir`.
pub fn read(dir: &ResultsDir, plan: &Plan, timeout: Duration) -> Result<SweepStatus, ResultsError> {
    let claims: HashMap<String, ClaimView> = claims::list(&dir.root.join(rnnlab_spec::vocab::layout::CLAIMS), timeout)
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let mut s = SweepStatus {
        total: plan.trials.len(),
        ok: 0,
        diverged: 0,
        failed: 0,
        other: 0,
        running: Vec::new(),
        stale: Vec::new(),
        pending: 0,
    };
    for trial in &plan.trials {
        let record = dir.record(&trial.id)?;
        let status = record.as_ref().map(|r| r.status);
        match status {
            Some(Status::Ok) => s.ok += 1,
            Some(Status::Diverged) => s.diverged += 1,
            Some(st) if st.is_final() => s.other += 1,
            _ => {
                if status == Some(Status::Failed) {
                    s.failed += 1;
                }
                match claims.get(&trial.id) {
                    Some(c) if !c.stale => s.running.push(c.clone()),
                    Some(c) => {
                        s.stale.push(c.clone());
                        s.pending += 1;
                    }
                    None => s.pending += usize::from(status != Some(Status::Failed)),
                }
            }
        }
    }
    Ok(s)
}

/// One line per claim: `<id> on <host> pid <pid> [job <job>] for <time>, step <s>/<n>`.
pub fn describe_claim(c: &ClaimView) -> String {
    match &c.info {
        Some(i) => {
            let job = if i.job.is_empty() { String::new() } else { format!(" job {}", i.job) };
            let since = humantime::parse_rfc3339(&i.started)
                .ok()
                .and_then(|t| std::time::SystemTime::now().duration_since(t).ok())
                .map(|d| humantime::format_duration(Duration::from_secs(d.as_secs())).to_string())
                .unwrap_or_else(|| "?".into());
            let step = if i.total_steps > 0 { format!(", step {}/{}", i.step, i.total_steps) } else { String::new() };
            format!("{} on {} pid {}{job}, for {since}{step}", c.id, i.host, i.pid)
        }
        None => format!("{} (claim unreadable)", c.id),
    }
}

/// The running claims in a sentence (at most three named).
pub fn describe(claims: &[ClaimView]) -> String {
    let mut parts: Vec<String> = claims.iter().take(3).map(describe_claim).collect();
    if claims.len() > 3 {
        parts.push(format!("and {} more", claims.len() - 3));
    }
    parts.join("; ")
}
