"""Allowlists: what the user has declared is not a secret.

Sources: an inline pragma on the line (``secretvault:allow``; ``gitleaks:allow`` and
``pragma: allowlist secret`` are honoured too), and a ``.secretvaultignore`` file at the scan
root. That file uses gitignore syntax for paths, plus prefixed lines::

    rule:generic-secret          # disable a rule everywhere
    regex:^AKIA[0-9A-Z]{16}$     # drop secrets matching this regex
    stopword:dev-only            # drop secrets containing this word (case-insensitive)
    fingerprint:<sha256 hex>     # drop one audited finding
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

IGNORE_FILE = ".secretvaultignore"
PRAGMAS = ("secretvault:allow", "gitleaks:allow", "pragma: allowlist secret", "nosec: secret")


def has_pragma(line: str) -> bool:
    """True when the line carries an inline allow pragma."""
    if "allow" not in line:
        return False
    return any(p in line for p in PRAGMAS)


@dataclass
class Allowlist:
    """Path globs, rule ids, secret regexes, stopwords and fingerprints to ignore."""

    paths: list[str] = field(default_factory=list)
    rules: set[str] = field(default_factory=set)
    regexes: list[str] = field(default_factory=list)
    stopwords: set[str] = field(default_factory=set)
    fingerprints: set[str] = field(default_factory=set)
    _path_spec: object | None = field(default=None, repr=False)
    _compiled: list[re.Pattern[str]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._compiled = [re.compile(r) for r in self.regexes]
        self.stopwords = {s.lower() for s in self.stopwords}
        if self.paths:
            import pathspec

            self._path_spec = pathspec.GitIgnoreSpec.from_lines(self.paths)

    def path_allowed(self, rel_path: str) -> bool:
        """True when ``rel_path`` is excluded by a path pattern."""
        spec = self._path_spec
        return bool(spec is not None and spec.match_file(rel_path))  # type: ignore[attr-defined]

    def secret_allowed(self, secret: str, rule_id: str) -> bool:
        """True when the rule is disabled or the secret matches a regex or stopword."""
        if rule_id in self.rules:
            return True
        low = secret.lower()
        if any(s in low for s in self.stopwords):
            return True
        return any(r.search(secret) for r in self._compiled)

    def merged(self, other: Allowlist) -> Allowlist:
        """A new allowlist holding both."""
        return Allowlist(
            paths=self.paths + other.paths,
            rules=self.rules | other.rules,
            regexes=self.regexes + other.regexes,
            stopwords=self.stopwords | other.stopwords,
            fingerprints=self.fingerprints | other.fingerprints,
        )

    @classmethod
    def parse(cls, text: str) -> Allowlist:
        """Parse ``.secretvaultignore`` content."""
        paths: list[str] = []
        out = cls()
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, rest = line.partition(":")
            rest = rest.strip()
            if sep and key == "rule":
                out.rules.add(rest)
            elif sep and key == "regex":
                out.regexes.append(rest)
            elif sep and key == "stopword":
                out.stopwords.add(rest.lower())
            elif sep and key == "fingerprint":
                out.fingerprints.add(rest.lower())
            else:
                paths.append(line)
        return cls(paths, out.rules, out.regexes, out.stopwords, out.fingerprints)

    @classmethod
    def load(cls, root: Path) -> Allowlist:
        """Read ``root/.secretvaultignore`` (empty allowlist when absent)."""
        f = root / IGNORE_FILE
        try:
            return cls.parse(f.read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return cls()
