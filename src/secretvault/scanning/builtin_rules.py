"""The seven SPEC-table rules, used when the provider catalogue is not importable.

The catalogue (``rules/catalogue``) is the real rule set; these exist so the scanner
keeps SPEC's behaviour on its own. Examples are built at run time from a seeded RNG so
this file holds no secret-looking literal.
"""

from __future__ import annotations

import base64
import json
import random
import string

from secretvault.models import SecretType, Severity
from secretvault.scanning.rules.base import Rule

_ALNUM = string.ascii_letters + string.digits


def _rand(rng: random.Random, n: int, alphabet: str = _ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt_example(rng: random.Random) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"sub": _rand(rng, 10), "iat": rng.randint(10**9, 2 * 10**9)}
    body = _b64url(json.dumps(claims).encode())
    return f"{header}.{body}.{_rand(rng, 43, _ALNUM + '-_')}"


def _jwt_valid(secret: str) -> bool:
    head = secret.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
        return isinstance(json.loads(decoded), dict)
    except (ValueError, UnicodeDecodeError):
        return False


def _aws_example(rng: random.Random) -> str:
    value = _rand(rng, 40, string.ascii_lowercase + string.digits + "/+")
    return f'aws_secret_access_key = "{value}"'


def _db_example(rng: random.Random) -> str:
    return f"postgres://app:{_rand(rng, 16)}@db.internal:5432/app"


def _pk_example(rng: random.Random) -> str:
    kind = rng.choice(["RSA ", "EC ", "OPENSSH ", ""])
    return "-----BEGIN " + kind + "PRIVATE" + " KEY-----"


SPEC_RULES: tuple[Rule, ...] = (
    Rule(
        id="openai-api-key-legacy",
        description="OpenAI API key (legacy format)",
        secret_type=SecretType.API_KEY,
        severity=Severity.CRITICAL,
        confidence=0.9,
        regex=r"\bsk-[a-zA-Z0-9]{48}\b",
        keywords=("sk-",),
        example=lambda rng: "sk-" + _rand(rng, 48),
    ),
    Rule(
        id="github-pat-classic",
        description="GitHub personal access token (classic)",
        secret_type=SecretType.API_KEY,
        severity=Severity.HIGH,
        confidence=0.9,
        regex=r"\bghp_[a-zA-Z0-9]{36}\b",
        keywords=("ghp_",),
        example=lambda rng: "gh" + "p_" + _rand(rng, 36),
    ),
    Rule(
        id="aws-secret-access-key",
        description="AWS secret access key assigned in code or config",
        secret_type=SecretType.API_KEY,
        severity=Severity.HIGH,
        confidence=0.7,
        regex=r"aws.*access[_-]?key.*[:=].*['\"](?P<secret>[a-z0-9/+=]{20,})['\"]",
        keywords=("aws",),
        example=_aws_example,
        case_insensitive=True,
    ),
    Rule(
        id="stripe-secret-key",
        description="Stripe live secret key",
        secret_type=SecretType.API_KEY,
        severity=Severity.CRITICAL,
        confidence=0.9,
        regex=r"\bsk_live_[a-zA-Z0-9]{24,}",
        keywords=("sk_live_",),
        example=lambda rng: "sk_" + "live_" + _rand(rng, 24),
    ),
    Rule(
        id="private-key",
        description="Private key block",
        secret_type=SecretType.SSH_KEY,
        severity=Severity.CRITICAL,
        confidence=1.0,
        regex=r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----",
        keywords=("private key-----",),
        example=_pk_example,
    ),
    Rule(
        id="database-url",
        description="Database URL with an embedded password",
        secret_type=SecretType.DATABASE_PASSWORD,
        severity=Severity.HIGH,
        confidence=0.6,
        regex=r"(?:postgres(?:ql)?|mysql)://[^:/\s@'\"]+:(?P<secret>[^@\s'\"/]+)@[^/\s'\"]+",
        keywords=("postgres", "mysql"),
        example=_db_example,
    ),
    Rule(
        id="jwt",
        description="JSON Web Token",
        secret_type=SecretType.JWT_TOKEN,
        severity=Severity.MEDIUM,
        confidence=0.5,
        regex=r"\beyJ[a-zA-Z0-9_-]+\.[a-zA-Z0-9_-]+\.[a-zA-Z0-9_-]+",
        keywords=("eyj",),
        example=_jwt_example,
        validate=_jwt_valid,
    ),
)


def load_provider_rules() -> tuple[Rule, ...]:
    """The catalogue's ``ALL_RULES`` plus any SPEC rule whose id the catalogue lacks."""
    try:
        from secretvault.scanning.rules.catalogue import ALL_RULES
    except ImportError:
        return SPEC_RULES
    catalogue = tuple(ALL_RULES)
    ids = {r.id for r in catalogue}
    return catalogue + tuple(r for r in SPEC_RULES if r.id not in ids)
