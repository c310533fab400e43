#!/usr/bin/env bash
# The checkpoint benchmark (bench/CheckpointBench) on one node against several nodes of the namespace cluster
# (Tests/Cluster/cluster.sh): the same rank count with every rank on one node (shared memory) and spread over 4
# nodes (TCP over the cluster's bridge). Prints a table: trigger agreement per step, checkpoint, restart,
# signal-to-commit. Needs root (it starts its own 4-node cluster and stops it again).
#   bench/multinode.sh [PARTICLES] [REPEAT]      default 2000000 particles, 3 checkpoints each
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
particles="${1:-2000000}"; repeat="${2:-3}"

export COORDINATED_CLUSTER_DIR=/var/tmp/coordinated-bench-multinode COORDINATED_CLUSTER_NAME=crdb \
  COORDINATED_CLUSTER_SUBNET=198.19.79 COORDINATED_NODE_CPUS=8
cluster="$here/Tests/Cluster/cluster.sh"
trap '"$cluster" down >/dev/null 2>&1 || true' EXIT
dotnet build "$here/bench/CheckpointBench/CheckpointBench.csproj" -c Release -nologo -v q >/dev/null
eval "$("$cluster" up 4)"
work="$COORDINATED_SHARED/bench"
mkdir -p "$work"

printf '| nodes | ranks | between nodes | agreement us/step | checkpoint s (median) | MB/s | restart s | signal-to-commit s |\n'
printf '|---:|---:|---|---:|---:|---:|---:|---:|\n'
for layout in "1 4" "4 1" "1 8" "4 2"; do
  read -r nodes per_node <<<"$layout"
  out="$work/n$nodes-p$per_node.out"
  job=$(sbatch --parsable --wait --nodes="$nodes" --ntasks-per-node="$per_node" --output="$out" --wrap \
    "exec $here/mpi-run.sh bench --particles $particles --repeat $repeat --checkpoint-dir $work/ckpt-$nodes-$per_node --json --quiet") \
    || { cat "$out" >&2; echo "bench/multinode.sh: the benchmark job failed (output above)" >&2; exit 1; }
  /usr/bin/python3 - "$out" "$nodes" "$per_node" <<'PY'
import json, statistics, sys
out, nodes, per_node = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = next(json.loads(l) for l in open(out) if l.startswith('{"particles"'))
c = statistics.median(r["checkpoint_s"])
link = "TCP (bridge)" if nodes > 1 else "shared memory"
print(f"| {nodes} | {r['ranks']} | {link} | {r['agree_us']:.1f} | {c:.3f} | {r['bytes'] / c / 1e6:.0f} | {r['restart_s']:.3f} | {r['signal_to_commit_s']:.3f} |")
PY
  rm -rf "$work/ckpt-$nodes-$per_node"
done
