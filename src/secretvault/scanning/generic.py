"""Generic detection: a secret-looking literal assigned to a password/secret/token/key name.

Two rules share the id ``generic-secret``: one for quoted literals (any language) and one for
unquoted config values (``.env``, YAML, INI, properties, shell). The regex only finds the
shape; whether the *name* is secret-like and the *value* looks random enough is decided here,
strictly, because generic detection is where precision is lost.
"""

from __future__ import annotations

import math
import random
import re
import string
from collections import Counter
from pathlib import PurePosixPath

from secretvault.models import SecretType, Severity
from secretvault.scanning.rules.base import ExampleFactory, Rule

GENERIC_ID = "generic-secret"

_KEYWORDS = (
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "credential",
    "auth",
)

_NAME = r"(?P<name>[A-Za-z_$@][\w.$@-]{0,80})"
# A backslash may precede each quote: JSON escaped inside a string literal
# (``PAYLOAD = "{\"client_secret\": \"…\"}"``).
_OP = r"\\?[\"']?\s*(?::\s*[A-Za-z_][\w\[\], .]*\s*)?(?::=|=>|=|:|<-)\s*"
_QUOTED = _NAME + _OP + r"(?:[rbuf]{0,2})?\\?([\"'`])(?P<secret>[^\"'`\s\\]{6,200})\\?[\"'`]"
_UNQUOTED = (
    r"(?:^|`)\s*(?:export\s+|set\s+|ENV\s+|-\s+)?" + _NAME + r"[\"']?\s*(?:=|:)\s*"
    r"(?P<secret>(?:(?<==)#|[^\s\"'`#;,{}\[\]()<>])[^\s\"'`]{5,199})(?:\s+[#;].*)?\s*(?:`|$)"
)

_CONFIG_SUFFIXES = frozenset(
    {
        ".env",
        ".yaml",
        ".yml",
        ".ini",
        ".cfg",
        ".conf",
        ".properties",
        ".sh",
        ".bash",
        ".zsh",
        ".toml",
        ".envrc",
        ".txt",
        ".config",
        ".tfvars",
        ".dockerfile",
        ".md",
        ".rst",
        ".adoc",
        ".mdx",
        ".markdown",
    }
)
_CONFIG_NAMES = frozenset({".env", "dockerfile", ".npmrc", ".pypirc", ".netrc", "env"})

