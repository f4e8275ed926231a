"""Addresses of the real servers the backend tests use (started by ``scripts/services.sh``).

Read at import time: the suite's autouse fixture clears every ``SECRETVAULT_*`` variable before
each test. A test that needs a server calls ``need(...)``: when the server does not answer it
FAILS under CI (``CI`` set: the services must be there) and skips loudly otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import urllib.request
from pathlib import Path

import pytest

_SERVICES = Path(__file__).resolve().parents[1] / ".services"


def _default(service: str, port: int) -> str:
    """The address scripts/services.sh started ``service`` on (it may pick another port)."""
    with contextlib.suppress(OSError, ValueError):
        port = int((_SERVICES / f"{service}.port").read_text())
    return f"http://127.0.0.1:{port}"


VAULT_ADDR = os.environ.get("SECRETVAULT_TEST_VAULT_ADDR") or _default("bao", 8200)
VAULT_TOKEN = "root"  # the dev server's fixed root token (scripts/services.sh)
AWS_ENDPOINT = os.environ.get("SECRETVAULT_TEST_AWS_ENDPOINT") or _default("moto", 5005)
IN_CI = bool(os.environ.get("CI"))

_seen: dict[str, bool] = {}


def _answers(url: str) -> bool:
    if url not in _seen:
        try:
            with urllib.request.urlopen(url, timeout=2):
                _seen[url] = True
        except Exception:
            _seen[url] = False
    return _seen[url]


def need(service: str) -> str:
    """The address of ``service`` ("vault" or "aws"); fail (CI) or skip when it is down."""
    addr, probe = {
        "vault": (VAULT_ADDR, f"{VAULT_ADDR}/v1/sys/health"),
        "aws": (AWS_ENDPOINT, f"{AWS_ENDPOINT}/moto-api/"),
    }[service]
    if not _answers(probe):
        msg = (
            f"the {service} test server does not answer at {addr}: start it with "
            "`scripts/services.sh start` (scripts/test.sh does)"
        )
        if IN_CI:
            pytest.fail(msg)
        pytest.skip("SERVICE MISSING — " + msg)
    return addr


def namespace(seed: str) -> str:
    """A short stable name for a test's own mount or prefix (same seed, same name)."""
    return "t" + hashlib.sha256(seed.encode()).hexdigest()[:12]
