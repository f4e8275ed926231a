"""The provider rule set, and SPEC's seven pattern-table rules as the catalogue defines them.

The rules themselves live once, in ``rules/catalogue``; this module only names SPEC's seven (in
SPEC's table order) for code and tests that need exactly those.
"""

from __future__ import annotations

from secretvault.scanning.rules.base import Rule

SPEC_RULE_IDS = (
    "openai-api-key-legacy",
    "github-pat-classic",
    "aws-secret-access-key",
    "stripe-secret-key",
    "private-key",
    "database-url",
    "jwt",
)


def load_provider_rules() -> tuple[Rule, ...]:
    """Every provider rule of the catalogue."""
    from secretvault.scanning.rules.catalogue import ALL_RULES

    return tuple(ALL_RULES)


def spec_rules() -> tuple[Rule, ...]:
    """SPEC's seven rules, in the order of SPEC's pattern table."""
    by_id = {r.id: r for r in load_provider_rules()}
    return tuple(by_id[i] for i in SPEC_RULE_IDS)


SPEC_RULES: tuple[Rule, ...] = spec_rules()
