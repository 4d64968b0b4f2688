#!/usr/bin/env bash
# CPU profile of ferry under redis-benchmark.
#
# Builds bench/cmd/ferryprof (the same master as `ferry master`, in process,
# with runtime/pprof), starts it on a free loopback port, runs one
# redis-benchmark test against it, stops it (SIGINT: the profile is written
# on the way out) and prints `go tool pprof -top`. The profile and the
# binary stay in bench/results/ for `go tool pprof -http=:8080 BIN PROFILE`.
#
# Settings (environment):
#   TEST      redis-benchmark test     (set)
#   PIPELINE  pipeline depth           (16)
#   CLIENTS   parallel connections     (50)
#   N         requests                 (3000000)
#   TOP       rows of the report       (40)
#   MUTEX     1: also a mutex contention profile (0)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

TEST=${TEST:-set}
PIPELINE=${PIPELINE:-16}
CLIENTS=${CLIENTS:-50}
N=${N:-3000000}
TOP=${TOP:-40}
MUTEX=${MUTEX:-0}

need go redis-cli redis-benchmark
RESULTS="$BENCH_DIR/results"
mkdir -p "$RESULTS"
stamp=$(date +%Y%m%d-%H%M%S)
base="$RESULTS/profile-$TEST-P$PIPELINE-$stamp"
build ferryprof ./bench/cmd/ferryprof
cp "$TMP/ferryprof" "$base.bin"

FERRYPROF_ARGS=(-cpuprofile "$base.cpu.pprof")
if [ "$MUTEX" = 1 ]; then
  FERRYPROF_ARGS+=(-mutexprofile-fraction 5 -pprof "127.0.0.1:$(pick_port)")
fi
start_server ferryprof
if [ "$TEST" = get ]; then redis-cli -p "$FERRY_PORT" SET key:__rand_int__ xxx >/dev/null; fi
if [ "$TEST" = rpop ]; then
  redis-benchmark -p "$FERRY_PORT" -c "$CLIENTS" -n "$N" -P 16 -t lpush -q >/dev/null 2>&1 || true
fi
redis-benchmark -p "$FERRY_PORT" -c "$CLIENTS" -n "$N" -P "$PIPELINE" -t "$TEST" -q 2>&1 |
  tr '\r' '\n' | grep -E 'requests per second|rror'
if [ "$MUTEX" = 1 ]; then
  # Contention accumulates from the start: fetch it once the run is over.
  curl -sf "http://${FERRYPROF_ARGS[-1]}/debug/pprof/mutex" -o "$base.mutex.pprof" || true
fi
stop_server "$FERRY_PID"

go tool pprof -top -nodecount="$TOP" "$base.bin" "$base.cpu.pprof" 2>/dev/null | tee "$base.top.txt"
echo
go tool pprof -top -cum -nodecount="$TOP" "$base.bin" "$base.cpu.pprof" 2>/dev/null | tee "$base.cum.txt"
if [ -s "${base}.mutex.pprof" ]; then
  echo
  go tool pprof -top -nodecount=15 "$base.bin" "$base.mutex.pprof" 2>/dev/null | tee "$base.mutex.txt"
fi
echo
echo "profile: ${base#"$ROOT"/}.cpu.pprof (binary ${base#"$ROOT"/}.bin)"
