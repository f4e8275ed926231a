#!/usr/bin/env bash
# Run the whole test suite: unit (no services), contract (one suite over every store),
# integration (real files, processes, git repositories, PostgreSQL) and e2e (the installed CLI
# driven as a user would). The services the tests need are started here and stopped on exit;
# a test that needs one and finds it absent fails in CI (CI=true) rather than skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1

stop_services() { scripts/postgres.sh stop >/dev/null 2>&1 || true; }
trap stop_services EXIT
# Assign first: a failed start then stops the script (set -e), where `eval "$(…)"` would not.
pg_env=$(scripts/postgres.sh start)
eval "$pg_env"

.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
