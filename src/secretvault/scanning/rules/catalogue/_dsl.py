"""A tiny vocabulary for writing rules as data.

A token is described once as a sequence of *segments* — a literal (``"ghp_"``), a character
class with a length (``("a62", 36)`` / ``("hex", 32, 40)``) or a raw regex with its own
generator (:class:`Raw`). From that single description :func:`tok` derives the regex (with word
boundaries on both ends), a random positive example and the standard near-misses (one char
short, one char long, placeholder filler, glued to a preceding word). :func:`ctx` does the same
for prefix-less formats that are only reported next to a provider keyword (``DATADOG_API_KEY =
"..."``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from secretvault.models import SecretType, Severity
from secretvault.scanning.rules.base import Rule
from secretvault.scanning.rules.gen import chars
from secretvault.scanning.rules.validators import (
    Validator,
    all_of,
    digit_and_letter,
    not_placeholder,
    strip_prefix,
)

ST = SecretType
SEV = Severity

# name -> (regex class body, alphabet used by examples)
CHARSETS: dict[str, tuple[str, str]] = {
    "a62": ("A-Za-z0-9", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
    "hex": ("a-f0-9", "0123456789abcdef"),
    "HEX": ("A-F0-9", "0123456789ABCDEF"),
    "hexi": ("a-fA-F0-9", "0123456789abcdef"),
    "l36": ("a-z0-9", "abcdefghijklmnopqrstuvwxyz0123456789"),
    "u36": ("A-Z0-9", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
    "alpha": ("A-Za-z", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
    "lower": ("a-z", "abcdefghijklmnopqrstuvwxyz"),
    "b64u": ("A-Za-z0-9_-", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"),
    "b64": ("A-Za-z0-9+/", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
    "dig": ("0-9", "0123456789"),
    "b32l": ("a-z2-7", "abcdefghijklmnopqrstuvwxyz234567"),
    "b32u": ("A-Z2-7", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
}
_WORD = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


@dataclass(frozen=True)
class Raw:
    """A regex fragment the segment vocabulary cannot express, with its example generator."""

    regex: str
    make: Callable[[random.Random], str]
    tail: str = ""  # characters (beyond word chars) it may end with, for the right boundary


Seg = str | tuple[str, int] | tuple[str, int, int] | Raw
Segs = Sequence[Seg]


def uuid(cs: str = "hexi") -> tuple[Seg, ...]:
    return ((cs, 8), "-", (cs, 4), "-", (cs, 4), "-", (cs, 4), "-", (cs, 12))


def _cls(seg: tuple[str, int] | tuple[str, int, int]) -> str:
    return CHARSETS[seg[0]][0]


def seg_regex(segs: Segs) -> str:
    out = []
    for seg in segs:
        if isinstance(seg, str):
            out.append(re.escape(seg))
        elif isinstance(seg, Raw):
            out.append(seg.regex)
        elif len(seg) == 2:
            out.append(f"[{_cls(seg)}]{{{seg[1]}}}")
        else:
            out.append(f"[{_cls(seg)}]{{{seg[1]},{seg[2]}}}")
    return "".join(out)


def seg_make(rng: random.Random, segs: Segs, delta: int = 0, filler: str | None = None) -> str:
    """Example text; ``delta`` changes the length of the last class segment (near-misses)."""
    last = max((i for i, s in enumerate(segs) if isinstance(s, tuple)), default=-1)
    out = []
    for i, seg in enumerate(segs):
        if isinstance(seg, str):
            out.append(seg)
        elif isinstance(seg, Raw):
            out.append(seg.make(rng))
        else:
            alphabet = CHARSETS[seg[0]][1]
            n = seg[1] if len(seg) == 2 else rng.randint(seg[1], seg[2])
            if i == last and delta:
                n = (seg[1] if delta < 0 else seg[-1]) + delta
            fill = filler if filler and filler in alphabet else alphabet[0]
            out.append(fill * n if filler else chars(rng, alphabet, n))
    return "".join(out)


def _edge_word(seg: Seg, first: bool) -> tuple[bool, str]:
    """(is the edge a word character only, extra non-word chars the edge class may contain)."""
    if isinstance(seg, str):
        ch = seg[0] if first else seg[-1]
        return ch in _WORD, ""
    if isinstance(seg, Raw):
        return not seg.tail, seg.tail
    extra = "".join(sorted({c for c in CHARSETS[seg[0]][1] if c not in _WORD}))
    return not extra, extra


def left_edge(segs: Segs) -> str:
    word, _ = _edge_word(segs[0], True)
    return r"\b" if word else ""


def right_edge(segs: Segs) -> str:
    word, extra = _edge_word(segs[-1], False)
    if word:
        return r"\b"
    if isinstance(segs[-1], str):
        return ""
    esc = "".join("\\" + c if c in "-]\\^" else c for c in extra)
    return f"(?:[^A-Za-z0-9_{esc}]|$)"


TEMPLATES = (
    'token = "{}"',
    "export SERVICE_TOKEN={}",
    '  "credential": "{}",',
    "auth: '{}'",
    "Authorization: {}",
)
CTX_TEMPLATES = (
    '{NAME} = "{v}"',
    "export {NAME}={v}",
    '  "{name}": "{v}",',
    "{name}: '{v}'",
    "{name} => '{v}'",
    "{dotted}={v}",
    "<{camel}>{v}</{camel}>",
    '<add key="{camel}" value="{v}" />',
    "Use the {spaced} {v} for the staging account.",
)
# Between a provider-named key and its value: the rest of the identifier, then an assignment
# (``=``, ``:``, ``:=``, ``=>``), an XML close ``>``, a ``,``, `` value=`` (XML attribute) or
# plain whitespace (prose). Unbounded ``*`` rather than ``{0,n}``: Hyperscan compiles bounded
# repeats of overlapping classes slowly, and the value's fixed shape is what keeps precision.
# A quote may be backslash-escaped (JSON inside a string literal), and PowerShell passes the
# value through ``ConvertTo-SecureString "…" -AsPlainText``.
CTX_REGEX = (
    r"""[\w. -]*\\?["']?(?:[ \t]*(?:[:=]=?|=>|>|,)|[ \t]+(?:value=)?)[ \t]*"""
    r"""(?:(?i:ConvertTo-SecureString)[ \t]+)?\\?["'\x60]?"""
)


