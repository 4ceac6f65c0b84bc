#!/usr/bin/env python3
"""Reference values for rnnlab's report statistics (crates/report/src/stats.rs), computed
independently with numpy and scipy, written to crates/report/tests/fixtures/stats.json.

    just stats-fixture            # check the stored fixture against a fresh computation
    just stats-fixture --write    # regenerate it

Samples: a bimodal one shaped like the parity sweep's accuracies (seeds solve the task or
stall at chance), a continuous one (seeded normal draws), one with ties and an outlier, and a
two-valued one. For each: mean, median, IQM (scipy.stats.trim_mean(x, 0.25)) and their
percentile-bootstrap 95% intervals (scipy.stats.bootstrap, method="percentile", many
resamples, so the only difference from rnnlab's intervals is Monte Carlo error); for pairs:
the probability of improvement P(X > Y) (the Mann-Whitney U statistic over |x|·|y|, from
scipy.stats.mannwhitneyu) with its stratified bootstrap interval (x and y resampled
separately); Wilson 95% intervals (scipy.stats.binomtest(k, n).proportion_ci("wilson")).
"""
import json
import sys
from pathlib import Path

import numpy as np
import scipy
from scipy import stats

OUT = Path(__file__).resolve().parent.parent / "crates/report/tests/fixtures/stats.json"
RESAMPLES = 100_000
PAIR_RESAMPLES = 20_000


def samples():
    rng = np.random.default_rng(12345)
    return {
        "bimodal": [1.0, 1.0, 0.99997, 1.0, 0.5531, 1.0, 0.99985, 0.5617, 1.0, 1.0],
        "normal": [round(float(v), 6) for v in rng.normal(0.3, 0.05, 12)],
        "ties_outlier": [0.2, 0.2, 0.2, 0.25, 0.3, 0.3, 5.0, 0.1, 0.2],
        "chance": [0.5586, 0.5702, 0.5531, 0.5617, 0.5437, 0.5775, 0.5692, 0.5529, 0.5648, 0.5553],
    }


def iqm(x, axis=-1):
    return stats.trim_mean(x, 0.25, axis=axis)


def boot(x, statistic):
    res = stats.bootstrap(
        (np.asarray(x),), statistic, n_resamples=RESAMPLES, method="percentile", vectorized=True,
        random_state=np.random.default_rng(0),
    )
    return [float(res.confidence_interval.low), float(res.confidence_interval.high)]


def p_improvement(x, y):
    return float(stats.mannwhitneyu(x, y).statistic) / (len(x) * len(y))


def p_improvement_ci(x, y):
    res = stats.bootstrap(
        (np.asarray(x), np.asarray(y)), lambda a, b: p_improvement(a, b), n_resamples=PAIR_RESAMPLES,
        method="percentile", vectorized=False, paired=False, random_state=np.random.default_rng(0),
    )
    return [float(res.confidence_interval.low), float(res.confidence_interval.high)]


def compute():
    data = samples()
    out = {"numpy": np.__version__, "scipy": scipy.__version__, "resamples": RESAMPLES, "samples": {}}
    for name, x in data.items():
        out["samples"][name] = {
            "values": x,
            "mean": float(np.mean(x)),
            "median": float(np.median(x)),
            "iqm": float(iqm(np.asarray(x))),
            "mean_ci": boot(x, np.mean),
            "median_ci": boot(x, np.median),
            "iqm_ci": boot(x, iqm),
        }
    pairs = [("bimodal", "chance"), ("chance", "bimodal"), ("bimodal", "bimodal"), ("normal", "ties_outlier")]
    out["pairs"] = [
        {"x": a, "y": b, "p": p_improvement(data[a], data[b]), "p_ci": p_improvement_ci(data[a], data[b])}
        for a, b in pairs
    ]
    out["wilson"] = []
    for k, n in [(9, 10), (8, 10), (0, 10), (10, 10), (3, 7), (1, 1)]:
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        out["wilson"].append({"k": k, "n": n, "lo": float(ci.low), "hi": float(ci.high)})
    return out


def main():
    fresh = compute()
    if "--write" in sys.argv:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(fresh, indent=1) + "\n")
        print(f"wrote {OUT}")
        return
    stored = json.loads(OUT.read_text())
    ok = json.dumps(stored["samples"]) == json.dumps(fresh["samples"]) and stored["pairs"] == fresh["pairs"]
    print("stored fixture matches a fresh computation" if ok else "stored fixture differs: run with --write")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
