"""Generated-value policies: length and character classes per SecretType (docs/rotation.md).

The options are AWS Secrets Manager ``GetRandomPassword``'s, so a policy written for one reads
the same here::

    rotation:
      policies:
        database_password: {length: 40, exclude_characters: "'\\"@/\\\\", exclude_punctuation: true}

A type without a policy keeps its built-in generator (``generators.py``).
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any

from secretvault.errors import ConfigurationError
from secretvault.models import SecretType

#: AWS GetRandomPassword's punctuation set.
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


@dataclass(frozen=True, slots=True)
class ValuePolicy:
    """How to generate a new value: AWS GetRandomPassword's options."""

    length: int = 32
    exclude_characters: str = ""
    exclude_numbers: bool = False
    exclude_punctuation: bool = False
    exclude_uppercase: bool = False
    exclude_lowercase: bool = False
    include_space: bool = False
    require_each_included_type: bool = True

    def classes(self) -> list[str]:
        """The included character classes, each minus the excluded characters."""
        wanted = [
            (not self.exclude_lowercase, string.ascii_lowercase),
            (not self.exclude_uppercase, string.ascii_uppercase),
            (not self.exclude_numbers, string.digits),
            (not self.exclude_punctuation, PUNCTUATION),
            (self.include_space, " "),
        ]
        out = []
        for keep, chars in wanted:
            if keep:
                left = "".join(c for c in chars if c not in self.exclude_characters)
                if left:
                    out.append(left)
        return out

    def generate(self) -> str:
        """A random value obeying the policy (one of each class first when required)."""
        classes = self.classes()
        alphabet = "".join(classes)
        rng = secrets.SystemRandom()
        chars = [rng.choice(c) for c in classes] if self.require_each_included_type else []
        chars += [rng.choice(alphabet) for _ in range(self.length - len(chars))]
        rng.shuffle(chars)
        return "".join(chars)


_FIELDS = {f for f in ValuePolicy.__dataclass_fields__}


def parse_policies(raw: dict[str, dict[str, Any]], key: str) -> dict[SecretType, ValuePolicy]:
    """Settings ``rotation.policies`` → policies per type; errors name the offending key."""
    out: dict[SecretType, ValuePolicy] = {}
    for type_name, options in raw.items():
        where = f"{key}.{type_name}"
        try:
            secret_type = SecretType(type_name)
        except ValueError:
            raise ConfigurationError(
                f"{where}: unknown secret type {type_name!r}",
                hint="one of " + ", ".join(t.value for t in SecretType),
            ) from None
        if not isinstance(options, dict):
            raise ConfigurationError(f"{where}: expected a mapping of options")
        unknown = sorted(set(options) - _FIELDS)
        if unknown:
            raise ConfigurationError(
                f"{where}.{unknown[0]}: unknown policy option",
                hint="options: " + ", ".join(sorted(_FIELDS)),
            )
        try:
            policy = ValuePolicy(**options)
        except TypeError as exc:
            raise ConfigurationError(f"{where}: {exc}") from None
        if not isinstance(policy.length, int) or not 4 <= policy.length <= 4096:
            raise ConfigurationError(f"{where}.length: must be an integer from 4 to 4096")
        classes = policy.classes()
        if not classes:
            raise ConfigurationError(f"{where}: the policy excludes every character")
        if policy.require_each_included_type and len(classes) > policy.length:
            raise ConfigurationError(f"{where}.length: too short for one of each character class")
        out[secret_type] = policy
    return out
