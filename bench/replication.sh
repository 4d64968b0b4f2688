#!/usr/bin/env bash
# Replication benchmarks (issue 3): ferry master + replica over NATS JetStream
# against redis-server master + replica, side by side in one run.
#
# Starts a NATS server (nats-server v2.15.2 built from the Go module proxy,
# JetStream on a temp dir, loopback), two ferry masters, `--ack durable` on
# dataset "bench" and `--ack async` on "bench-async", each followed by a
# `ferry replica`, and redis-server with a redis-server replica attached
# (persistence off on both). Then, in parts (PARTS):
#
#   throughput  redis-benchmark -r KEYSPACE -c CLIENTS against each master,
#               per test and pipeline depth, interleaved (the order rotates
#               every repetition), REPS times; the median requests/s of each
#               and ferry/redis. Before each run the master is flushed and its
#               replica is caught up; after it, the time the replica needs to
#               catch up is recorded. CPU is the user+system time of every
#               server process of the setup (ferry: master, replica and
#               nats-server; redis: master and replica) per request, in total
#               and by process.
#               Targets: durable >= 1.00x, async >= 1.20x of redis.
#   lag         bench/lag at half of each master's SET -P 1 maximum (from
#               the throughput part, or one quick run), LAG_REPS times,
#               interleaved: replication lag from the master's reply to the
#               write being visible on the replica, p50 and p99.
#               Target: ferry p99 <= 5 ms.
#   readlag     the same at READLAG_RATE SET/s while redis-benchmark GET
#               -P 16 -c CLIENTS keeps each replica busy (after one SET -P 16
#               run fills the masters): does a replica serving reads flat
#               out fall behind its master? Not part of the default PARTS;
#               no target.
#   catchup     for each k in CATCHUP_PER_ENTRY, bench/catchup fills dataset
#               "catchup-k" with CATCHUP_N/k entries of k SET effects each
#               (stream/jetstream AppendAsync; k = 1 is one effect per
#               message, the worst case; a master's group commit puts ~12 in
#               one entry at -P 1 with 50 clients), then, CATCHUP_REPS times,
#               alternating: the raw stream/jetstream Read rate (nothing
#               applied) and a fresh `ferry replica` process timed from its
#               start until INFO shows slave_repl_offset = the last offset;
#               then once an in-process replica.Replica (CPU-profiled for
#               k = 1 when the profile part runs).
#               Target: >= 500,000 effects/s (k = 1).
#   large       SET of large values (LARGE_SIZES bytes, 4 connections, 100
#               keys, LARGE_MB MB written per run), REPS runs interleaved:
#               requests/s and MB/s of each setup, ferry/redis. nats-server
#               runs with its default max_payload (1 MB), so values above it
#               go through the log's object store. Not part of the default
#               PARTS; no target (large writes were refused before).
#   profile     CPU profiles (go tool pprof -top) of a ferry master, its
#               replica and nats-server under PROFILE_TEST -P PROFILE_P with
#               --ack PROFILE_ACK (on a dataset of their own, "bench-prof"),
#               and of the in-process replay. ferry is
#               rebuilt for this with a go build -overlay file that serves
#               net/http/pprof when FERRY_BENCH_PPROF is set; the measured
#               binary has no such file.
#
# Settings (environment):
#   PARTS        parts to run                         (throughput lag catchup profile)
#   TESTS        redis-benchmark tests                (set,incr,lpush,hset)
#   PIPELINES    pipeline depths                      ("1 16")
#   REPS         runs per setup and row               (3)
#   CLIENTS      redis-benchmark connections          (50)
#   KEYSPACE     redis-benchmark -r                   (100000)
#   N_P1, N_PIPE requests per run at -P 1 / deeper    (50000, 500000)
#   LAG_REPS     lag runs per setup                   (3)
#   LAG_SECONDS  measured seconds per lag run         (5)
#   LAG_CONNS    load connections of bench/lag        (4)
#   READLAG_RATE SET/s of the readlag part             (2000)
#   CATCHUP_N    effects in each catch-up log         (1000000)
#   CATCHUP_REPS catch-up runs of each kind           (3)
#   CATCHUP_PER_ENTRY  effects per entry, one log each ("1 10")
#   LARGE_SIZES  value sizes of the large part        ("500000 2000000 20000000")
#   LARGE_MB     MB written per large run             (200)
#   PROFILE_TEST, PROFILE_P, PROFILE_ACK, PROFILE_SECONDS  (set, 1, durable, 8)
#   NATS_SERVER  a nats-server binary to use instead of building one
#   NATS_PROCS   GOMAXPROCS of that nats-server        (unset: its default)
#   FERRY_NATS   where the ferry masters' logs live: "shared" (the one
#                nats-server process; its CPU counts for both setups) or
#                "embedded" (each master runs its own NATS server in-process,
#                --nats embedded, its replica connects to it over TCP, and
#                its CPU is the master's; the catch-up part still uses the
#                shared server)                        (shared)
#   STRICT       1: exit 1 when a target is missed    (0)
#
# Results go to bench/results/ (gitignored): replication-<stamp>.md, .csv
# (throughput), .lag.csv, .catchup.csv, .raw.csv (every run), and the
# profiles with the binaries they were taken from.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PARTS=${PARTS:-throughput lag catchup profile}
TESTS=${TESTS:-set,incr,lpush,hset}
PIPELINES=${PIPELINES:-1 16}
REPS=${REPS:-3}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
N_P1=${N_P1:-50000}
N_PIPE=${N_PIPE:-500000}
LAG_REPS=${LAG_REPS:-3}
LAG_SECONDS=${LAG_SECONDS:-5}
LAG_CONNS=${LAG_CONNS:-4}
READLAG_RATE=${READLAG_RATE:-2000}
CATCHUP_N=${CATCHUP_N:-1000000}
CATCHUP_REPS=${CATCHUP_REPS:-3}
CATCHUP_PER_ENTRY=${CATCHUP_PER_ENTRY:-1 10}
PROFILE_TEST=${PROFILE_TEST:-set}
PROFILE_P=${PROFILE_P:-1}
PROFILE_ACK=${PROFILE_ACK:-durable}
PROFILE_SECONDS=${PROFILE_SECONDS:-8}
LARGE_SIZES=${LARGE_SIZES:-500000 2000000 20000000}
LARGE_MB=${LARGE_MB:-200}
STRICT=${STRICT:-0}
FERRY_NATS=${FERRY_NATS:-shared}
case $FERRY_NATS in shared | embedded) ;; *) echo "bench: FERRY_NATS is shared or embedded, not $FERRY_NATS" >&2; exit 2 ;; esac
RUN_TIMEOUT=${RUN_TIMEOUT:-120}


