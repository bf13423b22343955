#!/usr/bin/env bash
# The prepared GPU check of issue 13 (point 5): run ONCE on a lent machine with one CUDA GPU.
#
#   bash benchmarks/gpu_check.sh [--data DIR] [--out DIR] [--dry-run]
#
# Parts, each under `timeout`, the whole run under GPU_CHECK_TOTAL_S (default 460 s < 8 min):
#   0. find a python whose torch sees CUDA (nothing is downloaded); install the repo with
#      `pip install --no-deps --no-index --no-build-isolation -e .` if that works offline, else
#      run with PYTHONPATH=. (the summary says which)
#   1. speed table, bf16 autocast, eager then torch.compile: `cifar10` and `imagenet64-repo`
#      (training img/s, MFU against the measured bf16 matmul ceiling, sampling img/s per step)
#   2. `cifar10` quality per compute: rin and the FLOP-matched diffusers U-Net trained on the same
#      CIFAR-10 shards for the same seconds, proxy-FD curves side by side (the CIFAR-10 proxy is
#      trained on the GPU first if it is not cached; skipped with a line if it does not fit)
#   3. summary: printed, and summary.json / summary.md / speed.png beside every part's JSON, PNG
#      and log under $OUT (default ./gpu_check_out)
#
# --dry-run checks everything that needs no GPU (python, imports, data, every entry point's
# arguments through its own --dry-run) in seconds, on any machine; the tests run it on a CPU.
# Knobs (environment): GPU_CHECK_PYTHON (the only python tried if set), GPU_CHECK_DATA, GPU_CHECK_TOTAL_S, GPU_CHECK_SPEED_S
# (per preset), GPU_CHECK_QPC_S, GPU_CHECK_BUDGET_S (training seconds per model), GPU_CHECK_PROXY_S.
set -u

cd "$(dirname "$0")/.." || exit 1
REPO=$(pwd)
DRY_RUN=0
DATA=${GPU_CHECK_DATA:-}
OUT=${OUT:-./gpu_check_out}
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --data) DATA=${2:?--data needs a folder}; shift ;;
        --data=*) DATA=${1#--data=} ;;
        --out) OUT=${2:?--out needs a folder}; shift ;;
        --out=*) OUT=${1#--out=} ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "gpu_check: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
mkdir -p "$OUT" || exit 1
OUT=$(cd "$OUT" && pwd)
PARTS="$OUT/parts.tsv"
: >"$PARTS"
LOG="$OUT/gpu_check.log"
: >"$LOG"

TOTAL_S=${GPU_CHECK_TOTAL_S:-460}
SPEED_S=${GPU_CHECK_SPEED_S:-75}
QPC_S=${GPU_CHECK_QPC_S:-270}
BUDGET_S=${GPU_CHECK_BUDGET_S:-80}
PROXY_S=${GPU_CHECK_PROXY_S:-60}
START=$SECONDS

say() { echo "[gpu_check $((SECONDS - START))s] $*" | tee -a "$LOG"; }
# part NAME RC SECONDS NOTE: one line per part for the summary
part() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$PARTS"; }
# cap WANT RESERVE: seconds a part may use: WANT, less if the rest of the run needs RESERVE
cap() {
    local left=$((TOTAL_S - (SECONDS - START) - $2))
    if [ "$left" -lt "$1" ]; then echo "$left"; else echo "$1"; fi
}
# run NAME CAP CMD...: one part under `timeout`, output to $OUT/NAME.log and the console
run() {
    local name=$1 limit=$2 began=$SECONDS rc note
    shift 2
    if [ "$limit" -lt 10 ]; then
        say "SKIP $name: only ${limit}s left of the ${TOTAL_S}s total"
        part "$name" skipped 0 "no time left"
        return 0
    fi
    say "$name (cap ${limit}s): $*"
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
    rc=${PIPESTATUS[0]}
    case "$rc" in
        0) note="ok" ;;
        124|137) note="timed out at ${limit}s (partial results kept)" ;;
        *) note="failed (exit $rc, see $name.log)" ;;
    esac
    say "$name: $note after $((SECONDS - began))s"
    part "$name" "$rc" "$((SECONDS - began))" "$note"
    return 0
}

