"""False-positive filters: small named predicates, each returning True to *drop* a candidate.

``COMMON`` run on every rule's matches; ``GENERIC`` only on generic (assignment) matches,
which need far stricter treatment. Each filter sees a :class:`Candidate` so it can look at the
secret, the line and the path without re-parsing anything.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePosixPath
from urllib.parse import unquote


@dataclass(frozen=True, slots=True)
class Candidate:
    """A regex match before filtering: the secret, where it is, and the line around it."""

    secret: str = field(repr=False)
    line: str = field(repr=False)
    path: str
    start: int
    end: int
    rule_id: str
    next_line: str = field(default="", repr=False)  # only filled for guide floor matches


Filter = Callable[[Candidate], bool]

_TEMPLATE = re.compile(
    r"\$\{[^}]*\}?|\{\{.*\}?\}?|\$\([^)]*\)?|%\([^)]*\)|#\{[^}]*\}|(?<![A-Za-z0-9])%[A-Z_]{2,}%(?![A-Za-z0-9])|\{[0-9]*\}"
    r"|\{[A-Za-z_][\w.\[\]'\"]*(?:\(\))?\}"
)
# printf ``%s``: a template unless what is left around it is itself a random secret
# (generated passwords contain ``%s`` by chance: ``…S%s^.``).
_PRINTF = re.compile(r"%s(?![A-Za-z0-9])")
_ANGLE = re.compile(r"^<[^<>]+>$|<[A-Za-z_ -]+>")
_PLACEHOLDER_WORDS = (
    "changeme",
    "change_me",
    "change-me",
    "replaceme",
    "replace_me",
    "replace-me",
    "your_",
    "your-",
    "yourpassword",
    "yourtoken",
    "yoursecret",
    "placeholder",
    "redacted",
    "example",
    "sample",
    "dummy",
    "insert",
    "fixme",
    "notreal",
    "not_real",
    "not-a-real",
    "foobar",
    "lorem",
    "xxxx",
    "****",
    "....",
    "----",
    "____",
    "0000000",
    "1234567",
    "abcdef",
    "qwerty",
    "password",
    "passwd",
    "secret",
    "<",
    ">",
    "sample",
    "invalid",
    "hunter2",
    "letmein",
    "welcome1",
    "p@ssw0rd",
    "s3cr3t",
    "undefined",
    "xyzzy",
    "...",
    "\u2026",
)
_STRICT_PLACEHOLDER_WORDS = (
    "changeme",
    "change_me",
    "replace_me",
    "your_",
    "placeholder",
    "redacted",
    "xxxxxx",
    "******",
    "<your",
    "dummy",
)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
# Whole words (and snake/camel parts): "shared_secret" is not "sha".
_SHA_CONTEXT = re.compile(
    r"commit|(?<![a-z])sha(?:1|256|384|512)?(?![a-z])|\brev|\bref|hash|digest|checksum|"
    r"integrity|etag",
    re.I,
)
# The candidate is the literal default argument of the look-up: hard-coded after all.
_DEFAULT_ARG = re.compile(
    r"\(\s*[rbuf]{0,2}[\"'][\w.-]+[\"']\s*,\s*(?:default\s*=\s*)?[rbuf]{0,2}[\"']$"
)
_ENV_LOOKUP = re.compile(
    r"os\.environ|os\.getenv|getenv\(|process\.env|ENV\[|ENV\.fetch|System\.getenv|"
    r"Environment\.GetEnvironmentVariable|env\(|config\(|settings\.|secrets\.|vault\(",
)
_PUBLIC_KEY = re.compile(
    r"BEGIN (?:RSA |EC |SSH2 )?PUBLIC KEY|ssh-(?:rsa|ed25519|dss) AAAA|ecdsa-sha2"
)
_PUBLISHABLE = ("pk_live_", "pk_test_", "pub_", "pub-")
_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".decode())
_LOCK_NAMES = frozenset(
    {
        "package-lock.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "poetry.lock",
        "pipfile.lock",
        "cargo.lock",
        "go.sum",
        "composer.lock",
        "gemfile.lock",
        "uv.lock",
        "pdm.lock",
        "npm-shrinkwrap.json",
        "bun.lockb",
        "packages.lock.json",
        "mix.lock",
        "pubspec.lock",
    }
)
# Documentation examples are written to be copied: their credentials are placeholders by
# intent. (Test code is different: it is reported at lower confidence, see generic.is_test_path.)
_EXAMPLE_DIRS = frozenset({"examples", "example", "samples", "sample"})
# Documentation example files (botocore's ``examples-1.json``), like example directories.
_EXAMPLE_FILE = re.compile(r"^(?:examples?|samples?)(?:[-_.]?\d+)?\.[a-z0-9]+$")
_B64_VALUE = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_URL_PASSWORD = re.compile(r"://[^:/@\s]*:([^@\s]+)@")
_WEAK_RE = re.compile("|".join(re.escape(w) for w in _PLACEHOLDER_WORDS))
# Short words count only as whole tokens: "foo" occurs by chance in long random strings.
_SHORT_WORDS = ("foo", "bar", "baz", "test", "fake", "mock", "none", "null", "todo")
_SHORT_RE = re.compile(r"(?:^|[^a-z])(?:" + "|".join(_SHORT_WORDS) + r")(?:[^a-z]|$)")
_STRICT_RE = re.compile("|".join(re.escape(w) for w in _STRICT_PLACEHOLDER_WORDS))
_SEQUENCES = ("abcde", "12345", "23456789", "98765432", "zyxwvuts")


def _value(c: Candidate) -> str:
    """The part that carries the secret (the password of a URL, else the whole match)."""
    m = _URL_PASSWORD.search(c.secret)
    return m.group(1) if m else c.secret


def is_template(c: Candidate) -> bool:
    """``${X}``, ``{{ x }}``, ``$(cmd)``, ``%(x)s``, ``#{x}``, ``%X%`` and ``<PASSWORD>``."""
    v = _value(c)
    if _TEMPLATE.search(v) or _ANGLE.search(v) or v.startswith("$"):
        return True
    return bool(_PRINTF.search(v)) and not _random_rest(_PRINTF.sub("", v))


