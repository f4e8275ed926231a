"""The provider-specific rule catalogue, one module per category.

``ALL_RULES`` is the tuple the engine loads; rule ids are unique (checked at import).
"""

from __future__ import annotations

from collections import Counter

from secretvault.scanning.rules.base import Rule
from secretvault.scanning.rules.catalogue import (
    ai,
    ci,
    cloud,
    databases,
    keys,
    messaging,
    observability,
    other,
    payment,
    registries,
    tokens,
    vcs,
)

CATEGORIES: dict[str, list[Rule]] = {
    "cloud": cloud.RULES,
    "vcs": vcs.RULES,
    "ci": ci.RULES,
    "payment": payment.RULES,
    "messaging": messaging.RULES,
    "ai": ai.RULES,
    "databases": databases.RULES,
    "registries": registries.RULES,
    "observability": observability.RULES,
    "keys": keys.RULES,
    "tokens": tokens.RULES,
    "other": other.RULES,
}

ALL_RULES: tuple[Rule, ...] = tuple(r for rules in CATEGORIES.values() for r in rules)

_dupes = [rid for rid, n in Counter(r.id for r in ALL_RULES).items() if n > 1]
assert not _dupes, f"duplicate rule ids: {_dupes}"
