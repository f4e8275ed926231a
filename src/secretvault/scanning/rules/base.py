"""The one shape every detection rule has. Rules are data; the engine never special-cases one.

A rule's ``regex`` is Python ``re`` syntax restricted to what Hyperscan also compiles (no
look-around, no back-references). If the secret is part of the match, capture it in the named
group ``secret``; otherwise the whole match is the secret. ``keywords`` are lowercase literals of
which at least one must occur (case-insensitively) in the line for the rule to be tried by the
pure-``re`` engine; keep them specific ("ghp_", "xoxb-") so the prefilter prunes well.

``validate`` returns False to drop a match whose structure is wrong (bad CRC32, JWT header that
is not JSON, base64 that does not decode ...). ``example`` builds a fresh positive example from a
seeded ``random.Random`` at test time, so the repository itself holds no secret-looking literal;
``negatives`` builds near-misses that must *not* be reported.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from secretvault.models import SecretType, Severity

# Tag of the guide's floor rules (see builtin_rules): reported when their provider rule does not
# confirm the match, at lower confidence. Here so the engine can read it without the catalogue.
FLOOR_TAG = "spec-floor"

Validator = Callable[[str], bool]
ExampleFactory = Callable[[random.Random], str]
NegativesFactory = Callable[[random.Random], list[str]]


@dataclass(frozen=True, slots=True)
class Rule:
    """A provider-specific (or generic) secret detector."""

    id: str
    description: str
    secret_type: SecretType
    severity: Severity
    confidence: float
    regex: str
    keywords: tuple[str, ...]
    example: ExampleFactory
    negatives: NegativesFactory = field(default=lambda _rng: [])
    validate: Validator | None = None
    case_insensitive: bool = False
    tags: tuple[str, ...] = ()
