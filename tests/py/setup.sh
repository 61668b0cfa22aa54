#!/usr/bin/env bash
# Makes the Python environment the Parquet tests use: pyarrow and Hugging Face `datasets`, to write
# inputs with the real libraries and to load raug's output back; TRL's data helpers (without
# torch: --no-deps, as TRL's dataset functions need none of it) to load `--to trl` output; maturin,
# pytest, Ray and PySpark for the Python tests (run.sh). Idempotent; concurrent callers
# wait on a lock. Prints the interpreter's path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="${CARGO_TARGET_DIR:-$here/../../target}"
venv="$target/pyenv"
mkdir -p "$target"
exec 9>"$target/pyenv.lock"
flock 9
if [ ! -f "$venv/.ready" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "pyarrow>=15" "datasets>=3" >&2
  touch "$venv/.ready"
fi
if [ ! -f "$venv/.ready-trl" ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps \
    "trl==1.16.*" "transformers>=4.56" tokenizers safetensors jinja2 markupsafe regex >&2
  touch "$venv/.ready-trl"
fi
if [ ! -f "$venv/.ready-engines-2" ]; then
  # The Python API's tests: maturin builds the wheel; Ray Data and Spark (local mode, Java 17)
  # run the engine recipes; mypy checks the type hints.
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "maturin>=1.5,<2" "pytest>=8" "ray[data]>=2.40" "pyspark>=3.5" "mypy>=1.10" >&2
  touch "$venv/.ready-engines-2"
fi
echo "$venv/bin/python"