def name_forms(name: str) -> dict[str, str]:
    """One variable name in the spellings config files use (UPPER, snake, dotted, camel ...)."""
    low = name.lower()
    parts = [p for p in low.replace(".", "_").replace("-", "_").split("_") if p]
    return {
        "NAME": name.upper(),
        "name": low,
        "dotted": ".".join(parts),
        "camel": parts[0] + "".join(p.capitalize() for p in parts[1:]),
        "spaced": " ".join(parts),
    }


def rule(
    id: str,
    description: str,
    regex: str,
    keywords: Sequence[str],
    example: Callable[[random.Random], str],
    *,
    st: SecretType = ST.API_KEY,
    sev: Severity = SEV.HIGH,
    conf: float = 0.9,
    negatives: Callable[[random.Random], list[str]] | None = None,
    check: Validator | None = None,
    ci: bool = False,
    tags: Sequence[str] = (),
) -> Rule:
    """Plain constructor with the catalogue's defaults."""
    return Rule(
        id=id,
        description=description,
        secret_type=st,
        severity=sev,
        confidence=conf,
        regex=regex,
        keywords=tuple(k.lower() for k in keywords),
        example=example,
        negatives=negatives or (lambda _rng: []),
        validate=check,
        case_insensitive=ci,
        tags=tuple(tags),
    )


def _sized(segs: Segs, start: int = 1) -> bool:
    """Whether length/filler near-misses can be derived (no free-form :class:`Raw` body)."""
    return not any(isinstance(s, Raw) for s in segs[start:])


