"""Candidate search: which lines of a buffer may match which rule.

Two backends behind one method, ``candidates(data) -> {rule_index: line starts}``:

* :class:`HyperscanEngine` runs every rule at once in a Hyperscan block-mode database
  (no ``HS_FLAG_SOM_LEFTMOST``; the match *end* is enough to know the line);
* :class:`ReEngine` finds the lines holding one of a rule's keywords with ``bytes.find``.

Both are only prefilters. The exact spans come from running the rule's Python regex on each
candidate line (:mod:`secretvault.scanning.scanner`), so both backends produce identical
findings as long as each reports a superset of the lines where the rule matches.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from secretvault.scanning.generic import HS_PREFILTERS, PASSWORD_SYNTAX
from secretvault.scanning.rules.base import FLOOR_TAG, Rule

WHOLE_BUFFER = -1  # marker: verify a multiline rule over the whole buffer


@dataclass(slots=True)
class CompiledRule:
    """A rule ready to run: bytes regex (compiled on first use), bytes keywords, flags.

    ``info`` is the Rule, or a stub from the manifest cache; in that case ``loader`` fetches
    the real Rule (validator, description ...) the first time a line needs verifying.
    """

    index: int
    info: Any
    keywords: tuple[bytes, ...]
    multiline: bool
    generic: bool
    floor: bool
    config_only: bool
    header: bool
    password_syntax: bool
    hs_regex: str
    case_insensitive: bool
    loader: Callable[[], Rule] | None = None
    _rule: Rule | None = None
    _pattern: re.Pattern[bytes] | None = None
    _group: int | str = 0

    @property
    def rule(self) -> Rule:
        """The full rule (loaded lazily when built from the manifest)."""
        if self._rule is None:
            self._rule = self.loader() if self.loader is not None else self.info
        return self._rule

    @property
    def pattern(self) -> re.Pattern[bytes]:
        """The verification regex (bytes, ASCII semantics like Hyperscan)."""
        if self._pattern is None:
            flags = re.MULTILINE | (re.IGNORECASE if self.case_insensitive else 0)
            pattern = re.compile(self.info.regex.encode("utf-8"), flags)
            if "secret" in pattern.groupindex:
                self._group = "secret"
            elif pattern.groups == 1:
                self._group = 1
            self._pattern = pattern
        return self._pattern

    @property
    def secret_group(self) -> int | str:
        """Group holding the secret: ``secret``, the only group, or the whole match."""
        _ = self.pattern
        return self._group


def compile_rule(index: int, rule: Any, loader: Callable[[], Rule] | None = None) -> CompiledRule:
    """Prepare ``rule`` (a Rule or manifest stub); its regex compiles on first use."""
    multiline = "multiline" in rule.tags or "\\n" in rule.regex or "[\\s\\S]" in rule.regex
    return CompiledRule(
        index=index,
        info=rule,
        keywords=tuple(k.lower().encode("utf-8") for k in rule.keywords if k),
        multiline=multiline,
        generic="generic" in rule.tags,
        floor=FLOOR_TAG in rule.tags,
        config_only="config-only" in rule.tags,
        header="header" in rule.tags,
        password_syntax=PASSWORD_SYNTAX in rule.tags,
        hs_regex=HS_PREFILTERS.get(rule.regex, rule.regex),
        case_insensitive=rule.case_insensitive,
        loader=loader,
    )


class Engine(Protocol):
    """A prefilter backend."""

    name: str

    def candidates(self, data: bytes) -> dict[int, set[int]]:
        """Map rule index -> start offsets of lines that may match (or ``{WHOLE_BUFFER}``)."""
        ...


def _line_start(data: bytes, pos: int) -> int:
    return data.rfind(b"\n", 0, pos) + 1


class ReEngine:
    """Pure-Python prefilter: a rule is tried on the lines holding one of its keywords."""

    name = "re"

    def __init__(self, rules: list[CompiledRule]) -> None:
        self.rules = rules
        self.by_keyword: dict[bytes, list[int]] = {}
        self.keywordless: list[int] = []
        for r in rules:
            if not r.keywords:
                self.keywordless.append(r.index)
            for k in r.keywords:
                self.by_keyword.setdefault(k, []).append(r.index)
        self.multiline = {r.index for r in rules if r.multiline}

    def candidates(self, data: bytes) -> dict[int, set[int]]:
        """Keyword occurrences -> line starts; keywordless rules get every line."""
        out: dict[int, set[int]] = {}
        lower = data.lower()
        for kw, idxs in self.by_keyword.items():
            pos = lower.find(kw)
            if pos < 0:
                continue
            starts: set[int] = set()
            while pos >= 0:
                ls = _line_start(data, pos)
                starts.add(ls)
                le = data.find(b"\n", pos)
                pos = lower.find(kw, pos + len(kw)) if le < 0 else lower.find(kw, le + 1)
            for i in idxs:
                out.setdefault(i, set()).update(starts)
        if self.keywordless and data:
            every = {0, *(m.end() for m in re.finditer(b"\n", data) if m.end() < len(data))}
            for i in self.keywordless:
                out[i] = set(every)
        for i in self.multiline:
            if i in out:
                out[i] = {WHOLE_BUFFER}
        return out


def _hs_flags(rule: Any) -> int:
    import hyperscan

    flags = hyperscan.HS_FLAG_MULTILINE
    if rule.case_insensitive:
        flags |= hyperscan.HS_FLAG_CASELESS
    return flags


def cache_dir() -> Path:
    """Where serialized Hyperscan databases are cached (``~/.cache/secretvault``)."""
    env = os.environ.get("SECRETVAULT_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "secretvault"


_NEVER_ID = 2**31 - 1


def prune_cache(directory: Path, keep: int = 6) -> None:
    """Delete all but the ``keep`` newest cached databases and manifests of each kind."""
    for pattern in ("hs-*.db", "rules-*.json"):
        files = sorted(directory.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[keep:]:
            with contextlib.suppress(OSError):
                old.unlink()
                old.with_suffix(".rejected").unlink(missing_ok=True)


def hyperscan_available() -> bool:
    """True when the ``hyperscan`` module imports on this machine."""
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True


class HyperscanEngine:
    """Hyperscan block-mode prefilter over all rules; rules it cannot compile use ``re``."""

    name = "hyperscan"

    def __init__(self, rules: list[CompiledRule], *, use_cache: bool = True) -> None:
        import hyperscan

        self._hs = hyperscan
        self.rules = rules
        self.multiline = {r.index for r in rules if r.multiline}
        exprs = [(r.index, r.hs_regex.encode("utf-8"), _hs_flags(r)) for r in rules]
        self.db, rejected = self._load_or_compile(exprs, use_cache)
        self.fallback = ReEngine([r for r in rules if r.index in rejected]) if rejected else None
        self.rejected = rejected
        self._scratch: Any = None

    def _load_or_compile(
        self, exprs: list[tuple[int, bytes, int]], use_cache: bool
    ) -> tuple[Any, set[int]]:
        hs = self._hs
        digest = hashlib.sha256(repr((hs.__version__, exprs)).encode()).hexdigest()[:32]
        path = cache_dir() / f"hs-{digest}.db"
        rejected_path = path.with_suffix(".rejected")
        if use_cache and path.exists():
            try:
                db = hs.loadb(path.read_bytes(), hs.HS_MODE_BLOCK)
                rej = rejected_path.read_text().split() if rejected_path.exists() else []
                return db, {int(x) for x in rej}
            except Exception:  # a stale or foreign cache entry: recompile
                pass
        db, rejected = self._compile(exprs)
        if use_cache:
            self._store(path, hs.dumpb(db), rejected_path, rejected)
        return db, rejected

    def _compile(self, exprs: list[tuple[int, bytes, int]]) -> tuple[Any, set[int]]:
        hs = self._hs
        rejected: set[int] = set()
        ok = list(exprs)
        try:
            return self._build(ok), rejected
        except hs.error:
            pass
        for i, e, f in exprs:
            try:
                self._build([(i, e, f)])
            except hs.error:
                rejected.add(i)
        ok = [x for x in exprs if x[0] not in rejected]
        return self._build(ok), rejected

    def _build(self, exprs: list[tuple[int, bytes, int]]) -> Any:
        hs = self._hs
        db = hs.Database(mode=hs.HS_MODE_BLOCK)
        if not exprs:  # Hyperscan refuses an empty database: add a pattern that never fires
            exprs = [(_NEVER_ID, b"\\x00\\x01\\x02never\\x03\\x04", 0)]
        db.compile(
            expressions=[e for _, e, _ in exprs],
            ids=[i for i, _, _ in exprs],
            flags=[f for _, _, f in exprs],
        )
        return db

    @staticmethod
    def _store(path: Path, blob: bytes, rejected_path: Path, rejected: set[int]) -> None:
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(blob)
            rejected_path.write_text(" ".join(map(str, sorted(rejected))))
            os.replace(tmp, path)
            prune_cache(path.parent)

    def candidates(self, data: bytes) -> dict[int, set[int]]:
        """Run the database once; turn each (rule, match end) into the line it ends on."""
        ends: dict[int, list[int]] = {}

        def on_match(rid: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            lst = ends.get(rid)
            if lst is None:
                ends[rid] = [to]
            elif lst[-1] != to:
                lst.append(to)

        if self._scratch is None:
            self._scratch = self._hs.Scratch(self.db)
        self.db.scan(data, match_event_handler=on_match, scratch=self._scratch)
        out: dict[int, set[int]] = {}
        ends.pop(_NEVER_ID, None)
        for rid, tos in ends.items():
            if rid in self.multiline:
                out[rid] = {WHOLE_BUFFER}
                continue
            starts: set[int] = set()
            line_end = -1
            for to in sorted(tos):
                if to - 1 <= line_end:
                    continue
                ls = _line_start(data, to - 1)
                starts.add(ls)
                line_end = data.find(b"\n", to - 1)
                if line_end < 0:
                    line_end = len(data)
            out[rid] = starts
        if self.fallback is not None:
            out.update(self.fallback.candidates(data))
        return out


def make_engine(rules: list[CompiledRule], name: str = "auto", *, use_cache: bool = True) -> Engine:
    """``auto`` picks Hyperscan when importable, else ``re``; ``hyperscan``/``re`` force one."""
    if name not in ("auto", "hyperscan", "re"):
        raise ValueError(f"unknown engine {name!r}; use auto, hyperscan or re")
    if name == "re" or (name == "auto" and not hyperscan_available()):
        return ReEngine(rules)
    if not hyperscan_available():
        from secretvault.errors import ScanError

        raise ScanError(
            "the hyperscan engine is not installed",
            hint="pip install 'secretvault[fast-scan]' or use --engine re",
        )
    return HyperscanEngine(rules, use_cache=use_cache)
