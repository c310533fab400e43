#!/usr/bin/env bash
# mpi-run.sh: the launch step, the one launcher for Coordinated apps.
#
#   ./mpi-run.sh [-n RANKS] APP [ARGS...]
#   ./mpi-run.sh -N NODES [-n RANKS] [--max-relaunches R] APP [ARGS...]     (in a Slurm allocation with spare nodes)
#
# APP is counter, nbody, md, bench (the checkpoint benchmark), kernel-bench (NBody's force kernel vs C), study (the
# checkpoint-interval study, docs/STUDY.md: it launches NBody under mpirun itself; -n R becomes its --ranks R), inspect
# (look into a checkpoint directory, docs/INSPECT.md; no MPI), or a path to an app's .dll. ARGS go to the app
# (see `./mpi-run.sh APP --help`). Outside Slurm it starts RANKS processes with mpirun (default 4); inside a
# Slurm allocation it uses `srun --mpi=pmix` (ranks from the allocation unless -n is given).
#
# -N NODES (inside an allocation only): run on NODES of the job's nodes and keep the others as spares. Ranks are
# placed block-wise (-n 8 on 4 nodes: ranks 0-1 on the first node, 2-3 on the second, ...); without -n, RANKS is
# NODES x SLURM_NTASKS_PER_NODE (1 per node if unset). When the step fails because a node died (Slurm marks it down,
# and with `sbatch --no-kill` the job keeps its other nodes), the step is relaunched at once in the same allocation,
# a spare in the dead node's place, and resumes from the newest checkpoint that survived (the runtime chooses the
# level: local, partner or global). At most R relaunches (--max-relaunches R, or COORDINATED_MAX_RELAUNCHES; default
# 3; 0 turns it off); after that, or with no spare left, the job is requeued. See docs/SLURM.md.
#
# Build first with ./build.sh (the build step, on a login node). Inside a Slurm job (SLURM_JOB_ID set) this script
# never builds or installs anything: if the app's build is missing or older than the sources, or a Debian package
# is missing, it says so and exits 69. Outside a job it builds a stale app itself (under a lock) and installs
# missing Debian packages first.
#
# Signals: TERM, INT, USR1 and USR2 sent to this script are forwarded to every rank as a signal the ranks
# survive (mpirun itself would kill them on TERM), so they take one coordinated checkpoint and stop with exit 75.
# The ranks report the signal that arrived here: it is written first to the file COORDINATED_SIGNAL_NOTE names.
# A signal that comes before the ranks run (while this script checks the build) stops the launch with exit 75,
# nothing to save; so does a step whose ranks, still starting, died of the forwarded signal (nothing new was
# committed). In a batch job both are requeued like any stop, and resume from the newest snapshot.
# Exit code: the app's (0 finished, 75 stopped after a checkpoint: rerun to resume, 64 bad arguments (also of
# this script: -n, -N, --max-relaunches),
# 65 unusable checkpoint data, 73 checkpoint directory unusable, 74 checkpoint failed, 76 requeue limit), or
# 69 (build missing or stale inside a job, Debian package missing), 1 (the build failed).
# Inside a Slurm batch job, after exit 75 the job is requeued (`scontrol requeue`) unless it was cancelled
# (`scancel`: "cancelled: not requeued"), COORDINATED_REQUEUE=0, or SLURM_RESTART_COUNT has reached
# COORDINATED_MAX_REQUEUES (default 5). Preemption, the time-limit warning and the wall-time stop are requeued.
set -uo pipefail

