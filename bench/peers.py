#!/usr/bin/env python3
"""The same reward-augmented relabeling done by raug's peers, for the benchmark.

    peers.py polars|duckdb|datasets IN OUT
    peers.py polars-condition|polars-pairs|polars-inspect IN OUT
    peers.py polars-strings IN OUT

The first form is `raug relabel`; the second does the job of `raug condition --prompt prompt`
(the top-score goal and a blank line before each prompt), `raug pairs --group-by prompt_id
--prompt prompt --text response --score score` (best against worst per prompt, in order of each
prompt's first row, none when all tie) and `raug inspect` (row count, ties, rows with a missing
field, and a histogram of both scores; OUT gets the report).

`polars-strings` is `raug relabel --order blocks` on string responses (`prompt`, `chosen`,
`rejected`, scores): the goal and a blank line before the prompt, responses and scores swapped in
the goal-rejected half.

Otherwise IN and OUT are .jsonl or .parquet in the HuggingFaceH4/ultrafeedback_binarized schema. Each peer
makes the goal-chosen rows (system message with the chosen score at the head of both lists), then
the goal-rejected rows (responses and scores swapped), concatenated in that order (the authors'
order, `raug relabel --order blocks`).
"""
import sys

HEADER = ("You are an assistant that generates responses for the instruction while implicitly "
          "achieving the following target scores (on a scale of 1-10, where 1 is lowest and 10 "
          "is highest):\nOverall score: ")


def polars(src, dst):
    import polars as pl

    scan = pl.scan_parquet(src) if src.endswith(".parquet") else pl.scan_ndjson(src)

    def printed(col):
        s = pl.col(col)
        return (pl.when(s == s.floor()).then(s.cast(pl.Int64).cast(pl.Utf8))
                .otherwise(s.cast(pl.Utf8)))

    def half(score, swap):
        goal = pl.concat_str([pl.lit(HEADER), printed(score), pl.lit(".")])
        system = pl.struct(content=goal, role=pl.lit("system"))
        c, r = ("rejected", "chosen") if swap else ("chosen", "rejected")
        cs, rs = ("score_rejected", "score_chosen") if swap else ("score_chosen", "score_rejected")
        return scan.with_columns(
            pl.concat_list([system, pl.col(c)]).alias("chosen"),
            pl.concat_list([system, pl.col(r)]).alias("rejected"),
            pl.col(cs).alias("score_chosen"),
            pl.col(rs).alias("score_rejected"),
        )

    out = pl.concat([half("score_chosen", False), half("score_rejected", True)])
    if dst.endswith(".parquet"):
        out.sink_parquet(dst, compression="snappy")
    else:
        out.sink_ndjson(dst)


def polars_strings(src, dst):
    import polars as pl

    frame = scan(src)

    def printed(col):
        s = pl.col(col)
        return (pl.when(s == s.floor()).then(s.cast(pl.Int64).cast(pl.Utf8))
                .otherwise(s.cast(pl.Utf8)))

    def half(score, swap):
        prompt = pl.concat_str([pl.lit(HEADER), printed(score), pl.lit(".\n\n"), pl.col("prompt")])
        c, r = ("rejected", "chosen") if swap else ("chosen", "rejected")
        cs, rs = ("score_rejected", "score_chosen") if swap else ("score_chosen", "score_rejected")
        return frame.with_columns(prompt.alias("prompt"), pl.col(c).alias("chosen"),
                                  pl.col(r).alias("rejected"), pl.col(cs).alias("score_chosen"),
                                  pl.col(rs).alias("score_rejected"))

    sink(pl.concat([half("score_chosen", False), half("score_rejected", True)]), dst)


def duckdb(src, dst):
    import duckdb

    reader = f"read_parquet('{src}')" if src.endswith(".parquet") else f"read_json('{src}', format='newline_delimited')"
    printed = lambda s: f"CASE WHEN {s} = floor({s}) THEN CAST(CAST({s} AS BIGINT) AS VARCHAR) ELSE CAST({s} AS VARCHAR) END"
    header = HEADER.replace("'", "''").replace("\n", "' || chr(10) || '")

    def half(score, swap):
        goal = f"'{header}' || {printed(score)} || '.'"
        system = f"{{'content': {goal}, 'role': 'system'}}"
        c, r = ("rejected", "chosen") if swap else ("chosen", "rejected")
        cs, rs = ("score_rejected", "score_chosen") if swap else ("score_chosen", "score_rejected")
        return (f"SELECT prompt, prompt_id, list_prepend({system}, {c}) AS chosen, "
                f"list_prepend({system}, {r}) AS rejected, messages, {cs} AS score_chosen, "
                f"{rs} AS score_rejected FROM {reader}")

    fmt = "(FORMAT parquet, COMPRESSION snappy)" if dst.endswith(".parquet") else "(FORMAT json)"
    duckdb.sql(f"COPY ({half('score_chosen', False)} UNION ALL {half('score_rejected', True)}) TO '{dst}' {fmt}")


