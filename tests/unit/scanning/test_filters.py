"""False-positive filters and allowlists (pragma, .secretvaultignore paths/rules/regex/stopwords,
fingerprints) applied to provider-rule matches."""

from __future__ import annotations

import random

import pytest

from secretvault.scanning import filters
from secretvault.scanning.allowlist import Allowlist, has_pragma
from secretvault.scanning.api import scan_tree_raw
from secretvault.scanning.builtin_rules import SPEC_RULES
from secretvault.scanning.scanner import Scanner

GITHUB, AWS, STRIPE, PKEY, DBURL, JWT = (SPEC_RULES[i] for i in (1, 2, 3, 4, 5, 6))


def ex(rule, seed: int = 1) -> str:
    return rule.example(random.Random(seed))


def cand(secret: str, line: str | None = None, path: str = "a.py") -> filters.Candidate:
    line = line if line is not None else f'x = "{secret}"'
    start = line.find(secret)
    return filters.Candidate(secret, line, path, start, start + len(secret), "r")


def scan(text: str, path: str = "app.py", allow: Allowlist | None = None) -> list[str]:
    sc = Scanner(list(SPEC_RULES), engine="re", allowlist=allow)
    return [m.rule_id for m in sc.scan_bytes(text.encode(), path)]


def test_aws_documented_example_key_is_dropped() -> None:
    example = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLE" + "KEY"
    assert scan(f'aws_secret_access_key = "{example.lower()}"') == []
    assert filters.is_documented_example(cand(example))


def test_templates_and_placeholders() -> None:
    for value in (
        "${DB_PASS}",
        "{{ password }}",
        "$(cat /run/pw)",
        "%(password)s",
        "<PASSWORD>",
        "changeme",
        "xxxxxxxx",
        "your_token_here",
    ):
        c = cand(value)
        assert filters.is_template(c) or filters.is_placeholder(c), value


def test_database_url_placeholder_password_is_dropped() -> None:
    assert scan('url = "postgres://app:${DB_PASS}@db:5432/app"') == []
    assert scan('url = "postgres://app:changeme@db:5432/app"') == []
    assert scan(ex(DBURL)) == ["database-url"]


def test_blob_embedded_match_is_dropped() -> None:
    token = ex(STRIPE)
    blob = "QUFB" * 20 + token + "QkJC" * 20
    assert scan(f'data = "{blob}"') == []
    assert scan(f'key = "{token}"') == ["stripe-secret-key"]


def test_generic_only_filters() -> None:
    assert filters.is_uuid_value("123e4567-e89b-12d3-a456-426614174000")
    sha = "a" * 39 + "b"
    assert filters.is_git_sha(cand(sha, f"commit {sha}"))
    assert filters.is_lock_file(cand("v", path="web/package-lock.json"))
    assert filters.is_lock_file(cand("v", path="poetry.lock"))
    assert filters.is_public_key(cand("AAAA", "ssh-ed25519 AAAAC3Nza user@host"))
    assert filters.is_documentation_example(cand("v", path="docs/examples/creds.py"))
    assert filters.is_env_lookup(cand("X", 'p = os.getenv("X")'))
    assert filters.is_minified(cand("v", "x" * 1200))
    assert filters.dropped_by(cand("plainvalue1"), generic=False) is None


@pytest.mark.parametrize(
    "pragma", ["# secretvault:allow", "// gitleaks:allow", "# pragma: allowlist secret"]
)
def test_inline_pragma(pragma: str) -> None:
    assert has_pragma(f"x = 1  {pragma}")
    assert scan(f'k = "{ex(STRIPE)}"  {pragma}') == []


def test_allowlist_rule_regex_stopword() -> None:
    token = ex(STRIPE)
    text = f'k = "{token}"\ng = "{ex(GITHUB, 2)}"\n'
    assert scan(text, allow=Allowlist(rules={"stripe-secret-key"})) == ["github-pat-classic"]
    assert scan(text, allow=Allowlist(regexes=[r"^sk_live_"])) == ["github-pat-classic"]
    assert scan(text, allow=Allowlist(stopwords={token[-6:].upper()})) == ["github-pat-classic"]


def test_secretvaultignore_file(tmp_path) -> None:
    token = ex(STRIPE)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.py").write_text(f'k = "{token}"\n')
    (tmp_path / "app.py").write_text(f'k = "{token}"\n')
    (tmp_path / "other.py").write_text(f'k = "{token}"\n')
    matches, *_ = scan_tree_raw(tmp_path, ["*.py"], engine="re")
    assert sorted(m.path for m in matches) == ["app.py", "docs/guide.py", "other.py"]
    fp = next(m.fingerprint for m in matches if m.path == "other.py")
    (tmp_path / ".secretvaultignore").write_text(
        f"# audited\ndocs/\nfingerprint:{fp}\nrule:github-pat-classic\n"
    )
    matches, *_ = scan_tree_raw(tmp_path, ["*.py"], engine="re")
    assert [m.path for m in matches] == ["app.py"]


def test_allowlist_parse() -> None:
    a = Allowlist.parse("build/\n*.snap\nrule:jwt\nregex:^abc\nstopword:Sample\nfingerprint:AB\n")
    assert a.paths == ["build/", "*.snap"]
    assert a.rules == {"jwt"} and a.regexes == ["^abc"]
    assert a.stopwords == {"sample"} and a.fingerprints == {"ab"}
    assert a.path_allowed("build/x.py") and a.path_allowed("a/b.snap")
    assert not a.path_allowed("src/x.py")