# Stop signals are caught from the first line: one that arrives while this script still checks the build and the
# packages (before any rank runs) must not kill it, or a preempted or warned job would end FAILED instead of being
# requeued. Until the ranks run it is only noted; then they get it (forward, below).
stop_signal=""   # SIGTERM, ... once a stop was asked for
child=""
# shellcheck disable=SC2317 # called by the traps
forward() {
  stop_signal="SIG$1"
  if [ -z "$child" ]; then
    echo "mpi-run.sh: got SIG$1 before the ranks were started" >&2
    return
  fi
  echo "mpi-run.sh: got SIG$1, asking all ranks to checkpoint and stop" >&2
  if [ -n "${COORDINATED_SIGNAL_NOTE:-}" ]; then
    printf 'SIG%s\n' "$1" >"$COORDINATED_SIGNAL_NOTE.new" && mv -f "$COORDINATED_SIGNAL_NOTE.new" "$COORDINATED_SIGNAL_NOTE"
  fi
  if [ "$1" = USR2 ]; then kill -s USR2 "$child" 2>/dev/null || true
  else kill -s USR1 "$child" 2>/dev/null || true; fi
}
trap 'forward TERM' TERM
trap 'forward INT' INT
trap 'forward USR1' USR1
trap 'forward USR2' USR2

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ranks=""
nodes=""
max_relaunches="${COORDINATED_MAX_RELAUNCHES:-3}"
relaunch_flag="COORDINATED_MAX_RELAUNCHES"
# shellcheck source=build.sh
source "$here/build.sh"
# shellcheck source=scripts/relaunch.sh
source "$here/scripts/relaunch.sh"

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

while [ $# -gt 0 ]; do
  case "$1" in
    -n|--ranks|-np) [ $# -ge 2 ] || { echo "error: $1 needs a number" >&2; exit 64; }
      [ -n "$2" ] || { echo "error: $1 needs a number" >&2; exit 64; }; ranks="$2"; shift 2 ;;
    -N|--nodes) [ $# -ge 2 ] || { echo "error: $1 needs a number of nodes" >&2; exit 64; }
      [ -n "$2" ] || { echo "error: $1 wants a positive number of nodes, not ''" >&2; exit 64; }; nodes="$2"; shift 2 ;;
    --max-relaunches) [ $# -ge 2 ] || { echo "error: $1 needs a number" >&2; exit 64; }
      max_relaunches="$2"; relaunch_flag="--max-relaunches"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { usage >&2; exit 64; }
if [ -n "$ranks" ] && ! [[ "$ranks" =~ ^[1-9][0-9]*$ ]]; then
  echo "error: -n wants a positive number of ranks, not '$ranks'" >&2; exit 64
fi
if [ -n "$nodes" ]; then
  [[ "$nodes" =~ ^[1-9][0-9]{0,5}$ ]] || { echo "error: -N wants a positive number of nodes, not '$nodes'" >&2; exit 64; }
  if [ -n "$ranks" ] && [ "$ranks" -lt "$nodes" ]; then
    echo "error: -N $nodes needs at least one rank per node, but -n is $ranks" >&2; exit 64
  fi
  if [ -z "${SLURM_JOB_ID:-}" ] && [ "$nodes" -gt 1 ]; then
    echo "error: -N $nodes needs a Slurm allocation (SLURM_JOB_ID is not set); outside Slurm every rank runs on this machine" >&2; exit 64
  fi
  if [ -n "${SLURM_JOB_NUM_NODES:-}" ] && [ "$nodes" -gt "$SLURM_JOB_NUM_NODES" ]; then
    echo "error: -N $nodes is more than the $SLURM_JOB_NUM_NODES node(s) of job $SLURM_JOB_ID" >&2; exit 64
  fi
fi
relaunch_number "$max_relaunches" || { echo "error: $relaunch_flag wants a number of relaunches (0 or more), not '$max_relaunches'" >&2; exit 64; }

app="$1"; shift
# The app's own --max-requeues also bounds the requeues this script asks for; its --checkpoint-dir holds the
# snapshot a cancelled job names.
prev=""
checkpoint_dir="checkpoints"
for a in "$@"; do
  case "$prev" in
    --max-requeues) COORDINATED_MAX_REQUEUES="$a" ;;
    --checkpoint-dir) checkpoint_dir="$a" ;;
  esac
  case "$a" in
    --max-requeues=*) COORDINATED_MAX_REQUEUES="${a#*=}" ;;
    --checkpoint-dir=*) checkpoint_dir="${a#*=}" ;;
  esac
  prev="$a"
done
pre=()
if coordinated_app "$app"; then
  [ "$app" = kernel-bench ] && { pre=(bench-kernel); ranks=1; }