_PASSWORD_TOKENS = frozenset({"password", "passwd", "pwd", "pass", "passphrase", "passwort", "pw"})
_PASSWORD_SUFFIXES = ("password", "passwd", "passphrase", "pwd")  # pgpassword, dbpasswd
_STRONG_TOKENS = frozenset({"secret", "token", "apikey", "credential", "credentials", "bearer"})
_KEY_QUALIFIERS = frozenset(
    {
        "api",
        "access",
        "secret",
        "private",
        "auth",
        "signing",
        "encryption",
        "master",
        "client",
        "app",
        "license",
        "account",
        "service",
        "session",
        "hmac",
        "jwt",
        "webhook",
        "consumer",
    }
)
_NOT_SECRET_LAST = frozenset(
    {
        "url",
        "uri",
        "endpoint",
        "path",
        "file",
        "filename",
        "dir",
        "name",
        "type",
        "field",
        "id",
        "ids",
        "label",
        "length",
        "len",
        "size",
        "count",
        "max",
        "min",
        "prefix",
        "suffix",
        "header",
        "param",
        "policy",
        "format",
        "regex",
        "pattern",
        "hash",
        "digest",
        "env",
        "var",
        "expiry",
        "expires",
        "expiration",
        "ttl",
        "timeout",
        "version",
        "hint",
        "prompt",
        "message",
        "msg",
        "placeholder",
        "reset",
        "required",
        "enabled",
        "mode",
        "algorithm",
        "alg",
        "provider",
        "manager",
        "store",
        "class",
        "method",
        "scheme",
        "kind",
        "input",
        "strength",
        "rotation",
        "location",
        "help",
        "error",
        "errors",
        "text",
        "title",
        "description",
        "validator",
        "column",
        "key",
        "keys",
        "index",
        "ref",
        "reference",
        "source",
        "option",
        "options",
        "list",
        "template",
        "generator",
        "factory",
        "handler",
        "service",
        "client",
        "callback",
        "provided",
        "changed",
        "set",
        "exists",
        "storage",
        "cache",
        "lookup",
        "arn",
        "region",
        "user",
        "username",
        "login",
        "email",
        "host",
        "port",
        "box",
        "form",
        "button",
        "icon",
        "backend",
        "engine",
        "module",
        "mount",
        "plugin",
        "strategy",
        "schema",
        "config",
        "settings",
        "used",
        "date",
        "time",
        "at",
        "last",
        "updated",
        "created",
        "age",
    }
)
_NOT_SECRET_ANY = frozenset(
    {
        "public",
        "publishable",
        "pub",
        "sha",
        "sha1",
        "sha256",
        "checksum",
        "md5",
        "fingerprint",
        "csrf",
        "xsrf",
        "nonce",
        "keyboard",
        "monkey",
        "turkey",
        "hockey",
        "donkey",
        "jockey",
        "passenger",
        "passage",
        "compass",
        "bypass",
        "passive",
        "tokenizer",
        "tokenize",
        "tokenized",
        "tokens",
        "primary",
        "foreign",
        "sort",
        "partition",
        "cache",
        "redis",
        "dict",
        "map",
        "hotkey",
        "keycode",
        "keyword",
        "keywords",
        "keypress",
        "keydown",
        "keyup",
        "author",
        "authority",
        "authorization_url",
        "oauth_url",
        "next",
        "page",
        "pagination",
        "cursor",
        "continuation",
        "i18n",
        "translation",
        "test",
        "mock",
        "fake",
        "dummy",
        "example",
        "verification",  # verification keys are public keys; site/domain tokens are published
    }
)

_WORDISH = re.compile(
    r"^[a-z]+(?:[_\-. ][a-z]+)*[_\-. ]?$|^[A-Za-z][a-z]+(?:[A-Z][a-z]+)*$|^[A-Z][A-Z_]+$"
)
_DOTTED = re.compile(r"^[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)+$")
_SEGMENT = re.compile(r"^(?:[a-z_][a-z0-9_-]*|[A-Z_][A-Z0-9_-]*|[A-Z]?[a-z]+(?:[A-Z][a-z0-9]+)*)$")
_PATHISH = re.compile(
    r"^(?:~|\.{1,2})?/[a-z0-9._-]*(?:/[a-z0-9._-]*)*$|^[A-Za-z]:\\|"
    r"^[\w.-]+(?:/[\w.-]+)+\.[a-z]{2,5}$|"
    r"\.(?:pem|key|json|txt|crt|p12|yaml|yml|env|pub|der|jks|keystore)$"
)
_FUNCISH = re.compile(r"[()\[\]]")
_HEXONLY = re.compile(r"^[0-9a-f]+$|^[0-9A-F]+$")
_IDENT_TOKENS = re.compile(r"[A-Z]?[a-z]+[0-9]{0,2}|[A-Z]+(?![a-z])[0-9]{0,2}|[0-9]+")
_CAMEL_SPLIT = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


