#!/usr/bin/env bash
# A throwaway PostgreSQL for the rotation tests: `scripts/postgres.sh start|stop|env`.
#
# - Cluster under .services/postgres/ (gitignored; see $S below for private checkouts); TCP on 127.0.0.1:${SECRETVAULT_PG_PORT:-55441}
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
# The server's own files (data, socket, log). Under $D when the server's user can reach it; a
# checkout under a private home (/root is 0700) gets them in a /tmp folder named after it.
S="$D"
if [[ $(id -u) -eq 0 ]] && ! runuser -u postgres -- test -x "$PWD" 2>/dev/null; then
  S="/tmp/secretvault-pg-$(printf '%s' "$PWD" | sha256sum | cut -c1-12)"
fi

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
    (cd / && runuser -u postgres -- "$@")  # paths are absolute; the cwd may be private
  else
    "$@"
  fi
}

running() {
  [[ -f "$S/data/postmaster.pid" ]] && as_pg "$BIN/pg_ctl" -D "$S/data" status >/dev/null 2>&1
}

start() {
  if running && [[ -f "$D/env" ]]; then
    echo "postgres.sh: already running on 127.0.0.1:$PORT" >&2
    return 0
  fi
  stop
  mkdir -p "$D" "$S"
  chmod 0700 "$D" "$S"
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd -r -M -d /nonexistent -s /usr/sbin/nologin postgres
    chown postgres "$S"
  fi
  local pw
  pw=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
  # The password file must be readable by the server's user; it is deleted right after initdb.
  (umask 077 && printf '%s\n' "$pw" >"$S/pwfile")
  if [[ $(id -u) -eq 0 ]]; then chown postgres "$S/pwfile"; fi
  as_pg "$BIN/initdb" -D "$S/data" -U postgres --auth=scram-sha-256 --pwfile="$S/pwfile" \
    -E UTF8 --no-locale --no-sync >"$D/initdb.log" 2>&1 || { cat "$D/initdb.log" >&2; exit 1; }
  rm -f "$S/pwfile"
  as_pg "$BIN/pg_ctl" -D "$S/data" -l "$S/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $S -c fsync=off -c password_encryption=scram-sha-256" \
    start >/dev/null || { cat "$S/server.log" >&2; exit 1; }
  (
    umask 077
    {
      echo "SECRETVAULT_PG_HOST=127.0.0.1"
      echo "SECRETVAULT_PG_PORT=$PORT"
      echo "SECRETVAULT_PG_SUPERUSER=postgres"
      echo "SECRETVAULT_PG_PASSWORD=$pw"
      echo "SECRETVAULT_PG_DSN=postgresql://postgres:$pw@127.0.0.1:$PORT/postgres"
      echo "SECRETVAULT_PG_LOG=$S/server.log"
    } >"$D/env"
  )
  echo "postgres.sh: started on 127.0.0.1:$PORT (credentials in $D/env)" >&2
}

stop() {
  if [[ -d "$S/data" ]]; then
    as_pg "$BIN/pg_ctl" -D "$S/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$D" "$S"
}

BIN=$(pg_bin)
case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) echo "$D/env" ;;
  *) echo "usage: scripts/postgres.sh start|stop|env" >&2; exit 2 ;;
esac
