"""The guide's own Python examples, run as written with only the import line changed.

Each ``GUIDE_*`` string below is copied from the guide verbatim; ``run`` replaces
``mahavishnu.integrations.secrets_management`` with ``secretvault`` and nothing else, wraps
the snippet in an async function (the guide writes top-level ``await``) and runs it in a
namespace that carries over from the previous snippet, as a reader running them in one
session would. The working directory is a fresh folder, so ``SecretVault()`` with default
settings creates ``data/secrets/`` there — exactly what a newcomer gets.

The guide's scanning, rotation and injection examples run beside the tests of those features
(``tests/unit/scanning/test_spec_examples.py``, ``tests/rotation/test_spec_rotation_examples.py``,
``tests/unit/injection/test_inject_spec_examples.py``); this file holds the rest.

Where a snippet names a placeholder the reader is meant to replace (``/path/to/repo``) or
calls a function the guide leaves to the reader (``generate_new_secret``), the test supplies
it and says so.
"""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import pytest

import secretvault

GUIDE_STORE = """
from mahavishnu.integrations.secrets_management import (
    SecretVault,
    SecretType,
    SecretsConfig,
)

vault = SecretVault()
await vault.initialize()

# Store API key
secret_id = await vault.store_secret(
    secret_type=SecretType.API_KEY,
    name="openai-api-key",
    value="sk-proj-abc123...",
    description="OpenAI API key for GPT-4 access",
    tags=["openai", "llm", "production"],
    service="openai",
    rotation_days=90,
)

print(f"Secret stored: {secret_id}")
"""

GUIDE_STORE_EXPIRING = """
from datetime import datetime, timedelta

# Store with expiration
secret_id = await vault.store_secret(
    secret_type=SecretType.DATABASE_PASSWORD,
    name="postgres-production",
    value="postgres://user:pass@host:5432/db",
    description="Production PostgreSQL connection string",
    service="postgresql",
    rotation_days=30,
    expires_at=datetime.now() + timedelta(days=180),
)
"""

GUIDE_GET = """
# Get secret value and metadata
value, record = await vault.get_secret("openai-api-key")

print(f"Value: {value}")
print(f"Type: {record.secret_type}")
print(f"Created: {record.metadata.created_at}")
print(f"Expires: {record.metadata.expires_at}")
print(f"Days remaining: {record.metadata.days_remaining}")
"""

GUIDE_GET_ERRORS = """
from mahavishnu.integrations.secrets_management import (
    SecretNotFoundError,
    AuthorizationError,
)

try:
    value, record = await vault.get_secret("openai-api-key")
    print(f"Secret retrieved: {value[:10]}...")

except SecretNotFoundError:
    print("Secret not found - check secret name")

except AuthorizationError:
    print("Not authorized to access this secret")

except Exception as e:
    print(f"Error: {e}")
"""

GUIDE_UPDATE = """
# Update secret value (new version created)
updated_record = await vault.update_secret(
    name="openai-api-key",
    value="sk-proj-newkey456...",
    user="admin@company.com",
)

print(f"Updated to version: {updated_record.metadata.version}")
"""

GUIDE_ROTATE = """
# Rotate secret with verification
result = await vault.rotate_secret(
    name="openai-api-key",
    new_value="sk-proj-newkey789...",  # Optional: auto-generate
    verify=True,  # Verify secret works after rotation
    rollback_on_failure=True,  # Rollback if verification fails
)

if result.success:
    print(f"Rotated: {result.old_version} → {result.new_version}")
else:
    print(f"Rotation failed: {result.error}")
    if result.rolled_back:
        print("Rolled back to previous version")
"""

GUIDE_SOFT_DELETE = """
# Mark secret for deletion (recoverable for 30 days)
from datetime import datetime, timedelta

# Update metadata to pending deletion
await vault.update_metadata(
    domain="old-secret",
    status="pending_deletion",
)

# Secret is now inaccessible but not deleted
"""

GUIDE_DELETE = """
# Permanently delete secret
deleted = await vault.delete_secret(
    name="old-secret",
    user="admin@company.com",
)

if deleted:
    print("Secret permanently deleted")
"""

