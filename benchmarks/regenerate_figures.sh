#!/usr/bin/env bash
# Regenerate the figures the README states, from this repository, in order (issue 17, item 6).
#
#   bash benchmarks/regenerate_figures.sh [--only demo|samplers|qpc|speed] [--dry-run]
#
# Sections, in order; every step prints what it regenerates and the README section that shows it:
#   demo      benchmarks/demo_seeds.py at seeds 0 1 2 -> benchmarks/demo/ (~15 min a seed on 2 cores)
#   samplers  benchmarks/sampler_table.py on the seed-0 demo checkpoint and on a Moving-MNIST
#             checkpoint it trains (~25 min) -> benchmarks/samplers/; benchmarks/moving_mnist_report.py
#             (README "Video") -> docs/moving_mnist_samples.gif (hours at one thread)
#   qpc       benchmarks/quality_per_compute.py --setting mnist, as benchmarks/qpc/results.md states
#             (740 s of CPU time per model, one thread) -> benchmarks/qpc/ (~1 h)
#   speed     benchmarks/bench.py: the full speed table (~10 min), and the 1-thread bf16 table where
#             the CPU has bf16 matmul hardware -> benchmarks/results-<date>-*.json
# --dry-run prints every command without running any (seconds, any machine).
#
# Figures are measured with the code checked out: commit first, then run this, then commit the
# figures with the README text that states them, so each figure is re-measured at the commit that
# states it (demo_seeds.py records the commit and whether the tree was dirty).
# Environment: PYTHON (default .venv/bin/python, else python3); RUNS (run directories, default
# runs/figures-<time>); DEMO_RUN (the demo checkpoint the sampler table samples, default
# $RUNS/demo-seeds/seed-0); MM_RUN (the Moving-MNIST run, default $RUNS/moving-mnist).
# The peers of qpc and speed (diffusers, rin-pytorch) are optional: each script skips an absent one
# with a line (benchmarks/README.md says how to install them).
set -eu

cd "$(dirname "$0")/.." || exit 1
ONLY=all
DRY_RUN=0
while [ $# -gt 0 ]; do
    case "$1" in
        --only) ONLY=${2:?--only needs demo, samplers, qpc or speed}; shift ;;
        --only=*) ONLY=${1#--only=} ;;
        --dry-run) DRY_RUN=1 ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "regenerate_figures: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
case "$ONLY" in
    all|demo|samplers|qpc|speed) ;;
    *) echo "regenerate_figures: --only must be demo, samplers, qpc or speed, not $ONLY" >&2; exit 2 ;;
esac

if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
RUNS=${RUNS:-runs/figures-$(date +%Y%m%d-%H%M%S)}
DEMO_RUN=${DEMO_RUN:-$RUNS/demo-seeds/seed-0}
MM_RUN=${MM_RUN:-$RUNS/moving-mnist}
DATE=$(date +%Y-%m-%d)
# this checkout's rin (an editable install may point at another tree); make demo's allocator settings
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"
export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1099511627776

wanted() { [ "$ONLY" = all ] || [ "$ONLY" = "$1" ]; }
section() { printf '\n=== %s: %s\n' "$1" "$2"; }
# step WHAT README_SECTION COMMAND...: say what it regenerates and where the README shows it, then run
step() {
    local what=$1 where=$2
    shift 2
    echo "--- regenerates $what (README: $where)"
    echo "    \$ $*"
    if [ "$DRY_RUN" = 0 ]; then "$@"; fi
}
# keep FROM TO: a produced file goes where the README links it
keep() {
    echo "    keeps $1 as $2"
    if [ "$DRY_RUN" = 0 ]; then mkdir -p "$(dirname "$2")" && cp "$1" "$2"; fi
}

if wanted demo; then
    section demo "rin demo at 3 seeds"
    step "the demo's figures at seeds 0, 1, 2 (min / median / max, the real-data floor) and the median seed's grid, in benchmarks/demo/" \
        "Quick start > What the demo prints (measured)" \
        "$PYTHON" benchmarks/demo_seeds.py --seeds 0 1 2 --out "$RUNS/demo-seeds"
fi

