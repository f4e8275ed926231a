"""Self-contained HTML report: summary by severity and type, findings table (redacted)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from html import escape

from secretvault.models import SecretScanReport, Severity

_CSS = """
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}table{border-collapse:collapse;margin:1em 0;width:100%}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}th{background:#f4f4f4}
.critical{color:#fff;background:#b00020}.high{color:#fff;background:#e65100}
.medium{background:#ffd54f}.low{background:#b3e5fc}code{font-family:ui-monospace,monospace}
.cards span{display:inline-block;padding:.5em 1em;margin-right:.5em;border-radius:4px}
"""


def to_html(report: SecretScanReport, contexts: Mapping[str, str] | None = None) -> str:
    """One HTML document, no external assets; ``contexts`` adds a redacted-context column."""
    contexts = contexts or {}
    sev = [(s, report._count(s)) for s in Severity]
    types = Counter(f.secret_type.value for f in report.findings)
    cards = "".join(f'<span class="{s.value}">{s.value}: {n}</span>' for s, n in sev)
    type_rows = "".join(
        f"<tr><td>{escape(t)}</td><td>{n}</td></tr>" for t, n in sorted(types.items())
    )
    rows = "".join(
        "<tr>"
        f'<td class="{f.severity.value}">{f.severity.value}</td>'
        f"<td><code>{escape(f.file_path)}:{f.line_number}:{f.column}</code></td>"
        f"<td>{escape(f.rule_id)}</td><td>{escape(f.secret_type.value)}</td>"
        f"<td>{f.confidence:.2f}</td><td><code>{escape(f.match)}</code></td>"
        f"<td>{escape((f.commit or '')[:12])}</td>"
        f"<td><code>{escape(contexts.get(f.fingerprint, ''))}</code></td>"
        "</tr>"
        for f in report.findings
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>secretvault scan report</title>
<style>{_CSS}</style></head><body>
<h1>secretvault scan report</h1>
<p>{escape(report.repository_path)} — {report.files_scanned} files,
{report.total_findings} findings, {escape(report.scanned_at.isoformat())}</p>
<div class="cards">{cards}</div>
<h2>By type</h2><table><tr><th>Type</th><th>Findings</th></tr>{type_rows}</table>
<h2>Findings</h2>
<table><tr><th>Severity</th><th>Location</th><th>Rule</th><th>Type</th><th>Confidence</th>
<th>Match (redacted)</th><th>Commit</th><th>Context (redacted)</th></tr>{rows}</table>
</body></html>
"""
