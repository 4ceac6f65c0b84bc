//! The summary of a hand-made results folder with known values.

use rnnlab_report::summarize;
use rnnlab_spec::ReportConfig;

mod common;
use common::RUNS;

fn summary(config: ReportConfig) -> rnnlab_report::Summary {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("runs.csv"), RUNS).unwrap();
    summarize(dir.path(), &config).unwrap()
}

#[test]
fn aggregates_ok_trials_per_grid_point_and_counts_the_rest() {
    let s = summary(ReportConfig {
        primary: None,
        success: Some("test_accuracy >= 0.95".into()),
        compare: None,
        select: None,
    });
    assert_eq!(s.grid, ["model.cell", "optimizer.lr"]);
    assert_eq!(s.metrics, ["test_accuracy", "test_loss", "train_loss"]);
    // Sorted by mean test accuracy, best first.
    let cells: Vec<&str> = s.rows.iter().map(|r| r.point[0].as_str()).collect();
    assert_eq!(cells, ["lstm", "rnn", "gru"]);
    let lstm = &s.rows[0];
    assert_eq!((lstm.trials, lstm.ok, lstm.diverged, lstm.failed), (3, 2, 1, 0));
    let acc = lstm.stats[0].as_ref().unwrap();
    assert_eq!(acc.n, 2);
    assert!((acc.mean - 0.95).abs() < 1e-12);
    // Sample std of 0.9 and 1.0: sqrt(0.005).
    assert!((acc.std - 0.005f64.sqrt()).abs() < 1e-12, "{}", acc.std);
    assert_eq!((acc.min, acc.max), (0.9, 1.0));
    assert_eq!(lstm.successes, Some(1));
    assert!((lstm.mean_wall_seconds - 1.5).abs() < 1e-12);
    let gru = &s.rows[2];
    assert_eq!((gru.ok, gru.failed), (1, 1));
    assert!(gru.stats[0].as_ref().unwrap().std.is_nan());
    assert_eq!(s.rows[1].point, ["rnn", "0.1"]);
}

#[test]
fn primary_metric_changes_the_order() {
    let s = summary(ReportConfig { primary: Some("train_loss".into()), success: None, compare: None, select: None });
    let cells: Vec<&str> = s.rows.iter().map(|r| r.point[0].as_str()).collect();
    assert_eq!(cells, ["lstm", "gru", "rnn"]);
    assert_eq!(s.rows[0].successes, None);
    // `select` ranks the rows (so picks each cell's best point) and leaves the primary metric.
    let s = summary(ReportConfig { select: Some("train_loss".into()), ..ReportConfig::default() });
    let cells: Vec<&str> = s.rows.iter().map(|r| r.point[0].as_str()).collect();
    assert_eq!(cells, ["lstm", "gru", "rnn"]);
    assert_eq!(
        (s.metrics[s.primary.unwrap()].as_str(), s.metrics[s.rank.unwrap()].as_str()),
        ("test_accuracy", "train_loss")
    );
}

#[test]
fn table_text_shows_mean_std_and_problems() {
    let s = summary(ReportConfig {
        primary: None,
        success: Some("test_accuracy >= 0.95".into()),
        compare: None,
        select: None,
    });
    let text = s.to_string();
    assert!(text.contains("0.9500 ± 0.0707"), "{text}");
    assert!(text.contains("1 diverged, 0 failed"), "{text}");
    assert!(text.contains("1/2"), "{text}");
    let md = s.to_markdown();
    assert_eq!(md.lines().count(), 2 + 3);
}

#[test]
fn missing_runs_csv_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = summarize(dir.path(), &ReportConfig::default()).unwrap_err().to_string();
    assert!(err.contains("runs.csv") && err.contains("has a sweep run here?"), "{err}");
}

