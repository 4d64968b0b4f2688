#!/usr/bin/env bash
# Snapshot benchmarks (issue 4): a ferry master writing snapshots to S3
# (versitygw on loopback) over NATS JetStream, against redis-server's RDB
# snapshots and full syncs, side by side in one run.
#
# Starts versitygw (POSIX backend on a temp dir), nats-server v2.15.2 (built
# from the Go module proxy, JetStream on a temp dir), `ferry master --store
# s3://...` (snapshots only on BGSAVE: --snapshot-after-writes 0
# --snapshot-interval 0) and redis-server (persistence off), all on free
# loopback ports, and loads the same mixed dataset into both with
# bench/cmd/snapbench (KEYS keys, key:<i>, by i mod 20: 70% strings of 100
# bytes, 10% hashes, 10% lists, 5% sets, 5% sorted sets of 10 elements;
# contents from a PRNG seeded by i). Then, in parts (PARTS):
#
#   size       ferry BGSAVE: the snapshot object's size (zstd-compressed RDB,
#              from the master's "snapshot written" log line) vs the dump.rdb
#              redis-server's SAVE writes (rdbcompression yes, the default).
#              Also the time each takes, the size of the ferry snapshot
#              decompressed (ferry snapshot export), and the issue's own
#              reference: redis's dump.rdb through zstd at its default
#              level (zstd -3), which the issue measured at 0.32x of the
#              dump on its data. Target: ratio <= 0.35.
#   bootstrap  BOOT_REPS times, alternating: a new `ferry replica --store`
#              timed from its process start until it answers GET key:0 with
#              the value and its slave_repl_offset reached the master's
#              master_repl_offset, vs a new redis-server --replicaof (empty
#              dir; master at repl-diskless-sync-delay 0) until
#              master_link_status:up, master_sync_in_progress:0, GET key:0
#              answers and the offsets match. Target: ratio <= 0.4.
#   latency    snapbench set (50 connections, one SET in flight each, random
#              existing string keys, fresh 100-byte values, every latency
#              recorded) for SET_SECONDS against each master: at rest, while
#              a BGSAVE runs (snapbench starts one whenever none is in
#              progress), and for redis also while replicas full-sync one
#              after another. LAT_REPS rounds, interleaved; medians. The same
#              runs sample the memory of the master's process tree every
#              10 ms (VmRSS and Pss of the master and, for redis, its forked
#              child): peak during the snapshot vs peak at rest.
#              Targets: ferry p99 during/at rest <= 1.2; memory <= 1.2x.
#   replsnap   (not in the default PARTS) the same SET runs against the
#              ferry master with a `ferry replica --take-snapshots` following
#              it: at rest, while the master takes snapshots, and while the
#              replica takes them (snapbench -bgsave-addr) and the master
#              takes none. p99 during/at rest of each; a replica taking the
#              snapshots is how a deployment keeps the master's p99 at rest.
#   replicas   snapbench set against the ferry master for BOOT_WINDOW
#              seconds, recording SETs per 100 ms; after 1 s, BOOT_N `ferry
#              replica --store` processes start together. Throughput over
#              the time until all of them serve and are caught up vs a run
#              at rest. Three times (BOOT_MODES): everything sharing every
#              core (rest, same); pinned with taskset: the master,
#              nats-server and the load on CPU 0, the replicas and
#              versitygw on the other cores (pinrest, pinned); and the
#              master and the load alone on CPU 0 with nats-server,
#              versitygw and the replicas on the others (natsrest,
#              natspinned), closer to a deployment where NATS, the object
#              store and the replicas are other machines; and the replicas
#              at the lowest CPU priority (niced, against rest), taking only
#              the CPU the master, nats-server and the load leave, as
#              replicas on other machines would; and the replicas and
#              versitygw both so (offhost, against rest), leaving only
#              nats-server shared. Target: >= 0.95x.
#
# Settings (environment):
#   KEYS         keys in the dataset                     (1000000)
#   TOKEN        string values' random token: words, alnum or hex (words:
#                the issue's reference, redis's dump through zstd -3, is
#                then 0.33x, as it measured 0.32x on its data; alnum makes
#                it 0.42x, hex 0.38x; see bench/README.md)
#   PARTS        parts to run                            (size bootstrap latency replicas)
#   BOOT_REPS    bootstrap runs per server               (3)
#   SET_SECONDS  seconds per latency run                 (8)
#   LAT_REPS     rounds of latency runs                  (2)
#   BOOT_N       replicas bootstrapping at once          (10)
#   BOOT_WINDOW  longest replicas run, seconds           (150)
#   BOOT_MODES   replicas runs  (rest same pinrest pinned natsrest natspinned niced
#                offhost)
#   NATS_SERVER  a nats-server binary to use instead of building one
#   VERSITYGW    the versitygw binary                    (PATH, else $(go env GOPATH)/bin)
#   STRICT       1: exit 1 when a target is missed       (0)
#
# Results go to bench/results/ (gitignored): snapshot-<stamp>.md and .csv
# (every run), and the logs of the ferry master (snapshot-<stamp>.master.log).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