# ---- 0. python with torch (+ CUDA) -------------------------------------------------------
probe='import torch; print(torch.__version__, int(torch.cuda.is_available()))'
PY=""
PY_NOTE=""
if [ -n "${GPU_CHECK_PYTHON:-}" ]; then
    candidates=("$GPU_CHECK_PYTHON")  # given: the only one tried
else
    candidates=("$REPO/.venv/bin/python" python3 python /usr/bin/python3 /opt/conda/bin/python
                /usr/local/bin/python3 "$HOME/miniconda3/bin/python")
fi
fallback=""
for candidate in "${candidates[@]}"; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    answer=$(timeout 60 "$candidate" -c "$probe" 2>/dev/null | tail -n 1) || continue
    case "$answer" in
        *" 1") PY=$candidate; PY_NOTE="torch $answer (CUDA available)"; break ;;
        *" 0") [ -n "$fallback" ] || fallback="$candidate|torch ${answer% 0} (no CUDA)" ;;
    esac
done
if [ -z "$PY" ]; then
    if [ "$DRY_RUN" = 1 ] && [ -n "$fallback" ]; then
        PY=${fallback%%|*}
        PY_NOTE="${fallback#*|}: dry run only"
    else
        say "STOP: no python with torch and CUDA found (tried: ${candidates[*]}; set GPU_CHECK_PYTHON)"
        [ -n "$fallback" ] && say "  (found ${fallback#*|} at ${fallback%%|*})"
        part python 1 0 "no python with torch and CUDA"
        exit 1
    fi
fi
say "python: $PY ($PY_NOTE)"
part python 0 0 "$PY: $PY_NOTE"

# rin importable: an offline editable install, else PYTHONPATH=.
if [ "$DRY_RUN" = 1 ]; then
    export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
    INSTALL_NOTE="dry run: not installed, PYTHONPATH=."
elif "$PY" -c 'import rin, sys; sys.exit(0 if rin.__file__.startswith(sys.argv[1]) else 1)' "$REPO" 2>/dev/null; then
    INSTALL_NOTE="rin already importable from this checkout"
elif PIP_NO_INDEX=1 timeout 90 "$PY" -m pip install --no-deps --no-index --no-build-isolation -e . \
        >"$OUT/install.log" 2>&1 && (cd / && "$PY" -c 'import rin' 2>/dev/null); then
    INSTALL_NOTE="installed offline: pip install --no-deps --no-index --no-build-isolation -e ."
else
    export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
    INSTALL_NOTE="offline pip install failed (install.log): running with PYTHONPATH=."
fi
say "rin: $INSTALL_NOTE"
part install 0 0 "$INSTALL_NOTE"

# what the parts need besides torch
modules=$("$PY" - <<'EOF' 2>&1
import importlib
missing = []
for name in ("rin", "rin.evaluation", "numpy", "scipy", "safetensors", "diffusers", "matplotlib"):
    try:
        importlib.import_module(name)
    except Exception as error:  # noqa: BLE001
        missing.append(f"{name} ({type(error).__name__}: {error})")
print("missing: " + "; ".join(missing) if missing else "missing: none")
EOF
)
say "modules $modules"
HAVE_DIFFUSERS=1
case "$modules" in *"diffusers ("*) HAVE_DIFFUSERS=0 ;; esac
case "$modules" in *"rin ("*|*"rin.evaluation ("*)
    say "STOP: rin does not import with $PY (a dependency is missing): $modules"
    part modules 1 0 "$modules"
    exit 1 ;;
esac
part modules 0 0 "$modules"

# CIFAR-10 shards for part 2
if [ -z "$DATA" ]; then
    for candidate in "$REPO/shared/data/cifar10" "$REPO/../shared/data/cifar10"; do
        if [ -d "$candidate" ]; then DATA=$candidate; break; fi
    done
fi
if [ -n "$DATA" ] && [ ! -d "$DATA" ]; then
    say "note: --data $DATA is not a folder"
    DATA=""
fi
DEVICE=cuda
DRY=()
if [ "$DRY_RUN" = 1 ]; then DRY=(--dry-run); fi

