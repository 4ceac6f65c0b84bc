//! The report's statistics against values computed independently with numpy and scipy
//! (`tests/fixtures/stats.json`, written by `scripts/stats_fixture.py`).

use rnnlab_report::stats::{self, Estimator};
use serde_json::Value;

fn fixture() -> Value {
    let text = include_str!("fixtures/stats.json");
    serde_json::from_str(text).expect("stats fixture is JSON")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().expect("an array").iter().map(|x| x.as_f64().expect("a number")).collect()
}

/// Two percentile-bootstrap intervals agree up to Monte Carlo error: each bound within 8% of
/// the reference interval's width (scipy drew 100,000 resamples, rnnlab 20,000 here).
fn close_interval(name: &str, ours: (f64, f64), reference: &[f64]) {
    let width = reference[1] - reference[0];
    let tol = 0.08 * width + 1e-9;
    assert!(
        (ours.0 - reference[0]).abs() <= tol && (ours.1 - reference[1]).abs() <= tol,
        "{name}: ours [{}, {}], scipy [{}, {}] (tolerance {tol})",
        ours.0,
        ours.1,
        reference[0],
        reference[1]
    );
}

#[test]
fn estimates_and_bootstrap_intervals_match_numpy_and_scipy() {
    let f = fixture();
    for (name, s) in f["samples"].as_object().unwrap() {
        let xs = floats(&s["values"]);
        for (e, key) in [(Estimator::Mean, "mean"), (Estimator::Median, "median"), (Estimator::Iqm, "iqm")] {
            let want = s[key].as_f64().unwrap();
            let got = e.of(&mut xs.clone());
            assert!((got - want).abs() < 1e-12, "{name} {key}: {got} vs {want}");
            let ci = stats::bootstrap(&xs, e, 20_000, stats::SEED);
            assert!((ci.value - want).abs() < 1e-12);
            close_interval(&format!("{name} {key}"), (ci.lo, ci.hi), &floats(&s[&format!("{key}_ci")]));
        }
    }
}

#[test]
fn probability_of_improvement_matches_mann_whitney() {
    let f = fixture();
    for pair in f["pairs"].as_array().unwrap() {
        let sample = |k: &str| floats(&f["samples"][pair[k].as_str().unwrap()]["values"]);
        let (x, y) = (sample("x"), sample("y"));
        let want = pair["p"].as_f64().unwrap();
        let ci = stats::prob_improvement_ci(&x, &y, |a, b| a > b, 20_000, stats::SEED);
        assert!((ci.value - want).abs() < 1e-12, "{pair}: {} vs {want}", ci.value);
        close_interval(&pair.to_string(), (ci.lo, ci.hi), &floats(&pair["p_ci"]));
    }
}

#[test]
fn wilson_intervals_match_scipy() {
    for w in fixture()["wilson"].as_array().unwrap() {
        let (k, n) = (w["k"].as_u64().unwrap() as usize, w["n"].as_u64().unwrap() as usize);
        let ci = stats::wilson(k, n);
        let (lo, hi) = (w["lo"].as_f64().unwrap(), w["hi"].as_f64().unwrap());
        assert!((ci.lo - lo).abs() < 1e-9 && (ci.hi - hi).abs() < 1e-9, "{k}/{n}: {ci:?} vs [{lo}, {hi}]");
    }
}
