#!/usr/bin/env bash
# bench/ablation.sh: what each I/O choice is worth. Runs the checkpoint benchmark with the defaults and with each
# choice switched through COORDINATED_IO (see Runtime/Checkpointing/IoTuning.cs), alternating, ROUNDS times.
#
#   bench/ablation.sh [--ranks 4] [--particles 2000000] [--rounds 3] [--repeat 6] [--dir DIR]
#
# Prints the median checkpoint and restart seconds of each variant and the change against the defaults. As in
# bench/compare.sh the first 3 checkpoints of each run are warm-up and dropped; checkpoints are 0.5 s apart.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ranks=4; n=2000000; rounds=3; repeat=6; dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --ranks) ranks="$2"; shift 2 ;;
    --particles) n="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option '$1' (see --help)" >&2; exit 64 ;;
  esac
done
for v in $ranks $n $rounds $repeat; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "error: '$v' is not a positive number" >&2; exit 64; }
done
base="${dir:-$(mktemp -d /tmp/coordinated-ablation.XXXXXX)}"
mkdir -p "$base"
trap 'rm -rf "$base"/ckpt; [ -z "$dir" ] && rm -rf "$base"' EXIT
results="$base/ablation.jsonl"; : > "$results"
variants=("" "collective" "no-writeback" "crc-streams=1" "sync-delete" "no-recycle" "align=0" "collective,no-writeback,crc-streams=1,sync-delete,no-recycle,align=0")
for round in $(seq 1 "$rounds"); do
  for v in "${variants[@]}"; do
    echo "ablation: round $round/$rounds, COORDINATED_IO='${v}'" >&2
    rm -rf "$base/ckpt"
    COORDINATED_IO="$v" "$here/mpi-run.sh" -n "$ranks" bench --particles "$n" --repeat "$repeat" --agreement-steps 0 \
      --checkpoint-dir "$base/ckpt" --keep 1 --json | grep '^{' | sed "s/^{/{\"variant\":\"${v:-defaults}\",/" >> "$results"
  done
done
/usr/bin/python3 - "$results" "$ranks" "$n" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    g = by.setdefault(r["variant"], {"ckpt": [], "restart": []})
    g["ckpt"] += r["checkpoint_s"][3:] or r["checkpoint_s"]  # warm-up: JIT, first use of page-cache memory
    g["restart"].append(r["restart_s"])
med = statistics.median
d = med(by["defaults"]["ckpt"]); dr = med(by["defaults"]["restart"])
print(f"{sys.argv[2]} ranks, {sys.argv[3]} particles ({int(sys.argv[3]) * 48 / 1e6:.0f} MB)")
print("| COORDINATED_IO | checkpoint s | vs defaults | restart s | vs defaults |")
print("|---|---:|---:|---:|---:|")
for v, g in by.items():
    c, r = med(g["ckpt"]), med(g["restart"])
    print(f"| {v} | {c:.3f} | {c / d:.2f}x | {r:.3f} | {r / dr:.2f}x |")
print(f"(medians over {len(by['defaults']['ckpt'])} checkpoints and {len(by['defaults']['restart'])} restarts per variant; > 1.00x: the variant is slower than the defaults)")
PY
