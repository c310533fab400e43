#!/usr/bin/env bash
# The cost the application sees of a checkpoint at each level (docs/MULTILEVEL.md), side by side in one run, on a
# 4-node namespace cluster (Tests/Cluster/cluster.sh), 2 ranks per node:
#   global          every checkpoint to --checkpoint-dir (the shared directory: the parallel file system's stand-in)
#   local           --checkpoint-local-dir /local/%j --no-partner (node-local tmpfs, own copy only)
#   local+partner   --checkpoint-local-dir /local/%j (own copy + a copy on the partner node, sent over MPI)
#   global, async   --checkpoint-async --checkpoint-local-dir /local/%j --global-every 1 (local + partner at the
#                   step boundary, the global snapshot drained from the staged copy on the I/O thread)
# Each is a run of ./mpi-run.sh bench (bench/CheckpointBench: pos + vel of N particles, no O(N^2) compute; REPEAT
# checkpoints GAP seconds apart, each taken at a step boundary by --checkpoint-every-steps 1, as an app takes them, so
# that the runtime chooses the level) in its own sbatch job; the configurations alternate ROUNDS times so that load on
# the machine hits them alike. "App s" is the wall time the ranks spent inside Checkpoint (slowest rank); each
# checkpoint's level comes from metrics.jsonl (`level`); the first WARMUP checkpoints of each run are dropped.
# Prints a table of medians. Needs root (it starts its own cluster and stops it again).
#
#   bench/multilevel.sh [--particles 2000000] [--repeat 8] [--warmup 2] [--gap 1] [--rounds 3]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
particles=2000000; repeat=8; warmup=2; gap=1; rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --particles) particles="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --gap) gap="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/multilevel.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
  esac
done
for v in "$particles" "$repeat" "$rounds"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "bench/multilevel.sh: '$v' is not a positive number" >&2; exit 64; }
done
[[ "$warmup" =~ ^[0-9]+$ ]] && [ "$warmup" -lt "$repeat" ] || { echo "bench/multilevel.sh: --warmup must be a number below --repeat" >&2; exit 64; }
[ "$(id -u)" -eq 0 ] || { echo "bench/multilevel.sh: needs root (it starts a namespace cluster)" >&2; exit 69; }

export COORDINATED_CLUSTER_DIR=/var/tmp/coordinated-bench-multilevel COORDINATED_CLUSTER_NAME=crdg \
  COORDINATED_CLUSTER_SUBNET=198.19.82 COORDINATED_NODE_CPUS=8
cluster="$here/Tests/Cluster/cluster.sh"
trap '"$cluster" down >/dev/null 2>&1 || true' EXIT
dotnet build "$here/bench/CheckpointBench/CheckpointBench.csproj" -c Release -nologo -v q >/dev/null
eval "$("$cluster" up 4)"
work="$COORDINATED_SHARED/multilevel"
rm -rf "$work"; mkdir -p "$work"

configs=(global local local+partner async)
flags() {
  case "$1" in
    global) echo "" ;;
    local) echo "--checkpoint-local-dir /local/%j --no-partner --global-every 1000" ;;
    local+partner) echo "--checkpoint-local-dir /local/%j --global-every 1000" ;;
    async) echo "--checkpoint-async --checkpoint-local-dir /local/%j --global-every 1" ;;
  esac
}

echo "multilevel: $particles particles ($((particles * 48 / 1000000)) MB), 4 nodes x 2 ranks, $rounds rounds x ${configs[*]}, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq 1 "$rounds"); do
  for config in "${configs[@]}"; do
    tag="${config/+/-}-$round"
    echo "multilevel: round $round/$rounds: $config" >&2
    # shellcheck disable=SC2046
    sbatch --parsable --wait --nodes=4 --ntasks-per-node=2 --output="$work/$tag.out" --wrap \
      "exec $here/mpi-run.sh bench --particles $particles --repeat $repeat --gap $gap --agreement-steps 0 --keep 1 --at-step-boundary --checkpoint-every-steps 1 --checkpoint-dir $work/ckpt-$tag --json --quiet $(flags "$config")" \
      >/dev/null || { cat "$work/$tag.out" >&2; echo "bench/multilevel.sh: the $config job failed (output above)" >&2; exit 1; }
    cp "$work/ckpt-$tag/metrics.jsonl" "$work/$tag.jsonl"
    rm -rf "$work/ckpt-$tag"
  done
done
echo "multilevel: done, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

/usr/bin/python3 - "$work" "$rounds" "$warmup" "$particles" <<'PY'
import json, statistics, sys
work, rounds, warmup, particles = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
mb = particles * 48 / 1e6
want = {"global": {"global"}, "local": {"local"}, "local+partner": {"local+partner"}, "async": None}
label = {"global": "global", "local": "local", "local+partner": "local + partner", "async": "global, drained in the background (async)"}
flags = {"global": "", "local": "--checkpoint-local-dir /local/%j --no-partner", "local+partner": "--checkpoint-local-dir /local/%j",
         "async": "--checkpoint-async --checkpoint-local-dir /local/%j --global-every 1"}
app, levels, drain = {}, {}, {}
for config in want:
    for r in range(1, rounds + 1):
        tag = f"{config.replace('+', '-')}-{r}"
        bench = next(json.loads(l) for l in open(f"{work}/{tag}.out") if l.startswith('{"particles"'))
        events = [json.loads(l) for l in open(f"{work}/{tag}.jsonl") if l.strip()]
        by_step = {}
        for e in events:
            if e.get("event") == "checkpoint" and 1 <= e["step"] <= len(bench["app_s"]):
                by_step.setdefault(e["step"], []).append(e)
        for step in range(warmup + 1, len(bench["app_s"]) + 1):
            seen = {e.get("level", "global") for e in by_step.get(step, [])}
            levels.setdefault(config, set()).update(seen)
            if want[config] is None or seen & want[config]:
                app.setdefault(config, []).append(bench["app_s"][step - 1])
            if config == "async":
                drain.setdefault(config, []).extend(e["total_s"] for e in by_step.get(step, []) if e.get("level", "global") == "global")
med = statistics.median
g = med(app["global"]) if app.get("global") else float("nan")
print("| level | flags (besides --checkpoint-dir) | app s (median) | global / this | app MB/s | checkpoints | levels seen |")
print("|---|---|---:|---:|---:|---:|---|")
for config in want:
    values = app.get(config, [])
    if not values:
        print(f"| {label[config]} | `{flags[config]}` | - | - | - | 0 | {', '.join(sorted(levels.get(config, []))) or 'none'} |")
        continue
    m = med(values)
    print(f"| {label[config]} | `{flags[config]}` | {m:.3f} | {g / m:.1f}x | {mb / m:.0f} | {len(values)} | {', '.join(sorted(levels.get(config, [])))} |")
if drain.get("async"):
    print(f"\nasync: the global snapshot drained in the background took {med(drain['async']):.3f} s (median total_s of its metrics events) while the ranks went on.")
if app.get("local") and app.get("local+partner") and app.get("global"):
    l, p = med(app["local"]), med(app["local+partner"])
    print(f"targets: local {g / l:.1f}x cheaper than global (goal >= 4x: {'met' if g / l >= 4 else 'NOT met'}); "
          f"local + partner {g / p:.1f}x (goal >= 2x: {'met' if g / p >= 2 else 'NOT met'})")
PY
