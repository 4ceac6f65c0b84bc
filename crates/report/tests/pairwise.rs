//! The cell comparison and robust statistics of a report, on a results folder shaped like the
//! parity sweep (GRU solves the task in every seed, LSTM in most, the RNN in none).

use rnnlab_report::{pairwise, summarize, write_report};
use rnnlab_spec::ReportConfig;

const GRU: [f64; 10] = [1.0, 1.0, 0.99997, 1.0, 1.0, 1.0, 0.99985, 1.0, 1.0, 1.0];
const LSTM: [f64; 10] = [1.0, 1.0, 0.99997, 1.0, 0.5531, 1.0, 0.99985, 0.5617, 1.0, 1.0];
const RNN: [f64; 10] = [0.5586, 0.5702, 0.5531, 0.5617, 0.5437, 0.5775, 0.5692, 0.5529, 0.5648, 0.5553];

/// runs.csv with two learning rates per cell; lr 0.01 is worse for every cell.
fn folder(spec: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut runs = String::from(
        "trial_id,model.cell,optimizer.lr,seed,status,message,train_loss,test_loss,test_accuracy,wall_seconds,eval_seconds\n",
    );
    for (cell, accs) in [("gru", GRU), ("lstm", LSTM), ("rnn", RNN)] {
        for (lr, shift) in [("0.1", 0.0), ("0.01", 0.3)] {
            for (seed, acc) in accs.iter().enumerate() {
                let acc = (acc - shift).max(0.5);
                let loss = 1.0 - acc;
                runs += &format!("{cell}{lr}{seed},{cell},{lr},{seed},ok,,{loss},{loss},{acc},2.0,0.5\n");
            }
        }
    }
    std::fs::write(dir.path().join("runs.csv"), runs).unwrap();
    std::fs::write(dir.path().join("spec.toml"), spec).unwrap();
    dir
}

const SPEC: &str = "[experiment]\nname = 'cells'\n[report]\nsuccess = 'test_accuracy >= 0.99'\n";

fn config(primary: Option<&str>, compare: Option<&str>) -> ReportConfig {
    ReportConfig {
        primary: primary.map(String::from),
        success: Some("test_accuracy >= 0.99".into()),
        compare: compare.map(String::from),
        select: None,
    }
}

#[test]
fn cells_are_compared_at_their_best_grid_points_by_probability_of_improvement() {
    let dir = folder(SPEC);
    let s = summarize(dir.path(), &config(None, None)).unwrap();
    let v = pairwise::compare(&s, None).expect("three cells");
    let names: Vec<&str> = v.contenders.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["gru", "lstm", "rnn"]);
    assert!(v.contenders.iter().all(|c| c.point.contains("optimizer.lr=0.1")), "{:?}", v.contenders);
    // The seeds' values in runs.csv order.
    assert_eq!(v.contenders[2].values, RNN);
    let sentences: Vec<String> = v.pairs.iter().map(|p| v.sentence(p)).collect();
    // gru vs lstm: the lstm seeds at chance lose to every gru seed (20 of 100 pairs), the
    // rest tie or nearly tie: P = (20 + 42)/100, and its interval holds 0.5.
    assert!(sentences[0].starts_with("gru vs lstm: not separable with 10 seeds (P = 0.62 ["), "{sentences:?}");
    assert_eq!(sentences[1], "gru > rnn (P = 1.00 [1.00, 1.00])");
    // lstm > rnn: 80 wins from the solved seeds, 2.5 and 5.5 from the two at chance (ties half).
    assert!(sentences[2].starts_with("lstm > rnn (P = 0.88 ["), "{sentences:?}");
    // The IQM interval of an accuracy never leaves [0, 1].
    assert!(v.contenders.iter().all(|c| c.iqm.lo >= 0.0 && c.iqm.hi <= 1.0));
}

