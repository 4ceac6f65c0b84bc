#!/usr/bin/env python3
"""The TPE golden file crates/spec/tests/golden/tpe.json, from Optuna.

For fixed observations over a search space with every kind of key rnnlab searches
(log-uniform, uniform, integer, choice), it stores the log density of Optuna's Parzen
estimator (the mixture TPESampler builds for the good and for the bad points, with its
default settings) at fixed points; crates/spec/tests/tpe_golden.rs builds rnnlab's estimator
from the same observations and compares. Also stores Optuna's split of the observations
(default_gamma) and weights (default_weights).

`just golden-tpe` checks the stored file against Optuna (fails on a difference above 1e-9);
`--write` rewrites it. Pinned: optuna==5.1.0.
"""

import argparse
import json
import math
import pathlib
import sys

import numpy as np
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator, _ParzenEstimatorParameters
from optuna.samplers._tpe.sampler import default_gamma, default_weights

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates" / "spec" / "tests" / "golden" / "tpe.json"

# Each key: (kind, arguments) as rnnlab's [search.space] writes it.
SPACE = {
    "optimizer.lr": ("log_uniform", [1e-4, 1e-1]),
    "model.dropout": ("uniform", [0.0, 0.5]),
    "model.hidden_size": ("int_uniform", [4, 64]),
    "model.cell": ("choice", ["lstm", "gru", "rnn"]),
}


def optuna_space():
    out = {}
    for key, (kind, args) in SPACE.items():
        if kind == "log_uniform":
            out[key] = FloatDistribution(args[0], args[1], log=True)
        elif kind == "uniform":
            out[key] = FloatDistribution(args[0], args[1])
        elif kind == "int_uniform":
            out[key] = IntDistribution(args[0], args[1])
        else:
            out[key] = CategoricalDistribution(args)
    return out


def cases():
    rng = np.random.RandomState(7)

    def draw(n):
        pts = []
        for _ in range(n):
            pts.append([
                float(math.exp(rng.uniform(math.log(1e-4), math.log(1e-1)))),
                float(rng.uniform(0.0, 0.5)),
                float(rng.randint(4, 65)),
                float(rng.randint(0, 3)),
            ])
        return pts

    # (name, observations): none (the prior alone), one, a few (with a repeat), many (the
    # weights ramp from 25 on). Equal values of a key get their bandwidths in rnnlab by draw
    # order; numpy's argsort breaks such ties in an order of its own beyond 16 values, so the
    # many-point case keeps its integers distinct.
    obs = {"empty": [], "one": draw(1), "few": draw(4), "many": draw(30)}
    obs["few"].append(list(obs["few"][0]))
    for o, h in zip(obs["many"], rng.choice(np.arange(4, 65), size=30, replace=False)):
        o[2] = float(h)
    return obs, draw(12)


def compute(observations, points):
    space = optuna_space()
    params = _ParzenEstimatorParameters(
        prior_weight=1.0, consider_magic_clip=True, consider_endpoints=False, weights=default_weights, multivariate=True
    )
    keys = list(SPACE)
    obs = {k: np.array([o[i] for o in observations], dtype=float) for i, k in enumerate(keys)}
    pe = _ParzenEstimator(obs, space, params)
    x = {k: np.array([p[i] for p in points], dtype=float) for i, k in enumerate(keys)}
    return [float(v) for v in pe.log_pdf(x)]


def build():
    obs, points = cases()
    import optuna

    return {
        "optuna": optuna.__version__,
        "space": [{"key": k, "kind": kind, "args": args} for k, (kind, args) in SPACE.items()],
        "note": "observations and points: one value per key in `space` order (a choice's index)",
        "points": points,
        "cases": [{"name": name, "observations": o, "log_pdf": compute(o, points)} for name, o in obs.items()],
        "gamma": {str(n): default_gamma(n) for n in [0, 1, 9, 10, 11, 24, 25, 100, 300]},
        "weights": {str(n): [float(w) for w in default_weights(n)] for n in [0, 3, 26, 30]},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="rewrite the golden file")
    args = ap.parse_args()
    fresh = build()
    if args.write:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(fresh, indent=1) + "\n")
        print(f"wrote {OUT}")
        return 0
    stored = json.loads(OUT.read_text())
    worst = 0.0
    for a, b in zip(stored["cases"], fresh["cases"]):
        worst = max(worst, max(abs(x - y) for x, y in zip(a["log_pdf"], b["log_pdf"])))
    same = stored["points"] == fresh["points"] and stored["gamma"] == fresh["gamma"]
    print(f"{OUT}: Optuna {fresh['optuna']}, largest difference in log density {worst:.3g}")
    return 0 if same and worst <= 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())