# ---- 1. speed table: bf16, eager then compiled ----------------------------------------------
# reserve: the other preset, part 2 and the summary
speed() {
    local preset=$1 batch=$2 reserve=$3 limit
    limit=$(cap "$SPEED_S" "$reserve")
    run "speed-$preset" "$limit" "$PY" benchmarks/bench.py --device "$DEVICE" --models "$preset" \
        --bf16 only --compile both --batch "$batch" --sample-batch "$batch" --warmup 3 --repeats 10 \
        --threads 8 --no-gflops-table --time-limit $((limit > 40 ? limit - 40 : 1)) \
        --json "$OUT/speed-$preset.json" "${DRY[@]}"
}
speed cifar10 "${GPU_CHECK_BATCH_CIFAR10:-256}" $((SPEED_S + QPC_S + 15))
speed imagenet64-repo "${GPU_CHECK_BATCH_IMAGENET64:-128}" $((QPC_S + 15))

# ---- 2. cifar10: rin and the FLOP-matched U-Net, same data and seconds, proxy-FD curves --------
if [ -z "$DATA" ]; then
    say "SKIP quality per compute: no CIFAR-10 shards (give --data DIR or GPU_CHECK_DATA; looked in" \
        "./shared/data/cifar10 and ../shared/data/cifar10)"
    part qpc-cifar10 skipped 0 "no CIFAR-10 shards"
else
    MODELS=rin,unet
    if [ "$HAVE_DIFFUSERS" = 0 ]; then
        say "SKIP the U-Net: diffusers is not installed with $PY; rin trains alone"
        MODELS=rin
    fi
    # the CIFAR-10 proxy: a cached one if there is one, else trained here on the GPU (a proxy trained
    # on a GPU is not bitwise the CPU one: compare its Frechet figures only within this run)
    CACHE="${RIN_CACHE:-$HOME/.cache/rin}"
    if [ ! -f "$CACHE/cifar10_proxy-v1.safetensors" ]; then
        CACHE="$OUT/proxy-cache"
        mkdir -p "$CACHE"
        if [ "$DRY_RUN" = 1 ]; then
            say "proxy: not cached; a real run trains it on the GPU (cap ${PROXY_S}s)"
        else
            run proxy "$(cap "$PROXY_S" $((QPC_S - PROXY_S + 15)))" "$PY" -c '
import sys, time
from pathlib import Path
from rin.evaluation.networks.cifar_proxy import load_or_train_cifar_proxy
start = time.perf_counter()
load_or_train_cifar_proxy(sys.argv[1], Path(sys.argv[2]), progress=False, device="cuda")
print(f"cifar10 proxy trained on cuda in {time.perf_counter() - start:.1f} s")' "$DATA" "$CACHE"
        fi
    fi
    if [ "$DRY_RUN" = 0 ] && [ ! -f "$CACHE/cifar10_proxy-v1.safetensors" ]; then
        say "SKIP quality per compute: the CIFAR-10 proxy did not train within its cap, so there" \
            "would be no Frechet proxy (see proxy.log)"
        part qpc-cifar10 skipped 0 "no CIFAR-10 proxy (FD skipped)"
    else
        run qpc-cifar10 "$(cap "$QPC_S" 15)" "$PY" benchmarks/quality_per_compute.py --setting cifar10 \
            --data "$DATA" --device "$DEVICE" --models "$MODELS" --budget-seconds "$BUDGET_S" \
            --num-samples 500 --sample-batch 500 --eval-fractions 0.25,0.5,0.75,1 --slice-seconds 10 \
            --threads 8 --proxy-cache "$CACHE" --out "$OUT/qpc-cifar10" "${DRY[@]}"
    fi
fi

# ---- 3. summary ---------------------------------------------------------------------------
run summary "$(cap 60 0)" "$PY" benchmarks/gpu_check_summary.py --out "$OUT" --python "$PY ($PY_NOTE)" \
    --install "$INSTALL_NOTE" --total-seconds "$((SECONDS - START))" --total-cap "$TOTAL_S" "${DRY[@]}"
say "done in $((SECONDS - START))s; everything is under $OUT"
