"""scikit-learn reference for fedser's centralized LOSO training.

Same features (cache/.../features/features.parquet), same folds
(partition.parquet), same model (multinomial LogisticRegression, lbfgs, C=1,
max_iter=100, tol=1e-4, StandardScaler fit on the training fold). Times the
first N folds and compares per-fold time and UAR on those folds with fedser's
single-thread run (experiments.json / predictions.parquet) from the same bench.
"""
import json
import sys
import time

import numpy as np
import pyarrow.parquet as pq
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import StandardScaler

cache, n_folds = sys.argv[1], int(sys.argv[2])
feat = pq.read_table(f"{cache}/features/features.parquet")
keys = {"file", "actor", "sentence", "emotion", "level", "duration_s"}
names = [c for c in feat.column_names if c not in keys]
X = np.column_stack([feat.column(c).to_numpy() for c in names]).astype(np.float32)
X = np.nan_to_num(X)
files = feat.column("file").to_pylist()
y = np.array(feat.column("emotion").to_pylist())
actor = np.array(feat.column("actor").to_pylist())
part = pq.read_table(f"{cache}/partition/partition.parquet").to_pydict()
fold_of = {f: k for p, f, k in zip(part["protocol"], part["file"], part["fold"]) if p == "loso"}
fold = np.array([fold_of[f] for f in files])
folds = sorted(set(fold))[:n_folds]

times, y_true, y_pred = [], [], []
for k in folds:
    tr, te = fold != k, fold == k
    t = time.perf_counter()
    sc = StandardScaler().fit(X[tr])
    clf = LogisticRegression(C=1.0, max_iter=100, tol=1e-4).fit(sc.transform(X[tr]), y[tr])
    p = clf.predict(sc.transform(X[te]))
    times.append(time.perf_counter() - t)
    y_true += list(y[te]); y_pred += list(p)
    print(f"  sklearn fold {k} (actor {actor[te][0]}): {times[-1]:.2f} s")
sk_fold = sum(times) / len(times)
sk_uar = balanced_accuracy_score(y_true, y_pred)

exps = json.load(open(f"{cache}/train/experiments.json"))
loso = next(e for e in exps if e["protocol"] == "loso")
fs = [loso["fold_seconds"][k] for k in folds]
fe_fold = sum(fs) / len(fs)
pred = pq.read_table(f"{cache}/train/predictions.parquet").to_pydict()
sel = [i for i, (e, f) in enumerate(zip(pred["experiment"], pred["fold"])) if e == loso["id"] and f in set(folds)]
fe_uar = balanced_accuracy_score([pred["label"][i] for i in sel], [pred["pred"][i] for i in sel])
print(f"folds {list(folds)}: {X.shape[0]} clips x {X.shape[1]} features")
print(f"scikit-learn: {sk_fold:.3f} s per fold, UAR {sk_uar:.4f}")
print(f"fedser:       {fe_fold:.3f} s per fold, UAR {fe_uar:.4f}")
print(f"speed-up (scikit-learn / fedser per fold, both single thread): {sk_fold / fe_fold:.1f}x")
