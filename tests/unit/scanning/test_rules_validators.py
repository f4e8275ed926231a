"""Structural validators and generators behind the rule catalogue, plus a self-scan: the
catalogue's own source must hold nothing the catalogue reports."""

from __future__ import annotations

import random
import re
from pathlib import Path

from secretvault.scanning.rules import gen
from secretvault.scanning.rules import validators as v
from secretvault.scanning.rules.catalogue import ALL_RULES

RULES_DIR = Path(v.__file__).resolve().parent
TESTS_DIR = Path(__file__).resolve().parent


def test_crc32_tokens_round_trip() -> None:
    rng = random.Random(3)
    for prefix in ("gh" + "p_", "gh" + "s_", "np" + "m_"):
        good = gen.crc32_token(rng, prefix)
        assert v.github_crc32_ok(good)
        assert not v.github_crc32_ok(gen.bad_crc32_token(rng, prefix))
        assert not v.github_crc32_ok(good[:-1])


def test_crc32_accepts_either_base62_digit_order() -> None:
    import zlib

    body = gen.alnum(random.Random(4), 30)
    crc = zlib.crc32(body.encode())
    for alphabet in v.BASE62_ALPHABETS:
        assert v.npm_crc32_ok("np" + "m_" + body + v.base62(crc, alphabet))


def test_jwt_header_checks() -> None:
    rng = random.Random(5)
    assert v.jwt_header_ok(gen.jwt(rng))
    assert not v.jwt_header_ok(gen.jwt(rng, header={"typ": "JWT"}))
    assert not v.jwt_header_ok("eyJ" + gen.alnum(rng, 30) + ".e30.sig")
    assert not v.jwt_header_ok("a.b")


def test_pem_and_pgp_bodies() -> None:
    rng = random.Random(6)
    for kind in gen.PEM_KINDS:
        assert v.pem_body_ok(gen.pem_private_key(kind)), kind
    block = gen.pem_private_key("RSA")
    lines = block.splitlines()
    assert not v.pem_body_ok("\n".join([lines[0], "A" * 64, "A" * 64, lines[-1]]))
    assert v.pgp_block_ok(gen.armored(rng, "PGP " + "PRIVATE KEY BLOCK", 0x95))
    assert not v.pgp_block_ok(gen.armored(rng, "PGP " + "PRIVATE KEY BLOCK", 0x15))


def test_bech32_age_identity() -> None:
    ident = gen.age_identity(random.Random(7))
    assert v.bech32_ok(ident)
    assert not v.bech32_ok(ident[:-1] + ("Q" if ident[-1] != "Q" else "P"))


def test_placeholders_and_passwords() -> None:
    assert not v.not_placeholder("x" * 36)
    assert not v.not_placeholder("AKIAIOSFODNN7" + "EXAMPLE")
    assert v.not_placeholder(gen.alnum(random.Random(8), 36))
    for bad in ("password", "${DB_PASS}", "<password>", "{{ pw }}", "***", "postgres"):
        assert not v.password_ok(bad), bad
    assert v.password_ok("Zq8vN2kLp0wX")
    assert not v.url_password_ok("xyz")


def test_docker_auth_and_discord() -> None:
    import base64

    assert v.docker_auth_ok(base64.b64encode(b"ci-bot:Zq8vN2kLp0wX").decode())
    assert not v.docker_auth_ok(base64.b64encode(b"no-colon").decode())
    snowflake = base64.b64encode(b"123456789012345678").decode().rstrip("=")
    assert v.discord_bot_token_ok(snowflake + ".abcdef." + "x" * 27)
    assert not v.discord_bot_token_ok(base64.b64encode(b"user-abc").decode() + ".abcdef.x")


def test_catalogue_sources_scan_clean() -> None:
    """No rule reports anything in the catalogue's own source or these tests."""
    compiled = [(r, re.compile(r.regex, re.MULTILINE)) for r in ALL_RULES]
    files = [*RULES_DIR.rglob("*.py"), *TESTS_DIR.glob("test_rules*.py")]
    hits = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        low = text.lower()
        for rule, pattern in compiled:
            if not any(k in low for k in rule.keywords):
                continue  # the engine's keyword prefilter would not try this rule either
            for m in pattern.finditer(text):
                secret = m.group("secret") if "secret" in pattern.groupindex else m.group(0)
                if rule.validate is None or rule.validate(secret):
                    hits.append(f"{path.name}: {rule.id}")
    assert not hits
