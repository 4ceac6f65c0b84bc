//! Learning curves, plots and report.html of a hand-made results folder.

mod common;

use rnnlab_report::curves::read_curves;

fn grid() -> Vec<String> {
    vec!["model.cell".into(), "optimizer.lr".into()]
}

#[test]
fn curves_average_ok_seeds_per_grid_point_and_step() {
    let dir = tempfile::tempdir().unwrap();
    common::write_folder(dir.path(), false);
    let c = read_curves(dir.path(), &grid()).unwrap();
    assert_eq!(c.metrics, ["test_accuracy", "test_loss", "train_loss"]);
    assert!(c.missing.is_empty());
    let cells: Vec<&str> = c.lines.iter().map(|l| l.point[0].as_str()).collect();
    assert_eq!(cells, ["lstm", "gru", "rnn"]);
    let lstm = &c.lines[0];
    assert_eq!(lstm.steps, [0.0, 5.0, 10.0]);
    let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12) && a.len() == b.len();
    // a0: 0.5, 0.7, 0.9; a1: 0.7, 0.85, 1.0 (the diverged a2 is left out).
    assert!(close(&lstm.bands[0].mean, &[0.6, 0.775, 0.95]), "{:?}", lstm.bands[0].mean);
    let sd = |x: f64, y: f64| ((x - y) * (x - y) / 2.0).sqrt();
    assert!(close(&lstm.bands[0].std, &[sd(0.5, 0.7), sd(0.7, 0.85), sd(0.9, 1.0)]), "{:?}", lstm.bands[0].std);
    assert!(close(&lstm.bands[1].mean, &[1.0, 1.0 / 6.0, 1.0 / 11.0]));
    // One seed: no std.
    assert!(c.lines[1].bands[0].std.iter().all(|s| s.is_nan()));
    assert_eq!(c.labels(), ["cell=lstm", "cell=gru", "cell=rnn"]);
}

#[test]
fn a_missing_curve_is_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    common::write_folder(dir.path(), true);
    let c = read_curves(dir.path(), &grid()).unwrap();
    assert_eq!(c.missing, ["c1"]);
    assert!((c.lines[2].bands[0].mean[2] - 0.7).abs() < 1e-12);
}

#[test]
fn report_writes_well_formed_svg_and_html() {
    let dir = tempfile::tempdir().unwrap();
    common::write_folder(dir.path(), false);
    let config = rnnlab_report::report_config(dir.path()).unwrap();
    let report = rnnlab_report::write_report(dir.path(), &config).unwrap();
    let names: Vec<String> =
        report.plots.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(
        names,
        [
            "pareto_params_test_accuracy.svg",
            "pareto_time_test_accuracy.svg",
            "profile_test_accuracy.svg",
            "test_accuracy.svg",
            "test_loss.svg",
            "train_loss.svg"
        ]
    );
    // The performance profile: a step line per grid point with its label.
    let profile = std::fs::read_to_string(&report.plots[2]).unwrap();
    let doc = roxmltree::Document::parse(&profile).unwrap();
    assert!(doc.descendants().filter(|n| n.has_tag_name("polyline")).count() >= 3);
    assert!(profile.contains("model.cell=rnn, optimizer.lr=0.1"), "{profile}");
    // The Pareto fronts: well-formed, every grid point drawn.
    for p in &report.plots[..2] {
        let svg = std::fs::read_to_string(p).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(doc.descendants().filter(|n| n.has_tag_name("circle")).count() >= 3, "{}", p.display());
    }
    // The learning curves.
    for p in &report.plots[3..] {
        let svg = std::fs::read_to_string(p).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        // One band and one line per grid point, and a legend naming each.
        let polygons = doc.descendants().filter(|n| n.has_tag_name("polygon")).count();
        assert!(polygons >= 3, "{}: {polygons} polygons", p.display());
        for label in ["cell=lstm", "cell=gru", "cell=rnn"] {
            assert!(svg.contains(label), "{} lacks {label}", p.display());
        }
    }
    let html = std::fs::read_to_string(&report.html).unwrap();
    let options = roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() };
    let doc = roxmltree::Document::parse_with_options(&html, options).unwrap_or_else(|e| panic!("report.html: {e}"));
    let count = |tag: &str| doc.descendants().filter(|n| n.has_tag_name(tag)).count();
    assert_eq!(count("svg"), 6, "two Pareto fronts, the profile, three curves");
    // Cell verdicts and contenders, best trials, run, results, cost against the primary metric,
    // robust statistics of 3 metrics, published, not ok.
    assert_eq!(count("table"), 11);
    // Opens with no network: nothing is fetched.
    let fetched = doc.descendants().filter(|n| n.attribute("src").is_some() || n.has_tag_name("link")).count();
    assert_eq!(fetched, 0);
    assert!(html.contains("<strong>reproduced</strong>"));
    let md = std::fs::read_to_string(&report.path).unwrap();
    assert!(md.contains("![test_accuracy](plots/test_accuracy.svg)"), "{md}");
}

