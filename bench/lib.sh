# shellcheck shell=bash
# Helpers shared by the bench/*.sh scripts (sourced, not run): build ferry,
# start ferry and redis-server side by side on free loopback ports (never
# the 6379 default), and stop both when the script exits.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)

# need fails unless every named binary is on PATH.
need() {
  local b
  for b in "$@"; do
    if ! command -v "$b" >/dev/null 2>&1; then
      echo "bench: $b not found on PATH (make deps installs redis-server and redis-tools)" >&2
      exit 1
    fi
  done
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench.XXXXXX")
SERVER_PIDS=()

# cleanup stops the servers this script started (by pid) and removes $TMP.
cleanup() {
  local p
  for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# SRC is the source tree the scripts build: the working tree, or a clean
# export of commit $FERRY_REV when that is set (FERRY_REV=HEAD ignores
# uncommitted edits).
SRC=$ROOT
if [ -n "${FERRY_REV:-}" ]; then
  SRC="$TMP/src"
  mkdir -p "$SRC"
  git -C "$ROOT" archive "$FERRY_REV" | tar -x -C "$SRC"
fi

# build NAME PKG builds package PKG (./cmd/ferry) of $SRC into $TMP/NAME.
build() {
  (cd "$SRC" && go build -o "$TMP/$1" "$2")
}

# build_ferry builds ./cmd/ferry into $TMP/ferry.
build_ferry() {
  build ferry ./cmd/ferry
}

# port_busy succeeds when something accepts connections on 127.0.0.1:$1.
port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pick_port prints a random port in 20000-59999 that nothing listens on.
pick_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    port_busy "$p" || { echo "$p"; return; }
  done
}

# wait_ping waits up to 10 s for PONG from port $1 while pid $2 lives.
wait_ping() {
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$2" 2>/dev/null || return 1
    [ "$(redis-cli -h 127.0.0.1 -p "$1" PING 2>/dev/null)" = PONG ] && return 0
    sleep 0.1
  done
  return 1
}

# start_server NAME starts redis-server (NAME=redis), $TMP/ferry
# (NAME=ferry) or $TMP/ferryprof with the flags in FERRYPROF_ARGS
# (NAME=ferryprof) on a free port, retrying if the port was taken meanwhile.
# It sets REDIS_PORT/REDIS_PID or FERRY_PORT/FERRY_PID.
start_server() {
  local name=$1 try port pid
  for ((try = 0; try < 5; try++)); do
    port=$(pick_port)
    case $name in
      redis)
        redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
          --dir "$TMP" --daemonize no --logfile "$TMP/redis.log" &
        ;;
      ferry)
        # shellcheck disable=SC2086
        "$TMP/ferry" master --addr "127.0.0.1:$port" --log-level error ${FERRY_ARGS:-} 2>>"$TMP/ferry.log" &
        ;;
      ferryprof)
        "$TMP/ferryprof" -addr "127.0.0.1:$port" "${FERRYPROF_ARGS[@]}" >/dev/null 2>>"$TMP/ferryprof.log" &
        ;;
    esac
    pid=$!
    if wait_ping "$port" "$pid"; then
      SERVER_PIDS+=("$pid")
      case $name in
        redis) REDIS_PORT=$port REDIS_PID=$pid ;;
        ferry*) FERRY_PORT=$port FERRY_PID=$pid ;;
      esac
      return 0
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  echo "bench: could not start $name; its log:" >&2
  cat "$TMP/$name.log" >&2 2>/dev/null || true
  exit 1
}

# stop_server PID stops a server started by start_server with SIGINT and
# waits for it (ferryprof writes its profiles on the way out).
stop_server() {
  local p keep=()
  kill -INT "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  for p in "${SERVER_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  SERVER_PIDS=("${keep[@]}")
}

# port_of NAME prints the port of server NAME (redis or ferry).
port_of() {
  case $1 in
    redis) echo "$REDIS_PORT" ;;
    ferry) echo "$FERRY_PORT" ;;
  esac
}

# pid_of NAME prints the pid of server NAME (redis or ferry).
pid_of() {
  case $1 in
    redis) echo "$REDIS_PID" ;;
    ferry) echo "$FERRY_PID" ;;
  esac
}

