#!/usr/bin/env python3
"""The golden vectors of crates/nn/tests/golden/, from PyTorch.

`just golden` (or `.venv/bin/python scripts/golden.py --check`) recomputes every stored value
from the stored inputs and parameters with PyTorch in float64 and fails on any difference
above 1e-9: anyone can audit that the files are PyTorch's. `--write` rewrites the files from
that computation; a case whose file does not exist yet gets inputs and parameters drawn with
`torch.manual_seed(SEED + case index)` (add a line to CASES to extend the set).

Pinned: torch==2.15.0 (the version the files were made with), float64 on CPU. Shapes: input
size 4, hidden size 6, 5 steps, batch 3, time-major [T, B, I] (no batch_first).
"""

import argparse
import json
import math
import pathlib
import sys

import torch

HERE = pathlib.Path(__file__).resolve().parent.parent / "crates" / "nn" / "tests" / "golden"
SEED = 2024
T, B, I, H = 5, 3, 4, 6
LAYOUT = "time-major [T, B, I]"

# name -> (constructor shown in the file, constructor called)
CASES = {
    "lstm_1layer": ("LSTM(4, 6)", lambda: torch.nn.LSTM(I, H)),
    "lstm_2layer": ("LSTM(4, 6, num_layers=2)", lambda: torch.nn.LSTM(I, H, num_layers=2)),
    "lstm_proj": ("LSTM(4, 6, proj_size=3)", lambda: torch.nn.LSTM(I, H, proj_size=3)),
    "gru_1layer": ("GRU(4, 6)", lambda: torch.nn.GRU(I, H)),
    "gru_2layer": ("GRU(4, 6, num_layers=2)", lambda: torch.nn.GRU(I, H, num_layers=2)),
    "rnn_tanh": ("RNN(4, 6)", lambda: torch.nn.RNN(I, H)),
    "rnn_tanh_2layer": ("RNN(4, 6, num_layers=2)", lambda: torch.nn.RNN(I, H, num_layers=2)),
    # The file predates this script and shows the constructor without its nonlinearity.
    "rnn_relu": ("RNN(4, 6)", lambda: torch.nn.RNN(I, H, nonlinearity="relu")),
}

OPTIMIZERS = {
    "sgd": ("sgd lr=0.1", lambda p: torch.optim.SGD(p, lr=0.1)),
    "sgd_momentum_nesterov_wd": (
        "sgd lr=0.1 momentum=0.9 nesterov=true weight_decay=0.01 (PyTorch semantics)",
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    ),
    "adam": (
        "adam lr=0.01 betas=(0.9,0.999) eps=1e-8 (PyTorch semantics)",
        lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8),
    ),
    "adamw": ("adamw lr=0.01 weight_decay=0.1 (PyTorch semantics)", lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1)),
    "rmsprop_pytorch": (
        "rmsprop lr=0.01 alpha=0.99 eps=1e-8, PyTorch semantics: square_avg starts at 0, eps added outside the sqrt",
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.99, eps=1e-8),
    ),
    "rmsprop_pytorch_momentum_centered": (
        "rmsprop lr=0.01 alpha=0.9 eps=1e-6 momentum=0.5 centered=true, PyTorch semantics",
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-6, momentum=0.5, centered=True),
    ),
    "adagrad": (
        "adagrad lr=0.1 initial_accumulator=0 eps=1e-10 (PyTorch semantics)",
        lambda p: torch.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0, eps=1e-10),
    ),
    # Not in PyTorch: TensorFlow 1.x's RMSPropOptimizer, by its documented update rule.
    "rmsprop_tf1": (
        "rmsprop lr=0.001 decay=0.9 eps=1e-10 momentum=0, TensorFlow 1.x semantics: rms starts at 1, eps inside the sqrt",
        None,
    ),
}