need go redis-server redis-cli redis-benchmark timeout curl
started=$SECONDS
echo "building ferry, bench/lag, bench/catchup..."
build_ferry
build lag ./bench/lag
build catchup ./bench/catchup
build_nats_server

RESULTS="$BENCH_DIR/results"
mkdir -p "$RESULTS"
stamp=$(date +%Y%m%d-%H%M%S)
base="$RESULTS/replication-$stamp"
raw="$base.raw.csv"
csv="$base.csv"
md="$base.md"
lagcsv="$base.lag.csv"
cucsv="$base.catchup.csv"
echo "part,setup,test,pipeline,requests,rep,value,cpu_us_per_req_or_p99_us,replica_catchup_s_or_max_us,cpu_us_per_req_by_process" >"$raw"
echo "test,pipeline,redis_rps,durable_rps,async_rps,durable_over_redis,async_over_redis,redis_cpu_us,durable_cpu_us,async_cpu_us,noise_pct" >"$csv"
echo "kind,setup,rate,achieved,lag_p50_us,lag_p99_us,lag_max_us,set_p50_us,get_rtt_us,noise_pct" >"$lagcsv"
echo "kind,entries,effects_per_entry,entries_per_s,effects_per_s,noise_pct" >"$cucsv"
info=$(machine_info)
notes=()
SETUPS=(redis durable async)
declare -A MPORT RPORT PIDS DSNATS

# start_ferry_master ACK DATASET [BINARY] starts a ferry master on the NATS
# server (FERRY_NATS=embedded: on its own, in-process; DSNATS[DATASET] is
# then its URL); sets FERRY_PORT and FERRY_PID.
start_ferry_master() {
  local bin=${3:-$TMP/ferry} try port pid nport nats
  for ((try = 0; try < 5; try++)); do
    port=$(pick_port)
    nats=(--nats "$NATS_URL")
    if [ "$FERRY_NATS" = embedded ]; then
      nport=$(pick_port)
      nats=(--nats embedded --nats-port "$nport" --data-dir "$TMP/embedded-$2")
      DSNATS[$2]=nats://127.0.0.1:$nport
    fi
    "$bin" master --addr "127.0.0.1:$port" "${nats[@]}" --dataset "$2" --ack "$1" --new-dataset \
      --log-level error 2>>"$TMP/ferry-$2.log" &
    pid=$!
    if wait_ping "$port" "$pid"; then
      SERVER_PIDS+=("$pid")
      FERRY_PORT=$port FERRY_PID=$pid
      return 0
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  echo "bench: could not start ferry master ($1, $2); its log:" >&2
  cat "$TMP/ferry-$2.log" >&2
  exit 1
}

# start_ferry_replica DATASET [BINARY] starts a ferry replica of DATASET and
# waits until it serves; sets REPLICA_PORT and REPLICA_PID.
start_ferry_replica() {
  local bin=${2:-$TMP/ferry} try port pid
  for ((try = 0; try < 5; try++)); do
    port=$(pick_port)
    "$bin" replica --addr "127.0.0.1:$port" --nats "${DSNATS[$1]:-$NATS_URL}" --dataset "$1" \
      --log-level error 2>>"$TMP/ferry-replica-$1.log" &
    pid=$!
    if wait_ping "$port" "$pid"; then
      SERVER_PIDS+=("$pid")
      REPLICA_PORT=$port REPLICA_PID=$pid
      return 0
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  echo "bench: could not start ferry replica ($1); its log:" >&2
  cat "$TMP/ferry-replica-$1.log" >&2
  exit 1
}

