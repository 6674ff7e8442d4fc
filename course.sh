#!/usr/bin/env bash
# Set up everything the course needs, then run its main job or its tests.
#
#   bash course.sh train [extra `ganutils train` options]
#   bash course.sh test  [extra pytest options]
#
# Set-up: a virtual environment in .venv (or $GANUTILS_VENV), the package and
# its development tools installed into it, and the Fashion-MNIST files. Each
# step is skipped when it is already done.
set -euo pipefail
cd "$(dirname "$0")"

VENV="${GANUTILS_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

setup_venv() {
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
        echo "Python 3.10 or newer is required; $PYTHON is $("$PYTHON" --version)." >&2
        echo "Set PYTHON=/path/to/python3.11 and run again." >&2
        exit 1
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        echo "Creating the virtual environment in $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    # Reinstall only when pyproject.toml changed since the last install.
    local stamp="$VENV/.ganutils-installed"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        echo "Installing ganutils and its dependencies into $VENV"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
        "$VENV/bin/python" -m pip install --quiet -e ".[dev]"
        touch "$stamp"
    fi
}

setup_data() {
    # load_dataset also looks in data/, Keras' cache, and downloads as a last
    # resort. Offline, Debian's package is the one other source, so install it
    # when this user can.
    if "$VENV/bin/python" -c \
        'from ganutils.data import load_dataset; load_dataset("fashion_mnist", "test", download=False)' \
        2>/dev/null; then
        return
    fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing Debian's dataset-fashion-mnist"
        apt-get install -y -qq dataset-fashion-mnist >/dev/null \
            || { apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null; } \
            || echo "Could not install dataset-fashion-mnist; the loader will try to download." >&2
    fi
}

command="${1:-}"
shift || true
case "$command" in
    train)
        setup_venv
        setup_data
        # Write to runs/fashion_dcgan unless the options name another folder.
        out_option=(--out runs/fashion_dcgan)
        for argument in "$@"; do
            case "$argument" in
                --out|--out=*) out_option=() ;;
            esac
        done
        exec "$VENV/bin/ganutils" train --dataset fashion_mnist --model dcgan \
            "${out_option[@]}" "$@"
        ;;
    test)
        setup_venv
        setup_data
        # GANUTILS_FAST=1 makes each notebook train for a few steps on a
        # small slice; the notebooks' saved outputs come from full runs.
        export GANUTILS_FAST=1
        export TF_CPP_MIN_LOG_LEVEL=3
        exec "$VENV/bin/python" -m pytest tests notebooks \
            --nbval-lax --nbval-current-env \
            --nbval-cell-timeout=600 --nbval-kernel-startup-timeout=180 \
            --nbval-sanitize-with notebooks/nbval_sanitize.cfg \
            -p no:cacheprovider "$@"
        ;;
    *)
        echo "Usage: bash course.sh train|test [options]" >&2
        exit 2
        ;;
esac
