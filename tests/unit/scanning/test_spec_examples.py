"""The guide's "Secret Scanning" examples, copied from the guide (only the import line and the
repository path changed), run end to end through ``SecretVault.scan_repository``; and the
guide's pattern table honoured: every match of its seven patterns is reported, structural
checks set the confidence."""

from __future__ import annotations

import asyncio
import json
import random
import string
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from secretvault.models import SecretType, Severity
from secretvault.scanning import scan_repository
from secretvault.scanning.builtin_rules import (
    SPEC_FLOORS,
    UNCONFIRMED_CONFIDENCE,
    load_provider_rules,
)

RULES = {r.id: r for r in load_provider_rules()}
BEGIN, END, PK = "-----" + "BEGIN ", "-----" + "END ", "PRIVATE" + " KEY-----"


def alnum(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def unconfirmed(seed: int = 3) -> dict[str, str]:
    """Values the guide's table matches but the provider rules' structural checks reject."""
    rng = random.Random(seed)
    return {
        "openai-api-key-legacy": "sk-" + alnum(rng, 48),  # no T3BlbkFJ marker
        "github-pat-classic": "ghp_" + alnum(rng, 36),  # CRC32 suffix does not verify
        "private-key": f"{BEGIN}RSA {PK}\n{alnum(rng, 20)}\n{END}RSA {PK}",  # short body
    }


@pytest.fixture
def spec_repo(tmp_path: Path) -> Path:
    ex = {rid: RULES[rid].example(random.Random(5)) for rid in ("stripe-secret-key", "jwt")}
    bad = unconfirmed()
    (tmp_path / "app.py").write_text(
        f'OPENAI = "{bad["openai-api-key-legacy"]}"\nGH_TOKEN = "{bad["github-pat-classic"]}"\n'
        f'PLACEHOLDER = "ghp_{"x" * 36}"\nSTRIPE = "{ex["stripe-secret-key"]}"\n'
    )
    (tmp_path / "deploy.sh").write_text(f"cat > id_rsa <<EOF\n{bad['private-key']}\nEOF\n")
    password = alnum(random.Random(11), 14)
    (tmp_path / "db.yaml").write_text(f"url: postgres://app:{password}@db.internal/app\n")
    (tmp_path / "t.ts").write_text(f"const t = '{ex['jwt']}';\n")
    return tmp_path


def test_unconfirmed_spec_matches_are_reported_with_low_confidence(spec_repo: Path) -> None:
    report = scan_repository(str(spec_repo))
    by_rule = {f.rule_id: f for f in report.findings}
    for rid in unconfirmed():
        f = by_rule[rid]
        assert f.confidence == UNCONFIRMED_CONFIDENCE, rid
        assert f.severity == RULES[rid].severity and f.secret_type == RULES[rid].secret_type
        assert SPEC_FLOORS[rid][2] in f.description
    gh = by_rule["github-pat-classic"]
    assert "checksum does not verify: likely an example or a mistyped token" in gh.description
    assert gh.line_number == 2  # the x-run placeholder on line 3 is not a token
    for rid in ("stripe-secret-key", "database-url", "jwt"):  # confirmed: the guide's confidence
        assert by_rule[rid].confidence == RULES[rid].confidence, rid
    assert len(report.findings) == 6


def test_confirmed_token_keeps_spec_confidence(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(RULES["github-pat-classic"].example(random.Random(2)) + "\n")
    (f,) = scan_repository(tmp_path).findings
    assert (f.rule_id, f.confidence) == ("github-pat-classic", 0.9)
    assert "unconfirmed" not in f.description


def test_cli_min_confidence_and_sarif_levels(spec_repo: Path) -> None:
    import typer

    from secretvault.cli import scan as scan_cli

    app = typer.Typer()
    app.callback()(lambda: None)
    scan_cli.register(app)
    runner = CliRunner()
    out = runner.invoke(app, ["scan", str(spec_repo), "-f", "json"]).output
    assert {f["confidence"] for f in json.loads(out)["findings"]} >= {UNCONFIRMED_CONFIDENCE}
    out = runner.invoke(app, ["scan", str(spec_repo), "-f", "json", "--min-confidence", "0.5"])
    assert all(f["confidence"] >= 0.5 for f in json.loads(out.output)["findings"])
    assert len(json.loads(out.output)["findings"]) == 3
    sarif = json.loads(runner.invoke(app, ["scan", str(spec_repo), "-f", "sarif"]).output)
    levels = {
        (r["properties"]["severity"], r["properties"]["confidence"]): r["level"]
        for r in sarif["runs"][0]["results"]
    }
    assert levels[("critical", UNCONFIRMED_CONFIDENCE)] == "warning"
    assert levels[("critical", 0.9)] == "error"
    assert levels[("medium", 0.5)] == "warning"


# -- the guide's examples, verbatim but for the import line and the repository path -----------

SPEC_SCAN_ALL = """
from secretvault import SecretVault

vault = SecretVault()
await vault.initialize()

# Scan repository
report = await vault.scan_repository(
    repository_path="/path/to/repo",
    file_patterns=None,  # Use default patterns
    secret_types=None,  # Scan all types
)

# Print results
print(f"Scanned: {report.files_scanned} files")
print(f"Findings: {report.total_findings} secrets")
print(f"  Critical: {report.critical_count}")
print(f"  High: {report.high_count}")
print(f"  Medium: {report.medium_count}")
print(f"  Low: {report.low_count}")
"""

SPEC_FILE_PATTERNS = """
# Scan only Python and YAML files
report = await vault.scan_repository(
    repository_path="/path/to/repo",
    file_patterns=["*.py", "*.yaml", "*.yml"],
)
"""

SPEC_SECRET_TYPES = """
from secretvault import SecretType

# Scan for API keys and database passwords only
report = await vault.scan_repository(
    repository_path="/path/to/repo",
    secret_types=[SecretType.API_KEY, SecretType.DATABASE_PASSWORD],
)
"""

SPEC_CUSTOM = """
from secretvault import SECRET_PATTERNS, SecretType

# Add custom pattern for company-specific tokens
SECRET_PATTERNS[SecretType.API_KEY].append(
    r"COMPANY_TOKEN_[A-Z0-9]{32}"
)

# Now scans will detect COMPANY_TOKEN_ patterns
"""


def _run(snippets: list[str], repo: Path, ns: dict[str, object]) -> dict[str, object]:
    body = "\n".join(s.replace("/path/to/repo", str(repo)) for s in snippets)
    src = "async def _main():\n" + textwrap.indent(body, "    ") + "\n    return locals()\n"
    exec(compile(src, "<spec>", "exec"), ns)
    out: dict[str, object] = asyncio.run(ns["_main"]())  # type: ignore[operator]
    return out


def test_spec_examples_end_to_end(
    spec_repo: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    ns: dict[str, object] = {}
    out = _run([SPEC_SCAN_ALL], spec_repo, ns)
    printed = capsys.readouterr().out
    report = out["report"]
    assert "Scanned: 4 files" in printed and "Findings: 6 secrets" in printed
    assert "  Critical: 3" in printed  # OpenAI (unconfirmed), Stripe, private key (unconfirmed)
    assert "  High: 2" in printed and "  Medium: 1" in printed
    types = {f.rule_id: (f.secret_type, f.severity) for f in report.findings}  # type: ignore[attr-defined]
    assert types["database-url"] == (SecretType.DATABASE_PASSWORD, Severity.HIGH)
    assert types["jwt"][1] == Severity.MEDIUM
    out = _run([SPEC_SCAN_ALL, SPEC_FILE_PATTERNS], spec_repo, {})
    files = {f.file_path for f in out["report"].findings}  # type: ignore[attr-defined]
    assert files == {"app.py", "db.yaml"}
    out = _run([SPEC_SCAN_ALL, SPEC_SECRET_TYPES], spec_repo, {})
    got = {f.secret_type for f in out["report"].findings}  # type: ignore[attr-defined]
    assert got == {SecretType.API_KEY, SecretType.DATABASE_PASSWORD}


def test_spec_custom_pattern_example(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch
) -> None:
    from secretvault.scanning import SECRET_PATTERNS

    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    rng = random.Random(9)
    body = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(32))
    (tmp_path / "a.py").write_text(f'token = "COMPANY_TOKEN_{body}"\n')
    try:
        out = _run([SPEC_CUSTOM, SPEC_SCAN_ALL.split("# Print")[0]], tmp_path, {})
        (f,) = out["report"].findings  # type: ignore[attr-defined]
        assert f.secret_type == SecretType.API_KEY and f.rule_id.startswith("custom-api-key-")
    finally:
        SECRET_PATTERNS[SecretType.API_KEY].remove(r"COMPANY_TOKEN_[A-Z0-9]{32}")


def test_pem_header_closing_its_literal_is_a_marker_not_a_block(tmp_path: Path) -> None:
    rng = random.Random(8)
    body = alnum(rng, 24)
    (tmp_path / "build.py").write_text(
        f"head = b'{BEGIN}RSA {PK}\\n' + b64(der)\n"  # code that builds a key: a marker
        f'expect(line == "{BEGIN}EC {PK}")\n'
        f"short = '{BEGIN}RSA {PK}\\n{body}\\n{END}RSA {PK}'\n"  # counter-example: a block
        f'js = "{BEGIN}RSA {PK}\\n" +\n  "{body}\\n" +\n  "{END}RSA {PK}";\n'  # and another
    )
    got = [(f.rule_id, f.line_number) for f in scan_repository(tmp_path, ["*"]).findings]
    assert got == [("private-key", 3), ("private-key", 4)]