# start_redis_replica starts a redis-server replica of $REDIS_PORT and waits
# for master_link_status:up; sets REPLICA_PORT and REPLICA_PID.
start_redis_replica() {
  local try i port pid
  mkdir -p "$TMP/redis-replica"
  # The master waits 5 s for more replicas before a full sync by default.
  redis-cli -p "$REDIS_PORT" CONFIG SET repl-diskless-sync-delay 0 >/dev/null
  for ((try = 0; try < 5; try++)); do
    port=$(pick_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --dir "$TMP/redis-replica" --daemonize no --logfile "$TMP/redis-replica.log" \
      --replicaof 127.0.0.1 "$REDIS_PORT" &
    pid=$!
    if wait_ping "$port" "$pid"; then
      SERVER_PIDS+=("$pid")
      for ((i = 0; i < 300; i++)); do
        if redis-cli -p "$port" INFO replication | grep -q '^master_link_status:up'; then
          REPLICA_PORT=$port REPLICA_PID=$pid
          return 0
        fi
        sleep 0.1
      done
      echo "bench: the redis replica did not link up; its log:" >&2
      cat "$TMP/redis-replica.log" >&2
      exit 1
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  echo "bench: could not start the redis replica" >&2
  exit 1
}

NATS_WITH_PPROF=1 start_nats
start_server redis
start_redis_replica
MPORT[redis]=$REDIS_PORT RPORT[redis]=$REPLICA_PORT PIDS[redis]="$REDIS_PID $REPLICA_PID"
# With FERRY_NATS=embedded the NATS server is inside the master, so the
# setup's third process is the shared, idle nats-server.
start_ferry_master durable bench
start_ferry_replica bench
MPORT[durable]=$FERRY_PORT RPORT[durable]=$REPLICA_PORT PIDS[durable]="$FERRY_PID $REPLICA_PID $NATS_PID"
start_ferry_master async bench-async
start_ferry_replica bench-async
MPORT[async]=$FERRY_PORT RPORT[async]=$REPLICA_PORT PIDS[async]="$FERRY_PID $REPLICA_PID $NATS_PID"
echo "nats $NATS_URL; redis ${MPORT[redis]} -> ${RPORT[redis]}; ferry durable ${MPORT[durable]} -> ${RPORT[durable]}; ferry async ${MPORT[async]} -> ${RPORT[async]}"

HZ=$(getconf CLK_TCK)

# cpu_ticks SETUP prints the CPU time (user + system) each server process
# of SETUP (master, replica[, nats-server]) has used so far, in clock ticks.
cpu_ticks() {
  local p out=()
  for p in ${PIDS[$1]}; do
    out+=("$(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')")
  done
  echo "${out[@]}"
}

# catchup_replica SETUP waits until SETUP's replica has applied everything
# its master has, and prints how long that took in seconds.
catchup_replica() {
  "$TMP/catchup" sync -master "127.0.0.1:${MPORT[$1]}" -replica "127.0.0.1:${RPORT[$1]}" |
    awk '/^RESULT/ {for (i = 2; i <= NF; i++) if ($i ~ /^seconds=/) {sub("seconds=", "", $i); print $i}}'
}

# result_field NAME prints field NAME of the RESULT line on stdin.
result_field() {
  awk -v k="$1" '/^RESULT/ {for (i = 2; i <= NF; i++) {split($i, kv, "="); if (kv[1] == k) print kv[2]}}'
}

# measure SETUP TEST P N flushes SETUP's master, waits for its replica, runs
# redis-benchmark once and prints the requests per second, the CPU time of
# SETUP's servers per request in µs, how long the replica took to catch up
# afterwards, and the CPU µs per request of each process (master/replica[/nats]);
# "error error error error" on failure (reason in $TMP/error.SETUP.TEST).
measure() {
  local port out rps up rc=0 t0 t1 lagged
  port=${MPORT[$1]}
  up=$(echo "$2" | tr '[:lower:]' '[:upper:]')
  redis-cli -p "$port" FLUSHALL >/dev/null 2>&1 || true
  catchup_replica "$1" >/dev/null || true
  t0=$(cpu_ticks "$1")
  out=$(timeout "$RUN_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$4" \
    -P "$3" -t "$2" -r "$KEYSPACE" ${VALUE_SIZE:+-d "$VALUE_SIZE"} -q --csv 2>"$TMP/stderr") || rc=$?
  t1=$(cpu_ticks "$1")
  lagged=$(catchup_replica "$1" || echo error)
  rps=$(printf '%s\n' "$out" | awk -F, -v t="\"$up\"" '$1 == t {gsub(/"/, "", $2); print $2}')
  if [ "$rc" -ne 0 ] || [ -z "$rps" ]; then
    if [ "$rc" -eq 124 ]; then
      echo "no result within ${RUN_TIMEOUT}s" >"$TMP/error.$1.$2"
    else
      awk '!/^WARNING/ && NF {sub(/ +$/, ""); print; found = 1; exit}
        END {if (!found) print "redis-benchmark failed"}' "$TMP/stderr" >"$TMP/error.$1.$2"
    fi
    echo error error error error
    return
  fi
  awk -v r="$rps" -v a="$t0" -v b="$t1" -v hz="$HZ" -v n="$4" -v l="$lagged" 'BEGIN {
    k = split(a, x, " "); split(b, y, " "); tot = 0; parts = ""
    for (i = 1; i <= k; i++) {
      us = (y[i] - x[i]) / hz * 1e6 / n; tot += us
      parts = parts (i > 1 ? "/" : "") sprintf("%.1f", us)
    }
    printf "%s %.2f %s %s\n", r, tot, l, parts }'
}

# median_part J ITEMS... prints the median of the J-th /-separated field of ITEMS.
median_part() {
  local j=$1
  shift
  # shellcheck disable=SC2046
  DEC=1 median $(printf '%s\n' "$@" | awk -F/ -v j="$j" '{print ($1 == "error") ? "error" : $j}')
}

# maxof prints the largest of its arguments.
maxof() { printf '%s\n' "$@" | grep -v error | sort -g | tail -n 1; }

# order I prints the setups in the order of repetition I (rotating).
order() {
  local i=$1 k n=${#SETUPS[@]} out=()
  for ((k = 0; k < n; k++)); do out+=("${SETUPS[$(((i + k) % n))]}"); done
  echo "${out[@]}"
}

below() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a < b)}'; }

declare -A SETP1 # median SET -P 1 rps per setup, for the lag part
tp_rows=() cpu_rows=() lag_rows=() readlag_rows=() cu_rows=() prof_lines=() large_rows=()
misses=0

