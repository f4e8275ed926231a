"""SIGKILL a rotation right after each step: the next open leaves the store and the database
agreeing on a working credential (rolled back before apply is recorded, resumed after)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rotationtest_helpers import Pg, rotation_config

from secretvault import SecretStatus, SecretType, SecretVault
from secretvault.rotation.postgres import PgCredential
from secretvault.rotation.staged import CRASH_ENV

ROTATORS = [{"match": "app-db", "kind": "postgres"}]

CHILD = """
import asyncio, sys
from secretvault import SecretsConfig, SecretVault

async def main():
    cfg = SecretsConfig(storage_path=sys.argv[1] + "/vault.db",
                        master_key_path=sys.argv[1] + "/master.key", max_versions=0,
                        rotators=[{"match": "app-db", "kind": "postgres"}])
    async with SecretVault(cfg) as vault:
        await vault.rotate_secret("app-db")
    print("finished")

asyncio.run(main())
"""


@pytest.mark.parametrize(
    ("step", "outcome"),
    [("create", "old"), ("applying", "old"), ("apply", "new"), ("verify", "new")],
)
async def test_sigkill_after_each_step_recovers_to_a_working_credential(
    pg: Pg, tmp_path: Path, step: str, outcome: str
):
    user, old = pg.make_role()
    vault = SecretVault(rotation_config(tmp_path, rotators=ROTATORS))
    await vault.initialize()
    await vault.store_secret(SecretType.DATABASE_PASSWORD, "app-db", pg.uri(user, old))
    await vault.shutdown()

    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, CRASH_ENV: step}
    child = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -9, child.stderr  # killed at the step, not finished
    # Right after the crash: which password the database holds depends on the step.
    db_has_new = not pg.can_login(user, old)
    assert db_has_new == (step in ("applying", "apply", "verify"))

    vault = SecretVault(rotation_config(tmp_path, rotators=ROTATORS))
    await vault.initialize()  # recovery runs here
    try:
        value, record = await vault.get_secret("app-db")
        cred = PgCredential.parse(value)
        assert record.status == SecretStatus.ACTIVE
        assert pg.can_login(user, cred.password), "the store's credential must work"
        if outcome == "old":
            assert cred.password == old and record.metadata.version == 1
        else:
            assert cred.password != old and record.metadata.version == 2
            assert not pg.can_login(user, old)
        log = await vault.get_access_log("app-db")
        actions = [e.action for e in log.entries]
        assert ("rotate" in actions) == (outcome == "new")
        # Nothing pending is left: a second rotation works normally.
        again = await vault.rotate_secret("app-db")
        assert again.success, again.error
    finally:
        await vault.shutdown()
