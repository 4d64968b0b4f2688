#!/usr/bin/env bash
# Installs what ferry's tests need on a fresh Debian machine: redis-server,
# redis-cli, redis-benchmark and redis-check-rdb (Debian's 7.0, the
# reference for the differential tests), node, npm and curl (the HTTP API's
# client tests), staticcheck, and versitygw (the S3
# server of the object storage tests) and aws-lambda-rie (the Lambda
# runtime interface emulator) into $(go env GOPATH)/bin. Safe to re-run.
set -euo pipefail

STATICCHECK_VERSION=2026.2.2

need_apt=()
for bin in redis-server redis-cli redis-benchmark redis-check-rdb; do
  command -v "$bin" >/dev/null 2>&1 || need_apt=(redis-server redis-tools)
done
# node and npm run the real @upstash/redis client against the HTTP API;
# curl the HTTP API's shell examples.
for pair in node:nodejs npm:npm curl:curl; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need_apt+=("${pair#*:}")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # Debian's package starts a redis-server on 6379; the tests use their own
  # servers on free ports, so stop it (it may not run at all: no systemd).
  $sudo service redis-server stop >/dev/null 2>&1 || true
fi

GOBIN="$(go env GOPATH)/bin"
if ! "$GOBIN/staticcheck" -version 2>/dev/null | grep -q "$STATICCHECK_VERSION"; then
  go install "honnef.co/go/tools/cmd/staticcheck@v0.8.2"
fi
# versitygw, the S3-compatible server the object storage tests run against,
# pinned in the tools module .ci/tools (out of the project's go.mod).
VERSITYGW_VERSION=v1.8.0
stamp="$GOBIN/.ferry-versitygw-$VERSITYGW_VERSION"
if [ ! -x "$GOBIN/versitygw" ] || [ ! -f "$stamp" ]; then
  (cd "$(dirname "$0")/../.ci/tools" && go build -o "$GOBIN/versitygw" github.com/versity/versitygw/cmd/versitygw)
  touch "$stamp"
fi
# The Lambda runtime interface emulator, for the Lambda replica's tests.
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
stamp="$GOBIN/.ferry-aws-lambda-rie-$RIE_VERSION"
if [ ! -x "$GOBIN/aws-lambda-rie" ] || [ ! -f "$stamp" ]; then
  go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$RIE_VERSION"
  touch "$stamp"
fi
redis-server --version
"$GOBIN/staticcheck" -version