#[test]
fn report_md_compares_published_figures_and_lists_problem_trials() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("runs.csv"), RUNS).unwrap();
    std::fs::write(dir.path().join("spec.toml"), common::SPEC).unwrap();
    let config = rnnlab_report::report_config(dir.path()).unwrap();
    let report = rnnlab_report::write_report(dir.path(), &config).unwrap();
    use rnnlab_report::published::Verdict;
    let verdicts: Vec<Verdict> = report.published.iter().map(|c| c.verdict).collect();
    // lstm 0.95 vs 0.96 ± 0.02: reproduced. rnn 0.75 (0.7, 0.8): its CI with t(1) = 12.706 is
    // ±0.635, which contains 0.99: reproduced too, honestly (two seeds say little).
    // No transformer rows: no data.
    assert_eq!(verdicts, [Verdict::Reproduced, Verdict::Reproduced, Verdict::NoData]);
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.starts_with("# demo\n\nhand-made\n"), "{md}");
    assert!(md.contains("7 trials: 5 ok, 1 diverged, 1 failed."), "{md}");
    assert!(md.contains("| model.cell=lstm | test_accuracy | 0.96 | 0.02 |"), "{md}");
    assert!(md.contains("**no data** | Paper C |"), "{md}");
    // The verdicts first: the published figures open the report, then the cell comparison.
    let (published, versus) = (md.find("## Published figures").unwrap(), md.find("## Which `model.cell`").unwrap());
    assert!(published < versus && published < md.find("## Results").unwrap(), "{md}");
    assert!(md.contains("| b1 | failed | panicked: boom, badly |"), "{md}");
    assert!(md.contains("| a2 | diverged | loss became NaN at step 3 |"), "{md}");
    // lstm 0.90, 1.00: mean 0.95, std 0.0707, t(1) = 12.706 → ± 0.6353, shown clipped to 1.
    assert!(md.contains("| 0.9500 [0.3147, 1.0000] | 2 |"), "{md}");
    // The bootstrap means of two seeds are 0.9, 0.95 and 1.0 (a quarter, a half, a quarter):
    // the interval is [0.9, 1.0], and with two values the median and IQM are the mean.
    let robust = "| lstm | 0.1 | 2 | 0.9500 [0.9000, 1.0000] | 0.9500 [0.9000, 1.0000] | 0.9500 [0.9000, 1.0000] |";
    // One success of two: Wilson [0.09, 0.91].
    assert!(md.contains(&format!("{robust} 1/2 [0.09, 0.91] |")), "{md}");
    // Each cell's best grid point is a contender of the cell comparison (no separate section).
    assert!(!md.contains("## Best grid point per cell"), "{md}");
    assert!(md.contains("| rnn | model.cell=rnn, optimizer.lr=0.1 | 2 | 0.7500 [0.7000, 0.8000] |"), "{md}");
}

#[test]
fn validation_columns_are_summarised_and_early_stopping_selections_are_counted() {
    // Two columns more, as a sweep with a validation split and early stopping writes them.
    let mut runs = String::new();
    for (i, line) in RUNS.lines().enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        let extra = match (i, fields.get(4).copied()) {
            (0, _) => "valid_accuracy,selected_step".to_string(),
            (_, Some("ok")) => format!("{},5", fields[8]),
            _ => ",".to_string(),
        };
        runs += &format!("{line},{extra}\n");
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("runs.csv"), runs).unwrap();
    let s = summarize(dir.path(), &ReportConfig::default()).unwrap();
    assert_eq!(s.metrics, ["test_accuracy", "test_loss", "valid_accuracy", "train_loss"]);
    assert_eq!(s.selected, 5, "the ok trials have a selected step");
    let lstm = &s.rows[0];
    assert_eq!(lstm.stats[2].as_ref().map(|v| (v.n, v.min, v.max)), Some((2, 0.9, 1.0)));
    assert_eq!(summary(ReportConfig::default()).selected, 0);
}

#[test]
fn a_sweep_whose_trials_all_failed_says_so_and_is_not_partial() {
    let dir = tempfile::tempdir().unwrap();
    let runs = "trial_id,model.cell,seed,status,message,train_loss,test_loss,test_accuracy,steps,wall_seconds,params\n\
                a0,lstm,0,failed,no column `x4`,,,,0,0.1,0\n\
                b0,gru,0,failed,no column `x4`,,,,0,0.1,0\n";
    std::fs::write(dir.path().join("runs.csv"), runs).unwrap();
    std::fs::write(dir.path().join("spec.toml"), "[experiment]\nname = 'mine'\n").unwrap();
    std::fs::write(dir.path().join("meta.toml"), "trials = 2\n").unwrap();
    let report = rnnlab_report::write_report(dir.path(), &ReportConfig::default()).unwrap();
    let md = std::fs::read_to_string(&report.path).unwrap();
    assert!(!report.partial && !md.contains("Partial report"), "{md}");
    assert!(md.contains("**Every trial failed**"), "{md}");
    // The comparison section does not vanish: it says why there is none.
    assert!(md.contains("No comparison of `model.cell`"), "{md}");
}

#[test]
fn grid_points_whose_trials_were_all_pruned_share_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut runs = String::from(
        "trial_id,optimizer.lr,seed,status,message,train_loss,test_loss,test_accuracy,steps,wall_seconds,params\n",
    );
    runs += "a,0.1,0,ok,,0.1,0.2,0.9,10,1.0,10\n";
    for (i, lr) in ["0.2", "0.3", "0.4"].iter().enumerate() {
        runs += &format!("p{i},{lr},0,pruned,stopped at step 3,0.5,0.6,0.5,3,0.5,10\n");
    }
    std::fs::write(dir.path().join("runs.csv"), runs).unwrap();
    let s = rnnlab_report::summarize(dir.path(), &ReportConfig::default()).unwrap();
    let table = s.table();
    assert_eq!(table.rows.len(), 2, "{:?}", table.rows);
    assert_eq!(table.rows[1][0], "(3 grid points, every trial pruned)");
    assert!(table.rows[1].iter().any(|c| c == "3 pruned"), "{:?}", table.rows[1]);
}