def layer_case(index, name, old):
    shown, make = CASES[name]
    torch.manual_seed(SEED + index)
    module = make().double()
    lstm = isinstance(module, torch.nn.LSTM)
    if old is None:
        x = torch.randn(T, B, I, dtype=torch.float64)
        with torch.no_grad():
            for p in module.parameters():
                p.copy_(torch.randn_like(p) * 0.5)
        out_size = module.proj_size if lstm and module.proj_size > 0 else H
        w = torch.randn(T, B, out_size, dtype=torch.float64)
    else:
        x = torch.tensor(old["input"], dtype=torch.float64)
        w = torch.tensor(old["output_weight"], dtype=torch.float64)
        with torch.no_grad():
            for pname, p in module.named_parameters():
                p.copy_(torch.tensor(old["params"][pname], dtype=torch.float64))
    x.requires_grad_(True)
    output, state = module(x)
    h_n, c_n = state if lstm else (state, None)
    loss = (output * w).sum() + 0.5 * h_n.sum()
    if lstm:
        loss = loss + 0.25 * c_n.sum()
    loss.backward()
    out = {
        "name": name,
        "module": shown,
        "layout": LAYOUT,
        "loss": "sum(output * output_weight) + 0.5*sum(h_n)" + (" + 0.25*sum(c_n)" if lstm else ""),
        "input": x.detach().tolist(),
        "output_weight": w.tolist(),
        "params": {n: p.detach().tolist() for n, p in module.named_parameters()},
        "output": output.detach().tolist(),
        "h_n": h_n.detach().tolist(),
        "grad_input": x.grad.tolist(),
        "grad_params": {n: p.grad.tolist() for n, p in module.named_parameters()},
    }
    if lstm:
        out["c_n"] = c_n.detach().tolist()
    return out


def tf1_rmsprop(params, grads, lr=0.001, decay=0.9, eps=1e-10):
    p = list(params)
    ms = [1.0] * len(p)
    steps = []
    for g in grads:
        for i, gi in enumerate(g):
            ms[i] = decay * ms[i] + (1 - decay) * gi * gi
            p[i] -= lr * gi / math.sqrt(ms[i] + eps)
        steps.append(list(p))
    return steps


def optimizer_cases(old):
    if old is None:
        torch.manual_seed(SEED)
        initial = torch.randn(7, dtype=torch.float64).tolist()
        grads = torch.randn(3, 7, dtype=torch.float64).tolist()
    else:
        initial, grads = old["initial_params"], old["grads_per_step"]
    cases = {}
    for name, (shown, make) in OPTIMIZERS.items():
        if make is None:
            after = tf1_rmsprop(initial, grads)
        else:
            p = torch.nn.Parameter(torch.tensor(initial, dtype=torch.float64))
            opt = make([p])
            after = []
            for g in grads:
                p.grad = torch.tensor(g, dtype=torch.float64)
                opt.step()
                after.append(p.detach().tolist())
        cases[name] = {"optimizer": shown, "after_each_step": after}
    return {"initial_params": initial, "grads_per_step": grads, "cases": cases}


# name -> (the rnnlab [optimizer.schedule] it matches, PyTorch schedulers on an optimizer with
# lr 0.1, over SCHEDULE_STEPS steps).
SCHEDULE_STEPS = 16
lr_sched = torch.optim.lr_scheduler


def warmup_then(opt, steps, factor, then):
    """LinearLR for `steps` steps from `factor`·lr, then `then`, chained by SequentialLR."""
    warm = lr_sched.LinearLR(opt, start_factor=factor, end_factor=1.0, total_iters=steps)
    return lr_sched.SequentialLR(opt, [warm, then(opt)], milestones=[steps])


SCHEDULES = {
    "step": ("kind = 'step'\nstep_size = 3\ngamma = 0.5", lambda o: lr_sched.StepLR(o, step_size=3, gamma=0.5)),
    "exponential": ("kind = 'exponential'\ngamma = 0.9", lambda o: lr_sched.ExponentialLR(o, gamma=0.9)),
    "cosine": (
        "kind = 'cosine'\nt_max = 10\nmin_lr = 0.001",
        lambda o: lr_sched.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
    ),
    "cosine_warmup": (
        "kind = 'cosine'\nwarmup_steps = 4\nwarmup_start_factor = 0.25",
        lambda o: warmup_then(o, 4, 0.25, lambda o: lr_sched.CosineAnnealingLR(o, T_max=SCHEDULE_STEPS - 4)),
    ),
    "step_warmup": (
        "kind = 'step'\nstep_size = 5\nwarmup_steps = 3",
        lambda o: warmup_then(o, 3, 1 / 3, lambda o: lr_sched.StepLR(o, step_size=5, gamma=0.1)),
    ),
    "constant_warmup": (
        "kind = 'constant'\nwarmup_steps = 5",
        lambda o: warmup_then(o, 5, 1 / 3, lambda o: lr_sched.ConstantLR(o, factor=1.0, total_iters=0)),
    ),
}


