#!/usr/bin/env bash
# Run the whole test suite: unit (no services), contract (every store, the real OpenBao and
# moto servers included), integration (real files, processes, servers, git repositories) and
# e2e (the installed CLI driven as a user would).
# Services: scripts/services.sh starts OpenBao and moto_server before pytest (their addresses
# reach the tests as SECRETVAULT_TEST_*) and stops what it started afterwards. A test whose
# server is absent fails when CI is set and skips loudly otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1
started=""
if [[ -z "${SECRETVAULT_TEST_NO_SERVICES:-}" ]]; then
  if ! scripts/services.sh status >/dev/null 2>&1; then
    started=1
  fi
  eval "$(scripts/services.sh start)"
fi
cleanup() { if [[ -n "$started" ]]; then scripts/services.sh stop; fi; }
trap cleanup EXIT
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
