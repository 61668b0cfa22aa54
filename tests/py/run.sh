#!/usr/bin/env bash
# The Python tests: builds the wheel (maturin, release, as `pip install .` builds it), installs it
# into the test environment that setup.sh makes, and runs pytest on tests/py (the API, the wheel's
# `raug` command, and the datasets, Ray Data and Spark recipes in local mode). Extra arguments go
# to pytest.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
python="$("$here/setup.sh")"
bin="$(dirname "$python")"
rm -rf "$target/wheels"
(cd "$repo" && "$bin/maturin" build --release --quiet --out "$target/wheels" >&2)
"$bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps \
  "$target"/wheels/raug-*.whl
cd "$here"
exec "$python" -m pytest -q -rs -p no:cacheprovider "$@"