# machine_info prints markdown lines describing where the numbers come from.
machine_info() {
  local cpu
  cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null)
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  local rev
  if [ -n "${FERRY_REV:-}" ]; then
    rev=$(git -C "$ROOT" rev-parse --short "$FERRY_REV")
  else
    rev="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || rev="$rev + uncommitted changes"
  fi
  echo "- ferry: $rev${FERRY_ARGS:+ (ferry master $FERRY_ARGS)}, $(go version | awk '{print $3}'), GOMAXPROCS=${GOMAXPROCS:-default}${GOGC:+, GOGC=$GOGC}${GOMEMLIMIT:+, GOMEMLIMIT=$GOMEMLIMIT}"
  echo "- redis: $(redis-server --version | awk '{print $3, $6}')"
  echo "- machine: ${cpu:-unknown cpu}, $(nproc) cores, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# has_part NAME succeeds when NAME is one of $PARTS.
has_part() { [[ " $PARTS " == *" $1 "* ]]; }

# stop_pid PID stops a process this script started with SIGTERM (background
# jobs of a script ignore SIGINT, and redis-benchmark does not reinstate it)
# and waits for it.
stop_pid() {
  local p keep=()
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  for p in "${SERVER_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  SERVER_PIDS=("${keep[@]}")
}

# median prints the median of its arguments (with $DEC decimals, default 0),
# or "error" if any is "error" or empty, or there is none.
median() {
  local v
  [ $# -eq 0 ] && { echo error; return; }
  for v in "$@"; do [ "$v" = error ] || [ -z "$v" ] && { echo error; return; }; done
  printf '%s\n' "$@" | sort -g | awk -v dec="${DEC:-0}" '{a[NR] = $1} END {
    m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.*f\n", dec, m }'
}

# ratio prints $1/$2 with two decimals, or "error".
ratio() {
  if [ "$1" = error ] || [ "$2" = error ] || [ -z "$1" ] || [ -z "$2" ]; then echo error; return; fi
  awk -v a="$1" -v b="$2" 'BEGIN {if (b == 0) print "error"; else printf "%.2f", a / b}'
}

# spread prints (max - min) / median of its arguments in percent, or nothing.
spread() {
  local v
  for v in "$@"; do [ "$v" = error ] && return; done
  printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {
    m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
    if (m > 0) printf "%.0f\n", (a[NR] - a[1]) / m * 100 }'
}

NATS_VERSION=v2.15.2

# build_nats_server sets NATS_BIN: $NATS_SERVER, or nats-server
# $NATS_VERSION built from the Go module proxy.
build_nats_server() {
  if [ -n "${NATS_SERVER:-}" ]; then
    NATS_BIN=$NATS_SERVER
    return
  fi
  echo "building nats-server $NATS_VERSION from the Go module proxy..."
  (cd "$TMP" && GOBIN="$TMP" GOFLAGS= go install "github.com/nats-io/nats-server/v2@$NATS_VERSION")
  NATS_BIN=$TMP/nats-server
}

# start_nats starts nats-server with JetStream on $TMP/nats on a free port
# (retrying if it was taken meanwhile); sets NATS_PID and NATS_URL. With
# NATS_WITH_PPROF=1 it also serves pprof on port NATS_PPROF; NATS_PROCS
# sets its GOMAXPROCS.
start_nats() {
  local try i port pid extra
  for ((try = 0; try < 5; try++)); do
    port=$(pick_port)
    extra=()
    if [ "${NATS_WITH_PPROF:-0}" = 1 ]; then
      NATS_PPROF=$(pick_port)
      extra=(--profile "$NATS_PPROF")
    fi
    env ${NATS_PROCS:+GOMAXPROCS=$NATS_PROCS} "$NATS_BIN" -js -sd "$TMP/nats" -a 127.0.0.1 -p "$port" "${extra[@]}" -l "$TMP/nats.log" >/dev/null 2>&1 &
    pid=$!
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      if port_busy "$port" && grep -q "Server is ready" "$TMP/nats.log" 2>/dev/null; then
        SERVER_PIDS+=("$pid")
        NATS_PID=$pid NATS_URL=nats://127.0.0.1:$port
        return 0
      fi
      sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  echo "bench: could not start nats-server; its log:" >&2
  cat "$TMP/nats.log" >&2 2>/dev/null || true
  exit 1
}
