"""Run-time generators for the labelled secrets and hard decoys of the scanner benchmark.

Every value is built at run time from random pieces, prefixes split in two and real
checksums, so that this repository holds no secret-looking literal: the project's own
scanner walks this tree and must come out clean.

Each generator takes a ``random.Random`` and returns a :class:`Item`: one or more lines of
text in a given syntax (see :mod:`corpus` for the renderers), the kind, and whether it is
a real secret (``True``) or a decoy that must not be reported (``False``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

ALNUM = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
B64 = string.ascii_letters + string.digits + "+/"
B64URL = string.ascii_letters + string.digits + "-_"

# Prefixes are assembled from two halves so no complete token prefix sits in the source.
P_GHP = "gh" + "p_"
P_GHO = "gh" + "o_"
P_GHS = "gh" + "s_"
P_GH_FINE = "github" + "_pat_"
P_GLPAT = "gl" + "pat-"
P_XOXB = "xo" + "xb-"
P_XOXP = "xo" + "xp-"
P_SK_LIVE = "sk" + "_live_"
P_RK_LIVE = "rk" + "_live_"
P_SK_TEST = "sk" + "_test_"
P_PK_LIVE = "pk" + "_live_"
P_OPENAI_MARK = "T3Blbk" + "FJ"
P_OPENAI_PROJ = "sk-" + "proj-"
P_ANTHROPIC = "sk-" + "ant-api03-"
P_GOOGLE = "AI" + "za"
P_AKIA = "AK" + "IA"
P_SG = "S" + "G."
P_NPM = "np" + "m_"
P_PYPI = "py" + "pi-" + "AgEIcHlwaS5vcmc"
P_DOCKER = "dc" + "kr_pat_"
P_HF = "h" + "f_"
P_SHPAT = "shp" + "at_"
P_DO = "do" + "p_v1_"
P_MAILGUN = "ke" + "y-"
P_TWILIO = "S" + "K"
SLACK_HOOK = "https://hooks." + "slack.com/services/"
PEM_DASH = "-" * 5


def rand(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    """``n`` characters drawn from ``alphabet``."""
    return "".join(rng.choice(alphabet) for _ in range(n))


def b62(num: int, width: int) -> str:
    """Base62 encoding of ``num`` left-padded with zeros to ``width`` (GitHub/npm checksum)."""
    out = ""
    while num:
        num, r = divmod(num, 62)
        out = B62[r] + out
    return out.rjust(width, "0")


def crc_token(rng: random.Random, prefix: str, body_len: int = 30, *, bad: bool = False) -> str:
    """A GitHub/npm style token: prefix + random body + base62(CRC32(body)) over 6 chars."""
    body = rand(rng, body_len)
    crc = binascii.crc32(body.encode()) & 0xFFFFFFFF
    check = b62(crc, 6)
    if bad:
        wrong = check
        while wrong == check:
            wrong = rand(rng, 6, B62)
        check = wrong
    return prefix + body + check


def b64url(data: bytes) -> str:
    """Unpadded base64url, as in JWTs."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def wrap(text: str, width: int = 64) -> list[str]:
    """Split ``text`` into lines of ``width`` characters."""
    return [text[i : i + width] for i in range(0, len(text), width)]


# --------------------------------------------------------------------------- key material


