#!/usr/bin/env bash
# The README's test command: the Rust tests (cargo test), then the Python tests (tests/py/run.sh:
# builds the wheel, installs it beside pytest, datasets, Ray and PySpark in a venv cached under
# target/, and runs them). Needs ../shared beside the checkout for the real data.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test
tests/py/run.sh
