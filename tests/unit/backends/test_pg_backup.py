"""``backends/pg_backup.py`` without a server: fake ``pg_dump``/``pg_restore`` scripts first on
PATH record what they were given, so these tests see exactly the argv (which ``ps`` shows to
every user) and the environment of the child. The real tools against a real PostgreSQL are
exercised in tests/integration/test_postgres_backup.py and tests/e2e/test_cli_postgres.py."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from secretvault.backends import pg_backup
from secretvault.errors import (
    BackendUnavailableError,
    ConfigurationError,
    InvalidArgumentError,
    SecretDecryptionError,
)

PASSWORD = "S3cr3t-pw-" + "a1b2c3d4e5"
DSN = f"postgresql://vaultrole:{PASSWORD}@db.internal:6543/secrets?sslmode=require"

# A stand-in for a PostgreSQL tool: writes its argv and the PG* part of its environment to
# $FAKE_PG_RECORD, then prints $FAKE_PG_STDERR to stderr and exits with $FAKE_PG_EXIT; on
# success it writes a few bytes to stdout (the "archive").
FAKE_TOOL = f"""#!{sys.executable}
import json, os, sys
with open(os.environ["FAKE_PG_RECORD"], "a") as fh:
    env = {{k: v for k, v in os.environ.items() if k.startswith("PG")}}
    fh.write(json.dumps({{"argv": sys.argv, "env": env}}) + "\\n")
sys.stderr.write(os.environ.get("FAKE_PG_STDERR", ""))
code = int(os.environ.get("FAKE_PG_EXIT", "0"))
if code == 0:
    sys.stdout.write("PGDMP-fake-archive")