KEYS=${KEYS:-1000000}
TOKEN=${TOKEN:-words}
export SNAP_TOKEN=$TOKEN
PARTS=${PARTS:-size bootstrap latency replicas}
BOOT_REPS=${BOOT_REPS:-3}
SET_SECONDS=${SET_SECONDS:-8}
LAT_REPS=${LAT_REPS:-2}
BOOT_N=${BOOT_N:-10}
BOOT_WINDOW=${BOOT_WINDOW:-150}
STRICT=${STRICT:-0}
DATASET=bench


need go redis-server redis-cli curl
started=$SECONDS
if [ -n "${VERSITYGW:-}" ]; then
  VGW_BIN=$VERSITYGW
elif command -v versitygw >/dev/null 2>&1; then
  VGW_BIN=$(command -v versitygw)
else
  VGW_BIN=$(go env GOPATH)/bin/versitygw
fi
if [ ! -x "$VGW_BIN" ]; then
  echo "bench: versitygw not found (scripts/deps.sh installs it: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)" >&2
  exit 1
fi
echo "building ferry, bench/cmd/snapbench..."
build_ferry
build snapbench ./bench/cmd/snapbench
build_nats_server

RESULTS="$BENCH_DIR/results"
mkdir -p "$RESULTS"
stamp=$(date +%Y%m%d-%H%M%S)
base="$RESULTS/snapshot-$stamp"
csv="$base.csv"
md="$base.md"
echo "part,server,condition,rep,metric,value" >"$csv"
info=$(machine_info)
notes=()
misses=0
SB=$TMP/snapbench
export AWS_ACCESS_KEY_ID=ferrybench AWS_SECRET_ACCESS_KEY=ferrybench-secret-$RANDOM$RANDOM
BUCKET=ferry-bench

# record PART SERVER CONDITION REP METRIC VALUE appends a row to the CSV.
record() { echo "$1,$2,$3,$4,$5,$6" >>"$csv"; }

# field NAME prints field NAME of the RESULT line on stdin.
field() {
  awk -v k="$1" '/^RESULT/ {for (i = 2; i <= NF; i++) {split($i, kv, "="); if (kv[1] == k) print kv[2]}}'
}

# above A B succeeds when A > B (or A is "error").
above() { [ "$1" = error ] || awk -v a="$1" -v b="$2" 'BEGIN {exit !(a > b)}'; }
below() { [ "$1" = error ] || awk -v a="$1" -v b="$2" 'BEGIN {exit !(a < b)}'; }

# us prints a Go duration (51.4µs, 1.2ms, 3s) in microseconds.
us() {
  awk -v d="$1" 'BEGIN {
    if (d ~ /µs$/) {sub(/µs$/, "", d); v = d}
    else if (d ~ /ns$/) {sub(/ns$/, "", d); v = d / 1000}
    else if (d ~ /ms$/) {sub(/ms$/, "", d); v = d * 1000}
    else if (d ~ /s$/) {sub(/s$/, "", d); v = d * 1e6}
    else v = -1
    printf "%.0f\n", v }'
}

# start_vgw starts versitygw on a free port and creates the bucket.
start_vgw() {
  local try i port pid
  mkdir -p "$TMP/s3"
  for ((try = 0; try < 5; try++)); do
    port=$(pick_port)
    "$VGW_BIN" --access "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" \
      --port "127.0.0.1:$port" --quiet posix "$TMP/s3" >>"$TMP/versitygw.log" 2>&1 &
    pid=$!
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      if [ "$(curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
        -X PUT "http://127.0.0.1:$port/$BUCKET")" = 200 ]; then
        SERVER_PIDS+=("$pid")
        VGW_PID=$pid S3_ENDPOINT=http://127.0.0.1:$port
        return 0
      fi
      sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  echo "bench: could not start versitygw; its log:" >&2
  cat "$TMP/versitygw.log" >&2
  exit 1
}

STORE=s3://$BUCKET/snapshots

# start_ferry_master starts the ferry master (snapshots on BGSAVE only);
# sets FERRY_PORT and FERRY_PID. Its log (level info) is $TMP/master.log.
start_ferry_master() {
  local try port pid
  for ((try = 0; try < 5; try++)); do
    port=$(pick_port)
    "$TMP/ferry" master --addr "127.0.0.1:$port" --nats "$NATS_URL" --dataset "$DATASET" \
      "${STORE_FLAGS[@]}" --new-dataset --snapshot-after-writes 0 --snapshot-interval 0 \
      --log-level info 2>>"$TMP/master.log" &
    pid=$!
    if wait_ping "$port" "$pid"; then
      SERVER_PIDS+=("$pid")
      FERRY_PORT=$port FERRY_PID=$pid
      return 0
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  echo "bench: could not start the ferry master; its log:" >&2
  cat "$TMP/master.log" >&2
  exit 1
}

