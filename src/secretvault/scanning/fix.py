"""Remediation: move hardcoded secrets into the vault and reference them instead.

``plan_fixes`` turns confirmed matches into per-file edits; the literal is replaced by a
reference that suits the file type (Python ``os.environ["NAME"]``, JS/TS ``process.env.NAME``,
YAML/compose and shell ``${NAME}``, ``.env`` ``secret://name``). ``FixPlan.diff()`` shows the
change with the secret redacted; ``apply`` stores each value through the caller's
``store(name, value, secret_type)`` callback first, then rewrites the files.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from secretvault.models import SecretType
from secretvault.scanning.generic import name_tokens
from secretvault.scanning.scanner import RawMatch, redact

Store = Callable[[str, str, SecretType], None]
_PY = {".py", ".pyi"}
_JS = {".js", ".ts", ".mjs", ".cjs", ".jsx", ".tsx"}
_YAML = {".yaml", ".yml"}
_SHELL = {".sh", ".bash", ".zsh"}


@dataclass
class Replacement:
    """One literal to replace on one line."""

    line_number: int
    column: int  # 1-based, of the secret
    secret: str = field(repr=False)
    env_name: str
    vault_name: str
    secret_type: SecretType


@dataclass
class FileFix:
    """Edits to one file: original and new text."""

    path: Path
    rel_path: str
    original: str
    updated: str
    replacements: list[Replacement] = field(default_factory=list)


@dataclass
class FixPlan:
    """Everything ``--fix`` would do; nothing happens until :meth:`apply`."""

    files: list[FileFix] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    secrets: dict[str, tuple[str, SecretType]] = field(default_factory=dict, repr=False)
    existing: dict[str, str] = field(default_factory=dict, repr=False)  # already in the vault

    def diff(self) -> str:
        """Unified diff of all edits, with every secret redacted."""
        out: list[str] = []
        for f in self.files:
            old = _redact_all(f.original, self.secrets, self.existing)
            out.extend(
                difflib.unified_diff(
                    old.splitlines(keepends=True),
                    f.updated.splitlines(keepends=True),
                    f"a/{f.rel_path}",
                    f"b/{f.rel_path}",
                )
            )
        return "".join(out)

    def apply(self, store: Store) -> int:
        """Store every secret in the vault, then write the files; returns files changed."""
        for name, (value, stype) in sorted(self.secrets.items()):
            store(name, value, stype)
        for f in self.files:
            f.path.write_text(f.updated, encoding="utf-8")
        return len(self.files)


def _redact_all(
    text: str, secrets: dict[str, tuple[str, SecretType]], existing: dict[str, str]
) -> str:
    values = [v for v, _ in secrets.values()] + list(existing.values())
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, redact(value))
    return text


def env_name_for(m: RawMatch) -> str:
    """``DB_PASSWORD`` from ``self.db_password``; the rule id for provider rules."""
    base = m.name.rsplit(".", 1)[-1] if m.name else m.rule_id
    tokens = name_tokens(base) or ["SECRET"]
    name = "_".join(tokens).upper()
    return name if name[0].isalpha() else "SECRET_" + name


def _kind(path: str) -> str | None:
    p = PurePosixPath(path)
    name, suffix = p.name.lower(), p.suffix.lower()
    if name == ".env" or name.startswith(".env.") or suffix == ".env":
        return "env"
    if suffix in _PY:
        return "py"
    if suffix in _JS:
        return "js"
    if suffix in _YAML or name.startswith(("docker-compose", "compose")):
        return "yaml"
    if suffix in _SHELL:
        return "sh"
    return None


def _replace_in_line(kind: str, line: str, col: int, secret: str, r: Replacement) -> str | None:
    s = col - 1
    e = s + len(secret)
    if line[s:e] != secret:
        return None
    before, after = line[:s], line[e:]
    quote = before[-1:] if before[-1:] in ("'", '"', "`") else ""
    whole = bool(quote) and after[:1] == quote
    if kind == "py":
        if whole:
            return before[:-1] + f'os.environ["{r.env_name}"]' + after[1:]
        m = re.search(r"([rbuRBU]?)(['\"])[^'\"]*$", before)
        if not m or "f" in m.group(1).lower() or "b" in m.group(1).lower():
            return None
        q = m.group(2)
        inner = "'" if q == '"' else '"'
        start = m.start()
        return (
            before[:start]
            + "f"
            + before[start:]
            + "{os.environ["
            + inner
            + r.env_name
            + inner
            + "]}"
            + after
        )
    if kind == "js":
        return before[:-1] + f"process.env.{r.env_name}" + after[1:] if whole else None
    if kind in ("yaml", "sh"):
        return before + "${" + r.env_name + "}" + after
    if kind == "env":
        return before + f"secret://{r.vault_name}" + after
    return None


def _ensure_import_os(text: str) -> str:
    if re.search(r"^import os\b|^from os import|^import os$", text, re.M):
        return text
    lines = text.splitlines(keepends=True)
    idx = 0
    for i, line in enumerate(lines):
        if line.startswith("from __future__"):
            idx = i + 1
    if idx == 0:
        while idx < len(lines) and lines[idx].startswith("#"):
            idx += 1
    lines.insert(idx, "import os\n")
    return "".join(lines)


def plan_fixes(root: Path, matches: Iterable[RawMatch]) -> FixPlan:
    """Work out every edit (reads files, writes nothing)."""
    plan = FixPlan()
    by_value: dict[str, str] = {}
    by_file: dict[str, list[RawMatch]] = {}
    for m in matches:
        if m.commit is None and not m.encoding:
            by_file.setdefault(m.path, []).append(m)  # encoded vault values are left alone
    for rel, items in sorted(by_file.items()):
        kind = _kind(rel)
        path = root / rel if root.is_dir() else root
        if kind is None:
            plan.skipped.append(f"{rel}: no reference syntax for this file type")
            continue
        fix = _plan_file(plan, path, rel, kind, items, by_value)
        if fix is not None:
            plan.files.append(fix)
    return plan


def _plan_file(
    plan: FixPlan, path: Path, rel: str, kind: str, items: list[RawMatch], by_value: dict[str, str]
) -> FileFix | None:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    reps: list[Replacement] = []
    for m in sorted(items, key=lambda m: (m.line_number, -m.column)):
        if m.known_secret:  # already in the vault: reference it, store nothing
            env = re.sub(r"[^A-Za-z0-9]+", "_", m.known_secret).upper()
            r = Replacement(m.line_number, m.column, m.secret, env, m.known_secret, m.secret_type)
        else:
            env = by_value.get(m.secret) or _unique(env_name_for(m), plan.secrets, m.secret)
            by_value[m.secret] = env
            r = Replacement(m.line_number, m.column, m.secret, env, env.lower(), m.secret_type)
        idx = m.line_number - 1
        body = lines[idx].rstrip("\r\n")
        new = _replace_in_line(kind, body, m.column, m.secret, r)
        if new is None:
            plan.skipped.append(f"{rel}:{m.line_number}: cannot rewrite this literal safely")
            continue
        lines[idx] = new + lines[idx][len(body) :]
        if m.known_secret:
            plan.existing[r.vault_name] = m.secret
        else:
            plan.secrets[r.vault_name] = (m.secret, m.secret_type)
        reps.append(r)
    if not reps:
        return None
    updated = "".join(lines)
    if kind == "py":
        updated = _ensure_import_os(updated)
    return FileFix(path, rel, text, updated, reps)


def _unique(name: str, taken: dict[str, tuple[str, SecretType]], value: str) -> str:
    candidate, n = name, 2
    while candidate.lower() in taken and taken[candidate.lower()][0] != value:
        candidate = f"{name}_{n}"
        n += 1
    return candidate
