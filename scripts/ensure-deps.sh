#!/usr/bin/env bash
# Installs the Debian packages a part of Coordinated needs, only if something is missing.
#   scripts/ensure-deps.sh runtime   Open MPI + parallel HDF5 (to run the apps)
#   scripts/ensure-deps.sh study     + gnuplot (the checkpoint-interval study draws its plot with it)
#   scripts/ensure-deps.sh lammps    + LAMMPS (bench/md-vs-lammps.sh)
#   scripts/ensure-deps.sh test      + h5py-mpi, hdf5-tools, Slurm + munge, gnuplot, meshio, iproute2 + util-linux (the
#                                    namespace cluster of Tests/Cluster) (to run every test)
#   scripts/ensure-deps.sh --check MODE   never install: exit 69 naming what is missing (mpi-run.sh in a Slurm job)
# Quiet when everything is there. Needs root (or sudo) only when it has to install.
set -euo pipefail

install=1
if [ "${1:-}" = --check ]; then install=0; shift; fi
mode="${1:-runtime}"
# On a cluster the libraries come from modules or other distributions: if the runtime can load them, that is enough.
if [ "$mode" = runtime ]; then
  if [ -n "${COORDINATED_LIBMPI:-}" ] && [ -n "${COORDINATED_LIBHDF5:-}" ]; then exit 0; fi
  if command -v ldconfig >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q 'libmpi\.so\.40 ' \
     && ldconfig -p 2>/dev/null | grep -q 'libhdf5_openmpi\.so\.103 ' && command -v h5diff >/dev/null 2>&1; then
    exit 0
  fi
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "error: Open MPI 4.x (libmpi.so.40) or parallel HDF5 1.10 (libhdf5_openmpi.so.103) not found, and this is not a" >&2
    echo "Debian system. Load them (e.g. module load openmpi hdf5) and point COORDINATED_LIBMPI and COORDINATED_LIBHDF5 at the libraries." >&2
    exit 69
  fi
fi

want=(openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools)
case "$mode" in
  runtime) ;;
  study) want+=(gnuplot-nox) ;;
  lammps) want+=(lammps python3-h5py-mpi bc) ;;
  test|all) want+=(python3-h5py-mpi python3-mpi4py slurmctld slurmd slurm-client munge gnuplot-nox gcc iproute2 util-linux python3-meshio) ;;
  *) echo "usage: $0 runtime|study|lammps|test" >&2; exit 64 ;;
esac

# Node.js runs the independent Parquet readers in the tests; Debian's is fine when none is installed.
if [ "$mode" != runtime ] && [ "$mode" != study ] && ! command -v node >/dev/null 2>&1; then want+=(nodejs npm); fi

missing=()
for pkg in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$install" -eq 0 ]; then
  echo "error: missing Debian packages: ${missing[*]}. Nothing is installed inside a Slurm job (SLURM_JOB_ID=${SLURM_JOB_ID:-})." >&2
  echo "Install them where the compute nodes get their software (apt-get install -y ${missing[*]}), or load Open MPI and" >&2
  echo "parallel HDF5 modules and set COORDINATED_LIBMPI and COORDINATED_LIBHDF5." >&2
  exit 69
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo="sudo"
  else
    echo "error: missing Debian packages: ${missing[*]}" >&2
    echo "Install them as root: apt-get install -y ${missing[*]}" >&2
    exit 69
  fi
fi

echo "installing Debian packages: ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "error: apt-get could not install: ${missing[*]} (log above)" >&2
  rm -f "$log"
  exit 69
fi
rm -f "$log"
# The daemons are started by the tests themselves, with their own configuration.
for svc in slurmctld slurmd munge; do
  if command -v systemctl >/dev/null 2>&1; then $sudo systemctl stop "$svc" >/dev/null 2>&1 || true; fi
done
exit 0
