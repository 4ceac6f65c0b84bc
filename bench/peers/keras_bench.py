"""Keras (TensorFlow) side of `just bench-peers`: one `train_on_batch` (forward, backward,
Adam) of keras.layers.LSTM / GRU / SimpleRNN with return_sequences and a per-step Dense head,
sparse cross-entropy from logits, on the cases given as JSON (from `rnnlab bench --json`).
Prints one JSON object per case: median ms per step."""
import argparse
import json
import os
import statistics
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", required=True, help="JSON list of cases")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    keras = tf.keras
    cells = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}
    rng = np.random.default_rng(0)
    for c in json.loads(args.cases):
        t, b, i, h, k = c["steps"], c["batch"], c["input"], c["hidden"], c["classes"]
        model = keras.Sequential([keras.Input((t, i), batch_size=b),
                                  cells[c["cell"]](h, return_sequences=True),
                                  keras.layers.Dense(k)])
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        x = tf.constant(rng.random((b, t, i), dtype=np.float32))
        y = tf.constant(rng.integers(0, k, (b, t)))
        times = []
        for n in range(args.warmup + args.steps):
            t0 = time.perf_counter()
            model.train_on_batch(x, y)
            if n >= args.warmup:
                times.append(time.perf_counter() - t0)
        print(json.dumps({"tool": "keras", "workload": c["workload"], "cell": c["cell"],
                          "threads": args.threads, "ms": 1e3 * statistics.median(times),
                          "version": tf.__version__}), flush=True)


if __name__ == "__main__":
    main()
