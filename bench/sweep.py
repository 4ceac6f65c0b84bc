"""`just bench-sweep`: the parity sweep (experiments/parity.toml) through `rnnlab sweep` and the
same protocol in PyTorch with a process pool (bench/peers/sweep_torch.py), alternating, the
order flipped every round; prints each side's wall time, the ratio, the share of trial time
spent evaluating, and both sides' solved counts per cell (test accuracy ≥ 0.99), which must
agree in distribution (the two draw different initial weights)."""
import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run_rnnlab(binary, seeds, jobs):
    out = tempfile.mkdtemp(prefix="bench-sweep-")
    try:
        seed_list = "[" + ",".join(str(s) for s in range(seeds)) + "]"
        cmd = [binary, "sweep", os.path.join(ROOT, "experiments/parity.toml"), "--jobs", str(jobs), "--out", out,
               "--set", f"experiment.seeds={seed_list}"]
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - started
        with open(os.path.join(out, "parity", "runs.csv")) as f:
            rows = list(csv.DictReader(f))
        trials = [{"cell": r["model.cell"], "test_accuracy": float(r["test_accuracy"]),
                   "wall_seconds": float(r["wall_seconds"]), "eval_seconds": float(r.get("eval_seconds") or "nan")}
                  for r in rows]
        return wall, trials
    finally:
        shutil.rmtree(out, ignore_errors=True)


def run_torch(seeds, jobs):
    cmd = [sys.executable, os.path.join(HERE, "peers", "sweep_torch.py"), "--seeds", str(seeds), "--jobs", str(jobs)]
    started = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - started
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return wall, [x for x in lines if not x.get("summary")], next(x for x in lines if x.get("summary"))


def describe(trials):
    solved = defaultdict(lambda: [0, 0])
    for t in trials:
        solved[t["cell"]][0] += t["test_accuracy"] >= 0.99
        solved[t["cell"]][1] += 1
    share = sum(t["eval_seconds"] for t in trials) / sum(t["wall_seconds"] for t in trials)
    cells = ", ".join(f"{c} {k}/{n}" for c, (k, n) in sorted(solved.items()))
    return f"solved {cells}; trials add up to {sum(t['wall_seconds'] for t in trials):.1f} s, {100 * share:.0f}% evaluating"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rnnlab", required=True)
    ap.add_argument("--seeds", type=int, default=3, help="seeds per cell (parity.toml has 10)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    ratios, torch_version = [], "?"
    for r in range(a.rounds):
        order = ["rnnlab", "pytorch"] if r % 2 == 0 else ["pytorch", "rnnlab"]
        walls = {}
        for tool in order:
            if tool == "rnnlab":
                walls[tool], trials = run_rnnlab(a.rnnlab, a.seeds, a.jobs)
            else:
                walls[tool], trials, summary = run_torch(a.seeds, a.jobs)
                torch_version = summary["torch"]
            print(f"round {r + 1}/{a.rounds} {tool:8s} {walls[tool]:7.1f} s wall; {describe(trials)}", flush=True)
        ratios.append(walls["pytorch"] / walls["rnnlab"])
        print(f"round {r + 1}/{a.rounds}: rnnlab is {ratios[-1]:.2f}× the PyTorch pool", flush=True)
    print(f"\nparity sweep, {3 * a.seeds} trials, {a.jobs} jobs, PyTorch {torch_version}: rnnlab "
          f"{statistics.median(ratios):.2f}× the PyTorch process pool (median of {a.rounds} alternating rounds: "
          + ", ".join(f"{x:.2f}×" for x in ratios) + ")")


if __name__ == "__main__":
    main()
