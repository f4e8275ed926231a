"""Scanner findings and reports."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, computed_field

from secretvault.models import SecretType, Severity, utcnow
from secretvault.models.base import Model


class SecretFinding(Model):
    """One hardcoded secret found by the scanner. Identity = file + fingerprint + type."""

    file_path: str
    line_number: int
    column: int = 1
    end_column: int | None = None
    secret_type: SecretType
    severity: Severity
    confidence: float = Field(ge=0.0, le=1.0)
    rule_id: str
    description: str = ""
    match: str = Field(default="", description="redacted match, never the raw secret")
    fingerprint: str = ""
    commit: str | None = None
    author: str | None = None
    date: datetime | None = None
    known_secret: str | None = Field(
        default=None, description="name of the vault secret whose value this is"
    )


class SecretScanReport(Model):
    """Result of a scan: counts by severity and the findings."""

    repository_path: str
    files_scanned: int = 0
    bytes_scanned: int = 0
    findings: list[SecretFinding] = Field(default_factory=list)
    scanned_at: datetime = Field(default_factory=utcnow)
    duration_seconds: float = 0.0
    engine: str = ""
    skipped_files: dict[str, int] = Field(
        default_factory=dict,
        description="files not scanned, by reason (ignored, excluded, binary, too_large ...)",
    )
    skipped_dirs: dict[str, int] = Field(
        default_factory=dict,
        description="directories pruned without being opened, by reason (vcs, virtualenv ...)",
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_findings(self) -> int:
        """Number of findings."""
        return len(self.findings)

    def _count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def critical_count(self) -> int:
        """Findings of CRITICAL severity."""
        return self._count(Severity.CRITICAL)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def high_count(self) -> int:
        """Findings of HIGH severity."""
        return self._count(Severity.HIGH)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def medium_count(self) -> int:
        """Findings of MEDIUM severity."""
        return self._count(Severity.MEDIUM)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def low_count(self) -> int:
        """Findings of LOW severity."""
        return self._count(Severity.LOW)
