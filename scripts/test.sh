#!/usr/bin/env bash
# Run the whole test suite: unit (no services), integration (real files, processes, git
# repositories) and e2e (the installed CLI driven as a user would).
# Services: the tests of issues implemented so far need no network server; backend issues
# (OpenBao, moto, PostgreSQL) add their start-up here, and their tests fail — not skip — in CI
# when the service is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1
# PostgreSQL (rotation tests): started here, stopped on exit whatever happens.
if [[ -z "${SECRETVAULT_PG_ENV_FILE:-}" ]]; then
  trap 'scripts/postgres.sh stop' EXIT
  scripts/postgres.sh start
  export SECRETVAULT_PG_ENV_FILE="$PWD/.services/postgres/env"
fi
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
