"""Secrets out of and into the vault in the formats other tools read.

Out (``secretvault export``): ``dotenv`` (quoted ``VAR='value'`` lines), ``json`` (an object of
name → value), ``k8s`` (a Kubernetes ``Secret`` manifest whose ``data`` holds base64 values,
the shape the guide's Kubernetes examples reference with ``secretKeyRef``) and ``docker-env``
(``VAR=value`` lines for ``docker run --env-file``, which has no quoting, so a value with a
newline is refused). In (``secretvault import``): a ``.env`` file, a JSON object, or a
Kubernetes Secret manifest (``data`` and ``stringData``), each value stored under a guessed
type. Errors and reports name secrets, never values.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from pathlib import Path

import yaml

from secretvault.errors import InjectionError
from secretvault.injection.env import REFERENCE, read_env_file
from secretvault.injection.files import read_text
from secretvault.injection.templates import quote_env
from secretvault.models import SecretType

FORMATS = ("dotenv", "json", "k8s", "docker-env")
#: The Secret name the guide's Kubernetes examples reference (``secretKeyRef.name``).
DEFAULT_K8S_NAME = "mahavishnu-secrets"


def env_name(secret_name: str) -> str:
    """``openai-api-key`` → ``OPENAI_API_KEY`` (the guide's convention)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", secret_name).upper()


def secret_name_for(var: str) -> str:
    """``OPENAI_API_KEY`` → ``openai-api-key`` (the inverse, for imports from .env)."""
    return var.lower().replace("_", "-")


def export(values: Mapping[str, str], fmt: str, k8s_name: str = DEFAULT_K8S_NAME) -> str:
    """``values`` (secret name → value) in format ``fmt``."""
    if fmt == "json":
        return json.dumps(dict(values), indent=2, sort_keys=True) + "\n"
    if fmt == "dotenv":
        return "".join(f"{env_name(k)}={quote_env(v)}\n" for k, v in sorted(values.items()))
    if fmt == "docker-env":
        bad = [k for k, v in values.items() if "\n" in v or "\r" in v]
        if bad:
            raise InjectionError(
                f"docker --env-file cannot hold a multi-line value: {', '.join(sorted(bad))}",
                hint="use --format dotenv or k8s, or leave those secrets out with --name",
            )
        return "".join(f"{env_name(k)}={v}\n" for k, v in sorted(values.items()))
    if fmt == "k8s":
        manifest = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": k8s_name},
            "type": "Opaque",
            "data": {
                k: base64.b64encode(v.encode("utf-8")).decode("ascii")
                for k, v in sorted(values.items())
            },
        }
        return str(yaml.safe_dump(manifest, sort_keys=False))
    raise InjectionError(f"unknown export format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")


def parse_import(path: Path) -> dict[str, str]:
    """Secret name → value from a .env file, a JSON object or a Kubernetes Secret manifest
    (judged by content: a JSON object, a YAML document of ``kind: Secret``, else dotenv).
    ``secret://`` references in a .env file are skipped: they already point into a vault."""
    text = read_text(path, "import file", "pass a readable UTF-8 file")
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InjectionError(
                f"{path}: not valid JSON (line {getattr(exc, 'lineno', '?')})",
                hint="a JSON import is one object of name → string value",
            ) from None
        return _strings(data, path)
    if re.search(r"^kind:\s*Secret\s*$", text, re.M):
        return _k8s(text, path)
    plain, _refs = read_env_file(path)
    return {secret_name_for(k): v for k, v in plain.items() if not REFERENCE.fullmatch(v)}


def _strings(data: object, path: Path) -> dict[str, str]:
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise InjectionError(
            f"{path}: expected an object of name → string value",
            hint='e.g. {"openai-api-key": "..."}',
        )
    return {str(k): v for k, v in data.items()}


def _k8s(text: str, path: Path) -> dict[str, str]:
    try:
        docs = [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    except yaml.YAMLError:
        raise InjectionError(f"{path}: not valid YAML", hint="check the manifest") from None
    out: dict[str, str] = {}
    for doc in docs:
        if doc.get("kind") != "Secret":
            continue
        for key, b64 in (doc.get("data") or {}).items():
            try:
                out[str(key)] = base64.b64decode(str(b64), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise InjectionError(
                    f"{path}: data.{key} is not base64 of UTF-8 text",
                    hint="binary material cannot be imported as a text secret",
                ) from None
        for key, value in (doc.get("stringData") or {}).items():
            out[str(key)] = str(value)
    return out


def guess_type(name: str, value: str) -> SecretType:
    """A plausible SecretType from the name and the value's shape (changeable afterwards)."""
    low = name.lower()
    if "BEGIN CERTIFICATE" in value or low.endswith((".crt", ".pem")) or "tls" in low:
        return SecretType.TLS_CERTIFICATE
    if "PRIVATE KEY" in value or "ssh" in low:
        return SecretType.SSH_KEY
    if re.fullmatch(r"eyJ[\w-]+\.[\w-]+\.[\w-]*", value):
        return SecretType.JWT_TOKEN
    if "password" in low or "passwd" in low or low.endswith(("-pw", "_pw")):
        return SecretType.DATABASE_PASSWORD
    if "webhook" in low:
        return SecretType.WEBHOOK_SECRET
    if "token" in low:
        return SecretType.OAUTH_TOKEN
    if "encryption" in low or "master-key" in low:
        return SecretType.ENCRYPTION_KEY
    if "service-account" in low or "credentials" in low:
        return SecretType.SERVICE_ACCOUNT_KEY
    if "key" in low or "secret" in low:
        return SecretType.API_KEY
    return SecretType.ENVIRONMENT_VARIABLE