# ---------------------------------------------------------------- throughput
if has_part throughput; then
  echo
  echo "== throughput: redis-benchmark -c $CLIENTS -r $KEYSPACE, median of $REPS, interleaved"
  fmt="%-6s %3s %9s %9s %6s %9s %6s  %8s %8s %8s %6s\n"
  # shellcheck disable=SC2059
  printf "$fmt" test P redis durable d/r async a/r "redis_us" "dur_us" "async_us" noise
  echo "(requests/s; CPU µs per request of all the setup's server processes)"
  tstart=$SECONDS
  maxlag_r=() maxlag_d=() maxlag_a=()
  for p in $PIPELINES; do
    if [ "$p" -eq 1 ]; then n=$N_P1; else n=$N_PIPE; fi
    for t in ${TESTS//,/ }; do
      declare -A V=() C=() B=()
      for s in "${SETUPS[@]}"; do V[$s]="" C[$s]="" B[$s]=""; done
      for ((i = 0; i < REPS; i++)); do
        for s in $(order "$i"); do
          read -r v c l b < <(measure "$s" "$t" "$p" "$n")
          echo "throughput,$s,$t,$p,$n,$((i + 1)),$v,$c,$l,$b" >>"$raw"
          V[$s]+="$v " C[$s]+="$c " B[$s]+="$b "
          case $s in redis) maxlag_r+=("$l") ;; durable) maxlag_d+=("$l") ;; async) maxlag_a+=("$l") ;; esac
        done
      done
      declare -A M=() MC=()
      noise=0
      for s in "${SETUPS[@]}"; do
        # shellcheck disable=SC2086
        M[$s]=$(median ${V[$s]})
        # shellcheck disable=SC2086
        MC[$s]=$(DEC=2 median ${C[$s]})
        # shellcheck disable=SC2086
        sp=$(spread ${V[$s]})
        [ -n "$sp" ] && [ "$sp" -gt "$noise" ] && noise=$sp
        if [ "${M[$s]}" = error ]; then
          [ -f "$TMP/error.$s.$t" ] && notes+=("$t -P $p on $s: $(cat "$TMP/error.$s.$t")")
          rm -f "$TMP/error.$s.$t"
        fi
      done
      dr=$(ratio "${M[durable]}" "${M[redis]}")
      ar=$(ratio "${M[async]}" "${M[redis]}")
      if [ "$t" = set ] && [ "$p" -eq 1 ]; then
        for s in "${SETUPS[@]}"; do SETP1[$s]=${M[$s]}; done
      fi
      if [ "$dr" = error ] || below "$dr" 1.0; then misses=$((misses + 1)); fi
      if [ "$ar" = error ] || below "$ar" 1.2; then misses=$((misses + 1)); fi
      # shellcheck disable=SC2059
      printf "$fmt" "$t" "$p" "${M[redis]}" "${M[durable]}" "$dr" "${M[async]}" "$ar" \
        "${MC[redis]}" "${MC[durable]}" "${MC[async]}" "$noise%"
      echo "$t,$p,${M[redis]},${M[durable]},${M[async]},$dr,$ar,${MC[redis]},${MC[durable]},${MC[async]},$noise" >>"$csv"
      tp_rows+=("| $t | $p | ${M[redis]} | ${M[durable]} | **$dr** | ${M[async]} | **$ar** | ${MC[redis]} | ${MC[durable]} | ${MC[async]} | $noise% |")
      # shellcheck disable=SC2086
      cpu_rows+=("| $t | $p | $(median_part 1 ${B[redis]}) | $(median_part 2 ${B[redis]}) | $(median_part 1 ${B[durable]}) | $(median_part 2 ${B[durable]}) | $(median_part 3 ${B[durable]}) | $(median_part 1 ${B[async]}) | $(median_part 2 ${B[async]}) | $(median_part 3 ${B[async]}) |")
    done
  done
  tp_elapsed=$((SECONDS - tstart))
  tp_catchup="longest replica catch-up after a run: redis $(maxof "${maxlag_r[@]}") s, ferry durable $(maxof "${maxlag_d[@]}") s, ferry async $(maxof "${maxlag_a[@]}") s"
  echo "$tp_catchup (${tp_elapsed}s)"
fi

# --------------------------------------------------------------------- large
if has_part large; then
  echo
  echo "== large values: redis-benchmark -t set -c 4 -r 100 -d SIZE, ${LARGE_MB} MB per run, median of $REPS"
  fmt="%-10s %8s %8s %8s %6s %8s %6s %9s\n"
  # shellcheck disable=SC2059
  printf "$fmt" bytes n redis durable d/r async a/r "redis_MB/s"
  for size in $LARGE_SIZES; do
    n=$((LARGE_MB * 1000000 / size))
    [ "$n" -lt 10 ] && n=10
    declare -A V=()
    for s in "${SETUPS[@]}"; do V[$s]=""; done
    for ((i = 0; i < REPS; i++)); do
      for s in $(order "$i"); do
        read -r v c l b < <(CLIENTS=4 KEYSPACE=100 VALUE_SIZE=$size measure "$s" set 1 "$n")
        echo "large,$s,set-$size,1,$n,$((i + 1)),$v,$c,$l,$b" >>"$raw"
        V[$s]+="$v "
        if [ "$v" = error ] && [ -f "$TMP/error.$s.set" ]; then
          notes+=("SET of $size bytes on $s: $(cat "$TMP/error.$s.set")")
          rm -f "$TMP/error.$s.set"
        fi
      done
    done
    declare -A M=()
    # shellcheck disable=SC2086
    for s in "${SETUPS[@]}"; do M[$s]=$(DEC=1 median ${V[$s]}); done
    dr=$(ratio "${M[durable]}" "${M[redis]}")
    ar=$(ratio "${M[async]}" "${M[redis]}")
    mbs=$(awk -v r="${M[redis]}" -v s="$size" 'BEGIN {if (r == "error") print "error"; else printf "%.0f", r * s / 1e6}')
    # shellcheck disable=SC2059
    printf "$fmt" "$size" "$n" "${M[redis]}" "${M[durable]}" "$dr" "${M[async]}" "$ar" "$mbs"
    large_rows+=("| $size | $n | ${M[redis]} | ${M[durable]} | **$dr** | ${M[async]} | **$ar** | $mbs |")
  done
