"""New values for ``rotate_secret(name)`` without ``new_value``, one generator per SecretType.

Only auto-rotatable types have one (the guide's "Secret Types Supported"); the others (SSH keys,
certificates, service-account keys, encryption keys) are issued by another system and must be
rotated with an explicit ``new_value``.
"""

from __future__ import annotations

import base64
import secrets
import string
from collections.abc import Mapping
from typing import TYPE_CHECKING

from secretvault.errors import RotationError
from secretvault.models import SecretType

if TYPE_CHECKING:
    from secretvault.rotation.policy import ValuePolicy

_PASSWORD_ALPHABET = string.ascii_letters + string.digits + "-_.~"


def _password(length: int = 32) -> str:
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


def _token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


_GENERATORS = {
    SecretType.API_KEY: lambda: _token(32),
    SecretType.DATABASE_PASSWORD: lambda: _password(32),
    SecretType.OAUTH_TOKEN: lambda: _token(32),
    SecretType.JWT_TOKEN: lambda: base64.b64encode(secrets.token_bytes(64)).decode(),
    SecretType.ENVIRONMENT_VARIABLE: lambda: _token(24),
    SecretType.WEBHOOK_SECRET: lambda: secrets.token_hex(32),
}


def generate_value(
    secret_type: SecretType, policies: Mapping[SecretType, ValuePolicy] | None = None
) -> str:
    """A fresh random value suited to ``secret_type``: its policy from settings when one is
    set (``rotation.policies``), else the built-in generator."""
    policy = policies.get(secret_type) if policies else None
    if policy is not None:
        return policy.generate()
    gen = _GENERATORS.get(secret_type)
    if gen is None:
        raise RotationError(
            f"{secret_type.value} secrets cannot be generated automatically",
            hint="pass new_value (CLI: `secretvault rotate NAME --from-file F`)",
        )
    return gen()
