"""Vault-aware leak detection: exact occurrences of values stored in the vault.

The caller passes ``{name: value}`` in memory; the matcher compiles them into a Hyperscan
literal database (or an ``re`` union of escaped literals) that is never cached or written.
A value counts only when it is not part of a longer token (word-character boundaries), and
values shorter than :data:`MIN_LENGTH` are ignored: that is what keeps this at zero false
positives. Findings carry ``rule_id="known-secret"`` and ``known_secret=<name>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from secretvault.models import SecretType, Severity

if TYPE_CHECKING:
    from secretvault.scanning.scanner import RawMatch

MIN_LENGTH = 8
_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _forms(value: str) -> list[tuple[bytes, str]]:
    """The value as written, plus its base64 (Kubernetes ``data:``) and URL-encoded forms."""
    import base64
    from urllib.parse import quote

    raw = value.encode("utf-8")
    forms = {raw: ""}
    b64 = base64.b64encode(raw)
    forms.setdefault(b64, "base64")
    forms.setdefault(b64.rstrip(b"="), "base64")
    forms.setdefault(base64.urlsafe_b64encode(raw).rstrip(b"="), "base64url")
    forms.setdefault(quote(value, safe="").encode(), "url-encoded")
    return sorted(forms.items())


class KnownMatcher:
    """Finds exact occurrences of known secret values in buffers."""

    def __init__(self, values: Mapping[str, str], types: Mapping[str, SecretType]) -> None:
        items = sorted(
            (name, form, enc)
            for name, v in values.items()
            if v and len(v) >= MIN_LENGTH
            for form, enc in _forms(v)
        )
        self._names = [n for n, _, _ in items]
        self._values = [v for _, v, _ in items]
        self._encodings = [e for _, _, e in items]
        self._types = dict(types)
        self._hs: Any = None
        self._fallback = False
        if not items:
            return
        try:
            import hyperscan

            db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            db.compile(
                expressions=self._values,
                ids=list(range(len(items))),
                flags=[0] * len(items),
                literal=True,
            )
            self._hs = db
        except Exception:  # no hyperscan, or an old one without literal mode
            self._fallback = True

    def __repr__(self) -> str:  # never show values
        return f"KnownMatcher({len(set(self._names))} values)"

    def _spans(self, data: bytes) -> list[tuple[int, int, int]]:
        out: list[tuple[int, int, int]] = []
        if self._hs is not None:

            def on(i: int, _f: int, to: int, _fl: int, _c: object) -> None:
                out.append((i, to - len(self._values[i]), to))

            self._hs.scan(data, match_event_handler=on)
        elif self._fallback:
            for i, v in enumerate(self._values):  # every value, overlaps included
                start = data.find(v)
                while start >= 0:
                    out.append((i, start, start + len(v)))
                    start = data.find(v, start + 1)
        return out

    def find(
        self, data: bytes, path: str, first_line: int = 1, line_numbers: Sequence[int] | None = None
    ) -> list[RawMatch]:
        """Matches of known values in ``data``."""
        from secretvault.scanning.scanner import RawMatch, redacted_context

        results: list[RawMatch] = []
        for i, s, e in sorted(self._spans(data), key=lambda t: (t[1], t[2])):
            value = self._values[i]
            if (value[:1][0] in _WORD and s > 0 and data[s - 1] in _WORD) or (
                value[-1] in _WORD and e < len(data) and data[e] in _WORD
            ):
                continue
            ls = data.rfind(b"\n", 0, s) + 1
            idx = data.count(b"\n", 0, ls)
            lineno = line_numbers[idx] if line_numbers is not None else first_line + idx
            col = len(data[ls:s].decode("utf-8", "replace")) + 1
            secret = value.decode("utf-8")
            le = data.find(b"\n", e)
            line = data[ls : len(data) if le < 0 else le].decode("utf-8", "replace")
            name = self._names[i]
            enc = self._encodings[i]
            results.append(
                RawMatch(
                    rule_id="known-secret",
                    description=f"Value of vault secret {name!r}" + (f" ({enc})" if enc else ""),
                    secret_type=self._types.get(name, SecretType.API_KEY),
                    severity=Severity.CRITICAL,
                    confidence=1.0,
                    path=path,
                    line_number=lineno,
                    column=col,
                    end_column=col + len(secret),
                    secret=secret,
                    known_secret=name,
                    encoding=enc,
                    context=redacted_context(line, col - 1, col - 1 + len(secret), secret),
                )
            )
        return results
