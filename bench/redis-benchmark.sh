#!/usr/bin/env bash
# Throughput of ferry against redis-server, side by side in one run.
#
# Builds ferry, starts `ferry master` and `redis-server` (persistence off) on
# free loopback ports, then for every pipeline depth and test runs
# redis-benchmark against both servers alternately (redis first on odd
# repetitions, ferry first on even ones), REPS times each, and reports the
# median requests per second of each server and their ratio ferry/redis.
# Target (issue 2): ferry/redis >= 1.00 on every row.
#
# Settings (environment):
#   TESTS      redis-benchmark tests    (set,get,incr,lpush,rpop,hset,sadd,zadd)
#   PIPELINES  pipeline depths, spaced  ("1 16")
#   REPS       runs per server and row  (5; the median is reported)
#   CLIENTS    parallel connections     (50)
#   N_P1       requests per run at -P 1 (60000)
#   N_PIPE     requests per run at -P>1 (600000)
#   STRICT     1: exit 1 when a row misses the target or errors (0)
#
# Every run uses redis-benchmark's defaults otherwise: no -r, so each test hits
# one key (key:__rand_int__, counter:__rand_int__, mylist, myhash, myset,
# myzset) with 3-byte values. Before each run the server is flushed
# (FLUSHALL), GET gets its key set and RPOP gets its list filled with as many
# elements as the run pops (an unmeasured LPUSH run), so both servers see the
# same state. Results go to bench/results/ (gitignored) as CSV and markdown.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

TESTS=${TESTS:-set,get,incr,lpush,rpop,hset,sadd,zadd}
PIPELINES=${PIPELINES:-1 16}
REPS=${REPS:-5}
CLIENTS=${CLIENTS:-50}
N_P1=${N_P1:-60000}
N_PIPE=${N_PIPE:-600000}
STRICT=${STRICT:-0}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}

need go redis-server redis-cli redis-benchmark timeout
build_ferry
start_server redis
start_server ferry

RESULTS="$BENCH_DIR/results"
mkdir -p "$RESULTS"
stamp=$(date +%Y%m%d-%H%M%S)
raw="$RESULTS/redis-benchmark-$stamp.raw.csv"
csv="$RESULTS/redis-benchmark-$stamp.csv"
md="$RESULTS/redis-benchmark-$stamp.md"
echo "server,test,pipeline,requests,rep,rps,cpu_us_per_req" >"$raw"
echo "test,pipeline,requests,redis_rps,ferry_rps,ferry_over_redis,redis_cpu_us,ferry_cpu_us,cpu_ferry_over_redis,noise_pct" >"$csv"
info=$(machine_info)
notes=()

# Both servers must reset their state the same way; say so if ferry can't.
if [ "$(redis-cli -p "$FERRY_PORT" FLUSHALL 2>&1)" != OK ]; then
  notes+=("ferry has no FLUSHALL yet: its keys were not reset between runs (redis's were)")
fi

# requests P prints the request count of one run at pipeline depth P.
requests() {
  if [ "$1" -eq 1 ]; then echo "$N_P1"; else echo "$N_PIPE"; fi
}

# prepare NAME TEST N resets server NAME's state before a run of TEST.
prepare() {
  local port
  port=$(port_of "$1")
  redis-cli -p "$port" FLUSHALL >/dev/null 2>&1 || true
  case $2 in
    get) redis-cli -p "$port" SET key:__rand_int__ xxx >/dev/null 2>&1 || true ;;
    rpop)
      timeout "$RUN_TIMEOUT" redis-benchmark -p "$port" -c "$CLIENTS" -n "$3" -P 16 -t lpush -q \
        >/dev/null 2>&1 || true
      ;;
  esac
}

# cpu_ticks NAME prints the CPU time (user + system, all threads) server
# NAME has used so far, in clock ticks.
cpu_ticks() {
  sed 's/.*) //' "/proc/$(pid_of "$1")/stat" | awk '{print $12 + $13}'
}

