"""Structural validators rules attach as ``Rule.validate``.

Each takes the matched secret (the ``secret`` group, or the whole match) and returns False when
its structure proves it is not a real credential: a wrong checksum, a JWT header that is not JSON,
base64 that does not decode, a placeholder such as ``xxxxxxxx`` or ``...EXAMPLE``. They must be
cheap: the engine calls one per regex hit.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Callable
from urllib.parse import unquote

Validator = Callable[[str], bool]

BASE62_ALPHABETS = (
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
)

# Lower-cased fragments that only ever appear in documentation, templates and test fixtures.
_PLACEHOLDER_WORDS = (
    "xxxxx",
    "example",
    "placeholder",
    "redacted",
    "dummy",
    "changeme",
    "sample",
    "insert",
    "your_",
    "your-",
    "yourkey",
    "yourtoken",
    "0123456",
    "1234567",
    "abcdefgh",
)
_RUN = re.compile(r"(.)\1{5}")


def not_placeholder(value: str) -> bool:
    """True unless ``value`` looks like a placeholder (long runs, doc words, too few symbols)."""
    low = value.lower()
    if any(word in low for word in _PLACEHOLDER_WORDS):
        return False
    if _RUN.search(value):
        return False
    return not (len(value) >= 8 and len(set(value)) < min(8, len(value) // 4))


def digit_and_letter(value: str) -> bool:
    """Random tokens of 20+ base62 chars almost always mix both; identifiers rarely do."""
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def all_of(*checks: Validator | None) -> Validator:
    """Combine validators; ``None`` entries are skipped."""
    real = tuple(c for c in checks if c is not None)

    def _check(value: str) -> bool:
        return all(c(value) for c in real)

    return _check


def strip_prefix(prefix: str, check: Validator) -> Validator:
    """Apply ``check`` to what follows a literal ``prefix`` (the prefix's letters don't count)."""

    def _check(value: str) -> bool:
        return check(value[len(prefix) :] if value.startswith(prefix) else value)

    return _check


def base62(number: int, alphabet: str = BASE62_ALPHABETS[0], width: int = 6) -> str:
    """Fixed-width base62 rendering used by GitHub-style checksummed tokens."""
    out = ""
    while number:
        number, rem = divmod(number, 62)
        out = alphabet[rem] + out
    return out.rjust(width, alphabet[0])


def crc32_suffix_ok(token: str, prefix_len: int, checksum_len: int = 6) -> bool:
    """GitHub's token format (also npm's): the last 6 chars are base62(CRC32(random part)).

    Public write-ups disagree on the base62 digit order and on whether the prefix is hashed, so
    all four readings are accepted; a random string still passes with probability ~4 / 2**32.
    """
    body, checksum = token[:-checksum_len], token[-checksum_len:]
    for data in (body[prefix_len:], body):
        crc = zlib.crc32(data.encode("ascii", "replace"))
        if any(base62(crc, alphabet) == checksum for alphabet in BASE62_ALPHABETS):
            return True
    return False


def github_crc32_ok(token: str) -> bool:
    """``ghp_``/``gho_``/``ghu_``/``ghs_``/``ghr_`` + 30 random + 6 checksum chars."""
    return len(token) == 40 and crc32_suffix_ok(token, 4)


def npm_crc32_ok(token: str) -> bool:
    """``npm_`` + 30 random + 6 checksum chars (same scheme as GitHub)."""
    return len(token) == 40 and crc32_suffix_ok(token, 4)


def _b64_any(data: str) -> bytes | None:
    """Decode standard or url-safe base64, padding optional; None if it is not base64."""
    data = data.strip()
    alt = data.replace("-", "+").replace("_", "/")
    alt += "=" * (-len(alt) % 4)
    try:
        return base64.b64decode(alt, validate=True)
    except (binascii.Error, ValueError):
        return None


def base64_decodes(value: str, min_bytes: int = 1) -> bool:
    """True if ``value`` is base64 (either alphabet) of at least ``min_bytes`` bytes."""
    raw = _b64_any(value)
    return raw is not None and len(raw) >= min_bytes


def base64_len(n_bytes: int) -> Validator:
    """Validator: base64 decoding to exactly ``n_bytes`` bytes (e.g. Azure's 64-byte keys)."""

    def _check(value: str) -> bool:
        raw = _b64_any(value)
        return raw is not None and len(raw) == n_bytes

    return _check


def _json_object(segment: str) -> dict[str, object] | None:
    raw = _b64_any(segment)
    if raw is None:
        return None
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def jwt_header_ok(token: str) -> bool:
    """RFC 7519: the header base64url-decodes to a JSON object with ``alg``; payload decodes."""
    parts = token.split(".")
    if len(parts) != 3:
        return False
    header = _json_object(parts[0])
    if header is None or "alg" not in header:
        return False
    return _b64_any(parts[1]) is not None


_PEM_LINE = re.compile(r"^-----(BEGIN|END) [A-Z0-9 ]+-----$")


def pem_body_ok(block: str) -> bool:
    """PEM (RFC 7468): body lines are base64 of DER (``0x30``) or an ``openssh-key-v1`` blob.

    RFC 1421 headers (``Proc-Type``/``DEK-Info``) mark an encrypted body, which is then only
    required to decode.
    """
    block = block.replace("\\r", "").replace("\\n", "\n")
    encrypted = "Proc-Type:" in block
    lines = [ln.strip() for ln in block.strip().splitlines()]
    body = "".join(ln for ln in lines if ln and ":" not in ln and not _PEM_LINE.match(ln))
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(raw) < 48:
        return False
    if encrypted or raw[0] == 0x30:
        return True
    return raw.startswith(b"openssh-key-v1\x00")


def pgp_block_ok(block: str) -> bool:
    """RFC 4880 armor: body decodes and starts with a packet tag byte (high bit set)."""
    lines = [ln.strip() for ln in block.strip().splitlines()]
    body = "".join(
        ln
        for ln in lines
        if ln and ":" not in ln and not ln.startswith("-----") and not ln.startswith("=")
    )
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) >= 48 and bool(raw[0] & 0x80)


BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def bech32_polymod(values: list[int]) -> int:
    """BIP-173 checksum polynomial."""
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def bech32_hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def bech32_ok(value: str) -> bool:
    """BIP-173 bech32 string (used by age identities ``AGE-SECRET-KEY-1...``)."""
    low = value.lower()
    hrp, sep, data = low.rpartition("1")
    if not sep or not hrp or len(data) < 6 or any(c not in BECH32_CHARSET for c in data):
        return False
    values = [BECH32_CHARSET.index(c) for c in data]
    return bech32_polymod(bech32_hrp_expand(hrp) + values) == 1


def discord_bot_token_ok(token: str) -> bool:
    """Discord bot tokens start with base64 of the numeric bot user id (a snowflake)."""
    raw = _b64_any(token.split(".", 1)[0])
    return raw is not None and raw.isdigit() and 17 <= len(raw) <= 20


def docker_auth_ok(value: str) -> bool:
    """``~/.docker/config.json`` ``auth`` is base64 of ``user:password``."""
    raw = _b64_any(value)
    if raw is None:
        return False
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    user, sep, password = text.partition(":")
    return bool(sep and user and text.isprintable() and password_ok(password))


_PASSWORD_PLACEHOLDERS = frozenset(
    {
        "password",
        "passwd",
        "pass",
        "pwd",
        "secret",
        "changeme",
        "change_me",
        "example",
        "user",
        "username",
        "dbpass",
        "mypassword",
        "yourpassword",
        "your_password",
        "xxx",
        "pa55word",
        "p4ssw0rd",
        "none",
        "null",
        "test",
        "admin",
        # Well-known defaults of local/dev containers and tutorials.
        "postgres",
        "mysql",
        "root",
        "guest",
        "rabbitmq",
        "mongo",
        "mongodb",
        "redis",
        "default",
        "letmein",
        "qwerty",
        "password1",
        "password123",
        "testpass",
        "testing",
        "foobar",
        "secret123",
    }
)


def password_ok(password: str) -> bool:
    """Reject templated or documentation passwords in URLs / connection strings."""
    low = password.lower()
    if len(password) < 3 or low in _PASSWORD_PLACEHOLDERS:
        return False
    if password[0] in "$%{<[*" or password.startswith("__") or "{{" in password:
        return False
    if len(set(password)) == 1:
        return False
    return not any(word in low for word in ("xxxxx", "example", "placeholder", "redacted"))


def strong_password_ok(password: str) -> bool:
    """For free-form passwords next to a keyword: 8+ chars mixing 3 of lower/upper/digit/symbol.

    A bare word (``Snowflake``) or constant name (``SNOWFLAKE_PASSWORD``) is not a password.
    """
    classes = (
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    )
    return len(password) >= 8 and sum(classes) >= 3 and password_ok(password)


def url_password_ok(password: str) -> bool:
    """:func:`password_ok` for a URL's user-info, judged by what the password is: not a
    placeholder or a default (``user:pass@``, ``p%23ssword``, ``myuser:mypass@``), at least 4
    characters (``https://abc:xyz@example.com`` is a doc URL). Counter-example: ``scott:tiger``
    is a real (demo) credential and is reported."""
    from secretvault.scanning.filters import is_default_password, is_placeholder_value

    plain = unquote(password)
    low = plain.lower()
    if any(word in low for word in ("secret", "password", "passwd", "%20")):
        return False
    if is_placeholder_value(plain) or is_default_password(plain):
        return False
    return len(password) >= 4 and not password.isdigit() and password_ok(password)
