"""Loads an rnnlab checkpoint into PyTorch with the lines of docs/results.md ("Checkpoints") and compares PyTorch's
predictions with `rnnlab predict`'s on the same long-format CSV.

    python scripts/pytorch_load_check.py TRIAL_DIR INPUT.csv RNNLAB_PREDICTIONS.csv

Needs torch, numpy and safetensors (`.venv` from `just bench-peers`, or pip install them).
Exits non-zero when any prediction differs by more than 1e-4.
"""
import csv
import sys
import tomllib
from collections import defaultdict

import torch

trial, input_csv, predictions_csv = sys.argv[1:4]

# --- the docs' lines ----------------------------------------------------------------------
from safetensors.torch import load_file

card = tomllib.load(open(f"{trial}/model.toml", "rb"))
m, state = card["model"], load_file(f"{trial}/model.safetensors")
Rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[m["cell"]]
extra = {"lstm": {"proj_size": m["proj_size"]}, "rnn": {"nonlinearity": m["nonlinearity"]}}.get(m["cell"], {})
rnn = Rnn(card["input_size"], m["hidden_size"], m["layers"], batch_first=True, **extra)
rnn.load_state_dict({k.removeprefix("rnn."): v for k, v in state.items() if k.startswith("rnn.")})
head = torch.nn.Identity()
if "head.weight" in state:
    head = torch.nn.Linear(state["head.weight"].shape[1], state["head.weight"].shape[0])
    head.load_state_dict({"weight": state["head.weight"], "bias": state["head.bias"]})
# out = head(rnn(x)[0])  with x [batch, steps, input_size]; out[:, -1] for a last-step task
# ------------------------------------------------------------------------------------------

features = card["dataset"]["features"]
rows = defaultdict(list)
order = []
with open(input_csv) as f:
    for r in csv.DictReader(f):
        if r["sequence"] not in rows:
            order.append(r["sequence"])
        rows[r["sequence"]].append((int(r["step"]), [float(r[c]) for c in features]))

ours = defaultdict(list)
with open(predictions_csv) as f:
    reader = csv.DictReader(f)
    cols = [c for c in reader.fieldnames if c not in ("sequence", "step", "class")]
    for r in reader:
        ours[r["sequence"]].append([float(r[c]) for c in cols])

worst = 0.0
with torch.no_grad():
    for seq in order:
        x = torch.tensor([f for _, f in sorted(rows[seq])]).unsqueeze(0)  # [1, T, I]
        out = head(rnn(x)[0])[0]  # [T, outputs]
        if not card["task"]["per_step"]:
            out = out[-1:]
        if card["task"]["kind"] == "classify":
            out = torch.softmax(out, dim=-1)
        elif card["task"]["kind"] == "multilabel":
            out = torch.sigmoid(out)
        theirs = torch.tensor(ours[seq])
        assert theirs.shape == out.shape, f"{seq}: rnnlab {tuple(theirs.shape)} vs PyTorch {tuple(out.shape)}"
        worst = max(worst, (theirs - out).abs().max().item())
print(f"{len(order)} sequences: max |PyTorch - rnnlab predict| = {worst:.2e}")
sys.exit(0 if worst <= 1e-4 else 1)
