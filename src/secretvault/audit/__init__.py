"""Append-only, hash-chained audit trail (docs/architecture.md, "The audit chain")."""

from secretvault.audit.chain import AuditEvent, ChainReport, seal, verify_chain

__all__ = ["AuditEvent", "ChainReport", "seal", "verify_chain"]
