#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests: `scripts/postgres.sh start` prints `export` lines to
# eval (SECRETVAULT_TEST_POSTGRES_DSN, and SECRETVAULT_PG_ENV_FILE: a 0600 file with the host,
# port, superuser password and DSN, which the rotation tests read); `scripts/postgres.sh stop`
# ends it and removes it. `halt` / `resume` stop and start the same server with its data
# (outage tests). The cluster lives under /tmp, not in the checkout: the `postgres` OS user must
# be able to reach it wherever the repository was cloned.
#
# Password authentication over TCP (scram-sha-256), not trust: with trust any password logs in
# and tests of credentials prove nothing. The superuser password is generated per start and
# kept in a 0600 file in the cluster's folder. initdb refuses to run as root, so the cluster
# belongs to the `postgres` OS user (created when missing); the server binaries come from
# Debian's postgresql package (installed when missing, as root).
set -euo pipefail
PORT="${SECRETVAULT_TEST_PG_PORT:-55432}"
DIR="${SECRETVAULT_TEST_PG_DIR:-/tmp/secretvault-test-pg-$PORT}"

bin_dir() {
  local initdb
  initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$initdb" ]; then
    echo "postgres.sh: installing the PostgreSQL server (apt-get)" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    initdb=$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
  fi
  dirname "$initdb"
}

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start() {
  local bin pw
  bin=$(bin_dir)
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then useradd -r -M postgres; fi
  stop >/dev/null 2>&1 || true
  rm -rf "$DIR" && mkdir -p "$DIR" && chmod 700 "$DIR"
  pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  (umask 077 && printf '%s\n' "$pw" >"$DIR/password")
  [ "$(id -u)" = 0 ] && chown -R postgres "$DIR"
  as_pg "$bin/initdb" -D "$DIR/data" -U postgres --pwfile="$DIR/password" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale --no-sync >"$DIR/initdb.log"
  resume
  as_pg "$bin/createdb" -h "$DIR" -p "$PORT" -U postgres testdb
  (
    umask 077
    {
      echo "SECRETVAULT_PG_HOST=127.0.0.1"
      echo "SECRETVAULT_PG_PORT=$PORT"
      echo "SECRETVAULT_PG_SUPERUSER=postgres"
      echo "SECRETVAULT_PG_PASSWORD=$pw"
      echo "SECRETVAULT_PG_DSN=postgresql://postgres:$pw@127.0.0.1:$PORT/postgres"
      echo "SECRETVAULT_PG_LOG=$DIR/server.log"
    } >"$DIR/env"
  )
  echo "export SECRETVAULT_TEST_POSTGRES_DSN=postgresql://postgres:$pw@127.0.0.1:$PORT/testdb"
  echo "export SECRETVAULT_PG_ENV_FILE=$DIR/env"
}

resume() {
  as_pg "$(bin_dir)/pg_ctl" -D "$DIR/data" -w -t 30 -l "$DIR/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off" start >/dev/null
}

halt() { as_pg "$(bin_dir)/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null; }

stop() {
  local bin
  bin=$(bin_dir)
  [ -d "$DIR/data" ] && as_pg "$bin/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null
  rm -rf "$DIR"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  halt) halt ;;
  resume) resume ;;
  *) echo "usage: $0 start|stop|halt|resume" >&2; exit 2 ;;
esac
