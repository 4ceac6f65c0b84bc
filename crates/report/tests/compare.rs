//! `rnnlab compare`: two hand-made folders side by side.

mod common;

#[test]
fn compare_joins_grid_points_and_flags_real_changes() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    std::fs::write(a.path().join("runs.csv"), common::RUNS).unwrap();
    // B: the LSTM seeds improve clearly (0.90, 1.00 → 0.99, 0.995 with an extra seed), the RNN
    // changes within its noise, and a new `transformer` point appears.
    let runs_b = common::RUNS
        .replace("a0,lstm,0.1,0,ok,,0.1,0.2,0.90", "a0,lstm,0.1,0,ok,,0.1,0.2,0.99")
        .replace("a1,lstm,0.1,1,ok,,0.1,0.2,1.00", "a1,lstm,0.1,1,ok,,0.1,0.2,0.995")
        .replace("a2,lstm,0.1,2,diverged,loss became NaN at step 3,,,,", "a2,lstm,0.1,2,ok,,0.1,0.2,0.992")
        .replace("c1,rnn,0.1,1,ok,,0.5,0.6,0.80", "c1,rnn,0.1,1,ok,,0.5,0.6,0.81")
        + "d0,transformer,0.1,0,ok,,0.1,0.1,0.99,,test_accuracy,0.99,10,10,1.0,10\n";
    std::fs::write(b.path().join("runs.csv"), runs_b).unwrap();
    let t = rnnlab_report::compare::compare(a.path(), b.path()).unwrap();
    let row = |point: &str, metric: &str| {
        t.rows.iter().find(|r| r[0] == point && r[1] == metric).unwrap_or_else(|| panic!("{point} {metric}: {t:?}"))
    };
    let lstm = row("model.cell=lstm, optimizer.lr=0.1", "test_accuracy");
    assert_eq!(lstm[2], "0.9500 ± 0.0707 (n=2)");
    assert_eq!(lstm[3], "0.9923 ± 0.0025 (n=3)");
    assert_eq!(lstm[4], "+0.0423");
    // Two seeds at 0.0707 std in A: t = 0.0423 / 0.050 ≈ 0.85, far below t(1) = 12.7.
    assert_eq!(lstm[5], "same");
    assert_eq!(row("model.cell=rnn, optimizer.lr=0.1", "test_accuracy")[5], "same", "{}", t.to_text());
    assert_eq!(row("model.cell=transformer, optimizer.lr=0.1", "test_accuracy")[5], "only in one");
    // Identical train losses with zero spread are the same, not a division by zero.
    assert_eq!(row("model.cell=lstm, optimizer.lr=0.1", "train_loss")[5], "same");
}
