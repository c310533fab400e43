#!/usr/bin/env bash
# bench/md-vs-lammps.sh: Apps/MD against LAMMPS (Debian 12's `lammps`, binary `lmp`, Open MPI) on the same
# Lennard-Jones system (in.lj: fcc rho* 0.8442, T* 1.44, cutoff 2.5, skin 0.3, lists every 20 steps, NVE, dt 0.005).
#
#   bench/md-vs-lammps.sh [--cells 20,40] [--ranks 1,2] [--steps 100] [--rounds 1] [--dir DIR]
#
# For every size (cells^3 x 4 atoms: 20 -> 32,000, 40 -> 256,000) and rank count it runs, ROUNDS times and
# alternately so that other load on the machine hits both alike: LAMMPS (run STEPS, then write_restart), ours (STEPS
# steps, checkpoints at STEPS/2 and STEPS: the second is timed, so .NET's JIT of the write path is not counted),
# LAMMPS read_restart, ours restart (read + verify + move rows to owners + lists + forces). Speed is the loop of STEPS steps (LAMMPS's "Loop time", ours from the same point); write_restart and
# read_restart are timed with `shell date` on rank 0 around the command. Energy drift is (E_end - E_0) / |E_0| of
# each code's own run. Prints a Markdown table (medians over rounds). DIR (default: new under /tmp) is removed afterwards.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cells_list="20,40"; ranks_list="1,2"; steps=100; rounds=1; dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cells) cells_list="$2"; shift 2 ;;
    --ranks) ranks_list="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option '$1' (see --help)" >&2; exit 64 ;;
  esac
