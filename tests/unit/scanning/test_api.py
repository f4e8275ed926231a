"""The guide's "Secret Scanning" examples through ``scan_repository`` and ``SECRET_PATTERNS``."""

from __future__ import annotations

import random
import string
import subprocess
import sys

import pytest

from secretvault.models import SecretType, Severity
from secretvault.scanning import SECRET_PATTERNS, scan_repository
from secretvault.scanning.builtin_rules import load_provider_rules
from secretvault.scanning.walker import matches_patterns

RULES = {r.id: r for r in load_provider_rules()}
SPEC_TABLE = {
    "openai-api-key-legacy": (Severity.CRITICAL, 0.9),
    "github-pat-classic": (Severity.HIGH, 0.9),
    "aws-secret-access-key": (Severity.HIGH, 0.7),
    "stripe-secret-key": (Severity.CRITICAL, 0.9),
    "private-key": (Severity.CRITICAL, 1.0),
    "database-url": (Severity.HIGH, 0.6),
    "jwt": (Severity.MEDIUM, 0.5),
}


def ex(rule_id: str, seed: int = 1) -> str:
    return RULES[rule_id].example(random.Random(seed))


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "app.py").write_text(
        f'OPENAI = "{ex("openai-api-key-legacy")}"\nGH = "{ex("github-pat-classic")}"\n'
    )
    (tmp_path / "billing.js").write_text(f'const k = "{ex("stripe-secret-key")}";\n')
    (tmp_path / "db.yaml").write_text(f"url: {ex('database-url')}\n")
    (tmp_path / "auth.ts").write_text(f'const t = "{ex("jwt")}";\n')
    (tmp_path / "deploy.sh").write_text(ex("aws-secret-access-key") + "\n")
    (tmp_path / ".env").write_text("DB_PASSWORD=" + "Qm4" + "xT9vLp2" + "Rw\n")
    (tmp_path / "README.md").write_text(f'token "{ex("github-pat-classic", 3)}"\n')
    return tmp_path


def test_spec_scan_entire_repository(repo) -> None:
    report = scan_repository(str(repo), file_patterns=None, secret_types=None)
    assert report.files_scanned == 6  # README.md is not in the guide's default patterns
    rules = {f.rule_id for f in report.findings}
    assert {
        "openai-api-key-legacy",
        "github-pat-classic",
        "stripe-secret-key",
        "database-url",
        "jwt",
        "aws-secret-access-key",
        "generic-secret",
    } <= rules
    assert report.total_findings == len(report.findings) == 7
    assert (
        report.critical_count + report.high_count + report.medium_count + report.low_count
    ) == report.total_findings
    for f in report.findings:
        assert f.line_number >= 1 and f.column >= 1 and len(f.fingerprint) == 64
        assert "…" in f.match
        if f.rule_id in SPEC_TABLE:
            assert (f.severity, f.confidence) == SPEC_TABLE[f.rule_id], f.rule_id


def test_spec_table_scores_in_rules() -> None:
    for rid, (sev, conf) in SPEC_TABLE.items():
        assert (RULES[rid].severity, RULES[rid].confidence) == (sev, conf)


def test_spec_specific_file_patterns(repo) -> None:
    report = scan_repository(str(repo), file_patterns=["*.py", "*.yaml", "*.yml"])
    assert {f.file_path for f in report.findings} == {"app.py", "db.yaml"}
    assert report.files_scanned == 2


def test_spec_specific_secret_types(repo) -> None:
    report = scan_repository(
        str(repo), secret_types=[SecretType.API_KEY, SecretType.DATABASE_PASSWORD]
    )
    types = {f.secret_type for f in report.findings}
    assert types <= {SecretType.API_KEY, SecretType.DATABASE_PASSWORD}
    assert SecretType.DATABASE_PASSWORD in types
    assert "jwt" not in {f.rule_id for f in report.findings}


