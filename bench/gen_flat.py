#!/usr/bin/env python3
"""Flat preference data for `raug pairs` from the benchmark's UltraFeedback file: one row per
response (prompt_id, prompt, response, score), the chosen then the rejected response of each
row, written as Parquet (row groups of 20,000 rows) and JSON Lines; `--shuffle` writes the same
rows in a random order (seeded), so that no group's rows are together.

    gen_flat.py IN.parquet OUT.parquet OUT.jsonl [--shuffle]
"""
import json
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def last_content(table, column):
    lists = table[column].combine_chunks()
    ends = np.asarray(lists.offsets)[1:] - 1
    return pc.struct_field(lists.values.take(pa.array(ends)), "content")


def main():
    src, parquet, jsonl = sys.argv[1:4]
    t = pq.read_table(src, columns=["prompt", "prompt_id", "chosen", "rejected", "score_chosen", "score_rejected"])
    n = t.num_rows
    flat = pa.table({
        "prompt_id": pa.concat_arrays([t["prompt_id"].combine_chunks()] * 2),
        "prompt": pa.concat_arrays([t["prompt"].combine_chunks()] * 2),
        "response": pa.concat_arrays([last_content(t, "chosen"), last_content(t, "rejected")]),
        "score": pa.concat_arrays([t["score_chosen"].combine_chunks(), t["score_rejected"].combine_chunks()]),
    })
    if "--shuffle" in sys.argv:
        order = np.random.default_rng(1).permutation(2 * n)
    else:
        # Each prompt's two responses next to each other.
        order = np.empty(2 * n, dtype=np.int64)
        order[0::2] = np.arange(n)
        order[1::2] = np.arange(n) + n
    flat = flat.take(pa.array(order))
    pq.write_table(flat, parquet, row_group_size=20000)
    with open(jsonl, "w") as out:
        for batch in flat.to_batches(10000):
            for row in batch.to_pylist():
                out.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
