//! Commands on a results folder: `status` (who runs what) and `collect` (runs.csv and the
//! report rebuilt from the trial folders), and the plan a folder was swept with.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use rnnlab_spec::Plan;
use rnnlab_sweep::status::{self, SweepStatus};
use rnnlab_sweep::{Builtin, ResultsDir};

use crate::args::ClaimArgs;
use crate::summary::print_summary;

#[derive(Args)]
pub struct StatusArgs {
    /// The results folder (e.g. results/parity).
    dir: PathBuf,
    /// Refresh every two seconds until no trial is running or pending (Ctrl-C to leave).
    #[arg(long)]
    watch: bool,
    #[command(flatten)]
    claims: ClaimArgs,
}

/// The plan a results folder was swept with (its `spec.toml`), and the folder's root.
pub(crate) fn folder_plan(dir: &Path) -> anyhow::Result<(Plan, PathBuf)> {
    let spec = dir.join(rnnlab_spec::vocab::layout::SPEC);
    if !spec.is_file() {
        anyhow::bail!("{} has no spec.toml: it is not a results folder (e.g. results/parity)", dir.display());
    }
    let mut plan = match rnnlab_spec::load(&spec, &[], &Builtin) {
        Ok(p) => p,
        Err(e) => anyhow::bail!("{} no longer loads: {e}", spec.display()),
    };
    rnnlab_sweep::tpe::extend(&mut plan, &ResultsDir::new(dir.to_path_buf()))?;
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if plan.experiment.name != name {
        anyhow::bail!(
            "{} holds experiment `{}`, not `{name}`: a results folder must keep its experiment's name",
            dir.display(),
            plan.experiment.name
        );
    }
    let root = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    Ok((plan, root))
}

/// `rnnlab collect`: runs.csv and the report rebuilt from the trial folders.
pub fn collect(dir: &Path) -> anyhow::Result<ExitCode> {
    let (plan, _) = folder_plan(dir)?;
    let rows = rnnlab_sweep::collect(&plan, &ResultsDir::new(dir.to_path_buf()))?;
    println!("{rows} of {} trials have results in {}", plan.trials.len(), dir.display());
    print_summary(dir, &plan)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn one_line(s: &SweepStatus) -> String {
    format!(
        "{} trials: {} done ({} ok, {} diverged{}), {} running, {} pending, {} failed",
        s.total,
        s.done(),
        s.ok,
        s.diverged,
        if s.other > 0 { format!(", {} pruned", s.other) } else { String::new() },
        s.running.len(),
        s.pending,
        s.failed
    )
}

/// `rnnlab status`: the folder's trials, and who runs what.
pub fn show_status(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let (plan, _) = folder_plan(&args.dir)?;
    let dir = ResultsDir::new(args.dir.clone());
    let terminal = std::io::stdout().is_terminal();
    loop {
        let s = status::read(&dir, &plan, args.claims.timeout())?;
        let mut text = format!("{} ({}): {}\n", plan.experiment.name, args.dir.display(), one_line(&s));
        let label = |id: &str| {
            plan.trials.iter().find(|t| t.id == id).map(|t| {
                let p = t.point_label();
                if p.is_empty() {
                    format!("seed {}", t.config.seed)
                } else {
                    format!("{p}, seed {}", t.config.seed)
                }
            })
        };
        for (title, list) in [("running", &s.running), ("stale claims (claimable by any worker)", &s.stale)] {
            if !list.is_empty() {
                text.push_str(&format!("{title}:\n"));
                for c in list {
                    let what = label(&c.id).unwrap_or_default();
                    text.push_str(&format!(
                        "  {}  ({what}; heartbeat {} s ago)\n",
                        status::describe_claim(c),
                        c.age.as_secs()
                    ));
                }
            }
        }
        if args.watch && terminal {
            print!("\x1b[2J\x1b[H");
        }
        print!("{text}");
        if !args.watch || (s.running.is_empty() && s.pending == 0) {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}
