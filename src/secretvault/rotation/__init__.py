"""Rotation: new-value generators and verifiers (staged rotation lives in ``SecretVault``)."""

from secretvault.rotation.generators import generate_value

__all__ = ["generate_value"]