# launch_ferry_replica NAME [MODE [FLAG...]] starts a ferry replica on a
# free port without waiting for it, pinned or niced by MODE, with FLAGs
# added; sets RPORT and RPID.
launch_ferry_replica() {
  local name=$1 pre=()
  case ${2:-} in
    pinned | natspinned) pre=(taskset -c "1-$(($(nproc) - 1))") ;;
    niced | offhost) pre=(nice -n 19) ;;
  esac
  shift $(($# < 2 ? $# : 2))
  RPORT=$(pick_port)
  "${pre[@]}" "$TMP/ferry" replica --addr "127.0.0.1:$RPORT" --nats "$NATS_URL" --dataset "$DATASET" \
    "${STORE_FLAGS[@]}" --log-level warn "$@" 2>>"$TMP/replica-$name.log" &
  RPID=$!
  SERVER_PIDS+=("$RPID")
}

# launch_redis_replica NAME starts a redis-server replica of the redis
# master on a free port with an empty directory; sets RPORT and RPID.
launch_redis_replica() {
  rm -rf "$TMP/rr-$1"
  mkdir -p "$TMP/rr-$1"
  RPORT=$(pick_port)
  redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP/rr-$1" \
    --daemonize no --logfile "$TMP/redis-replica-$1.log" --replicaof 127.0.0.1 "$REDIS_PORT" &
  RPID=$!
  SERVER_PIDS+=("$RPID")
}

# wait_idle PORT waits until no snapshot is in progress on the server.
wait_idle() {
  local i
  for ((i = 0; i < 3000; i++)); do
    redis-cli -p "$1" INFO persistence | grep -q '^rdb_bgsave_in_progress:0' && return 0
    sleep 0.1
  done
  echo "bench: a snapshot on port $1 did not end within 300 s" >&2
  exit 1
}

# last_snapshot prints bytes, took and cut_pause of the master's newest
# "snapshot written" log line.
last_snapshot() {
  grep 'msg="snapshot written"' "$TMP/master.log" | tail -n 1 |
    awk '{for (i = 1; i <= NF; i++) {split($i, kv, "="); if (kv[1] == "bytes") b = kv[2]; if (kv[1] == "took") t = kv[2]; if (kv[1] == "cut_pause") p = kv[2]}} END {print b, t, p}'
}

start_vgw
STORE_FLAGS=(--store "$STORE" --s3-endpoint "$S3_ENDPOINT")
start_nats
start_ferry_master
start_server redis
redis-cli -p "$REDIS_PORT" CONFIG SET repl-diskless-sync-delay 0 >/dev/null
echo "versitygw $S3_ENDPOINT; nats $NATS_URL; ferry master $FERRY_PORT; redis $REDIS_PORT"

echo
echo "== loading $KEYS keys (70% strings of 100 bytes, 10% hashes, 10% lists, 5% sets, 5% sorted sets)"
load_f=$("$SB" load -addr "127.0.0.1:$FERRY_PORT" -n "$KEYS" | field seconds)
load_r=$("$SB" load -addr "127.0.0.1:$REDIS_PORT" -n "$KEYS" | field seconds)
echo "ferry ${load_f}s, redis ${load_r}s"
record load ferry - 1 seconds "$load_f"
record load redis - 1 seconds "$load_r"
# The first snapshot, of the loaded dataset (measured in the size part):
# from here on replicas load it rather than replay the load from the log.
echo "ferry BGSAVE..."
first_save=$("$SB" save -addr "127.0.0.1:$FERRY_PORT")
read -r snap_bytes snap_took snap_pause < <(last_snapshot)

# fresh_snapshot takes a ferry snapshot if anything changed since the last
# (a BGSAVE with nothing changed fails: see bench/README.md).
fresh_snapshot() {
  wait_idle "$FERRY_PORT"
  if ! redis-cli -p "$FERRY_PORT" INFO persistence | grep -q '^rdb_changes_since_last_save:0'; then
    "$SB" save -addr "127.0.0.1:$FERRY_PORT" >/dev/null
  fi
}

summary=()  # "| measure | ferry | redis | ratio | target | met |"
md_parts=()

# --------------------------------------------------------------------- size
if has_part size; then
  echo
  echo "== snapshot size"
  ferry_save_s=$(field seconds <<<"$first_save")
  t0=$(date +%s%N)
  redis-cli -p "$REDIS_PORT" SAVE >/dev/null
  redis_save_s=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
  rdb_bytes=$(stat -c %s "$TMP/dump.rdb")
  out=$("$SB" save -addr "127.0.0.1:$REDIS_PORT")
  redis_bgsave_s=$(field seconds <<<"$out")
  "$TMP/ferry" snapshot export "${STORE_FLAGS[@]}" --dataset "$DATASET" --out "$TMP/ferry-export.rdb" \
    >/dev/null 2>"$TMP/export.log" || notes+=("ferry snapshot export: $(tail -n 1 "$TMP/export.log")")
  raw_bytes=$(stat -c %s "$TMP/ferry-export.rdb" 2>/dev/null || echo error)
  size_ratio=$(ratio "$snap_bytes" "$rdb_bytes")
  zstd_bytes=error
  if command -v zstd >/dev/null 2>&1; then
    zstd_bytes=$(zstd -q -3 -c "$TMP/dump.rdb" | wc -c)
  fi
  zstd_ratio=$(ratio "$zstd_bytes" "$rdb_bytes")
  echo "ferry snapshot $snap_bytes bytes (RDB $raw_bytes before zstd), BGSAVE ${ferry_save_s}s (took $snap_took, cut pause $snap_pause)"
  echo "redis dump.rdb $rdb_bytes bytes, SAVE ${redis_save_s}s, BGSAVE ${redis_bgsave_s}s; through zstd -3: $zstd_bytes bytes ($zstd_ratio; the issue's reference: 0.32)"
  echo "ferry/redis: $size_ratio (target <= 0.35), token $TOKEN"
  record size redis zstd3 1 bytes "$zstd_bytes"
  record size ferry bgsave 1 bytes "$snap_bytes"
  record size ferry bgsave 1 rdb_bytes "$raw_bytes"
  record size ferry bgsave 1 seconds "$ferry_save_s"
  record size redis save 1 bytes "$rdb_bytes"
  record size redis save 1 seconds "$redis_save_s"
  record size redis bgsave 1 seconds "$redis_bgsave_s"
  met=yes
  # On the bytes, not the rounded ratio: 0.353 rounds to 0.35.
  if ! [[ $snap_bytes =~ ^[0-9]+$ && $rdb_bytes =~ ^[0-9]+$ ]] || [ $((snap_bytes * 100)) -gt $((rdb_bytes * 35)) ]; then
    met=NO; misses=$((misses + 1))
  fi
  summary+=("| snapshot size, bytes ($TOKEN tokens) | $snap_bytes | $rdb_bytes | **$size_ratio** | <= 0.35 | $met |")
  summary+=("| reference: redis's dump.rdb through zstd -3, bytes | | $zstd_bytes | $zstd_ratio | (issue: 0.32) | |")
  summary+=("| BGSAVE time, s | $ferry_save_s | $redis_bgsave_s | $(ratio "$ferry_save_s" "$redis_bgsave_s") | | |")
  md_parts+=("- size: ferry's snapshot object $snap_bytes bytes (the RDB inside it: $raw_bytes bytes); redis-server's dump.rdb $rdb_bytes bytes (SAVE ${redis_save_s}s). BGSAVE to the end: ferry ${ferry_save_s}s (into S3), redis ${redis_bgsave_s}s (to local disk).")
fi

# ---------------------------------------------------------------- bootstrap
if has_part bootstrap; then
  echo
  echo "== new replica until it serves and is caught up, $BOOT_REPS runs each, alternating"
  fb=() rb=() fg=() fh=() rh=()
  for ((i = 0; i < BOOT_REPS; i++)); do
    if ((i % 2)); then order="redis ferry"; else order="ferry redis"; fi
    for s in $order; do
      t0=$(date +%s%N)
      if [ "$s" = ferry ]; then
        launch_ferry_replica boot
        mport=$FERRY_PORT
      else
        launch_redis_replica boot
        mport=$REDIS_PORT
      fi
      if out=$("$SB" wait -addr "127.0.0.1:$RPORT" -master "127.0.0.1:$mport" -key key:0 -since "$t0" -timeout 3m 2>&1); then
        v=$(field seconds <<<"$out")
        g=$(field first_get <<<"$out")
      else
        v=error g=error
        notes+=("bootstrap of a $s replica: $out")
      fi
      # Peak RSS of the replica process up to now (kB -> MiB).
      hwm=$(awk '/^VmHWM:/ {printf "%.0f", $2 / 1024}' "/proc/$RPID/status" 2>/dev/null || echo error)
      stop_pid "$RPID"
      echo "  $s: ${v}s (first GET answered at ${g}s), replica peak RSS ${hwm} MiB"
      record bootstrap "$s" new-replica "$((i + 1))" seconds "$v"
      record bootstrap "$s" new-replica "$((i + 1))" peak_rss_mib "$hwm"
      if [ "$s" = ferry ]; then fb+=("$v") fg+=("$g") fh+=("$hwm"); else rb+=("$v") rh+=("$hwm"); fi
    done
  done
  fbm=$(DEC=3 median "${fb[@]}")
  rbm=$(DEC=3 median "${rb[@]}")
  boot_ratio=$(ratio "$fbm" "$rbm")
  echo "median: ferry ${fbm}s, redis ${rbm}s, ferry/redis $boot_ratio (target <= 0.4)"
  met=yes
  above "$boot_ratio" 0.4 && { met=NO; misses=$((misses + 1)); }
  summary+=("| new replica serving and caught up, s | $fbm | $rbm | **$boot_ratio** | <= 0.4 | $met |")
  md_parts+=("- bootstrap runs, s: ferry ${fb[*]}; redis ${rb[*]} (ferry's first GET with the value at ${fg[*]}); replica peak RSS, MiB: ferry ${fh[*]}; redis ${rh[*]}")
fi

# ------------------------------------------------------------------ latency
if has_part latency; then
  echo
  echo "== SET latency and memory: 50 connections, ${SET_SECONDS}s per run, $LAT_REPS rounds"
  CONDS=("ferry rest" "ferry bgsave" "redis rest" "redis bgsave" "redis sync")
  declare -A P99 P50 P999 RPS RSS PSS MAXP
  for c in "${CONDS[@]}"; do P99[$c]="" P50[$c]="" P999[$c]="" RPS[$c]="" RSS[$c]="" PSS[$c]="" MAXP[$c]=""; done
  for ((i = 0; i < LAT_REPS; i++)); do
    for c in "${CONDS[@]}"; do
      read -r s cond <<<"$c"
      if [ "$s" = ferry ]; then port=$FERRY_PORT pid=$FERRY_PID; else port=$REDIS_PORT pid=$REDIS_PID; fi
      wait_idle "$port"
      flags=()
      churn=""
      case $cond in
        bgsave) flags=(-bgsave) ;;
        sync)
          # Replicas full-sync one after another through the run (each is
          # stopped once its link is up and the sync over: under load its
          # offset trails the master's by the writes in flight).
          (
            trap 'kill $rp 2>/dev/null; wait $rp 2>/dev/null; exit 0' TERM
            k=0
            while :; do
              k=$((k + 1))
              rm -rf "$TMP/rr-churn"
              mkdir -p "$TMP/rr-churn"
              rport=$(pick_port)
              redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP/rr-churn" \
                --daemonize no --logfile "$TMP/redis-replica-churn.log" --replicaof 127.0.0.1 "$REDIS_PORT" &
              rp=$!
              "$SB" wait -addr "127.0.0.1:$rport" -master "127.0.0.1:$REDIS_PORT" -offsets=false -timeout 60s >/dev/null 2>&1 || true
              kill "$rp" 2>/dev/null
              wait "$rp" 2>/dev/null
              echo "$k" >"$TMP/churn.count"
            done
          ) &
          churn=$!
          SERVER_PIDS+=("$churn")
          ;;
      esac
      out=$("$SB" set -addr "127.0.0.1:$port" -keys "$KEYS" -seconds "$SET_SECONDS" -pids "$pid" "${flags[@]}" 2>&1) || {
        notes+=("latency $c: $out")
        out=""
      }
      extra=""
      if [ -n "$churn" ]; then
        stop_pid "$churn"
        extra=" full syncs done: $(cat "$TMP/churn.count" 2>/dev/null || echo 0)"
        rm -f "$TMP/churn.count"
      fi
      [ "$cond" = bgsave ] && extra=" snapshots started: $(field bgsaves <<<"$out"), one in progress $(field in_progress <<<"$out") of the time"
      for k in p50_us p99_us p999_us rps peak_rss_kb peak_pss_kb max_procs; do
        v=$(field "$k" <<<"$out")
        record latency "$s" "$cond" "$((i + 1))" "$k" "${v:-error}"
      done
      P50[$c]+="$(field p50_us <<<"$out") " P99[$c]+="$(field p99_us <<<"$out") " P999[$c]+="$(field p999_us <<<"$out") "
      RPS[$c]+="$(field rps <<<"$out") " RSS[$c]+="$(field peak_rss_kb <<<"$out") " PSS[$c]+="$(field peak_pss_kb <<<"$out") "
      MAXP[$c]+="$(field max_procs <<<"$out") "
      printf '  %-13s %7s SET/s  p50 %6s µs  p99 %7s µs  p99.9 %7s µs  peak RSS %8s kB  Pss %8s kB (%s processes)%s\n' \
        "$c" "$(field rps <<<"$out")" "$(field p50_us <<<"$out")" "$(field p99_us <<<"$out")" "$(field p999_us <<<"$out")" \
        "$(field peak_rss_kb <<<"$out")" "$(field peak_pss_kb <<<"$out")" "$(field max_procs <<<"$out")" "$extra"
    done
  done
  declare -A M50 M99 M999 MR MRSS MPSS
  lat_rows=()
  for c in "${CONDS[@]}"; do
    # shellcheck disable=SC2086
    M50[$c]=$(median ${P50[$c]}) M99[$c]=$(median ${P99[$c]}) M999[$c]=$(median ${P999[$c]})
    # shellcheck disable=SC2086
    MR[$c]=$(median ${RPS[$c]}) MRSS[$c]=$(median ${RSS[$c]}) MPSS[$c]=$(median ${PSS[$c]})
    lat_rows+=("| $c | ${MR[$c]} | ${M50[$c]} | ${M99[$c]} | ${M999[$c]} | ${MRSS[$c]} | ${MPSS[$c]} |")
  done
  f99=$(ratio "${M99[ferry bgsave]}" "${M99[ferry rest]}")
  r99=$(ratio "${M99[redis bgsave]}" "${M99[redis rest]}")
  s99=$(ratio "${M99[redis sync]}" "${M99[redis rest]}")
  frps=$(ratio "${MR[ferry bgsave]}" "${MR[ferry rest]}")
  rrps=$(ratio "${MR[redis bgsave]}" "${MR[redis rest]}")
  # Memory: the highest peak of the snapshot runs over the lowest peak of
  # the runs at rest (a Go process keeps much of what a snapshot freed, so
  # a later run at rest starts higher).
  minof() { printf '%s\n' "$@" | grep -v '^$' | sort -g | head -n 1; }
  maxof() { printf '%s\n' "$@" | grep -v '^$' | sort -g | tail -n 1; }
  # shellcheck disable=SC2086
  fmem=$(ratio "$(maxof ${RSS[ferry bgsave]})" "$(minof ${RSS[ferry rest]})")
  # shellcheck disable=SC2086
  rmem=$(ratio "$(maxof ${RSS[redis bgsave]})" "$(minof ${RSS[redis rest]})")
  # shellcheck disable=SC2086
  rpss=$(ratio "$(maxof ${PSS[redis bgsave]})" "$(minof ${PSS[redis rest]})")
  # shellcheck disable=SC2086
  fpss=$(ratio "$(maxof ${PSS[ferry bgsave]})" "$(minof ${PSS[ferry rest]})")
  # shellcheck disable=SC2086
  md_parts+=("- peak RSS of each run, kB: ferry at rest ${RSS[ferry rest]}, during snapshots ${RSS[ferry bgsave]}; redis at rest ${RSS[redis rest]}, during BGSAVE ${RSS[redis bgsave]} (parent + child), during full syncs ${RSS[redis sync]}")
  echo "SET p99 during/at rest: ferry $f99 (target <= 1.2), redis BGSAVE $r99, redis full sync $s99"
  echo "SET/s during/at rest: ferry $frps, redis $rrps"
  echo "peak memory during/at rest: ferry RSS $fmem (Pss $fpss; target <= 1.2), redis RSS parent+child $rmem (Pss $rpss)"
  met=yes
  above "$f99" 1.2 && { met=NO; misses=$((misses + 1)); }
  summary+=("| SET p99 during a snapshot / at rest | $f99 | $r99 | | <= 1.2 (ferry) | $met |")
  summary+=("| SET/s during a snapshot / at rest | $frps | $rrps | | | |")
  met=yes
  above "$fmem" 1.2 && { met=NO; misses=$((misses + 1)); }
  summary+=("| peak memory during a snapshot / at rest (RSS, highest / lowest run; redis: parent + child) | $fmem | $rmem | | <= 1.2 (ferry) | $met |")
  summary+=("| same in Pss (shared pages counted once) | $fpss | $rpss | | | |")
  rinfo=$(redis-cli -p "$REDIS_PORT" INFO | tr -d '\r')
  rused=$(awk -F: '/^used_memory:/ {print $2}' <<<"$rinfo")
  rcow=$(awk -F: '/^rdb_last_cow_size:/ {print $2}' <<<"$rinfo")
  rfork=$(awk -F: '/^latest_fork_usec:/ {print $2}' <<<"$rinfo")
  md_parts+=("- redis INFO after the runs: used_memory $rused, rdb_last_cow_size $rcow (so used_memory + COW = $(awk -v a="$rused" -v b="$rcow" 'BEGIN {printf "%.2f", (a + b) / a}')x used_memory), latest_fork_usec $rfork")
