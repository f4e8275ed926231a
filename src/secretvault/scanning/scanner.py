"""The scanner: rules + engine + filters + allowlist -> matches for buffers, files and trees.

Internally a match is a :class:`RawMatch` that still holds the secret (fix and baseline need
it); everything leaving the package goes through :meth:`RawMatch.to_finding`, which keeps
only a redacted form and the fingerprint.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from itertools import chain
from typing import TYPE_CHECKING

from secretvault.models import SecretFinding, SecretType, Severity
from secretvault.scanning import filters, generic
from secretvault.scanning.allowlist import Allowlist, has_pragma
from secretvault.scanning.engine import (
    WHOLE_BUFFER,
    CompiledRule,
    Engine,
    compile_rule,
    make_engine,
)
from secretvault.scanning.rules.base import Rule

if TYPE_CHECKING:
    from secretvault.scanning.manifest import RuleStub

Hit = tuple[CompiledRule, int, int, int, "bytes | None"]  # rule, line start, start, end, name
CHUNK_SIZE = 8 * 1024 * 1024
PARALLEL_MIN_FILES = 64
PARALLEL_MIN_BYTES = 4 * 1024 * 1024
MAX_GENERIC_LINE = 1000  # bytes; longer lines are minified/generated code
KNOWN_RULE_ID = "known-secret"


def redact(secret: str) -> str:
    """At most the first 4 characters, an ellipsis and the length: ``ghp_…(40)``."""
    keep = 4 if len(secret) >= 12 else min(2, len(secret) // 4)
    return f"{secret[:keep]}…({len(secret)})"


def fingerprint(path: str, rule_id: str, secret: str) -> str:
    """sha256 of (normalised path, rule id, secret): stable when lines move."""
    norm = path.replace("\\", "/").lstrip("./") if path not in (".", "") else path
    return hashlib.sha256(f"{norm}\0{rule_id}\0{secret}".encode()).hexdigest()


def redacted_context(line: str, start: int, end: int, secret: str, width: int = 60) -> str:
    """``line`` around ``[start, end)`` with the secret replaced by its redacted form."""
    left = line[max(0, start - width) : start]
    right = line[end : end + width]
    text = (left + redact(secret) + right).strip()
    return text.replace(secret, redact(secret))


@dataclass(slots=True)
class RawMatch:
    """A confirmed match, secret included. Never leaves the process in this form."""

    rule_id: str
    description: str
    secret_type: SecretType
    severity: Severity
    confidence: float
    path: str
    line_number: int
    column: int
    end_column: int
    secret: str = field(repr=False)  # never printed
    generic: bool = False
    floor: bool = False  # reported by a guide floor rule: the provider rule did not confirm it
    name: str | None = None
    known_secret: str | None = None
    commit: str | None = None
    author: str | None = None
    date: datetime | None = None
    encoding: str = ""  # known secrets: "", "base64", "base64url" or "url-encoded"
    context: str = ""  # the line around the match, secret already redacted

    @property
    def fingerprint(self) -> str:
        """Identity of the finding (file + rule + secret hash)."""
        return fingerprint(self.path, self.rule_id, self.secret)

    def to_finding(self) -> SecretFinding:
        """The public, redacted finding."""
        return SecretFinding(
            file_path=self.path,
            line_number=self.line_number,
            column=self.column,
            end_column=self.end_column,
            secret_type=self.secret_type,
            severity=self.severity,
            confidence=self.confidence,
            rule_id=self.rule_id,
            description=self.description,
            match=redact(self.secret),
            fingerprint=self.fingerprint,
            commit=self.commit,
            author=self.author,
            date=self.date,
            known_secret=self.known_secret,
        )


def _priority(m: RawMatch) -> tuple[int, int, int, float, int]:
    return (
        0 if m.known_secret else 1,
        2 if m.generic else 1 if m.floor else 0,
        -(m.end_column - m.column),
        -m.confidence,
        -m.severity.rank,
    )


@dataclass(frozen=True, slots=True)
class Veto:
    """A span a provider rule recognised but rejected (bad checksum, bad JWT header ...).

    Generic detection must not report it: the specific rule knows better.
    """

    path: str
    line_number: int
    column: int
    end_column: int


def dedupe(matches: list[RawMatch], vetoes: Iterable[Veto] = ()) -> list[RawMatch]:
    """Keep one match per overlapping span on a line: known > provider > guide floor > generic.

    A vetoed span (a provider rule rejected its structure) is never reported by a generic
    rule; a guide floor reports it, at its lower confidence.
    """
    kept: list[RawMatch] = []
    spans: dict[tuple[str, int], list[tuple[int, int]]] = {}
    vetoed: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for v in vetoes:
        vetoed.setdefault((v.path, v.line_number), []).append((v.column, v.end_column))
    for m in sorted(matches, key=_priority):
        if m.generic and any(
            m.column < e and s < m.end_column for s, e in vetoed.get((m.path, m.line_number), ())
        ):
            continue
        taken = spans.setdefault((m.path, m.line_number), [])
        if any(m.column < e and s < m.end_column for s, e in taken):
            continue
        taken.append((m.column, m.end_column))
        kept.append(m)
    kept.sort(key=lambda m: (m.path, m.line_number, m.column, m.rule_id))
    return kept


@dataclass
class ScanStats:
    """What a tree scan read."""

    files_scanned: int = 0
    bytes_scanned: int = 0
    binary_files: int = 0  # walked but found binary by content (a NUL byte in the first 8 KiB)
    errors: list[str] = field(default_factory=list)


class Scanner:
    """Everything needed to scan: compiled rules, an engine, filters and allowlists."""

    def __init__(
        self,
        rules: Sequence[Rule] | None = None,
        *,
        engine: str = "auto",
        secret_types: Iterable[SecretType] | None = None,
        allowlist: Allowlist | None = None,
        generic_detection: bool = True,
        known_secrets: Mapping[str, str] | None = None,
        known_types: Mapping[str, SecretType] | None = None,
        use_cache: bool = True,
    ) -> None:
        loader = None
        infos: Sequence[Rule | RuleStub]
        if rules is None:
            from secretvault.scanning.manifest import default_rules

            infos, loader = default_rules(use_cache)
            if not generic_detection:
                infos = [r for r in infos if "generic" not in r.tags]
            own = {r.regex: r for r in generic.GENERIC_RULES}  # no catalogue import for these
            infos = [own.get(r.regex, r) if "generic" in r.tags else r for r in infos]
        else:
            infos = list(rules)
            if generic_detection and not any("generic" in r.tags for r in infos):
                infos.extend(generic.GENERIC_RULES)
        self.secret_types = frozenset(secret_types) if secret_types else None
        self.allowlist = allowlist or Allowlist()
        keep = [
            (i, r)
            for i, r in enumerate(infos)
            if r.id not in self.allowlist.rules
            and (
                self.secret_types is None
                or "generic" in r.tags
                or r.secret_type in self.secret_types
            )
        ]
        self.compiled: list[CompiledRule] = [
            compile_rule(n, r, _lazy(loader, i, r)) for n, (i, r) in enumerate(keep)
        ]
        self.engine: Engine = make_engine(self.compiled, engine, use_cache=use_cache)
        self.known = None
        if known_secrets:
            from secretvault.scanning.known import KnownMatcher

            self.known = KnownMatcher(known_secrets, known_types or {})

    @property
    def engine_name(self) -> str:
        """``hyperscan`` or ``re``."""
        return self.engine.name

    # -- buffers -----------------------------------------------------------------------------

    def scan_bytes(
        self,
        data: bytes,
        path: str,
        *,
        first_line: int = 1,
        line_numbers: Sequence[int] | None = None,
    ) -> list[RawMatch]:
        """Matches in ``data`` (one file or chunk). ``line_numbers`` maps line index -> number."""
        if not data:
            return []
        found: list[Hit] = []
        config = None
        for idx, starts in self.engine.candidates(data).items():
            cr = self.compiled[idx]
            if cr.config_only:
                config = generic.is_config_path(path) if config is None else config
                if not config:
                    continue  # generic.accept would reject every match in this file
            if WHOLE_BUFFER in starts:
                found.extend(
                    (cr, _line_start(data, m.start()), *_span(cr, m), _name(cr, m))
                    for m in cr.pattern.finditer(data)
                )
                continue
            for ls in starts:
                found.extend(self._verify_line(cr, data, ls))
        out: list[RawMatch] = []
        vetoes: list[Veto] = []
        for m in self._materialise(found, data, path, first_line, line_numbers):
            if isinstance(m, RawMatch):
                out.append(m)
            elif m is not None:
                vetoes.append(m)
        if self.known is not None:
            out.extend(self.known.find(data, path, first_line, line_numbers))
        return dedupe(out, vetoes)

    def _verify_line(self, cr: CompiledRule, data: bytes, ls: int) -> list[Hit]:
        le = data.find(b"\n", ls)
        line = data[ls:] if le < 0 else data[ls:le]
        if cr.generic and len(line) > MAX_GENERIC_LINE:
            return []  # minified code: filters.is_minified would drop it anyway
        if cr.keywords:
            low = line.lower()
            if not any(k in low for k in cr.keywords):
                return []
        return [
            (cr, ls, ls + s, ls + e, _name(cr, m))
            for m in cr.pattern.finditer(line)
            for s, e in [_span(cr, m)]
        ]

    def _materialise(
        self,
        found: list[Hit],
        data: bytes,
        path: str,
        first_line: int,
        line_numbers: Sequence[int] | None,
    ) -> Iterable[RawMatch | Veto | None]:
        if not found:
            return
        found.sort(key=lambda t: (t[1], t[2], t[0].index))
        prev, count = 0, 0
        for cr, ls, s, e, name in found:
            count += data.count(b"\n", prev, ls)
            prev = ls
            le = data.find(b"\n", ls)
            line_b = data[ls:] if le < 0 else data[ls:le]
            lineno = line_numbers[count] if line_numbers is not None else first_line + count
            next_b = b""
            if cr.floor and le >= 0:  # floor filters look one line ahead (a PEM body)
                ne = data.find(b"\n", le + 1)
                next_b = data[le + 1 :] if ne < 0 else data[le + 1 : ne]
            yield self._confirm(cr, line_b, data[s:e], s - ls, path, lineno, name, next_b)

    def _confirm(
        self,
        cr: CompiledRule,
        line_b: bytes,
        secret_b: bytes,
        s: int,
        path: str,
        lineno: int,
        name_b: bytes | None,
        next_b: bytes = b"",
    ) -> RawMatch | Veto | None:
        line = line_b.decode("utf-8", "replace")
        col = len(line_b[:s].decode("utf-8", "replace"))
        secret = secret_b.decode("utf-8", "replace")
        if not secret or has_pragma(line):
            return None
        rule = cr.rule
        stype, name = rule.secret_type, None
        confidence, severity = rule.confidence, rule.severity
        if cr.generic:
            name = (name_b or b"").decode("utf-8", "replace")
            verdict = generic.accept(
                name, secret, path, cr.config_only, cr.header, cr.password_syntax
            )
            if verdict is None:
                return None
            stype, confidence, severity = verdict
            if self.secret_types is not None and stype not in self.secret_types:
                return None
        end_col = col + len(secret)
        cand = filters.Candidate(
            secret,
            line,
            path,
            col,
            min(end_col, len(line)),
            rule.id,
            next_b.decode("utf-8", "replace"),
        )
        if filters.dropped_by(cand, cr.generic, cr.floor):
            return None
        if rule.validate is not None and not rule.validate(secret):
            return Veto(path, lineno, col + 1, end_col + 1)
        if self.allowlist.secret_allowed(secret, rule.id):
            return None
        raw = RawMatch(
            rule.id,
            rule.description,
            stype,
            severity,
            confidence,
            path,
            lineno,
            col + 1,
            end_col + 1,
            secret,
            cr.generic,
            cr.floor,
            name,
            context=redacted_context(line, col, end_col, secret),
        )
        if self.allowlist.fingerprints and raw.fingerprint in self.allowlist.fingerprints:
            return None
        return raw

    # -- files -------------------------------------------------------------------------------

    def scan_file(self, abs_path: str, rel_path: str) -> tuple[list[RawMatch], int]:
        """Scan one file in line-aligned chunks (bounded memory); returns (matches, bytes)."""
        out: list[RawMatch] = []
        total = 0
        line = 1
        fd = os.open(abs_path, _O_FLAGS)
        try:
            head = _read(fd, CHUNK_SIZE)
            if b"\x00" in head[:8192]:
                return [], 0
            if len(head) < CHUNK_SIZE:  # the common case: one read, one scan
                return self.scan_bytes(head, rel_path), len(head)
            carry = b""
            buf = head
            while buf or carry:
                data = carry + buf
                nxt = _read(fd, CHUNK_SIZE) if buf else b""
                if nxt:
                    cut = data.rfind(b"\n") + 1 or len(data)
                    data, carry = data[:cut], data[cut:]
                else:
                    carry = b""
                out.extend(self.scan_bytes(data, rel_path, first_line=line))
                total += len(data)
                if nxt:
                    line += data.count(b"\n")
                buf = nxt
        finally:
            os.close(fd)
        return out, total

    def scan_paths(
        self,
        files: Iterable[tuple[str, str, int]],
        *,
        jobs: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[list[RawMatch], ScanStats]:
        """Scan ``(abs, rel, size)`` triples, in a process pool once the tree proves large.

        ``files`` may be a lazy walk: workers start scanning while the walk goes on.
        ``progress(done, total)`` gets ``total=0`` when the number of files is not known.
        """
        total = len(files) if isinstance(files, Sized) else 0
        it = (f for f in files if not self.allowlist.path_allowed(f[1]))
        jobs = jobs if jobs is not None else len(os.sched_getaffinity(0))
        head: list[tuple[str, str, int]] = []
        size = 0
        large = False
        for f in it:
            head.append(f)
            size += f[2]
            if len(head) >= PARALLEL_MIN_FILES and size >= PARALLEL_MIN_BYTES:
                large = True
                break
        if large and jobs > 1:
            from secretvault.scanning.parallel import fork_is_safe, scan_parallel

            if fork_is_safe():
                return scan_parallel(self, chain(head, it), jobs, progress, total)
        return self._scan_serial(chain(head, it), progress, total)

    def _scan_serial(
        self,
        files: Iterable[tuple[str, str, int]],
        progress: Callable[[int, int], None] | None,
        total: int,
    ) -> tuple[list[RawMatch], ScanStats]:
        stats = ScanStats()
        matches: list[RawMatch] = []
        for i, (abs_path, rel, _size) in enumerate(files):
            try:
                found, n = self.scan_file(abs_path, rel)
            except OSError as exc:
                stats.errors.append(f"{rel}: {exc.strerror or exc}")
                continue
            matches.extend(found)
            stats.files_scanned += 1 if n else 0
            stats.binary_files += 0 if n else 1
            stats.bytes_scanned += n
            if progress is not None:
                progress(i + 1, total)
        return matches, stats

    def with_context(self, matches: Iterable[RawMatch], **ctx: object) -> list[RawMatch]:
        """Copies of ``matches`` carrying commit/author/date."""
        return [replace(m, **ctx) for m in matches]  # type: ignore[arg-type]


def _lazy(
    loader: Callable[[int], Rule] | None, index: int, info: object
) -> Callable[[], Rule] | None:
    """A loader for manifest stubs; None for real rules."""
    return None if loader is None or isinstance(info, Rule) else partial(loader, index)


_O_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)


def _read(fd: int, n: int) -> bytes:
    """Up to ``n`` bytes (short only at end of file)."""
    parts = []
    while n > 0:
        chunk = os.read(fd, n)
        if not chunk:
            break
        parts.append(chunk)
        n -= len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _line_start(data: bytes, pos: int) -> int:
    return data.rfind(b"\n", 0, pos) + 1


def _name(cr: CompiledRule, m: re.Match[bytes]) -> bytes | None:
    if not cr.generic or "name" not in m.re.groupindex:
        return None
    return m.group("name")


def _span(cr: CompiledRule, m: object) -> tuple[int, int]:
    g = cr.secret_group
    s, e = m.span(g)  # type: ignore[attr-defined]
    if s < 0:
        s, e = m.span(0)  # type: ignore[attr-defined]
    return s, e
