"""SARIF 2.1.0 output for GitHub code scanning (one run, one rule per rule id)."""

from __future__ import annotations

import json
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

from secretvault.models import SecretScanReport, Severity

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
}
_SECURITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
}


LOW_CONFIDENCE = 0.5  # below this a finding is one level milder than its severity alone says
_MILDER = {"error": "warning", "warning": "note", "note": "note"}


def level(severity: Severity, confidence: float) -> str:
    """SARIF level from severity, lowered one step for a low-confidence finding.

    A checksum-failing token is still reported, but as a warning rather than an error.
    """
    base = _LEVEL[severity]
    return _MILDER[base] if confidence < LOW_CONFIDENCE else base


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("secretvault")
    except Exception:
        return "0.0.0"


def _artifact(path: str) -> dict[str, str]:
    """Relative paths resolve against %SRCROOT%; absolute ones become file:// URIs."""
    p = PurePath(path)
    if p.is_absolute():
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(p.as_posix()), "uriBaseId": "%SRCROOT%"}


def to_sarif(report: SecretScanReport) -> dict[str, Any]:
    """The SARIF log as a dict."""
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for f in report.findings:
        if f.rule_id not in rules:
            rules[f.rule_id] = {
                "id": f.rule_id,
                "name": f.rule_id.replace("-", " ").title().replace(" ", ""),
                "shortDescription": {"text": f.description or f.rule_id},
                "defaultConfiguration": {"level": _LEVEL[f.severity]},
                "properties": {
                    "tags": ["security", "secret"],
                    "security-severity": _SECURITY[f.severity],
                },
            }
        region: dict[str, Any] = {"startLine": f.line_number, "startColumn": f.column}
        if f.end_column:
            region["endColumn"] = f.end_column
        results.append(
            {
                "ruleId": f.rule_id,
                "ruleIndex": list(rules).index(f.rule_id),
                "level": level(f.severity, f.confidence),
                "message": {
                    "text": f"{f.description or f.rule_id} ({f.secret_type.value}): {f.match}"
                },
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": _artifact(f.file_path),
                            "region": region,
                        }
                    }
                ],
                "partialFingerprints": {"secretvault/v1": f.fingerprint},
                "properties": {
                    "severity": f.severity.value,
                    "confidence": f.confidence,
                    **({"commit": f.commit} if f.commit else {}),
                },
            }
        )
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "secretvault",
                        "informationUri": "https://github.com/secretvault/secretvault",
                        "version": _version(),
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
                "columnKind": "unicodeCodePoints",
                "properties": {
                    "filesScanned": report.files_scanned,
                    "skippedFiles": report.skipped_files,
                    "skippedDirectories": report.skipped_dirs,
                },
            }
        ],
    }


def to_sarif_json(report: SecretScanReport) -> str:
    """The SARIF log as JSON text."""
    return json.dumps(to_sarif(report), indent=2) + "\n"
