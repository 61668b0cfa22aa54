"""Parquet helpers for raug's tests: write Parquet with the real `datasets` and pyarrow, read it back.

    tool.py datasets-parquet IN.jsonl OUT.parquet     write as `datasets` does (features metadata)
    tool.py pyarrow-parquet IN.jsonl OUT.parquet [ROWS_PER_GROUP] [CODEC]
    tool.py pandas-parquet IN.jsonl OUT.parquet [COLUMN ...]
                                                      with pandas, from a DataFrame whose index
                                                      has no name and is not a range (row i is
                                                      i*i): written as __index_level_0__; the
                                                      COLUMNs as categoricals (dictionaries)
    tool.py rows FILE.parquet                         the rows as JSON Lines
    tool.py features FILE.parquet|FILE.jsonl          the features `datasets` loads, as text
    tool.py info FILE.parquet                         schema, metadata keys, codec, row groups
    tool.py big-parquet OUT.parquet ROWS MB           rows with MB-sized chosen and rejected texts
    tool.py chunk FILE.parquet RG COLUMN              a column chunk's compressed bytes, as hex
    tool.py span FILE.parquet RG COLUMN               a column chunk's first byte and length
    tool.py layout FILE.parquet                       per row group, in the footer's order: rows, file offset
    tool.py trl FILE.parquet|FILE.jsonl               each row as TRL 1.16's DPO data helpers make it
                                                      (maybe_extract_prompt, maybe_apply_chat_template
                                                      with a tokenizer built here), as JSON Lines
"""
import json
import os
import sys

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")


def load(path):
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    kind = "parquet" if path.endswith(".parquet") else "json"
    cache = os.path.join(os.path.dirname(os.path.abspath(path)), ".hf-cache")
    return datasets.load_dataset(kind, data_files=path, split="train", cache_dir=cache)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "datasets-parquet":
        load(args[0]).to_parquet(args[1])
    elif cmd == "pyarrow-parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(read_jsonl(args[0]))
        rows = int(args[2]) if len(args) > 2 else None
        codec = args[3] if len(args) > 3 else "snappy"
        pq.write_table(table, args[1], row_group_size=rows, compression=codec)
    elif cmd == "int96-parquet":
        # As Spark writes timestamps by default (and pyarrow when asked): INT96, day i of 2024.
        import datetime

        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = read_jsonl(args[0])
        table = pa.Table.from_pylist(rows).append_column(
            "ts",
            pa.array(
                [datetime.datetime(2024, 1, 1) + datetime.timedelta(days=i) for i in range(len(rows))],
                pa.timestamp("ns"),
            ),
        )
        pq.write_table(table, args[1], use_deprecated_int96_timestamps=True)
    elif cmd == "pandas-parquet":
        import pandas as pd

        frame = pd.DataFrame(read_jsonl(args[0]))
        frame.index = pd.Index([i * i for i in range(len(frame))])
        for column in args[2:]:
            frame[column] = frame[column].astype("category")
        frame.to_parquet(args[1])
    elif cmd == "rows":
        import pyarrow.parquet as pq

        for row in pq.read_table(args[0]).to_pylist():
            print(json.dumps(row, ensure_ascii=False))
    elif cmd == "features":
        print(load(args[0]).features)
    elif cmd == "info":
        import pyarrow.parquet as pq

        f = pq.ParquetFile(args[0])
        md = f.metadata
        print(f.schema_arrow.remove_metadata())
        print("metadata:", sorted(k.decode() for k in (f.schema_arrow.metadata or {})))
        print("codec:", md.row_group(0).column(0).compression if md.num_row_groups else None)
        print("row groups:", md.num_row_groups, "rows:", md.num_rows)
    elif cmd == "chunk":
        import pyarrow.parquet as pq

        col = pq.ParquetFile(args[0]).metadata.row_group(int(args[1])).column(int(args[2]))
        start = col.dictionary_page_offset if col.has_dictionary_page else col.data_page_offset
        with open(args[0], "rb") as f:
            f.seek(start)
            print(f.read(col.total_compressed_size).hex())
    elif cmd == "span":
        import pyarrow.parquet as pq

        col = pq.ParquetFile(args[0]).metadata.row_group(int(args[1])).column(int(args[2]))
        start = col.dictionary_page_offset if col.has_dictionary_page else col.data_page_offset
        print(start, col.total_compressed_size)
    elif cmd == "layout":
        import pyarrow.parquet as pq

        md = pq.ParquetFile(args[0]).metadata
        for i in range(md.num_row_groups):
            rg = md.row_group(i)
            starts = [c.dictionary_page_offset if c.has_dictionary_page else c.data_page_offset
                      for c in (rg.column(j) for j in range(rg.num_columns))]
            print(rg.num_rows, min(starts))
    elif cmd == "big-parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        n, size = int(args[1]), int(args[2]) << 20
        schema = pa.schema([("prompt", pa.string()), ("chosen", pa.string()), ("rejected", pa.string()),
                            ("score_chosen", pa.float64()), ("score_rejected", pa.float64())])
        texts = [str(i % 10) * size for i in range(n)]
        table = pa.table({"prompt": [f"p{i}" for i in range(n)], "chosen": texts, "rejected": texts,
                          "score_chosen": [9.0] * n, "score_rejected": [float(1 + i % 9) for i in range(n)]},
                         schema=schema)
        pq.write_table(table, args[0], compression="snappy")  # one row group: one big batch
    elif cmd == "big-row-group":
        # One row group of ROWS rows, chosen and rejected KB each: every text its own (so
        # dictionary encoding gives up, as on real text), with a repeated body that snappy
        # shrinks so the file stays small on disk.
        import pyarrow as pa
        import pyarrow.parquet as pq

        n, size = int(args[1]), int(args[2]) << 10
        body = "The quick brown fox jumps over the lazy dog. " * (size // 45 + 1)
        text = lambda i, side: (f"{side}{i}:" + body)[:size]
        table = pa.table({"prompt": [f"p{i}" for i in range(n)],
                          "chosen": [text(i, "c") for i in range(n)],
                          "rejected": [text(i, "r") for i in range(n)],
                          "score_chosen": [9.0] * n, "score_rejected": [float(1 + i % 8) for i in range(n)]})
        # Dictionary pages for texts this big would hold every text (pyarrow checks their size
        # every 1,024 rows): real files of ordinary rows fall back to plain pages early.
        pq.write_table(table, args[0], compression="snappy", row_group_size=n, use_dictionary=["prompt"],
                       write_batch_size=4)  # pages of ~2 MB, not one page per column
    elif cmd == "trl":
        trl_rows(args[0])
    else:
        sys.exit(f"unknown command {cmd}")


# A chat template that writes each message as <|role|>content and a newline: enough to see where
# TRL puts every message, with no model to download.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def trl_rows(path):
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import logging

    logging.getLogger("transformers").setLevel(logging.ERROR)
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    from trl.data_utils import is_conversational, maybe_apply_chat_template, maybe_extract_prompt

    words = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=words, unk_token="[UNK]")
    tokenizer.chat_template = CHAT_TEMPLATE
    for example in load(path):
        extracted = maybe_extract_prompt(example)
        # raug's prompt is already explicit: nothing is left to extract.
        assert extracted == example, (extracted, example)
        applied = maybe_apply_chat_template(extracted, tokenizer)
        applied["conversational"] = is_conversational(example)
        print(json.dumps(applied, ensure_ascii=False))


if __name__ == "__main__":
    main()
