"""The guide's rotation examples, copied literally (only the import path changed), run."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from secretvault import SecretStatus, SecretType, SecretVault


async def test_manual_rotation_and_reference_example(
    open_vault: Callable[..., Any], capsys: pytest.CaptureFixture[str]
):
    vault = await open_vault()
    await vault.store_secret(SecretType.API_KEY, "openai-api-key", "sk-proj-oldkey123")

    # -- "Rotating Secrets", Manual Rotation (literal) --
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

    # -- API reference, rotate_secret() Example (literal) --
    result = await vault.rotate_secret(
        name="openai-api-key",
        new_value="sk-proj-newkey456...",
        verify=True,
        rollback_on_failure=True,
    )

    if result.success:
        print(f"Rotated: {result.old_version} → {result.new_version}")
    else:
        print(f"Failed: {result.error}")

    out = capsys.readouterr().out
    assert "Rotated: 1 → 2" in out and "Rotated: 2 → 3" in out
    assert (await vault.get_secret("openai-api-key"))[0] == "sk-proj-newkey456..."


async def test_automatic_rotation_example(
    open_vault: Callable[..., Any], capsys: pytest.CaptureFixture[str]
):
    vault = await open_vault()
    soon = datetime.now() + timedelta(days=3)  # inside rotate_before_expiry_days (7)
    await vault.store_secret(SecretType.API_KEY, "due-key", "v1-value", expires_at=soon)
    await vault.store_secret(SecretType.API_KEY, "fresh-key", "v1-value")

    # -- "Rotating Secrets", Automatic Rotation (literal) --
    # Background task runs every hour
    async def rotation_scheduler():
        while True:
            # Check all secrets for rotation needs
            secrets = await vault.list_secrets(status=SecretStatus.ACTIVE)

            for secret in secrets:
                # Check if rotation needed
                if await vault._should_rotate(secret):
                    print(f"Rotating: {secret.name}")
                    await vault.rotate_secret(secret.name)

            # Sleep for 1 hour
            await asyncio.sleep(3600)

    # Start rotation scheduler
    asyncio.create_task(rotation_scheduler())  # noqa: RUF006 (the guide's line)

    async def rotated() -> bool:
        return (await vault.get_secret("due-key"))[1].metadata.version == 2

    await _one_pass_then_cancel(rotated)
    assert capsys.readouterr().out == "Rotating: due-key\n"
    assert (await vault.get_secret("fresh-key"))[1].metadata.version == 1


async def test_deployment_scheduler_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.chdir(tmp_path)  # the example's SecretVault() uses the default paths
    import secretvault

    setup = secretvault.SecretVault()
    await setup.initialize()
    await setup.store_secret(
        SecretType.API_KEY, "due-key", "v1-value", expires_at=datetime.now() + timedelta(days=1)
    )
    await setup.shutdown()

    # -- "Production Setup", Enable Automatic Rotation (literal but for the import path) --
    # Create rotation schedule
    import asyncio

    from secretvault import SecretVault as SecretVault  # the guide: mahavishnu.…secrets_management

    async def rotation_scheduler():
        vault = SecretVault()
        await vault.initialize()

        while True:
            # Check for secrets needing rotation
            secrets = await vault.list_secrets(status=SecretStatus.ACTIVE)

            for secret in secrets:
                if await vault._should_rotate(secret):
                    print(f"Rotating: {secret.name}")
                    await vault.rotate_secret(secret.name)

            # Sleep 1 hour
            await asyncio.sleep(3600)

    # Start scheduler
    asyncio.create_task(rotation_scheduler())  # noqa: RUF006 (the guide's line)

    async def printed() -> bool:
        return "Rotating: due-key" in capsys.readouterr().out

    await _one_pass_then_cancel(printed)
    check = secretvault.SecretVault()
    await check.initialize()
    assert (await check.get_secret("due-key"))[1].metadata.version == 2
    await check.shutdown()


async def test_safe_rotation_with_verification_example(
    open_vault: Callable[..., Any], capsys: pytest.CaptureFixture[str]
):
    vault_ = await open_vault()
    await vault_.store_secret(SecretType.API_KEY, "svc-key", "key-v1")
    counter = iter(range(2, 100))

    def generate_new_secret(name: str) -> str:  # the guide leaves this to the reader
        return f"key-v{next(counter)}"

    # -- "Secret Rotation Best Practices", Safe Rotation Process (literal) --
    async def safe_rotation_with_verification(
        vault: SecretVault,
        secret_name: str,
        verify_fn: callable,  # Function to test new secret
    ):
        """Rotate secret with verification and rollback."""

        # 1. Get current secret
        current_value, _ = await vault.get_secret(secret_name)

        # 2. Generate new secret
        new_value = generate_new_secret(secret_name)

        # 3. Update secret (version +1)
        try:
            await vault.update_secret(
                name=secret_name,
                value=new_value,
                rotate=True,
            )

            # 4. Verify new secret works
            if not await verify_fn(new_value):
                raise Exception("Verification failed")

            print(f"✅ Rotation successful: {secret_name}")

        except Exception as e:
            # 5. Rollback on failure
            print(f"❌ Rotation failed: {e}, rolling back...")
            await vault.update_secret(
                name=secret_name,
                value=current_value,
                rotate=False,
            )
            print("✅ Rollback complete")

    async def accept(value: str) -> bool:
        return True

    async def refuse(value: str) -> bool:
        return False

    await safe_rotation_with_verification(vault_, "svc-key", accept)
    assert (await vault_.get_secret("svc-key"))[0] == "key-v2"
    await safe_rotation_with_verification(vault_, "svc-key", refuse)
    assert (await vault_.get_secret("svc-key"))[0] == "key-v2"
    out = capsys.readouterr().out
    assert "✅ Rotation successful: svc-key" in out and "✅ Rollback complete" in out


async def _one_pass_then_cancel(done: Callable[[], Awaitable[bool]]) -> None:
    """Let the example's background task run its first pass (it then sleeps an hour)."""
    me = asyncio.current_task()
    deadline = asyncio.get_running_loop().time() + 30
    while not await done() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)  # the rest of the pass: nothing else is due
    for task in asyncio.all_tasks():
        if task is not me:
            task.cancel()