fi

# ----------------------------------------------------------------------- lag
# lag_part KIND runs bench/lag LAG_REPS times per setup, interleaved, and
# adds a row per setup to lag_rows (KIND lag: at half of each master's SET
# -P 1 maximum) or readlag_rows (KIND readlag: READLAG_RATE SET/s while
# redis-benchmark GET -P 16 keeps the replica busy).
lag_part() {
  local kind=$1 s i rate out l50 l99 t m50 m99 mmx mdone mset mrtt noise load
  declare -A L50 L99 LMX LDONE LSET LRTT
  for s in "${SETUPS[@]}"; do L50[$s]="" L99[$s]="" LMX[$s]="" LDONE[$s]="" LSET[$s]="" LRTT[$s]=""; done
  for ((i = 0; i < LAG_REPS; i++)); do
    for s in $(order "$i"); do
      rate=$(lag_rate "$kind" "$s")
      catchup_replica "$s" >/dev/null || true
      load=
      if [ "$kind" = readlag ]; then
        redis-benchmark -h 127.0.0.1 -p "${RPORT[$s]}" -c "$CLIENTS" -n 1000000000 -P 16 -t get \
          -r "$KEYSPACE" -q >/dev/null 2>&1 &
        load=$!
        sleep 1
      fi
      out=$("$TMP/lag" -master "127.0.0.1:${MPORT[$s]}" -replica "127.0.0.1:${RPORT[$s]}" \
        -rate "$rate" -conns "$LAG_CONNS" -keys "$KEYSPACE" -duration "${LAG_SECONDS}s" 2>&1) || out="failed: $out"
      if [ -n "$load" ]; then
        kill "$load" 2>/dev/null || true
        wait "$load" 2>/dev/null || true
      fi
      case $out in failed:*)
        notes+=("$kind on $s: $(printf '%s\n' "$out" | tail -n 1)")
        continue ;;
      esac
      l50=$(result_field lag_p50_us <<<"$out")
      l99=$(result_field lag_p99_us <<<"$out")
      echo "$kind,$s,set,1,,$((i + 1)),$l50,$l99,$(result_field lag_max_us <<<"$out")" >>"$raw"
      L50[$s]+="$l50 " L99[$s]+="$l99 " LMX[$s]+="$(result_field lag_max_us <<<"$out") "
      LDONE[$s]+="$(result_field achieved <<<"$out") " LSET[$s]+="$(result_field set_p50_us <<<"$out") "
      LRTT[$s]+="$(result_field get_rtt_p50_us <<<"$out") "
      t=$(result_field timeouts <<<"$out")
      [ "${t:-0}" -gt 0 ] && notes+=("$kind on $s, run $((i + 1)): $t probes never showed up on the replica within 10 s")
    done
  done
  for s in "${SETUPS[@]}"; do
    [ -n "${L99[$s]}" ] || continue
    rate=$(lag_rate "$kind" "$s")
    # shellcheck disable=SC2086
    m50=$(median ${L50[$s]}) m99=$(median ${L99[$s]}) mmx=$(median ${LMX[$s]})
    # shellcheck disable=SC2086
    mdone=$(median ${LDONE[$s]}) mset=$(median ${LSET[$s]}) mrtt=$(median ${LRTT[$s]})
    # shellcheck disable=SC2086
    noise=$(spread ${L99[$s]})
    # shellcheck disable=SC2059
    printf "$lagfmt" "$s" "$rate" "$mdone" "$m50" "$m99" "$mmx" "$mset" "$mrtt" "${noise:--}%"
    echo "$kind,$s,$rate,$mdone,$m50,$m99,$mmx,$mset,$mrtt,${noise:-}" >>"$lagcsv"
    row="| $s | $rate | $mdone | $m50 | **$m99** | $mmx | $mset | $mrtt | ${noise:--}% |"
    if [ "$kind" = lag ]; then
      lag_rows+=("$row")
      if [ "$s" != redis ] && awk -v a="$m99" 'BEGIN {exit !(a > 5000)}'; then misses=$((misses + 1)); fi
    else
      readlag_rows+=("$row")
    fi
  done
}

# lag_rate KIND SETUP prints the SET rate of a lag run.
lag_rate() {
  if [ "$1" = lag ]; then
    awk -v r="${SETP1[$2]}" 'BEGIN {printf "%.0f", r / 2}'
  else
    echo "$READLAG_RATE"
  fi
}

lagfmt="%-8s %8s %8s %9s %9s %9s %9s %9s %6s\n"
if has_part lag; then
  echo
  for s in "${SETUPS[@]}"; do
    if [ -z "${SETP1[$s]:-}" ] || [ "${SETP1[$s]}" = error ]; then
      read -r v _ _ < <(measure "$s" set 1 "$N_P1")
      SETP1[$s]=$v
      echo "lag,$s,set,1,$N_P1,0,$v,," >>"$raw"
    fi
  done
  echo "== lag: bench/lag at half of each master's SET -P 1 maximum, $LAG_CONNS connections, ${LAG_SECONDS}s, median of $LAG_REPS, interleaved"
  # shellcheck disable=SC2059
  printf "$lagfmt" setup rate done "lag_p50" "lag_p99" "lag_max" "set_p50" "get_rtt" noise
  echo "(SET/s; microseconds: lag from the master's reply to the replica showing the write)"
  lag_part lag
fi

