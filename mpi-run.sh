#!/usr/bin/env bash
# mpi-run.sh: the one launcher for Coordinated apps.
#
#   ./mpi-run.sh [-n RANKS] APP [ARGS...]
#
# APP is counter, nbody, md, bench (the checkpoint benchmark), kernel-bench (NBody's force kernel vs C), study (the
# checkpoint-interval study, docs/STUDY.md: not itself an MPI program, it launches NBody under mpirun many times and
# kills it; -n R becomes its --ranks R), or a path to an app's .dll. ARGS go to the app
# (see `./mpi-run.sh APP --help`). Outside Slurm it starts RANKS processes with mpirun (default 4); inside a
# Slurm allocation it uses `srun --mpi=pmix` (ranks from the allocation unless -n is given).
#
# Signals: TERM, INT, USR1 and USR2 sent to this script are forwarded to every rank as a signal the ranks
# survive (mpirun itself would kill them on TERM), so they take one coordinated checkpoint and stop with exit 75.
# Exit code: the app's (0 finished, 75 stopped after a checkpoint: rerun to resume, 64 bad arguments,
# 65 unusable checkpoint data, 73 checkpoint directory unusable, 74 checkpoint failed, 76 requeue limit).
# Inside a Slurm batch job, after exit 75 the job is requeued (`scontrol requeue`) unless COORDINATED_REQUEUE=0
# or SLURM_RESTART_COUNT has reached COORDINATED_MAX_REQUEUES (default 5).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ranks=""

usage() { sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    -n|--ranks|-np) [ $# -ge 2 ] || { echo "error: $1 needs a number" >&2; exit 64; }; ranks="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { usage >&2; exit 64; }
if [ -n "$ranks" ] && ! [[ "$ranks" =~ ^[1-9][0-9]*$ ]]; then
  echo "error: -n wants a positive number of ranks, not '$ranks'" >&2; exit 64
fi

app="$1"; shift
# The app's own --max-requeues also bounds the requeues this script asks for.
prev=""
for a in "$@"; do
  if [ "$prev" = "--max-requeues" ]; then COORDINATED_MAX_REQUEUES="$a"; fi
  case "$a" in --max-requeues=*) COORDINATED_MAX_REQUEUES="${a#*=}" ;; esac
  prev="$a"
done
case "$app" in
  counter) project="Apps/Counter/Counter.csproj"; dll="Apps/Counter/bin/Release/net10.0/Counter.dll"; pre=() ;;
  nbody)   project="Apps/NBody/NBody.csproj";     dll="Apps/NBody/bin/Release/net10.0/NBody.dll";     pre=() ;;
  md)      project="Apps/MD/MD.csproj";           dll="Apps/MD/bin/Release/net10.0/MD.dll";           pre=() ;;
  kernel-bench) project="Apps/NBody/NBody.csproj"; dll="Apps/NBody/bin/Release/net10.0/NBody.dll"; pre=(bench-kernel); ranks=1 ;;
  bench)   project="bench/CheckpointBench/CheckpointBench.csproj"; dll="bench/CheckpointBench/bin/Release/net10.0/CheckpointBench.dll"; pre=() ;;
  study)   project="Tools/Study/Study.csproj";    dll="Tools/Study/bin/Release/net10.0/Study.dll";    pre=() ;;
  *.dll)   project=""; dll="$app"; pre=() ;;
  *) echo "error: unknown app '$app' (use counter, nbody, md, bench, kernel-bench, study, or a path to a .dll)" >&2; exit 64 ;;
esac

if [ "$app" = study ]; then "$here/scripts/ensure-deps.sh" study || exit $?; else "$here/scripts/ensure-deps.sh" runtime || exit $?; fi

