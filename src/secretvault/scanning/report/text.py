"""Human output: findings grouped by file, severity-coloured, redacted (rich)."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Callable

from secretvault.models import SecretFinding, SecretScanReport, Severity

STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
}


class _Plain:
    """The few rich.Text methods ``to_text`` uses, without importing rich (fast CLI path)."""

    def __init__(self, text: str = "", style: str = "") -> None:
        self.parts = [text]

    def append(self, text: str, style: str = "") -> None:
        self.parts.append(text)

    def __str__(self) -> str:
        return "".join(self.parts)


def _extra(f: SecretFinding) -> str:
    extra = []
    if f.known_secret:
        extra.append(f"vault secret {f.known_secret}")
    if f.commit:
        extra.append(f"commit {f.commit[:12]} {f.author or ''} {f.date or ''}".strip())
    return "  (" + "; ".join(extra) + ")" if extra else ""


def to_text(report: SecretScanReport, *, color: bool = False) -> str:
    """Render the report as text (ANSI colours via rich when ``color``)."""
    buf = io.StringIO()
    emit: Callable[[object], None]
    if color:
        from rich.console import Console
        from rich.text import Text

        console = Console(file=buf, force_terminal=True, width=120, highlight=False)
        emit = console.print
        make: type = Text
    else:

        def _write(obj: object = "") -> None:
            buf.write(f"{obj}\n")

        emit = _write
        make = _Plain
    by_file: dict[str, list[SecretFinding]] = defaultdict(list)
    for f in report.findings:
        by_file[f.file_path].append(f)
    for path in sorted(by_file):
        emit(make(path, style="bold underline"))
        for f in by_file[path]:
            line = make("  ")
            line.append(f"{f.line_number}:{f.column}".ljust(10))
            line.append(f"{f.severity.value.upper():<9}", style=STYLE[f.severity])
            line.append(f"{f.rule_id:<28} {f.match}")
            line.append(_extra(f), style="dim")
            emit(line)
        emit()
    summary = (
        f"Scanned {report.files_scanned} files ({report.bytes_scanned / 1e6:.1f} MB) "
        f"in {report.duration_seconds:.2f}s with {report.engine or 'n/a'}: "
        f"{report.total_findings} findings (critical {report.critical_count}, high "
        f"{report.high_count}, medium {report.medium_count}, low {report.low_count})"
    )
    style = "bold red" if report.total_findings else "bold green"
    emit(make(summary if report.total_findings else "No secrets found. " + summary, style=style))
    skipped = skip_summary(report)
    if skipped:
        emit(make(skipped, style="dim"))
    return buf.getvalue()


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{reason.replace('_', ' ')} {n}" for reason, n in sorted(counts.items()))


def skip_summary(report: SecretScanReport) -> str:
    """One line saying what was not scanned and why (empty when nothing was skipped)."""
    parts = []
    if report.skipped_files:
        n = sum(report.skipped_files.values())
        parts.append(f"{n} files ({_counts(report.skipped_files)})")
    if report.skipped_dirs:
        n = sum(report.skipped_dirs.values())
        parts.append(f"{n} directories ({_counts(report.skipped_dirs)})")
    return "Not scanned: " + "; ".join(parts) if parts else ""