#[test]
fn one_evaluation_per_trial_gives_no_curves_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    common::write_folder(dir.path(), false);
    // A stale figure from an earlier report must not survive.
    std::fs::create_dir_all(dir.path().join("plots")).unwrap();
    std::fs::write(dir.path().join("plots/old.svg"), "<svg/>").unwrap();
    for id in ["a0", "a1", "b0", "c0", "c1"] {
        let path = dir.path().join("trials").join(id).join("curve.csv");
        let text = std::fs::read_to_string(&path).unwrap();
        let last: Vec<&str> = text.lines().take(1).chain(text.lines().last()).collect();
        std::fs::write(&path, last.join("\n") + "\n").unwrap();
    }
    let config = rnnlab_report::report_config(dir.path()).unwrap();
    let report = rnnlab_report::write_report(dir.path(), &config).unwrap();
    // Only the Pareto fronts and the performance profile (final values), no curves.
    let finals = ["pareto_params_test_accuracy.svg", "pareto_time_test_accuracy.svg", "profile_test_accuracy.svg"];
    assert_eq!(report.plots, finals.map(|f| dir.path().join("plots").join(f)));
    assert!(!dir.path().join("plots/old.svg").exists());
    let md = std::fs::read_to_string(&report.path).unwrap();
    assert!(md.contains("set `[train] eval_every`"), "{md}");
}

#[test]
fn curves_carry_median_quartiles_and_every_seeds_own_curve() {
    let dir = tempfile::tempdir().unwrap();
    common::write_folder(dir.path(), false);
    let c = read_curves(dir.path(), &grid()).unwrap();
    let lstm = &c.lines[0].bands[0];
    // Two seeds (a0: 0.5, 0.7, 0.9; a1: 0.7, 0.85, 1.0): the median is the mean, the quartiles
    // interpolate a quarter of the way in from each end (numpy's linear rule).
    let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12) && a.len() == b.len();
    assert!(close(&lstm.median, &[0.6, 0.775, 0.95]), "{:?}", lstm.median);
    assert!(close(&lstm.q25, &[0.55, 0.7375, 0.925]), "{:?}", lstm.q25);
    assert!(close(&lstm.q75, &[0.65, 0.8125, 0.975]), "{:?}", lstm.q75);
    let mut seeds = lstm.seeds.clone();
    seeds.sort_by(|a, b| a[0].1.total_cmp(&b[0].1));
    assert_eq!(seeds.len(), 2);
    let values: Vec<Vec<f64>> = seeds.iter().map(|s| s.iter().map(|p| p.1).collect()).collect();
    assert!(close(&values[0], &[0.5, 0.7, 0.9]) && close(&values[1], &[0.7, 0.85, 1.0]), "{values:?}");
    assert_eq!(seeds[0].iter().map(|p| p.0).collect::<Vec<_>>(), [0.0, 5.0, 10.0]);
    // The gru point has one seed: one seed curve, quartiles equal to it.
    let gru = &c.lines[1].bands[0];
    assert_eq!(gru.seeds.len(), 1);
    assert_eq!(gru.q25, gru.q75);
}
