"""experiments/parity.toml's protocol in PyTorch, as a researcher would write it: one process
per trial in a pool of `--jobs` one-thread processes, longest trials first (GRU, LSTM, RNN).

Running parity of bit strings: trained on all 4096 12-bit strings (full batch, 100 Adam steps
at lr 0.1, cross-entropy at every step), tested on all 65,536 16-bit strings under
`torch.no_grad()` in batches of 8192 every 10 steps (and at the end). LSTM 64 projected to 2
units that are the logits; GRU 64 and tanh RNN 64 with a linear head. Prints one JSON line per
trial and a summary line, so `bench/sweep.py` can compare it with `rnnlab sweep`."""
import argparse
import itertools
import json
import time
from concurrent.futures import ProcessPoolExecutor


def strings(length):
    import torch
    bits = torch.tensor(list(itertools.product([0.0, 1.0], repeat=length)))
    x = bits.unsqueeze(-1)  # [N, T, 1]
    y = (torch.cumsum(bits, dim=1) % 2).long()  # running parity [N, T]
    return x, y


def trial(args):
    cell, seed, steps, eval_every, eval_batch = args
    import torch
    from torch import nn
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    started = time.perf_counter()
    x, y = strings(12)
    tx, ty = strings(16)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            if cell == "lstm":
                self.rnn, self.head = nn.LSTM(1, 64, proj_size=2, batch_first=True), None
            else:
                kind = nn.GRU if cell == "gru" else nn.RNN
                self.rnn, self.head = kind(1, 64, batch_first=True), nn.Linear(64, 2)

        def forward(self, x):
            out, _ = self.rnn(x)
            return out if self.head is None else self.head(out)

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    eval_seconds, acc = 0.0, float("nan")
    for step in range(1, steps + 1):
        opt.zero_grad()
        loss = loss_fn(net(x).reshape(-1, 2), y.reshape(-1))
        loss.backward()
        opt.step()
        if step == steps or (eval_every and step % eval_every == 0):
            t0 = time.perf_counter()
            correct = 0
            with torch.no_grad():
                for i in range(0, len(tx), eval_batch):
                    correct += (net(tx[i:i + eval_batch]).argmax(-1) == ty[i:i + eval_batch]).sum().item()
            acc = correct / ty.numel()
            eval_seconds += time.perf_counter() - t0
    wall = time.perf_counter() - started
    return {"cell": cell, "seed": seed, "test_accuracy": acc, "wall_seconds": wall, "eval_seconds": eval_seconds}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--eval-every", type=int, default=10)
    ap.add_argument("--eval-batch", type=int, default=8192)
    a = ap.parse_args()
    # Longest first, as rnnlab schedules: GRU, LSTM, then the simple RNN.
    trials = [(c, s, a.steps, a.eval_every, a.eval_batch) for c in ["gru", "lstm", "rnn"] for s in range(a.seeds)]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=a.jobs) as pool:
        results = list(pool.map(trial, trials))
    wall = time.perf_counter() - started
    import torch
    for r in results:
        print(json.dumps(r))
    print(json.dumps({"summary": True, "wall_seconds": wall, "torch": torch.__version__, "jobs": a.jobs}))


if __name__ == "__main__":
    main()
