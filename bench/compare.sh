#!/usr/bin/env bash
# bench/compare.sh: our coordinated checkpoint vs an h5py-mpi writer vs dd, side by side, in one run.
#
#   bench/compare.sh [--ranks 1,2,4] [--particles 250000,2000000,8000000] [--rounds 2] [--repeat 6] [--warmup 3]
#                    [--gap 0.5] [--keep 1] [--dir DIR]
#
# For every rank count and size it alternates, ROUNDS times: our benchmark (./mpi-run.sh bench: REPEAT
# checkpoints through the runtime's commit protocol, checksums, fsync and rename), bench/h5py_writer.py (the
# same arrays, h5py's mpio driver, collective, fsync, rename; REPEAT writes) and dd of the same byte count with
# conv=fsync (REPEAT times). Each write is timed from the barrier before the file is created to the committed
# rename (slowest rank); process start-up is not counted for anyone, and the first WARMUP writes of each run of
# ours and of h5py are dropped (JIT, library set-up, and on a VM the first use of guest memory for the page cache:
# every writer needs fresh pages for its first few files). Prints a table of medians and ratios, plus
# our restart (read + verify) time, the per-step agreement cost and the signal-to-committed-snapshot latency.
# Writes are GAP seconds apart in all three (the computation between checkpoints; superseded files are retired in
# the gap). Ours and h5py keep the same number of files (--keep, default 1: the newest; on this VM the page-cache
# footprint changes the timings, see FACTS). DIR (default: a new directory under /tmp) must be on the file system you
# care about; it is removed afterwards.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ranks_list="1,2,4"; sizes="250000,2000000,8000000"; rounds=2; repeat=6; warmup=3; gap=0.5; keep=1; dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --ranks) ranks_list="$2"; shift 2 ;;
    --particles) sizes="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --gap) gap="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option '$1' (see --help)" >&2; exit 64 ;;
  esac
done
for v in $rounds $repeat $keep ${ranks_list//,/ } ${sizes//,/ }; do
  [ "$warmup" -lt "$repeat" ] || { echo "error: --warmup must be less than --repeat" >&2; exit 64; }
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "error: '$v' is not a positive number" >&2; exit 64; }
done

"$here/scripts/ensure-deps.sh" test
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_mpi_yield_when_idle=1
base="${dir:-$(mktemp -d /tmp/coordinated-compare.XXXXXX)}"
mkdir -p "$base"
trap 'rm -rf "$base"/ours "$base"/h5py "$base"/dd; [ -z "$dir" ] && rm -rf "$base"' EXIT
results="$base/results.jsonl"; : > "$results"

echo "compare: $(nproc) cores, $(uname -r), file system of $base: $(df -T "$base" | awk 'NR==2 {print $2}')" >&2
for r in ${ranks_list//,/ }; do
  for n in ${sizes//,/ }; do
    bytes=$((n * 48)); mb=$(( (bytes + 524288) / 1048576 ))
    for round in $(seq 1 "$rounds"); do
      echo "compare: ranks $r, $n particles ($mb MiB), round $round/$rounds" >&2
      rm -rf "$base/ours"; mkdir -p "$base/ours"
      "$here/mpi-run.sh" -n "$r" bench --particles "$n" --repeat "$repeat" --checkpoint-dir "$base/ours" --keep "$keep" --gap "$gap" --json \
        | grep '^{' | sed "s/^{/{\"writer\":\"ours\",/" >> "$results"
      rm -rf "$base/h5py"; mkdir -p "$base/h5py"
      mpirun --quiet -n "$r" --oversubscribe --bind-to none /usr/bin/python3 "$here/bench/h5py_writer.py" "$n" "$repeat" "$base/h5py" "$gap" "$keep" \
        | grep '^{' >> "$results"
      rm -rf "$base/dd"; mkdir -p "$base/dd"
      for k in $(seq 1 "$repeat"); do
        [ "$k" -gt 1 ] && sleep "$gap"
        t0=$(date +%s.%N)
        dd if=/dev/zero of="$base/dd/dd.tmp" bs=1M count="$mb" conv=fsync status=none
        mv "$base/dd/dd.tmp" "$base/dd/dd.bin"; sync "$base/dd"
        t1=$(date +%s.%N)
        echo "{\"writer\":\"dd\",\"particles\":$n,\"ranks\":$r,\"seconds\":[$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')]}" >> "$results"
        rm -f "$base/dd/dd.bin"
      done
    done
  done
done

/usr/bin/python3 - "$results" "$warmup" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
w = int(sys.argv[2])
def key(r): return (r["ranks"], r["particles"])
groups = {}
for r in rows:
    g = groups.setdefault(key(r), {"ours": [], "h5py": [], "dd": [], "restart": [], "agree": [], "signal": []})
    if r["writer"] == "ours":
        g["ours"] += r["checkpoint_s"][w:] or r["checkpoint_s"]; g["restart"].append(r["restart_s"]); g["agree"].append(r["agree_us"]); g["signal"].append(r["signal_to_commit_s"])
    elif r["writer"] == "h5py":
        g["h5py"] += r["seconds"][w:] or r["seconds"]
    else:
        g["dd"] += r["seconds"]
med = statistics.median
print("| ranks | particles | MB | ours s | h5py-mpi s | dd s | h5py/ours | ours/dd | ours MB/s | restart s (MB/s) | agreement us/step | signal-to-commit s |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for (ranks, n), g in sorted(groups.items()):
    mb = n * 48 / 1e6
    o, h, d = med(g["ours"]), med(g["h5py"]), med(g["dd"])
    rs = med(g["restart"])
    print(f"| {ranks} | {n} | {mb:.0f} | {o:.3f} | {h:.3f} | {d:.3f} | {h/o:.2f}x | {o/d:.2f}x | {mb/o:.0f} | {rs:.3f} ({mb/rs:.0f}) | {med(g['agree']):.1f} | {med(g['signal']):.3f} |")
print(f"(medians of {len(g['ours'])} writes each; h5py/ours > 1 means we are faster; ours/dd is how close we are to dd)")
PY
