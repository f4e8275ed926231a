"""Secret scanning: ``scan_repository``, ``SECRET_PATTERNS`` and the ``Scanner`` class.

Imports are lazy so ``import secretvault.scanning`` stays cheap; the rule catalogue,
Hyperscan and rich load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from secretvault.scanning.api import scan_repository
    from secretvault.scanning.patterns import SECRET_PATTERNS
    from secretvault.scanning.scanner import Scanner

__all__ = ["SECRET_PATTERNS", "Scanner", "scan_repository"]

_LAZY = {
    "scan_repository": "secretvault.scanning.api",
    "SECRET_PATTERNS": "secretvault.scanning.patterns",
    "Scanner": "secretvault.scanning.scanner",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
