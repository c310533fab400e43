#!/usr/bin/env bash
# Cost of one NBody checkpoint relative to one step, for a few sizes: runs NBody on R ranks (default 4) with a
# checkpoint every few steps and prints a table from the progress lines (step rate) and metrics.jsonl (checkpoint).
#   bench/checkpoint-vs-step.sh [RANKS] [N ...]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ranks="${1:-4}"; shift || true
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(4096 16384 65536)
work="$(mktemp -d)"
printf '| N | ranks | step (s) | checkpoint (s) | checkpoint / step | snapshot MB |\n|---:|---:|---:|---:|---:|---:|\n'
for n in "${sizes[@]}"; do
  # about 10 s of stepping per size, 4 checkpoints
  steps=$(( 400000000000 / (n * n) )); [ "$steps" -ge 8 ] || steps=8
  every=$(( steps / 4 ))
  "$here/mpi-run.sh" -n "$ranks" nbody --particles "$n" --steps "$steps" --report-every "$every" \
      --checkpoint-every-steps "$every" --checkpoint-dir "$work/c$n" --fresh --quiet > "$work/n$n.log"
  /usr/bin/python3 - "$work/n$n.log" "$work/c$n/metrics.jsonl" "$n" "$ranks" <<'PY'
import json, re, statistics, sys
log, metrics, n, ranks = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rates = [float(m) for m in re.findall(r"([\d.]+) steps/s", open(log).read())]
step = 1 / statistics.median(rates[1:] or rates)
ck = [json.loads(l) for l in open(metrics) if '"checkpoint"' in l]
c = statistics.median(x["total_s"] for x in ck)
print(f"| {n} | {ranks} | {step:.4f} | {c:.3f} | {c/step:.1f} | {ck[0]['bytes']/1e6:.1f} |")
PY
done
rm -rf "$work"