def _crypto() -> tuple[Any, Any, Any, Any]:
    """The ``cryptography`` modules, imported lazily so start-up stays cheap."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    return serialization, rsa, ec, ed25519


def pem_rsa_pkcs1(rng: random.Random) -> list[str]:
    """A fresh RSA key in traditional OpenSSL (PKCS#1) PEM."""
    serialization, rsa, _, _ = _crypto()
    key = rsa.generate_private_key(public_exponent=65537, key_size=rng.choice([1024, 2048]))
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return pem.decode().strip().splitlines()


def pem_ec(rng: random.Random) -> list[str]:
    """A fresh EC P-256 key in traditional SEC1 PEM."""
    serialization, _, ec, _ = _crypto()
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return pem.decode().strip().splitlines()


def pem_pkcs8(rng: random.Random) -> list[str]:
    """A fresh EC or Ed25519 key in PKCS#8 PEM (unencrypted)."""
    serialization, _, ec, ed25519 = _crypto()
    key = (
        ec.generate_private_key(ec.SECP384R1())
        if rng.random() < 0.5
        else (ed25519.Ed25519PrivateKey.generate())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode().strip().splitlines()


def pem_openssh(rng: random.Random) -> list[str]:
    """A fresh Ed25519 key in OpenSSH private-key format."""
    serialization, _, _, ed25519 = _crypto()
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    return pem.decode().strip().splitlines()


def ssh_public_key() -> str:
    """A fresh Ed25519 public key in ``authorized_keys`` form (a decoy)."""
    serialization, _, _, ed25519 = _crypto()
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def pem_public_key() -> list[str]:
    """A fresh EC public key PEM block (a decoy)."""
    serialization, _, ec, _ = _crypto()
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode().strip().splitlines()


def pem_certificate(rng: random.Random) -> list[str]:
    """A fresh self-signed certificate PEM block (a decoy: certificates are public)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    serialization, _, ec, _ = _crypto()
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"svc{rng.randint(1, 999)}.local")])
    now = datetime(2025, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(rng.getrandbits(64))
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode().strip().splitlines()


def putty_key(rng: random.Random) -> list[str]:
    """A PuTTY ``.ppk`` v3 unencrypted key (random key bytes, well-formed layout)."""
    pub = base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00 " + rng.randbytes(32))
    priv = base64.b64encode(b"\x00\x00\x00 " + rng.randbytes(32)).decode()
    lines = [
        "PuTTY-User-Key-File-3: ssh-ed25519",
        "Encryption: none",
        f"Comment: eddsa-key-2025{rng.randint(1000, 9999)}",
        "Public-Lines: 2",
        *wrap(pub.decode(), 64),
        "Private-Lines: 1",
        priv,
        "Private-MAC: " + rand(rng, 64, HEX),
    ]
    return lines


def pgp_private(rng: random.Random) -> list[str]:
    """An ASCII-armoured PGP private key block (random packet bytes, real CRC24 line)."""
    body = b"\x95\x03\xc6\x04" + rng.randbytes(rng.randint(380, 700))
    crc = 0xB704CE
    for byte in body:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    crc &= 0xFFFFFF
    kind = "PGP PRIVATE " + "KEY BLOCK"
    return [
        f"{PEM_DASH}BEGIN {kind}{PEM_DASH}",
        "",
        *wrap(base64.b64encode(body).decode(), 64),
        "=" + base64.b64encode(crc.to_bytes(3, "big")).decode(),
        f"{PEM_DASH}END {kind}{PEM_DASH}",
    ]


def gcp_service_account(rng: random.Random) -> list[str]:
    """A GCP service-account JSON key file, pretty-printed like the console download."""
    project = f"{rng.choice(['acme', 'orbit', 'nimbus', 'delta'])}-{rng.randint(100000, 999999)}"
    pkcs8 = pem_pkcs8(rng)
    email = f"deployer@{project}.iam.gserviceaccount.com"
    doc = {
        "type": "service_" + "account",
        "project_id": project,
        "private_key_id": rand(rng, 40, HEX),
        "private_key": "\n".join(pkcs8) + "\n",
        "client_email": email,
        "client_id": str(rng.randint(10**20, 10**21 - 1)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
        + email.replace("@", "%40"),
    }
    return json.dumps(doc, indent=2).splitlines()


def jwt(rng: random.Random) -> str:
    """A JWT with a real JSON header and claims and a random HS256 signature."""
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    iat = 1_700_000_000 + rng.randint(0, 50_000_000)
    claims = {
        "sub": str(rng.randint(1000, 99999)),
        "name": rng.choice(["svc", "ci", "admin"]),
        "iat": iat,
        "exp": iat + 3600 * 24 * 365,
    }
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{payload}.{b64url(rng.randbytes(32))}"


def jwt_bad_header(rng: random.Random) -> str:
    """Three dot-separated base64url segments that start like a JWT but whose header is not JSON."""
    while True:
        head = "eyJ" + rand(rng, 33, B64URL)
        try:
            json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
        except ValueError:
            break
    return f"{head}.eyJ{rand(rng, 60, B64URL)}.{rand(rng, 43, B64URL)}"


def password(rng: random.Random) -> str:
    """A random high-entropy password as a human or generator would set it."""
    n = rng.randint(14, 28)
    while True:
        pw = rand(rng, n, ALNUM + "!#%^*-_+=.")
        if (
            any(c.isdigit() for c in pw)
            and any(c.isupper() for c in pw)
            and any(c.islower() for c in pw)
        ):
            return pw


def url_password(rng: random.Random) -> str:
    """A random password that needs no URL escaping."""
    return rand(rng, rng.randint(14, 24), ALNUM)


# --------------------------------------------------------------------------- items


@dataclass
class Spec:
    """What to inject: a kind, a config-style name, a value (one line) or a block (many)."""

    kind: str
    is_secret: bool
    name: str
    value: str = ""
    block: list[str] = field(default_factory=list)
    raw: bool = False  # value is a code expression: render unquoted, only in code syntaxes
    token: bool = False  # self-identifying token: may go in comments, curl headers, prose
    file_only: bool = False  # a whole file (service-account JSON, .ppk): never embedded


Gen = Callable[[random.Random], list[Spec]]


def _one(kind: str, name: str, value: str, *, token: bool = True) -> list[Spec]:
    return [Spec(kind, True, name, value, token=token)]


def _pick(rng: random.Random, names: list[str]) -> str:
    return rng.choice(names)


SECRETS: dict[str, Gen] = {
    "aws_access_key_pair": lambda r: [
        Spec(
            "aws_access_key_id",
            True,
            "aws_access_key_id",
            P_AKIA + rand(r, 16, string.ascii_uppercase + "234567"),
            token=True,
        ),
        Spec("aws_secret_access_key", True, "aws_secret_access_key", rand(r, 40, B64)),
    ],
    "github_pat_classic": lambda r: _one(
        "github_pat_classic", _pick(r, ["github_token", "gh_token", "token"]), crc_token(r, P_GHP)
    ),
    "github_pat_fine_grained": lambda r: _one(
        "github_pat_fine_grained", "github_token", P_GH_FINE + rand(r, 22) + "_" + rand(r, 59)
    ),
    "github_oauth": lambda r: _one("github_oauth", "oauth_token", crc_token(r, P_GHO)),
    "github_app": lambda r: _one("github_app", "installation_token", crc_token(r, P_GHS)),
    "gitlab_pat": lambda r: _one("gitlab_pat", "gitlab_token", P_GLPAT + rand(r, 20, ALNUM + "_-")),
    "slack_bot": lambda r: _one(
        "slack_bot",
        "slack_bot_token",
        f"{P_XOXB}{r.randint(10**10, 10**12)}-{r.randint(10**11, 10**13)}-{rand(r, 24)}",
    ),
    "slack_user": lambda r: _one(
        "slack_user",
        "slack_token",
        f"{P_XOXP}{r.randint(10**10, 10**12)}-{r.randint(10**10, 10**12)}-"
        f"{r.randint(10**11, 10**13)}-{rand(r, 32, HEX)}",
    ),
    "slack_webhook": lambda r: _one(
        "slack_webhook",
        "slack_webhook_url",
        f"{SLACK_HOOK}T{rand(r, 8, UPPER_DIGITS)}/B{rand(r, 10, UPPER_DIGITS)}/{rand(r, 24)}",
    ),
    "stripe_live_secret": lambda r: _one(
        "stripe_live_secret", "stripe_secret_key", P_SK_LIVE + rand(r, r.choice([24, 99]))
    ),
    "stripe_restricted": lambda r: _one(
        "stripe_restricted", "stripe_api_key", P_RK_LIVE + rand(r, r.choice([24, 99]))
    ),
    "openai_legacy": lambda r: _one(
        "openai_legacy", "openai_api_key", "sk-" + rand(r, 20) + P_OPENAI_MARK + rand(r, 20)
    ),
    "openai_project": lambda r: _one(
        "openai_project",
        "openai_api_key",
        P_OPENAI_PROJ + rand(r, 74, ALNUM + "-_") + P_OPENAI_MARK + rand(r, 74, ALNUM + "-_"),
    ),
    "anthropic": lambda r: _one(
        "anthropic", "anthropic_api_key", P_ANTHROPIC + rand(r, 93, ALNUM + "-_") + "AA"
    ),
    "google_api_key": lambda r: _one(
        "google_api_key", "google_api_key", P_GOOGLE + rand(r, 35, ALNUM + "-_")
    ),
    "azure_storage_conn": lambda r: _one(
        "azure_storage_conn",
        "azure_storage_connection_string",
        "DefaultEndpointsProtocol=https;AccountName="
        + rand(r, 12, string.ascii_lowercase)
        + ";Account"
        + "Key="
        + base64.b64encode(r.randbytes(64)).decode()
        + ";EndpointSuffix=core.windows.net",
    ),
    "jwt": lambda r: _one("jwt", _pick(r, ["access_token", "auth_token", "jwt"]), jwt(r)),
    "postgres_url": lambda r: _one(
        "postgres_url",
        "database_url",
        f"postgresql://app_{rand(r, 4, string.ascii_lowercase)}:{url_password(r)}"
        f"@db-{r.randint(1, 9)}.internal.acme.io:5432/orders",
    ),
    "mysql_url": lambda r: _one(
        "mysql_url", "database_url", f"mysql://root:{url_password(r)}@mysql.prod.acme.io:3306/shop"
    ),
    "mongodb_url": lambda r: _one(
        "mongodb_url",
        "mongo_uri",
        f"mongodb+srv://svc_{rand(r, 4, string.ascii_lowercase)}:{url_password(r)}"
        f"@cluster0.{rand(r, 5, string.ascii_lowercase + string.digits)}.mongodb.net/app",
    ),
    "redis_url": lambda r: _one(
        "redis_url", "redis_url", f"redis://default:{url_password(r)}@cache.prod.acme.io:6379/0"
    ),
    "basic_auth_url": lambda r: _one(
        "basic_auth_url",
        "registry_url",
        f"https://deploy:{url_password(r)}@artifacts.acme.io/repository/pypi/simple",
    ),
    "twilio_api_key": lambda r: _one(
        "twilio_api_key", "twilio_api_key", P_TWILIO + rand(r, 32, HEX)
    ),
    "sendgrid": lambda r: _one(
        "sendgrid",
        "sendgrid_api_key",
        P_SG + rand(r, 22, ALNUM + "-_") + "." + rand(r, 43, ALNUM + "-_"),
    ),
    "mailgun": lambda r: _one("mailgun", "mailgun_api_key", P_MAILGUN + rand(r, 32, HEX)),
    "npm_token": lambda r: _one("npm_token", "npm_token", crc_token(r, P_NPM)),
    "pypi_token": lambda r: _one(
        "pypi_token", "pypi_token", P_PYPI + rand(r, r.randint(60, 160), ALNUM + "-_")
    ),
    "dockerhub_pat": lambda r: _one(
        "dockerhub_pat", "docker_password", P_DOCKER + rand(r, 27, ALNUM + "-_")
    ),
    "huggingface": lambda r: _one(
        "huggingface", "hf_token", P_HF + rand(r, 34, string.ascii_letters)
    ),
    "shopify": lambda r: _one("shopify", "shopify_access_token", P_SHPAT + rand(r, 32, HEX)),
    "digitalocean": lambda r: _one("digitalocean", "do_token", P_DO + rand(r, 64, HEX)),
    "telegram_bot": lambda r: _one(
        "telegram_bot",
        "telegram_bot_token",
        f"{r.randint(10**8, 10**10 - 1)}:AA{rand(r, 33, ALNUM + '-_')}",
    ),
    "datadog_api_key": lambda r: _one(
        "datadog_api_key",
        _pick(r, ["datadog_api_key", "dd_api_key"]),
        rand(r, 32, HEX),
        token=False,
    ),
    "heroku_api_key": lambda r: _one(
        "heroku_api_key",
        "heroku_api_key",
        str(uuid.UUID(int=r.getrandbits(128), version=4)),
        token=False,
    ),
    "generic_password": lambda r: _one(
        "generic_password",
        _pick(
            r,
            [
                "password",
                "db_pass",
                "db_password",
                "admin_password",
                "smtp_password",
                "pwd",
                "passwd",
                "pgpassword",
                "mysql_root_password",
                "ldap_bind_password",
            ],
        ),
        password(r),
        token=False,
    ),
    "generic_api_token": lambda r: _one(
        "generic_api_token",
        _pick(r, ["api_token", "auth_token", "access_key", "private_token", "api_secret"]),
        rand(r, r.choice([32, 40, 48]), ALNUM),
        token=False,
    ),
    "jdbc_url": lambda r: _one(
        "jdbc_url",
        "jdbc_url",
        f"jdbc:postgresql://pg-{r.randint(1, 9)}.internal.acme.io:5432/ledger"
        f"?user=svc_ledger&" + "pass" + f"word={url_password(r)}&ssl=true",
    ),
    "ado_net_conn": lambda r: _one(
        "ado_net_conn",
        "connection_string",
        "Server=tcp:sql-prod.database.windows.net,1433;Database=app;User ID=svc_app;"
        + "Pass"
        + f"word={url_password(r)};Encrypt=True;Connection Timeout=30;",
    ),
    "generic_secret_key": lambda r: _one(
        "generic_secret_key",
        _pick(r, ["secret_key", "client_secret", "app_secret", "signing_secret"]),
        rand(r, r.choice([32, 40, 50]), ALNUM + r.choice(["", "-_", "+/"])),
        token=False,
    ),
    "private_key_rsa": lambda r: [
        Spec("private_key_rsa", True, "private_key", block=pem_rsa_pkcs1(r))
    ],
    "private_key_ec": lambda r: [Spec("private_key_ec", True, "private_key", block=pem_ec(r))],
    "private_key_openssh": lambda r: [
        Spec("private_key_openssh", True, "ssh_private_key", block=pem_openssh(r))
    ],
    "private_key_pkcs8": lambda r: [
        Spec("private_key_pkcs8", True, "private_key", block=pem_pkcs8(r))
    ],
    "putty_private_key": lambda r: [
        Spec("putty_private_key", True, "ppk", block=putty_key(r), file_only=True)
    ],
    "pgp_private_key": lambda r: [
        Spec("pgp_private_key", True, "pgp_key", block=pgp_private(r), file_only=True)
    ],
    "gcp_service_account": lambda r: [
        Spec(
            "gcp_service_account", True, "credentials", block=gcp_service_account(r), file_only=True
        )
    ],
}


def _decoy(
    kind: str,
    name: str,
    value: str,
    *,
    raw: bool = False,
    token: bool = False,
    block: list[str] | None = None,
) -> list[Spec]:
    return [Spec(kind, False, name, value, block=block or [], raw=raw, token=token)]


def _aws_doc_pair(r: random.Random) -> list[Spec]:
    return [
        Spec("decoy_aws_doc_example", False, "aws_access_key_id", P_AKIA + "IOSFODNN7" + "EXAMPLE"),
        Spec(
            "decoy_aws_doc_example",
            False,
            "aws_secret_access_key",
            "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCY" + "EXAMPLEKEY",
        ),
    ]


DECOYS: dict[str, Gen] = {
    "decoy_env_reference": lambda r: _decoy(
        "decoy_env_reference",
        _pick(r, ["password", "db_password", "api_key"]),
        "${" + r.choice(["DB_PASSWORD", "API_KEY", "SECRET_KEY"]) + "}",
    ),
    "decoy_template": lambda r: _decoy(
        "decoy_template",
        _pick(r, ["password", "secret_key", "token"]),
        r.choice(
            [
                "{{ .Values.db.password }}",
                "{{ secret_key }}",
                "{{ vault_api_token }}",
                "%(db_password)s",
            ]
        ),
    ),
    "decoy_angle_placeholder": lambda r: _decoy(
        "decoy_angle_placeholder",
        _pick(r, ["password", "api_key", "token"]),
        r.choice(["<PASSWORD>", "<your-api-key>", "<TOKEN>", "[REDACTED]"]),
    ),
    "decoy_word_placeholder": lambda r: _decoy(
        "decoy_word_placeholder",
        _pick(r, ["password", "secret", "api_key"]),
        r.choice(
            [
                "changeme",
                "password",
                "secret",
                "your-api-key-here",
                "REPLACE_ME",
                "example-password",
                "test1234",
                "dummy",
            ]
        ),
    ),
    "decoy_masked": lambda r: _decoy(
        "decoy_masked",
        _pick(r, ["github_token", "stripe_key", "aws_access_key_id"]),
        r.choice([P_GHP + "x" * 36, P_SK_LIVE + "x" * 24, P_AKIA + "X" * 16, "*" * 16, "x" * 32]),
        token=True,
    ),
    "decoy_env_lookup": lambda r: _decoy(
        "decoy_env_lookup",
        _pick(r, ["password", "api_key", "secret_key"]),
        r.choice(
            [
                'os.environ["DB_PASSWORD"]',
                'os.getenv("API_TOKEN")',
                'os.environ.get("SECRET_KEY", "")',
                "process.env.API_KEY",
            ]
        ),
        raw=True,
    ),
    "decoy_aws_doc_example": _aws_doc_pair,
    "decoy_integrity_hash": lambda r: _decoy(
        "decoy_integrity_hash", "integrity", "sha512-" + base64.b64encode(r.randbytes(64)).decode()
    ),
    "decoy_uuid": lambda r: _decoy(
        "decoy_uuid",
        _pick(r, ["request_id", "trace_id", "object_id", "dashboard_uid"]),
        str(uuid.UUID(int=r.getrandbits(128), version=4)),
    ),
    "decoy_git_sha": lambda r: _decoy(
        "decoy_git_sha", _pick(r, ["commit", "rev", "git_head", "revision"]), rand(r, 40, HEX)
    ),
    "decoy_checksum": lambda r: _decoy(
        "decoy_checksum",
        _pick(r, ["checksum", "sha256", "md5sum", "digest"]),
        hashlib.sha256(r.randbytes(16)).hexdigest(),
    ),
    "decoy_ssh_public_key": lambda r: _decoy(
        "decoy_ssh_public_key", "ssh_public_key", ssh_public_key() + " deploy@ci"
    ),
    "decoy_public_key_pem": lambda r: _decoy(
        "decoy_public_key_pem", "public_key", "", block=pem_public_key()
    ),
    "decoy_certificate": lambda r: _decoy(
        "decoy_certificate", "certificate", "", block=pem_certificate(r)
    ),
    "decoy_stripe_test": lambda r: _decoy(
        "decoy_stripe_test", "stripe_secret_key", P_SK_TEST + rand(r, 24), token=True
    ),
    "decoy_stripe_publishable": lambda r: _decoy(
        "decoy_stripe_publishable", "stripe_publishable_key", P_PK_LIVE + rand(r, 24), token=True
    ),
    "decoy_base64_blob": lambda r: _decoy(
        "decoy_base64_blob",
        "icon",
        "data:image/png;base64,"
        + base64.b64encode(b"\x89PNG\r\n\x1a\n" + r.randbytes(r.randint(120, 400))).decode(),
    ),
    "decoy_github_bad_crc": lambda r: _decoy(
        "decoy_github_bad_crc", "github_token", crc_token(r, P_GHP, bad=True), token=True
    ),
    "decoy_jwt_bad_header": lambda r: _decoy(
        "decoy_jwt_bad_header", "token", jwt_bad_header(r), token=True
    ),
    "decoy_empty_password": lambda r: _decoy(
        "decoy_empty_password", _pick(r, ["password", "db_password", "secret_key"]), ""
    ),
    "decoy_function_call": lambda r: _decoy(
        "decoy_function_call",
        _pick(r, ["password", "token", "api_key"]),
        r.choice(
            [
                "get_password()",
                'load_secret("db")',
                "settings.API_KEY",
                "keyring.get_password(service, user)",
                "getpass.getpass()",
            ]
        ),
        raw=True,
    ),
    "decoy_typed_field": lambda r: _decoy(
        "decoy_typed_field",
        "typed",
        r.choice(
            [
                "token: str = Field(...)",
                "password: SecretStr = Field(default=None)",
                "api_key: str | None = None",
                "secret_key: Optional[str] = None",
            ]
        ),
        raw=True,
    ),
    "decoy_identifier": lambda r: _decoy(
        "decoy_identifier",
        _pick(r, ["password_validator", "token_class", "secret_backend"]),
        r.choice(
            [
                "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
                "rest_framework_simplejwt.tokens.RefreshTokenAuthenticationBackend",
                "PasswordResetTokenGeneratorFactory",
                "OAuth2ClientCredentialsTokenProvider",
                "secretsManagerRotationLambdaHandler",
            ]
        ),
    ),
    "decoy_placeholder_db_url": lambda r: _decoy(
        "decoy_placeholder_db_url",
        "database_url",
        r.choice(
            [
                "postgresql://user:" + "password@localhost:5432/mydb",
                "postgres://${DB_USER}:${DB_PASS}@db:5432/app",
                "redis://localhost:6379/0",
                "mysql://root@127.0.0.1:3306/test",
                "mongodb://username:<password>@localhost:27017",
            ]
        ),
    ),
}


DECOYS.update(
    {
        "decoy_ui_text": lambda r: _decoy(
            "decoy_ui_text",
            _pick(r, ["password_label", "password_help", "token_error"]),
            r.choice(
                [
                    "Enter your password",
                    "Password must contain at least 12 characters",
                    "Your session token has expired",
                    "Forgot your password?",
                ]
            ),
        ),
        "decoy_url_no_password": lambda r: _decoy(
            "decoy_url_no_password",
            _pick(r, ["repository_url", "remote", "registry_url"]),
            r.choice(
                [
                    "https://deploy@github.com/acme/" + rand(r, 8, string.ascii_lowercase) + ".git",
                    "git@github.com:acme/service.git",
                    "https://registry.acme.io/v2/" + rand(r, 6, string.ascii_lowercase),
                ]
            ),
        ),
        "decoy_ci_secret_expr": lambda r: _decoy(
            "decoy_ci_secret_expr",
            _pick(r, ["db_password", "api_token", "npm_token"]),
            "${{ secrets." + r.choice(["DB_PASSWORD", "API_TOKEN", "NPM_TOKEN"]) + " }}",
        ),
        "decoy_bcrypt_hash": lambda r: _decoy(
            "decoy_bcrypt_hash", "password_hash", "$2b$12$" + rand(r, 53, ALNUM + "./")
        ),
        "decoy_image_digest": lambda r: _decoy(
            "decoy_image_digest",
            "image",
            "acme/" + rand(r, 6, string.ascii_lowercase) + "@sha256:" + rand(r, 64, HEX),
        ),
        "decoy_password_regex": lambda r: _decoy(
            "decoy_password_regex",
            "password_pattern",
            r.choice(["^(?=.*[A-Z])(?=.*[0-9])(?=.*[!@#%^&*]).{12,64}$", "^[A-Za-z0-9_-]{8,128}$"]),
        ),
        "decoy_ansible_vault": lambda r: _decoy(
            "decoy_ansible_vault",
            "db_password",
            "",
            block=["$ANSIBLE_VAULT;1.1;AES256", *wrap(rand(r, 320, HEX), 80)],
        ),
        "decoy_secret_reference": lambda r: _decoy(
            "decoy_secret_reference",
            _pick(r, ["db_password_ref", "secret_arn", "password_path"]),
            r.choice(
                [
                    "arn:aws:secretsmanager:eu-west-1:"
                    + str(r.randint(10**11, 10**12 - 1))
                    + ":secret:prod/db-"
                    + rand(r, 6),
                    "vault:secret/data/prod/db#password",
                    "projects/acme-prod/secrets/db-password/versions/latest",
                    "secretsmanager:prod/orders/db:SecretString:password",
                ]
            ),
        ),
    }
)


def make(rng: random.Random, kind: str) -> list[Spec]:
    """Specs for one secret or decoy group of ``kind`` (a key of SECRETS or DECOYS)."""
    gen = SECRETS.get(kind) or DECOYS[kind]
    return gen(rng)
