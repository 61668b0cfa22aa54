#!/usr/bin/env python3
"""Make an UltraFeedback-scale dataset in the HuggingFaceH4/ultrafeedback_binarized schema.

Cycles the real rows of ../shared/data/real/ (the 1,000-row trl-lib sample, as message lists),
tagging every text with its row number so no two rows are alike (compression and dictionaries
can't cheat). Writes JSONL; with --parquet also Parquet as `datasets` writes it (needs pyarrow).

    python3 bench/gen_data.py --rows 61135 --out bench/data/uf.jsonl [--parquet bench/data/uf.parquet]
"""
import argparse, hashlib, json, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
REAL = os.path.join(HERE, "..", "..", "shared", "data", "real")


def real_pairs():
    with open(os.path.join(REAL, "ultrafeedback-dpo-noise-study__train_clean.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            yield r["prompt"], r["chosen"], r["rejected"], r["metadata"]["score_chosen"], r["metadata"]["score_rejected"]


def rows(n):
    base = list(real_pairs())
    for i in range(n):
        p, c, r, sc, sr = base[i % len(base)]
        tag = f" [{i}]"
        p, c, r = p + tag, c + tag, r + tag
        chosen = [{"content": p, "role": "user"}, {"content": c, "role": "assistant"}]
        rejected = [{"content": p, "role": "user"}, {"content": r, "role": "assistant"}]
        yield {
            "prompt": p,
            "prompt_id": hashlib.sha256(p.encode()).hexdigest(),
            "chosen": chosen,
            "rejected": rejected,
            "messages": chosen,
            "score_chosen": float(sc),
            "score_rejected": float(sr),
        }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=61135)
    ap.add_argument("--out", required=True)
    ap.add_argument("--parquet")
    a = ap.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        for row in rows(a.rows):
            f.write(json.dumps(row) + "\n")
    if a.parquet:
        import pyarrow as pa, pyarrow.parquet as pq
        msg = pa.list_(pa.struct([("content", pa.string()), ("role", pa.string())]))
        schema = pa.schema([("prompt", pa.string()), ("prompt_id", pa.string()), ("chosen", msg),
                            ("rejected", msg), ("messages", msg), ("score_chosen", pa.float64()),
                            ("score_rejected", pa.float64())])
        features = {"prompt": {"dtype": "string", "_type": "Value"}, "prompt_id": {"dtype": "string", "_type": "Value"}}
        m = [{"content": {"dtype": "string", "_type": "Value"}, "role": {"dtype": "string", "_type": "Value"}}]
        for k in ("chosen", "rejected", "messages"):
            features[k] = m
        for k in ("score_chosen", "score_rejected"):
            features[k] = {"dtype": "float64", "_type": "Value"}
        schema = schema.with_metadata({"huggingface": json.dumps({"info": {"features": features}})})
        table = pa.Table.from_pylist(list(rows(a.rows)), schema=schema)
        pq.write_table(table, a.parquet, row_group_size=1000, compression="snappy")
    print(f"wrote {a.rows} rows to {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
