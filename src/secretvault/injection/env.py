"""Environment-variable injection: names, ``--env VAR=secret`` specs and ``.env`` files.

A ``.env`` file may hold plain values or references ``secret://name[#version]``; references are
resolved when a child is launched, so the file itself never holds a secret. The child's
environment is built here and handed to the process launcher; nothing is written to disk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from secretvault.errors import InjectionError
from secretvault.injection.files import read_text

#: A portable environment variable name (POSIX: letters, digits, underscore; no leading digit).
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: A reference to a vault secret inside a ``.env`` file or an ``--env`` spec.
REFERENCE = re.compile(r"secret://(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:#(?P<version>\d+))?")
#: The bare ``NAME[#version]`` form of ``--env VAR=NAME``.
_BARE = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:#(?P<version>\d+))?")


@dataclass(frozen=True, slots=True)
class EnvRef:
    """One variable of a child's environment that comes from the vault."""

    var: str
    secret_name: str
    version: int | None = None


def check_env_name(var: str) -> str:
    """``var`` if it is a usable variable name, else an InjectionError saying why."""
    if not ENV_NAME.fullmatch(var):
        raise InjectionError(
            f"{var!r} is not a valid environment variable name",
            hint="use letters, digits and '_', not starting with a digit (e.g. OPENAI_API_KEY)",
        )
    return var


def parse_env_spec(spec: str) -> EnvRef:
    """``VAR=secret-name[#version]`` (or ``VAR=secret://name[#version]``) → EnvRef."""
    var, eq, ref = spec.partition("=")
    if not eq or not var or not ref:
        raise InjectionError(
            f"bad --env spec {spec!r}",
            hint="write VAR=secret-name, e.g. --env OPENAI_API_KEY=openai-api-key "
            "(a value never goes on the command line)",
        )
    m = REFERENCE.fullmatch(ref) or _BARE.fullmatch(ref)
    if m is None:
        raise InjectionError(
            f"bad --env spec for {var}: {ref!r} is not a secret name",
            hint="the right side names a secret (letters, digits, '-', '_', '.'), optionally "
            "#VERSION",
        )
    version = m.group("version")
    return EnvRef(check_env_name(var), m.group("name"), int(version) if version else None)


def _unquote(raw: str) -> str:
    """A dotenv value: double quotes take \\n, \\" and \\\\ escapes, single quotes are literal,
    an unquoted value ends at `` #``."""
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        body = raw[1:-1]
        return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m[1], m[1]), body)
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1]
    return raw.split(" #", 1)[0].strip()


def read_env_file(path: Path) -> tuple[dict[str, str], list[EnvRef]]:
    """Plain variables and vault references of a ``.env`` file (``export`` prefixes, comments
    and blank lines allowed). Errors name the line, never its value."""
    text = read_text(path, "env file", "pass a readable UTF-8 .env file")
    plain: dict[str, str] = {}
    refs: list[EnvRef] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        stripped = stripped.removeprefix("export ").lstrip()
        var, eq, raw = stripped.partition("=")
        var = var.strip()
        if not eq or not ENV_NAME.fullmatch(var):
            raise InjectionError(
                f"{path}:{lineno}: not a VAR=value line",
                hint="each line is VAR=value or VAR=secret://name[#version]",
            )
        value = _unquote(raw)
        m = REFERENCE.fullmatch(value)
        if m is not None:
            version = m.group("version")
            refs.append(EnvRef(var, m.group("name"), int(version) if version else None))
        elif value.startswith("secret://"):
            raise InjectionError(
                f"{path}:{lineno}: {var} holds a malformed secret:// reference",
                hint="write secret://name or secret://name#VERSION",
            )
        else:
            plain[var] = value
    return plain, refs
