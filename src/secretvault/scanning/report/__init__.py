"""Report writers: ``render(report, fmt) -> str`` for text, json, sarif, junit and html.

Every writer works from a :class:`SecretScanReport`, whose findings are already redacted, so
no writer can leak a secret.
"""

from __future__ import annotations

from collections.abc import Mapping

from secretvault.models import SecretScanReport

FORMATS = ("text", "json", "sarif", "junit", "html")


def render(
    report: SecretScanReport,
    fmt: str,
    *,
    color: bool = False,
    contexts: Mapping[str, str] | None = None,
) -> str:
    """Render ``report`` in ``fmt``; raises ValueError for an unknown format.

    ``contexts`` maps fingerprint -> redacted line context (shown by the HTML report).
    """
    if fmt == "json":
        return report.model_dump_json(indent=2) + "\n"
    if fmt == "sarif":
        from secretvault.scanning.report.sarif import to_sarif_json

        return to_sarif_json(report)
    if fmt == "junit":
        from secretvault.scanning.report.junit import to_junit

        return to_junit(report)
    if fmt == "html":
        from secretvault.scanning.report.html import to_html

        return to_html(report, contexts)
    if fmt == "text":
        from secretvault.scanning.report.text import to_text

        return to_text(report, color=color)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
