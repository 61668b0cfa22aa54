#!/usr/bin/env bash
# Makes the Python environment the Parquet tests use: pyarrow and Hugging Face `datasets`, to write
# inputs with the real libraries and to load raug's output back. Idempotent; concurrent callers
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
echo "$venv/bin/python"
