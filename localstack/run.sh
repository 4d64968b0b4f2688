#!/usr/bin/env bash
# ferry's local stack without Docker: the same services as
# docker-compose.yml, as processes on 127.0.0.1.
#
#   S3      versitygw (POSIX backend) in MinIO's place, bucket created
#   NATS    nats-server with JetStream, built from the Go module proxy
#   master  ferry master, snapshots to s3://$BUCKET/ferry
#   replica1, replica2  ferry replicas bootstrapping from those snapshots
#
# usage: localstack/run.sh up [NAME...]     start what is not running (all by default)
#        localstack/run.sh down [NAME...]   stop (all by default, in reverse order)
#        localstack/run.sh status           one line per service; exit 3 if any is down
#        localstack/run.sh env              shell exports for clients of the stack
#        localstack/run.sh clean            down, then delete the state directory
# NAME is one of: s3 nats master replica1 replica2.
#
# Settings (environment; the ports of the first `up` are remembered in the
# state directory):
#   LOCALSTACK_DIR      state: pid files, logs, data (default ${TMPDIR:-/tmp}/ferry-localstack;
#                       versitygw needs a filesystem with user xattrs)
#   S3_PORT 9000  NATS_PORT 4222
#   MASTER_PORT 6379  REPLICA1_PORT 6380  REPLICA2_PORT 6381          RESP
#   MASTER_METRICS_PORT 9090  REPLICA1_METRICS_PORT 9091  REPLICA2_METRICS_PORT 9092
#                       Prometheus /metrics, /healthz, /readyz
#   MASTER_HTTP_PORT 8080  REPLICA1_HTTP_PORT 8081  REPLICA2_HTTP_PORT 8082   HTTP API
#   BUCKET ferry  DATASET default  HTTP_TOKEN localstack-token
#   SNAPSHOT_AFTER_WRITES 10000   the master's --snapshot-after-writes
#   S3_ACCESS_KEY / S3_SECRET_KEY  credentials of the S3 server
#   FERRY_BIN           a ferry binary to use instead of building the tree
#   NATS_SERVER_BIN     a nats-server binary to use instead of the cached build
#   VERSITYGW_BIN       a versitygw binary to use instead of the one scripts/deps.sh installs
#   READY_TIMEOUT 60    seconds to wait for each service
#
# Tools are built once and cached: nats-server (the version go.mod pins,
# from the Go module proxy; v2.15.2 outside a module) under
# ${XDG_CACHE_HOME:-~/.cache}/ferry/nats-server-<version>, versitygw into
# $(go env GOPATH)/bin from the pinned tools module .ci/tools (as
# scripts/deps.sh does). ferry is built from this tree into the state
# directory on every `up` (the go build cache makes that quick).
set -euo pipefail

NATS_VERSION=v2.15.2
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
STATE="${LOCALSTACK_DIR:-${TMPDIR:-/tmp}/ferry-localstack}"
SERVICES=(s3 nats master replica1 replica2)
SETTINGS=(S3_PORT NATS_PORT MASTER_PORT REPLICA1_PORT REPLICA2_PORT MASTER_METRICS_PORT
  REPLICA1_METRICS_PORT REPLICA2_METRICS_PORT MASTER_HTTP_PORT REPLICA1_HTTP_PORT REPLICA2_HTTP_PORT
  BUCKET DATASET HTTP_TOKEN S3_ACCESS_KEY S3_SECRET_KEY SNAPSHOT_AFTER_WRITES)