elif [[ "$app" == *.dll ]]; then
  project=""; dll="$app"; deps=runtime
else
  echo "error: unknown app '$app' (use counter, nbody, md, bench, kernel-bench, study, inspect, or a path to a .dll)" >&2; exit 64
fi

in_job="${SLURM_JOB_ID:-}"
if [ "$deps" = none ]; then
  :   # inspect: managed code only, nothing to install
elif [ -n "$in_job" ]; then
  # Inside a job nothing is installed: only checked.
  "$here/scripts/ensure-deps.sh" --check "$deps" || exit $?
else
  "$here/scripts/ensure-deps.sh" "$deps" || exit $?
fi

if [ -n "$project" ]; then
  if ! build_current "$here" "$project" "$dll"; then
    if [ -n "$in_job" ]; then
      echo "mpi-run.sh: error: the $app build is not usable: $build_why." >&2
      echo "mpi-run.sh: this is Slurm job $in_job, and mpi-run.sh never builds inside a job (concurrent tasks would race on bin/ and obj/)." >&2
      echo "mpi-run.sh: build on the login node, then submit again:  cd $here && ./build.sh" >&2
      exit 69
    fi
    build_apps "$here" "$app" || exit $?
  fi
  dll="$here/$dll"
fi
[ -f "$dll" ] || { echo "error: $dll does not exist" >&2; exit 64; }

# study and inspect are plain processes, not Coordinated runs: a stop signal that came meanwhile ends here.
if [ -n "$stop_signal" ] && { [ "$app" = study ] || [ "$app" = inspect ]; }; then
  echo "mpi-run.sh: stopped by $stop_signal before $app started" >&2; exit 75
fi
# The study orchestrates mpirun runs itself (and kills them): it runs as a plain process.
if [ "$app" = study ]; then
  exec dotnet "$dll" ${ranks:+--ranks "$ranks"} "$@"
fi
# inspect reads snapshots with managed code (docs/INSPECT.md): a plain process, no MPI, no native HDF5.
if [ "$app" = inspect ]; then exec dotnet "$dll" "$@"; fi

export TERM=dumb   # keeps terminal-control sequences out of rank output
# The ranks survive only USR1/USR2 through mpirun, so TERM and INT arrive there as USR1. Before forwarding, the
# name of the signal that arrived here is written to this per-launch note; rank 0 reads it to report the real one.
# It lives in this node's temporary directory: rank 0 runs here under a local mpirun and, in a batch job, under srun
# (the batch script runs on the allocation's first node, where task 0 starts). Elsewhere the ranks report SIGUSR1.
# Without a writable temporary directory there is no note, and the ranks report SIGUSR1.
COORDINATED_SIGNAL_NOTE="$(mktemp "${TMPDIR:-/tmp}/coordinated-signal.XXXXXX" 2>/dev/null)" || COORDINATED_SIGNAL_NOTE=""
export COORDINATED_SIGNAL_NOTE
trap 'rm -f ${COORDINATED_SIGNAL_NOTE:+"$COORDINATED_SIGNAL_NOTE" "$COORDINATED_SIGNAL_NOTE.new"} ${hostfile:+"$hostfile"}' EXIT
# In a batch job or salloc shell (not inside a step) a failed step can be relaunched; step_nodes are its nodes.
relaunching=""
step_nodes=()
hostfile=""
if [ -n "${SLURM_JOB_ID:-}" ] && command -v srun >/dev/null 2>&1; then
  launcher=(srun --mpi=pmix ${ranks:+-n "$ranks"} --kill-on-bad-exit=1)
  if [ -z "${SLURM_STEP_ID:-}" ] && command -v scontrol >/dev/null 2>&1 && command -v sinfo >/dev/null 2>&1; then
    relaunching=1
    mapfile -t step_nodes < <(relaunch_hosts "${SLURM_JOB_NODELIST:-}")
  fi
  if [ -n "$nodes" ] && [ -n "$relaunching" ]; then
    # The first NODES usable nodes of the job; the rest are spares. Ranks block-wise through a host file.
    mapfile -t step_nodes < <(relaunch_living)
    if [ "${#step_nodes[@]}" -lt "$nodes" ]; then
      echo "mpi-run.sh: error: -N $nodes, but only ${#step_nodes[@]} node(s) of job $SLURM_JOB_ID are usable now (${step_nodes[*]:-none}; 'sinfo -N' says why, or did not answer)" >&2
      exit 69
    fi
    step_nodes=("${step_nodes[@]:0:$nodes}")
    per_node="${SLURM_NTASKS_PER_NODE:-1}"; [[ "$per_node" =~ ^[1-9][0-9]{0,4}$ ]] || per_node=1
    ranks="${ranks:-$((nodes * per_node))}"
    hostfile="$(mktemp "${TMPDIR:-/tmp}/coordinated-hosts.XXXXXX")" || { echo "mpi-run.sh: error: cannot create a host file in ${TMPDIR:-/tmp}" >&2; exit 73; }
    launcher=(env -u SLURM_NTASKS_PER_NODE "SLURM_HOSTFILE=$hostfile" srun --mpi=pmix -n "$ranks" --distribution=arbitrary --kill-on-bad-exit=1)
    echo "mpi-run.sh: $ranks rank(s) on ${step_nodes[*]} (block-wise); spare node(s) of job $SLURM_JOB_ID: $(relaunch_living | grep -vxF -f <(printf '%s\n' "${step_nodes[@]}") | paste -sd ' ' | grep . || echo none)" >&2
  elif [ -n "$nodes" ]; then
    launcher+=(-N "$nodes")
  fi