_KW = "(?i:" + "|".join(_KEYWORDS) + ")"
# Hyperscan prefilters (supersets of each rule on a line, far faster than the full regex):
# every accepted generic name contains a keyword, and the name precedes the assignment.
_XML = r"<(?P<name>[A-Za-z_][\w.:-]{0,60})>\s*(?P<secret>[^<>\s\"']{6,200})\s*</"
_HEADER = (
    r"(?P<name>(?i:authorization))[\"']?\s*[:=]\s*[\"']?(?i:bearer|token|basic)[ \t]+"
    r"(?P<secret>[A-Za-z0-9._~+/-]{16,}=*)"
)
# A literal default of an environment / config / mapping look-up is hard-coded all the same:
# ``os.getenv("DB_PASSWORD", "…")``, ``os.environ.setdefault("API_TOKEN", "…")``,
# ``config("SECRET_KEY", default="…")``, ``ENV.fetch("X", "…")``, ``opts.get("token", "…")``.
_LOOKUP_CALL = r"\b(?:getenv|get_env|env|get|setdefault|fetch|config)\(\s*"
_ENV_DEFAULT = (
    _LOOKUP_CALL + r"[rbuf]{0,2}[\"'](?P<name>[A-Za-z_][\w.-]{0,80})[\"']\s*,\s*"
    r"(?:default\s*=\s*)?[rbuf]{0,2}([\"'])(?P<secret>[^\"'`\s\\]{6,200})[\"']"
)
# A credential in a URL query string: ``https://api…/export?auth_token=…&format=csv``.
_QUERY = (
    r"(?<=[\w/.-])[?&](?:amp;)?(?P<name>[A-Za-z_][\w.-]{0,60})="
    r"(?P<secret>[^\s\"'`&#<>\\]{6,200})"
)
# PowerShell: ``$dbPassword = ConvertTo-SecureString "…" -AsPlainText -Force``.
_PWSH = (
    r"\$(?P<name>[A-Za-z_]\w{0,80})\s*=\s*\(?\s*(?i:ConvertTo-SecureString)\s+"
    r"(?:(?i:-String)\s+)?([\"'])(?P<secret>[^\"'`\s]{6,200})[\"'][^\n]*(?i:-AsPlainText)"
)
HS_PREFILTERS: dict[str, str] = {
    _QUOTED: _KW + r"[^\n]*(?::=|=>|=|:|<-)\s*[rbuf]{0,2}\\?[\"'`][^\"'`\s\\]{6,200}\\?[\"'`]",
    _UNQUOTED: _KW + r"[\w.$@-]*[\"']?\s*[=:]",
    _XML: _KW + r"[\w.:-]*>\s*[^<>\s\"']{6,200}\s*</",
    # (these two start at the keyword: the bundled Hyperscan misses ``\(\s*["'][\w.-]*(?i:…)`` when
    # the keyword directly follows the quote)
    _ENV_DEFAULT: _KW + r"[\w.-]*[\"']\s*,\s*(?:default\s*=\s*)?[rbuf]{0,2}[\"'][^\"'`\s\\]{6}",
    _QUERY: _KW + r"[\w.-]*=[^\s\"'`&#<>\\]{6}",
    _PWSH: _KW + r"\w*\s*=\s*\(?\s*(?i:ConvertTo-SecureString)\s",
}


