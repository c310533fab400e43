#!/usr/bin/env bash
# bench/async.sh: what --checkpoint-async hides. Runs NBody with no checkpoints, with synchronous periodic
# checkpoints and with --checkpoint-async (alternating, ROUNDS times) and compares the step rates.
#
#   bench/async.sh [--ranks 4] [--particles 16384] [--every 4] [--rounds 3]
#
# Each run takes 12 x EVERY steps with a progress line every 2 x EVERY steps (each line's steps/s covers the
# checkpoints in its stretch); the first line (start-up, JIT) is dropped. Overhead = rate without checkpoints /
# rate with them - 1. Also prints the median checkpoint time (sync) and the staging copy time (async) from
# metrics.jsonl.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ranks=4; n=16384; every=4; rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --ranks) ranks="$2"; shift 2 ;;
    --particles) n="$2"; shift 2 ;;
    --every) every="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option '$1' (see --help)" >&2; exit 64 ;;
  esac
done
for v in $ranks $n $every $rounds; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "error: '$v' is not a positive number" >&2; exit 64; }
done
work="$(mktemp -d /tmp/coordinated-async.XXXXXX)"
trap 'rm -rf "$work"' EXIT
steps=$((12 * every)); report=$((2 * every))
for round in $(seq 1 "$rounds"); do
  for mode in none sync async; do
    echo "async: round $round/$rounds, $mode" >&2
    flags=(); [ "$mode" != none ] && flags=(--checkpoint-every-steps "$every"); [ "$mode" = async ] && flags+=(--checkpoint-async)
    rm -rf "$work/ckpt"
    "$here/mpi-run.sh" -n "$ranks" nbody --particles "$n" --steps "$steps" --report-every "$report" --fresh --keep 1 \
      --checkpoint-dir "$work/ckpt" "${flags[@]}" > "$work/$mode-$round.log"
    cp "$work/ckpt/metrics.jsonl" "$work/$mode-$round.jsonl" 2>/dev/null || true
  done
done
/usr/bin/python3 - "$work" "$rounds" "$ranks" "$n" "$every" <<'PY'
import glob, json, re, statistics, sys
work, rounds, ranks, n, every = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
med = statistics.median
rate, cost = {}, {}
for mode in ("none", "sync", "async"):
    rates, costs = [], []
    for r in range(1, rounds + 1):
        rates += [float(x) for x in re.findall(r"([\d.]+) steps/s", open(f"{work}/{mode}-{r}.log").read())][1:]
        for f in glob.glob(f"{work}/{mode}-{r}.jsonl"):
            for line in open(f):
                e = json.loads(line)
                if e.get("event") == "checkpoint" and e.get("trigger") == "every-steps":
                    costs.append(e["stage_s"] if mode == "async" else e["total_s"])
    rate[mode], cost[mode] = med(rates), (med(costs) if costs else None)
print(f"{ranks} ranks, N = {n} ({n * 48 / 1e6:.1f} MB of pos + vel), a checkpoint every {every} steps")
print("| mode | steps/s | overhead vs none | app blocked per checkpoint (s) |")
print("|---|---:|---:|---:|")
for mode in ("none", "sync", "async"):
    c = "" if cost[mode] is None else f"{cost[mode]:.4f}" + (" (staging copy)" if mode == "async" else " (whole checkpoint)")
    print(f"| {mode} | {rate[mode]:.2f} | {rate['none'] / rate[mode] - 1:+.1%} | {c} |")
PY
