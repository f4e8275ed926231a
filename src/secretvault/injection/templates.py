"""Templates: ``{{ NAME }}`` and ``{{ secret "name" }}`` placeholders filled from the vault.

Rendering uses jinja2's sandbox (``SandboxedEnvironment``, ``StrictUndefined``, autoescape
off): a template cannot reach Python internals, an unknown name is an error rather than an
empty string, and a value containing ``{{`` is output, never evaluated.

Quoting is context-aware. The filters ``yaml``, ``json``, ``shell`` and ``env`` quote a value
for that kind of file, and ``raw`` inserts it as is. A secret inserted without a filter is
quoted for the output's kind, judged by its suffix (``.yaml``/``.yml``, ``.json``, ``.env``,
``.sh``); other files get it as is, as the guide's example shows.

Rendering is all-or-nothing: every placeholder is resolved first, and when any cannot be, the
error names every unresolved one and nothing is written.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

from secretvault.errors import InjectionError, SecretVaultError

#: ``{{ secret "name" }}`` (Go-template style) is rewritten to the call ``secret("name")``.
_SECRET_WORD = re.compile(r"(\{\{-?\s*)secret\s+(\"[^\"\n]*\"|'[^'\n]*')")
#: The function name of the ``{{ secret "name" }}`` form.
SECRET_FUNCTION = "secret"


class SecretText(str):
    """A secret's value in a template context: lets ``finalize`` tell it from template text."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SecretText(<redacted>)"


def quote_yaml(value: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML; non-ASCII kept as is)."""
    return json.dumps(str(value), ensure_ascii=False)


def quote_json(value: str) -> str:
    """A JSON string literal."""
    return json.dumps(str(value), ensure_ascii=False)


def quote_shell(value: str) -> str:
    """A POSIX shell word (single-quoted when needed)."""
    return shlex.quote(str(value))


def quote_env(value: str) -> str:
    """A dotenv value: single-quoted (literal) when possible, else double-quoted with escapes."""
    value = str(value)
    if "'" not in value and "\n" not in value and "\r" not in value:
        return f"'{value}'"
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    # ``$`` is left alone: python-dotenv and docker compose expand only ``${...}``, and have
    # no escape for it; docs/injection.md says so.
    return f'"{escaped}"'


def raw(value: str) -> str:
    """The value as is (the caller takes responsibility for the file's syntax)."""
    return str(value)


#: Filter name → quoting function; also the default quoting by output suffix.
FILTERS: dict[str, Callable[[str], str]] = {
    "yaml": quote_yaml,
    "json": quote_json,
    "shell": quote_shell,
    "env": quote_env,
    "raw": raw,
}
_BY_SUFFIX = {
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".env": "env",
    ".sh": "shell",
}


def default_quoting(output: Path | None) -> str:
    """The filter applied to an unfiltered secret in ``output`` (``raw`` for unknown kinds)."""
    if output is None:
        return "raw"
    name = output.name
    if name == ".env" or name.startswith(".env."):
        return "env"
    return _BY_SUFFIX.get(output.suffix.lower(), "raw")


def output_path(template: Path) -> Path:
    """Where a template renders by default: ``config.yaml`` → ``config.injected.yaml``."""
    return template.with_name(f"{template.stem}.injected{template.suffix}")


def _environment(quoting: str) -> SandboxedEnvironment:
    default = FILTERS[quoting]

    def finalize(value: Any) -> Any:
        return default(value) if type(value) is SecretText else value

    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=finalize,
    )
    env.filters.update(FILTERS)
    return env


def _source(text: str) -> str:
    return _SECRET_WORD.sub(lambda m: f"{m[1]}{SECRET_FUNCTION}({m[2]})", text)