GUIDE_CONFIG_LOCAL = """
from mahavishnu.integrations.secrets_management import SecretVault, SecretsConfig

config = SecretsConfig(
    default_backend=BackendType.LOCAL,
    master_key_path="data/secrets/master.key",
    storage_path="data/secrets/vault.db",
)

vault = SecretVault(config)
await vault.initialize()
"""

GUIDE_AUDIT = """
from mahavishnu.integrations.secrets_management import SecretVault

vault = SecretVault()
await vault.initialize()

# All secret access is automatically logged
value, record = await vault.get_secret("openai-api-key", user="john@company.com")

# View access log
log = await vault.get_access_log("openai-api-key")

print(f"Total accesses: {log.total_accesses}")
print(f"Failed accesses: {log.failed_accesses}")

for entry in log.entries:
    print(f"{entry.timestamp}: {entry.user} - {entry.action}")
"""

GUIDE_QUICKSTART = """
from mahavishnu.integrations.secrets_management import create_vault

vault = await create_vault()
"""

GUIDE_QUICKSTART_STORE = """
await vault.store_secret(
    secret_type=SecretType.API_KEY,
    name="openai-test-key",
    value="sk-test-...",
    description="Test OpenAI key for development",
)
"""

GUIDE_PRELOAD = """
# Preload frequently accessed secrets
async def preload_secrets(vault: SecretVault, secret_names: list[str]):
    \"\"\"Preload secrets into cache.\"\"\"
    for name in secret_names:
        try:
            await vault.get_secret(name)
            print(f"✅ Preloaded: {name}")
        except Exception as e:
            print(f"❌ Failed to preload {name}: {e}")

# Preload on startup
await preload_secrets(vault, [
    "openai-api-key",
    "postgres-password",
    "redis-password",
])
"""

GUIDE_GET_REFERENCE = """
value, record = await vault.get_secret(
    name="openai-api-key",
    user="john@company.com",
    source_ip="192.168.1.100",
)

print(f"Value: {value}")
print(f"Type: {record.secret_type}")
print(f"Created: {record.metadata.created_at}")
"""

GUIDE_MODELS = """
record = SecretRecord(
    id="abc123",
    name="openai-api-key",
    secret_type=SecretType.API_KEY,
    status=SecretStatus.ACTIVE,
    encrypted_value=b"...",
    nonce=b"...",
    salt=b"...",
    metadata=SecretMetadata(
        created_by="admin@company.com",
        description="OpenAI API key",
    ),
)
metadata = SecretMetadata(
    created_by="admin@company.com",
    description="OpenAI API key for GPT-4",
    tags=["openai", "llm"],
    service="openai",
    rotation_days=90,
)
config = SecretsConfig(
    enabled=True,
    default_backend=BackendType.VAULT,
    vault_addr="https://vault.example.com:8200",
    vault_mount="mahavishnu",
    rotation=RotationConfig(
        enabled=True,
        rotation_days=90,
    ),
)
"""


