#!/usr/bin/env bash
# Run the course notebooks in full mode and save their outputs in place.
#
#   bash scripts/run_notebooks.sh                       # every notebook
#   bash scripts/run_notebooks.sh notebooks/03_*.ipynb  # some of them
#
# Full mode is the mode readers see on the web: GANUTILS_FAST is unset, so
# every notebook trains with its full number of steps on the full data. Each
# notebook states how long that takes; the wall time of each run is printed
# here. A notebook that fails stops the script and keeps its old outputs.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${GANUTILS_VENV:-.venv}"
# Maximum run time of one cell, in seconds (a full training run).
CELL_TIMEOUT_SECONDS="${CELL_TIMEOUT_SECONDS:-1800}"

unset GANUTILS_FAST
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if [ "$#" -gt 0 ]; then
    notebooks=("$@")
else
    notebooks=(notebooks/[0-9][0-9]_*.ipynb)
fi

for notebook in "${notebooks[@]}"; do
    if [ ! -f "$notebook" ]; then
        echo "Notebook not found: $notebook" >&2
        exit 1
    fi
    echo "Running $notebook"
    start=$(date +%s)
    "$VENV/bin/jupyter" nbconvert --to notebook --execute --inplace \
        --ExecutePreprocessor.timeout="$CELL_TIMEOUT_SECONDS" \
        --ExecutePreprocessor.kernel_name=python3 \
        "$notebook"
    # Merge each cell's stream outputs and keep only the final state of
    # lines rewritten with a carriage return, such as Keras' progress bar.
    "$VENV/bin/jupyter" nbconvert --coalesce-streams --inplace "$notebook"
    end=$(date +%s)
    elapsed=$((end - start))
    printf '%s: %d min %02d s\n' "$notebook" $((elapsed / 60)) $((elapsed % 60))
done