# A validation metric over 40 evaluations: falls, stalls (some changes below the thresholds),
# falls again, then a long plateau. `max` cases watch 1 - value (an accuracy).
PLATEAU_VALUES = [1.0, 0.8, 0.7, 0.7, 0.69995, 0.71, 0.65, 0.65, 0.65, 0.65, 0.6499, 0.64, 0.645, 0.64]
PLATEAU_VALUES += [0.64] * 12 + [0.5, 0.45, 0.45, 0.4499, 0.46] + [0.45] * 9
PLATEAU = {
    "min_rel": (
        "kind = 'plateau'\nmetric = 'valid_loss'\npatience = 2\ngamma = 0.5",
        dict(mode="min", factor=0.5, patience=2),
    ),
    "max_abs_cooldown": (
        "kind = 'plateau'\nmetric = 'valid_accuracy'\npatience = 1\ngamma = 0.3\nthreshold = 0.01\n"
        "threshold_mode = 'abs'\ncooldown = 2\nmin_lr = 0.01",
        dict(mode="max", factor=0.3, patience=1, threshold=0.01, threshold_mode="abs", cooldown=2, min_lr=0.01),
    ),
    "defaults": ("kind = 'plateau'\nmetric = 'valid_nll'", dict(mode="min")),
}


def plateau_cases():
    """The rate after each `scheduler.step(value)` of ReduceLROnPlateau (lr 0.1)."""
    cases = {}
    for name, (rnnlab, kwargs) in PLATEAU.items():
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        sched = lr_sched.ReduceLROnPlateau(opt, **kwargs)
        values = [1 - v for v in PLATEAU_VALUES] if kwargs["mode"] == "max" else PLATEAU_VALUES
        lrs = []
        for v in values:
            sched.step(v)
            lrs.append(opt.param_groups[0]["lr"])
        cases[name] = {"rnnlab": rnnlab, "values": values, "lr_after_each": lrs}
    return cases


def schedule_cases(old):
    """The learning rate PyTorch uses at each optimizer step (read before `opt.step()`, then
    `scheduler.step()`, the usual loop)."""
    cases = {}
    for name, (rnnlab, make) in SCHEDULES.items():
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=0.1)
        sched = make(opt)
        lrs = []
        for _ in range(SCHEDULE_STEPS):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        cases[name] = {"rnnlab": rnnlab, "lr": lrs}
    # A scheduled optimizer's trajectory: Adam at lr 0.01 halved every 2 steps.
    if old is None:
        torch.manual_seed(SEED + 100)
        initial = torch.randn(7, dtype=torch.float64).tolist()
        grads = torch.randn(5, 7, dtype=torch.float64).tolist()
    else:
        initial, grads = old["adam_step"]["initial_params"], old["adam_step"]["grads_per_step"]
    p = torch.nn.Parameter(torch.tensor(initial, dtype=torch.float64))
    opt = torch.optim.Adam([p], lr=0.01)
    sched = lr_sched.StepLR(opt, step_size=2, gamma=0.5)
    after = []
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        sched.step()
        after.append(p.detach().tolist())
    adam = {
        "rnnlab": "name = 'adam'\nlr = 0.01\nschedule = { kind = 'step', step_size = 2, gamma = 0.5 }",
        "initial_params": initial,
        "grads_per_step": grads,
        "after_each_step": after,
    }
    return {"base_lr": 0.1, "steps": SCHEDULE_STEPS, "cases": cases, "adam_step": adam, "plateau": plateau_cases()}


# name -> (cell, dropout between layers, head dropout, scored at every step)
DROPOUT_CASES = {
    "lstm_per_step": ("LSTM", 0.5, 0.25, True),
    "gru_last_step": ("GRU", 0.3, 0.4, False),
}
CLASSES = 3


