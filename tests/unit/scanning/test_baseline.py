"""Baselines: fingerprints survive line shifts, files are sorted and stable, audits persist."""

from __future__ import annotations

import json
import random

from secretvault.scanning import baseline as bl
from secretvault.scanning.api import scan_repository
from secretvault.scanning.builtin_rules import load_provider_rules

RULES = {r.id: r for r in load_provider_rules()}

STRIPE, GITHUB = RULES["stripe-secret-key"], RULES["github-pat-classic"]


def _write(tmp_path, name: str, lines: list[str]) -> None:
    (tmp_path / name).write_text("\n".join(lines) + "\n")


def test_baseline_is_stable_under_line_shifts(tmp_path) -> None:
    token = STRIPE.example(random.Random(4))
    _write(tmp_path, "app.py", ["import os", f'KEY = "{token}"'])
    base = tmp_path / "baseline.json"
    bl.write(base, scan_repository(tmp_path, engine="re").findings)
    before = base.read_text()
    _write(tmp_path, "app.py", ["import os", "", "# a new comment", "x = 1", f'KEY = "{token}"'])
    report = scan_repository(tmp_path, engine="re")
    assert report.findings[0].line_number == 5
    assert bl.filter_new(report.findings, base) == []
    bl.write(base, report.findings)
    assert base.read_text() == before
    assert "line_number" not in before


def test_new_findings_are_reported(tmp_path) -> None:
    _write(tmp_path, "a.py", [f'K = "{STRIPE.example(random.Random(1))}"'])
    base = tmp_path / "b.json"
    bl.write(base, scan_repository(tmp_path, engine="re").findings)
    _write(tmp_path, "b.py", [f'T = "{GITHUB.example(random.Random(2))}"'])
    new = bl.filter_new(scan_repository(tmp_path, engine="re").findings, base)
    assert [f.file_path for f in new] == ["b.py"]


def test_baseline_is_sorted_and_holds_no_secret(tmp_path) -> None:
    tokens = [STRIPE.example(random.Random(i)) for i in range(5)]
    for i, t in enumerate(tokens):
        _write(tmp_path, f"m{4 - i}.py", [f'K = "{t}"'])
    base = tmp_path / "b.json"
    bl.write(base, scan_repository(tmp_path, engine="re").findings)
    text = base.read_text()
    assert not any(t in text for t in tokens)
    entries = json.loads(text)["findings"]
    assert [e["file_path"] for e in entries] == sorted(e["file_path"] for e in entries)


def test_audit_marks_survive_updates(tmp_path) -> None:
    _write(tmp_path, "a.py", [f'K = "{STRIPE.example(random.Random(1))}"'])
    base = tmp_path / "b.json"
    findings = scan_repository(tmp_path, engine="re").findings
    bl.write(base, findings)
    assert bl.audit(base, [findings[0].fingerprint[:12]]) == 1
    bl.write(base, findings)
    entry = json.loads(base.read_text())["findings"][0]
    assert entry["is_false_positive"] is True


def test_missing_baseline_means_everything_is_new(tmp_path) -> None:
    assert bl.load(tmp_path / "nope.json") == {}
