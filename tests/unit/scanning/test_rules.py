"""Every catalogue rule: its example matches and validates, its near-misses do not, its regex
compiles with Hyperscan, and the guide's seven patterns are present with the guide's scores."""

from __future__ import annotations

import random
import re

import pytest

from secretvault.models import Severity
from secretvault.scanning.rules.base import Rule
from secretvault.scanning.rules.catalogue import ALL_RULES

SEEDS = (1, 7, 42, 1234)
RULE_IDS = [r.id for r in ALL_RULES]


def _compiled(rule: Rule) -> re.Pattern[str]:
    return re.compile(rule.regex, re.IGNORECASE if rule.case_insensitive else 0)


def _secret(m: re.Match[str]) -> str:
    return m.group("secret") if "secret" in m.re.groupindex else m.group(0)


def _reported(rule: Rule, text: str) -> list[str]:
    found = [_secret(m) for m in _compiled(rule).finditer(text)]
    return [s for s in found if rule.validate is None or rule.validate(s)]


@pytest.mark.parametrize("rule", ALL_RULES, ids=RULE_IDS)
def test_positive_examples_match_and_validate(rule: Rule) -> None:
    for seed in SEEDS:
        text = rule.example(random.Random(seed))
        m = _compiled(rule).search(text)
        assert m, f"{rule.id} seed={seed}: no match in {text!r}"
        secret = _secret(m)
        assert rule.validate is None or rule.validate(secret), f"{rule.id}: rejected {secret!r}"
        line_start = text.rfind("\n", 0, m.start()) + 1
        line_end = text.find("\n", m.start())
        line = text[line_start : None if line_end < 0 else line_end].lower()
        assert any(k in line for k in rule.keywords), f"{rule.id}: no keyword in {line!r}"


@pytest.mark.parametrize("rule", ALL_RULES, ids=RULE_IDS)
def test_negatives_are_rejected(rule: Rule) -> None:
    for seed in SEEDS:
        for text in rule.negatives(random.Random(seed)):
            assert not _reported(rule, text), f"{rule.id} seed={seed}: reported {text!r}"


def test_examples_are_fresh() -> None:
    for rule in ALL_RULES:
        if rule.id in ("private-key", "putty-private-key"):
            continue
        a, b = rule.example(random.Random(1)), rule.example(random.Random(2))
        assert a != b, rule.id


def test_keywords_are_lowercase_literals() -> None:
    for rule in ALL_RULES:
        assert rule.keywords, rule.id
        assert all(k == k.lower() and k.strip() for k in rule.keywords), rule.id


def test_rule_shape() -> None:
    assert len(ALL_RULES) >= 150
    assert len(set(RULE_IDS)) == len(RULE_IDS)
    for rule in ALL_RULES:
        assert 0.0 < rule.confidence <= 1.0, rule.id
        assert "(?i)" not in rule.regex, f"{rule.id}: use scoped (?i:...)"
        assert "(?=" not in rule.regex and "(?!" not in rule.regex, rule.id
        assert "(?<" not in rule.regex.replace("(?P<", ""), rule.id
        assert not re.search(r"\\[1-9]", rule.regex), f"{rule.id}: back-reference"
        assert list(_compiled(rule).groupindex) in ([], ["secret"]), rule.id


@pytest.mark.parametrize(
    ("rule_id", "confidence", "severity"),
    [
        ("openai-api-key-legacy", 0.9, Severity.CRITICAL),
        ("github-pat-classic", 0.9, Severity.HIGH),
        ("aws-secret-access-key", 0.7, Severity.HIGH),
        ("stripe-secret-key", 0.9, Severity.CRITICAL),
        ("private-key", 1.0, Severity.CRITICAL),
        ("database-url", 0.6, Severity.HIGH),
        ("jwt", 0.5, Severity.MEDIUM),
    ],
)
def test_spec_rules_present(rule_id: str, confidence: float, severity: Severity) -> None:
    rule = {r.id: r for r in ALL_RULES}[rule_id]
    assert rule.confidence == confidence
    assert rule.severity == severity


def test_every_regex_compiles_with_hyperscan() -> None:
    hyperscan = pytest.importorskip("hyperscan")
    exprs = [r.regex.replace("(?P<secret>", "(").encode() for r in ALL_RULES]
    flags = [hyperscan.HS_FLAG_CASELESS if r.case_insensitive else 0 for r in ALL_RULES]
    try:
        hyperscan.Database().compile(expressions=exprs, ids=list(range(len(exprs))), flags=flags)
    except hyperscan.error:
        bad = []
        for rule, expr, flag in zip(ALL_RULES, exprs, flags, strict=True):
            try:
                hyperscan.Database().compile(expressions=[expr], ids=[0], flags=[flag])
            except hyperscan.error as exc:
                bad.append(f"{rule.id}: {exc}")
        pytest.fail("Hyperscan rejected: " + "; ".join(bad))
