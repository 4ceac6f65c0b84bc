#!/usr/bin/env python3
"""TPE against random and Sobol search at equal budgets, and the same TPE search in Optuna +
PyTorch (`just bench-tpe`).

The task is experiments/tpe_adding.toml cut to the LSTM (adding problem T = 30, 400 steps of 64,
the best of 4 evaluations on 1,000 validation sequences): 24 points of (learning rate,
hidden size) per search, for three search seeds. For each search it reports the best
validation MSE after the first 8, 16 and 24 points (runs.csv order: the order the points were
sampled or drawn) and the wall time (`--jobs 1`). The Optuna twin runs TPESampler (its
defaults, `n_startup_trials=4` as the spec's `startup`) over the same space on the same protocol
in PyTorch (one thread), the data drawn by numpy from the same distribution.
"""

import argparse
import csv
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPEC = ROOT / "experiments" / "tpe_adding.toml"
BUDGETS = (8, 16, 24)
SEARCH = re.compile(r"\[search\]\n.*?(?=\n\[search\.space\])", re.S)


def spec_for(method, seed):
    text = SPEC.read_text().replace('"model.cell" = ["lstm", "gru"]', '"model.cell" = ["lstm"]')
    block = f'[search]\nmethod = "{method}"\ntrials = 24\nseed = {seed}\n'
    if method == "tpe":
        block += 'startup = 4\nmetric = "valid_mse"\n'
    return SEARCH.sub(block, text)


def best_after(values):
    return {n: min(values[:n]) for n in BUDGETS}


def run_rnnlab(rnnlab, method, seed, work):
    spec = work / f"{method}-{seed}.toml"
    spec.write_text(spec_for(method, seed))
    out = work / f"{method}-{seed}"
    t0 = time.perf_counter()
    subprocess.run([rnnlab, "sweep", str(spec), "--jobs", "1", "--out", str(out)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    with open(out / "tpe_adding" / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    values = [float(r["valid_mse"]) for r in rows]
    best = min(rows, key=lambda r: float(r["valid_mse"]))
    return {"tool": "rnnlab", "method": method, "seed": seed, "wall_seconds": wall, "trials": len(rows),
            "best_after": best_after(values),
            "best_point": {"lr": float(best["optimizer.lr"]), "hidden_size": int(best["model.hidden_size"]),
                           "test_mse": float(best["test_mse"])}}


def run_optuna(seed):
    import numpy as np
    import optuna
    import torch
    from torch import nn

    sys.path.insert(0, str(ROOT / "bench" / "peers"))
    from protocols import adding_data

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = np.random.default_rng(0)
    (x, y), (vx, vy), (tx, ty) = (adding_data(rng, k, 30) for k in (25600, 1000, 1000))
    x, y, vx, vy, tx, ty = (torch.from_numpy(a) for a in (x, y, vx, vy, tx, ty))

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-4, 3e-2, log=True)
        hidden = trial.suggest_int("hidden_size", 4, 64)
        torch.manual_seed(trial.number)
        rnn, head = nn.LSTM(2, hidden, batch_first=True), nn.Linear(hidden, 1)
        params = list(rnn.parameters()) + list(head.parameters())
        opt = torch.optim.Adam(params, lr=lr)
        mse = lambda xb, yb: nn.functional.mse_loss(head(rnn(xb)[0])[:, -1], yb)  # noqa: E731
        order, best = torch.randperm(len(x), generator=torch.Generator().manual_seed(trial.number)), None
        for step, i in enumerate(range(0, len(order), 64), start=1):
            idx = order[i:i + 64]
            loss = mse(x[idx], y[idx])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            if step % 100 == 0:
                with torch.no_grad():
                    v = mse(vx, vy).item()
                    if best is None or v < best[0]:
                        best = (v, mse(tx, ty).item())
        trial.set_user_attr("test_mse", best[1])
        return best[0]

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=4))
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=24)
    wall = time.perf_counter() - t0
    values = [t.value for t in study.trials]
    b = study.best_trial
    return {"tool": "optuna+pytorch", "method": "tpe", "seed": seed, "wall_seconds": wall, "trials": len(values),
            "best_after": best_after(values), "optuna": optuna.__version__, "torch": torch.__version__,
            "best_point": {"lr": b.params["lr"], "hidden_size": b.params["hidden_size"],
                           "test_mse": b.user_attrs["test_mse"]}}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rnnlab", default=str(ROOT / "target" / "release" / "rnnlab"))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--no-optuna", action="store_true")
    ap.add_argument("--json-out", default=str(ROOT / "results" / "bench-tpe.json"))
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for method in ("tpe", "random", "sobol"):
            for seed in range(args.seeds):
                rows.append(run_rnnlab(args.rnnlab, method, seed, pathlib.Path(tmp)))
                print(json.dumps(rows[-1]), flush=True)
    if not args.no_optuna:
        for seed in range(args.seeds):
            rows.append(run_optuna(seed))
            print(json.dumps(rows[-1]), flush=True)
    print(f"\n| tool | method | best valid MSE after {' / '.join(map(str, BUDGETS))} points (mean over {args.seeds} search seeds) | wall per 24-point search |")
    print("|---|---|---|---|")
    for tool, method in [("rnnlab", "tpe"), ("rnnlab", "random"), ("rnnlab", "sobol"), ("optuna+pytorch", "tpe")]:
        mine = [r for r in rows if r["tool"] == tool and r["method"] == method]
        if not mine:
            continue
        means = [sum(r["best_after"][n] for r in mine) / len(mine) for n in BUDGETS]
        wall = sum(r["wall_seconds"] for r in mine) / len(mine)
        print(f"| {tool} | {method} | {' / '.join(f'{m:.2e}' for m in means)} | {wall:.1f} s |")
    os.makedirs(os.path.dirname(args.json_out), exist_ok=True)
    with open(args.json_out, "w") as f:
        json.dump({"cpu": open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": "),
                   "runs": rows}, f, indent=1)
    print(f"wrote {args.json_out}")


if __name__ == "__main__":
    main()