def _random_rest(rest: str) -> bool:
    """12+ characters with lower, upper, digit and symbol, 3.6+ bits each: generated."""
    symbols = any(not ch.isalnum() for ch in rest)
    classes = any(ch.islower() for ch in rest) + any(ch.isupper() for ch in rest)
    classes += any(ch.isdigit() for ch in rest) + symbols
    if len(rest) < 12 or classes < 4:
        return False
    n = len(rest)
    entropy = -sum(k / n * math.log2(k / n) for k in Counter(rest).values())
    return entropy >= 3.6


def is_placeholder(c: Candidate) -> bool:
    """Unmistakable placeholders (``changeme``, ``xxxx…``, ``your_token``) in any rule's match."""
    v = _value(c).lower()
    if _STRICT_RE.search(v):
        return True
    return len(v) >= 6 and len(set(v)) <= 2


def is_documented_example(c: Candidate) -> bool:
    """Documented example keys, e.g. AWS's ``…EXAMPLE`` / ``…EXAMPLEKEY``."""
    return "EXAMPLE" in c.secret.upper()


def is_embedded_in_blob(c: Candidate) -> bool:
    """The match sits inside a longer base64/minified run, so it is a coincidence."""
    if len(c.line) - (c.end - c.start) < 32:
        return False
    left = c.start
    while left > 0 and c.line[left - 1] in _B64:
        left -= 1
    right = c.end
    n = len(c.line)
    while right < n and c.line[right] in _B64:
        right += 1
    return (c.start - left) + (right - c.end) >= 32


def is_uuid_value(value: str) -> bool:
    """A canonical 8-4-4-4-12 hex UUID."""
    return bool(_UUID.match(value))


def is_git_sha(c: Candidate) -> bool:
    """40-hex values next to commit/sha/ref/hash wording."""
    return bool(_HEX40.match(c.secret) and _SHA_CONTEXT.search(c.line))


def is_hash_in_context(c: Candidate) -> bool:
    """Hex digests of standard lengths on lines that talk about hashes or integrity."""
    v = c.secret
    if len(v) not in (32, 40, 56, 64, 96, 128):
        return False
    return bool(_HEX.match(v) and _SHA_CONTEXT.search(c.line))


@lru_cache(maxsize=4096)
def _path_facts(path: str) -> tuple[bool, bool, bool]:
    """(lock file, minified file, documentation example) for a path; cached per file."""
    p = PurePosixPath(path)
    name = p.name.lower()
    lock = name in _LOCK_NAMES or name.endswith(".lock")
    parts = {q.lower() for q in p.parts[:-1]}
    example = bool(parts & _EXAMPLE_DIRS) or bool(_EXAMPLE_FILE.match(name))
    return lock, ".min." in name, example