def placeholders(text: str, where: str = "template") -> tuple[set[str], set[str]]:
    """(bare names, names given to ``secret(...)``) used by a template; a syntax error is an
    InjectionError naming the line."""
    env = _environment("raw")
    try:
        ast = env.parse(_source(text))
    except TemplateSyntaxError as exc:
        raise InjectionError(
            f"{where}: line {exc.lineno}: template syntax error: {exc.message}",
            hint='placeholders look like {{ NAME }} or {{ secret "name" }}, optionally '
            "| yaml, | json, | shell, | env or | raw",
        ) from None
    bare = {n.name for n in ast.find_all(nodes.Name) if n.ctx == "load"} - {SECRET_FUNCTION}
    called: set[str] = set()
    for call in ast.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name == SECRET_FUNCTION:
            if len(call.args) != 1 or not isinstance(call.args[0], nodes.Const):
                raise InjectionError(
                    f"{where}: line {call.lineno}: secret(...) takes one quoted name",
                    hint='write {{ secret "db-password" }}',
                )
            called.add(str(call.args[0].value))
    # Names the template defines itself (loops, set) are not placeholders.
    stored = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    return bare - stored, called


#: Resolves a secret name to its value; raises SecretVaultError when it cannot.
Reader = Callable[[str], Awaitable[str]]


def candidate_names(placeholder: str) -> list[str]:
    """Secret names a bare placeholder may mean: itself, then ``POSTGRES_PASSWORD`` →
    ``postgres-password`` (the guide's convention) and ``postgres_password``."""
    lower = placeholder.lower()
    return list(dict.fromkeys([placeholder, lower.replace("_", "-"), lower]))


async def render(
    text: str,
    read: Reader,
    *,
    mapping: Mapping[str, str] | None = None,
    output: Path | None = None,
    where: str = "template",
) -> str:
    """Render ``text``: each bare placeholder is resolved through ``mapping`` (placeholder →
    secret name, from the target's bindings) or ``candidate_names``; ``secret("x")`` reads
    ``x``. All-or-nothing (module docstring)."""
    bare, called = placeholders(text, where)
    mapping = mapping or {}
    context: dict[str, SecretText] = {}
    by_name: dict[str, SecretText] = {}
    unresolved: list[str] = []
    for ph in sorted(bare):
        names = [mapping[ph]] if ph in mapping else candidate_names(ph)
        value, why = await _first(read, names)
        if value is None:
            unresolved.append(f"{{{{ {ph} }}}} ({why})")
        else:
            context[ph] = value
    for name in sorted(called):
        value, why = await _first(read, [name])
        if value is None:
            unresolved.append(f'{{{{ secret "{name}" }}}} ({why})')
        else:
            by_name[name] = value
    if unresolved:
        raise InjectionError(
            f"{where}: {len(unresolved)} placeholder(s) could not be resolved: "
            + "; ".join(unresolved)
            + " — nothing was written",
            hint="store the secrets (`secretvault set NAME`), or map a placeholder to a secret "
            "with inject_secret(..., template_pattern='{{ NAME }}')",
        )

    def secret(name: str) -> SecretText:
        return by_name[name]

    env = _environment(default_quoting(output))
    try:
        return env.from_string(_source(text)).render(context, **{SECRET_FUNCTION: secret})
    except SecretVaultError:
        raise
    except Exception as exc:  # sandbox violations, filter misuse: say which, never a value
        raise InjectionError(
            f"{where}: cannot render: {type(exc).__name__}",
            hint="templates may only insert secrets, with the yaml/json/shell/env/raw filters",
        ) from None


async def _first(read: Reader, names: list[str]) -> tuple[SecretText | None, str]:
    """The value of the first name that exists; else None and why (the last failure)."""
    from secretvault.errors import SecretNotFoundError

    why = "not found"
    for name in names:
        try:
            return SecretText(await read(name)), ""
        except SecretNotFoundError:
            why = "no secret " + " or ".join(repr(n) for n in names)
        except SecretVaultError as exc:
            return None, f"{name!r}: {type(exc).__name__}"
    return None, why