#[test]
fn a_lower_is_better_metric_turns_the_verdict_around() {
    let dir = folder(SPEC);
    let s = summarize(dir.path(), &config(Some("test_loss"), None)).unwrap();
    let v = pairwise::compare(&s, None).unwrap();
    assert!(!v.higher_is_better);
    let sentences: Vec<String> = v.pairs.iter().map(|p| v.sentence(p)).collect();
    assert!(sentences.contains(&"gru > rnn (P = 1.00 [1.00, 1.00])".to_string()), "{sentences:?}");
}

#[test]
fn any_grid_axis_can_be_compared() {
    let dir = folder(SPEC);
    let s = summarize(dir.path(), &config(None, Some("optimizer.lr"))).unwrap();
    let v = pairwise::compare(&s, Some("optimizer.lr")).unwrap();
    let names: Vec<&str> = v.contenders.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["0.1", "0.01"]);
    // Each learning rate at its best cell (gru); lr 0.1 beats lr 0.01 in every pair of seeds.
    assert!(v.contenders.iter().all(|c| c.point.starts_with("model.cell=gru")));
    assert_eq!(v.sentence(&v.pairs[0]), "0.1 > 0.01 (P = 1.00 [1.00, 1.00])");
    assert!(pairwise::compare(&s, Some("model.hidden_size")).is_none());
}

#[test]
fn the_report_opens_with_the_comparison_and_no_interval_leaves_its_metric_range() {
    let dir = folder(SPEC);
    let report = write_report(dir.path(), &config(None, None)).unwrap();
    assert!(report.versus.is_some());
    let md = std::fs::read_to_string(&report.path).unwrap();
    let first_section = md.lines().find(|l| l.starts_with("## ")).unwrap();
    assert_eq!(first_section, "## Which `model.cell` is better");
    assert!(md.contains("| **gru > rnn** | 1.00 | [1.00, 1.00] |"), "{md}");
    // Every bracketed interval of an accuracy lies in [0, 1]; of a loss, at or above 0.
    for line in md.lines().filter(|l| l.starts_with("| ") && l.contains(" [")) {
        for part in line.split(" [").skip(1) {
            let inside = part.split(']').next().unwrap();
            for v in inside.split(", ").filter_map(|x| x.parse::<f64>().ok()) {
                assert!((0.0..=1.0).contains(&v), "{v} outside its range in: {line}");
            }
        }
    }
    // Every trial spent 0.5 of its 2 s evaluating.
    assert!(md.contains("| wall time | 120.0 s in trials, 2.0 s per trial, 25% of it evaluating |"), "{md}");
    // Wilson interval beside the success count: 10 of 10 gru seeds at lr 0.1.
    assert!(md.contains("10/10 [0.72, 1.00]"), "{md}");
}

#[test]
fn a_verdict_needs_four_seeds_on_each_side() {
    // GRU's and the RNN's first n seeds: every GRU seed beats every RNN seed.
    for (n, separable) in [(1, false), (3, false), (4, true)] {
        let dir = tempfile::tempdir().unwrap();
        let mut runs = String::from("trial_id,model.cell,seed,status,message,test_accuracy,wall_seconds\n");
        for (cell, accs) in [("gru", GRU), ("rnn", RNN)] {
            for (seed, acc) in accs.iter().take(n).enumerate() {
                runs += &format!("{cell}{seed},{cell},{seed},ok,,{acc},1.0\n");
            }
        }
        std::fs::write(dir.path().join("runs.csv"), runs).unwrap();
        let s = summarize(dir.path(), &config(None, None)).unwrap();
        let v = pairwise::compare(&s, None).unwrap();
        let sentence = v.sentence(&v.pairs[0]);
        assert_eq!(v.pairs[0].separable, separable, "{n} seeds: {sentence}");
        if !separable {
            let seeds = if n == 1 { "1 seed".to_string() } else { format!("{n} seeds") };
            assert!(sentence.starts_with(&format!("gru vs rnn: not separable with {seeds} (P = 1.00")), "{sentence}");
        }
    }
}
