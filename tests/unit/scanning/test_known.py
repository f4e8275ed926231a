"""Vault-aware detection: exact occurrences of vault values, whatever their format; nothing
shorter than the minimum, nothing inside a longer token, and the values never touch disk."""

from __future__ import annotations

import random
import string

import pytest

from secretvault.models import SecretType, Severity
from secretvault.scanning.api import scan_repository
from secretvault.scanning.known import KnownMatcher
from secretvault.scanning.scanner import Scanner

RNG = random.Random(77)


def value(n: int = 20, alphabet: str = string.ascii_lowercase) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


@pytest.mark.parametrize("hs", [True, False])
def test_exact_occurrences_any_format(monkeypatch, hs: bool) -> None:
    if not hs:
        import hyperscan

        monkeypatch.setattr(hyperscan, "Database", None)
    plain = value()  # all lowercase: no pattern rule would ever report it
    spaced = "correct horse " + value(8)
    matcher = KnownMatcher({"db": plain, "phrase": spaced}, {"db": SecretType.DATABASE_PASSWORD})
    text = f"a = '{plain}'\nnote: {spaced}!\nb = '{plain}x'\n".encode()
    found = matcher.find(text, "f.txt")
    assert [(m.known_secret, m.line_number, m.column) for m in found] == [
        ("db", 1, 6),
        ("phrase", 2, 7),
    ]
    assert found[0].secret_type == SecretType.DATABASE_PASSWORD
    assert found[0].severity == Severity.CRITICAL and found[0].rule_id == "known-secret"


def test_short_values_are_ignored() -> None:
    assert KnownMatcher({"pin": "1234"}, {}).find(b"pin 1234", "x") == []


def test_repr_hides_values() -> None:
    v = value()
    assert v not in repr(KnownMatcher({"n": v}, {}))


def test_scan_reports_known_secrets_redacted_and_uncached(tmp_path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("SECRETVAULT_CACHE_DIR", str(cache))
    v = value(24)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "notes.yaml").write_text(f"greeting: hello\nold: {v}\n")
    report = scan_repository(repo, known_secrets={"legacy-db": v}, engine="re")
    (f,) = report.findings
    assert f.known_secret == "legacy-db" and f.line_number == 2
    assert v not in report.model_dump_json()
    for p in cache.rglob("*"):
        if p.is_file():
            assert v.encode() not in p.read_bytes()


def test_known_wins_over_pattern_rule() -> None:
    from secretvault.scanning.builtin_rules import load_provider_rules

    rule = next(r for r in load_provider_rules() if r.id == "stripe-secret-key")
    token = rule.example(RNG)
    scanner = Scanner(engine="re", known_secrets={"stripe": token})
    (m,) = scanner.scan_bytes(f'k = "{token}"'.encode(), "a.py")
    assert m.known_secret == "stripe"


def test_encoded_forms_are_found() -> None:
    import base64
    from urllib.parse import quote

    v = value(12) + "/+&" + value(6)
    b64 = base64.b64encode(v.encode()).decode()
    text = f"data:\n  password: {b64}\nurl: https://h/?p={quote(v, safe='')}\n".encode()
    found = KnownMatcher({"db": v}, {}).find(text, "k8s/secret.yaml")
    assert [(m.line_number, m.encoding) for m in found] == [(2, "base64"), (3, "url-encoded")]
    assert all(m.known_secret == "db" for m in found)


def test_fix_references_known_secrets_without_storing(tmp_path) -> None:
    from secretvault.scanning.api import scan_tree_raw
    from secretvault.scanning.fix import plan_fixes

    v = value(20)
    (tmp_path / "settings.py").write_text(f'LEGACY = "{v}"\n')
    matches, *_ = scan_tree_raw(tmp_path, ["*"], engine="re", known_secrets={"legacy-db": v})
    plan = plan_fixes(tmp_path, matches)
    assert plan.secrets == {}
    assert 'LEGACY = os.environ["LEGACY_DB"]' in plan.files[0].updated
    assert v not in plan.diff()