fi

# ----------------------------------------------------------------- replsnap
if has_part replsnap; then
  echo
  echo "== SET latency with a replica following: at rest, snapshots on the master, snapshots on the replica; ${SET_SECONDS}s per run, $LAT_REPS rounds"
  t0=$(date +%s%N)
  launch_ferry_replica snap "" --take-snapshots --snapshot-interval 0 --snapshot-after-writes 0 --log-level info
  snap_rpid=$RPID
  "$SB" wait -addr "127.0.0.1:$RPORT" -master "127.0.0.1:$FERRY_PORT" -since "$t0" >/dev/null
  snap_rport=$RPORT
  RCONDS=("rest" "master" "replica")
  declare -A RS99 RSRPS
  for c in "${RCONDS[@]}"; do RS99[$c]="" RSRPS[$c]=""; done
  for ((i = 0; i < LAT_REPS; i++)); do
    for c in "${RCONDS[@]}"; do
      wait_idle "$FERRY_PORT"
      wait_idle "$snap_rport"
      flags=()
      case $c in
        master) flags=(-bgsave) ;;
        replica) flags=(-bgsave -bgsave-addr "127.0.0.1:$snap_rport") ;;
      esac
      out=$("$SB" set -addr "127.0.0.1:$FERRY_PORT" -keys "$KEYS" -seconds "$SET_SECONDS" -pids "$FERRY_PID" "${flags[@]}" 2>&1) || {
        notes+=("replsnap $c: $out")
        out=""
      }
      for k in p50_us p99_us p999_us rps; do
        record replsnap ferry "$c" "$((i + 1))" "$k" "$(field "$k" <<<"$out")"
      done
      RS99[$c]+="$(field p99_us <<<"$out") " RSRPS[$c]+="$(field rps <<<"$out") "
      printf '  %-8s %7s SET/s  p50 %6s µs  p99 %7s µs  p99.9 %7s µs%s\n' "$c" "$(field rps <<<"$out")" \
        "$(field p50_us <<<"$out")" "$(field p99_us <<<"$out")" "$(field p999_us <<<"$out")" \
        "$([ "$c" = rest ] || echo "  snapshots started: $(field bgsaves <<<"$out")")"
    done
  done
  declare -A RM99 RMRPS
  for c in "${RCONDS[@]}"; do
    # shellcheck disable=SC2086
    RM99[$c]=$(median ${RS99[$c]}) RMRPS[$c]=$(median ${RSRPS[$c]})
  done
  m99=$(ratio "${RM99[master]}" "${RM99[rest]}")
  r99=$(ratio "${RM99[replica]}" "${RM99[rest]}")
  echo "master SET p99 during/at rest, a replica following: snapshots on the master $m99, on the replica $r99 (target <= 1.2)"
  echo "master SET/s during/at rest: snapshots on the master $(ratio "${RMRPS[master]}" "${RMRPS[rest]}"), on the replica $(ratio "${RMRPS[replica]}" "${RMRPS[rest]}")"
  summary+=("| SET p99 during a snapshot / at rest, a replica following: snapshots on the master | $m99 | | | <= 1.2 | |")
  summary+=("| same, snapshots taken by the replica (--take-snapshots) | $r99 | | | <= 1.2 | |")
  md_parts+=("- replsnap (a ferry replica with --take-snapshots following the master): median SET/s and p99 µs at rest ${RMRPS[rest]} / ${RM99[rest]}, snapshots on the master ${RMRPS[master]} / ${RM99[master]}, on the replica ${RMRPS[replica]} / ${RM99[replica]}")
  stop_pid "$snap_rpid"
