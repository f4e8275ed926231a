"""Provider-neutral credential shapes: JSON Web Tokens and URLs with inline basic-auth
credentials (``https://user:password@host``) for non-database schemes.
"""

from __future__ import annotations

import json
import random

from secretvault.scanning.rules.base import Rule
from secretvault.scanning.rules.catalogue._dsl import SEV, ST, rule
from secretvault.scanning.rules.gen import alnum, b64url_bytes, chars, jwt
from secretvault.scanning.rules.validators import jwt_header_ok, url_password_ok

_PW_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!*~._-"


def _jwt_example(rng: random.Random) -> str:
    template = rng.choice(["Authorization: Bearer {}", 'id_token = "{}"', "?access_token={}&x=1"])
    return template.format(jwt(rng))


def _jwt_negatives(rng: random.Random) -> list[str]:
    no_alg = b64url_bytes(json.dumps({"typ": "JWT"}).encode())
    not_json = "eyJ" + alnum(rng, 30)
    tail = jwt(rng).split(".", 1)[1]
    return [f"{no_alg}.{tail}", f"{not_json}.{tail}", "eyJ" + "hbGciOi.x.y"]


def _basic_auth_example(rng: random.Random) -> str:
    scheme = rng.choice(["https", "http", "ftp", "smtp", "ldaps", "git"])
    pw = alnum(rng, 4) + chars(rng, _PW_CHARS, rng.randint(8, 20))
    host = rng.choice(["repo.internal.example.net", "mail.corp.io", "10.0.3.7"])
    return f'remote = "{scheme}://deploy:{pw}@{host}/path"'


def _basic_auth_negatives(rng: random.Random) -> list[str]:
    return [
        "https://user:password@example.com/",
        "https://user:${TOKEN}@example.com/",
        "https://example.com:8443/path",
        "https://deploy@example.com/repo.git",
        "https://user:<password>@host/",
        "https://abc:xyz@example.com",
        "postgres://app:" + alnum(rng, 16) + "@db/app",  # reported by database-url instead
    ]


RULES: list[Rule] = [
    rule(
        "jwt",
        "JSON Web Token (header decodes to JSON with alg)",
        r"\b(?P<secret>eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})"
        r"(?:[^A-Za-z0-9_.-]|$)",
        ("eyj",),
        _jwt_example,
        st=ST.JWT_TOKEN,
        sev=SEV.MEDIUM,
        conf=0.5,
        check=jwt_header_ok,
        negatives=_jwt_negatives,
    ),
    rule(
        "basic-auth-url",
        "URL with inline user:password credentials",
        r"\b(?:https?|ftps?|sftp|ssh|git|smtps?|imaps?|pop3s?|ldaps?|wss?|svn)://"
        r"[A-Za-z0-9._%~+-]{1,64}:(?P<secret>[^\s:@/'\"\x60<>{}$\\]{3,128})@[A-Za-z0-9._-]{1,253}",
        ("://",),
        _basic_auth_example,
        st=ST.API_KEY,
        sev=SEV.HIGH,
        conf=0.7,
        check=url_password_ok,
        negatives=_basic_auth_negatives,
    ),
]
