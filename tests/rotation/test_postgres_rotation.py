"""A PostgreSQL password rotated for real: applied, proven, restored on failure."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rotationtest_helpers import Pg

from secretvault import SecretType
from secretvault.rotation.postgres import PgCredential

PG_ROTATOR = {"rotators": [{"match": "app-db", "kind": "postgres"}]}


async def test_rotation_changes_the_database_password(pg: Pg, open_vault: Callable[..., Any]):
    user, old = pg.make_role()
    vault = await open_vault(**PG_ROTATOR)
    await vault.store_secret(SecretType.DATABASE_PASSWORD, "app-db", pg.uri(user, old))

    result = await vault.rotate_secret("app-db")

    assert result.success, result.error
    assert (result.step, result.rotator, result.verified) == ("promote", "postgres", True)
    assert {"create", "check", "apply", "verify", "promote"} <= set(result.timings_ms)
    value, record = await vault.get_secret("app-db")
    new = PgCredential.parse(value)
    assert value.startswith("postgresql://") and new.username == user and new.password != old
    assert record.metadata.version == 2
    assert pg.can_login(user, new.password)
    assert not pg.can_login(user, old)


async def test_the_server_never_sees_the_plaintext_password(pg: Pg, open_vault: Callable[..., Any]):
    """With every statement of the role logged, the log holds a SCRAM verifier, never the
    password (it is hashed client-side and composed with psycopg.sql)."""
    import psycopg
    from psycopg import sql

    user, old = pg.make_role()
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER ROLE {} SET log_statement = 'all'").format(sql.Identifier(user))
        )
    vault = await open_vault(**PG_ROTATOR)
    await vault.store_secret(SecretType.DATABASE_PASSWORD, "app-db", pg.uri(user, old))
    assert (await vault.rotate_secret("app-db")).success
    new = PgCredential.parse((await vault.get_secret("app-db"))[0]).password

    log = pg.log.read_text(errors="replace")
    assert f'ALTER ROLE "{user}" PASSWORD \'SCRAM-SHA-256$' in log
    assert new not in log and old not in log


async def test_json_credentials_keep_their_format(pg: Pg, open_vault: Callable[..., Any]):
    user, old = pg.make_role()
    vault = await open_vault(**PG_ROTATOR)
    doc = {
        "engine": "postgres",
        "host": pg.host,
        "port": pg.port,
        "username": user,
        "password": old,
        "dbname": "postgres",
    }
    await vault.store_secret(SecretType.DATABASE_PASSWORD, "app-db", json.dumps(doc))

    assert (await vault.rotate_secret("app-db")).success
    value, _ = await vault.get_secret("app-db")
    rotated = json.loads(value)
    assert {k: v for k, v in rotated.items() if k != "password"} == {
        k: v for k, v in doc.items() if k != "password"
    }
    assert pg.can_login(user, rotated["password"]) and not pg.can_login(user, old)


async def test_failing_verifier_restores_the_old_password(pg: Pg, open_vault: Callable[..., Any]):
    user, old = pg.make_role()
    vault = await open_vault(**PG_ROTATOR)
    await vault.store_secret(SecretType.DATABASE_PASSWORD, "app-db", pg.uri(user, old))
    seen: list[str] = []

    @vault.verifier("app-db")
    def refuse(value: str, record: Any) -> bool:
        seen.append(PgCredential.parse(value).password)
        return False

    result = await vault.rotate_secret("app-db")

    assert not result.success and result.rolled_back and result.restored
    assert result.failed_step == "verify"
    assert result.error is not None and "verification failed" in result.error
    assert pg.can_login(user, old)
    assert not pg.can_login(user, seen[0])  # the candidate was applied, then taken back
    value, record = await vault.get_secret("app-db")
    assert value == pg.uri(user, old) and record.metadata.version == 1
    entries = (await vault.get_access_log("app-db")).entries
    verify = [e for e in entries if e.action == "rotate_verify"]
    assert verify and not verify[-1].success and "verification failed" in (verify[-1].reason or "")
    assert [e.action for e in entries if e.action == "rotate_restore" and e.success]
    for e in entries:  # no password in any audit entry
        assert old not in (e.reason or "") and seen[0] not in (e.reason or "")


async def test_role_that_cannot_log_in_fails_before_changing_anything(
    pg: Pg, open_vault: Callable[..., Any]
):
    user, old = pg.make_role(login=False)
    before = pg.password_hash(user)
    vault = await open_vault(**PG_ROTATOR)
    await vault.store_secret(SecretType.DATABASE_PASSWORD, "app-db", pg.uri(user, old))

    result = await vault.rotate_secret("app-db")

    assert not result.success and result.failed_step == "check"
    assert result.error is not None and "nothing was changed" in result.error
    assert old not in result.error
    assert pg.password_hash(user) == before
    value, record = await vault.get_secret("app-db")
    assert value == pg.uri(user, old) and record.metadata.version == 1


async def test_explicit_new_password_is_applied(pg: Pg, open_vault: Callable[..., Any]):
    user, old = pg.make_role()
    vault = await open_vault(**PG_ROTATOR)
    await vault.store_secret(SecretType.DATABASE_PASSWORD, "app-db", pg.uri(user, old))

    result = await vault.rotate_secret("app-db", new_value="Chosen-Pass-123'\";")

    assert result.success, result.error
    assert pg.can_login(user, "Chosen-Pass-123'\";")  # quotes go through sql.Literal safely
    assert (await vault.get_secret("app-db"))[0] == pg.uri(user, "Chosen-Pass-123'\";").replace(
        "Chosen-Pass-123'\";", "Chosen-Pass-123%27%22%3B"
    )


async def test_alternating_users_keep_the_current_login_working(
    pg: Pg, open_vault: Callable[..., Any]
):
    user, old = pg.make_role()
    vault = await open_vault(
        rotators=[
            {
                "match": "app-db",
                "kind": "postgres",
                "strategy": "alternating",
                "admin_secret": "pg-admin",
            }
        ]
    )
    await vault.store_secret(SecretType.DATABASE_PASSWORD, "pg-admin", pg.dsn)
    await vault.store_secret(SecretType.DATABASE_PASSWORD, "app-db", pg.uri(user, old))

    first = await vault.rotate_secret("app-db")
    assert first.success, first.error
    clone = PgCredential.parse((await vault.get_secret("app-db"))[0])
    assert clone.username == user + "_clone"
    assert pg.can_login(clone.username, clone.password) and pg.can_login(user, old)

    second = await vault.rotate_secret("app-db")
    assert second.success, second.error
    back = PgCredential.parse((await vault.get_secret("app-db"))[0])
    assert back.username == user and back.password != old
    assert pg.can_login(user, back.password) and not pg.can_login(user, old)
    assert pg.can_login(clone.username, clone.password)  # the previous one still works