def dropout_cases(old):
    """A 2-layer network with a linear head and cross-entropy, trained with dropout: PyTorch's
    `nn.LSTM/GRU(num_layers=2, dropout=p)` drops the outputs of layer 0 (not of the top layer),
    and an `nn.Dropout(head_p)` before the `nn.Linear` drops the head's input. PyTorch's masks
    cannot be read back from `nn.LSTM`, so the same network is written as two one-layer modules
    with the masks multiplied in by hand (inverted dropout: kept values times 1/(1-p)); the masks
    are stored so rnnlab can apply the same ones."""
    cases = {}
    for index, (name, (cell, p, head_p, per_step)) in enumerate(DROPOUT_CASES.items()):
        prev = old["cases"][name] if old else None
        torch.manual_seed(SEED + 100 + index)
        make = getattr(torch.nn, cell)
        layers = [make(I, H).double(), make(H, H).double()]
        head = torch.nn.Linear(H, CLASSES).double()
        rows = T if per_step else 1
        if prev is None:
            x = torch.randn(T, B, I, dtype=torch.float64)
            for m in layers + [head]:
                with torch.no_grad():
                    for q in m.parameters():
                        q.copy_(torch.randn_like(q) * 0.5)
            labels = torch.randint(0, CLASSES, (B, rows))
            mask0 = torch.bernoulli(torch.full((T, B, H), 1 - p, dtype=torch.float64)) / (1 - p)
            mask_head = torch.bernoulli(torch.full((rows, B, H), 1 - head_p, dtype=torch.float64)) / (1 - head_p)
        else:
            x = torch.tensor(prev["input"], dtype=torch.float64)
            labels = torch.tensor(prev["labels"])
            mask0 = torch.tensor(prev["mask_between"], dtype=torch.float64)
            mask_head = torch.tensor(prev["mask_head"], dtype=torch.float64)
            with torch.no_grad():
                for l, m in enumerate(layers):
                    for pname, q in m.named_parameters():
                        q.copy_(torch.tensor(prev["params"][f"rnn.{pname[:-1]}{l}"], dtype=torch.float64))
                for pname, q in head.named_parameters():
                    q.copy_(torch.tensor(prev["params"][f"head.{pname}"], dtype=torch.float64))
        y0, _ = layers[0](x)
        y1, _ = layers[1](y0 * mask0)
        top = (y1 if per_step else y1[-1:]) * mask_head
        logits = head(top)  # [rows, B, C]
        # rnnlab stacks rows time-major (row = t·B + b); labels are per sequence [B, rows].
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, CLASSES), labels.t().reshape(-1))
        loss.backward()
        params, grads = {}, {}
        for l, m in enumerate(layers):
            for pname, q in m.named_parameters():
                params[f"rnn.{pname[:-1]}{l}"] = q.detach().tolist()
                grads[f"rnn.{pname[:-1]}{l}"] = q.grad.tolist()
        for pname, q in head.named_parameters():
            params[f"head.{pname}"] = q.detach().tolist()
            grads[f"head.{pname}"] = q.grad.tolist()
        cases[name] = {
            "model": f"cell = '{cell.lower()}', layers = 2, hidden_size = {H}, dropout = {p}, head_dropout = {head_p}",
            "per_step": per_step,
            "input": x.tolist(),
            "labels": labels.tolist(),
            "params": params,
            "mask_between": mask0.tolist(),
            "mask_head": mask_head.tolist(),
            "loss": loss.item(),
            "grad_params": grads,
        }
    return {"classes": CLASSES, "layout": LAYOUT, "cases": cases}


# Weight noise (Graves 2011, as Chung et al. 2014 train with it): each step adds sigma * eps to
# every parameter for the forward and backward pass, and the optimizer updates the clean ones.
NOISE_SIGMA = 0.075
NOISE_STEPS = 3


