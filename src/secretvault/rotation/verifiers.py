"""Verifiers: prove a candidate credential works before it is promoted (docs/rotation.md).

A verifier is ``verifier(value, record) -> bool`` (sync or async): True when ``value`` works.
Built in: ``http`` (a request with the candidate in a header, expecting a status); a postgres
rotator brings its own (log in with the candidate) unless another verifier matches.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from secretvault.errors import ConfigurationError

if TYPE_CHECKING:
    from secretvault.models import SecretRecord

Verifier = Callable[[str, "SecretRecord"], Awaitable[bool] | bool]


async def run_verifier(verifier: Verifier, value: str, record: SecretRecord) -> bool:
    """Call a sync or async verifier."""
    ok = verifier(value, record)
    if isinstance(ok, Awaitable):
        ok = await ok
    return bool(ok)


class HttpVerifier:
    """``kind: http``: request ``url`` with ``header`` (``{value}`` → the candidate) and expect
    ``expect_status``. The candidate goes in a header only, never the URL (URLs get logged)."""

    kind = "http"

    def __init__(
        self,
        url: str,
        header: str,
        expect_status: int = 200,
        method: str = "GET",
        timeout_seconds: float = 10.0,
    ) -> None:
        self.url = url
        self.header_name, _, self.header_template = header.partition(":")
        self.header_template = self.header_template.strip()
        self.expect_status = expect_status
        self.method = method
        self.timeout = timeout_seconds

    def _status(self, value: str) -> int:
        req = urllib.request.Request(self.url, method=self.method)
        req.add_header(self.header_name.strip(), self.header_template.replace("{value}", value))
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except (urllib.error.URLError, OSError):
            return -1

    async def __call__(self, value: str, record: SecretRecord) -> bool:
        return await asyncio.to_thread(self._status, value) == self.expect_status


def verifier_from_settings(spec: dict[str, Any], key: str) -> Verifier:
    """A verifier from one ``rotation.verifiers`` entry (``kind`` and its options)."""
    kind = spec.get("kind")
    if kind != "http":
        raise ConfigurationError(
            f"{key}.kind: unknown verifier kind {kind!r}",
            hint="built-in verifiers: http (register Python callables with register_verifier)",
        )
    allowed = {"match", "kind", "url", "header", "expect_status", "method", "timeout_seconds"}
    extra = sorted(set(spec) - allowed)
    if extra:
        raise ConfigurationError(f"{key}.{extra[0]}: unknown option for kind http")
    for option in ("url", "header"):
        if not isinstance(spec.get(option), str) or not spec[option]:
            raise ConfigurationError(f"{key}.{option}: required for kind http")
    if not str(spec["url"]).startswith(("http://", "https://")):
        raise ConfigurationError(f"{key}.url: must be an http:// or https:// URL")
    if ":" not in spec["header"] or "{value}" not in spec["header"]:
        raise ConfigurationError(
            f"{key}.header: expected 'Name: template with {{value}}'",
            hint='e.g. "Authorization: Bearer {value}"',
        )
    status = spec.get("expect_status", 200)
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise ConfigurationError(f"{key}.expect_status: must be an HTTP status (100-599)")
    return HttpVerifier(
        spec["url"],
        spec["header"],
        status,
        str(spec.get("method", "GET")).upper(),
        float(spec.get("timeout_seconds", 10.0)),
    )