# measure NAME TEST P N runs redis-benchmark once and prints the requests
# per second and the server's CPU time per request in microseconds, or
# "error error" (the reason goes to $TMP/error.NAME.TEST).
measure() {
  local port out rps up rc=0 t0 t1
  port=$(port_of "$1")
  up=$(echo "$2" | tr '[:lower:]' '[:upper:]')
  t0=$(cpu_ticks "$1")
  out=$(timeout "$RUN_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$4" \
    -P "$3" -t "$2" -q --csv 2>"$TMP/stderr") || rc=$?
  t1=$(cpu_ticks "$1")
  rps=$(printf '%s\n' "$out" | awk -F, -v t="\"$up\"" '$1 == t {gsub(/"/, "", $2); print $2}')
  if [ "$rc" -ne 0 ] || [ -z "$rps" ]; then
    if [ "$rc" -eq 124 ]; then
      echo "no result within ${RUN_TIMEOUT}s" >"$TMP/error.$1.$2"
    else
      # The first line of stderr that is not a warning says what went wrong.
      awk '!/^WARNING/ && NF {sub(/ +$/, ""); print; found = 1; exit}
        END {if (!found) print "redis-benchmark failed"}' "$TMP/stderr" >"$TMP/error.$1.$2"
    fi
    echo error error
    return
  fi
  awk -v r="$rps" -v d="$((t1 - t0))" -v hz="$HZ" -v n="$4" 'BEGIN {printf "%s %.3f\n", r, d / hz * 1e6 / n}'
}

HZ=$(getconf CLK_TCK)
rows=()
fmt="%-6s %3s %10s %10s %7s  %9s %9s %7s %6s\n"
echo
# shellcheck disable=SC2059
printf "$fmt" test P "redis" "ferry" "f/r" "redis_us" "ferry_us" "f/r" noise
echo "(requests/s; server CPU microseconds per request; noise: largest (max-min)/median of a server's runs)"
start=$SECONDS
for p in $PIPELINES; do
  n=$(requests "$p")
  for t in ${TESTS//,/ }; do
    r=() f=() rc=() fc=()
    for ((i = 1; i <= REPS; i++)); do
      if ((i % 2)); then order="redis ferry"; else order="ferry redis"; fi
      for s in $order; do
        prepare "$s" "$t" "$n"
        read -r v c < <(measure "$s" "$t" "$p" "$n")
        echo "$s,$t,$p,$n,$i,$v,$c" >>"$raw"
        if [ "$s" = redis ]; then r+=("$v") rc+=("$c"); else f+=("$v") fc+=("$c"); fi
      done
    done
    rm_=$(median "${r[@]}")
    fm=$(median "${f[@]}")
    rcm=$(DEC=3 median "${rc[@]}")
    fcm=$(DEC=3 median "${fc[@]}")
    q=$(ratio "$fm" "$rm_")
    cq=$(ratio "$fcm" "$rcm")
    noise=$( (spread "${r[@]}"; spread "${f[@]}") | sort -g | tail -n 1)
    noise=${noise:+$noise%}
    if [ "$q" = error ]; then
      for s in redis ferry; do
        [ -f "$TMP/error.$s.$t" ] && notes+=("$t -P $p on $s: $(cat "$TMP/error.$s.$t")")
        rm -f "$TMP/error.$s.$t"
      done
    fi
    # shellcheck disable=SC2059
    printf "$fmt" "$t" "$p" "$rm_" "$fm" "$q" "$rcm" "$fcm" "$cq" "${noise:--}"
    echo "$t,$p,$n,$rm_,$fm,$q,$rcm,$fcm,$cq,${noise%\%}" >>"$csv"
    rows+=("| $t | $p | $rm_ | $fm | **$q** | $rcm | $fcm | $cq | ${noise:--} |")
  done
done
elapsed=$((SECONDS - start))

miss=0
total=${#rows[@]}
while IFS=, read -r _ _ _ _ _ q _; do
  if [ "$q" = error ] || awk -v r="$q" 'BEGIN {exit !(r < 1.0)}'; then miss=$((miss + 1)); fi
done < <(tail -n +2 "$csv")

{
  echo "# redis-benchmark: ferry vs redis-server"
  echo
  echo "$info"
  echo "- settings: -c $CLIENTS, -n $N_P1 at -P 1 and $N_PIPE deeper, median of $REPS runs per server, alternating; ${elapsed}s"
  echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "| test | pipeline | redis rps | ferry rps | ferry/redis | redis CPU µs/req | ferry CPU µs/req | ferry/redis CPU | noise |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Target: ferry/redis >= 1.00 on every row; $((total - miss)) of $total rows meet it."
  echo "CPU µs/req is the server process's user+system CPU time during the run divided by the"
  echo "requests (lower is better); noise is the larger of the two servers' (max-min)/median."
  if [ ${#notes[@]} -gt 0 ]; then
    echo
    printf -- '- %s\n' "${notes[@]}"
  fi
} >"$md"

echo
echo "target ferry/redis >= 1.00: $((total - miss)) of $total rows meet it (${elapsed}s)"
if [ ${#notes[@]} -gt 0 ]; then printf 'note: %s\n' "${notes[@]}"; fi
echo "results: ${md#"$ROOT"/} (also .csv, .raw.csv)"
if [ "$STRICT" = 1 ] && [ "$miss" -gt 0 ]; then exit 1; fi
