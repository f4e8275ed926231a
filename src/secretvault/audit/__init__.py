"""Append-only, hash-chained audit trail (DESIGN "Audit and access")."""

from secretvault.audit.chain import AuditEvent, ChainReport, seal, verify_chain

__all__ = ["AuditEvent", "ChainReport", "seal", "verify_chain"]
