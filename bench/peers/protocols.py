"""The protocols behind rnnlab's `[[published]]` figures, in PyTorch, as a researcher would write
them: so that a figure rnnlab misses can be told apart as "worse" (rnnlab trains worse than
PyTorch on the same protocol) or "different" (PyTorch misses it the same way: the protocol is
not the paper's).

Each protocol mirrors an experiment file (same data files from this repository, sizes,
optimizer, clipping, batch size, epochs, chunking and metric); what cannot be the same is the
random stream (initial weights, minibatch order), so compare distributions, not digits.

  nottingham  experiments/nottingham.toml: Nottingham next-frame prediction, LSTM 450 / GRU 530
              / tanh RNN 950 + Linear(88), Adam 1e-3, clip 0.2, pieces cut into chunks of at
              most 200 frames, 16 chunks per batch (padded, masked), 10 epochs; final test NLL
  jsb         experiments/jsb.toml: JSB Chorales, LSTM 230 / GRU 270 / RNN 480, one piece per
              batch, 30 epochs; final test NLL
  geron_rnn   experiments/mnist_geron.toml cut to its RNN: MNIST rows (28 steps of 28 pixels),
              tanh RNN 150 + Linear(10) on the last step, Adam 1e-3, batch 150, 10 epochs on
              the 55,000 training images after the 5,000 held out; test accuracy

NLL is per predicted frame: the sum over the 88 keys of the binary cross-entropy, averaged
over the frames of the split (Bai et al. 2018); the training loss is PyTorch's mean
`BCEWithLogitsLoss` over the unpadded (frame, key) entries, as rnnlab's. Prints one JSON line
per trial and a summary line.

  .venv/bin/python bench/peers/protocols.py nottingham --seeds 0 --jobs 2
"""
import argparse
import gzip
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEYS = 88

POLY = {
    # name: (corpus folder, {cell: hidden}, batch, max_steps, epochs)
    "nottingham": ("nottingham", {"lstm": 450, "gru": 530, "rnn": 950}, 16, 200, 10),
    "jsb": ("jsb_chorales", {"lstm": 230, "gru": 270, "rnn": 480}, 1, None, 30),
}


def read_pieces(corpus, split):
    """A split of data/poly_music/<corpus> as a list of [frames, 88] float32 piano rolls."""
    path = os.path.join(ROOT, "data", "poly_music", corpus, f"{split}.csv.gz")
    pieces = {}
    with gzip.open(path, "rt") as f:
        next(f)
        for line in f:
            seq, frame, notes = line.rstrip("\n").split(",")
            roll = pieces.setdefault(int(seq), [])
            assert int(frame) == len(roll), f"{path}: frames of piece {seq} out of order"
            row = np.zeros(KEYS, np.float32)
            for n in notes.split():
                row[int(n) - 21] = 1.0
            roll.append(row)
    return [np.stack(pieces[i]) for i in sorted(pieces)]


def chunks(pieces, max_steps):
    """(inputs, targets) pairs of at most `max_steps` predicted frames, as rnnlab's plugin cuts."""
    out = []
    for p in pieces:
        n = len(p) - 1
        if n < 1:
            continue
        step = max_steps or n
        for start in range(0, n, step):
            end = min(start + step, n)
            out.append((p[start:end], p[start + 1:end + 1]))
    return out


def padded(batch):
    """Time-major inputs, targets and mask [T, B, 88] of a list of (inputs, targets) chunks."""
    import torch
    steps = max(len(x) for x, _ in batch)
    x = np.zeros((steps, len(batch), KEYS), np.float32)
    y = np.zeros_like(x)
    mask = np.zeros((steps, len(batch), 1), np.float32)
    for b, (xi, yi) in enumerate(batch):
        x[: len(xi), b], y[: len(yi), b], mask[: len(xi), b] = xi, yi, 1.0
    return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(mask)


