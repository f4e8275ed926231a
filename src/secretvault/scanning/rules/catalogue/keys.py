"""Private key material: PEM private keys of every flavour (PKCS#1 RSA, SEC1 EC, DSA, OpenSSH,
PKCS#8 plain and encrypted, RFC 1421 encrypted), JSON-escaped PEM, base64-wrapped PEM
(kubeconfig ``client-key-data``), PGP private key blocks, PuTTY key files, SSH.com keys and
age identities.

The PEM and PGP rules match the whole block (header, base64 body, footer) across lines; they
carry the ``multiline`` tag so the engine verifies them over the whole buffer.
"""

from __future__ import annotations

import base64
import random

from secretvault.scanning.rules.base import Rule
from secretvault.scanning.rules.catalogue._dsl import SEV, ST, rule
from secretvault.scanning.rules.gen import (
    PEM_KINDS,
    age_identity,
    alnum,
    armored,
    b64_bytes,
    hexs,
    pem_private_key,
    rand_bytes,
)
from secretvault.scanning.rules.validators import (
    bech32_ok,
    not_placeholder,
    pem_body_ok,
    pgp_block_ok,
)

_KINDS = r"(?:(?:RSA|EC|DSA|OPENSSH|ENCRYPTED) )?"
_RFC1421 = r"(?:Proc-Type: 4,ENCRYPTED\s+DEK-Info: [A-Z0-9-]+,[A-Fa-f0-9]+\s+)?"
_BEGIN = "-----" + "BEGIN "
_END = "-----" + "END "
_PK = "PRIVATE" + " KEY"


def _pem_example(rng: random.Random) -> str:
    pem = pem_private_key(rng.choice(PEM_KINDS))
    return rng.choice(["{}", "key = '''\n{}'''", "  tls.key: |\n{}"]).format(pem)


def _pem_negatives(rng: random.Random) -> list[str]:
    head, foot = f"{_BEGIN}RSA {_PK}-----", f"{_END}RSA {_PK}-----"
    return [
        f"{head}\n...\n{foot}",  # elided in documentation
        f"{head}\n" + "\n".join(["A" * 64] * 4) + f"\n{foot}",  # decodes to zeros, not DER
        f"{_BEGIN}PUBLIC KEY-----\n" + b64_bytes(rand_bytes(rng, 120)) + f"\n{_END}PUBLIC KEY-----",
        f"{head}\n" + alnum(rng, 63) + "!\n" + foot,
    ]


def _escaped_example(rng: random.Random) -> str:
    pem = pem_private_key(rng.choice(["RSA", "EC", "OPENSSH", "PKCS8"])).replace("\n", "\\n")
    return f'PRIVATE_KEY="{pem}"'


def _pem_b64_example(rng: random.Random) -> str:
    pem = pem_private_key(rng.choice(["RSA", "EC", "PKCS8"]))
    return "    client-key-data: " + base64.b64encode(pem.encode()).decode()


def _pem_b64_ok(value: str) -> bool:
    try:
        text = base64.b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    except ValueError:
        return False
    return _PK in text and pem_body_ok(text)


def _putty(rng: random.Random) -> str:
    pub, priv = b64_bytes(rand_bytes(rng, 51)), b64_bytes(rand_bytes(rng, 48))
    return "\n".join([
        "PuTTY-User-Key-File-3: ssh-ed25519", "Encryption: none",
        f"Comment: ed25519-key-{rng.randrange(10**7, 10**8)}", "Public-Lines: 2",
        pub[:64], pub[64:], "Private-Lines: 1", priv, f"Private-MAC: {hexs(rng, 64)}",
    ])  # fmt: skip


def _age_negatives(rng: random.Random) -> list[str]:
    good = age_identity(rng)
    flip = "Q" if good[-1] != "Q" else "P"
    return [good[:-1] + flip, "AGE-SECRET-KEY-1" + "Q" * 58]


