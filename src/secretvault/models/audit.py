"""Audit entries as read back from the trail."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from secretvault.models import utcnow
from secretvault.models.base import Model


class AccessLogEntry(Model):
    """One audit entry: who did what to which secret, and whether it was allowed."""

    seq: int = 0
    timestamp: datetime = Field(default_factory=utcnow)
    user: str = "system"
    action: str
    secret_id: str | None = None
    secret_name: str | None = None
    source_ip: str | None = None
    success: bool = True
    reason: str | None = None
    prev_hash: str = ""
    entry_hash: str = ""
    lane: int = 0  # which chain of a many-writer trail (PostgreSQL); 0 on the local store


class AccessLog(Model):
    """The audit trail of one secret (``get_access_log``)."""

    secret_name: str
    total_accesses: int
    failed_accesses: int
    entries: list[AccessLogEntry]
