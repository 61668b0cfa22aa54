#!/usr/bin/env bash
# A change against the commit before it (or any REV), in one run: both release binaries on the
# benchmark's data, alternating, N runs each (default 5); medians of wall time and peak RSS, the
# ratio new / base, and whether the outputs are byte for byte the same.
#
#   bash bench/ab.sh [REV] [--runs N]        # REV defaults to HEAD~1; the data as bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rev=HEAD~1 runs=5
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) rev=$1 ;;
  esac
  shift
done
root=$PWD bins=$PWD/target/ab out=$PWD/target/ab/out
mkdir -p "$bins" "$out"
if [ ! -f bench/data/uf.parquet ]; then
  echo "no bench/data: run bash bench/run.sh once first (it makes the data)" >&2
  exit 2
fi
# The base, built from a worktree into the shared target/ (its binary copied out at once).
tree=$(mktemp -d)
git worktree add --quiet --detach "$tree" "$rev"
trap 'git worktree remove --force "$tree"' EXIT
(cd "$tree" && CARGO_TARGET_DIR="$root/target" cargo build --release --quiet)
cp target/release/raug "$bins/raug-base"
cargo build --release --quiet
cp target/release/raug "$bins/raug-new"

J=bench/data/uf.jsonl P=bench/data/uf.parquet results=$bins/results
: > "$results"
run() { # NAME BIN ARGS...
  local name=$1 bin=$2; shift 2
  rm -f "$out"/o.*
  /usr/bin/time -f "$name %e %M" -a -o "$results" "$bin" relabel "$@" -q > /dev/null 2>&1 \
    || { echo "$name failed: $*" >&2; exit 1; }
}
for _ in $(seq "$runs"); do
  for v in base new; do
    b=$bins/raug-$v
    run "$v-jsonl-blocks" "$b" "$J" -o "$out/o.jsonl" --order blocks
    run "$v-jsonl-interleaved" "$b" "$J" -o "$out/o.jsonl"
    run "$v-parquet-blocks" "$b" "$P" -o "$out/o.parquet" --order blocks
    run "$v-parquet-interleaved" "$b" "$P" -o "$out/o.parquet"
  done
done
echo "$rev ($(git rev-parse --short "$rev")) against the working tree, $runs runs each, medians:"
python3 - "$results" <<'PY'
import statistics, sys
t = {}
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) == 3:
        t.setdefault(p[0], []).append((float(p[1]), int(p[2])))
print("| job | base | new | new / base |")
print("|---|---|---|---|")
for job in ["jsonl-blocks", "jsonl-interleaved", "parquet-blocks", "parquet-interleaved"]:
    b, n = t[f"base-{job}"], t[f"new-{job}"]
    wb, wn = statistics.median(w for w, _ in b), statistics.median(w for w, _ in n)
    mb, mn = statistics.median(m for _, m in b) / 1024, statistics.median(m for _, m in n) / 1024
    print(f"| {job} | {wb:.2f} s, {mb:.0f} MiB | {wn:.2f} s, {mn:.0f} MiB | {wn / wb:.2f} |")
PY
for args in "--order blocks" "" "--style prefix --keep-original" "--goals rejected --ties drop"; do
  for input in "$J" "$P"; do
    ext=${input##*.}
    # shellcheck disable=SC2086
    "$bins/raug-base" relabel "$input" -o "$out/b.$ext" $args -q
    # shellcheck disable=SC2086
    "$bins/raug-new" relabel "$input" -o "$out/n.$ext" $args -q
    if cmp -s "$out/b.$ext" "$out/n.$ext"; then same=same; else same=DIFFERENT; fi
    echo "- $ext [${args:-defaults}]: outputs $same"
  done
done
rm -rf "$out"
