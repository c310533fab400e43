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

# A port nobody listens on (and that differs from Slurm's 6817/6818).
used_ports() { ss -Htan 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }'; }
free_port() {
  local used p
  used="$(used_ports)"
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 30000 ))
    if ! grep -qx "$p" <<<"$used" && ! grep -qx "$p" <<<"${taken:-}"; then echo "$p"; return; fi
  done
  fail "no free TCP port found"
}
ctld_port="$(free_port)"
taken="$ctld_port"
slurmd_port="$(free_port)"

# munge: its own key, socket, pid, log and seed, so a system munged (if any) is left alone.
key="$dir/munge/munge.key"
if [ ! -f "$key" ]; then
  dd if=/dev/urandom of="$key" bs=1 count=1024 status=none
  chmod 0400 "$key"
fi
socket="$dir/munge/munge.socket"
munged --force --socket="$socket" --key-file="$key" --pid-file="$dir/run/munged.pid" \
  --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" \
  || fail "munged did not start (log: $dir/log/munged.log)"

conf="$dir/slurm.conf"
cat >"$conf" <<EOF
# Private test cluster written by Tests/Slurm/slurm-up.sh
ClusterName=coordinated
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
JobRequeue=1
# Finished jobs stay visible to scontrol/squeue for 10 minutes (there is no accounting database).
MinJobAge=600
MessageTimeout=5
# Slurm's default: a cancelled job (scancel, time limit) has this long between SIGTERM and SIGKILL to checkpoint.
KillWait=30
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1,sched_min_interval=100000
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
PreemptExemptTime=0
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