else
  ranks="${ranks:-4}"
  if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
  launcher=(mpirun --quiet -n "$ranks" --oversubscribe --bind-to none -x COORDINATED_SIGNAL_NOTE)
fi

# start_step ARGS...: one launch of the ranks in the background ($child); with -N in a job, on step_nodes.
start_step() {
  [ -z "$hostfile" ] || relaunch_hostfile "$hostfile" "$ranks" "${step_nodes[@]}" || { echo "mpi-run.sh: error: cannot write $hostfile" >&2; exit 73; }
  "${launcher[@]}" dotnet "$dll" "${pre[@]}" "$@" &
  child=$!
}

# Relaunch inside the allocation: when the step failed and Slurm says one of its nodes is lost, start it again at once
# with a spare in that node's place (scripts/relaunch.sh), at most max_relaunches times; otherwise node_lost is set
# and the job is requeued below.
relaunches=0
node_lost=""
export COORDINATED_RELAUNCH=0   # how many times this step was relaunched in this allocation, for the ranks
export COORDINATED_REPLACED_NODES=""   # lost:spare pairs of the latest relaunch (node3:node5,...), empty before any
rc=0
unsaved=""   # set when the launch stops without a new checkpoint (a stop signal before or while the ranks start)
while :; do
  if [ -n "$stop_signal" ]; then
    # No rank runs now (before the first launch, or before a relaunch): stopped like the runtime's stop during
    # start-up, so a batch job is requeued.
    echo "mpi-run.sh: stopping before the ranks start ($stop_signal); nothing new to save; rerun the same command to resume" >&2
    rc=75; unsaved=1; break
  fi
  start_step "$@"
  # `wait` returns early whenever a trapped signal arrives; keep waiting until the launcher has really exited.
  while kill -0 "$child" 2>/dev/null; do
    wait "$child"
  done
  wait "$child"
  rc=$?
  if [ -z "$relaunching" ] || [ "${#step_nodes[@]}" -eq 0 ]; then break; fi
  case "$rc" in 0|64|65|69|73|75|76) break ;; esac   # the app's own decisions: never a lost node
  lost="$(relaunch_lost "${step_nodes[@]}")"
  # Waiting for Slurm to notice a death pays only where a spare can take over (-N); without one, ask once.
  if [ -z "$lost" ] && [ -n "$nodes" ]; then
    bound="$(relaunch_detect_bound)"
    echo "mpi-run.sh: the step failed (exit $rc); asking Slurm for up to $bound s whether one of its nodes (${step_nodes[*]}) died" >&2
    lost="$(relaunch_wait_lost "$bound" "${step_nodes[@]}")"
  fi
  if [ -z "$lost" ]; then
    [ -n "$stop_signal" ] || echo "mpi-run.sh: Slurm reports no lost node among the step's (${step_nodes[*]}): the step failed by itself (exit $rc); not relaunched" >&2
    break
  fi
  node_lost="$(cut -d: -f1 <<<"$lost" | tr '\n' ' ')"; node_lost="${node_lost% }"
  while IFS= read -r line; do echo "mpi-run.sh: node lost: $line; the step ended with exit $rc" >&2; done <<<"$lost"
  if [ -n "$stop_signal" ]; then
    echo "mpi-run.sh: not relaunching: a stop was asked for meanwhile" >&2; break
  elif [ -z "$nodes" ]; then
    echo "mpi-run.sh: not relaunching: no spare node (the step used every node of job $SLURM_JOB_ID; keep spares with mpi-run.sh -N fewer than the job's nodes, and sbatch --no-kill)" >&2; break
  elif [ "$relaunches" -ge "$max_relaunches" ]; then
    echo "mpi-run.sh: not relaunching: the step was relaunched $relaunches time(s) already (limit $max_relaunches: --max-relaunches or COORDINATED_MAX_RELAUNCHES)" >&2; break
  fi
  # shellcheck disable=SC2086
  if ! relaunch_replace $node_lost; then
    echo "mpi-run.sh: not relaunching: $(wc -w <<<"$node_lost") node(s) lost but $relaunch_spares spare(s) left in job $SLURM_JOB_ID" >&2; break
  fi
  # --overlap: a step that lost nodes at different moments can stay allocated in Slurm 22.05 after srun has gone
  # (squeue -s still lists it), and a new step on its surviving nodes then waits forever ("Requested nodes are
  # busy"). Its tasks are dead (srun --kill-on-bad-exit), so sharing its CPUs costs nothing.
  [ "$relaunches" -gt 0 ] || launcher+=(--overlap)
  relaunches=$((relaunches + 1))
  node_lost=""   # replaced: only a loss that ends the loop sends the job back to the queue
  export COORDINATED_RELAUNCH=$relaunches
  # lost:spare pairs of this relaunch, for the runtime's restart message ("node3 lost, replaced by node5").
  COORDINATED_REPLACED_NODES="$(printf '%s,' "${relaunch_swaps[@]}" | sed 's/ -> /:/g; s/,$//')"
  export COORDINATED_REPLACED_NODES
  echo "mpi-run.sh: relaunch $relaunches of at most $max_relaunches inside job $SLURM_JOB_ID (no requeue): $(printf '%s, ' "${relaunch_swaps[@]}" | sed 's/, $//') (the spare takes the lost node's ranks); $ranks rank(s) on ${step_nodes[*]}; the runtime chooses the restart level (local, partner or global) and prints it" >&2
