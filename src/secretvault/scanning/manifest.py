"""Rule manifest cache: start a scan without importing the rule catalogue.

A scan only needs each rule's keywords, regex and a few flags to build its prefilter; the
full :class:`Rule` (validators, descriptions) is needed only when a line actually matches.
So the first run writes ``rules-<key>.json`` under the cache directory, keyed by the size and
mtime of every rule source file, and later runs (``scan --staged`` on a typical commit) build
the engine from it and import the catalogue only if some rule needs verifying.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from secretvault.models import SecretType
from secretvault.scanning.engine import cache_dir
from secretvault.scanning.rules.base import Rule

_HERE = Path(__file__).resolve().parent
VERSION = 1


@dataclass(frozen=True, slots=True)
class RuleStub:
    """The parts of a Rule the prefilter needs (``id``, ``regex``, ``keywords`` ...)."""

    id: str
    secret_type: SecretType
    regex: str
    keywords: tuple[str, ...]
    case_insensitive: bool
    tags: tuple[str, ...]


def _sources() -> list[Path]:
    files = sorted((_HERE / "rules").rglob("*.py"))
    return [*files, _HERE / "builtin_rules.py", _HERE / "generic.py", _HERE / "patterns.py"]


def source_key() -> str:
    """Changes whenever a rule source file changes (size or mtime)."""
    h = hashlib.sha256(f"v{VERSION}".encode())
    for p in _sources():
        with contextlib.suppress(OSError):
            st = p.stat()
            h.update(f"{p.name}:{st.st_mtime_ns}:{st.st_size};".encode())
    return h.hexdigest()[:32]


def full_rules() -> list[Rule]:
    """The default rule list: active provider/custom rules, then the generic rules."""
    from secretvault.scanning.generic import GENERIC_RULES
    from secretvault.scanning.patterns import active_rules

    rules = active_rules()
    if not any("generic" in r.tags for r in rules):
        rules.extend(GENERIC_RULES)
    return rules


def _stub(r: Rule) -> RuleStub:
    return RuleStub(
        r.id, r.secret_type, r.regex, tuple(r.keywords), r.case_insensitive, tuple(r.tags)
    )


def _write(path: Path, stubs: list[RuleStub]) -> None:
    doc = [
        {
            "id": s.id,
            "secret_type": s.secret_type.value,
            "regex": s.regex,
            "keywords": list(s.keywords),
            "case_insensitive": s.case_insensitive,
            "tags": list(s.tags),
        }
        for s in stubs
    ]
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(tmp, path)


def _read(path: Path) -> list[RuleStub] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return [
            RuleStub(
                d["id"],
                SecretType(d["secret_type"]),
                d["regex"],
                tuple(d["keywords"]),
                bool(d["case_insensitive"]),
                tuple(d["tags"]),
            )
            for d in doc
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return None


class _Loader:
    """Resolves a rule index to the real Rule, importing the catalogue once, on demand."""

    def __init__(self) -> None:
        self._rules: list[Rule] | None = None

    def __call__(self, index: int) -> Rule:
        if self._rules is None:
            self._rules = full_rules()
        return self._rules[index]


Loader = Callable[[int], Rule]


def default_rules(use_cache: bool = True) -> tuple[list[Rule] | list[RuleStub], Loader | None]:
    """Default rules: stubs plus a lazy loader when the manifest is fresh, else real rules.

    Once :mod:`secretvault.scanning.patterns` is imported ``SECRET_PATTERNS`` may have been
    edited, so the real rule list is used and the manifest refreshed.
    """
    path = cache_dir() / f"rules-{source_key()}.json"
    if use_cache and "secretvault.scanning.patterns" not in sys.modules:
        stubs = _read(path)
        if stubs is not None:
            return stubs, _Loader()
    rules = full_rules()
    if use_cache and not path.exists() and _is_default():
        _write(path, [_stub(r) for r in rules])
    return rules, None


def _is_default() -> bool:
    from secretvault.scanning.patterns import SECRET_PATTERNS, _seed

    return _seed() == SECRET_PATTERNS
