"""Baselines: accept today's findings, report only new ones.

The file is JSON, one entry per finding, keyed by fingerprint (path + rule + secret hash), with
no line numbers, sorted by (path, rule, fingerprint) and written with stable formatting, so an
unrelated edit never changes it and two branches that add different findings merge cleanly.
An entry can be audited (``"is_false_positive": true``); audit marks survive updates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from secretvault.errors import ScanError
from secretvault.models import SecretFinding

VERSION = 1


def _entry(f: SecretFinding) -> dict[str, Any]:
    return {
        "fingerprint": f.fingerprint,
        "file_path": f.file_path,
        "rule_id": f.rule_id,
        "secret_type": f.secret_type.value,
    }


def _sort_key(e: dict[str, Any]) -> tuple[str, str, str]:
    return (e["file_path"], e["rule_id"], e["fingerprint"])


def load(path: str | Path) -> dict[str, dict[str, Any]]:
    """Entries by fingerprint; an empty dict when the file does not exist."""
    p = Path(path)
    if not p.exists():
        return {}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        return {e["fingerprint"]: e for e in data["findings"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise ScanError(f"baseline {p} is not a secretvault baseline: {exc}") from None


def dumps(entries: Iterable[dict[str, Any]]) -> str:
    """Stable text for a set of entries."""
    doc = {"version": VERSION, "findings": sorted(entries, key=_sort_key)}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def write(path: str | Path, findings: Iterable[SecretFinding]) -> int:
    """Write ``findings`` as the new baseline, keeping audit marks; returns the entry count."""
    old = load(path)
    entries: dict[str, dict[str, Any]] = {}
    for f in findings:
        e = _entry(f)
        prev = old.get(f.fingerprint, {})
        if "is_false_positive" in prev:
            e["is_false_positive"] = prev["is_false_positive"]
        entries[f.fingerprint] = e
    Path(path).write_text(dumps(entries.values()), encoding="utf-8")
    return len(entries)


def filter_new(findings: list[SecretFinding], path: str | Path) -> list[SecretFinding]:
    """Findings whose fingerprint is not in the baseline."""
    known = load(path)
    return [f for f in findings if f.fingerprint not in known]


def audit(path: str | Path, fingerprints: Iterable[str], *, false_positive: bool = True) -> int:
    """Mark entries as (not) false positives; returns how many entries changed."""
    entries = load(path)
    changed = 0
    for fp in fingerprints:
        matches = [k for k in entries if k.startswith(fp)] if len(fp) < 64 else [fp]
        for k in matches:
            if k in entries and entries[k].get("is_false_positive") != false_positive:
                entries[k]["is_false_positive"] = false_positive
                changed += 1
    Path(path).write_text(dumps(entries.values()), encoding="utf-8")
    return changed