fi

# ----------------------------------------------------------------- replicas
if has_part replicas; then
  echo
  echo "== ferry master SET throughput while $BOOT_N replicas bootstrap from S3 at once"
  # A fresh snapshot, so the replicas replay little of the log.
  fresh_snapshot
  # rate_in FILE FROM_NS TO_NS prints the SETs/s of snapbench's timeline in
  # FILE between two instants.
  rate_in() {
    local start
    start=$(field start_ns <"$1")
    awk -v s="$start" -v a="$2" -v b="$3" '/^TIMELINE/ {
      ms = $2; i0 = int((a - s) / 1e6 / ms); i1 = int((b - s) / 1e6 / ms)
      n = 0; for (i = i0; i < i1 && i + 3 <= NF; i++) n += $(i + 3)
      if (i1 > i0) printf "%.0f\n", n / ((i1 - i0) * ms / 1000); else print "error" }' "$1"
  }
  declare -A BOOT_RPS BOOT_SLOW
  rest_rps=() 
  # pin CPUS PID... sets the CPU affinity of processes this script started.
  pin() {
    local c=$1 p
    shift
    for p in "$@"; do taskset -pc "$c" "$p" >/dev/null; done
  }
  ALLCPUS=0-$(($(nproc) - 1))
  for mode in ${BOOT_MODES:-rest same pinrest pinned natsrest natspinned niced offhost}; do
    rm -f "$TMP/stop"
    pre=()
    case $mode in
      pin*)
        # The master, nats-server and the load on CPU 0; versitygw and the
        # replicas on the others (as if they ran on other machines).
        pin 0 "$FERRY_PID" "$NATS_PID"
        pin "1-$(($(nproc) - 1))" "$VGW_PID"
        pre=(taskset -c 0)
        ;;
      nats*)
        # The master and the load alone on CPU 0; nats-server, versitygw
        # and the replicas on the others, as in a deployment where NATS,
        # the object store and the replicas are other machines: the
        # log's fan-out to ten new consumers is then not on the master's
        # core, but its durable acknowledgements wait for a nats-server
        # that shares a core with ten loading replicas.
        pin 0 "$FERRY_PID"
        pin "1-$(($(nproc) - 1))" "$NATS_PID" "$VGW_PID"
        pre=(taskset -c 0)
        ;;
      offhost)
        # The replicas and versitygw at the lowest CPU priority: only
        # nats-server, shared by the master and the replicas, competes
        # with the master as it would in a deployment.
        renice -n 19 -p "$VGW_PID" >/dev/null
        ;;
    esac
    "${pre[@]}" "$SB" set -addr "127.0.0.1:$FERRY_PORT" -keys "$KEYS" -seconds "$BOOT_WINDOW" -timeline 100ms \
      -stopfile "$TMP/stop" >"$TMP/boot-set.out" 2>&1 &
    setpid=$!
    SERVER_PIDS+=("$setpid")
    sleep 1
    tstart=$(date +%s%N)
    if [[ $mode = *rest ]]; then
      sleep "$SET_SECONDS"
      ok=$BOOT_N slowest=-
    else
      rpids=() wpids=()
      for ((k = 0; k < BOOT_N; k++)); do
        launch_ferry_replica "many-$k" "$mode"
        rpids+=("$RPID")
        "$SB" wait -addr "127.0.0.1:$RPORT" -master "127.0.0.1:$FERRY_PORT" -key key:0 -since "$tstart" \
          -timeout "$((BOOT_WINDOW - 5))s" -every 50ms >"$TMP/boot-wait-$k.out" 2>&1 &
        wpids+=("$!")
      done
      ok=0
      for w in "${wpids[@]}"; do wait "$w" && ok=$((ok + 1)); done
    fi
    tend=$(date +%s%N)
    touch "$TMP/stop"
    wait "$setpid" || notes+=("replicas ($mode): the SET load failed: $(tail -n 1 "$TMP/boot-set.out")")
    stop_pid "$setpid"
    BOOT_RPS[$mode]=$(rate_in "$TMP/boot-set.out" "$tstart" "$tend")
    if [[ $mode != *rest ]]; then
      for p in "${rpids[@]}"; do stop_pid "$p"; done
      slowest=$(cat "$TMP"/boot-wait-*.out | field seconds | sort -g | tail -n 1)
      [ "$ok" -eq "$BOOT_N" ] || notes+=("replicas ($mode): only $ok of $BOOT_N caught up within $((BOOT_WINDOW - 5))s: $(grep -vh RESULT "$TMP"/boot-wait-*.out | head -n 1)")
      rm -f "$TMP"/boot-wait-*.out
    fi
    [[ $mode = pin* || $mode = nats* ]] && pin "$ALLCPUS" "$FERRY_PID" "$NATS_PID" "$VGW_PID"
    [ "$mode" = offhost ] && renice -n 0 -p "$VGW_PID" >/dev/null
    BOOT_SLOW[$mode]=${slowest:-error}
    echo "  $mode: ${BOOT_RPS[$mode]} SET/s over $(awk -v a="$tstart" -v b="$tend" 'BEGIN {printf "%.1f", (b - a) / 1e9}')s; replicas caught up: $ok of $BOOT_N, the last after ${slowest}s"
    record replicas ferry "$mode" 1 rps "${BOOT_RPS[$mode]}"
    record replicas ferry "$mode" 1 slowest_seconds "${BOOT_SLOW[$mode]}"
  done
  same_ratio=$(ratio "${BOOT_RPS[same]:-error}" "${BOOT_RPS[rest]:-error}")
  pin_ratio=$(ratio "${BOOT_RPS[pinned]:-error}" "${BOOT_RPS[pinrest]:-error}")
  nats_ratio=$(ratio "${BOOT_RPS[natspinned]:-error}" "${BOOT_RPS[natsrest]:-error}")
  niced_ratio=$(ratio "${BOOT_RPS[niced]:-error}" "${BOOT_RPS[rest]:-error}")
  offhost_ratio=$(ratio "${BOOT_RPS[offhost]:-error}" "${BOOT_RPS[rest]:-error}")
  echo "master SET/s during/at rest: $same_ratio (everything on every core), $pin_ratio (replicas and versitygw on another core than the master, nats-server and the load), $nats_ratio (nats-server too on the replicas' core), $niced_ratio (replicas at the lowest CPU priority), $offhost_ratio (versitygw too); target >= 0.95"
  met=yes
  below "$same_ratio" 0.95 && { met=NO; misses=$((misses + 1)); }
  summary+=("| master SET/s while $BOOT_N replicas bootstrap / at rest | $same_ratio | | | >= 0.95 | $met |")
  summary+=("| same, replicas on a core of their own | $pin_ratio | | | | |")
  summary+=("| same, replicas and nats-server on a core of their own | $nats_ratio | | | | |")
  summary+=("| same, replicas at the lowest CPU priority | $niced_ratio | | | | |")
  summary+=("| same, replicas and versitygw at the lowest CPU priority | $offhost_ratio | | | | |")
  md_parts+=("- $BOOT_N replicas: master SET/s at rest ${BOOT_RPS[rest]:-}, during the bootstrap ${BOOT_RPS[same]:-} (all caught up after ${BOOT_SLOW[same]:-}s); pinned: at rest ${BOOT_RPS[pinrest]:-}, during ${BOOT_RPS[pinned]:-} (after ${BOOT_SLOW[pinned]:-}s); nats-server with the replicas: at rest ${BOOT_RPS[natsrest]:-}, during ${BOOT_RPS[natspinned]:-} (after ${BOOT_SLOW[natspinned]:-}s); replicas niced: during ${BOOT_RPS[niced]:-} (after ${BOOT_SLOW[niced]:-}s); replicas and versitygw niced: during ${BOOT_RPS[offhost]:-} (after ${BOOT_SLOW[offhost]:-}s)")
