"""PyTorch side of `just bench-peers`: one training step (forward, backward, Adam) of
nn.LSTM / nn.GRU / nn.RNN plus a per-step linear head and cross-entropy, on the cases given
as JSON (from `rnnlab bench --json`). Prints one JSON object per case: median ms per step."""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", required=True, help="JSON list of cases")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cells = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}
    for c in json.loads(args.cases):
        t, b, i, h, k = c["steps"], c["batch"], c["input"], c["hidden"], c["classes"]
        rnn = cells[c["cell"]](i, h)
        head = torch.nn.Linear(h, k)
        opt = torch.optim.Adam(list(rnn.parameters()) + list(head.parameters()), lr=1e-3)
        x = torch.rand(t, b, i)
        y = torch.randint(0, k, (t * b,))

        def step():
            opt.zero_grad(set_to_none=True)
            out, _ = rnn(x)
            loss = F.cross_entropy(head(out.reshape(t * b, h)), y)
            loss.backward()
            opt.step()

        times = []
        for n in range(args.warmup + args.steps):
            t0 = time.perf_counter()
            step()
            if n >= args.warmup:
                times.append(time.perf_counter() - t0)
        print(json.dumps({"tool": "pytorch", "workload": c["workload"], "cell": c["cell"],
                          "threads": args.threads, "ms": 1e3 * statistics.median(times),
                          "version": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
