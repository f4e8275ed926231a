"""``SECRET_PATTERNS``: the guide's custom-pattern hook, ``{SecretType: [regex, ...]}``.

Seeded from the rule set. ``SECRET_PATTERNS[SecretType.X].append(regex)`` adds a rule on the
next scan (severity HIGH, confidence 0.8, keywords derived from the regex's literal text);
removing a seeded regex disables the rules that use it.
"""

from __future__ import annotations

import hashlib
import random
import re
from re import _parser as sre_parse  # type: ignore[attr-defined]

from secretvault.models import SecretType, Severity
from secretvault.scanning.builtin_rules import SPEC_RULE_IDS, floor_rule, load_provider_rules
from secretvault.scanning.rules.base import Rule

_PROVIDER_RULES: tuple[Rule, ...] = load_provider_rules()


def _seed() -> dict[SecretType, list[str]]:
    out: dict[SecretType, list[str]] = {t: [] for t in SecretType}
    for r in _PROVIDER_RULES:
        if "generic" not in r.tags and r.regex not in out[r.secret_type]:
            out[r.secret_type].append(r.regex)
    return out


SECRET_PATTERNS: dict[SecretType, list[str]] = _seed()


def literal_keywords(regex: str) -> tuple[str, ...]:
    """The longest literal run (>= 3 chars) every match must contain, lowercased; () if none."""
    try:
        parsed = sre_parse.parse(regex)
    except re.error:
        return ()
    best, run = "", ""
    for op, arg in parsed:
        if op is sre_parse.LITERAL:
            run += chr(arg)
            continue
        best, run = max(best, run, key=len), ""
    best = max(best, run, key=len)
    return (best.lower(),) if len(best) >= 3 else ()


def custom_rule(secret_type: SecretType, regex: str) -> Rule:
    """A rule for a regex appended to ``SECRET_PATTERNS``."""
    re.compile(regex)
    digest = hashlib.sha256(regex.encode()).hexdigest()[:8]
    return Rule(
        id=f"custom-{secret_type.value.replace('_', '-')}-{digest}",
        description=f"Custom {secret_type.value} pattern",
        secret_type=secret_type,
        severity=Severity.HIGH,
        confidence=0.8,
        regex=regex,
        keywords=literal_keywords(regex),
        example=lambda _rng: "",
        tags=("custom",),
    )


def active_rules() -> list[Rule]:
    """Provider rules still listed in ``SECRET_PATTERNS`` (the guide's seven with their floors)
    plus one rule per appended regex."""
    rules: list[Rule] = []
    floors: list[Rule] = []
    for r in _PROVIDER_RULES:
        if "generic" in r.tags or r.regex in SECRET_PATTERNS.get(r.secret_type, ()):
            rules.append(r)
            if r.id in SPEC_RULE_IDS:
                floors.append(floor_rule(r))
    rules.extend(floors)
    seeded = {(r.secret_type, r.regex) for r in _PROVIDER_RULES}
    for stype, regexes in SECRET_PATTERNS.items():
        for rx in regexes:
            if (stype, rx) not in seeded:
                rules.append(custom_rule(stype, rx))
    return rules


def rule_examples(seed: int = 0) -> list[tuple[Rule, str]]:
    """One generated example per provider rule (for engine-equivalence tests)."""
    rng = random.Random(seed)
    return [(r, r.example(rng)) for r in _PROVIDER_RULES]
