"""Append-only, hash-chained audit trail (DESIGN "Audit and access")."""

from secretvault.audit.chain import ChainReport, seal, verify_chain

__all__ = ["ChainReport", "seal", "verify_chain"]
