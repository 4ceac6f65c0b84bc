//! What a command prints of a results folder: the report written, its summary table, the
//! comparison, the best trials and the published figures.

use std::path::Path;

use rnnlab_spec::Plan;

/// Writes the report (under the folder lock: other workers may write it too) and prints its
/// summary.
pub fn print_summary(dir: &Path, plan: &Plan) -> anyhow::Result<()> {
    if !dir.join("runs.csv").exists() {
        return Ok(());
    }
    let report = {
        let _lock = rnnlab_sweep::ResultsDir::new(dir.to_path_buf()).lock()?;
        rnnlab_report::write_report(dir, &plan.report)?
    };
    println!("\n{}", plan.experiment.name);
    print_report(&report);
    Ok(())
}

/// The summary table, one line per published figure, and where the report files are.
pub fn print_report(report: &rnnlab_report::Report) {
    print!("{}", report.summary);
    if let Some(versus) = &report.versus {
        println!("{} on {} (P: a seed of the first beats a seed of the second):", versus.axis, versus.metric);
        for pair in &versus.pairs {
            println!("  {}", versus.sentence(pair));
        }
    }
    for b in &report.best {
        println!("best {}", b.sentence());
    }
    for line in report.best.iter().filter_map(|b| b.predict_line(&b.folder)) {
        println!("  {line}");
    }
    for c in &report.published {
        let at = if c.point.is_empty() { String::new() } else { format!(" at {}", c.point) };
        let ours = match &c.ours {
            Some(s) => match rnnlab_report::published::ci95(s) {
                Some(h) => format!("ours {:.4} ± {h:.4} (95% CI, n = {})", s.mean, s.n),
                None => format!("ours {:.4} (n = {})", s.mean, s.n),
            },
            None => "no data".into(),
        };
        println!(
            "published {} = {} ± {}{at}: {ours} → {}   [{}]",
            c.entry.metric, c.entry.value, c.entry.tolerance, c.verdict, c.entry.source
        );
    }
    let partial = if report.partial { " — partial: trials are still running or missing" } else { "" };
    println!("report: {} and {} ({} plots){partial}", report.path.display(), report.html.display(), report.plots.len());
}

/// `rnnlab report` on a folder of results folders: each one's report, then index.md/html.
pub fn report_collection(dir: &Path) -> anyhow::Result<()> {
    let index = rnnlab_report::index::write_index(dir, |folder| {
        let write = || -> anyhow::Result<rnnlab_report::Report> {
            let config = rnnlab_report::report_config(folder)?;
            let _lock = rnnlab_sweep::ResultsDir::new(folder.to_path_buf()).lock()?;
            Ok(rnnlab_report::write_report(folder, &config)?)
        };
        write().map_err(|e| format!("{e:#}"))
    })?;
    for (folder, report) in &index.experiments {
        match report {
            Ok(r) => println!("{folder}: {}{}", r.path.display(), if r.partial { " (partial)" } else { "" }),
            Err(e) => println!("{folder}: no report: {e}"),
        }
    }
    let [reproduced, better, worse, no_data] = index.verdict_counts();
    println!(
        "published figures: {reproduced} reproduced, {better} better, {worse} worse, {no_data} no data\n\
         index: {} and {}",
        index.md.display(),
        index.html.display()
    );
    Ok(())
}