# ------------------------------------------------------------------- readlag
if has_part readlag; then
  echo
  for s in "${SETUPS[@]}"; do
    # Keys for the replica's readers to find.
    redis-benchmark -h 127.0.0.1 -p "${MPORT[$s]}" -c "$CLIENTS" -n "$N_PIPE" -P 16 -t set \
      -r "$KEYSPACE" -q >/dev/null 2>&1 || notes+=("readlag: filling $s failed")
  done
  echo "== readlag: bench/lag at $READLAG_RATE SET/s while redis-benchmark GET -P 16 -c $CLIENTS loads the replica, ${LAG_SECONDS}s, median of $LAG_REPS, interleaved"
  # shellcheck disable=SC2059
  printf "$lagfmt" setup rate done "lag_p50" "lag_p99" "lag_max" "set_p50" "get_rtt" noise
  lag_part readlag
fi

# ------------------------------------------------------------------- catchup
if has_part catchup; then
  # entries_per_s SECONDS prints the current log's entries per second.
  entries_per_s() { awk -v n="$cu_entries" -v s="$1" 'BEGIN {if (s > 0) printf "%.0f", n / s; else print "error"}'; }
  # catchup_run KIND sets CU_RATE to the entries per second of one run of
  # KIND on dataset $cu_ds: read (stream/jetstream Read), process (a fresh
  # `ferry replica`) or replay (an in-process replica.Replica, with a CPU
  # profile of the one-effect log when the profile part runs).
  catchup_run() {
    local out port pid t0 prof=()
    CU_RATE=error
    case $1 in
      read | replay)
        if [ "$1" = replay ] && [ "$cu_per" = 1 ] && has_part profile; then
          prof=(-cpuprofile "$base-profile-replay.pprof")
        fi
        if out=$("$TMP/catchup" "$1" -nats "$NATS_URL" -dataset "$cu_ds" "${prof[@]}" 2>&1); then
          CU_RATE=$(entries_per_s "$(result_field seconds <<<"$out")")
        else
          notes+=("catch-up, $1 of $cu_ds: $out")
        fi
        ;;
      process)
        port=$(pick_port)
        t0=$(date +%s%N)
        "$TMP/ferry" replica --addr "127.0.0.1:$port" --nats "$NATS_URL" --dataset "$cu_ds" \
          --log-level error 2>>"$TMP/ferry-replica-$cu_ds.log" &
        pid=$!
        SERVER_PIDS+=("$pid")
        if out=$("$TMP/catchup" wait -addr "127.0.0.1:$port" -offset "$cu_last" -since "$t0" -timeout 2m 2>&1); then
          CU_RATE=$(entries_per_s "$(result_field seconds <<<"$out")")
        else
          notes+=("catch-up of a ferry replica process ($cu_ds): $out; INFO: $(redis-cli -p "$port" INFO replication 2>&1 |
            grep -E 'offset|link' | tr -d '\r' | tr '\n' ' '); log: $(tail -n 3 "$TMP/ferry-replica-$cu_ds.log" | tr '\n' ' ')")
        fi
        stop_server "$pid"
        ;;
    esac
  }
  for cu_per in $CATCHUP_PER_ENTRY; do
    cu_entries=$((CATCHUP_N / cu_per))
    cu_ds=catchup-$cu_per
    echo
    echo "== catch-up: $cu_entries log entries of $cu_per SET effect(s) each (dataset $cu_ds)"
    out=$("$TMP/catchup" fill -nats "$NATS_URL" -dataset "$cu_ds" -n "$cu_entries" -keys "$KEYSPACE" -per-entry "$cu_per")
    printf '%s\n' "$out" | grep -v '^RESULT'
    cu_last=$(result_field last <<<"$out")
    fill_rate=$(result_field rate <<<"$out")
    echo "catchup,fill-$cu_per,,,$cu_entries,1,$fill_rate,," >>"$raw"
    declare -A CU=([read]="" [process]="" [replay]="")
    for ((i = 0; i < CATCHUP_REPS; i++)); do
      if ((i % 2)); then kinds="process read"; else kinds="read process"; fi
      for kind in $kinds; do
        catchup_run "$kind"
        echo "  $kind: $CU_RATE entries/s"
        echo "catchup,$kind-$cu_per,,,$cu_entries,$((i + 1)),$CU_RATE,," >>"$raw"
        CU[$kind]+="$CU_RATE "
      done
    done
    # Once: the in-process replica (the process's apply loop without the
    # process start and the INFO polling).
    catchup_run replay
    echo "  replay: $CU_RATE entries/s"
    echo "catchup,replay-$cu_per,,,$cu_entries,1,$CU_RATE,," >>"$raw"
    CU[replay]=$CU_RATE
    for kind in read process replay; do
      # shellcheck disable=SC2086
      m=$(median ${CU[$kind]})
      # shellcheck disable=SC2086
      noise=$(spread ${CU[$kind]})
      [ "$kind" = replay ] && noise=""
      eff=$(awk -v m="$m" -v k="$cu_per" 'BEGIN {if (m == "error") print "error"; else printf "%.0f", m * k}')
      secs=$(awk -v m="$m" -v n="$cu_entries" 'BEGIN {if (m == "error") print "error"; else printf "%.2f", n / m}')
      echo "$kind,$cu_entries,$cu_per,$m,$eff,${noise:-}" >>"$cucsv"
      case $kind in
        read) what="stream/jetstream Read, nothing applied (median of $CATCHUP_REPS)" ;;
        process) what="fresh \`ferry replica\` process, start to slave_repl_offset = last (median of $CATCHUP_REPS)" ;;
        replay)
          what="in-process replica.Replica (one run)"
          if [ "$cu_per" = 1 ] && has_part profile; then what="in-process replica.Replica (one run, CPU-profiled)"; fi
          ;;
      esac
      cu_rows+=("| $cu_entries × $cu_per | $what | $m | **$eff** | $secs | ${noise:--}% |")
      echo "  $kind: $m entries/s, $eff effects/s (noise ${noise:--}%)"
      if [ "$kind" = process ] && [ "$cu_per" = 1 ] && { [ "$eff" = error ] || below "$eff" 500000; }; then
        misses=$((misses + 1))
      fi
    done
  done
