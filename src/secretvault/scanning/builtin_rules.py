"""The provider rule set, and the guide's seven pattern-table rules.

The provider rules live once, in ``rules/catalogue``; this module names the guide's seven (in
the guide's table order) and adds one *floor* rule for each: the guide's own regex, so that
everything the guide's table matches is reported. Structural evidence sets the confidence
instead of deciding whether a match exists: a value the provider rule confirms (checksum, key
body, JWT header) is reported by the provider rule at the guide's confidence; one it rejects, or
that only the guide's looser pattern matches, is reported by the floor at
:data:`UNCONFIRMED_CONFIDENCE`, with the reason in its description. Placeholder filters still
drop placeholders (``xxxx…``, ``your-key-here``).
"""

from __future__ import annotations

from dataclasses import replace

from secretvault.scanning.rules.base import FLOOR_TAG, Rule

SPEC_RULE_IDS = (
    "openai-api-key-legacy",
    "github-pat-classic",
    "aws-secret-access-key",
    "stripe-secret-key",
    "private-key",
    "database-url",
    "jwt",
)
UNCONFIRMED_CONFIDENCE = 0.3

# rule id -> (the guide's regex, bounded and with the value in ``secret``; keywords; the reason a
# floor match is less certain). The regexes accept at least what the guide's table accepts.
SPEC_FLOORS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "openai-api-key-legacy": (
        r"\b(?P<secret>sk-[a-zA-Z0-9]{48})\b",
        ("sk-",),
        "no OpenAI key marker: likely an example, a test value or another vendor's key",
    ),
    "github-pat-classic": (
        r"\b(?P<secret>ghp_[a-zA-Z0-9]{36})\b",
        ("ghp_",),
        "checksum does not verify: likely an example or a mistyped token",
    ),
    "aws-secret-access-key": (
        # ``.*`` rather than ``[^\n]*``: the same on one line, and the engine runs rules that
        # mention a newline over the whole buffer
        r"(?i:aws.*access[_-]?key.*[:=].*[\"'](?P<secret>[a-z0-9/+=]{20,})[\"'])",
        ("aws",),
        "not a 40-character AWS secret key: maybe a key id, an example or another value",
    ),
    "stripe-secret-key": (
        r"\b(?P<secret>sk_live_[a-zA-Z0-9]{24,})",
        ("sk_live_",),
        "unusual length for a Stripe key",
    ),
    "private-key": (
        r"(?P<secret>-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----)",
        ("private key-----",),
        "no valid key body follows the header: likely elided, truncated or an example",
    ),
    "database-url": (
        r"\b(?:postgres(?:ql)?|mysql)://[^:/\s\"'@]+:(?P<secret>[^@\s\"']+)@[^/\s\"']+",
        ("postgres", "mysql"),
        "weak or unusual password: likely a local default or an example",
    ),
    "jwt": (
        r"\b(?P<secret>eyJ[a-zA-Z0-9_-]+\.[a-zA-Z0-9_-]+\.[a-zA-Z0-9_-]+)",
        ("eyj",),
        "header is not a JSON JWT header: likely a truncated or example token",
    ),
}


def load_provider_rules() -> tuple[Rule, ...]:
    """Every provider rule of the catalogue."""
    from secretvault.scanning.rules.catalogue import ALL_RULES

    return tuple(ALL_RULES)


def spec_rules() -> tuple[Rule, ...]:
    """The guide's seven rules, in the order of the guide's pattern table."""
    by_id = {r.id: r for r in load_provider_rules()}
    return tuple(by_id[i] for i in SPEC_RULE_IDS)


def floor_rule(provider: Rule) -> Rule:
    """The floor for one of the guide's seven: the guide's regex, the provider's type and
    severity."""
    regex, keywords, reason = SPEC_FLOORS[provider.id]
    return replace(
        provider,
        description=f"{provider.description} (unconfirmed: {reason})",
        confidence=UNCONFIRMED_CONFIDENCE,
        regex=regex,
        keywords=keywords,
        validate=None,
        case_insensitive=False,
        negatives=lambda _rng: [],
        tags=(*(t for t in provider.tags if t != "multiline"), FLOOR_TAG),
    )


SPEC_RULES: tuple[Rule, ...] = spec_rules()