done

# Ranks that a stop signal reached before they had installed their handlers (the first moments of a rank's start-up)
# die of it, and the step ends by a signal: treated as stopped, so the job resumes from its newest committed snapshot
# instead of ending FAILED. (Lost nodes were handled above.)
if [ -n "$stop_signal" ] && [ -z "$node_lost" ] && [ "$rc" -ge 128 ]; then
  echo "mpi-run.sh: the step ended with exit $rc after $stop_signal (ranks still starting die of the signal); nothing new was committed; stopping as if checkpointed: rerun the same command to resume from the newest snapshot" >&2
  rc=75; unsaved=1
fi

# newest_snapshot: "step k (DIR/ckpt-....h5)" from the checkpoint directory's `latest`, or where to look.
newest_snapshot() {
  local name
  name="$(head -n 1 "$checkpoint_dir/latest" 2>/dev/null)"
  if [[ "$name" =~ ^ckpt-0*([0-9]+)\.h5$ ]]; then echo "step ${BASH_REMATCH[1]} ($checkpoint_dir/$name)"
  else echo "in $checkpoint_dir (its 'latest' is unreadable here)"; fi
}

# job_fate: why this batch job is ending, from what slurmctld says about it (checked against Slurm 22.05):
#   requeued   Slurm has already requeued it (Restarts grew: preemption with GraceTime=0, an admin's requeue)
#   cancelled  JobState COMPLETING/CANCELLED, not for the time limit and not preempted: scancel (user or admin)
#   ending     anything else: RUNNING (preemption inside GraceTime, the --signal warning, --walltime-reserve, a
#              signal sent by hand), COMPLETING for the time limit (Reason=TimeLimit), or scontrol gave no answer
#              in 10 s (better a cancelled job requeued once than a preempted one lost).
job_fate() {
  local show state reason restarts preempt
  show="$(timeout 10 scontrol show job -o "$SLURM_JOB_ID" 2>/dev/null)" || { echo ending; return; }
  state="$(grep -o 'JobState=[^ ]*' <<<"$show")"; state="${state#*=}"
  reason="$(grep -o ' Reason=[^ ]*' <<<"$show")"; reason="${reason#*=}"
  restarts="$(grep -o ' Restarts=[0-9]*' <<<"$show")"; restarts="${restarts#*=}"
  preempt="$(grep -o ' PreemptTime=[^ ]*' <<<"$show")"; preempt="${preempt#*=}"
  if [ "${restarts:-0}" -gt "${SLURM_RESTART_COUNT:-0}" ]; then echo requeued
  elif [[ "$state" == COMPLETING || "$state" == CANCELLED ]] && [ "$reason" != TimeLimit ] && [[ -z "$preempt" || "$preempt" == None ]]; then
    echo cancelled
  else echo ending; fi
}

