"""JUnit XML: one test case per scanned file with findings (failure) plus a summary case."""

from __future__ import annotations

from collections import defaultdict
from xml.etree import ElementTree as ET

from secretvault.models import SecretFinding, SecretScanReport


def to_junit(report: SecretScanReport) -> str:
    """CI-friendly XML; a clean scan is one passing test case."""
    by_file: dict[str, list[SecretFinding]] = defaultdict(list)
    for f in report.findings:
        by_file[f.file_path].append(f)
    suite = ET.Element(
        "testsuite",
        name="secretvault.scan",
        tests=str(max(1, len(by_file))),
        failures=str(len(by_file)),
        errors="0",
        time=f"{report.duration_seconds:.3f}",
    )
    if not by_file:
        ET.SubElement(suite, "testcase", classname="secretvault.scan", name="no secrets found")
    for path, items in sorted(by_file.items()):
        case = ET.SubElement(suite, "testcase", classname="secretvault.scan", name=path)
        lines = [
            f"{f.file_path}:{f.line_number}:{f.column} {f.rule_id} {f.severity.value} {f.match}"
            for f in items
        ]
        fail = ET.SubElement(
            case, "failure", message=f"{len(items)} secret(s) found", type="secret"
        )
        fail.text = "\n".join(lines)
    root = ET.Element(
        "testsuites",
        name="secretvault",
        tests=suite.get("tests", "1"),
        failures=suite.get("failures", "0"),
    )
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
