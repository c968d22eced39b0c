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
#   FEATURES_AUDIO  clips for the extraction throughput (default ../shared/data/dev-sample/AudioWAV,
#                   the 216 dev-sample clips; else the first 216 clips of the bench corpus)
#   FEATURES_REPEAT runs per throughput figure, fastest kept (default 1)
#   OPENSMILE_PYTHON  a python with the `opensmile` package (default: .venv-bench, created from PyPI)
#   BENCH_NO_SECAGG=1  skip the secure-aggregation / DP cost per round (crates/fedser-privacy/benches/secagg.rs)
#   FED_ROUNDS      rounds of the federated reference workload (default 30)
#   LOGISTIC_ITERATIONS  L-BFGS iterations of the fedser vs linfa-logistic comparison (default 20)
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

# Ingest throughput with the corpus evicted from the page cache (cold: every
# WAV read from disk) and then resident (warm). Eviction uses
# posix_fadvise(DONTNEED), which needs no root; `cold` is only as cold as the
# kernel honours it (it drops clean, unmapped pages).
echo "== ingest, cold and warm page cache (-j $(nproc))"
CORPUS_AUDIO=$CACHE/corpus/synthetic/AudioWAV
read -r nfiles mbytes < <(python3 - "$CORPUS_AUDIO" <<'PY'
import os, sys
d = sys.argv[1]; n = 0; b = 0
for e in os.scandir(d):
    if e.is_file():
        n += 1; b += e.stat().st_size
print(n, f"{b / 1e6:.1f}")
PY
)
for mode in cold warm; do
  if [ "$mode" = cold ]; then
    python3 - "$CORPUS_AUDIO" <<'PY'