def tok(
    id: str,
    description: str,
    *segs: Seg,
    kw: Sequence[str] | None = None,
    st: SecretType = ST.API_KEY,
    sev: Severity = SEV.HIGH,
    conf: float = 0.9,
    check: Validator | None = None,
    make: Callable[[random.Random], str] | None = None,
    neg: Callable[[random.Random], list[str]] | None = None,
    plausible: bool = True,
    auto_neg: bool = True,
    tags: Sequence[str] = (),
) -> Rule:
    """A self-identifying token: literal prefix (or marker) plus fixed-shape body."""
    prefix = segs[0] if isinstance(segs[0], str) else ""
    keywords = tuple(kw) if kw is not None else (prefix.lower(),)
    regex = f"{left_edge(segs)}(?P<secret>{seg_regex(segs)}){right_edge(segs)}"
    gen = make or (lambda rng: seg_make(rng, segs))
    sized = _sized(segs)

    def example(rng: random.Random) -> str:
        return rng.choice(TEMPLATES).format(gen(rng))

    def negatives(rng: random.Random) -> list[str]:
        out = list(neg(rng)) if neg else []
        if auto_neg and sized:
            out.append(seg_make(rng, segs, delta=-1))
            if not isinstance(segs[-1], str | Raw):
                out.append(seg_make(rng, segs, delta=+1))
            if plausible:
                out.append(seg_make(rng, segs, filler="x"))
        if auto_neg and left_edge(segs):
            out.append("Q" + gen(rng))
        return [rng.choice(TEMPLATES).format(n) for n in out]

    validate = all_of(strip_prefix(prefix, not_placeholder) if plausible else None, check)
    return rule(
        id, description, regex, keywords, example, st=st, sev=sev, conf=conf,
        negatives=negatives, check=validate, tags=tags,
    )  # fmt: skip


def ctx(
    id: str,
    description: str,
    key: str,
    names: Sequence[str],
    *segs: Seg,
    kw: Sequence[str],
    st: SecretType = ST.API_KEY,
    sev: Severity = SEV.HIGH,
    conf: float = 0.75,
    check: Validator | None = None,
    plausible: bool = True,
    tags: Sequence[str] = (),
) -> Rule:
    """A prefix-less value reported only when assigned to a provider-named key.

    ``key`` is a lower-case regex matched case-insensitively; ``names`` are realistic variable
    names (each must match ``key``) used to build examples.
    """
    regex = f"(?i:{key}){CTX_REGEX}(?P<secret>{seg_regex(segs)}){right_edge(segs)}"

    key_re = re.compile(f"(?i:{key})")
    # Only the spellings of each example name that the key pattern accepts.
    forms = [
        (template, name_forms(name))
        for name in names
        for template in CTX_TEMPLATES
        if key_re.search(template.format(v="", **name_forms(name)))
    ]

    def render(rng: random.Random, value: str, name: str | None = None) -> str:
        if name is not None:
            return rng.choice(CTX_TEMPLATES).format(v=value, **name_forms(name))
        template, form = rng.choice(forms)
        return template.format(v=value, **form)

    def example(rng: random.Random) -> str:
        return render(rng, seg_make(rng, segs))

    def base_negatives(rng: random.Random) -> list[str]:
        out = [
            render(rng, seg_make(rng, segs), name="build_number"),
            rng.choice(TEMPLATES).format(seg_make(rng, segs)),
        ]
        if _sized(segs, 0):
            out.append(render(rng, seg_make(rng, segs, delta=-1)))
            out.append(render(rng, seg_make(rng, segs, filler="x")))
        return out

    # A free-form value (one mixed class, no literal) next to a keyword could be an identifier
    # such as ``ValueAtlassianTokenCheck``: require a digit and a letter, as random tokens have.
    free_form = (
        len(segs) == 1
        and isinstance(segs[0], tuple)
        and segs[0][0] in ("a62", "b64u", "b64", "l36", "u36", "hex", "hexi")
        and segs[0][1] >= 20
    )
    checks = all_of(
        not_placeholder if plausible else None, digit_and_letter if free_form else None, check
    )

    def negatives(rng: random.Random) -> list[str]:
        out = base_negatives(rng)
        if free_form:
            out.append(render(rng, "ValueIdentifierLooksLikeTokenCheck"[: segs[0][1]]))  # type: ignore[index]
        return out

    return rule(
        id, description, regex, kw, example, st=st, sev=sev, conf=conf,
        negatives=negatives, check=checks, tags=tags,
    )  # fmt: skip