sys.exit(code)
"""


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding fake pg_dump and pg_restore, alone on PATH; returns the record file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("pg_dump", "pg_restore"):
        tool = bin_dir / name
        tool.write_text(FAKE_TOOL, encoding="utf-8")
        tool.chmod(0o755)
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("FAKE_PG_RECORD", str(record))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    return record


def _calls(record: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]


def test_pg_dump_gets_the_password_only_in_its_environment(
    fake_tools: Path, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "vault.pgdump"
    assert pg_backup.dump_schema(DSN, "secretvault", target) == target

    [call] = _calls(fake_tools)
    argv = call["argv"]
    assert isinstance(argv, list)
    assert not any(PASSWORD in arg for arg in argv), argv
    assert call["env"]["PGPASSWORD"] == PASSWORD  # type: ignore[index]
    assert call["env"]["PGCONNECT_TIMEOUT"] == "10"  # type: ignore[index]
    assert argv[1:4] == ["--format=custom", "--schema=secretvault", "--no-owner"]
    dbname = argv[-1]
    # host, port, user, database and the other parameters (sslmode) still reach the tool
    for part in ("host=db.internal", "port=6543", "user=vaultrole", "dbname=secrets"):
        assert part in dbname, dbname
    assert "sslmode=require" in dbname
    assert target.read_bytes() == b"PGDMP-fake-archive"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700


def test_pg_restore_gets_the_password_only_in_its_environment(
    fake_tools: Path, tmp_path: Path
) -> None:
    source = tmp_path / "vault.pgdump"
    source.write_bytes(b"PGDMP")
    pg_backup.restore_schema(DSN, "SecretVault", source)

    [call] = _calls(fake_tools)
    argv = call["argv"]
    assert isinstance(argv, list)
    assert not any(PASSWORD in arg for arg in argv), argv
    assert call["env"]["PGPASSWORD"] == PASSWORD  # type: ignore[index]
    assert argv[1:7] == [
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        "--schema=secretvault",  # folded as the server folds the unquoted name
        str(source),
    ]


def test_a_password_from_the_environment_is_passed_on_unchanged(
    fake_tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", "from-the-environment")  # secretvault:allow (test fixture)
    pg_backup.dump_schema("host=db port=5432 user=u dbname=d", "secretvault", tmp_path / "d")
    [call] = _calls(fake_tools)
    assert call["env"]["PGPASSWORD"] == "from-the-environment"  # type: ignore[index]  secretvault:allow


def test_missing_pg_dump_names_the_debian_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing there
    target = tmp_path / "vault.pgdump"
    with pytest.raises(ConfigurationError) as info:
        pg_backup.dump_schema(DSN, "secretvault", target)
    assert "pg_dump is not installed" in str(info.value)
    assert info.value.hint is not None and "postgresql-client" in info.value.hint
    assert PASSWORD not in str(info.value) + info.value.hint
    assert not target.exists()


def test_a_server_newer_than_pg_dump_says_which_client_to_install(
    fake_tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PG_EXIT", "1")
    monkeypatch.setenv(
        "FAKE_PG_STDERR",
        "pg_dump: error: aborting because of server version mismatch\n"
        "pg_dump: detail: server version: 17.2; pg_dump version: 15.18\n",
    )
    target = tmp_path / "vault.pgdump"
    with pytest.raises(ConfigurationError) as info:
        pg_backup.dump_schema(DSN, "secretvault", target)
    assert "server version: 17.2" in str(info.value)  # pg_dump's own words
    assert "db.internal:6543/secrets" in str(info.value)
    assert info.value.hint is not None and "postgresql-client-17" in info.value.hint
    assert not target.exists()  # a failed dump leaves no file that looks like a backup


def test_a_failure_carries_the_tools_message_with_the_password_scrubbed(
    fake_tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PG_EXIT", "1")
    monkeypatch.setenv(
        "FAKE_PG_STDERR",
        f'pg_dump: error: connection to server at "db.internal", port 6543 failed: FATAL:  '
        f'password authentication failed for user "vaultrole" (tried {PASSWORD}; {DSN})\n',
    )
    with pytest.raises(BackendUnavailableError) as info:
        pg_backup.dump_schema(DSN, "secretvault", tmp_path / "vault.pgdump")
    text = str(info.value) + (info.value.hint or "")
    assert "password authentication failed" in text
    assert PASSWORD not in text and "***" in text
    assert info.value.hint is not None and "password" in info.value.hint


def test_an_existing_target_is_never_overwritten(fake_tools: Path, tmp_path: Path) -> None:
    target = tmp_path / "vault.pgdump"
    target.write_bytes(b"keep me")
    with pytest.raises(InvalidArgumentError, match="already exists"):
        pg_backup.dump_schema(DSN, "secretvault", target)
    assert target.read_bytes() == b"keep me"
    assert not fake_tools.exists()  # pg_dump never ran


def test_sslpassword_is_refused_rather_than_put_on_the_command_line(
    fake_tools: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match="sslpassword") as info:
        pg_backup.dump_schema(DSN + "&sslpassword=keypass-123", "secretvault", tmp_path / "d")
    assert "keypass-123" not in str(info.value)
    assert not fake_tools.exists()


def test_a_file_that_is_no_archive_is_not_a_backup(
    fake_tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PG_EXIT", "1")
    monkeypatch.setenv(
        "FAKE_PG_STDERR", "pg_restore: error: input file does not appear to be a valid archive\n"
    )
    source = tmp_path / "vault.db"
    source.write_bytes(b"SQLite format 3\x00")
    with pytest.raises(SecretDecryptionError, match="not a secretvault backup"):
        pg_backup.read_dump_keys(source, "secretvault")


def test_copy_rows_read_the_text_format() -> None:
    sql = (
        "SET x = 1;\n"
        "COPY vault.keys (key_id, status, created_at, check_ct, check_nonce, check_salt) "
        "FROM stdin;\n"
        "k1\tretired\t2024-01-01\t\\\\x0102\t\\\\x03\t\\\\x04\n"
        "k2\tactive\t2024-02-01\t\\\\xff\t\\\\x05\t\\\\x06\n"
        "\\.\n"
        "COPY vault.meta (key, value) FROM stdin;\n"
        "kdf_salt\tc2FsdA==\n"
        'note\ttab\\there, newline\\nthere, backslash \\\\ and "quotes"\n'
        "empty\t\\N\n"
        "\\.\n"
    )
    keys = pg_backup._copy_rows(sql, "vault", "keys")
    assert [r["key_id"] for r in keys] == ["k1", "k2"]
    assert pg_backup._bytea(keys[0]["check_ct"]) == b"\x01\x02"
    meta = {r["key"]: r["value"] for r in pg_backup._copy_rows(sql, "vault", "meta")}
    assert meta == {
        "kdf_salt": "c2FsdA==",
        "note": 'tab\there, newline\nthere, backslash \\ and "quotes"',
        "empty": None,
    }
    assert pg_backup._copy_rows(sql, "other", "keys") == []
