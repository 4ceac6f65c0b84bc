#!/usr/bin/env python3
"""Writes data/csv_example/{train,valid,test}.csv, the small dataset of experiments/csv_example.toml.

A delayed sum, in the csv plugin's long format (one row per step): three input features drawn
uniformly from [-1, 1], and a target at every step that needs memory of the past,
    y_t = x1_{t-2} + 0.5 * x2_{t-1}   (0 where t - 2 or t - 1 is before the sequence),
so a model that only sees the current step cannot fit it; x3 is noise. Python's own random
module with a fixed seed: re-running this script writes the same bytes.
"""
import pathlib
import random

STEPS = 15
SPLITS = {"train": 120, "valid": 40, "test": 40}


def main():
    out = pathlib.Path(__file__).resolve().parent.parent / "data" / "csv_example"
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20261207)
    for split, n in SPLITS.items():
        lines = ["sequence,step,x1,x2,x3,y"]
        for s in range(n):
            xs = [[rng.uniform(-1, 1) for _ in range(3)] for _ in range(STEPS)]
            for t, (x1, x2, x3) in enumerate(xs):
                y = (xs[t - 2][0] if t >= 2 else 0.0) + 0.5 * (xs[t - 1][1] if t >= 1 else 0.0)
                lines.append(f"{split}{s},{t},{x1:.4f},{x2:.4f},{x3:.4f},{y:.4f}")
        (out / f"{split}.csv").write_text("\n".join(lines) + "\n")
        print(f"{out / (split + '.csv')}: {n} sequences of {STEPS} steps")


if __name__ == "__main__":
    main()