# Why the job goes back to the queue: a committed stop (exit 75), or a lost node that could not be replaced.
done_what="checkpoint committed"
[ -n "$unsaved" ] && done_what="stopped with nothing new to save"
[ -n "$node_lost" ] && [ "$rc" -ne 75 ] && done_what="node(s) $node_lost lost, no relaunch left"
if { [ "$rc" -eq 75 ] || [ -n "$node_lost" ]; } && [ -n "${SLURM_JOB_ID:-}" ] && [ -z "${SLURM_STEP_ID:-}" ] && [ "${COORDINATED_REQUEUE:-1}" != 0 ]; then
  count="${SLURM_RESTART_COUNT:-0}"
  max="${COORDINATED_MAX_REQUEUES:-5}"
  job="$SLURM_JOB_ID"
  # An array task is requeued alone, not the whole array.
  [ -n "${SLURM_ARRAY_JOB_ID:-}" ] && job="${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
  fate=ending
  command -v scontrol >/dev/null 2>&1 && fate="$(job_fate)"
  if [ "$fate" = cancelled ]; then
    echo "mpi-run.sh: job $job cancelled: not requeued; the newest snapshot is $(newest_snapshot). Submit the same job script again to resume from it." >&2
  elif [ "$fate" = requeued ]; then
    echo "mpi-run.sh: $done_what; Slurm has already requeued job $job (preempted or requeued by an administrator)." >&2
  elif [ "$count" -ge "$max" ]; then
    echo "mpi-run.sh: not requeueing job $job: it has been requeued $count times (limit $max: --max-requeues or COORDINATED_MAX_REQUEUES)." >&2
    echo "mpi-run.sh: resubmit it by hand once you know why it keeps stopping." >&2
    exit 76
  elif ! command -v scontrol >/dev/null 2>&1; then
    echo "mpi-run.sh: $done_what, but scontrol is not on PATH here, so job $job was not requeued." >&2
    echo "mpi-run.sh: resubmit the same job script to resume (or load the Slurm client tools in the script)." >&2
  elif out=$(scontrol requeue "$job" 2>&1); then
    echo "mpi-run.sh: $done_what; job $job requeued (restart $((count + 1)) of at most $max)." >&2
  else
    echo "mpi-run.sh: $done_what, but 'scontrol requeue $job' was refused: ${out:-no message}" >&2
    echo "mpi-run.sh: submit with --requeue (and check that the cluster allows requeue, JobRequeue), or resubmit the same job script to resume." >&2
  fi
fi
exit "$rc"
