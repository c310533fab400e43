#!/usr/bin/env bash
# build.sh: the build step. Builds Coordinated's apps and tools in Release and installs the Debian runtime
# packages (Open MPI, parallel HDF5; gnuplot for the study) if they are missing. Run it on a login node (or any
# machine with the .NET SDK) before submitting jobs, and again after every change or pull:
#
#   ./build.sh            every app and tool: counter, nbody (also kernel-bench), md, bench, study, inspect
#   ./build.sh APP...     only these
#
# mpi-run.sh never builds or installs inside a Slurm job (SLURM_JOB_ID set): concurrent array tasks would race on
# bin/ and obj/, and compute nodes should not run apt-get. A job whose build is missing or older than the sources
# stops at once with exit 69 and this command. Outside a job mpi-run.sh runs this build itself when it is stale.
# Concurrent builds (two launches, or this and a launch) build once: the build holds an flock on .build.lock and
# checks again once it has the lock.
# Exit: 0 built or already current, 1 the build failed (compiler output above), 64 unknown app,
# 69 missing dependency (the .NET SDK, Debian packages that cannot be installed here).

# The apps: project, program (dll) and the Debian packages they need (scripts/ensure-deps.sh MODE).
coordinated_apps=(counter nbody md bench study inspect)
coordinated_app() {
  case "$1" in
    counter) project="Apps/Counter/Counter.csproj"; dll="Apps/Counter/bin/Release/net10.0/Counter.dll"; deps=runtime ;;
    nbody|kernel-bench) project="Apps/NBody/NBody.csproj"; dll="Apps/NBody/bin/Release/net10.0/NBody.dll"; deps=runtime ;;
    md)      project="Apps/MD/MD.csproj"; dll="Apps/MD/bin/Release/net10.0/MD.dll"; deps=runtime ;;
    bench)   project="bench/CheckpointBench/CheckpointBench.csproj"; dll="bench/CheckpointBench/bin/Release/net10.0/CheckpointBench.dll"; deps=runtime ;;
    study)   project="Tools/Study/Study.csproj"; dll="Tools/Study/bin/Release/net10.0/Study.dll"; deps=study ;;
    inspect) project="Tools/Inspect/Inspect.csproj"; dll="Tools/Inspect/bin/Release/net10.0/Inspect.dll"; deps=none ;;
    *) return 1 ;;
  esac
}

# build_inputs ROOT PROJECT: the project's folder and those of the projects it references, transitively.
build_inputs() {
  local root="$1" todo=("$2") seen=" " p dir ref
  while [ ${#todo[@]} -gt 0 ]; do
    p="${todo[0]}"; todo=("${todo[@]:1}")
    dir="$(dirname "$p")"
    case "$seen" in *" $dir "*) continue ;; esac
    seen+="$dir "
    echo "$root/$dir"
    for ref in $(sed -n 's/.*<ProjectReference Include="\([^"]*\)".*/\1/p' "$root/$p" 2>/dev/null); do
      todo+=("$(realpath -m --relative-to="$root" "$root/$dir/$ref")")
    done
  done
}

# build_current ROOT PROJECT DLL: true when DLL exists and no input of PROJECT (*.cs, *.csproj, *.props, *.targets
# in its folder and in those of the projects it references, and the repository's own *.props, *.targets) is newer
# than its last build: the newest of the stamp this script leaves next to the dll (the time a successful build
# started) and the dlls in that folder (a build by other means, e.g. `dotnet build Coordinated.sln`, rewrites at
# least one of them). Otherwise false, with the reason in $build_why.
build_current() {
  local root="$1" project="$2" dll="$3" ref newer inputs
  if [ ! -f "$root/$dll" ]; then build_why="$dll does not exist"; return 1; fi
  ref="$(ls -t "$root/$(dirname "$dll")"/*.dll "$root/$(dirname "$dll")/.coordinated-build" 2>/dev/null | head -n 1)"
  mapfile -t inputs < <(build_inputs "$root" "$project")
  newer=$( { find "${inputs[@]}" \( -name bin -o -name obj \) -prune -o \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.targets' \) -newer "$ref" -print
             find "$root" -maxdepth 1 \( -name '*.props' -o -name '*.targets' \) -newer "$ref" -print; } 2>/dev/null | head -n 1)
  if [ -n "$newer" ]; then build_why="${newer#"$root"/} changed after the last build of $dll"; return 1; fi
  return 0
}

# build_apps ROOT APP...: builds the apps that are not current, under the lock; prints what it does on stderr.
build_apps() {
  local root="$1" app log stamp; shift
  command -v dotnet >/dev/null 2>&1 || { echo "error: dotnet not found: install the .NET 10 SDK (https://dot.net) to build" >&2; return 69; }
  exec {build_lock}>>"$root/.build.lock"
  if ! flock -n "$build_lock"; then
    echo "build: another build holds $root/.build.lock; waiting for it ..." >&2
    flock -w 1800 "$build_lock" || { echo "error: the other build did not finish within 30 min (lock $root/.build.lock)" >&2; exec {build_lock}>&-; return 1; }
  fi
  for app in "$@"; do
    coordinated_app "$app"
    build_current "$root" "$project" "$dll" && continue
    echo "build: $project (Release): $build_why ..." >&2
    stamp="$root/$(dirname "$dll")/.coordinated-build"
    mkdir -p "$(dirname "$stamp")" && touch "$stamp.new"
    log=$(mktemp)
    if ! dotnet build "$root/$project" -c Release -nologo -v q >"$log" 2>&1; then
      cat "$log" >&2; rm -f "$log" "$stamp.new"; exec {build_lock}>&-
      echo "error: the build of $project failed (compiler output above)" >&2
      return 1
    fi
    rm -f "$log"
    mv -f "$stamp.new" "$stamp"
  done
  exec {build_lock}>&-
  return 0
}

# Sourced by mpi-run.sh for the functions above; run as a command, it builds.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -uo pipefail
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  case "${1:-}" in
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  esac
  apps=("$@")
  [ ${#apps[@]} -gt 0 ] || apps=("${coordinated_apps[@]}")
  mode=runtime
  for a in "${apps[@]}"; do
    coordinated_app "$a" || { echo "error: unknown app '$a' (use ${coordinated_apps[*]} or kernel-bench)" >&2; exit 64; }
    [ "$deps" = study ] && mode=study
  done
  "$here/scripts/ensure-deps.sh" "$mode" || exit $?
  build_apps "$here" "${apps[@]}" || exit $?
  echo "build: ${apps[*]} current (Release). Launch with ./mpi-run.sh APP ..., or sbatch a copy of Apps/*/*.sbatch." >&2
fi