say() { printf 'localstack: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# Settings remembered by an earlier `up` apply unless set in the environment.
if [ -f "$STATE/settings.env" ]; then
  while IFS='=' read -r k v; do
    [ -n "$k" ] && [ -z "${!k:-}" ] && printf -v "$k" '%s' "$v"
  done <"$STATE/settings.env"
fi
: "${S3_PORT:=9000}" "${NATS_PORT:=4222}"
: "${MASTER_PORT:=6379}" "${REPLICA1_PORT:=6380}" "${REPLICA2_PORT:=6381}"
: "${MASTER_METRICS_PORT:=9090}" "${REPLICA1_METRICS_PORT:=9091}" "${REPLICA2_METRICS_PORT:=9092}"
: "${MASTER_HTTP_PORT:=8080}" "${REPLICA1_HTTP_PORT:=8081}" "${REPLICA2_HTTP_PORT:=8082}"
: "${BUCKET:=ferry}" "${DATASET:=default}" "${HTTP_TOKEN:=localstack-token}"
: "${S3_ACCESS_KEY:=ferrylocal}" "${S3_SECRET_KEY:=ferrylocalsecret}"
: "${SNAPSHOT_AFTER_WRITES:=10000}" "${READY_TIMEOUT:=60}"

pidfile() { echo "$STATE/run/$1.pid"; }
logfile() { echo "$STATE/logs/$1.log"; }

# alive PID: the process runs (a zombie, exited and not yet reaped, does
# not).
alive() {
  local st
  kill -0 "$1" 2>/dev/null || return 1
  st="$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null || true)"
  [ "$st" != Z ] && [ "$st" != X ]
}

# running NAME: the service's process runs.
running() {
  local f pid
  f="$(pidfile "$1")"
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  [ -n "$pid" ] && alive "$pid"
}

# wait_until SECONDS NAME CMD...: poll CMD until it succeeds; fail with the
# service's log if it does not, or if the service died.
wait_until() {
  local secs="$1" name="$2"
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ! running "$name"; then
      tail -n 30 "$(logfile "$name")" >&2 || true
      die "$name exited; log: $(logfile "$name")"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$(logfile "$name")" >&2 || true
      die "$name not ready after ${secs}s; log: $(logfile "$name")"
    fi
    sleep 0.1
  done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
http_ok() { curl -fsS -o /dev/null --max-time 2 "$1"; }

# spawn NAME CMD...: start CMD in the background, detached from this
# shell's output, with its pid in NAME's pid file.
spawn() {
  local name="$1"
  shift
  mkdir -p "$STATE/run" "$STATE/logs"
  printf '\n=== %s: %s\n' "$(date -u +%FT%TZ)" "$*" >>"$(logfile "$name")"
  nohup "$@" </dev/null >>"$(logfile "$name")" 2>&1 &
  echo $! >"$(pidfile "$name")"
}

gobin() { echo "$(go env GOPATH)/bin"; }

tool_versitygw() {
  if [ -n "${VERSITYGW_BIN:-}" ]; then echo "$VERSITYGW_BIN"; return; fi
  local bin
  bin="$(gobin)/versitygw"
  if [ ! -x "$bin" ]; then
    say "building versitygw from .ci/tools into $(gobin) (once; about two minutes)"
    (cd "$ROOT/.ci/tools" && go build -o "$bin" github.com/versity/versitygw/cmd/versitygw)
  fi
  echo "$bin"
}

tool_nats() {
  if [ -n "${NATS_SERVER_BIN:-}" ]; then echo "$NATS_SERVER_BIN"; return; fi
  # The version ferry embeds (go.mod), built with ferry's flags so that the
  # server's packages come from the same build cache as ferry's own.
  local version
  version="$(cd "$ROOT" && go list -m -f '{{.Version}}' github.com/nats-io/nats-server/v2 2>/dev/null || true)"
  local dir="${XDG_CACHE_HOME:-$HOME/.cache}/ferry/nats-server-${version:-$NATS_VERSION}"
  if [ ! -x "$dir/nats-server" ]; then
    say "building nats-server ${version:-$NATS_VERSION} from the Go module proxy into $dir (once)"
    mkdir -p "$dir"
    if [ -n "$version" ]; then
      (cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$dir/nats-server" github.com/nats-io/nats-server/v2)
    else
      GOBIN="$dir" go install "github.com/nats-io/nats-server/v2@$NATS_VERSION"
    fi
  fi
  echo "$dir/nats-server"
}

tool_ferry() {
  if [ -n "${FERRY_BIN:-}" ]; then echo "$FERRY_BIN"; return; fi
  mkdir -p "$STATE/bin"
  # The Dockerfile's build flags, so that both share the build cache.
  (cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=localstack" -o "$STATE/bin/ferry" ./cmd/ferry)
  echo "$STATE/bin/ferry"
}

# ferry_env NAME RESP_PORT METRICS_PORT HTTP_PORT: the environment of a
# ferry node. Everything goes through FERRY_* variables, as in the compose
# file.
ferry_env() {
  echo "FERRY_ADDR=127.0.0.1:$2"
  echo "FERRY_METRICS_ADDR=127.0.0.1:$3"
  echo "FERRY_HTTP_ADDR=127.0.0.1:$4"
  echo "FERRY_HTTP_TOKEN=$HTTP_TOKEN"
  echo "FERRY_NATS=nats://127.0.0.1:$NATS_PORT"
  echo "FERRY_DATASET=$DATASET"
  echo "FERRY_STORE=s3://$BUCKET/ferry"
  echo "FERRY_S3_ENDPOINT=http://127.0.0.1:$S3_PORT"
  echo "FERRY_S3_REGION=us-east-1"
  echo "AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY"
  echo "AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY"
  echo "AWS_REGION=us-east-1"
}

start_s3() {
  local bin
  bin="$(tool_versitygw)"
  mkdir -p "$STATE/s3"
  spawn s3 "$bin" --access "$S3_ACCESS_KEY" --secret "$S3_SECRET_KEY" --port "127.0.0.1:$S3_PORT" --quiet posix "$STATE/s3"
  wait_until "$READY_TIMEOUT" s3 port_open "$S3_PORT"
  # Create the bucket (an existing one answers 409, which is fine).
  local code
  code="$(curl -sS -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    -X PUT "http://127.0.0.1:$S3_PORT/$BUCKET")"
  case "$code" in
  200 | 409) ;;
  *) die "create bucket $BUCKET: HTTP $code" ;;
  esac
}

start_nats() {
  local bin
  bin="$(tool_nats)"
  mkdir -p "$STATE/nats"
  spawn nats "$bin" -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$STATE/nats" -n ferry-localstack
  wait_until "$READY_TIMEOUT" nats port_open "$NATS_PORT"
}

# start_ferry NAME ROLE RESP_PORT METRICS_PORT HTTP_PORT [FLAG...]
start_ferry() {
  local name="$1" role="$2" port="$3" mport="$4" hport="$5"
  shift 5
  local envs=()
  mapfile -t envs < <(ferry_env "$name" "$port" "$mport" "$hport")
  spawn "$name" env "${envs[@]}" "$FERRY" "$role" "$@"
  wait_until "$READY_TIMEOUT" "$name" http_ok "http://127.0.0.1:$mport/readyz"
}

start() {
  case "$1" in
  s3) start_s3 ;;
  nats) start_nats ;;
  master)
    start_ferry master master "$MASTER_PORT" "$MASTER_METRICS_PORT" "$MASTER_HTTP_PORT" \
      --new-dataset --snapshot-after-writes "$SNAPSHOT_AFTER_WRITES"
    ;;
  replica1) start_ferry replica1 replica "$REPLICA1_PORT" "$REPLICA1_METRICS_PORT" "$REPLICA1_HTTP_PORT" ;;
  replica2) start_ferry replica2 replica "$REPLICA2_PORT" "$REPLICA2_METRICS_PORT" "$REPLICA2_HTTP_PORT" ;;
  *) die "unknown service $1 (want one of: ${SERVICES[*]})" ;;
  esac
}

