#!/usr/bin/env bash
# The GPU check (README: "GPU check"), at most 10 minutes on one GPU:
#   1. the tests marked `gpu` (a CUDA training run with bf16 + channels_last, and more);
#   2. benchmarks/bench_gpu.py: archlab's loop vs a bare loop (eager and compiled), the MAC rate
#      against a measured bf16 matmul peak, grouped vs dense 3x3 convs; it writes its section of
#      reports/benchmarks-gpu.md and prints a one-screen summary;
#   3. benchmarks/bench_speed_predictors.py: Spearman rho of measured train-step time against
#      MACs, params, activations, bytes moved and the roofline prediction (its section of
#      reports/benchmarks-gpu.md).
#
#   bash benchmarks/gpu.sh            # on the GPU machine
#   bash benchmarks/gpu.sh --setup    # first make .venv-gpu with a CUDA build of torch (network)
#   bash benchmarks/gpu.sh --tiny     # the same path on the CPU in seconds (the default tests)
#
# Python: $PYTHON if set, else the first of .venv-gpu/bin/python, .venv/bin/python and python3
# whose torch sees a CUDA device (with --tiny: .venv/bin/python, else python3). archlab is
# installed into it (no dependencies, no network) when it cannot import archlab.cli.
set -euo pipefail
cd "$(dirname "$0")/.."

tiny=0
setup=0
bench_args=()
for arg in "$@"; do
    case "$arg" in
        --tiny) tiny=1; bench_args+=("$arg") ;;
        --setup) setup=1 ;;
        *) bench_args+=("$arg") ;;
    esac
done
export ARCHLAB_GPU_COMMAND="bash benchmarks/gpu.sh${*:+ $*}"
export PYTHONUNBUFFERED=1

has_cuda() { "$1" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; }

if [ "$setup" = 1 ]; then
    # Only here, never in CI: PyPI's Linux x86-64 torch wheel is the CUDA build.
    python3 -m venv .venv-gpu
    .venv-gpu/bin/python -m pip install -q --upgrade pip
    .venv-gpu/bin/python -m pip install -q torch
    .venv-gpu/bin/python -m pip install -q -e ".[dev]"
fi

py="${PYTHON:-}"
if [ -z "$py" ] && [ "$tiny" = 1 ]; then
    py=$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)
elif [ -z "$py" ]; then
    for candidate in .venv-gpu/bin/python .venv/bin/python python3; do
        if command -v "$candidate" >/dev/null && has_cuda "$candidate"; then
            py="$candidate"
            break
        fi
    done
    if [ -z "$py" ]; then
        echo "gpu.sh: no Python here has a torch that sees a CUDA device." >&2
        echo "gpu.sh: run 'bash benchmarks/gpu.sh --setup' (installs a CUDA torch into .venv-gpu)," >&2
        echo "gpu.sh: or set PYTHON=/path/to/python, or use --tiny on the CPU." >&2
        exit 2
    fi
fi

if ! "$py" -c 'import archlab.cli.main' 2>/dev/null; then
    # Editable: cli/ is installed as archlab.cli by a finder that also works when the checkout's
    # archlab/ shadows site-packages (python -m puts the current folder first on sys.path).
    echo "gpu.sh: installing archlab (editable, no dependencies, no network) into $py"
    if ! "$py" -m pip install -q --no-deps --no-build-isolation --no-index -e .; then
        # No usable build backend there: run from the checkout, with cli/ linked in as
        # archlab/cli for the length of this script.
        echo "gpu.sh: pip could not install it; linking archlab/cli -> cli for this run"
        ln -s ../cli archlab/cli
        trap 'rm -f archlab/cli' EXIT
        export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
        "$py" -c 'import archlab.cli.main' || exit 2
    fi
fi

start=$SECONDS
status=0
echo "== gpu.sh with $py ($("$py" -c 'import torch; print("torch", torch.__version__)'))"
if [ "$tiny" = 1 ]; then
    # Without CUDA every gpu test skips; the default suite already collects (and deselects) them.
    echo "== tests marked gpu: not run (--tiny)"
else
    echo "== tests marked gpu"
    # A failing test is reported at the end; the measurements still run (device time is scarce).
    timeout 120 "$py" -m pytest -q -m gpu -p no:cacheprovider --continue-on-collection-errors tests \
        || status=$?
fi
echo "== benchmarks/bench_gpu.py"
# bench_gpu.py rewrites its report section after every row, so a timeout keeps what it measured.
timeout 330 "$py" benchmarks/bench_gpu.py ${bench_args[@]+"${bench_args[@]}"} || status=$?
echo "== benchmarks/bench_speed_predictors.py"
# Which number predicts speed, on this GPU: the CPU benchmark's models and predictors, ImageNet
# presets at 224, float32 (TF32 off), its section in reports/benchmarks-gpu.md.
if [ "$tiny" = 1 ]; then
    predictor_args=(--cardinalities 1,2,4 --cifar-width 0.0625 --presets resnet50 --input-size 32
                    --batch 2 --repeats 1 --warmup 0 --min-time 0 --no-write)
else
    predictor_args=(--device cuda --batch 32 --input-size 224 --warmup 2 --repeats 5
                    --out reports/benchmarks-gpu.md)
fi
timeout 150 "$py" benchmarks/bench_speed_predictors.py "${predictor_args[@]}" || status=$?
echo "== gpu.sh done in $((SECONDS - start)) s, exit status $status"
exit "$status"
