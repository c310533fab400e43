#!/usr/bin/env bash
# Runs every test of Coordinated on a fresh Debian 12 machine with the .NET SDK: installs the Debian packages the
# tests need (Open MPI, parallel HDF5, h5py, Slurm + munge, gnuplot), builds, runs the NUnit suite (multi-process
# tests start real ranks; the Slurm tests start a private Slurm), and ends with one line: N passed, N failed[, N skipped].
#   ./test.sh [extra dotnet test arguments, e.g. --filter TestCategory!=Slurm]
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

scripts/ensure-deps.sh test || exit $?
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

echo "building ..." >&2
if ! dotnet build Coordinated.sln -c Release -nologo -v q >/tmp/coordinated-build.log 2>&1; then
  cat /tmp/coordinated-build.log >&2
  echo "0 passed, 1 failed"
  exit 1
fi

results="$here/TestResults"
rm -rf "$results"
dotnet test Tests/Tests.csproj -c Release --no-build --results-directory "$results" \
  --logger "trx;LogFileName=results.trx" --logger "console;verbosity=normal" "$@"
rc=$?

trx="$results/results.trx"
if [ ! -f "$trx" ]; then
  echo "0 passed, 1 failed"
  exit 1
fi
# The failed tests again, at the end where a log's tail shows them: name, then the first lines of the message.
python3 - "$trx" <<'PY' || true
import sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
failed = [r for r in ET.parse(sys.argv[1]).getroot().iterfind(".//t:UnitTestResult", ns)
          if r.get("outcome") not in ("Passed", "NotExecuted", "Inconclusive")]
if failed:
    print(f"\n{len(failed)} failed test(s):")
    for r in failed:
        msg = r.find("t:Output/t:ErrorInfo/t:Message", ns)
        lines = (msg.text or "").strip().splitlines() if msg is not None else []
        print(f"  {r.get('testName')} ({r.get('outcome')}, {r.get('duration')})")
        for line in lines[:12]:
            print(f"    {line}")
    print()
PY
counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
passed=$(get passed); failed=$(get failed); total=$(get total); executed=$(get executed)
errors=$(get error); timeout=$(get timeout); aborted=$(get aborted)
failed=$(( ${failed:-0} + ${errors:-0} + ${timeout:-0} + ${aborted:-0} ))
skipped=$(( ${total:-0} - ${executed:-0} ))
[ "$rc" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
if [ "$skipped" -gt 0 ]; then
  echo "${passed:-0} passed, $failed failed, $skipped skipped"
else
  echo "${passed:-0} passed, $failed failed"
fi
[ "$failed" -eq 0 ]
