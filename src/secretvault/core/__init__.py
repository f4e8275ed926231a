"""The parts ``SecretVault`` is composed of, each with its dependencies in its constructor.

``keys.KeyManager`` (master key, sealing and opening values, rekey) · ``audit.AuditWriter``
(entries into the control store's chain, write-behind for cache hits, verify) ·
``access.AccessControl`` (RBAC decisions over the stored grants) · ``cache.ReadCache`` (the
opt-in in-process read cache) · ``operations.Operations`` (the shape every operation shares:
unit of work → authorize → act → audit → commit → raise). Rotation builds on ``Operations``
from ``secretvault.rotation``.
"""
