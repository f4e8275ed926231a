"""The rotation scheduler: one pass (``secretvault rotate --due``, cron) or a loop
(``secretvault scheduler``). See docs/rotation.md, "Scheduling".

A pass marks secrets past ``expires_at`` EXPIRED, rotates every secret that is due
(``rotation_days``, ``rotate_before_expiry_days``; ``rotation_enabled`` off means none), and
reports upcoming expiries and failed rotations (log, optional webhook). Before rotating a secret
a scheduler claims it in the control store — re-reading it in the same transaction, so a secret
another scheduler has just rotated is no longer due — and two schedulers on one vault never
rotate the same secret twice in one window.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from secretvault.backends.base import SecretFilter
from secretvault.errors import SecretVaultError
from secretvault.models import RotationResult, SecretRecord, SecretStatus

if TYPE_CHECKING:
    from secretvault.rotation.staged import StagedRotation

log = logging.getLogger("secretvault.rotation.scheduler")

#: How long a claim on one secret holds when its scheduler dies mid-rotation.
CLAIM_SECONDS = 900


def schedule_lease(secret_id: str) -> str:
    """The control-store lease a scheduler holds while it rotates one secret."""
    return f"schedule:{secret_id}"


@dataclass(slots=True)
class PassReport:
    """What one scheduler pass did."""

    started: datetime
    rotated: list[RotationResult] = field(default_factory=list)
    failed: list[RotationResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # claimed elsewhere or no longer due
    expired: list[str] = field(default_factory=list)
    expiring: list[tuple[str, datetime]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no rotation failed."""
        return not self.failed


class Scheduler:
    """Rotates due secrets of one vault; see the module docstring."""

    def __init__(
        self,
        rotation: StagedRotation,
        *,
        owner: str | None = None,
        webhook_url: str | None = None,
        expiry_warning_days: int = 14,
    ) -> None:
        self.rotation = rotation
        self.ops = rotation.ops
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.webhook_url = webhook_url
        self.expiry_warning_days = expiry_warning_days

    async def survey(self, report: PassReport) -> list[SecretRecord]:
        """Mark what has expired, note what expires soon; return the secrets due now."""
        now = self.rotation.clock()
        warn = now + timedelta(days=self.expiry_warning_days)
        async with self.ops.unit() as unit:
            records = await unit.secrets.list_records(SecretFilter())
            for record in records:
                exp = record.metadata.expires_at
                if record.status != SecretStatus.ACTIVE or exp is None:
                    continue
                if exp <= now:
                    record.status = SecretStatus.EXPIRED
                    await unit.secrets.update(record)
                    await self.ops.audit.append(
                        unit.control, "expire", "scheduler", record.name, reason="past expires_at"
                    )
                    report.expired.append(record.name)
                elif exp <= warn:
                    report.expiring.append((record.name, exp))
        return [r for r in records if self.rotation.should_rotate(r)]

    async def claim(self, record: SecretRecord) -> bool:
        """Take the secret's schedule lease if it is still due and nobody holds it."""
        async with self.ops.unit() as unit:
            fresh = await unit.secrets.get(record.name)
            if fresh is None or not self.rotation.should_rotate(fresh):
                return False
            lease = schedule_lease(record.id)
            held = await unit.control.lease_get(lease)
            if held and float(json.loads(held).get("until", 0)) > time.time():
                return False
            until = time.time() + CLAIM_SECONDS
            await unit.control.lease_put(lease, json.dumps({"owner": self.owner, "until": until}))
        return True

    async def release(self, record: SecretRecord) -> None:
        """Drop the secret's schedule lease."""
        async with self.ops.unit() as unit:
            await unit.control.lease_drop(schedule_lease(record.id))

    async def run_once(
        self,
        user: str = "scheduler",
        progress: Callable[[str, int, int], None] | None = None,
    ) -> PassReport:
        """One pass; ``progress(name, done, total)`` is called after each due secret."""
        report = PassReport(started=self.rotation.clock())
        if not self.rotation.config.rotation_enabled:
            return report
        due = await self.survey(report)
        for i, record in enumerate(due, 1):
            if not await self.claim(record):
                report.skipped.append(record.name)
            else:
                try:
                    result = await self.rotation.rotate(record.name, user=user)
                except SecretVaultError as exc:
                    result = RotationResult(
                        secret_name=record.name, success=False, error=str(exc), failed_step="create"
                    )
                finally:
                    await self.release(record)
                (report.rotated if result.success else report.failed).append(result)
            if progress is not None:
                progress(record.name, i, len(due))
        await self.notify(report)
        return report

    async def notify(self, report: PassReport) -> None:
        """Log failed rotations and upcoming expiries; POST them to the webhook when set."""
        events: list[dict[str, Any]] = []
        for result in report.failed:
            log.error(
                "rotation of %s failed at %s: %s",
                result.secret_name,
                result.failed_step,
                result.error,
            )
            events.append(
                {
                    "event": "rotation_failed",
                    "secret": result.secret_name,
                    "step": result.failed_step,
                    "error": result.error,
                }
            )
        for name in report.expired:
            log.warning("%s expired", name)
            events.append({"event": "expired", "secret": name})
        for name, when in report.expiring:
            log.warning("%s expires at %s", name, when.isoformat())
            events.append({"event": "expiring", "secret": name, "expires_at": when.isoformat()})
        if events and self.webhook_url:
            await asyncio.to_thread(_post, self.webhook_url, {"events": events})

    async def run(
        self,
        stop: asyncio.Event,
        interval_seconds: float,
        on_pass: Callable[[PassReport], None] | None = None,
    ) -> None:
        """Pass after pass until ``stop`` is set (a pass in progress finishes first)."""
        while not stop.is_set():
            report = await self.run_once()
            if on_pass is not None:
                on_pass(report)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_seconds)


def _post(url: str, body: dict[str, Any]) -> None:
    """Best-effort webhook: a failure is logged, never raised (the pass already happened)."""
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10):
            pass
    except OSError as exc:
        log.warning("rotation webhook failed: %s", type(exc).__name__)
