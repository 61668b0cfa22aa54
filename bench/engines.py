"""raug's batch function against the same relabel written in Python, inside `datasets.map` and
Ray Data's `map_batches`: median wall time of N runs each, and the time spent inside the batch
function (summed over its calls in every worker process). A third function, which returns each
batch twice (the output's size without relabeling), is the engine's floor: what reading,
scheduling and writing cost whatever the function does.

    python bench/engines.py PARQUET [--runs 5] [--rows N] [--engine datasets|ray|both]

The Python function is the paper's relabeling as people write it for `datasets.map` (the
authors' way): rows as Python dicts, the goal as a system message at the head of both message
lists, the swapped copy for the rejected score, back to Arrow. Before timing, both functions
relabel the first rows and must give the same rows in the same order, so the two do the same job.
"""

import argparse
import os
import statistics
import tempfile
import time

import pyarrow as pa
import pyarrow.parquet as pq

import raug

GOAL = (
    "You are an assistant that generates responses for the instruction while implicitly "
    "achieving the following target scores (on a scale of 1-10, where 1 is lowest and 10 is "
    "highest):\nOverall score: {}."
)


def score_text(score):
    """The goal as the paper writes it: integral scores without a decimal point."""
    return str(int(score)) if float(score).is_integer() else repr(float(score))


def python_relabel(batch):
    """The Python function over pyarrow: each pair becomes its goal-chosen row (roles as they
    were) and its goal-rejected row (roles swapped), the batch's goal-chosen rows first: the
    authors' order (`--order blocks`), as in bench/run.sh (ultrafeedback_binarized layout)."""
    halves = ([], [])
    for row in batch.to_pylist():
        for half, (goal, swap) in enumerate(((row["score_chosen"], False), (row["score_rejected"], True))):
            new = dict(row)
            chosen, rejected = (row["rejected"], row["chosen"]) if swap else (row["chosen"], row["rejected"])
            system = {"content": GOAL.format(score_text(goal)), "role": "system"}
            new["chosen"] = [system] + chosen
            new["rejected"] = [system] + rejected
            if swap:
                new["score_chosen"], new["score_rejected"] = row["score_rejected"], row["score_chosen"]
            halves[half].append(new)
    return pa.Table.from_pylist(halves[0] + halves[1], schema=batch.schema)


def check_same_job(table):
    sample = table.slice(0, 300)
    ours = RELABELER(sample)
    theirs = python_relabel(sample)
    assert ours.num_rows == theirs.num_rows == 2 * sample.num_rows
    assert ours.to_pylist() == theirs.to_pylist(), "the Python function and raug disagree"


def twice(batch):
    """The floor: each batch twice, the relabeled output's size, without relabeling."""
    return pa.concat_tables([batch, batch])


class Timed:
    """A batch function that adds the seconds each call takes to a file per process."""

    def __init__(self, fn, folder):
        self.fn, self.folder = fn, folder

    def __call__(self, batch):
        start = time.perf_counter()
        out = self.fn(batch)
        elapsed = time.perf_counter() - start
        with open(os.path.join(self.folder, f"{os.getpid()}.times"), "a") as f:
            f.write(f"{elapsed}\n")
        return out


def measure(runs, workdir, fn, job):
    """Median wall time of `job(timed_fn)` over `runs`, and the median time inside the function."""
    walls, inside = [], []
    for i in range(runs):
        folder = tempfile.mkdtemp(dir=workdir)
        start = time.perf_counter()
        job(Timed(fn, folder))
        walls.append(time.perf_counter() - start)
        inside.append(
            sum(float(t) for name in os.listdir(folder) for t in open(os.path.join(folder, name)))
        )
    return statistics.median(walls), statistics.median(inside), walls


RELABELER = raug.Relabeler(order="blocks")
FUNCTIONS = (("raug", RELABELER), ("python", python_relabel), ("floor", twice))


def bench_datasets(path, runs, workdir):
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    ds = datasets.load_dataset(
        "parquet", data_files=str(path), split="train", cache_dir=os.path.join(workdir, "hf")
    ).with_format("arrow")

    def job(fn):
        out = ds.map(fn, batched=True, batch_size=1000, load_from_cache_file=False)
        assert out.num_rows == 2 * ds.num_rows
        out.cleanup_cache_files()

    return {name: measure(runs, workdir, fn, job) for name, fn in FUNCTIONS}


def bench_ray(path, runs, workdir):
    import logging

    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    ray.data.DataContext.get_current().enable_progress_bars = False

    def job(fn):
        out = tempfile.mkdtemp(dir=workdir)
        (
            ray.data.read_parquet(str(path))
            .map_batches(fn, batch_format="pyarrow", batch_size=1000)
            .write_parquet(out)
        )
        assert pq.ParquetDataset(out).read(columns=["score_chosen"]).num_rows > 0

    results = {name: measure(runs, workdir, fn, job) for name, fn in FUNCTIONS}
    ray.shutdown()
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("parquet")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--engine", choices=["datasets", "ray", "both"], default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(args.parquet))) as workdir:
        table = pq.read_table(args.parquet)
        if args.rows:
            table = table.slice(0, args.rows)
        path = os.path.join(workdir, "in.parquet")
        pq.write_table(table, path, row_group_size=10_000)
        check_same_job(table)
        rows = table.num_rows
        del table
        print(f"{rows} rows, {os.path.getsize(path) / 2**20:.0f} MiB of Parquet, {args.runs} runs each")
        print("| engine | raug's function: wall / inside | Python function: wall / inside "
              "| floor: wall | Python / raug, wall | Python / raug, inside |")
        print("|---|---|---|---|---|---|")
        engines = ["datasets", "ray"] if args.engine == "both" else [args.engine]
        for engine in engines:
            r = {"datasets": bench_datasets, "ray": bench_ray}[engine](path, args.runs, workdir)
            label = {"datasets": "`datasets.map`", "ray": "Ray Data `map_batches`"}[engine]
            (ow, oi, _), (tw, ti, _), (fw, _, _) = r["raug"], r["python"], r["floor"]
            print(f"| {label} | {ow:.2f} s / {oi:.2f} s | {tw:.2f} s / {ti:.2f} s | {fw:.2f} s "
                  f"| {tw / ow:.1f}x | {ti / oi:.1f}x |", flush=True)
            for name, (_, _, walls) in r.items():
                print(f"<!-- {engine} {name} walls: {' '.join(f'{t:.2f}' for t in walls)} -->",
                      flush=True)


if __name__ == "__main__":
    main()