def is_lock_file(c: Candidate) -> bool:
    """Package-manager lock files are full of hashes and never hold credentials."""
    return _path_facts(c.path)[0]


def is_minified(c: Candidate) -> bool:
    """Minified code and very long lines (``*.min.js``, lines over 1,000 characters)."""
    return len(c.line) > 1000 or _path_facts(c.path)[1]


def is_env_lookup(c: Candidate) -> bool:
    """Values read from the environment or config, not hardcoded (a literal default is)."""
    before = c.line[: c.start]
    return bool(_ENV_LOOKUP.search(before)) and not _DEFAULT_ARG.search(before)


_TYPEOF = re.compile(r"\btypeof\s+[\w.$\[\]'\"]+\s*[!=]==?\s*[\"'`]$")


def is_type_comparison(c: Candidate) -> bool:
    """``typeof this.password === 'function'``: the literal is a type name, not a value.

    Counter-example: ``this.password === 'hunter22x'`` compares the value itself.
    """
    return bool(_TYPEOF.search(c.line[: c.start]))


_SPACED_FLAG = re.compile(r"\s--?[A-Za-z][\w-]*[ \t]+[\"']?$")
_REST_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`$")


def is_prose(c: Candidate) -> bool:
    """Documentation prose around a secret-like word: ``--password options`` (a flag named in
    a sentence, followed by a lowercase word) and reST roles (``Pass :meth:`peek```).

    Counter-examples: ``--password=hunter2x``, ``--password 'Xk9…'`` and ``--password s3cr3t``
    (not a plain word) are values.
    """
    before = c.line[: c.start]
    if _REST_ROLE.search(before):
        return True
    return bool(_SPACED_FLAG.search(before)) and c.secret.isalpha() and c.secret.islower()


_URL_HOST = re.compile(r"[A-Za-z][\w+.-]*://(?:[^/@\s\"'`]*@)?([^/:?#\s\"'`]+)[^\s\"'`]*$")
_DOC_HOST = re.compile(r"(?:^|\.)(?:example\.(?:com|org|net)|[\w-]+\.(?:example|test|invalid))$")


def is_example_url(c: Candidate) -> bool:
    """Part of a URL on a documentation-reserved host (RFC 2606): ``example.com/?token=…``."""
    m = _URL_HOST.search(c.line, 0, c.start)
    return bool(m and _DOC_HOST.search(m.group(1).lower()))


def is_public_key(c: Candidate) -> bool:
    """Public key material, and keys documented as publishable (Stripe ``pk_``)."""
    return c.secret.startswith(_PUBLISHABLE) or bool(_PUBLIC_KEY.search(c.line))


def is_documentation_example(c: Candidate) -> bool:
    """Example and sample directories and example files: generic matches are placeholders.

    Counter-example: ``tests/fixtures/users.py`` is test code, reported at lower confidence.
    """
    return _path_facts(c.path)[2]


def decoded_text(v: str) -> str:
    """``v`` base64-decoded when that gives printable ASCII text, else empty."""
    if len(v) < 8 or len(v) % 4 or not _B64_VALUE.match(v):
        return ""
    try:
        raw = base64.b64decode(v, validate=True)
    except (ValueError, binascii.Error):
        return ""
    return raw.decode("ascii").lower() if raw.isascii() and raw.decode().isprintable() else ""


# Well-known default and test passwords (vendor defaults of databases, brokers, appliances and
# images, and the top entries of public common-password lists). A literal in this list says
# "use the default", not "here is our secret". Compared lowercased, trailing digits removed.
DEFAULT_PASSWORDS = frozenset(
    {
        "admin",
        "administrator",
        "root",
        "toor",
        "guest",
        "user",
        "demo",
        "default",
        "pass",
        "passw0rd",
        "postgres",
        "postgresql",
        "mysql",
        "mariadb",
        "oracle",
        "sa",
        "sysadmin",
        "manager",
        "tomcat",
        "rabbitmq",
        "redis",
        "mongo",
        "mongodb",
        "elastic",
        "kibana",
        "changeit",
        "vagrant",
        "ubuntu",
        "raspberry",
        "alpine",
        "docker",
        "jenkins",
        "minio",
        "minioadmin",
        "keycloak",
        "welcome",
        "master",
        "qwerty",
        "letmein",
        "monkey",
        "dragon",
        "iloveyou",
        "trustno1",
        "abc",
        "abcd",
        "abc123",
        "pwd",
        "pw",
        "topsecret",
        "supersecret",
        "mysecret",
        "mypassword",
        "mypass",
        "hello",
        "public",
        "private",
        "none",
        "null",
        "nil",
        "true",
        "false",
        "yes",
        "no",
        "empty",
        "blank",
        "unknown",
        "unset",
        "required",
        "optional",
        "todo",
        "tbd",
        "string",
        "text",
        "value",
        "masterkey",
        "secret",
        "password",
    }
)
_TRAILING_DIGITS = re.compile(r"[0-9!.]+$")


def is_default_password(value: str) -> bool:
    """A vendor default or top common password, optionally with trailing digits (``admin123``)."""
    low = value.lower()
    return low in DEFAULT_PASSWORDS or _TRAILING_DIGITS.sub("", low) in DEFAULT_PASSWORDS


_MASKED = re.compile(r"^[*xX\u2022\u25cf#.?_-]+$|^\*{3,}|\*{3,}$")


def is_masked(value: str) -> bool:
    """``********``, ``xxxx``, ``••••``: a value shown with its characters hidden."""
    return bool(_MASKED.search(value))


_LEET = str.maketrans("013457@$!", "oieastasi")
_LEET_WORDS = re.compile(
    "password|passwort|changeme|letmein|welcome|secret|qwerty|admin|p[^a-z0-9]ss[^a-z0-9]?word"
)
_ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$"
)


def is_weak_placeholder(c: Candidate) -> bool:
    """Generic-only: placeholder words (also leetspeak, URL- or base64-encoded), sequences,
    dates."""
    return is_placeholder_value(_value(c))


def is_placeholder_value(value: str) -> bool:
    """The test behind :func:`is_weak_placeholder`, on a bare value."""
    v = unquote(value)
    if _ISO_DATE.match(v):
        return True
    if _LEET_WORDS.search(v.lower().translate(_LEET)):
        return True
    for text in (v.lower(), decoded_text(v)):
        if text and (
            _WEAK_RE.search(text) or _SHORT_RE.search(text) or any(s in text for s in _SEQUENCES)
        ):
            return True
    return False


COMMON: tuple[Filter, ...] = (
    is_template,
    is_placeholder,
    is_documented_example,
    is_embedded_in_blob,
)

GENERIC: tuple[Filter, ...] = (
    is_lock_file,
    is_documentation_example,
    is_minified,
    is_weak_placeholder,
    is_git_sha,
    is_hash_in_context,
    is_env_lookup,
    is_type_comparison,
    is_prose,
    is_example_url,
    is_public_key,
)


_PEM_MARKER_END = re.compile(r"(?:\\r)?(?:\\n)?[\"'`]")
_QUOTED_B64 = re.compile(r"^\s*\+?\s*[bBrRuU]?[\"'`][A-Za-z0-9+/=]{16,}")


def is_floor_placeholder(c: Candidate) -> bool:
    """guide floor matches: a placeholder word in the value (``ghp_your_token_here…``), or a
    URL password that is a default, masked or a placeholder (``user:pass@``, ``test:**@``),
    means an example; random tokens hold none.

    A PEM header is a marker, not a value: it is a placeholder when elided (``...`` follows
    it) or when its string literal ends right after it, optionally after an escaped newline,
    and the next line is not a quoted base64 chunk (code that builds or parses keys:
    ``b'-----BEGIN … KEY-----\\n' + b64(der)``). A block has body text after its header.
    Counter-examples: a header followed by a short base64 body in the same literal, and a
    key written as concatenated literals (``"-----BEGIN …-----\\n" +`` then ``"MIIE…\\n" +``),
    are reported.
    """
    if c.secret.startswith("-----"):
        after = c.line[c.end : c.end + 12]
        if "..." in after or "\u2026" in after:
            return True
        return bool(_PEM_MARKER_END.match(after)) and not _QUOTED_B64.match(c.next_line)
    v = unquote(_value(c))
    return is_weak_placeholder(c) or is_default_password(v) or is_masked(v)


# Floor matches were not confirmed by their provider rule: placeholders decide.
FLOOR: tuple[Filter, ...] = (is_floor_placeholder,)


def dropped_by(c: Candidate, generic: bool, floor: bool = False) -> str | None:
    """Name of the first filter that drops ``c`` (None when it survives)."""
    for f in COMMON:
        if f(c):
            return f.__name__
    if floor:
        for f in FLOOR:
            if f(c):
                return f.__name__
    if generic:
        for f in GENERIC:
            if f(c):
                return f.__name__
    return None