if [ -n "$project" ]; then
  dll="$here/$dll"
  # Build Release when the app is missing or any source is newer than it.
  if [ ! -f "$dll" ] || [ -n "$(find "$here/Runtime" "$here/Apps" "$here/bench" "$here/Tools" "$here/Parquet" "$here/Directory.Build.props" "$here/Directory.Packages.props" \
        \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' \) -newer "$dll" -not -path '*/obj/*' -not -path '*/bin/*' -print -quit)" ]; then
    echo "mpi-run.sh: building $project (Release) ..." >&2
    log=$(mktemp)
    if ! dotnet build "$here/$project" -c Release -nologo -v q >"$log" 2>&1; then
      cat "$log" >&2; rm -f "$log"; echo "error: build failed" >&2; exit 1
    fi
    rm -f "$log"
  fi
fi
[ -f "$dll" ] || { echo "error: $dll does not exist" >&2; exit 64; }

# The study orchestrates mpirun runs itself (and kills them): it runs as a plain process.
if [ "$app" = study ]; then
  exec dotnet "$dll" ${ranks:+--ranks "$ranks"} "$@"
fi

export TERM=dumb   # keeps terminal-control sequences out of rank output
if [ -n "${SLURM_JOB_ID:-}" ] && command -v srun >/dev/null 2>&1; then
  launcher=(srun --mpi=pmix ${ranks:+-n "$ranks"} --kill-on-bad-exit=1)
  forward_signal=USR1
else
  ranks="${ranks:-4}"
  if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
  launcher=(mpirun --quiet -n "$ranks" --oversubscribe --bind-to none)
  forward_signal=USR1
fi

"${launcher[@]}" dotnet "$dll" "${pre[@]}" "$@" &
child=$!

forward() {
  echo "mpi-run.sh: got SIG$1, asking all ranks to checkpoint and stop" >&2
  if [ "$1" = USR2 ]; then kill -s USR2 "$child" 2>/dev/null || true
  else kill -s "$forward_signal" "$child" 2>/dev/null || true; fi
}
trap 'forward TERM' TERM
trap 'forward INT' INT
trap 'forward USR1' USR1
trap 'forward USR2' USR2

# `wait` returns early whenever a trapped signal arrives; keep waiting until the launcher has really exited.
while kill -0 "$child" 2>/dev/null; do
  wait "$child"
done
wait "$child"
rc=$?

if [ "$rc" -eq 75 ] && [ -n "${SLURM_JOB_ID:-}" ] && [ -z "${SLURM_STEP_ID:-}" ] && [ "${COORDINATED_REQUEUE:-1}" != 0 ]; then
  count="${SLURM_RESTART_COUNT:-0}"
  max="${COORDINATED_MAX_REQUEUES:-5}"
  if [ "$count" -ge "$max" ]; then
    echo "mpi-run.sh: not requeueing job $SLURM_JOB_ID: it has been requeued $count times (limit $max: --max-requeues or COORDINATED_MAX_REQUEUES)." >&2
    echo "mpi-run.sh: resubmit it by hand once you know why it keeps stopping." >&2
    exit 76
  fi
  job="$SLURM_JOB_ID"
  # An array task is requeued alone, not the whole array.
  [ -n "${SLURM_ARRAY_JOB_ID:-}" ] && job="${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
  if ! command -v scontrol >/dev/null 2>&1; then
    echo "mpi-run.sh: checkpoint committed, but scontrol is not on PATH here, so job $job was not requeued." >&2
    echo "mpi-run.sh: resubmit the same job script to resume (or load the Slurm client tools in the script)." >&2
  elif out=$(scontrol requeue "$job" 2>&1); then
    echo "mpi-run.sh: checkpoint committed; job $job requeued (restart $((count + 1)) of at most $max)." >&2
  else
    echo "mpi-run.sh: checkpoint committed, but 'scontrol requeue $job' was refused: ${out:-no message}" >&2
    echo "mpi-run.sh: submit with --requeue (and check that the cluster allows requeue, JobRequeue), or resubmit the same job script to resume." >&2
  fi
fi
exit "$rc"