def test_spec_custom_pattern_takes_effect_next_scan(tmp_path) -> None:
    body = "".join(
        random.Random(1).choice(string.ascii_uppercase + string.digits) for _ in range(32)
    )
    (tmp_path / "a.py").write_text(f'x = "COMPANY_TOKEN_{body}"\n')
    assert scan_repository(tmp_path).total_findings == 0
    SECRET_PATTERNS[SecretType.API_KEY].append(r"COMPANY_TOKEN_[A-Z0-9]{32}")
    try:
        (f,) = scan_repository(tmp_path).findings
        assert f.rule_id.startswith("custom-api-key-") and f.secret_type == SecretType.API_KEY
        for engine in ("re", "hyperscan"):
            assert scan_repository(tmp_path, engine=engine).total_findings == 1
    finally:
        SECRET_PATTERNS[SecretType.API_KEY].remove(r"COMPANY_TOKEN_[A-Z0-9]{32}")
    assert scan_repository(tmp_path).total_findings == 0


def test_dot_env_matches_star_env() -> None:
    assert matches_patterns(".env", ["*.env"])
    assert matches_patterns("config/prod.env", ["*.env"])
    assert not matches_patterns("env.txt", ["*.env"])


def _skip_tree(tmp_path):
    token = ex("stripe-secret-key")
    line = f'k = "{token}"\n'
    for rel in (
        "node_modules/x/a.js",
        ".git/b.py",
        "vendor/c.py",
        "third_party/lib/f.py",
        "ignored/d.py",
        "private/g.py",
        "keep/e.py",
        "big.py",
        "env/pyvenv.cfg",
        "env/lib/h.py",
    ):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(line)
    (tmp_path / "big.py").write_text(line + "#" * 2000)
    (tmp_path / "bin.py").write_bytes(b"\x00" + line.encode())
    (tmp_path / "logo.png").write_bytes(b"\x89PNG")
    (tmp_path / ".gitignore").write_text("ignored/\n")
    (tmp_path / ".secretvaultignore").write_text("private/\n")


def test_walker_scans_vendored_trees_and_counts_every_skip(tmp_path) -> None:
    _skip_tree(tmp_path)
    report = scan_repository(tmp_path, ["*"], max_file_size=1000, exclude=["keep/e.py"])
    assert [f.file_path for f in report.findings] == [
        "node_modules/x/a.js",
        "third_party/lib/f.py",
        "vendor/c.py",
    ]
    assert report.skipped_files == {"binary": 2, "excluded": 1, "too_large": 1}
    assert report.skipped_dirs == {"ignored": 2, "vcs": 1, "virtualenv": 1}
    data = report.model_dump(mode="json")
    assert data["skipped_files"]["too_large"] == 1


def test_name_based_skipping_is_opt_in(tmp_path) -> None:
    from secretvault.scanning.walker import VENDORED_DIR_NAMES

    _skip_tree(tmp_path)
    report = scan_repository(tmp_path, ["*"], skip_dir_names=VENDORED_DIR_NAMES)
    assert [f.file_path for f in report.findings] == ["big.py", "keep/e.py"]
    assert report.skipped_dirs["skip_dir_name"] == 3


def test_missing_path_raises_scan_error(tmp_path) -> None:
    from secretvault.errors import ScanError

    with pytest.raises(ScanError):
        scan_repository(tmp_path / "nope")


def test_single_file(repo) -> None:
    report = scan_repository(repo / "app.py")
    assert report.total_findings == 2 and report.files_scanned == 1


def test_import_is_light() -> None:
    code = (
        "import sys, secretvault.scanning as s; "
        "print(all(m not in sys.modules for m in ('hyperscan', 'rich', "
        "'secretvault.scanning.rules.catalogue', 'secretvault.scanning.scanner')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "True", out.stderr


def test_parent_gitignore_applies_when_scanning_a_subdirectory(tmp_path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("generated/\n*.secret.py\n")
    sub = tmp_path / "src"
    for rel in ("generated/a.py", "b.secret.py", "c.py"):
        p = sub / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f'k = "{ex("stripe-secret-key")}"\n')
    report = scan_repository(sub)
    assert [f.file_path for f in report.findings] == ["c.py"]


def test_explicitly_named_ignored_directory_is_scanned(tmp_path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("work/\n")
    target = tmp_path / "work" / "tree"
    target.mkdir(parents=True)
    (target / "a.py").write_text(f'k = "{ex("stripe-secret-key")}"\n')
    assert scan_repository(target).total_findings == 1
    assert scan_repository(tmp_path).total_findings == 0
