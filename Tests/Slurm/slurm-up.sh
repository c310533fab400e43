#!/usr/bin/env bash
# Starts a private one-node Slurm (munged, slurmctld, slurmd from the Debian packages) for the tests:
#
#   Tests/Slurm/slurm-up.sh DIR      then    eval "$(Tests/Slurm/slurm-up.sh DIR)"   to use it from a shell
#   Tests/Slurm/slurm-down.sh DIR    stops it again (idempotent)
#
# Everything lives under DIR: slurm.conf, the munge key and socket, state, spool, logs, pid files. Ports are chosen
# free at start, so it does not clash with a system Slurm or another private one. Clients find it through
# SLURM_CONF; the last line on stdout is `export SLURM_CONF=DIR/slurm.conf`.
#
# Partitions: `low` (default, preemptable: PreemptMode=REQUEUE, GraceTime=$COORDINATED_GRACE_TIME or 20 s) and
# `high` (higher PriorityTier, preempts low). One node "localhost" that claims 8 CPUs (config_overrides).
# The scheduler runs every second, so a high job preempts a low one within about a second.
# Needs root (the daemons run as root, no cgroups). Exit 69 with a message when it cannot start.
set -euo pipefail

dir="${1:?usage: slurm-up.sh DIR}"
grace="${COORDINATED_GRACE_TIME:-20}"
fail() { echo "slurm-up.sh: error: $*" >&2; exit 69; }

[ "$(id -u)" -eq 0 ] || fail "the private Slurm runs its daemons as root; run the Slurm tests as root (CI does)."
for tool in munged slurmctld slurmd sinfo scontrol sbatch srun; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool not found; install the packages with: scripts/ensure-deps.sh test (apt-get install slurmctld slurmd slurm-client munge)"
done

mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
umask 077
mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log" "$dir/run"

# shellcheck source=Tests/Slurm/slurm-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/slurm-common.sh"
ctld_port="$(free_port)"
taken="$ctld_port"
slurmd_port="$(free_port)"
socket="$(start_munged "$dir")"

conf="$dir/slurm.conf"
cat >"$conf" <<EOF
# Private test cluster written by Tests/Slurm/slurm-up.sh
ClusterName=coordinated
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
$(common_conf "$socket")
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
NodeName=localhost NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=8 RealMemory=8000 State=UNKNOWN
PartitionName=low  Nodes=localhost Default=YES PriorityTier=1  PreemptMode=REQUEUE GraceTime=$grace MaxTime=INFINITE State=UP
PartitionName=high Nodes=localhost Default=NO  PriorityTier=10 PreemptMode=OFF MaxTime=INFINITE State=UP
EOF
chmod 0644 "$conf"
export SLURM_CONF="$conf"

slurmctld -f "$conf" || fail "slurmctld did not start; see $dir/log/slurmctld.log"
slurmd -f "$conf" -N localhost || fail "slurmd did not start; see $dir/log/slurmd.log"

# Ready when the node is idle and the partitions answer.
for _ in $(seq 1 120); do
  state="$(sinfo -h -n localhost -p low -o %t 2>/dev/null || true)"
  if [ "$state" = idle ]; then
    echo "slurm-up.sh: private Slurm is up in $dir (slurmctld port $ctld_port, slurmd port $slurmd_port, low GraceTime=${grace}s)" >&2
    echo "export SLURM_CONF=$conf"
    exit 0
  fi
  sleep 0.5
done
echo "--- slurmctld.log ---" >&2; tail -n 20 "$dir/log/slurmctld.log" >&2 || true
echo "--- slurmd.log ---" >&2; tail -n 20 "$dir/log/slurmd.log" >&2 || true
fail "the node did not become idle within 60 s (sinfo says '${state:-nothing}'); logs above"
