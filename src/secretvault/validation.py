"""Input rules for secret names and values, shared by every entry point."""

from __future__ import annotations

import re

from secretvault.errors import InvalidSecretNameError, InvalidSecretValueError

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,255}")
MAX_VALUE_BYTES = 1 << 20


def validate_name(name: str) -> str:
    """Secret names: 1–256 of letters, digits, ``-``, ``_``, ``.``, not starting with a symbol."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        shown = name if isinstance(name, str) and len(name) <= 80 else "<name>"
        raise InvalidSecretNameError(
            f"invalid secret name {shown!r}",
            hint="use 1-256 letters, digits, '-', '_' or '.', starting with a letter or digit",
        )
    return name


def validate_value(value: str) -> str:
    """Values are non-empty text of at most 1 MiB."""
    if not isinstance(value, str):
        raise InvalidSecretValueError("secret value must be text (str)")
    if not value:
        raise InvalidSecretValueError("secret value is empty")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidSecretValueError(
            "secret value is not valid UTF-8 text",
            hint="store binary material base64-encoded",
        ) from None
    if size > MAX_VALUE_BYTES:
        raise InvalidSecretValueError("secret value is larger than 1 MiB")
    return value
