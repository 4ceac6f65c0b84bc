"""Training speed at Chung et al. 2014's sizes, per epoch, rnnlab beside PyTorch in one run.

For each of the four polyphonic music sets and each cell at the paper's size (LSTM 36, GRU 46,
tanh RNN 100 units, a sigmoid output over 88 keys), one epoch of the experiments' protocol:
one whole piece per step, RMSprop, weight noise of standard deviation 0.075, the gradient norm
clipped at 1, one thread. Training time only, per epoch, over `--epochs` epochs (default 3):
rnnlab's is (wall − evaluation) of a (1 + epochs)-epoch sweep minus that of a 1-epoch sweep,
divided by epochs, so data loading and start-up cancel; PyTorch's is the mean of `--epochs`
epochs after a warm-up epoch, timed around its training loop. The two alternate, set by set, so that
machine noise hits both. Prints a table and one JSON line per row.

  .venv/bin/python bench/chung_epoch.py --rnnlab target/release/rnnlab [--sets jsb_chorales]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
from protocols import read_pieces  # noqa: E402  (the same reader as the protocols)

SIZES = {"lstm": 36, "gru": 46, "rnn": 100}
SETS = ["jsb_chorales", "nottingham", "musedata", "piano_midi"]
SPEC = """[experiment]
name = "{name}"
seeds = [0]
[dataset]
plugin = "poly_music"
name = "{corpus}"
[model]
cell = "{cell}"
hidden_size = {hidden}
[optimizer]
name = "rmsprop"
lr = 0.001
clip_grad_norm = 1.0
[train]
epochs = {epochs}
batch_size = 1
eval_every = 0
weight_noise = 0.075
resumable = false
"""


def rnnlab_train_seconds(binary, corpus, cell, epochs, tmp):
    name = f"{corpus}_{cell}_{epochs}"
    spec = os.path.join(tmp, name + ".toml")
    with open(spec, "w") as f:
        f.write(SPEC.format(name=name, corpus=corpus, cell=cell, hidden=SIZES[cell], epochs=epochs))
    out = os.path.join(tmp, "results")
    subprocess.run([binary, "sweep", spec, "--out", out, "--jobs", "1", "--fresh"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    trials = os.path.join(out, name, "trials")
    (trial,) = os.listdir(trials)
    values = {}
    with open(os.path.join(trials, trial, "result.toml")) as f:
        for line in f:
            if "=" in line:
                k, v = (s.strip() for s in line.split("=", 1))
                values[k] = v
    return float(values["wall_seconds"]) - float(values["eval_seconds"])


def torch_epoch_seconds(pieces, cell, epochs, seed=0):
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell](88, SIZES[cell])
    head = torch.nn.Linear(SIZES[cell], 88)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.RMSprop(params, lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    data = [torch.from_numpy(p).unsqueeze(1) for p in pieces]  # [T, 1, 88]
    order = np.random.default_rng(seed).permutation(len(data))

    def epoch():
        t0 = time.perf_counter()
        for i in order:
            x = data[i]
            noise = [torch.randn_like(p) * 0.075 for p in params]
            with torch.no_grad():
                for p, n in zip(params, noise):
                    p.add_(n)
            opt.zero_grad(set_to_none=True)
            h, _ = rnn(x[:-1])
            loss = loss_fn(head(h), x[1:])
            loss.backward()
            with torch.no_grad():
                for p, n in zip(params, noise):
                    p.sub_(n)
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
        return time.perf_counter() - t0

    epoch()  # warm-up
    return sum(epoch() for _ in range(epochs)) / epochs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rnnlab", default="target/release/rnnlab")
    ap.add_argument("--sets", nargs="+", default=SETS, choices=SETS)
    ap.add_argument("--cells", nargs="+", default=list(SIZES), choices=list(SIZES))
    ap.add_argument("--epochs", type=int, default=3, help="epochs timed per measurement")
    args = ap.parse_args()
    import torch

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for corpus in args.sets:
            pieces = read_pieces(corpus, "train")
            for cell in args.cells:
                one = rnnlab_train_seconds(args.rnnlab, corpus, cell, 1, tmp)
                more = rnnlab_train_seconds(args.rnnlab, corpus, cell, 1 + args.epochs, tmp)
                ours = (more - one) / args.epochs
                theirs = torch_epoch_seconds(pieces, cell, args.epochs)
                row = {"set": corpus, "cell": cell, "hidden": SIZES[cell], "pieces": len(pieces),
                       "rnnlab_s": round(ours, 4), "pytorch_s": round(theirs, 4),
                       "ratio": round(theirs / ours, 2), "epochs": args.epochs, "torch": torch.__version__}
                print(json.dumps(row), flush=True)
                rows.append(row)
    print()
    print("| set | cell | rnnlab s/epoch | PyTorch s/epoch | PyTorch ÷ rnnlab |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['set']} | {r['cell']} {r['hidden']} | {r['rnnlab_s']:.3f} | {r['pytorch_s']:.3f} | {r['ratio']:.2f}× |")


if __name__ == "__main__":
    main()
