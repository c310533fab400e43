#!/usr/bin/env bash
# The kill -9 campaign: TRIALS seeded trials (default 200) of NBody killed at random instants while it checkpoints
# every 2 steps, each resumed on a random rank count and compared bit for bit with an uninterrupted run.
# Prints one line per trial and a summary (how many landed mid-write, how many recovered). Log: campaign.log
#   scripts/kill-campaign.sh [TRIALS] [SEED]
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
scripts/ensure-deps.sh test || exit $?
dotnet build Coordinated.sln -c Release -nologo -v q >/dev/null || { echo "build failed" >&2; exit 1; }
export COORDINATED_CAMPAIGN_TRIALS="${1:-200}" COORDINATED_CAMPAIGN_SEED="${2:-1}" COORDINATED_CAMPAIGN_LOG="$here/campaign.log"
out="$(mktemp)"
dotnet test Tests/Tests.csproj -c Release --no-build --filter "FullyQualifiedName~KillCampaignTests.Campaign" --logger "console;verbosity=normal" >"$out" 2>&1
rc=$?
cat "$COORDINATED_CAMPAIGN_LOG"
if [ $rc -ne 0 ]; then
  echo "--- the campaign failed; the end of the test runner's output:" >&2
  grep -v '^ *trial [0-9]' "$out" | tail -n 40 >&2
fi
rm -f "$out"
exit $rc
