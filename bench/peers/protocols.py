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
  adding      experiments/bai2018_adding.toml: the adding problem (T 600; 50,000 / 1,000 /
              1,000 sequences from the paper's generator), ~70K parameters, Adam (--lr, default
              2e-3), clip 1, batch 32, 10 epochs; test MSE at the best validation MSE (per epoch)
  copy        experiments/bai2018_copy.toml: copy memory (T 1000, 10 symbols, one-hot in;
              10,000 / 1,000 / 1,000), ~16K parameters, RMSprop (--lr, default 5e-4), clip 1,
              batch 32, 50 epochs; cross-entropy over all T + 20 steps, at the best validation loss
  seq_mnist   experiments/bai2018_seq_mnist.toml: MNIST pixel by pixel (784 steps), ~70K
  pmnist      parameters, Adam (--lr, default 2e-3), clip 1, batch 64, 10 epochs, the first 5,000
              training images validating; test accuracy at the best validation accuracy
              (pmnist: a fixed random permutation of the pixels, not rnnlab's)

Sizes from a parameter budget are solved as `[model] params` solves them: the largest hidden
size whose layer and linear head have at most that many parameters (PyTorch's count).

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


GATES = {"lstm": 4, "gru": 3, "rnn": 1}
# name: (input size, classes or outputs, parameter budget)
LONG = {"adding": (2, 1, 70000), "copy": (10, 10, 16000), "seq_mnist": (1, 10, 70000), "pmnist": (1, 10, 70000)}


def hidden_for(cell, inputs, outputs, budget):
    """The largest hidden size whose layer and head have at most `budget` parameters."""
    count = lambda h: GATES[cell] * h * (inputs + h + 2) + outputs * h + outputs  # noqa: E731
    h = 1
    while count(h + 1) <= budget:
        h += 1
    return h


def adding_data(rng, n, length):
    x = np.zeros((n, length, 2), np.float32)
    x[:, :, 0] = rng.random((n, length), dtype=np.float32)
    y = np.zeros((n, 1), np.float32)
    for i in range(n):
        a, b = rng.choice(length, 2, replace=False)
        x[i, [a, b], 1] = 1.0
        y[i, 0] = x[i, a, 0] + x[i, b, 0]
    return x, y


def copy_data(rng, n, delay, memory=10):
    steps = delay + 2 * memory
    symbols = np.zeros((n, steps), np.int64)
    symbols[:, :memory] = rng.integers(1, 9, (n, memory))
    symbols[:, memory + delay - 1:] = 9
    y = np.zeros((n, steps), np.int64)
    y[:, -memory:] = symbols[:, :memory]
    return np.eye(10, dtype=np.float32)[symbols], y


def long_trial(args):
    protocol, cell, seed, epochs_override, _, lr, size = args
    import torch
    from torch import nn
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    started = time.perf_counter()
    inputs, outputs, budget = LONG[protocol]
    hidden = hidden_for(cell, inputs, outputs, budget)
    rng = np.random.default_rng(seed)
    if protocol == "adding":
        length, n = size or 600, 50000
        (x, y), (vx, vy), (tx, ty) = (adding_data(rng, k, length) for k in (n, 1000, 1000))
        lr, batch, epochs, opt_kind = lr or 2e-3, 32, 10, torch.optim.Adam
    elif protocol == "copy":
        delay, n = size or 1000, 10000
        (x, y), (vx, vy), (tx, ty) = (copy_data(rng, k, delay) for k in (n, 1000, 1000))
        lr, batch, epochs, opt_kind = lr or 5e-4, 32, 50, torch.optim.RMSprop
    else:
        images = read_idx("train-images-idx3-ubyte").reshape(-1, 784, 1).astype(np.float32) / 255.0
        labels = read_idx("train-labels-idx1-ubyte").astype(np.int64)
        timages = read_idx("t10k-images-idx3-ubyte").reshape(-1, 784, 1).astype(np.float32) / 255.0
        tlabels = read_idx("t10k-labels-idx1-ubyte").astype(np.int64)
        if protocol == "pmnist":
            perm = np.random.default_rng(0).permutation(784)
            images, timages = images[:, perm], timages[:, perm]
        n = size or 55000
        (vx, vy), (x, y), (tx, ty) = (images[:5000], labels[:5000]), (images[5000:5000 + n], labels[5000:5000 + n]), (timages, tlabels)
        lr, batch, epochs, opt_kind = lr or 2e-3, 64, 10, torch.optim.Adam
    epochs = epochs_override or epochs
    x, y, vx, vy, tx, ty = (torch.from_numpy(np.ascontiguousarray(a)) for a in (x, y, vx, vy, tx, ty))
    rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell](inputs, hidden, batch_first=True)
    head = nn.Linear(hidden, outputs)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = opt_kind(params, lr=lr)

    def loss_of(xb, yb):
        out = head(rnn(xb)[0])
        if protocol == "adding":
            return nn.functional.mse_loss(out[:, -1], yb)
        if protocol == "copy":
            return nn.functional.cross_entropy(out.reshape(-1, 10), yb.reshape(-1))
        return nn.functional.cross_entropy(out[:, -1], yb)

    def measure(xs, ys):
        with torch.no_grad():
            total, right = 0.0, 0
            for i in range(0, len(xs), 500):
                xb, yb = xs[i:i + 500], ys[i:i + 500]
                total += loss_of(xb, yb).item() * len(xb)
                if protocol in ("seq_mnist", "pmnist"):
                    right += (head(rnn(xb)[0])[:, -1].argmax(-1) == yb).sum().item()
            return total / len(xs), right / len(xs)

    metric = {"adding": "mse", "copy": "loss"}.get(protocol, "accuracy")
    best, generator = None, torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            loss = loss_of(x[idx], y[idx])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
        v_loss, v_acc = measure(vx, vy)
        value = v_acc if metric == "accuracy" else v_loss
        if best is None or (value > best[0] if metric == "accuracy" else value < best[0]):
            t_loss, t_acc = measure(tx, ty)
            best = (value, t_acc if metric == "accuracy" else t_loss, epoch + 1)
    return {"protocol": protocol, "cell": cell, "hidden": hidden, "seed": seed, "lr": lr, "epochs": epochs,
            f"valid_{metric}": best[0], f"test_{metric}": best[1], "selected_epoch": best[2],
            "wall_seconds": time.perf_counter() - started}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("protocol", choices=["nottingham", "jsb", "geron_rnn", *LONG])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--cells", nargs="+", default=None, help="default: lstm gru rnn (geron_rnn: rnn)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=None, help="override the protocol's epochs")
    ap.add_argument("--lr", type=float, default=None, help="long-memory protocols: the learning rate")
    ap.add_argument("--size", type=int, default=None,
                    help="long-memory protocols: T (adding: length, copy: delay) or the training images (MNIST)")
    ap.add_argument("--patience", type=int, default=None,
                    help="music protocols: early stopping on valid_nll once per epoch, as rnnlab's "
                         "[train.early_stopping] with eval_every = one epoch; reports the test NLL at the best one")
    a = ap.parse_args()
    cells = a.cells or (["rnn"] if a.protocol == "geron_rnn" else ["lstm", "gru", "rnn"])
    if a.protocol in LONG:
        fn = long_trial
        trials = [(a.protocol, c, s, a.epochs, a.patience, a.lr, a.size) for c in cells for s in a.seeds]
    else:
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
