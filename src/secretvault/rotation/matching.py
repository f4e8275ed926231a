"""Which rotator and verifier a secret gets: ``match`` patterns and the rule lists.

A pattern is a name glob (``app-*``), ``tag:T``, ``service:S`` or ``type:T``. Rules registered
from Python come before the settings' (newest first), and within each list the first match wins.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from secretvault.errors import ConfigurationError
from secretvault.models import SecretType

if TYPE_CHECKING:
    from secretvault.config import SecretsConfig
    from secretvault.models import SecretRecord
    from secretvault.rotation.policy import ValuePolicy
    from secretvault.rotation.rotators import Rotator
    from secretvault.rotation.verifiers import Verifier

T = TypeVar("T")
_GLOB = re.compile(r"^[A-Za-z0-9_.*?\[\]!-]+$")
SETTINGS_KEY = "secrets_management.rotation"


@dataclass(frozen=True, slots=True)
class Match:
    """A parsed ``match`` pattern."""

    field: str  # name | tag | service | type
    value: str

    @classmethod
    def parse(cls, pattern: object, key: str = "match") -> Match:
        """Parse a pattern; a bad one is a ``ConfigurationError`` naming ``key``."""
        if isinstance(pattern, SecretType):
            return cls("type", pattern.value)
        if not isinstance(pattern, str) or not pattern.strip():
            raise ConfigurationError(
                f"{key}: expected a pattern", hint="a name glob, tag:T, service:S or type:T"
            )
        prefix, sep, rest = pattern.partition(":")
        if not sep:
            if not _GLOB.match(pattern):
                raise ConfigurationError(
                    f"{key}: {pattern!r} is not a name glob",
                    hint="names use letters, digits, '-', '_', '.'; or tag:T, service:S, type:T",
                )
            return cls("name", pattern)
        if prefix not in ("tag", "service", "type") or not rest:
            raise ConfigurationError(
                f"{key}: unknown match {pattern!r}", hint="a name glob, tag:T, service:S or type:T"
            )
        if prefix == "type":
            try:
                SecretType(rest)
            except ValueError:
                raise ConfigurationError(
                    f"{key}: unknown secret type {rest!r}",
                    hint="one of " + ", ".join(t.value for t in SecretType),
                ) from None
        return cls(prefix, rest)

    def matches(self, record: SecretRecord) -> bool:
        """Does ``record`` fall under this pattern?"""
        if self.field == "name":
            return fnmatch.fnmatchcase(record.name, self.value)
        if self.field == "tag":
            return self.value in record.metadata.tags
        if self.field == "service":
            return record.metadata.service == self.value
        return record.secret_type.value == self.value


def legacy_pattern(key: object) -> object:
    """``register_verifier``'s key as SPEC has it: a secret name or a SecretType (a string
    naming a type, e.g. "api_key", means the type); anything else is a match pattern."""
    if isinstance(key, str) and key in SecretType._value2member_map_:
        return SecretType(key)
    return key


@dataclass(slots=True)
class RuleList(Generic[T]):
    """Python-registered rules (newest first) before settings rules; first match wins."""

    registered: list[tuple[Match, T]] = field(default_factory=list)
    configured: list[tuple[Match, T]] = field(default_factory=list)

    def add(self, pattern: object, item: T) -> None:
        """Register ``item`` for ``pattern`` (it wins over earlier and configured rules)."""
        self.registered.insert(0, (Match.parse(pattern, "pattern"), item))

    def find(self, record: SecretRecord) -> T | None:
        """The item of the first rule matching ``record``."""
        for match, item in self.registered:
            if match.matches(record):
                return item
        for match, item in self.configured:
            if match.matches(record):
                return item
        return None


@dataclass(slots=True)
class Rules:
    """The rotators, verifiers and value policies of one vault."""

    rotators: RuleList[Rotator] = field(default_factory=RuleList)
    verifiers: RuleList[Verifier] = field(default_factory=RuleList)
    policies: dict[SecretType, ValuePolicy] = field(default_factory=dict)

    def load(self, config: SecretsConfig) -> None:
        """(Re)read the settings' rules; errors name the offending key."""
        from secretvault.rotation.policy import parse_policies
        from secretvault.rotation.rotators import rotator_from_settings
        from secretvault.rotation.verifiers import verifier_from_settings

        self.rotators.configured = [
            (Match.parse(spec.get("match"), f"{key}.match"), rotator_from_settings(spec, key))
            for key, spec in _entries(config.rotators, f"{SETTINGS_KEY}.rotators")
        ]
        self.verifiers.configured = [
            (Match.parse(spec.get("match"), f"{key}.match"), verifier_from_settings(spec, key))
            for key, spec in _entries(config.rotation_verifiers, f"{SETTINGS_KEY}.verifiers")
        ]
        self.policies = parse_policies(config.rotation_policies, f"{SETTINGS_KEY}.policies")


def _entries(raw: list[dict[str, Any]], key: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for i, spec in enumerate(raw):
        where = f"{key}[{i}]"
        if not isinstance(spec, dict):
            raise ConfigurationError(f"{where}: expected a mapping with match and kind")
        if "match" not in spec:
            raise ConfigurationError(f"{where}.match: required", hint="e.g. match: app-db")
        out.append((where, spec))
    return out