fi

# ------------------------------------------------------------------- profile
if has_part profile; then
  echo
  echo "== profile: ferry master/replica/nats-server under $PROFILE_TEST -P $PROFILE_P, --ack $PROFILE_ACK, ${PROFILE_SECONDS}s"
  # A build that serves net/http/pprof when FERRY_BENCH_PPROF is set: an
  # extra file in package main through go build -overlay, so the source tree
  # is untouched.
  cat >"$TMP/benchpprof.go" <<'EOF'
package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	if addr := os.Getenv("FERRY_BENCH_PPROF"); addr != "" {
		go http.ListenAndServe(addr, nil)
	}
}
EOF
  printf '{"Replace": {"%s": "%s"}}\n' "$SRC/cmd/ferry/zz_benchpprof.go" "$TMP/benchpprof.go" >"$TMP/overlay.json"
  (cd "$SRC" && go build -overlay "$TMP/overlay.json" -o "$TMP/ferry-pprof" ./cmd/ferry)
  pm=$(pick_port) pr=$(pick_port)
  FERRY_BENCH_PPROF=127.0.0.1:$pm start_ferry_master "$PROFILE_ACK" bench-prof "$TMP/ferry-pprof"
  prof_mport=$FERRY_PORT
  FERRY_BENCH_PPROF=127.0.0.1:$pr start_ferry_replica bench-prof "$TMP/ferry-pprof"
  pbase="$base-profile-$PROFILE_TEST-P$PROFILE_P-$PROFILE_ACK"
  redis-benchmark -h 127.0.0.1 -p "$prof_mport" -c "$CLIENTS" \
    -n 100000000 -P "$PROFILE_P" -t "$PROFILE_TEST" -r "$KEYSPACE" -q >/dev/null 2>&1 &
  bpid=$!
  SERVER_PIDS+=("$bpid")
  sleep 1
  curl -sf "http://127.0.0.1:$pm/debug/pprof/profile?seconds=$PROFILE_SECONDS" -o "$pbase.master.pprof" &
  c1=$!
  curl -sf "http://127.0.0.1:$pr/debug/pprof/profile?seconds=$PROFILE_SECONDS" -o "$pbase.replica.pprof" &
  c2=$!
  curl -sf "http://127.0.0.1:$NATS_PPROF/debug/pprof/profile?seconds=$PROFILE_SECONDS" -o "$pbase.nats.pprof" &
  c3=$!
  declare -A PT0
  for name in master replica nats; do
    case $name in master) pid=$FERRY_PID ;; replica) pid=$REPLICA_PID ;; nats) pid=$NATS_PID ;; esac
    PT0[$name]=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')
  done
  bt0=$(sed 's/.*) //' "/proc/$bpid/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0)
  off0=$(redis-cli -p "$prof_mport" INFO replication | awk -F: '/^master_repl_offset/ {print $2+0}')
  cmd0=$(redis-cli -p "$prof_mport" INFO stats | awk -F: '/^total_commands_processed/ {print $2+0}')
  wait "$c1" "$c2" "$c3" || notes+=("profile: a profile could not be fetched")
  cmd1=$(redis-cli -p "$prof_mport" INFO stats | awk -F: '/^total_commands_processed/ {print $2+0}')
  off1=$(redis-cli -p "$prof_mport" INFO replication | awk -F: '/^master_repl_offset/ {print $2+0}')
  bt1=$(sed 's/.*) //' "/proc/$bpid/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0)
  cpu_line="CPU during the profile, % of one core:"
  for name in master replica nats; do
    case $name in master) pid=$FERRY_PID ;; replica) pid=$REPLICA_PID ;; nats) pid=$NATS_PID ;; esac
    t1=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')
    cpu_line+=" $name $(awk -v d="$((t1 - PT0[$name]))" -v hz="$HZ" -v s="$PROFILE_SECONDS" 'BEGIN {printf "%.0f", d / hz / s * 100}')%"
  done
  cpu_line+=", redis-benchmark $(awk -v d="$((bt1 - bt0))" -v hz="$HZ" -v s="$PROFILE_SECONDS" 'BEGIN {printf "%.0f", d / hz / s * 100}')%"
  stop_pid "$bpid"
  rate_line="about $(((cmd1 - cmd0) / PROFILE_SECONDS)) commands/s in $(((off1 - off0) / PROFILE_SECONDS)) log entries/s ($(awk -v c="$((cmd1 - cmd0))" -v o="$((off1 - off0))" 'BEGIN {if (o > 0) printf "%.1f", c / o; else print "-"}') commands per entry)"
  echo "$rate_line"
  echo "$cpu_line"
  stop_server "$REPLICA_PID"
  stop_server "$FERRY_PID"
  cp "$TMP/ferry-pprof" "$pbase.ferry.bin"
  cp "$NATS_BIN" "$pbase.nats-server.bin"
  prof_lines+=("- $PROFILE_TEST -P $PROFILE_P, --ack $PROFILE_ACK: $rate_line; $cpu_line")
  for name in master replica nats; do
    bin=$pbase.ferry.bin
    [ "$name" = nats ] && bin=$pbase.nats-server.bin
    [ -s "$pbase.$name.pprof" ] || continue
    go tool pprof -top -nodecount=25 "$bin" "$pbase.$name.pprof" 2>/dev/null >"$pbase.$name.top.txt" || true
    go tool pprof -top -cum -nodecount=40 "$bin" "$pbase.$name.pprof" 2>/dev/null >"$pbase.$name.cum.txt" || true
    echo "-- $name (flat)"
    sed -n '1,20p' "$pbase.$name.top.txt"
    prof_lines+=("- $name: \`${pbase#"$ROOT"/}.$name.pprof\` (\`.top.txt\`, \`.cum.txt\`)")
  done
  if [ -s "$base-profile-replay.pprof" ]; then
    cp "$TMP/catchup" "$base-profile-replay.bin"
    go tool pprof -top -nodecount=25 "$base-profile-replay.bin" "$base-profile-replay.pprof" 2>/dev/null \
      >"$base-profile-replay.top.txt" || true
    go tool pprof -top -cum -nodecount=40 "$base-profile-replay.bin" "$base-profile-replay.pprof" 2>/dev/null \
      >"$base-profile-replay.cum.txt" || true
    echo "-- in-process replay of the catch-up log (cumulative)"
    sed -n '1,30p' "$base-profile-replay.cum.txt"
    prof_lines+=("- in-process replay of the catch-up log: \`${base#"$ROOT"/}-profile-replay.pprof\` (\`.top.txt\`, \`.cum.txt\`)")
  fi
