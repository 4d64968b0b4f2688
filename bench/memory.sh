#!/usr/bin/env bash
# Memory of ferry against redis-server for KEYS small string keys.
#
# Builds ferry and bench/cmd/memfill, starts `ferry master` and
# `redis-server` (persistence off) on free loopback ports, loads exactly
# KEYS keys into each, one server after the other, the same way: SET
# key:<i> v000...<i> (VALSIZE-byte values, never integers) over one
# pipelined connection. Then it reads, for both servers:
#   - used_memory and used_memory_rss from INFO memory (Redis: allocator
#     bytes and RSS; ferry: Go heap in use and RSS), when the server has them;
#   - VmRSS and VmHWM (peak) from /proc/<pid>/status, the ground truth;
# right after loading and again after IDLE seconds idle (the Go runtime
# returns freed pages to the OS in the background; no GC is forced). Then,
# with OVERWRITE=1, it overwrites every key once with a new value of the same
# size (the garbage a write workload leaves behind) and samples again.
# It prints ferry/redis ratios. Target (issue 2): at most 1.50 after load.
#
# Settings (environment): KEYS (1000000), VALSIZE (10), IDLE (5),
# OVERWRITE (1).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

KEYS=${KEYS:-1000000}
VALSIZE=${VALSIZE:-10}
IDLE=${IDLE:-5}
OVERWRITE=${OVERWRITE:-1}

need go redis-server redis-cli
build_ferry
# memfill depends on nothing of ferry: always the working tree's.
(cd "$ROOT" && go build -o "$TMP/memfill" ./bench/cmd/memfill)
start_server redis
start_server ferry

RESULTS="$BENCH_DIR/results"
mkdir -p "$RESULTS"
stamp=$(date +%Y%m%d-%H%M%S)
csv="$RESULTS/memory-$stamp.csv"
md="$RESULTS/memory-$stamp.md"
info=$(machine_info)
notes=()

# info_field NAME FIELD prints FIELD of server NAME's INFO memory, or nothing.
info_field() {
  redis-cli -p "$(port_of "$1")" INFO memory 2>/dev/null | tr -d '\r' |
    awk -F: -v k="$2" '$1 == k {print $2}'
}

# proc_field NAME FIELD prints FIELD (VmRSS, VmHWM) of server NAME in bytes.
proc_field() {
  awk -v k="$2:" '$1 == k {print $2 * 1024}' "/proc/$(pid_of "$1")/status"
}

declare -A M

# sample WHEN records every figure of both servers under the label WHEN.
sample() {
  local s
  for s in redis ferry; do
    M[$s,$1,used_memory]=$(info_field "$s" used_memory)
    M[$s,$1,used_memory_rss]=$(info_field "$s" used_memory_rss)
    M[$s,$1,VmRSS]=$(proc_field "$s" VmRSS)
    M[$s,$1,VmHWM]=$(proc_field "$s" VmHWM)
  done
}

sample empty
for s in redis ferry; do
  echo "loading $KEYS keys into $s"
  "$TMP/memfill" -addr "127.0.0.1:$(port_of "$s")" -n "$KEYS" -valsize "$VALSIZE"
done
sample loaded
echo "idle ${IDLE}s"
sleep "$IDLE"
sample idle
phases="empty loaded idle"
if [ "$OVERWRITE" = 1 ]; then
  for s in redis ferry; do
    echo "overwriting $KEYS keys in $s"
    "$TMP/memfill" -addr "127.0.0.1:$(port_of "$s")" -n "$KEYS" -valsize "$VALSIZE" -round 1
  done
  sample overwritten
  echo "idle ${IDLE}s"
  sleep "$IDLE"
  sample overwritten_idle
  phases="$phases overwritten overwritten_idle"
fi

for s in redis ferry; do
  [ -n "${M[$s,loaded,used_memory]}" ] || notes+=("$s has no INFO memory used_memory: only /proc figures for it")
done

