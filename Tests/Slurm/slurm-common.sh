# Sourced by Tests/Slurm/slurm-up.sh (one node) and Tests/Cluster/cluster.sh (namespace nodes): what every private
# test Slurm shares. The caller defines fail() (message, exit 69).

# A TCP port nobody listens on, other than the ones in $taken (space-separated) and Slurm's 6817/6818.
free_port() {
  local used p
  used="$(ss -Htan 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }')"
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 30000 ))
    if ! grep -qx "$p" <<<"$used" && ! grep -qw "$p" <<<"${taken:-}"; then echo "$p"; return; fi
  done
  fail "no free TCP port found"
}

# A munged of its own under DIR (key, socket, pid, log, seed), so a system munged is left alone. Prints the socket.
start_munged() {
  local dir="$1" key="$1/munge/munge.key"
  if [ ! -f "$key" ]; then
    dd if=/dev/urandom of="$key" bs=1 count=1024 status=none
    chmod 0400 "$key"
  fi
  munged --force --socket="$dir/munge/munge.socket" --key-file="$key" --pid-file="$dir/run/munged.pid" \
    --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" >&2 \
    || fail "munged did not start (log: $dir/log/munged.log)"
  echo "$dir/munge/munge.socket"
}

# slurm.conf lines both clusters share: root daemons, munge through SOCKET, no cgroups or accounting, fast
# scheduling (every second), requeue and partition-priority preemption.
common_conf() {
  cat <<CONF
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$1
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
# A cancelled job (scancel, time limit) has this long between SIGTERM and SIGKILL to checkpoint (Slurm's default
# is 30; the one-node cluster uses that, the namespace cluster 5 to keep node-loss tests short).
KillWait=${COORDINATED_KILL_WAIT:-30}
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1,sched_min_interval=100000
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
PreemptExemptTime=0
SlurmctldDebug=info
SlurmdDebug=info
CONF
}
