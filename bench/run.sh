#!/usr/bin/env bash
# raug against its peers on UltraFeedback-scale data, in one run: median wall time and peak RSS.
#
#   bash bench/run.sh [--runs N] [--rows N] [--with-datasets] [--no-flat]
#
# Makes bench/.venv (polars, duckdb, pyarrow; datasets with --with-datasets), generates
# bench/data/uf.{jsonl,parquet} from ../shared/data/real/ (61,135 rows, every text tagged unique),
# builds raug --release, runs every tool N times (default 5) and prints a Markdown table with
# ratios. Unless --no-flat, it also relabels 4x the rows to check memory stays flat.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5 rows=61135 with_datasets=0 flat=1
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift ;;
    --rows) rows=$2; shift ;;
    --with-datasets) with_datasets=1 ;;
    --no-flat) flat=0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
venv=bench/.venv data=bench/data out=bench/data/out
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
# datasets writes the Hugging Face-shaped file (row groups of ~100 MB); --with-datasets also
# times it as a peer.
pkgs="polars duckdb pyarrow datasets"
"$venv/bin/pip" install --quiet --disable-pip-version-check $pkgs
py="$venv/bin/python"
mkdir -p "$data" "$out"
if [ ! -f "$data/uf.parquet" ] || [ "$(cat "$data/rows" 2>/dev/null)" != "$rows" ]; then
  "$py" bench/gen_data.py --rows "$rows" --out "$data/uf.jsonl" --parquet "$data/uf.parquet"
  echo "$rows" > "$data/rows"
fi
if [ ! -f "$data/uf.hf.parquet" ] || [ "$data/uf.hf.parquet" -ot "$data/uf.jsonl" ]; then
  # As Hugging Face datasets writes it (Dataset.to_parquet): 5 row groups of ~94 MB.
  HF_DATASETS_OFFLINE=1 "$py" -c "
import datasets, sys
datasets.disable_progress_bars()
ds = datasets.load_dataset('json', data_files=sys.argv[1], split='train', cache_dir=sys.argv[3])
ds.to_parquet(sys.argv[2])" "$data/uf.jsonl" "$data/uf.hf.parquet" "$data/.hf-cache"
fi
F=$data/flat
if [ ! -f "$F.parquet" ] || [ "$F.parquet" -ot "$data/uf.parquet" ]; then
  "$py" bench/gen_flat.py "$data/uf.parquet" "$F.parquet" "$F.jsonl"
  "$py" bench/gen_flat.py "$data/uf.parquet" "$F.shuffled.parquet" "$F.shuffled.jsonl" --shuffle
fi
cargo build --release --quiet
raug=target/release/raug