class Session:
    """One reader's Python session: snippets run in order and share their names."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        # What a reader of the guide has imported by the time a snippet uses a name bare.
        self.ns: dict[str, Any] = {"asyncio": asyncio}
        for name in secretvault.__all__:
            self.ns[name] = getattr(secretvault, name)
        self.capsys = capsys
        self.seen = ""

    async def run(self, snippet: str, **replace: str) -> dict[str, Any]:
        code = snippet.replace("mahavishnu.integrations.secrets_management", "secretvault")
        for placeholder, value in replace.items():
            code = code.replace(placeholder, value)
        src = "async def __snippet():\n" + textwrap.indent(code, "    ")
        src += "\n    return dict(locals())\n"
        exec(compile(src, "<guide>", "exec"), self.ns)
        found: dict[str, Any] = await self.ns["__snippet"]()
        self.ns.update(found)
        return found

    @property
    def printed(self) -> str:
        """Everything the snippets (and tasks they started) printed so far."""
        self.seen += self.capsys.readouterr().out
        return self.seen


@pytest.fixture
def session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Session:
    monkeypatch.chdir(tmp_path)
    return Session(capsys)


async def _close(session: Session) -> None:
    vault = session.ns.get("vault")
    if vault is not None:
        await vault.shutdown()


async def test_store_get_update_rotate_delete_as_the_guide_writes_them(session: Session) -> None:
    try:
        stored = await session.run(GUIDE_STORE)
        assert Path("data/secrets/vault.db").is_file()
        assert Path("data/secrets/master.key").is_file()
        await session.run(GUIDE_STORE_EXPIRING)
        got = await session.run(GUIDE_GET)
        assert got["value"] == "sk-proj-abc123..."
        assert got["record"].metadata.days_remaining is None
        await session.run(GUIDE_GET_ERRORS)
        updated = await session.run(GUIDE_UPDATE)
        assert updated["updated_record"].metadata.version == 2
        rotated = await session.run(GUIDE_ROTATE)
        assert rotated["result"].success
        assert (await session.ns["vault"].get_secret("openai-api-key"))[0] == (
            "sk-proj-newkey789..."
        )
        vault = session.ns["vault"]
        await vault.store_secret(secretvault.SecretType.API_KEY, "old-secret", "an-old-value-1234")
        await session.run(GUIDE_SOFT_DELETE)
        with pytest.raises(secretvault.SecretPendingDeletionError):
            await vault.get_secret("old-secret")
        deleted = await session.run(GUIDE_DELETE)
        assert deleted["deleted"] is True
        text = session.printed
        assert f"Secret stored: {stored['secret_id']}" in text
        assert "Type: SecretType.API_KEY" in text or "Type: api_key" in text
        assert "Secret retrieved: sk-proj-ab..." in text
        assert "Updated to version: 2" in text
        assert "Rotated: 2 → 3" in text
        assert "Secret permanently deleted" in text
    finally:
        await _close(session)


async def test_the_audit_example(session: Session) -> None:
    """(The guide's scanning examples run in tests/unit/scanning/test_spec_examples.py.)"""
    try:
        earlier = await session.run(GUIDE_CONFIG_LOCAL)
        await session.ns["vault"].store_secret(
            secretvault.SecretType.API_KEY, "openai-api-key", "sk-proj-abc123..."
        )
        audit = await session.run(GUIDE_AUDIT)
        await _close_previous(session, earlier)
        assert audit["log"].total_accesses >= 2
        assert ": john@company.com - read" in session.printed
    finally:
        await _close(session)


async def _close_previous(session: Session, earlier: dict[str, Any]) -> None:
    """The guide's snippets each open a new ``vault``; close the one a later snippet replaced."""
    if earlier.get("vault") is not None and earlier["vault"] is not session.ns.get("vault"):
        await earlier["vault"].shutdown()


async def test_quickstart_preload_and_reference(session: Session) -> None:
    """(The guide's rotation examples — the scheduler, safe_rotation_with_verification — run
    in tests/rotation/test_spec_rotation_examples.py.)"""
    try:
        quick = await session.run(GUIDE_QUICKSTART)
        await session.run(GUIDE_QUICKSTART_STORE)
        await session.run(GUIDE_STORE.split("vault = SecretVault()")[0])  # its imports only
        await session.ns["vault"].store_secret(
            secretvault.SecretType.API_KEY, "openai-api-key", "sk-proj-abc123..."
        )
        await session.run(GUIDE_PRELOAD)
        assert "✅ Preloaded: openai-api-key" in session.printed
        assert "❌ Failed to preload redis-password" in session.printed
        ref = await session.run(GUIDE_GET_REFERENCE)
        assert ref["value"] == "sk-proj-abc123..."
        log = await quick["vault"].get_access_log("openai-api-key")
        assert any(e.source_ip == "192.168.1.100" for e in log.entries)
    finally:
        await _close(session)


async def test_model_and_settings_examples(session: Session) -> None:
    made = await session.run(GUIDE_MODELS)
    assert made["record"].metadata.description == "OpenAI API key"
    assert made["metadata"].rotation_days == 90
    assert made["config"].vault_mount == "mahavishnu"
    assert made["config"].rotation_days == 90