def _rand(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def _quoted_example(rng: random.Random) -> str:
    return "api_" + f'secret = "{_rand(rng, 12)}{rng.randint(10, 99)}{_rand(rng, 12)}"'


def _unquoted_example(rng: random.Random) -> str:
    return "DB_PASS" + f"WORD={_rand(rng, 10)}{rng.randint(10, 99)}{_rand(rng, 6)}"


def _xml_example(rng: random.Random) -> str:
    return "<client" + f"Secret>{_rand(rng, 14)}{rng.randint(10, 99)}{_rand(rng, 8)}</clientSecret>"


def _env_default_example(rng: random.Random) -> str:
    name = rng.choice(["DB_PASS" + "WORD", "API_" + "TOKEN", "SECRET" + "_KEY"])
    value = f"{_rand(rng, 14)}{rng.randint(10, 99)}{_rand(rng, 10)}"
    call = rng.choice(["os.getenv", "os.environ.get", "os.environ.setdefault"])
    return f'{name.lower()} = {call}("{name}", "{value}")'


def _query_example(rng: random.Random) -> str:
    value = f"{_rand(rng, 16)}{rng.randint(10, 99)}{_rand(rng, 14)}"
    return 'URL = "https://api.acme.io/v1/export?auth_' + f'token={value}&format=csv"'


def _pwsh_example(rng: random.Random) -> str:
    value = f"{_rand(rng, 12)}{rng.randint(10, 99)}{_rand(rng, 6)}"
    return "$adminPass" + f'word = ConvertTo-SecureString "{value}" -AsPlainText -Force'


def _header_example(rng: random.Random) -> str:
    return "curl -H 'Authorization: " + f"Bearer {_rand(rng, 20)}{rng.randint(10, 99)}' https://api"


def _generic(
    description: str,
    regex: str,
    example: ExampleFactory,
    *,
    secret_type: SecretType = SecretType.API_KEY,
    keywords: tuple[str, ...] = _KEYWORDS,
    extra_tags: tuple[str, ...] = (),
) -> Rule:
    """A generic rule: all share one id, severity and confidence; the syntax is what differs."""
    return Rule(
        id=GENERIC_ID,
        description=description,
        secret_type=secret_type,
        severity=Severity.MEDIUM,
        confidence=0.6,
        regex=regex,
        keywords=keywords,
        example=example,
        tags=("generic", *extra_tags),
    )


GENERIC_RULES: tuple[Rule, ...] = (
    _generic(
        "Secret-looking literal assigned to a secret-like name",
        _QUOTED,
        _quoted_example,
    ),
    _generic(
        "Secret-looking value assigned to a secret-like name in a config file",
        _UNQUOTED,
        _unquoted_example,
        extra_tags=("config-only",),
    ),
    _generic(
        "Secret-looking value in an XML element with a secret-like name",
        _XML,
        _xml_example,
    ),
    _generic(
        "Secret-looking literal default of an environment or config look-up",
        _ENV_DEFAULT,
        _env_default_example,
    ),
    _generic(
        "Secret-looking value of a secret-like URL query parameter",
        _QUERY,
        _query_example,
    ),
    _generic(
        "Plain-text secret passed to PowerShell ConvertTo-SecureString",
        _PWSH,
        _pwsh_example,
    ),
    _generic(
        "Credential in an HTTP Authorization header",
        _HEADER,
        _header_example,
        secret_type=SecretType.OAUTH_TOKEN,
        keywords=("authorization",),
        extra_tags=("header",),
    ),
)


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value`` (0 for empty)."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def char_classes(value: str) -> int:
    """How many of lower, upper, digit, symbol occur in ``value``."""
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )


def name_tokens(name: str) -> list[str]:
    """Split an identifier (snake, kebab, camel, dotted) into lowercase tokens."""
    name = name.strip("$@\"'")
    parts = re.split(r"[^A-Za-z0-9]+", _CAMEL_SPLIT.sub("_", name))
    return [p.lower() for p in parts if p]


def name_kind(name: str) -> str | None:
    """``"password"``, ``"key"``, ``"secret"`` for a secret-like name; None otherwise."""
    tokens = name_tokens(name)
    if not tokens or (tokens[-1] in _NOT_SECRET_LAST and tokens[-1] != "key"):
        return None
    if any(t in _NOT_SECRET_ANY for t in tokens):
        return None
    if any(t in _PASSWORD_TOKENS or t.endswith(_PASSWORD_SUFFIXES) for t in tokens):
        return "password"
    if tokens[-1] == "key":
        if len(tokens) > 1 and tokens[-2] in _KEY_QUALIFIERS:
            return "secret"
        return "key"
    if any(t in _STRONG_TOKENS or t.endswith(("secret", "token", "apikey")) for t in tokens):
        return "secret"
    return None


def secret_type_for(name: str) -> SecretType:
    """The vault SecretType a generic finding belongs to, from its variable name."""
    tokens = set(name_tokens(name))
    if tokens & _PASSWORD_TOKENS or any(t.endswith(_PASSWORD_SUFFIXES) for t in tokens):
        return SecretType.DATABASE_PASSWORD
    if "webhook" in tokens:
        return SecretType.WEBHOOK_SECRET
    if tokens & {"private", "signing", "encryption", "master", "hmac"}:
        return SecretType.ENCRYPTION_KEY
    if tokens & {"token", "bearer", "oauth", "refresh"} or any(t.endswith("token") for t in tokens):
        return SecretType.OAUTH_TOKEN
    return SecretType.API_KEY


