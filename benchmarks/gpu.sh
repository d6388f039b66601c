#!/usr/bin/env bash
# One prepared GPU check (issue 15). Without CUDA it prints one line and exits 0.
#
# With CUDA, in order, each step's log under $OUT (default: a new temporary folder):
#   1. the evaluator parity tests (tests/test_t2m_evaluator.py) with the evaluator on CUDA (its default device);
#   2. embedding throughput, CPU and CUDA (benchmarks/evaluator.py);
#   3. the whole loop minus generation on CUDA and on CPU (benchmarks/loop.py, official-size evaluator);
#   4. a two-rank NCCL run of `motioneval evaluate --distributed` (torchrun) compared number for number with
#      a single-process run of the same command (needs 2 GPUs: NCCL allows one rank per GPU);
# then one summary. Exit status: 0 when every step that ran passed, 1 otherwise.
#
#   bash benchmarks/gpu.sh            # PYTHON=/path/to/python, OUT=folder, REPLICATIONS=2 to override
#   REHEARSAL=1 bash benchmarks/gpu.sh  # every step on the CPU at small sizes (two gloo ranks for step 4), so
#                                       # that the script itself is known to work before GPU time is spent
#                                       # (tests/test_benchmarks.py runs it)
set -u
cd "$(dirname "$0")/.." || exit 1
PY=${PYTHON:-python}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

REHEARSAL=${REHEARSAL:-0}
if [ "$REHEARSAL" = 1 ]; then
    DEV=cpu; CLIPS=320; EMBED_N=64; REPLICATIONS=${REPLICATIONS:-1}; BACKEND=gloo  # diversity: > 300 clips
else
    if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" >/dev/null 2>&1; then
        echo "gpu.sh: no CUDA device available (torch.cuda.is_available() is False); GPU checks skipped"
        exit 0
    fi
    DEV=cuda; CLIPS=320; EMBED_N=1024; BACKEND=NCCL
fi

OUT=${OUT:-$(mktemp -d -t motioneval-gpu-XXXXXX)}
mkdir -p "$OUT"
REPS=${REPLICATIONS:-2}
status=0
summary=()
note() { summary+=("$1"); echo "[gpu.sh] $1"; }

if [ "$REHEARSAL" = 1 ]; then
    gpus=2
    note "REHEARSAL on the CPU (no GPU involved; step 4 runs two gloo ranks); logs in $OUT"
else
    gpus=$("$PY" -c "import torch; print(torch.cuda.device_count())")
    name=$("$PY" -c "import torch; print(torch.cuda.get_device_name(0))")
    note "device: $gpus x $name; logs in $OUT"
fi

# 1. parity on CUDA ------------------------------------------------------------------------------------
if "$PY" -m pytest -q -x -p no:cacheprovider tests/test_t2m_evaluator.py >"$OUT/parity.log" 2>&1; then
    note "evaluator parity tests on $DEV: passed ($(tail -n 1 "$OUT/parity.log"))"
else
    status=1; note "evaluator parity tests on $DEV: FAILED ($(tail -n 1 "$OUT/parity.log")); see $OUT/parity.log"
fi

# 2. embedding throughput -------------------------------------------------------------------------------
if "$PY" benchmarks/evaluator.py --n "$EMBED_N" --repeats 3 >"$OUT/embed.log" 2>&1; then
    while IFS= read -r line; do note "embedding: $line"; done < <(grep -E "^\[|speed-up|reference-style|embed_motion|GFLOP" "$OUT/embed.log")
else
    status=1; note "embedding benchmark FAILED; see $OUT/embed.log"
fi

# 3. whole loop minus generation, CUDA and CPU ----------------------------------------------------------
DATA="$OUT/dataset"
"$PY" -c "from motioneval.demo.dataset import DemoDatasetConfig as C, build_demo_dataset as b; \
b('$DATA', C(num_train=200, num_val=20, num_test=$CLIPS))" >"$OUT/dataset.log" 2>&1 || { status=1; note "demo dataset FAILED"; }
for dev in $DEV cpu; do
    [ "$REHEARSAL" = 1 ] && [ "$dev" = cpu ] && [ -f "$OUT/loop_cpu.log" ] && continue
    if "$PY" benchmarks/loop.py --replications "$REPS" --evaluator official --dataset "$DATA" --device "$dev" \
            >"$OUT/loop_$dev.log" 2>&1; then
        while IFS= read -r line; do note "loop ($dev): $line"; done < <(grep -E "^\| official" "$OUT/loop_$dev.log")
    else
        status=1; note "loop benchmark on $dev FAILED; see $OUT/loop_$dev.log"
    fi
done

# 4. two-rank NCCL run -------------------------------------------------------------------------------------
export MOTIONEVAL_LOOP_DATASET="$DATA"
EVAL_DIR=$("$PY" -c "from motioneval.demo.run import demo_evaluator_dir as d; print(d())")
common=(evaluate --dataset "$DATA" --evaluator "$EVAL_DIR" --generator benchmarks/loop.py:make_instant
        --set replications=2 --set mm_replications=0 --no-cache --no-progress)
if [ "$gpus" -ge 2 ]; then
    if "$PY" -m motioneval "${common[@]}" --out "$OUT/single" >"$OUT/single.log" 2>&1 \
        && "$PY" -m torch.distributed.run --standalone --nproc_per_node=2 -m motioneval "${common[@]}" \
            --distributed --out "$OUT/nccl" >"$OUT/nccl.log" 2>&1; then
        if "$PY" - "$OUT/single/results.json" "$OUT/nccl/results.json" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
rows = lambda r: [(row["name"], row["metrics"]) for row in r["rows"]]
sys.exit(0 if rows(a) == rows(b) else 1)
EOF
        then note "two-rank $BACKEND evaluate --distributed: passed, metrics identical to the single process"
        else status=1; note "two-rank $BACKEND evaluate --distributed: metrics DIFFER from the single process"
        fi
    else
        status=1; note "two-rank $BACKEND evaluate --distributed: FAILED; see $OUT/single.log, $OUT/nccl.log"
    fi
else
    note "two-rank $BACKEND evaluate --distributed: skipped ($gpus GPU; NCCL needs one GPU per rank)"
fi

echo
echo "== motioneval GPU summary =="
printf '%s\n' "${summary[@]}"
exit $status