done
for v in $steps $rounds ${ranks_list//,/ } ${cells_list//,/ }; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "error: '$v' is not a positive number" >&2; exit 64; }
done

"$here/scripts/ensure-deps.sh" lammps
command -v lmp >/dev/null || { echo "error: lmp not found after installing lammps" >&2; exit 69; }
dotnet build "$here/Apps/MD/MD.csproj" -c Release -nologo -v q >/dev/null
md="$here/Apps/MD/bin/Release/net10.0/MD.dll"
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export TERM=dumb
mpi=(mpirun --quiet --oversubscribe --bind-to none)
work="${dir:-$(mktemp -d /tmp/md-vs-lammps.XXXXXX)}"; mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

lammps_input() { # cells steps
  cat <<LMP
units lj
atom_style atomic
lattice fcc 0.8442
region box block 0 $1 0 $1 0 $1
create_box 1 box
create_atoms 1 box
mass 1 1.0
velocity all create 1.44 87287 loop geom
pair_style lj/cut 2.5
pair_coeff 1 1 1.0 1.0 2.5
neighbor 0.3 bin
neigh_modify delay 0 every 20 check no
fix 1 all nve
thermo_style custom step temp pe etotal
thermo $2
run $2
shell date +WRITE0=%s.%N
write_restart $work/lmp.restart
shell date +WRITE1=%s.%N
LMP
}
lammps_read() {
  cat <<LMP
shell date +READ0=%s.%N
read_restart $work/lmp.restart
shell date +READ1=%s.%N
LMP
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
results="$work/results.tsv"; : >"$results"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for cells in ${cells_list//,/ }; do
  atoms=$((4 * cells * cells * cells))
  for ranks in ${ranks_list//,/ }; do
    for ((round = 1; round <= rounds; round++)); do
      echo "== $atoms atoms, $ranks rank(s), round $round" >&2
      lammps_input "$cells" "$steps" >"$work/in.run"; lammps_read >"$work/in.read"
      rm -f "$work/lmp.restart"
      "${mpi[@]}" -n "$ranks" lmp -in "$work/in.run" -log none >"$work/lmp.out" 2>&1 || { cat "$work/lmp.out" >&2; exit 1; }
      rm -rf "$work/ckpt"
      "${mpi[@]}" -n "$ranks" dotnet "$md" --cells "$cells" --steps "$steps" --report-every "$steps" --checkpoint-every-steps $((steps / 2)) --checkpoint-dir "$work/ckpt" >"$work/md.out" 2>&1 || { cat "$work/md.out" >&2; exit 1; }
      "${mpi[@]}" -n "$ranks" lmp -in "$work/in.read" -log none >"$work/lmpr.out" 2>&1 || { cat "$work/lmpr.out" >&2; exit 1; }
      "${mpi[@]}" -n "$ranks" dotnet "$md" --cells "$cells" --steps "$steps" --report-every "$steps" --checkpoint-dir "$work/ckpt" >"$work/mdr.out" 2>&1 || { cat "$work/mdr.out" >&2; exit 1; }
      /usr/bin/python3 - "$work" "$atoms" "$ranks" "$steps" >>"$results" <<'PY'
import re, sys
work, atoms, ranks, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
read = lambda n: open(f"{work}/{n}").read()
lmp, lmpr, md, mdr = read("lmp.out"), read("lmpr.out"), read("md.out"), read("mdr.out")
loop = float(re.search(r"Loop time of ([\d.eE+-]+) on \d+ procs for (\d+) steps", lmp).group(1))
thermo = [l.split() for l in lmp.splitlines() if re.match(r"^\s*\d+\s+[-\d.eE+]+\s+[-\d.eE+]+\s+[-\d.eE+]+\s*$", l)]
e0, e1 = float(thermo[0][3]), float(thermo[-1][3])
stamp = lambda text, key: float(re.search(key + r"=([\d.]+)", text).group(1))
write = stamp(lmp, "WRITE1") - stamp(lmp, "WRITE0")
rread = stamp(lmpr, "READ1") - stamp(lmpr, "READ0")
rate = float(re.search(r"md: timing \d+ steps in [\d.]+ s: ([\d.]+) steps/s", md).group(1))
drift = float(re.search(r"dE/E0 = ([-\d.E+]+)", md).group(1))
ckpt = float(re.search(rf"md: checkpoint of step {steps} took ([\d.]+) s", md).group(1))
restart = float(re.search(r"md: restored and set up in ([\d.]+) s", mdr).group(1))
verify = float(re.search(r"read and verified in ([\d.]+) s", mdr).group(1))
section = lambda name: float(re.search(rf"^{name}\s*\|\s*[\d.eE+-]+\s*\|\s*([\d.eE+-]+)", lmp, re.M).group(1))
force, rebuild = (float(x) for x in re.search(r"force ([\d.]+) s, rebuild \(migrate \+ ghosts \+ lists\) ([\d.]+) s", md).groups())
print("\t".join(map(str, [atoms, ranks, steps / loop, rate, write, ckpt, rread, verify, restart, (e1 - e0) / abs(e0), drift,
                          1000 * section("Pair") / steps, 1000 * force / steps, 1000 * section("Neigh") / steps, 1000 * rebuild / steps])))
PY
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "| atoms | ranks | LAMMPS steps/s | MD steps/s | MD / LAMMPS | write_restart s | our checkpoint s | read_restart s | our read+verify s | our restart (read, move, lists, forces) s | LAMMPS dE/E0 | MD dE/E0 |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for key in $(cut -f1,2 "$results" | sort -u -k1,1n -k2,2n | tr '\t' ':'); do
  a="${key%%:*}"; r="${key##*:}"
  col() { awk -F'\t' -v a="$a" -v r="$r" -v c="$1" '$1 == a && $2 == r {print $c}' "$results" | median; }
  l=$(col 3); m=$(col 4)
  printf '| %s | %s | %.1f | %.1f | %.2f | %.3f | %.3f | %.3f | %.3f | %.3f | %.2e | %.2e |\n' "$a" "$r" "$l" "$m" "$(echo "$m / $l" | bc -l)" \
    "$(col 5)" "$(col 6)" "$(col 7)" "$(col 8)" "$(col 9)" "$(col 10)" "$(col 11)"
done
echo
echo "Where the time goes (ms per step, medians): LAMMPS Pair (half list, Newton's third law) vs our force loop (full list in id order: every pair twice); LAMMPS Neigh vs our rebuild (wrap, migration, ghosts, lists in id order)."
echo
echo "| atoms | ranks | LAMMPS Pair | MD force | LAMMPS Neigh | MD rebuild |"
echo "|---|---|---|---|---|---|"
for key in $(cut -f1,2 "$results" | sort -u -k1,1n -k2,2n | tr '\t' ':'); do
  a="${key%%:*}"; r="${key##*:}"
  col() { awk -F'\t' -v a="$a" -v r="$r" -v c="$1" '$1 == a && $2 == r {print $c}' "$results" | median; }
  printf '| %s | %s | %.2f | %.2f | %.2f | %.2f |\n' "$a" "$r" "$(col 12)" "$(col 13)" "$(col 14)" "$(col 15)"
done