def is_config_path(path: str) -> bool:
    """Files whose syntax allows unquoted secret values (``.env``, YAML, INI, shell ...)."""
    p = PurePosixPath(path.replace("\\", "/"))
    name = p.name.lower()
    return (
        name in _CONFIG_NAMES
        or name.startswith(".env")
        or p.suffix.lower() in _CONFIG_SUFFIXES
        or name.endswith(".env")
    )


def alnum_classes(value: str) -> int:
    """How many of lower, upper, digit occur in ``value``."""
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
    )


def is_identifier(value: str) -> bool:
    """CamelCase / snake_case made of real-looking words (``OAuth2ClientSecretBackend``)."""
    parts = [p for p in re.split(r"[_\-.:/]+", value) if p]
    tokens = [t for p in parts for t in _IDENT_TOKENS.findall(p)]
    if sum(map(len, tokens)) != sum(map(len, parts)) or len(tokens) < 2:
        return False
    words = [t.rstrip("0123456789") for t in tokens if not t.isdigit()]
    noise = sum(len(t.rstrip("0123456789")) <= 2 or t[-1].isdigit() for t in tokens)
    if noise > max(2, len(tokens) // 3):
        return False  # random mixed case splits into many short or digit-glued "words"
    acronyms = [w for w in words if w.isupper()]
    real = [w for w in words if not w.isupper()]
    if len(real) < 1 or any(len(w) > 6 for w in acronyms) or max(map(len, real)) < 4:
        return False
    return all(len(w) >= 2 and _VOWELS.search(w) for w in real) and (
        len(real) >= 2 or bool(acronyms)
    )


_VOWELS = re.compile(r"[aeiouyAEIOUY]")


def is_dotted_name(value: str) -> bool:
    """``settings.DB_PASSWORD``, ``config.auth.token``: attribute paths, not literals."""
    return bool(_DOTTED.match(value)) and all(_SEGMENT.match(p) for p in value.split("."))


def looks_like_secret(value: str, kind: str) -> bool:
    """Strict value test: random enough, not an identifier, path, call or sentence."""
    if len(value) < (6 if kind == "password" else 12 if kind == "secret" else 20):
        return False
    if _WORDISH.match(value) or _PATHISH.search(value) or is_dotted_name(value):
        return False
    if _FUNCISH.search(value) or value.startswith("$"):
        return False
    if kind != "password" and _HEXONLY.match(value) and len(value) < 32:
        return False
    if is_identifier(value):
        return False
    classes = char_classes(value)
    entropy = shannon_entropy(value)
    mixed = alnum_classes(value)
    if kind == "password":
        strong = mixed >= 2 or (len(value) >= 16 and entropy >= 3.5)
        return 6 <= len(value) <= 128 and classes >= 2 and entropy >= 2.3 and strong
    if kind == "key":
        return len(value) >= 20 and mixed >= 2 and entropy >= 3.5
    return len(value) >= 12 and mixed >= 2 and entropy >= 3.0


def accept(
    name: str, value: str, path: str, config_only: bool, header: bool = False
) -> SecretType | None:
    """Decide a generic candidate; returns the SecretType to report or None to drop it."""
    if config_only and not is_config_path(path):
        return None
    if header:
        ok = looks_like_secret(value, "secret") and not is_identifier(value)
        return SecretType.OAUTH_TOKEN if ok else None
    kind = name_kind(name)
    low_name = name.lower()
    if not any(k in low_name for k in _KEYWORDS):
        return None
    if kind is None or not looks_like_secret(value, kind):
        return None
    lowered = value.lower()
    if any(t in lowered for t in name_tokens(name) if len(t) >= 4):
        return None
    if _SNAKE.match(value) and name_kind(value) is not None:
        return None  # the value is itself a secret-like name: ``"gs_oauth2_refresh_token"``
    return secret_type_for(name)


_SNAKE = re.compile(r"^(?:[a-z][a-z0-9]*(?:_[a-z0-9]+)+|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)$")