fi

elapsed=$((SECONDS - started))
{
  echo "# Replication: ferry over NATS JetStream vs redis-server with a replica"
  echo
  echo "$info"
  echo "- nats-server: $("$NATS_BIN" --version 2>&1 | head -n 1), JetStream file store on $TMP (loopback)${NATS_PROCS:+, GOMAXPROCS=$NATS_PROCS}"
  if [ "$FERRY_NATS" = embedded ]; then
    echo "- FERRY_NATS=embedded: each ferry master runs its own NATS server in-process (--nats embedded; its own connection skips the sockets), its replica connects over TCP; the nats CPU column is the shared, idle server, the log's CPU is in the master's"
  fi
  echo "- parts: $PARTS; ${elapsed}s; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  if [ ${#tp_rows[@]} -gt 0 ]; then
    echo
    echo "## Master write throughput with one replica following"
    echo
    echo "redis-benchmark -c $CLIENTS -r $KEYSPACE, -n $N_P1 at -P 1 and $N_PIPE deeper; median of $REPS runs per setup, interleaved."
    echo "CPU: µs per request of every server process of the setup (redis: master + replica; ferry: master + replica + nats-server)."
    echo
    echo "| test | P | redis rps | ferry durable rps | durable/redis | ferry async rps | async/redis | redis CPU µs | durable CPU µs | async CPU µs | noise |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${tp_rows[@]}"
    echo
    echo "Targets: durable/redis >= 1.00, async/redis >= 1.20. $tp_catchup."
    echo
    echo "CPU µs per request by process (medians):"
    echo
    echo "| test | P | redis master | redis replica | durable master | durable replica | durable nats | async master | async replica | async nats |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${cpu_rows[@]}"
  fi
  if [ ${#large_rows[@]} -gt 0 ]; then
    echo
    echo "## SET of large values with one replica following"
    echo
    echo "redis-benchmark -t set -c 4 -r 100 -d SIZE, ${LARGE_MB} MB per run (at least 10 requests), median of $REPS runs per setup, interleaved; nats-server's max_payload is its default, 1 MB."
    echo
    echo "| value bytes | requests | redis SET/s | durable SET/s | durable/redis | async SET/s | async/redis | redis MB/s |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${large_rows[@]}"
  fi
  if [ ${#lag_rows[@]} -gt 0 ]; then
    echo
    echo "## Replication lag at half of the maximum SET -P 1 rate"
    echo
    echo "bench/lag, $LAG_CONNS load connections, ${LAG_SECONDS}s per run, median of $LAG_REPS runs; µs from the master's reply to the replica showing the write."
    echo
    echo "| setup | SET/s asked | SET/s done | lag p50 µs | lag p99 µs | lag max µs | probe SET p50 µs | replica GET round trip µs | noise (p99) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${lag_rows[@]}"
    echo
    echo "Target: ferry p99 <= 5000 µs."
  fi
  if [ ${#readlag_rows[@]} -gt 0 ]; then
    echo
    echo "## Replication lag while the replica serves reads flat out"
    echo
    echo "bench/lag at $READLAG_RATE SET/s, $LAG_CONNS load connections, ${LAG_SECONDS}s per run, median of $LAG_REPS runs, with redis-benchmark GET -P 16 -c $CLIENTS -r $KEYSPACE on the replica; µs from the master's reply to the replica showing the write (the probe's GETs queue with the load's)."
    echo
    echo "| setup | SET/s asked | SET/s done | lag p50 µs | lag p99 µs | lag max µs | probe SET p50 µs | replica GET round trip µs | noise (p99) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${readlag_rows[@]}"
  fi
  if [ ${#cu_rows[@]} -gt 0 ]; then
    echo
    echo "## Catch-up of a replica replaying $CATCHUP_N effects"
    echo
    echo "Logs of $CATCHUP_N SET effects, k per entry (written by bench/catchup fill, stream/jetstream AppendAsync)."
    echo
    echo "| entries × k | what | entries/s | effects/s | seconds | noise |"
    echo "|---|---|---:|---:|---:|---:|"
    printf '%s\n' "${cu_rows[@]}"
    echo
    echo "Target: >= 500,000 effects/s for a fresh replica process on the one-effect-per-entry log (k = 1)."
  fi
  if [ ${#prof_lines[@]} -gt 0 ]; then
    echo
    echo "## Profiles"
    echo
    printf '%s\n' "${prof_lines[@]}"
  fi
  if [ ${#notes[@]} -gt 0 ]; then
    echo
    printf -- '- %s\n' "${notes[@]}"
  fi
} >"$md"

echo
echo "targets missed: $misses (${elapsed}s)"
if [ ${#notes[@]} -gt 0 ]; then printf 'note: %s\n' "${notes[@]}"; fi
echo "results: ${md#"$ROOT"/} (also .csv, .lag.csv, .catchup.csv, .raw.csv)"
if [ "$STRICT" = 1 ] && [ "$misses" -gt 0 ]; then exit 1; fi