import os, sys
for e in os.scandir(sys.argv[1]):
    if e.is_file():
        fd = os.open(e.path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
PY
  fi
  t0=$(date +%s.%N); $F run --until ingest --force ingest >/dev/null; t1=$(date +%s.%N)
  awk -v m="$mode" -v a="$t0" -v b="$t1" -v n="$nfiles" -v mb="$mbytes" \
    'BEGIN{s=b-a; printf "ingest %-4s %7.2f s %8.0f files/s %8.1f MB/s (%d files, %.1f MB)\n", m, s, n/s, mb/s, n, mb}'
done

if [ "${BENCH_FEATURES_J1:-1}" = "1" ]; then
  echo "== features, single thread (-j 1), per-clip cache cleared"
  rm -rf "$CACHE/features"
  out=$($F -j 1 run --until features --force features)
  echo "$out" | awk '$1=="features"'
fi
# Extraction throughput, fedser against openSMILE on the same clips in the
# same run (crates/fedser-features/examples/throughput.rs and
# benches/opensmile_throughput.py print the same RESULT lines).
FEAT_AUDIO=${FEATURES_AUDIO:-../shared/data/dev-sample/AudioWAV}
FEAT_LIMIT=""
if [ ! -d "$FEAT_AUDIO" ]; then FEAT_AUDIO=$CACHE/corpus/synthetic/AudioWAV; FEAT_LIMIT=216; fi
echo "== openSMILE's float FFT (dsp::ooura), ns per transform"
target/release/examples/fft_bench
echo "== feature extraction throughput: $FEAT_AUDIO${FEAT_LIMIT:+ (first $FEAT_LIMIT clips)}"
fx=$(target/release/examples/throughput "$FEAT_AUDIO" ${FEAT_LIMIT:+--limit $FEAT_LIMIT} --repeat "${FEATURES_REPEAT:-1}")
echo "$fx" | grep -v '^RESULT' || true
VENV=.venv-bench
opensmile_python() {
  if [ -n "${OPENSMILE_PYTHON:-}" ] && "$OPENSMILE_PYTHON" -c "import opensmile" 2>/dev/null; then
    echo "$OPENSMILE_PYTHON"; return 0
  fi
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import opensmile" 2>/dev/null; then
    echo "$VENV/bin/python"; return 0
  fi
  command -v python3 >/dev/null || return 1
  echo "== installing opensmile from PyPI into $VENV" >&2
  { [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"; } >&2 && "$VENV/bin/pip" install -q opensmile >&2 \
    && "$VENV/bin/python" -c "import opensmile" 2>/dev/null && echo "$VENV/bin/python"
}
if [ "${BENCH_NO_PYTHON:-0}" != "1" ] && OSPY=$(opensmile_python); then
  ox=$(OMP_NUM_THREADS=1 "$OSPY" benches/opensmile_throughput.py "$FEAT_AUDIO" $FEAT_LIMIT)
  echo "$ox" | grep -v '^RESULT' || true
  python3 - "$fx" "$ox" <<'PY'
import sys
def parse(text):
    out = {}
    for line in text.splitlines():
        if line.startswith("RESULT "):
            kv = dict(f.split("=", 1) for f in line.split()[1:])
            out[(kv["set"], kv["threads"])] = kv
    return out
f, o = parse(sys.argv[1]), parse(sys.argv[2])
print(f"{'set':<10} {'fedser x RT/core':>17} {'openSMILE x RT/core':>20} {'ratio':>7} {'(per CPU s)':>12}")
for s in ("compare16", "egemaps02"):
    if (s, "1") in f and (s, "1") in o:
        a, b = f[(s, "1")], o[(s, "1")]
        r = float(a["xrt_core"]) / float(b["xrt_core"])
        rc = float(a["xrt_cpu"]) / float(b["xrt_cpu"])
        print(f"{s:<10} {float(a['xrt_core']):>17.1f} {float(b['xrt_core']):>20.1f} {r:>6.1f}x {rc:>11.1f}x")
PY
else
  echo "openSMILE not available (no python3, BENCH_NO_PYTHON=1, or pip install opensmile failed): fedser figures only"
fi

echo "== centralized LOSO, single thread (-j 1)"
$F -j 1 run --until train --force train >/dev/null
python3 - "$CACHE/train/experiments.json" <<'PY'
import json, sys
for e in json.load(open(sys.argv[1])):
    fs = e["fold_seconds"]
    print(f"{e['id']}: {len(fs)} folds, {sum(fs)/len(fs):.3f} s per fold (single thread), total {e['seconds']:.1f} s")
PY
echo "== fedser's logistic regression against linfa-logistic, same problem (7,000 x 6,373, 6 classes), same run"
target/release/examples/logistic_bench "${LOGISTIC_ITERATIONS:-20}"

if [ "${BENCH_NO_SECAGG:-0}" != "1" ]; then
  cargo bench -q -p fedser-privacy --bench secagg
fi
echo "== federated reference workload: FedAvg, logistic 6,373 x 6, speaker-dependent 70 % training rows,"
echo "   every actor a client, all sampled, 1 local epoch SGD batch 16, ${FED_ROUNDS:-30} rounds"
FEDB=target/release/examples/bench_fedavg
fed_out=$($FEDB "$CACHE/features/features.parquet" "$CACHE/partition/partition.parquet" "${FED_ROUNDS:-30}")
echo "fedser (all cores): $fed_out"
fed_out1=$(RAYON_NUM_THREADS=1 $FEDB "$CACHE/features/features.parquet" "$CACHE/partition/partition.parquet" "${FED_ROUNDS:-30}")
echo "fedser (1 thread):  $fed_out1"
# every shard from disk (no memory budget), and all rows held in memory (the
# federate stage's layout): what the disk shards cost
fed_disk=$($FEDB "$CACHE/features/features.parquet" "$CACHE/partition/partition.parquet" "${FED_ROUNDS:-30}" --memory-budget 0)
echo "fedser (disk only): $fed_disk"
fed_mem=$($FEDB "$CACHE/features/features.parquet" "$CACHE/partition/partition.parquet" "${FED_ROUNDS:-30}" --in-memory)
echo "fedser (in memory): $fed_mem"

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
python3 - "$fed_out" "$fed_out1" "$fed_disk" "$fed_mem" "$np_out" <<'PY'
import json, sys
f, f1, fd, fm, n = (json.loads(a) for a in sys.argv[1:])
def cached(x):
    return f"{x['memory_budget_mb']} MB budget: {x['rows_in_memory']} of {x['rows']} rows' shards in memory"
for name, x in ((f"all cores, {cached(f)}", f), (f"1 thread, {cached(f1)}", f1),
                ("all cores, all shards from disk", fd), ("all cores, all rows in memory", fm)):
    print(f"fedser ({name}) {x['round_seconds_mean']:.4f} s/round, peak {x['peak_mb']:.0f} MB; "
          f"numpy {n['round_seconds_mean']:.4f} s/round, peak {n['peak_mb']:.0f} MB: "
          f"{n['round_seconds_mean'] / x['round_seconds_mean']:.2f}x faster per round")
sums = {x["params_fnv1a"] for x in (f, f1, fd, fm)}
print("fedser final parameters identical in all four runs: " + ("yes" if len(sums) == 1 else f"NO ({sorted(sums)})"))
PY