stop() {
  local name="$1" f pid
  f="$(pidfile "$name")"
  if running "$name"; then
    pid="$(cat "$f")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 200); do
      alive "$pid" || break
      sleep 0.05
    done
    if alive "$pid"; then
      say "$name did not stop within 10s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    say "stopped $name"
  fi
  rm -f "$f"
}

address() {
  case "$1" in
  s3) echo "http://127.0.0.1:$S3_PORT (bucket $BUCKET)" ;;
  nats) echo "nats://127.0.0.1:$NATS_PORT" ;;
  master) echo "redis://127.0.0.1:$MASTER_PORT metrics http://127.0.0.1:$MASTER_METRICS_PORT" ;;
  replica1) echo "redis://127.0.0.1:$REPLICA1_PORT metrics http://127.0.0.1:$REPLICA1_METRICS_PORT" ;;
  replica2) echo "redis://127.0.0.1:$REPLICA2_PORT metrics http://127.0.0.1:$REPLICA2_METRICS_PORT" ;;
  esac
}

metrics_port() {
  case "$1" in
  master) echo "$MASTER_METRICS_PORT" ;;
  replica1) echo "$REPLICA1_METRICS_PORT" ;;
  replica2) echo "$REPLICA2_METRICS_PORT" ;;
  esac
}

save_settings() {
  mkdir -p "$STATE"
  local k
  for k in "${SETTINGS[@]}"; do echo "$k=${!k}"; done >"$STATE/settings.env"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${SERVICES[@]}")

case "$cmd" in
up)
  command -v go >/dev/null || die "go is needed to build the stack's programs"
  command -v curl >/dev/null || die "curl is needed (bucket creation, readiness)"
  save_settings
  FERRY=""
  for n in "${names[@]}"; do
    if running "$n"; then
      continue
    fi
    case "$n" in master | replica*) [ -n "$FERRY" ] || FERRY="$(tool_ferry)" ;; esac
    start "$n"
    say "started $n: $(address "$n") (pid $(cat "$(pidfile "$n")"), log $(logfile "$n"))"
  done
  ;;
down)
  for ((i = ${#names[@]} - 1; i >= 0; i--)); do stop "${names[i]}"; done
  ;;
status)
  rc=0
  for n in "${names[@]}"; do
    if running "$n"; then
      state="running (pid $(cat "$(pidfile "$n")"))"
      mp="$(metrics_port "$n")"
      if [ -n "$mp" ]; then
        if http_ok "http://127.0.0.1:$mp/readyz"; then state="$state ready"; else state="$state not-ready"; fi
      fi
    else
      state="stopped"
      rc=3
    fi
    printf '%-9s %-28s %s\n' "$n" "$state" "$(address "$n")"
  done
  exit "$rc"
  ;;
env)
  echo "export REDIS_MASTER_URL=redis://127.0.0.1:$MASTER_PORT"
  echo "export REDIS_REPLICA_URLS='redis://127.0.0.1:$REPLICA1_PORT redis://127.0.0.1:$REPLICA2_PORT'"
  echo "export FERRY_NATS=nats://127.0.0.1:$NATS_PORT FERRY_DATASET=$DATASET"
  echo "export FERRY_STORE=s3://$BUCKET/ferry FERRY_S3_ENDPOINT=http://127.0.0.1:$S3_PORT"
  echo "export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY AWS_REGION=us-east-1"
  ;;
clean)
  for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do stop "${SERVICES[i]}"; done
  rm -rf "$STATE"
  say "removed $STATE"
  ;;
*)
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
  ;;
esac