def poly_trial(args):
    protocol, cell, seed, epochs_override, patience = args
    import torch
    from torch import nn
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    corpus, hidden, batch_size, max_steps, epochs = POLY[protocol]
    epochs = epochs_override or epochs
    started = time.perf_counter()
    train = chunks(read_pieces(corpus, "train"), max_steps)
    test = chunks(read_pieces(corpus, "test"), max_steps)
    valid = chunks(read_pieces(corpus, "valid"), max_steps)
    kind = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
    rnn, head = kind(KEYS, hidden[cell]), nn.Linear(hidden[cell], KEYS)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    bce = nn.BCEWithLogitsLoss(reduction="none")

    def nll(split):
        total, frames = 0.0, 0.0
        with torch.no_grad():
            for i in range(0, len(split), 64):
                x, y, m = padded(split[i:i + 64])
                out, _ = rnn(x)
                total += (bce(head(out), y) * m).sum().item()
                frames += m.sum().item()
        return total / frames

    generator = torch.Generator().manual_seed(seed)
    steps = 0
    # With `patience`: rnnlab's `[train.early_stopping]` on valid_nll, evaluated once per epoch
    # (`eval_every` = the steps of an epoch): the test NLL at the best validation NLL, stopping
    # after `patience` evaluations without a better one.
    best = {"valid_nll": float("inf")}
    waited = 0
    for epoch in range(epochs):
        order = torch.randperm(len(train), generator=generator).tolist()
        for i in range(0, len(order), batch_size):
            x, y, m = padded([train[j] for j in order[i:i + batch_size]])
            out, _ = rnn(x)
            loss = (bce(head(out), y) * m).sum() / (m.sum() * KEYS)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, 0.2)
            opt.step()
            steps += 1
        if patience is not None:
            v = nll(valid)
            if v < best["valid_nll"]:
                best, waited = {"valid_nll": v, "test_nll": nll(test), "selected_step": steps}, 0
            else:
                waited += 1
                if waited >= patience:
                    break
    if patience is not None:
        result = {"protocol": protocol, "cell": cell, "seed": seed, "epochs": epoch + 1, "steps": steps, **best}
    else:
        result = {"protocol": protocol, "cell": cell, "seed": seed, "epochs": epochs, "steps": steps,
                  "test_nll": nll(test), "valid_nll": nll(valid)}
    result["wall_seconds"] = time.perf_counter() - started
    return result


def read_idx(name):
    with open(os.path.join(ROOT, "data", "mnist", name), "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def geron_trial(args):
    _, cell, seed, epochs_override, _ = args
    import torch
    from torch import nn
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    started = time.perf_counter()
    images = torch.from_numpy(read_idx("train-images-idx3-ubyte").astype(np.float32) / 255.0)
    labels = torch.from_numpy(read_idx("train-labels-idx1-ubyte").astype(np.int64))
    # rnnlab's `n_validation = 5000` holds out the first 5,000 training images.
    x, y = images[5000:], labels[5000:]
    tx = torch.from_numpy(read_idx("t10k-images-idx3-ubyte").astype(np.float32) / 255.0)
    ty = torch.from_numpy(read_idx("t10k-labels-idx1-ubyte").astype(np.int64))
    rnn, head = nn.RNN(28, 150, batch_first=True), nn.Linear(150, 10)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3, eps=1e-8)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    epochs = epochs_override or 10
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for i in range(0, len(order), 150):
            idx = order[i:i + 150]
            out, _ = rnn(x[idx])
            loss = loss_fn(head(out[:, -1]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        out, _ = rnn(tx)
        accuracy = (head(out[:, -1]).argmax(-1) == ty).float().mean().item()
    return {"protocol": "geron_rnn", "cell": cell, "seed": seed, "epochs": epochs, "test_accuracy": accuracy,
            "wall_seconds": time.perf_counter() - started}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("protocol", choices=["nottingham", "jsb", "geron_rnn"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--cells", nargs="+", default=None, help="default: lstm gru rnn (geron_rnn: rnn)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=None, help="override the protocol's epochs")
    ap.add_argument("--patience", type=int, default=None,
                    help="music protocols: early stopping on valid_nll once per epoch, as rnnlab's "
                         "[train.early_stopping] with eval_every = one epoch; reports the test NLL at the best one")
    a = ap.parse_args()
    cells = a.cells or (["rnn"] if a.protocol == "geron_rnn" else ["lstm", "gru", "rnn"])
    fn = geron_trial if a.protocol == "geron_rnn" else poly_trial
    trials = [(a.protocol, c, s, a.epochs, a.patience) for c in cells for s in a.seeds]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=a.jobs) as pool:
        for r in pool.map(fn, trials):
            print(json.dumps(r), flush=True)
    import torch
    print(json.dumps({"summary": True, "protocol": a.protocol, "wall_seconds": time.perf_counter() - started,
                      "torch": torch.__version__, "jobs": a.jobs}))


if __name__ == "__main__":
    main()
