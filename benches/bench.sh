#!/usr/bin/env bash
# `make bench`: stage timings, throughput and peak memory on a fixed synthetic
# corpus, then centralized LOSO per-fold time against scikit-learn on the same
# exported features in the same run (when a venv with scikit-learn can be made).
#
#   BENCH_PIPELINE  pipeline to run (default pipelines/full-synthetic.toml: 7,442 clips)
#   BENCH_CACHE     cache folder (default cache/bench)
#   SK_FOLDS        LOSO folds scikit-learn is timed on (default 4)
#   BENCH_NO_PYTHON=1  skip the scikit-learn comparison
#   BENCH_FEATURES_J1=0  skip the single-thread feature extraction run
#   FED_ROUNDS      rounds of the federated reference workload (default 30)
#   BENCH_NO_SECAGG=1  skip the secure-aggregation / DP cost per round (crates/fedser-privacy/benches/secagg.rs)
set -euo pipefail
cd "$(dirname "$0")/.."
PIPE=${BENCH_PIPELINE:-pipelines/full-synthetic.toml}
CACHE=${BENCH_CACHE:-cache/bench}
SK_FOLDS=${SK_FOLDS:-4}
F="target/release/fedser --pipeline $PIPE --cache $CACHE -q"

echo "== fedser bench: $PIPE, $(nproc) cores, $(date -u +%FT%TZ)"
$F clean >/dev/null
printf '%-10s %10s %12s %14s %10s\n' stage seconds clips/s "audio x RT" "peak MB"
clips=0; hours=0
for stage in synth ingest features partition train report; do
  out=$($F run --until "$stage")
  secs=$(echo "$out" | awk -v s="$stage" '$1==s && $2=="ran" {print $4}')
  fig() { echo "$out" | awk -v s="$stage" '$1==s' | grep -o "$1=[0-9.]*" | head -1 | cut -d= -f2 || true; }
  c=$(fig clips); [ -n "$c" ] && clips=$c
  h=$(fig audio_hours); [ -n "$h" ] && hours=$h
  mem=$(echo "$out" | grep -o 'peak memory [0-9]* MB' | awk '{print $3}' || true)
  cps=$(awk -v c="${clips:-0}" -v s="${secs:-0}" 'BEGIN{ if (s>0) printf "%.0f", c/s; else print "-" }')
  rt=$(awk -v h="${hours:-0}" -v s="${secs:-0}" 'BEGIN{ if (s>0) printf "%.0f", h*3600/s; else print "-" }')
  printf '%-10s %10s %12s %14s %10s\n' "$stage" "${secs:--}" "$cps" "$rt" "${mem:--}"
done

t0=$(date +%s.%N); $F run >/dev/null; t1=$(date +%s.%N)
echo "no-op rerun: $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}') s"

if [ "${BENCH_FEATURES_J1:-1}" = "1" ]; then
  echo "== features, single thread (-j 1), per-clip cache cleared"
  rm -rf "$CACHE/features"
  out=$($F -j 1 run --until features --force features)
  echo "$out" | awk '$1=="features"'
fi
echo "== centralized LOSO, single thread (-j 1)"
$F -j 1 run --until train --force train >/dev/null
python3 - "$CACHE/train/experiments.json" <<'PY'
import json, sys
for e in json.load(open(sys.argv[1])):
    fs = e["fold_seconds"]
    print(f"{e['id']}: {len(fs)} folds, {sum(fs)/len(fs):.3f} s per fold (single thread), total {e['seconds']:.1f} s")
PY

echo "== federated reference workload: FedAvg, logistic 6,373 x 6, speaker-dependent 70 % training rows,"
echo "   every actor a client, all sampled, 1 local epoch SGD batch 16, ${FED_ROUNDS:-30} rounds"
FEDB=target/release/examples/bench_fedavg
fed_out=$($FEDB "$CACHE/features/features.parquet" "$CACHE/partition/partition.parquet" "${FED_ROUNDS:-30}")
echo "fedser (all cores): $fed_out"
fed_out1=$(RAYON_NUM_THREADS=1 $FEDB "$CACHE/features/features.parquet" "$CACHE/partition/partition.parquet" "${FED_ROUNDS:-30}")
echo "fedser (1 thread):  $fed_out1"
if [ "${BENCH_NO_SECAGG:-0}" != "1" ]; then
  cargo bench -q -p fedser-privacy --bench secagg
fi

if [ "${BENCH_NO_PYTHON:-0}" = "1" ]; then exit 0; fi
VENV=.venv-bench
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import sklearn, pyarrow" 2>/dev/null; then
  echo "== creating $VENV with scikit-learn and pyarrow from PyPI"
  if ! { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q scikit-learn pyarrow numpy; }; then
    echo "scikit-learn unavailable: fedser figures only"; exit 0
  fi
fi
echo "== scikit-learn LogisticRegression on the same features, same LOSO folds (single thread)"
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
  "$VENV/bin/python" benches/sklearn_loso.py "$CACHE" "$SK_FOLDS"

echo "== numpy FedAvg loop on the same exported features (benches/numpy_fedavg.py, single-threaded BLAS)"
EXPORT="$CACHE/bench-fedavg"
mkdir -p "$EXPORT"
$FEDB "$CACHE/features/features.parquet" "$CACHE/partition/partition.parquet" --export "$EXPORT"
np_out=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
  "$VENV/bin/python" benches/numpy_fedavg.py "$EXPORT" "${FED_ROUNDS:-30}")
echo "numpy:              $np_out"
rm -rf "$EXPORT"
python3 - "$fed_out" "$fed_out1" "$np_out" <<'PY'
import json, sys
f, f1, n = (json.loads(a) for a in sys.argv[1:])
for name, x in (("all cores", f), ("1 thread", f1)):
    print(f"fedser ({name}) {x['round_seconds_mean']:.4f} s/round, peak {x['peak_mb']:.0f} MB; "
          f"numpy {n['round_seconds_mean']:.4f} s/round, peak {n['peak_mb']:.0f} MB: "
          f"{n['round_seconds_mean'] / x['round_seconds_mean']:.1f}x faster per round")
PY
