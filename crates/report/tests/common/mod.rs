//! A hand-made results folder with known values, shared by the report tests.

#![allow(dead_code)]

use std::path::Path;

pub const RUNS: &str = "\
trial_id,model.cell,optimizer.lr,seed,status,message,train_loss,test_loss,test_accuracy,test_mse,best_metric,best_value,best_step,steps,wall_seconds,params
a0,lstm,0.1,0,ok,,0.1,0.2,0.90,,test_accuracy,0.9,10,10,1.0,100
a1,lstm,0.1,1,ok,,0.1,0.2,1.00,,test_accuracy,1.0,10,10,3.0,100
a2,lstm,0.1,2,diverged,loss became NaN at step 3,,,,,,,,2,0.5,100
b0,gru,0.1,0,ok,,0.3,0.4,0.50,,test_accuracy,0.5,10,10,2.0,80
b1,gru,0.1,1,failed,\"panicked: boom, badly\",,,,,,,,0,0.1,0
c0,rnn,0.1,0,ok,,0.5,0.6,0.70,,test_accuracy,0.7,10,10,1.0,50
c1,rnn,0.1,1,ok,,0.5,0.6,0.80,,test_accuracy,0.8,10,10,1.0,50
";

pub const SPEC: &str = "[experiment]\nname = 'demo'\ndescription = 'hand-made'\n\
    [report]\nsuccess = 'test_accuracy >= 0.95'\n\
    [[published]]\nsource = 'Paper A'\nmetric = 'test_accuracy'\nvalue = 0.96\ntolerance = 0.02\nwhere = { 'model.cell' = 'lstm' }\n\
    [[published]]\nsource = 'Paper B'\nmetric = 'test_accuracy'\nvalue = 0.99\nwhere = { 'model.cell' = 'rnn' }\n\
    [[published]]\nsource = 'Paper C'\nmetric = 'test_accuracy'\nvalue = 0.9\nwhere = { 'model.cell' = 'transformer' }\n";

/// `curve.csv` of an ok trial: accuracy `acc0 + step·slope` and loss `1 / step` at steps 0, 5, 10.
pub fn curve(acc0: f64, slope: f64) -> String {
    let mut s = String::from("step,epoch,train_loss,test_loss,test_accuracy,test_mse,test_nll\n");
    for step in [0.0f64, 5.0, 10.0] {
        let loss = 1.0 / (step + 1.0);
        s += &format!("{step},0,{loss},{loss},{},,\n", acc0 + step * slope);
    }
    s
}

/// Writes runs.csv, spec.toml and the ok trials' curves (the failed ones have none, as a
/// sweep leaves them; `c1`'s is left out to stand for a partly copied folder when `partial`).
pub fn write_folder(dir: &Path, partial: bool) {
    std::fs::write(dir.join("runs.csv"), RUNS).unwrap();
    std::fs::write(dir.join("spec.toml"), SPEC).unwrap();
    let trials = [("a0", 0.5, 0.04), ("a1", 0.7, 0.03), ("b0", 0.4, 0.01), ("c0", 0.6, 0.01), ("c1", 0.6, 0.02)];
    for (id, acc0, slope) in trials {
        if partial && id == "c1" {
            continue;
        }
        let t = dir.join("trials").join(id);
        std::fs::create_dir_all(&t).unwrap();
        std::fs::write(t.join("curve.csv"), curve(acc0, slope)).unwrap();
    }
}

/// results/ with `demo` (three published figures), `plain` (none) and `broken` (a bad runs.csv).
pub fn collection(root: &Path) {
    for name in ["demo", "plain"] {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        write_folder(&dir, false);
    }
    std::fs::write(root.join("plain/spec.toml"), "[experiment]\nname = 'plain'\n").unwrap();
    std::fs::create_dir_all(root.join("broken")).unwrap();
    std::fs::write(root.join("broken/runs.csv"), "nonsense\n").unwrap();
    std::fs::create_dir_all(root.join("not-an-experiment")).unwrap();
}