# mib prints bytes as MiB, or n/a.
mib() {
  if [ -z "$1" ]; then echo n/a; else awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; fi
}

# ratio prints $1/$2 with two decimals, or n/a.
ratio() {
  if [ -z "$1" ] || [ -z "$2" ] || [ "$2" = 0 ]; then echo n/a; else
    awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; fi
}

# per_key prints (after - before) / KEYS in bytes, or nothing.
per_key() {
  if [ -z "$1" ] || [ -z "$2" ]; then return; fi
  awk -v a="$1" -v b="$2" -v n="$KEYS" 'BEGIN {printf "%.0f", (a - b) / n}'
}

rows=()
echo "metric,when,redis_bytes,ferry_bytes,ferry_over_redis" >"$csv"
fmt="%-50s %12s %12s %8s\n"
echo
# shellcheck disable=SC2059
printf "$fmt" metric redis ferry ferry/redis
# row LABEL REDIS FERRY [UNIT] prints and records one line of the table.
row() {
  local r=$2 f=$3 q rd fd
  q=$(ratio "$f" "$r")
  if [ "${4:-}" = B ]; then
    rd=${r:+$r B} fd=${f:+$f B}
  else
    rd=$(mib "$r") fd=$(mib "$f")
  fi
  # shellcheck disable=SC2059
  printf "$fmt" "$1" "${rd:-n/a}" "${fd:-n/a}" "$q"
  echo "\"$1\",$r,$f,$q" >>"$csv"
  rows+=("| $1 | ${rd:-n/a} | ${fd:-n/a} | $q |")
}
for when in $phases; do
  case $when in
    empty) label="empty" ;;
    loaded) label="after load" ;;
    idle) label="after load + ${IDLE}s idle" ;;
    overwritten) label="after overwrite" ;;
    overwritten_idle) label="after overwrite + ${IDLE}s idle" ;;
  esac
  for metric in used_memory used_memory_rss VmRSS; do
    [ "$when" = empty ] && [ "$metric" = used_memory_rss ] && continue
    src=INFO
    [ "$metric" = VmRSS ] && src=/proc
    row "$metric ($src), $label" "${M[redis,$when,$metric]}" "${M[ferry,$when,$metric]}"
  done
done
last=${phases##* }
row "VmHWM peak RSS (/proc)" "${M[redis,$last,VmHWM]}" "${M[ferry,$last,VmHWM]}"
row "RSS per key, after load" "$(per_key "${M[redis,loaded,VmRSS]}" "${M[redis,empty,VmRSS]}")" \
  "$(per_key "${M[ferry,loaded,VmRSS]}" "${M[ferry,empty,VmRSS]}")" B
row "used_memory per key, after load" \
  "$(per_key "${M[redis,loaded,used_memory]}" "${M[redis,empty,used_memory]}")" \
  "$(per_key "${M[ferry,loaded,used_memory]}" "${M[ferry,empty,used_memory]}")" B

{
  echo "# memory: ferry vs redis-server, $KEYS string keys"
  echo
  echo "$info"
  echo "- data: SET key:<i> with a ${VALSIZE}-byte non-integer value, i in [0, $KEYS), pipelined (bench/cmd/memfill)"
  [ "$OVERWRITE" = 1 ] && echo "- overwrite: every key SET once more to a new value of the same size"
  echo "- ferry's INFO memory: used_memory is the Go heap in use, used_memory_rss the process RSS"
  echo
  echo "| metric | redis | ferry | ferry/redis |"
  echo "|---|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Target: ferry/redis <= 1.50 for used_memory and RSS after load."
  if [ ${#notes[@]} -gt 0 ]; then
    echo
    printf -- '- %s\n' "${notes[@]}"
  fi
} >"$md"

echo
if [ ${#notes[@]} -gt 0 ]; then printf 'note: %s\n' "${notes[@]}"; fi
echo "target ferry/redis <= 1.50 (used_memory and RSS after load)"
echo "results: ${md#"$ROOT"/} (also .csv)"
