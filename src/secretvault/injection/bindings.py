"""What a binding's ``spec`` holds, and reading/merging it.

A binding is one secret delivered to one named target (``backends.base.Binding``; the store
keys it by target and secret). One secret may reach a target in several ways at once — an
environment variable *and* a rendered template, say — so the spec is a JSON object with one
optional entry per way, merged on each injection:

``env``       the variable name (``run --target`` gives it to the child)
``file``      ``{"path", "mode", "allow_symlink", "allow_world_writable"}``
``template``  ``{"placeholder", "source", "output", "mode"}`` (source: the template file, or
              null until one is bound to the target)
``notify``    ``{"signal", "pid", "pidfile"}`` — who is told when the secret changes
``restart``   ``restart_required`` as given

Never a value.
"""

from __future__ import annotations

import json
from typing import Any

from secretvault.backends.base import Binding


def spec_of(binding: Binding | None) -> dict[str, Any]:
    """The decoded spec (empty for None or an unreadable spec)."""
    if binding is None:
        return {}
    try:
        data = json.loads(binding.spec or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def merged(old: Binding | None, target: str, secret_name: str, kind: str, **parts: Any) -> Binding:
    """``old``'s spec with ``parts`` (None entries skipped) laid over it."""
    spec = spec_of(old)
    spec.update({k: v for k, v in parts.items() if v is not None})
    return Binding(target, secret_name, kind, json.dumps(spec, sort_keys=True))
