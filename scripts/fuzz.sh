#!/usr/bin/env bash
# Runs one fuzz target briefly: scripts/fuzz.sh TARGET PACKAGE [go test flags...].
#
# Go's fuzzer can end a time-limited run with "context deadline exceeded"
# when the time runs out while a worker is busy, having found nothing (no
# failing input is written; seen in CI with -fuzzminimizetime=0 too). Such a
# run is tried once more; any other failure, and a failing input, fail at once.
set -uo pipefail
target=$1 pkg=$2
shift 2
for attempt in 1 2; do
  out=$(go test -run='^$' -fuzz="^${target}\$" "$@" "$pkg" 2>&1)
  rc=$?
  printf '%s\n' "$out" | grep -v '^fuzz: elapsed'
  [ $rc -eq 0 ] && exit 0
  if [ $attempt -eq 1 ] && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
    echo "fuzz.sh: $target ended with \"context deadline exceeded\" and no failing input: once more"
    continue
  fi
  exit $rc
done
