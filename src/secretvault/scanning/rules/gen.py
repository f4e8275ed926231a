"""Random builders for rule examples (test-time only).

Everything secret-looking is assembled here at run time from a seeded ``random.Random`` (and
``cryptography`` for real key material), so the repository itself holds no token literal.
"""

from __future__ import annotations

import base64
import functools
import json
import random
import string
import zlib

from secretvault.scanning.rules.validators import (
    BASE62_ALPHABETS,
    BECH32_CHARSET,
    base62,
    bech32_hrp_expand,
    bech32_polymod,
)

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B64URL = ALNUM + "_-"
B64 = ALNUM + "+/"


def chars(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def alnum(rng: random.Random, n: int) -> str:
    return chars(rng, ALNUM, n)


def hexs(rng: random.Random, n: int, upper: bool = False) -> str:
    out = chars(rng, HEX, n)
    return out.upper() if upper else out


def b64url_bytes(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def b64_bytes(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def rand_bytes(rng: random.Random, n: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(n))


def uuid4(rng: random.Random) -> str:
    h = hexs(rng, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def crc32_token(rng: random.Random, prefix: str, n_random: int = 30) -> str:
    """``prefix`` + base62 random + base62(CRC32(random)) — the GitHub / npm token layout."""
    body = alnum(rng, n_random)
    return prefix + body + base62(zlib.crc32(body.encode()), BASE62_ALPHABETS[0])


def bad_crc32_token(rng: random.Random, prefix: str) -> str:
    """Same layout with the checksum digits corrupted."""
    good = crc32_token(rng, prefix)
    last = good[-1]
    return good[:-1] + ("A" if last != "A" else "B")


def jwt(rng: random.Random, header: dict[str, object] | None = None) -> str:
    head = header if header is not None else {"alg": rng.choice(["HS256", "RS256"]), "typ": "JWT"}
    payload = {
        "sub": str(rng.randrange(10**6, 10**9)),
        "iat": rng.randrange(1_600_000_000, 1_800_000_000),
    }
    return ".".join(
        (
            b64url_bytes(json.dumps(head, separators=(",", ":")).encode()),
            b64url_bytes(json.dumps(payload, separators=(",", ":")).encode()),
            b64url_bytes(rand_bytes(rng, 32)),
        )
    )


def bech32_encode(hrp: str, data5: list[int]) -> str:
    values = bech32_hrp_expand(hrp) + data5
    polymod = bech32_polymod([*values, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH32_CHARSET[d] for d in data5 + checksum)


def to5bit(raw: bytes) -> list[int]:
    acc, bits, out = 0, 0, []
    for byte in raw:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append((acc >> bits) & 31)
    if bits:
        out.append((acc << (5 - bits)) & 31)
    return out


def age_identity(rng: random.Random) -> str:
    return bech32_encode("age-secret-key-", to5bit(rand_bytes(rng, 32))).upper()


@functools.lru_cache(maxsize=1)
def _dsa_params() -> object:
    from cryptography.hazmat.primitives.asymmetric import dsa

    return dsa.generate_parameters(1024)


PEM_KINDS = ("RSA", "EC", "DSA", "OPENSSH", "PKCS8", "ENCRYPTED", "RSA-PROCTYPE")


def pem_private_key(kind: str) -> str:
    """A real private key of flavour ``kind`` (see ``PEM_KINDS``), made with cryptography."""
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    fmt = ser.PrivateFormat
    enc: ser.KeySerializationEncryption = ser.NoEncryption()
    key: object
    if kind in ("RSA", "RSA-PROCTYPE"):
        key, form = rsa.generate_private_key(65537, 1024), fmt.TraditionalOpenSSL
        if kind == "RSA-PROCTYPE":
            enc = ser.BestAvailableEncryption(b"pw-for-tests")
    elif kind == "EC":
        key, form = ec.generate_private_key(ec.SECP256R1()), fmt.TraditionalOpenSSL
    elif kind == "DSA":
        key, form = _dsa_params().generate_private_key(), fmt.TraditionalOpenSSL  # type: ignore[attr-defined]
    elif kind == "OPENSSH":
        key, form = ed25519.Ed25519PrivateKey.generate(), fmt.OpenSSH
    else:
        key, form = ed25519.Ed25519PrivateKey.generate(), fmt.PKCS8
        if kind == "ENCRYPTED":
            enc = ser.BestAvailableEncryption(b"pw-for-tests")
    pem: bytes = key.private_bytes(ser.Encoding.PEM, form, enc)  # type: ignore[attr-defined]
    return pem.decode()


def armored(rng: random.Random, label: str, first_byte: int, n: int = 180) -> str:
    """An ASCII-armored block (PGP style) with a random body whose first byte is ``first_byte``."""
    raw = bytes([first_byte]) + rand_bytes(rng, n)
    body = b64_bytes(raw)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    crc = b64_bytes(rand_bytes(rng, 3))
    return "\n".join([f"-----BEGIN {label}-----", "", *lines, "=" + crc, f"-----END {label}-----"])