def datasets(src, dst):
    import datasets as hf

    hf.disable_progress_bars()
    kind = "parquet" if src.endswith(".parquet") else "json"
    ds = hf.load_dataset(kind, data_files=src, split="train", cache_dir=dst + ".cache")

    def half(score_key, swap):
        def f(row):
            s = row[score_key]
            goal = HEADER + (str(int(s)) if s == int(s) else repr(s)) + "."
            system = {"content": goal, "role": "system"}
            c, r = (row["rejected"], row["chosen"]) if swap else (row["chosen"], row["rejected"])
            cs, rs = (row["score_rejected"], row["score_chosen"]) if swap else (row["score_chosen"], row["score_rejected"])
            return {"chosen": [system] + c, "rejected": [system] + r, "score_chosen": cs, "score_rejected": rs}
        return ds.map(f)

    out = hf.concatenate_datasets([half("score_chosen", False), half("score_rejected", True)])
    if dst.endswith(".parquet"):
        out.to_parquet(dst)
    else:
        out.to_json(dst, lines=True)


def scan(src):
    import polars as pl

    return pl.scan_parquet(src) if src.endswith(".parquet") else pl.scan_ndjson(src)


def sink(frame, dst):
    if dst.endswith(".parquet"):
        frame.sink_parquet(dst, compression="snappy")
    else:
        frame.sink_ndjson(dst)


def polars_condition(src, dst):
    import polars as pl

    goal = HEADER + "10.\n\n"
    sink(scan(src).with_columns(pl.concat_str([pl.lit(goal), pl.col("prompt")]).alias("prompt")), dst)


def polars_pairs(src, dst):
    import polars as pl

    frame = scan(src)
    rest = [c for c in frame.collect_schema().names() if c not in ("prompt_id", "prompt", "response", "score")]
    pairs = (
        frame.group_by("prompt_id", maintain_order=True)
        .agg(
            pl.col("prompt").first(),
            pl.col("response").sort_by("score", descending=True, maintain_order=True).first().alias("chosen"),
            pl.col("response").sort_by("score", maintain_order=True).first().alias("rejected"),
            pl.col("score").max().alias("score_chosen"),
            pl.col("score").min().alias("score_rejected"),
            *[pl.col(c).first() for c in rest],
        )
        .filter(pl.col("score_chosen") > pl.col("score_rejected"))
        .select("prompt", "chosen", "rejected", "score_chosen", "score_rejected", "prompt_id", *rest)
    )
    if dst.endswith(".parquet"):
        pairs.collect().write_parquet(dst, compression="snappy")
    else:
        pairs.collect().write_ndjson(dst)


def polars_inspect(src, dst):
    import polars as pl

    frame = scan(src)
    c, r = pl.col("score_chosen"), pl.col("score_rejected")
    needed = ["prompt", "chosen", "rejected", "score_chosen", "score_rejected"]
    summary = frame.select(
        pl.len().alias("rows"),
        (c == r).sum().alias("ties"),
        pl.any_horizontal([pl.col(n).is_null() for n in needed]
                          + [pl.col(n).list.len() == 0 for n in ("chosen", "rejected")]).sum().alias("rejected"),
    ).collect()
    scores = frame.select(c, r).collect()
    with open(dst, "w") as out:
        print(summary, file=out)
        for col in ("score_chosen", "score_rejected"):
            print(scores[col].value_counts(sort=True), file=out)


if __name__ == "__main__":
    tool, src, dst = sys.argv[1:4]
    {"polars": polars, "duckdb": duckdb, "datasets": datasets, "polars-condition": polars_condition,
     "polars-pairs": polars_pairs, "polars-inspect": polars_inspect,
     "polars-strings": polars_strings}[tool](src, dst)