fi

# cut pauses of every snapshot the master wrote in this run
pauses=()
while read -r p; do pauses+=("$(us "$p")"); done < <(grep 'msg="snapshot written"' "$TMP/master.log" |
  sed -n 's/.*cut_pause=\([^ ]*\).*/\1/p')
if [ ${#pauses[@]} -gt 0 ]; then
  pmed=$(median "${pauses[@]}")
  pmax=$(printf '%s\n' "${pauses[@]}" | sort -g | tail -n 1)
  summary+=("| cut pause, µs (median, max of ${#pauses[@]} snapshots) | $pmed, $pmax | (fork: ${rfork:-?}) | | | |")
  for p in "${pauses[@]}"; do record cut ferry snapshot - pause_us "$p"; done
fi
cp "$TMP/master.log" "$base.master.log"

elapsed=$((SECONDS - started))
{
  echo "# Snapshots: ferry (zstd RDB to S3) vs redis-server (RDB, fork)"
  echo
  echo "$info"
  echo "- nats-server: $("$NATS_BIN" --version 2>&1 | head -n 1); versitygw: $("$VGW_BIN" --version 2>&1 | head -n 1 | tr -d '\r')"
  echo "- dataset: $KEYS keys; parts: $PARTS; ${elapsed}s; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "| measure | ferry | redis | ferry/redis | target | met |"
  echo "|---|---:|---:|---:|---|---|"
  printf '%s\n' "${summary[@]}"
  if [ -n "${lat_rows+x}" ] && [ ${#lat_rows[@]} -gt 0 ]; then
    echo
    echo "SET latency (µs) and peak memory of the master's processes (kB), medians of $LAT_REPS runs of ${SET_SECONDS}s:"
    echo
    echo "| server, condition | SET/s | p50 | p99 | p99.9 | peak RSS | peak Pss |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${lat_rows[@]}"
  fi
  echo
  printf '%s\n' "${md_parts[@]}"
  if [ ${#notes[@]} -gt 0 ]; then
    printf -- '- note: %s\n' "${notes[@]}"
  fi
} >"$md"

echo
sed -n '/^| measure/,/^$/p' "$md"
echo "targets missed: $misses (${elapsed}s)"
if [ ${#notes[@]} -gt 0 ]; then printf 'note: %s\n' "${notes[@]}"; fi
echo "results: ${md#"$ROOT"/} (also .csv, .master.log)"
if [ "$STRICT" = 1 ] && [ "$misses" -gt 0 ]; then exit 1; fi
