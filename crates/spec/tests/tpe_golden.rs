//! rnnlab's TPE estimator against Optuna's on the same observations (golden/tpe.json, written
//! by scripts/golden_tpe.py from Optuna 5.1.0): the good/bad mixtures' log densities, the
//! split size γ(n) and the observation weights.

use rnnlab_spec::tpe::{gamma, weights, Parzen, Space};

fn golden() -> serde_json::Value {
    let text = include_str!("golden/tpe.json");
    serde_json::from_str(text).expect("golden/tpe.json is JSON")
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().expect("a list").iter().map(|x| x.as_f64().expect("a number")).collect()
}

fn spaces(g: &serde_json::Value) -> Vec<Space> {
    g["space"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let args = s["args"].as_array().unwrap();
            let num = |i: usize| args[i].as_f64().unwrap();
            match s["kind"].as_str().unwrap() {
                "log_uniform" => Space::Numeric { low: num(0), high: num(1), step: None, log: true },
                "uniform" => Space::Numeric { low: num(0), high: num(1), step: None, log: false },
                "int_uniform" => Space::Numeric { low: num(0), high: num(1), step: Some(1.0), log: false },
                "choice" => Space::Choice(args.len()),
                other => panic!("unknown kind {other}"),
            }
        })
        .collect()
}

#[test]
fn log_densities_match_optunas_parzen_estimator() {
    let g = golden();
    let spaces = spaces(&g);
    let points: Vec<Vec<f64>> = g["points"].as_array().unwrap().iter().map(floats).collect();
    for case in g["cases"].as_array().unwrap() {
        let obs: Vec<Vec<f64>> = case["observations"].as_array().unwrap().iter().map(floats).collect();
        let parzen = Parzen::new(&spaces, &obs);
        for (x, want) in points.iter().zip(floats(&case["log_pdf"])) {
            let got = parzen.log_pdf(x);
            assert!(
                (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                "{}: at {x:?}: {got} vs Optuna {want}",
                case["name"]
            );
        }
    }
}

#[test]
fn split_and_weights_match_optunas_defaults() {
    let g = golden();
    for (n, want) in g["gamma"].as_object().unwrap() {
        assert_eq!(gamma(n.parse().unwrap()) as u64, want.as_u64().unwrap(), "gamma({n})");
    }
    for (n, want) in g["weights"].as_object().unwrap() {
        let got = weights(n.parse().unwrap());
        let want = floats(want);
        assert_eq!(got.len(), want.len(), "weights({n})");
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-12, "weights({n}): {got:?} vs {want:?}");
        }
    }
}