results=$(mktemp)
# measure NAME CMD...: runs CMD $runs times, appends "NAME wall_s rss_kb" per run.
measure() {
  local name=$1; shift
  for _ in $(seq "$runs"); do
    rm -rf "$out"/*
    # The write-back of runs before (any tool's) finished first, so that it doesn't slow this
    # one: JSON Lines runs back to back moved 0.4-1.2 s with it.
    sync
    /usr/bin/time -f "$name %e %M" -a -o "$results" "$@" > /dev/null 2>&1 \
      || { echo "$name failed: $*" >&2; exit 1; }
  done
}
J=$data/uf.jsonl P=$data/uf.parquet
measure "cat-jsonl" sh -c "cat $J $J > $out/cat.jsonl"
measure "raug-jsonl" $raug relabel "$J" -o "$out/r.jsonl" --order blocks -q
measure "raug-jsonl-interleaved" $raug relabel "$J" -o "$out/r.jsonl" -q
measure "polars-jsonl" "$py" bench/peers.py polars "$J" "$out/p.jsonl"
measure "duckdb-jsonl" "$py" bench/peers.py duckdb "$J" "$out/d.jsonl"
measure "raug-parquet" $raug relabel "$P" -o "$out/r.parquet" --order blocks -q
measure "raug-parquet-interleaved" $raug relabel "$P" -o "$out/r.parquet" -q
measure "polars-parquet" "$py" bench/peers.py polars "$P" "$out/p.parquet"
measure "duckdb-parquet" "$py" bench/peers.py duckdb "$P" "$out/d.parquet"
H=$data/uf.hf.parquet
measure "raug-hfparquet" $raug relabel "$H" -o "$out/r.parquet" --order blocks -q
measure "raug-hfparquet-interleaved" $raug relabel "$H" -o "$out/r.parquet" -q
measure "polars-hfparquet" "$py" bench/peers.py polars "$H" "$out/p.parquet"
# The same rows with string responses (the assistant's text; TRL's standard layout, the goal in
# the prompt), row group for row group as datasets wrote them.
S=$data/uf.str.parquet
if [ ! -f "$S" ] || [ "$S" -ot "$H" ]; then
  "$py" -c "
import pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq, sys
source, writer = pq.ParquetFile(sys.argv[1]), None
for i in range(source.num_row_groups):
    t = source.read_row_group(i)
    text = lambda side: pc.struct_field(pc.list_element(t[side], 1), 'content')
    s = pa.table({'prompt': t['prompt'], 'chosen': text('chosen'), 'rejected': text('rejected'),
                  'score_chosen': t['score_chosen'], 'score_rejected': t['score_rejected'],
                  'prompt_id': t['prompt_id']})
    writer = writer or pq.ParquetWriter(sys.argv[2], s.schema, compression='snappy')
    writer.write_table(s, row_group_size=len(s))
writer.close()" "$H" "$S"
fi
measure "raug-strparquet" $raug relabel "$S" -o "$out/r.parquet" --order blocks -q
measure "raug-strparquet-interleaved" $raug relabel "$S" -o "$out/r.parquet" -q
measure "polars-strparquet" "$py" bench/peers.py polars-strings "$S" "$out/p.parquet"
# pandas categoricals: prompt and prompt_id as pandas writes them (Arrow dictionaries, one row
# group), against the same rows as plain strings in one row group.
if [ ! -f "$data/uf.cat.parquet" ] || [ "$data/uf.cat.parquet" -ot "$P" ]; then
  "$py" -c "
import pandas as pd, sys
frame = pd.read_parquet(sys.argv[1])
frame.to_parquet(sys.argv[3], index=False)
for column in ('prompt', 'prompt_id'):
    frame[column] = frame[column].astype('category')
frame.to_parquet(sys.argv[2], index=False)" "$P" "$data/uf.cat.parquet" "$data/uf.one.parquet"
fi
measure "raug-catparquet-interleaved" $raug relabel "$data/uf.cat.parquet" -o "$out/r.parquet" -q
measure "raug-oneparquet-interleaved" $raug relabel "$data/uf.one.parquet" -o "$out/r.parquet" -q
# One row group of every row, as pandas and polars write files of up to a million rows.
measure "raug-oneparquet" $raug relabel "$data/uf.one.parquet" -o "$out/r.parquet" --order blocks -q
measure "polars-oneparquet" "$py" bench/peers.py polars "$data/uf.one.parquet" "$out/p.parquet"
# Replacing an existing output (synced before the rename) against writing a new one.
measure "raug-jsonl-replace" sh -c "cp $data/uf.jsonl $out/r.jsonl && sync $out/r.jsonl && exec $raug relabel $J -o $out/r.jsonl --order blocks -q"
measure "raug-jsonl-replace-interleaved" sh -c "cp $data/uf.jsonl $out/r.jsonl && sync $out/r.jsonl && exec $raug relabel $J -o $out/r.jsonl -q"
measure "cp-sync" sh -c "cp $data/uf.jsonl $out/r.jsonl && sync $out/r.jsonl"
# What the disk itself takes to hold the output's bytes: cat's floor, then synced.
measure "cat-sync" sh -c "cat $J $J > $out/cat.jsonl && sync $out/cat.jsonl"
# The other commands, each against polars doing the same job on the same input.
for f in jsonl parquet; do
  src=$data/uf.$f
  measure "raug-condition-$f" $raug condition "$src" --prompt prompt -o "$out/c.$f" -q
  measure "polars-condition-$f" "$py" bench/peers.py polars-condition "$src" "$out/c.$f"
  measure "raug-inspect-$f" sh -c "exec $raug inspect $src > $out/i.txt"
  measure "polars-inspect-$f" "$py" bench/peers.py polars-inspect "$src" "$out/i.txt"
  pairs="--group-by prompt_id --prompt prompt --text response --score score -q"
  measure "raug-pairs-$f" $raug pairs "$F.$f" $pairs -o "$out/p.$f"
  measure "raug-pairs-shuffled-$f" $raug pairs "$F.shuffled.$f" $pairs -o "$out/p.$f"
  measure "polars-pairs-$f" "$py" bench/peers.py polars-pairs "$F.$f" "$out/p.$f"
  measure "polars-pairs-shuffled-$f" "$py" bench/peers.py polars-pairs "$F.shuffled.$f" "$out/p.$f"
done
if [ $with_datasets = 1 ]; then
  measure "datasets-jsonl" "$py" bench/peers.py datasets "$J" "$out/h.jsonl"
  measure "datasets-parquet" "$py" bench/peers.py datasets "$P" "$out/h.parquet"
fi
if [ $flat = 1 ]; then
  if [ ! -f "$data/uf4.jsonl" ]; then
    for _ in 1 2 3 4; do cat "$J"; done > "$data/uf4.jsonl"
    "$py" -c "import pyarrow.parquet as pq, pyarrow as pa; t=pq.read_table('$P'); pq.write_table(pa.concat_tables([t]*4), '$data/uf4.parquet', row_group_size=1000)"
  fi
  measure "raug-jsonl-4x" $raug relabel "$data/uf4.jsonl" -o "$out/r.jsonl" --order blocks -q
  measure "raug-parquet-4x" $raug relabel "$data/uf4.parquet" -o "$out/r.parquet" --order blocks -q
fi
rm -rf "$out"
"$py" - "$results" "$runs" "$rows" "$data" <<'PY'
import os, statistics, sys
path, runs, rows, data = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
t = {}
for line in open(path):
    parts = line.split()
    if len(parts) == 3 and not parts[0].startswith("Command"):
        t.setdefault(parts[0], []).append((float(parts[1]), int(parts[2])))
med = {k: (statistics.median(w for w, _ in v), statistics.median(m for _, m in v) / 1024) for k, v in t.items()}
print(f"{rows} rows, {runs} runs each, medians.\n")
print("| tool | JSONL -> JSONL | Parquet -> Parquet | peak RSS (JSONL / Parquet) |")
print("|---|---|---|---|")
for tool in ["raug", "polars", "duckdb", "datasets", "cat"]:
    j, p = med.get(f"{tool}-jsonl"), med.get(f"{tool}-parquet")
    if not j and not p:
        continue
    cell = lambda x: f"{x[0]:.2f} s" if x else ""
    mem = " / ".join(f"{x[1]:.0f} MiB" for x in (j, p) if x)
    print(f"| {tool} | {cell(j)} | {cell(p)} | {mem} |")
r = med
def ratio(a, b):
    return r[a][0] / r[b][0] if a in r and b in r else float("nan")
print()
print(f"- raug / polars, JSONL: {ratio('raug-jsonl', 'polars-jsonl'):.2f} (goal <= 0.33)")
print(f"- raug / cat floor, JSONL: {ratio('raug-jsonl', 'cat-jsonl'):.2f} (goal <= 3)")
print(f"- raug / polars, Parquet: {ratio('raug-parquet', 'polars-parquet'):.2f} (goal <= 0.5)")
print(f"- raug / duckdb: JSONL {ratio('raug-jsonl', 'duckdb-jsonl'):.2f}, Parquet {ratio('raug-parquet', 'duckdb-parquet'):.2f}")
for f in ["jsonl", "parquet"]:
    if f"raug-{f}-interleaved" in r:
        w, m = r[f"raug-{f}-interleaved"]
        print(f"- raug interleaved order (the default), {f}: {w:.2f} s, {m:.0f} MiB")
if "raug-hfparquet" in r:
    for name in ["raug-hfparquet", "raug-hfparquet-interleaved"]:
        w, m = r[name]
        print(f"- {name} (row groups as datasets writes them): {w:.2f} s, {m:.0f} MiB; / polars {ratio(name, 'polars-hfparquet'):.2f} (goal <= 0.25, <= 256 MiB)")
if "raug-strparquet" in r:
    for name in ["raug-strparquet", "raug-strparquet-interleaved"]:
        w, m = r[name]
        print(f"- {name} (string responses, the same row groups): {w:.2f} s, {m:.0f} MiB; / polars {ratio(name, 'polars-strparquet'):.2f}")
if "raug-catparquet-interleaved" in r and "raug-oneparquet-interleaved" in r:
    (w, m), (w1, m1) = r["raug-catparquet-interleaved"], r["raug-oneparquet-interleaved"]
    print(f"- pandas categoricals (prompt, prompt_id) in one row group, interleaved: {w:.2f} s, {m:.0f} MiB; as plain strings {w1:.2f} s, {m1:.0f} MiB ({w / w1:.2f}x)")
if "raug-oneparquet" in r:
    for name in ["raug-oneparquet", "raug-oneparquet-interleaved"]:
        w, m = r[name]
        print(f"- {name} (one row group of every row): {w:.2f} s, {m:.0f} MiB; / polars {ratio(name, 'polars-oneparquet'):.2f}")
if "raug-jsonl-replace" in r and "cp-sync" in r:
    w = r["raug-jsonl-replace"][0] - r["cp-sync"][0]
    print(f"- replacing an existing JSONL output: {w:.2f} s against {r['raug-jsonl'][0]:.2f} s for a new one ({w / r['raug-jsonl'][0]:.2f}x; goal <= 1.3x)")
    if "raug-jsonl-replace-interleaved" in r and "raug-jsonl-interleaved" in r:
        w = r["raug-jsonl-replace-interleaved"][0] - r["cp-sync"][0]
        new = r["raug-jsonl-interleaved"][0]
        print(f"- the same, interleaved order (the default): {w:.2f} s against {new:.2f} s ({w / new:.2f}x)")
    if "cat-sync" in r:
        print(f"- the disk: cat of the same bytes, synced, {r['cat-sync'][0]:.2f} s against {r['cat-jsonl'][0]:.2f} s unsynced ({r['cat-sync'][0] / r['cat-jsonl'][0]:.2f}x)")
if "raug-jsonl-interleaved" in r:
    print(f"- raug interleaved order (the default), JSONL: / polars {ratio('raug-jsonl-interleaved', 'polars-jsonl'):.2f}, / cat {ratio('raug-jsonl-interleaved', 'cat-jsonl'):.2f} (goals <= 0.2, <= 1.25)")
print()
print("| command | input | raug | polars | raug / polars | raug / relabel (same bytes, blocks) | peak RSS raug / polars |")
print("|---|---|---|---|---|---|---|")
for job in ["condition", "inspect", "pairs", "pairs-shuffled"]:
    for f in ["jsonl", "parquet"]:
        a, b = r.get(f"raug-{job}-{f}"), r.get(f"polars-{job}-{f}")
        if not a or not b:
            continue
        # relabel's time on as many bytes: pairs reads the flat file, about half of uf's bytes.
        base = r.get(f"raug-{f}")
        share = 1.0
        if job.startswith("pairs"):
            share = os.path.getsize(f"{data}/flat.{f}") / os.path.getsize(f"{data}/uf.{f}")
        rel = a[0] / (base[0] * share) if base else float("nan")
        print(f"| {job} | {f} | {a[0]:.2f} s | {b[0]:.2f} s | {a[0] / b[0]:.2f} | {rel:.2f} | {a[1]:.0f} / {b[1]:.0f} MiB |")
print()
for f in ["jsonl", "parquet"]:
    a, b = r.get(f"raug-{f}"), r.get(f"raug-{f}-4x")
    if a and b:
        print(f"- raug peak RSS, {f}: {a[1]:.0f} MiB at 1x, {b[1]:.0f} MiB at 4x the input ({(b[1]/a[1]-1)*100:+.0f}%; goal <= +25%)")
PY
rm -f "$results"