def weight_noise_cases(old):
    """A one-layer GRU with a linear head and cross-entropy at every step, trained for
    NOISE_STEPS steps of RMSprop (PyTorch's, lr 0.01) with weight noise: before each step's
    forward pass every parameter gets sigma * eps (eps ~ N(0, 1), stored per step and
    parameter, so rnnlab can add the same draws), the gradient is taken there, the clean
    parameters are restored and the optimizer steps on them. Stored: the start, the draws, and
    the parameters after every step."""
    prev = old["cases"]["gru_rmsprop"] if old else None
    torch.manual_seed(SEED + 200)
    rnn = torch.nn.GRU(I, H).double()
    head = torch.nn.Linear(H, CLASSES).double()
    named = [(f"rnn.{n}", q) for n, q in rnn.named_parameters()] + [(f"head.{n}", q) for n, q in head.named_parameters()]
    if prev is None:
        x = torch.randn(T, B, I, dtype=torch.float64)
        with torch.no_grad():
            for _, q in named:
                q.copy_(torch.randn_like(q) * 0.5)
        labels = torch.randint(0, CLASSES, (B, T))
        noise = [{n: torch.randn_like(q) for n, q in named} for _ in range(NOISE_STEPS)]
    else:
        x = torch.tensor(prev["input"], dtype=torch.float64)
        labels = torch.tensor(prev["labels"])
        with torch.no_grad():
            for n, q in named:
                q.copy_(torch.tensor(prev["params"][n], dtype=torch.float64))
        noise = [{n: torch.tensor(step[n], dtype=torch.float64) for n, _ in named} for step in prev["noise"]]
    start = {n: q.detach().tolist() for n, q in named}
    opt = torch.optim.RMSprop([q for _, q in named], lr=0.01, alpha=0.99, eps=1e-8)
    after, losses = [], []
    for eps in noise:
        clean = {n: q.detach().clone() for n, q in named}
        with torch.no_grad():
            for n, q in named:
                q.add_(NOISE_SIGMA * eps[n])
        opt.zero_grad()
        logits = head(rnn(x)[0])  # [T, B, C]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, CLASSES), labels.t().reshape(-1))
        loss.backward()
        with torch.no_grad():
            for n, q in named:
                q.copy_(clean[n])
        opt.step()
        losses.append(loss.item())
        after.append({n: q.detach().tolist() for n, q in named})
    case = {
        "model": f"cell = 'gru', hidden_size = {H}",
        "optimizer": "rmsprop lr=0.01 alpha=0.99 eps=1e-8 (PyTorch semantics)",
        "sigma": NOISE_SIGMA,
        "input": x.tolist(),
        "labels": labels.tolist(),
        "params": start,
        "noise": [{n: e.tolist() for n, e in step.items()} for step in noise],
        "loss": losses,
        "params_after": after,
    }
    return {"classes": CLASSES, "layout": LAYOUT, "cases": {"gru_rmsprop": case}}


def max_diff(a, b, path="$"):
    """Largest absolute difference between two JSON values; raises on a structural mismatch."""
    if isinstance(a, dict):
        if set(a) != set(b):
            raise ValueError(f"{path}: keys {sorted(a)} vs {sorted(b)}")
        return max((max_diff(a[k], b[k], f"{path}.{k}") for k in a), default=0.0)
    if isinstance(a, list):
        if len(a) != len(b):
            raise ValueError(f"{path}: length {len(a)} vs {len(b)}")
        return max((max_diff(x, y, f"{path}[{i}]") for i, (x, y) in enumerate(zip(a, b))), default=0.0)
    if isinstance(a, str):
        if a != b:
            raise ValueError(f"{path}: {a!r} vs {b!r}")
        return 0.0
    return abs(a - b)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="rewrite the files instead of checking them")
    ap.add_argument("--dir", type=pathlib.Path, default=HERE)
    args = ap.parse_args()
    torch.set_default_dtype(torch.float64)
    print(f"torch {torch.__version__}; golden vectors in {args.dir}")
    failures = 0
    jobs = [(f"{n}.json", lambda old, i=i, n=n: layer_case(i, n, old), 2) for i, n in enumerate(CASES)]
    jobs.append(("optimizers.json", optimizer_cases, 1))
    jobs.append(("schedules.json", schedule_cases, 1))
    jobs.append(("dropout.json", dropout_cases, 1))
    jobs.append(("weight_noise.json", weight_noise_cases, 1))
    for file, compute, indent in jobs:
        path = args.dir / file
        old = json.loads(path.read_text()) if path.exists() else None
        new = compute(old)
        if args.write:
            text = json.dumps(new) if indent == 2 else json.dumps(new, indent=1)
            path.write_text(text)
            print(f"wrote {path}")
            continue
        if old is None:
            print(f"{file}: missing (run with --write to create it)")
            failures += 1
            continue
        try:
            d = max_diff(new, old)
        except ValueError as e:
            print(f"{file}: differs in structure: {e}")
            failures += 1
            continue
        ok = d <= 1e-9
        failures += not ok
        print(f"{file}: largest difference from PyTorch {d:.3e} {'ok' if ok else 'FAIL'}")
    if failures:
        sys.exit(f"{failures} golden file(s) do not match PyTorch {torch.__version__}")


if __name__ == "__main__":
    main()