RULES: list[Rule] = [
    rule(
        "private-key",
        "PEM private key block (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted)",
        rf"(?P<secret>{_BEGIN}{_KINDS}{_PK}-----\s+{_RFC1421}[A-Za-z0-9+/=\s]{{64,}}"
        rf"{_END}{_KINDS}{_PK}-----)",
        ("private key-----",),
        _pem_example,
        st=ST.SSH_KEY,
        sev=SEV.CRITICAL,
        conf=1.0,
        check=pem_body_ok,
        negatives=_pem_negatives,
        tags=("multiline",),
    ),
    rule(
        "private-key-escaped",
        "PEM private key with JSON/env-escaped newlines (\\n)",
        rf"(?P<secret>{_BEGIN}{_KINDS}{_PK}-----(?:\\r)?\\n"
        rf"[A-Za-z0-9+/=\\]{{64,}}{_END}{_KINDS}{_PK}-----)",
        ("private key-----",),
        _escaped_example,
        st=ST.SSH_KEY,
        sev=SEV.CRITICAL,
        conf=0.95,
        check=pem_body_ok,
        negatives=lambda rng: [f"{_BEGIN}RSA {_PK}-----\\n...\\n{_END}RSA {_PK}-----"],
    ),
    # "LS0tLS1CRUdJTi" is base64("-----BEGIN"); kubeconfig/Helm values wrap PEM this way.
    rule(
        "private-key-base64",
        "Base64-wrapped PEM private key (e.g. kubeconfig client-key-data)",
        r"\b(?P<secret>LS0tLS1CRUdJTi[A-Za-z0-9+/]{100,}={0,2})",
        ("ls0tls1crudjti",),
        _pem_b64_example,
        st=ST.SSH_KEY,
        sev=SEV.CRITICAL,
        conf=0.95,
        check=_pem_b64_ok,
        negatives=lambda rng: [
            "ca-data: "
            + base64.b64encode(
                (f"{_BEGIN}CERTIFICATE-----\n" + b64_bytes(rand_bytes(rng, 200))).encode()
            ).decode()
        ],
    ),
    rule(
        "pgp-private-key-block",
        "OpenPGP armored private key block",
        r"(?P<secret>-----BEGIN PGP PRIVATE KEY BLOCK-----(?:\s+[A-Za-z]+: [^\r\n]*)*\s+"
        r"[A-Za-z0-9+/=\s]{64,}-----END PGP PRIVATE KEY BLOCK-----)",
        ("pgp private key block",),
        lambda rng: armored(rng, "PGP " + _PK + " BLOCK", 0x95),
        st=ST.ENCRYPTION_KEY,
        sev=SEV.CRITICAL,
        conf=1.0,
        check=pgp_block_ok,
        negatives=lambda rng: [
            armored(rng, "PGP " + _PK + " BLOCK", 0x15),
            armored(rng, "PGP PUBLIC KEY BLOCK", 0x99),
        ],
        tags=("multiline",),
    ),
    rule(
        "putty-private-key",
        "PuTTY private key file (PPK v2/v3)",
        r"(?P<secret>PuTTY-User-Key-File-[23]: (?:ssh-(?:rsa|dss|ed25519|ed448)|"
        r"ecdsa-sha2-nistp(?:256|384|521)))(?:\s|$)",
        ("putty-user-key-file-",),
        _putty,
        st=ST.SSH_KEY,
        sev=SEV.CRITICAL,
        conf=0.95,
        negatives=lambda rng: ["PuTTY-User-Key-File-1: ssh-rsa\n", "PuTTY-User-Key-File-3: none\n"],
    ),
    rule(
        "ssh2-encrypted-private-key",
        "SSH.com / Tectia encrypted private key (RFC 4716 style)",
        r"(?P<secret>---- BEGIN SSH2 ENCRYPTED " + _PK + r" ----)\s+(?:Comment: [^\r\n]*\s+)?"
        r"[A-Za-z0-9+/]{60,}",
        ("begin ssh2 encrypted private key",),
        lambda rng: (
            "---- BEGIN SSH2 ENCRYPTED "
            + _PK
            + ' ----\nComment: "'
            + alnum(rng, 8)
            + '"\n'
            + b64_bytes(rand_bytes(rng, 48))
        ),
        st=ST.SSH_KEY,
        sev=SEV.HIGH,
        conf=0.9,
        negatives=lambda rng: [
            "---- BEGIN SSH2 PUBLIC KEY ----",
            "---- BEGIN SSH2 ENCRYPTED " + _PK + " ----\n...",
        ],
        tags=("multiline",),
    ),
    rule(
        "age-secret-key",
        "age encryption identity (bech32 AGE-SECRET-KEY-1...)",
        r"\b(?P<secret>AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})\b",
        ("age-secret-key-1",),
        lambda rng: f"# created: 2024-01-01\n{age_identity(rng)}",
        st=ST.ENCRYPTION_KEY,
        sev=SEV.CRITICAL,
        conf=0.95,
        check=lambda s: not_placeholder(s[16:]) and bech32_ok(s),
        negatives=_age_negatives,
    ),
]
