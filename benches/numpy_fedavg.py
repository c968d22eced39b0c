"""Plain numpy FedAvg loop: the reference `make bench` times fedser against.

Same workload and maths as crates/fedser-federated/examples/bench_fedavg.rs:
multinomial logistic regression (features x 6, zero init), every client
(actor) sampled every round, 1 local epoch of mini-batch SGD (batch 16,
lr 0.01, rows shuffled per client and round), client updates as float32
vectors, server = example-weighted average of the updates. Input: the
x.npy / y.npy / client.npy that `bench_fedavg --export DIR` writes
(federated-standardised float32 features of the speaker-dependent 70 %
training rows).

usage: python numpy_fedavg.py DIR [ROUNDS]
prints one JSON line: per-round seconds and peak memory (ru_maxrss).
"""
import json
import resource
import sys
import time

import numpy as np


def local_sgd(w, b, x, y, rng, lr=0.01, batch=16, k=6):
    w = w.copy()
    b = b.copy()
    idx = rng.permutation(len(y))
    loss = 0.0
    for s in range(0, len(idx), batch):
        j = idx[s : s + batch]
        xb = x[j]
        z = xb @ w.T + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        loss -= np.log(np.maximum(p[np.arange(len(j)), y[j]], 1e-30)).sum()
        p[np.arange(len(j)), y[j]] -= 1.0
        p /= len(j)
        w -= lr * (p.T @ xb)
        b -= lr * p.sum(axis=0)
    return w, b, loss / len(y)


def main():
    d = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    x = np.load(f"{d}/x.npy")
    y = np.load(f"{d}/y.npy").astype(np.int64)
    c = np.load(f"{d}/client.npy")
    clients = [np.flatnonzero(c == a) for a in np.unique(c)]
    # clients' rows are contiguous in the exported table (sorted by file name):
    # slice views, so the matrix is held once
    data = [(x[r[0] : r[-1] + 1] if r[-1] - r[0] + 1 == len(r) else x[r], y[r]) for r in clients]
    k, nf = 6, data[0][0].shape[1]
    w = np.zeros((k, nf), dtype=np.float32)
    b = np.zeros(k, dtype=np.float32)
    times = []
    for rnd in range(1, rounds + 1):
        t = time.perf_counter()
        updates, weights, losses = [], [], []
        for i, (xc, yc) in enumerate(data):
            rng = np.random.default_rng([1, rnd, i])
            wl, bl, loss = local_sgd(w, b, xc, yc, rng)
            updates.append(np.concatenate([(wl - w).ravel(), bl - b]).astype(np.float32))
            weights.append(len(yc))
            losses.append(loss)
        wts = np.asarray(weights, dtype=np.float64)
        mean = (np.asarray(updates, dtype=np.float32).astype(np.float64).T @ wts / wts.sum()).astype(np.float32)
        w = w + mean[: k * nf].reshape(k, nf)
        b = b + mean[k * nf :]
        times.append(time.perf_counter() - t)
    loss = float(np.average(losses, weights=weights))
    print(json.dumps({
        "impl": "numpy", "numpy": np.__version__, "rows": int(sum(weights)), "features": int(nf),
        "clients": len(data), "rounds": rounds,
        "round_seconds_mean": round(float(np.mean(times)), 4),
        "round_seconds_median": round(float(np.median(times)), 4),
        "final_train_loss": round(loss, 4),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
    }))


if __name__ == "__main__":
    main()
