"""Report formats: SARIF validates against the (reduced) 2.1.0 schema, JUnit parses, HTML is
self-contained, text groups by file, and no format contains a raw secret."""

from __future__ import annotations

import json
import random
from pathlib import Path
from xml.etree import ElementTree as ET

import jsonschema
import pytest

from secretvault.models import SecretScanReport
from secretvault.scanning.api import scan_repository
from secretvault.scanning.builtin_rules import load_provider_rules
from secretvault.scanning.report import render

RULES = {r.id: r for r in load_provider_rules()}
SCHEMA = Path(__file__).resolve().parents[2] / "data" / "sarif-2.1.0.json"


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[SecretScanReport, list[str]]:
    root = tmp_path_factory.mktemp("repo")
    rng = random.Random(8)
    secrets = [
        RULES[i].example(rng)
        for i in ("openai-api-key-legacy", "github-pat-classic", "stripe-secret-key")
    ]
    (root / "app.py").write_text("\n".join(f'K{i} = "{s}"' for i, s in enumerate(secrets)) + "\n")
    (root / "db.yaml").write_text("url: " + RULES["database-url"].example(rng) + "\n")
    report = scan_repository(root, engine="re")
    assert report.total_findings == 4
    return report, secrets


def test_sarif_is_valid(scanned) -> None:
    report, _ = scanned
    doc = json.loads(render(report, "sarif"))
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    run = doc["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert len(ids) == len(set(ids))
    for res in run["results"]:
        assert ids[res["ruleIndex"]] == res["ruleId"]
        assert res["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1


def test_sarif_schema_rejects_broken_logs() -> None:
    schema = json.loads(SCHEMA.read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"version": "2.1.0", "runs": [{"tool": {}}]}, schema)


def test_junit_parses(scanned) -> None:
    report, _ = scanned
    root = ET.fromstring(render(report, "junit"))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("failures") == "2"
    assert len(suite.findall("testcase/failure")) == 2


def test_html_is_self_contained(scanned) -> None:
    report, _ = scanned
    html = render(report, "html")
    assert html.startswith("<!DOCTYPE html>")
    assert "critical: 2" in html and "<script" not in html and "http://" not in html
    assert "app.py:1" in html


def test_json_round_trips(scanned) -> None:
    report, _ = scanned
    doc = json.loads(render(report, "json"))
    assert doc["total_findings"] == 4 and doc["critical_count"] == 2
    assert SecretScanReport.model_validate(doc).findings == report.findings


def test_text_groups_by_file(scanned) -> None:
    report, _ = scanned
    text = render(report, "text")
    assert text.index("app.py") < text.index("db.yaml")
    assert "4 findings" in text and "\x1b[" not in text
    assert "\x1b[" in render(report, "text", color=True)


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "junit", "html"])
def test_no_format_leaks_a_secret(scanned, fmt: str) -> None:
    report, secrets = scanned
    out = render(report, fmt)
    for s in secrets:
        assert s not in out and s[4:20] not in out


def test_unknown_format(scanned) -> None:
    with pytest.raises(ValueError):
        render(scanned[0], "pdf")


def test_html_context_column_is_redacted(tmp_path) -> None:
    from secretvault.scanning.api import build_report, scan_tree_raw

    token = RULES["stripe-secret-key"].example(random.Random(3))
    (tmp_path / "pay.py").write_text(f'STRIPE = "{token}"  # billing\n')
    matches, files, nbytes, engine = scan_tree_raw(tmp_path, ["*.py"], engine="re")
    report = build_report(str(tmp_path), matches, files, nbytes, 0.0, engine)
    html = render(report, "html", contexts={m.fingerprint: m.context for m in matches})
    assert "# billing" in html and "STRIPE" in html
    secret = matches[0].secret
    assert secret not in html and secret[4:] not in html
