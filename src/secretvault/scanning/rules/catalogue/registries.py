"""Package and artifact registries: npm, PyPI, RubyGems, NuGet, Docker Hub, crates.io,
JFrog Artifactory, Clojars, Gradle Plugin Portal, Cloudsmith, Quay, Docker ``config.json``.
"""

from __future__ import annotations

import random

from secretvault.scanning.rules.base import Rule
from secretvault.scanning.rules.catalogue._dsl import SEV, Raw, ctx, rule, tok
from secretvault.scanning.rules.gen import (
    alnum,
    b64_bytes,
    bad_crc32_token,
    crc32_token,
    rand_bytes,
    uuid4,
)
from secretvault.scanning.rules.validators import (
    all_of,
    base64_decodes,
    digit_and_letter,
    docker_auth_ok,
    not_placeholder,
    npm_crc32_ok,
)

# PyPI API tokens are macaroons: "pypi-" + base64url("\x02\x01\x08" "pypi.org" ...).
_PYPI = "pypi-AgEIcHlwaS5vcmc"


def _macaroon_tail(rng: random.Random) -> str:
    return (
        b64_bytes(rand_bytes(rng, rng.randint(60, 150)))
        .rstrip("=")
        .replace("+", "-")
        .replace("/", "_")
    )


def _pypi_ok(token: str) -> bool:
    body = token[5:]
    return base64_decodes(body[: len(body) - len(body) % 4], 40)


def _docker_auth(rng: random.Random, user: str = "ci-bot", password: str | None = None) -> str:
    pw = password if password is not None else alnum(rng, 20)
    return '      "auth": "' + b64_bytes(f"{user}:{pw}".encode()) + '"'


_NPMRC = (
    r"(?::_authToken=|npmAuthToken:\s*[\"']?)"
    r"(?P<secret>[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12})\b"
)

RULES: list[Rule] = [
    tok(
        "npm-access-token",
        "npm access token (granular or classic)",
        "npm_",
        ("a62", 36),
        check=npm_crc32_ok,
        make=lambda rng: crc32_token(rng, "npm_"),
        neg=lambda rng: [bad_crc32_token(rng, "npm_")],
    ),
    rule(
        "npmrc-auth-token",
        "Legacy UUID npm token in .npmrc / .yarnrc.yml",
        _NPMRC,
        ("_authtoken", "npmauthtoken"),
        lambda rng: rng.choice(
            ["//registry.npmjs.org/:_authToken={}", 'npmAuthToken: "{}"']
        ).format(uuid4(rng)),
        check=not_placeholder,
        negatives=lambda rng: [
            "//registry.npmjs.org/:_authToken=${NPM_TOKEN}",
            "//registry.npmjs.org/:_authToken=" + uuid4(rng)[:35],
        ],
    ),
    rule(
        "npmrc-basic-auth",
        "Base64 user:password in .npmrc _auth",
        r"\b_auth\s*=\s*[\"']?"
        r"(?P<secret>[A-Za-z0-9+/]{8,200}={0,2})(?:[^A-Za-z0-9+/=]|$)",
        ("_auth",),
        lambda rng: "_auth=" + b64_bytes(f"deploy:{alnum(rng, 18)}".encode()),
        check=docker_auth_ok,
        negatives=lambda rng: ["_auth=" + b64_bytes(b"no-colon-here-at-all"), "_auth=${NPM_AUTH}"],
    ),
    tok(
        "pypi-upload-token",
        "PyPI API token",
        _PYPI,
        Raw("[A-Za-z0-9_-]{50,}", _macaroon_tail, tail="-"),
        kw=("pypi-ageichlwas5vcmc",),
        check=_pypi_ok,
        sev=SEV.CRITICAL,
    ),
    tok("rubygems-api-token", "RubyGems API key", "rubygems_", ("hex", 48)),
    tok("nuget-api-key", "NuGet.org API key", "oy2", ("l36", 43), conf=0.8),
    tok("dockerhub-pat", "Docker Hub personal access token", "dckr_pat_", ("b64u", 27)),
    tok("dockerhub-oat", "Docker Hub organization access token", "dckr_oat_", ("b64u", 27, 40)),
    tok(
        "crates-io-api-token",
        "crates.io API token",
        "cio",
        ("a62", 32),
        conf=0.8,
        check=digit_and_letter,
    ),
    tok("artifactory-api-key", "JFrog Artifactory API key", "AKCp", ("a62", 69)),
    # "cmVmdGtu" is base64("reftkn"), the fixed head of JFrog reference tokens.
    tok(
        "artifactory-reference-token", "JFrog Artifactory reference token", "cmVmdGtu", ("a62", 56)
    ),
    tok("clojars-api-token", "Clojars deploy token", "CLOJARS_", ("l36", 60)),
    ctx(
        "gradle-plugin-portal-secret",
        "Gradle Plugin Portal publish key/secret",
        r"gradle\.publish\.(?:secret|key)",
        ("gradle.publish.secret", "gradle.publish.key"),
        ("a62", 32),
        kw=("gradle.publish",),
    ),
    ctx(
        "cloudsmith-api-key",
        "Cloudsmith API key",
        r"cloudsmith[\w. -]*(?:api[_. -]?)?key",
        ("cloudsmith_api_key", "CLOUDSMITH_API_KEY"),
        ("hex", 40),
        kw=("cloudsmith",),
    ),
    ctx(
        "quay-robot-token",
        "Quay.io robot account token",
        r"quay[\w. -]*(?:token|password)",
        ("quay_robot_token", "QUAY_PASSWORD"),
        ("u36", 64),
        kw=("quay",),
    ),
    rule(
        "docker-config-auth",
        "Registry credentials in ~/.docker/config.json (base64 user:pass)",
        r"\"auth\"\s*:\s*\"(?P<secret>[A-Za-z0-9+/]{8,}={0,2})\"",
        ('"auth"',),
        _docker_auth,
        check=all_of(docker_auth_ok),
        negatives=lambda rng: [
            _docker_auth(rng, password="password"),
            '"auth": "' + b64_bytes(b"just-a-username") + '"',
        ],
    ),
]
