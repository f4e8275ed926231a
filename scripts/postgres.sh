#!/usr/bin/env bash
# A throwaway PostgreSQL for the rotation tests: `scripts/postgres.sh start|stop|env`.
#
# - Cluster under .services/postgres/ (gitignored); TCP on 127.0.0.1:${SECRETVAULT_PG_PORT:-55441}
#   with scram-sha-256 for every connection (with `trust` any password logs in and the rotation
#   tests would prove nothing).
# - The superuser password is generated at each start and written, with the DSN, to
#   .services/postgres/env (mode 0600): tests read it through $SECRETVAULT_PG_ENV_FILE.
# - initdb refuses root, so as root the server runs as the `postgres` OS user (created when
#   missing); on a machine without the server binaries, apt-get installs them (root only).
# - start is idempotent (a running cluster is reused); stop kills the server and deletes the
#   cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
D="$PWD/.services/postgres"
PORT="${SECRETVAULT_PG_PORT:-55441}"

pg_bin() {
  local initdb
  initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1 || true)
  if [[ -z "$initdb" ]]; then
    if [[ $(id -u) -ne 0 ]]; then
      echo "postgres.sh: PostgreSQL server binaries are missing (apt-get install postgresql)" >&2
      exit 1
    fi
    echo "postgres.sh: installing PostgreSQL (apt-get)" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    initdb=$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)
  fi
  dirname "$initdb"
}

as_pg() {
  # Run a server command as the cluster's owner (root may not run initdb/postgres).
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

running() {
  [[ -f "$D/data/postmaster.pid" ]] && as_pg "$BIN/pg_ctl" -D "$D/data" status >/dev/null 2>&1
}

start() {
  if running && [[ -f "$D/env" ]]; then
    echo "postgres.sh: already running on 127.0.0.1:$PORT" >&2
    return 0
  fi
  rm -rf "$D"
  mkdir -p "$D"
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd -r -M -d /nonexistent -s /usr/sbin/nologin postgres
    chown postgres "$D"
  fi
  chmod 0700 "$D"
  local pw
  pw=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
  # The password file must be readable by the server's user; it is deleted right after initdb.
  (umask 077 && printf '%s\n' "$pw" >"$D/pwfile")
  [[ $(id -u) -eq 0 ]] && chown postgres "$D/pwfile"
  as_pg "$BIN/initdb" -D "$D/data" -U postgres --auth=scram-sha-256 --pwfile="$D/pwfile" \
    -E UTF8 --no-locale --no-sync >"$D/initdb.log" 2>&1 || { cat "$D/initdb.log" >&2; exit 1; }
  rm -f "$D/pwfile"
  as_pg "$BIN/pg_ctl" -D "$D/data" -l "$D/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $D -c fsync=off -c password_encryption=scram-sha-256" \
    start >/dev/null || { cat "$D/server.log" >&2; exit 1; }
  (
    umask 077
    {
      echo "SECRETVAULT_PG_HOST=127.0.0.1"
      echo "SECRETVAULT_PG_PORT=$PORT"
      echo "SECRETVAULT_PG_SUPERUSER=postgres"
      echo "SECRETVAULT_PG_PASSWORD=$pw"
      echo "SECRETVAULT_PG_DSN=postgresql://postgres:$pw@127.0.0.1:$PORT/postgres"
    } >"$D/env"
  )
  echo "postgres.sh: started on 127.0.0.1:$PORT (credentials in $D/env)" >&2
}

stop() {
  if [[ -d "$D/data" ]]; then
    as_pg "$BIN/pg_ctl" -D "$D/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$D"
}

BIN=$(pg_bin)
case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) echo "$D/env" ;;
  *) echo "usage: scripts/postgres.sh start|stop|env" >&2; exit 2 ;;
esac
