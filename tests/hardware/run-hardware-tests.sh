#!/usr/bin/env bash
# Builds tests/Hardware.Tests and runs its [Trait("Category","Hardware")] tests as root inside the qemu guest
# (tests/hardware/run-in-qemu.sh), then copies the .trx into $TEST_RESULTS_DIR. Fails loudly when anything is
# missing: no kernel, no qemu, no tests run. Extra arguments go to the test run (e.g. --filter FullyQualifiedName~Gpio).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
results="${TEST_RESULTS_DIR:-$root/artifacts/test-results}"
mkdir -p "$results"
start=$(date +%s)

project="$root/tests/Hardware.Tests/Hardware.Tests.csproj"
# Under the lanes' build lock (tests/lanes/lib/lane-helpers.sh): another lane may be building beside this one.
mkdir -p "$root/artifacts"
flock "$root/artifacts/.lane-build.lock" dotnet build "$project" -c Release -warnaserror -nologo -v:q
dll="$root/tests/Hardware.Tests/bin/Release/net10.0/Hardware.Tests.dll"
[ -f "$dll" ] || { echo "hardware lane: ERROR: $dll was not built"; exit 1; }

work=$(mktemp -d /tmp/hwlane.XXXXXX)
trap 'rm -rf "$work"' EXIT
filter="Category=Hardware"
extra=""
if [ "${1:-}" = "--filter" ] && [ -n "${2:-}" ]; then filter="Category=Hardware&$2"; shift 2; fi
extra="$*"
set +e
# The test host starts slowly under TCG on a loaded machine (seen: over vstest's default 90 s with load 38 on 2 cores).
cd "$root"  # the guest runs the command in the checkout (shared on its own when under /tmp)
# run-in-qemu's 280 s default is too tight for the whole lane on a loaded machine since the MQTT → gpio-sim test
# (48 s to 2 min under TCG, the app's JIT dominating) joined it: the whole lane took 546 s at load average ~17.
HWLANE_TIMEOUT="${HWLANE_TIMEOUT:-900}" HWLANE_WORK="$work" "$here/run-in-qemu.sh" \
  "VSTEST_CONNECTION_TIMEOUT=${VSTEST_CONNECTION_TIMEOUT:-300} dotnet test '$dll' --filter '$filter' --results-directory /tmp/hwlane/results --logger 'trx;LogFileName=hardware.trx' --logger 'console;verbosity=normal' $extra"
rc=$?
set -e
trx="$work/results/hardware.trx"
if [ ! -f "$trx" ]; then
  echo "hardware lane: ERROR: no test results came back from the guest (exit status $rc)"
  exit 1
fi
cp "$trx" "$results/hardware-$(date +%s).trx"
total=$(grep -o '<Counters [^>]*>' "$trx" | sed -n 's/.*total="\([0-9]*\)".*/\1/p')
if [ "${total:-0}" -eq 0 ]; then
  echo "hardware lane: ERROR: no Hardware test ran"
  exit 1
fi
echo "hardware lane: $(grep -o '<Counters [^>]*>' "$trx") in $(( $(date +%s) - start )) s"
exit "$rc"
