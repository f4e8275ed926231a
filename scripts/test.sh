#!/usr/bin/env bash
# Run the whole test suite: unit (no services), contract (one suite over every store: SQLite,
# PostgreSQL, the real OpenBao and moto servers), integration (real files, processes, servers,
# git repositories) and e2e (the installed CLI driven as a user would).
# Services: scripts/services.sh starts OpenBao and moto_server, scripts/postgres.sh a throwaway
# PostgreSQL with password authentication; their addresses reach the tests as SECRETVAULT_TEST_*
# and everything started here is stopped on exit. A test whose server is absent fails when CI is
# set and skips loudly otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1
started=""
cleanup() {
  scripts/postgres.sh stop >/dev/null 2>&1 || true
  if [[ -n "$started" ]]; then scripts/services.sh stop; fi
}
trap cleanup EXIT
# Each start's output is assigned first: a failed start then stops the script (set -e), where
# `eval "$(…)"` would run the tests without the server.
if [[ -z "${SECRETVAULT_TEST_NO_SERVICES:-}" ]]; then
  if ! scripts/services.sh status >/dev/null 2>&1; then
    started=1
  fi
  svc_env=$(scripts/services.sh start)
  eval "$svc_env"
fi
pg_env=$(scripts/postgres.sh start)
eval "$pg_env"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
