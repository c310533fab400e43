#!/usr/bin/env bash
# Renders a snapshot with ParaView, headless: the picture in docs/INSPECT.md.
#   scripts/render-snapshot.sh SNAPSHOT.h5 OUT.png
# Writes the snapshot's XDMF sidecar with `./mpi-run.sh inspect export --xdmf` (if it has none), then runs pvpython
# under a virtual X server. Needs Debian's python3-paraview (about 440 MB) and xvfb; not needed by the tests.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -eq 2 ] || { echo "usage: $0 SNAPSHOT.h5 OUT.png" >&2; exit 64; }
snapshot="$(realpath "$1")"; png="$(realpath -m "$2")"
[ -f "$snapshot" ] || { echo "error: $1 does not exist" >&2; exit 64; }
for tool in pvpython xvfb-run; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing: apt-get install python3-paraview xvfb xauth" >&2; exit 69; }
done
xdmf="${snapshot%.h5}.xdmf"
[ -f "$xdmf" ] || "$here/mpi-run.sh" inspect export "$snapshot" --xdmf >&2
title="$(basename "$snapshot" .h5)"
xvfb-run -a -s "-screen 0 1280x1024x24" pvpython "$here/scripts/render-snapshot.py" "$xdmf" "$png" "$title" 2>&1 \
  | grep -v -e '^$' -e 'XDMF' -e 'Generic Warning' >&2 || true
[ -s "$png" ] || { echo "error: ParaView wrote no picture" >&2; exit 1; }
echo "$png"
