"""Shared helpers of raug's Python tests: the real data, the wheel's `raug` command, rows as a
multiset. Run by tests/py/run.sh, which builds and installs the wheel first."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

REPO = Path(__file__).resolve().parents[2]
REAL = REPO.parent / "shared" / "data" / "real"
H4 = "1.5-Pints__ultrafeedback_binarized_test.jsonl"
NOISE = "ultrafeedback-dpo-noise-study__train_clean.jsonl"


def real(name):
    """A file of the real data beside the checkout. Missing: a failure under CI, else a skip that
    says why."""
    path = REAL / name
    if not path.exists():
        message = f"missing real data file {path} (the shared folder sits beside the checkout)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def raug_command():
    """The wheel's `raug` command, installed beside this interpreter."""
    path = Path(sys.executable).parent / "raug"
    assert path.exists(), f"the wheel's command is not installed at {path}"
    return str(path)


def cli(*args, check=True):
    """Runs the wheel's `raug` command; returns the finished process."""
    run = subprocess.run([raug_command(), *map(str, args)], capture_output=True, text=True)
    if check:
        assert run.returncode == 0, f"raug {args} exited {run.returncode}: {run.stderr}"
    return run


def rows(table):
    """A table's rows as a sorted list of JSON texts: a multiset to compare engines' outputs."""
    return sorted(json.dumps(row, sort_keys=True) for row in table.to_pylist())


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def parquet_of(jsonl, out, row_group_size=None):
    """Writes a JSON Lines file as Parquet with pyarrow; returns the path."""
    table = pa.Table.from_pylist(read_jsonl(jsonl))
    pq.write_table(table, out, row_group_size=row_group_size)
    return out


@pytest.fixture
def h4_parquet(tmp_path):
    """The real UltraFeedback binarized test rows, as `datasets` writes them (features metadata)."""
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    ds = datasets.load_dataset(
        "json", data_files=str(real(H4)), split="train", cache_dir=str(tmp_path / "hf")
    )
    out = tmp_path / "h4.parquet"
    ds.to_parquet(str(out))
    return out


@pytest.fixture
def noise_parquet(tmp_path):
    """1,000 real rows (strings, scores under `metadata`) in Parquet, 4 row groups."""
    return parquet_of(real(NOISE), tmp_path / "noise.parquet", row_group_size=250)

