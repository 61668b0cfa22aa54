#!/usr/bin/env bash
# raug's batch function against the same relabel as a Python function, in `datasets.map` and Ray
# Data (local mode, the machine's cores): median wall time of N runs each.
#
#   bash bench/engines.sh [--runs N] [--rows N]
#
# Uses bench/.venv (bench/run.sh makes it and bench/data/uf.parquet); adds Ray Data and maturin,
# builds raug's wheel (release) and installs it there, then runs bench/engines.py.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5 rows=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift ;;
    --rows) rows="--rows $2"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
venv=bench/.venv
[ -f bench/data/uf.parquet ] || { echo "run bash bench/run.sh first: it makes bench/data/uf.parquet" >&2; exit 2; }
"$venv/bin/pip" install --quiet --disable-pip-version-check "ray[data]>=2.40" "maturin>=1.5,<2" datasets
target="${CARGO_TARGET_DIR:-target}"
rm -rf "$target/bench-wheels"
"$venv/bin/maturin" build --release --quiet --out "$target/bench-wheels" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$target"/bench-wheels/raug-*.whl
# shellcheck disable=SC2086
HF_DATASETS_OFFLINE=1 RAY_DEDUP_LOGS=0 "$venv/bin/python" bench/engines.py bench/data/uf.parquet --runs "$runs" $rows
