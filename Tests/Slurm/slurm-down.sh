#!/usr/bin/env bash
# Stops the private Slurm that Tests/Slurm/slurm-up.sh DIR started: cancels its jobs, then ends slurmd, slurmctld
# and munged by their pid files under DIR. Safe to run twice, or on a half-started cluster. DIR is kept (logs).
set -uo pipefail

dir="${1:?usage: slurm-down.sh DIR}"
[ -d "$dir" ] || exit 0
dir="$(cd "$dir" && pwd)"
conf="$dir/slurm.conf"

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Jobs first, while the controller still answers, so no slurmstepd or rank outlives the cluster.
if [ -f "$conf" ] && alive "$dir/run/slurmctld.pid"; then
  export SLURM_CONF="$conf"
  scancel --full --quiet --signal=KILL --user=root 2>/dev/null || true
  for _ in $(seq 1 40); do
    [ -z "$(squeue -h -t RUNNING,COMPLETING,SUSPENDED -o %i 2>/dev/null)" ] && break
    sleep 0.25
  done
fi

stop() {
  local pidfile="$dir/run/$1.pid" pid
  [ -f "$pidfile" ] || return 0
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$pidfile"
}
stop slurmd
stop slurmctld
stop munged

# Step daemons of this cluster that survived (they carry the spool dir in their environment, not a pid file).
for proc in /proc/[0-9]*; do
  [ "$(cat "$proc/comm" 2>/dev/null)" = slurmstepd ] || continue
  if tr '\0' '\n' <"$proc/environ" 2>/dev/null | grep -qx "SLURM_CONF=$conf"; then
    kill -KILL "${proc#/proc/}" 2>/dev/null || true
  fi
done
exit 0
