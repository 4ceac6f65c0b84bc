"""`just bench-peers`: rnnlab, PyTorch and Keras on the same workloads and thread counts,
alternating in one run (the order rotates every round), several rounds; prints the medians
over rounds as a Markdown table with rnnlab's speed-up over each peer.

The cases (workload sizes) come from `rnnlab bench --json`, so all three run the same shapes."""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import date

HERE = os.path.dirname(os.path.abspath(__file__))


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rnnlab", required=True, help="path of the rnnlab binary")
    ap.add_argument("--threads", default=f"1,{os.cpu_count()}", help="comma-separated thread counts")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--json-out", help="also write every measurement here")
    args = ap.parse_args()
    threads = sorted({int(t) for t in args.threads.split(",")})
    common = ["--steps", str(args.steps), "--warmup", str(args.warmup)]
    results = []
    for th in threads:
        for r in range(args.rounds):
            tools = ["rnnlab", "pytorch", "keras"]
            tools = tools[r % 3:] + tools[:r % 3]
            cases = None
            for tool in tools:
                if tool == "rnnlab":
                    rows = run_json([args.rnnlab, "bench", "--json", "--threads", str(th)] + common)
                    cases = rows
                else:
                    if cases is None:
                        cases = run_json([args.rnnlab, "bench", "--json", "--threads", str(th), "--steps", "1", "--warmup", "0"])
                    script = os.path.join(HERE, "torch_bench.py" if tool == "pytorch" else "keras_bench.py")
                    rows = run_json([sys.executable, script, "--threads", str(th), "--cases", json.dumps(cases)] + common)
                for row in rows:
                    row["round"] = r
                results.extend(rows)
                print(f"threads {th} round {r + 1}/{args.rounds}: {tool} done", file=sys.stderr, flush=True)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(results, f, indent=1)

    def med(tool, th, w, c):
        xs = [x["ms"] for x in results if x["tool"] == tool and x["threads"] == th and x["workload"] == w and x["cell"] == c]
        return statistics.median(xs) if xs else float("nan")

    versions = {x["tool"]: x.get("version", "") for x in results}
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {date.today()}; "
          f"PyTorch {versions.get('pytorch', '?')}, TensorFlow/Keras {versions.get('keras', '?')}; "
          f"median ms per training step over {args.rounds} alternating rounds (each the median of {args.steps} steps)\n")
    print("| threads | workload | cell | rnnlab ms | PyTorch ms | Keras ms | vs PyTorch | vs best peer |")
    print("|---|---|---|---|---|---|---|---|")
    seen = []
    for x in results:
        key = (x["threads"], x["workload"], x["cell"])
        if x["tool"] == "rnnlab" and key not in seen:
            seen.append(key)
    for th, w, c in seen:
        ours, pt, ke = med("rnnlab", th, w, c), med("pytorch", th, w, c), med("keras", th, w, c)
        best = min(pt, ke)
        print(f"| {th} | {w} | {c} | {ours:.2f} | {pt:.2f} | {ke:.2f} | {pt / ours:.2f}× | {best / ours:.2f}× |")


if __name__ == "__main__":
    main()