if wanted samplers; then
    section samplers "sample quality against network calls (demo and Moving-MNIST checkpoints)"
    if [ "$DRY_RUN" = 1 ] || [ ! -f "$DEMO_RUN/demo_results.json" ]; then
        step "the demo checkpoint (seed 0) the sampler tables sample (only when $DEMO_RUN has none)" \
            "Samplers" "$PYTHON" -m rin demo --seed 0 --out "$DEMO_RUN" --no-progress
    fi
    if [ "$DRY_RUN" = 1 ] || [ ! -d "$MM_RUN/checkpoints" ]; then
        step "the Moving-MNIST checkpoint, 8,000 steps, and its training time (only when $MM_RUN has none)" \
            "Samplers; Video" "$PYTHON" -m rin train --preset moving-mnist --out "$MM_RUN" --no-progress
    fi
    TABLE=("$PYTHON" benchmarks/sampler_table.py --threads 1 --num 500)
    S=$RUNS/samplers
    # sampler_step NAME WHAT WHERE ARGS...: one sampler_table.py run, its table.json kept as NAME.json
    sampler_step() {
        local name=$1 what=$2 where=$3
        shift 3
        step "$what" "$where" "${TABLE[@]}" "$@" --out "$S/$name"
        keep "$S/$name/table.json" "benchmarks/samplers/$name.json"
    }
    sampler_step demo_calls_5-50 "each sampler at 5/10/20/50 calls and the DDPM-100 baseline (demo)" \
        "Samplers > Quality against network calls" --demo "$DEMO_RUN" --calls 5 10 20 50 --baseline-steps 100
    sampler_step demo_calls_100 "each sampler at 100 calls (demo)" \
        "Samplers > Quality against network calls" --demo "$DEMO_RUN" --calls 100 --baseline-steps
    sampler_step demo_ddpm1000 "the DDPM-1000 baseline row (demo)" \
        "Samplers > Quality against network calls" --demo "$DEMO_RUN" --samplers --baseline-steps 1000
    sampler_step moving_mnist "each sampler's frame MSE at 5-100 calls, DDPM-100 and -1000 baselines" \
        "Samplers > Quality against network calls (moving-mnist)" --video "$MM_RUN" \
        --calls 5 10 20 50 100 --baseline-steps 100 1000
    for seed in 1 2; do
        sampler_step "demo_seed$seed" "sample seed $seed of ddpm and euler_a at 10/20 calls and DDPM-100" \
            "Samplers (three-seed medians); Quick start (the paragraph under the demo table)" \
            --demo "$DEMO_RUN" --seed "$seed" --samplers ddpm euler_a --calls 10 20 --baseline-steps 100
    done
    sampler_step demo_time_difference "ddpm and euler_a at 20 calls with td 0.5 and 1" \
        "benchmarks/README.md Samplers (Time difference)" \
        --demo "$DEMO_RUN" --samplers ddpm euler_a --calls 20 --baseline-steps --time-difference 0.5 1
    for sampler in heun dpmpp_2s; do
        sampler_step "demo_carry_grid_$sampler" "$sampler at 10/20 calls carrying latents from grid calls only" \
            "Samplers > Latent carry" --demo "$DEMO_RUN" --samplers "$sampler" --calls 10 20 \
            --baseline-steps --carry grid
    done
    for grid in uniform logsnr karras; do
        sampler_step "grids/$grid" "every sampler at 20 calls on the $grid grid (the default grid per sampler)" \
            "Samplers (each sampler's grid); benchmarks/README.md Samplers (Grid)" --demo "$DEMO_RUN" \
            --grid "$grid" --calls 20 --baseline-steps
    done
    sampler_step demo_speed "the CPU time of 1,000 demo samples, DDPM 20 calls on the Karras grid against DDPM-100" \
        "Quick start (the demo paragraph); Samplers" --demo "$DEMO_RUN" --samplers --baseline-steps \
        --speed ddpm:20:karras:0
    step "the samplers table and plot, benchmarks/samplers/table.md and quality_vs_calls.png" \
        "Samplers > Quality against network calls" "$PYTHON" benchmarks/sampler_table.py --render \
        "$S/demo_calls_5-50/table.json" "$S/demo_calls_100/table.json" "$S/demo_ddpm1000/table.json" \
        "$S/moving_mnist/table.json" --out benchmarks/samplers
    step "Moving-MNIST frame MSE against copy-last and blank frames, and docs/moving_mnist_samples.gif" \
        "Video" "$PYTHON" benchmarks/moving_mnist_report.py --checkpoint "$MM_RUN" --num 64
fi

if wanted qpc; then
    section qpc "quality per compute, mnist"
    step "rin, U-Net and DiT at 740 s of CPU time each: table, quality curves and side-by-side grid" \
        "Quality per compute" "$PYTHON" benchmarks/quality_per_compute.py --setting mnist \
        --budget-seconds 740 --threads 1 --clock cpu --eval-fractions 0.5,1 --num-samples 500 --seed 0 \
        --out "$RUNS/qpc-mnist"
    for name in results.json results.md quality_per_compute.png samples_side_by_side.png; do
        keep "$RUNS/qpc-mnist/$name" "benchmarks/qpc/$name"
    done
fi

if wanted speed; then
    section speed "the speed table"
    step "training and sampling img/s, MFU, peak memory (rin cifar10, RIN-pytorch, DDPM U-Net) and GFLOPs by resolution, 2 threads, medians of 7 rounds" \
        "Speed" "$PYTHON" benchmarks/bench.py --repeats 7 --json "benchmarks/results-$DATE-speed.json"
    BF16_CHECK=("$PYTHON" -c "import sys; from rin.model.precision import cpu_has_native_bf16; sys.exit(0 if cpu_has_native_bf16() else 1)")
    if [ "$DRY_RUN" = 1 ] || "${BF16_CHECK[@]}"; then
        step "bf16 ratios rin / U-Net / RIN-pytorch at 1 thread, CPU time (only on a CPU with bf16 hardware)" \
            "Speed (bf16 on a CPU with AMX)" "$PYTHON" benchmarks/bench.py --models cifar10 unet lucid-rin \
            --clock cpu --threads 1 --batch 16 --sample-batch 16 --repeats 5 --no-memory --bf16 on \
            --json "benchmarks/results-$DATE-bf16-1thread-cpuclock.json"
    else
        echo "--- skips the bf16 table (README: Speed, bf16 on a CPU with AMX): this CPU has no bf16 matmul hardware"
    fi
fi
echo
echo "regenerate_figures: done ($([ "$DRY_RUN" = 1 ] && echo 'dry run, nothing ran' || echo "runs under $RUNS"))"
