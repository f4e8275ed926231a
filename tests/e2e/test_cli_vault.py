"""The installed ``secretvault`` CLI driven as a user drives it: real processes, a real working
directory, values on stdin / in files / typed at a hidden prompt, exit codes and messages checked.

Every call costs a fresh interpreter (~0.3 s), so the scenarios are long flows rather than many
tiny tests, and independent error cases run two at a time.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shutil
import sqlite3
import stat
import subprocess
import sys
import termios
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SV = str(Path(sys.executable).with_name("secretvault"))
EXIT = {"ok": 0, "error": 1, "usage": 2, "not_found": 4, "exists": 5, "denied": 6}
EXIT |= {"state": 7, "crypto": 8, "key": 9, "store": 10, "audit": 11, "rotation": 12}


def base_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MAHAVISHNU_", "SECRETVAULT_", "PYTEST_"))
    }
    env.update(COLUMNS="200", NO_COLOR="1", TERM="dumb", PYTHONWARNINGS="ignore")
    env.update(extra)
    return env


class Cli:
    """Run ``secretvault`` in one working directory and remember every stderr it printed."""

    def __init__(self, cwd: Path, **env: str) -> None:
        self.cwd = cwd
        self.env = base_env(**env)
        self.stderrs: list[str] = []
        self.calls = 0

    def __call__(
        self, *args: str, input: str | None = None, code: int | None = 0, **env: str
    ) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            [SV, *args],
            cwd=self.cwd,
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env={**self.env, **env},
            timeout=60,
        )
        self.calls += 1
        self.stderrs.append(res.stderr)
        if code is not None:
            assert res.returncode == code, (
                f"secretvault {' '.join(args)}: exit {res.returncode}, want {code}\n"
                f"stdout: {res.stdout[-1500:]}\nstderr: {res.stderr[-3000:]}"
            )
        return res

    def fails(
        self, *args: str, code: int, says: str = "", input: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """A clean failure: the documented exit code, one ``error:`` line, no traceback."""
        res = self(*args, input=input, code=code, **env)
        assert_clean_error(res, says)
        return res

    def assert_never_printed(self, *values: str) -> None:
        for err in self.stderrs:
            for value in values:
                assert value not in err, f"a secret value leaked to stderr: {err[-500:]}"


def assert_clean_error(res: subprocess.CompletedProcess[str], says: str = "") -> None:
    err = res.stderr
    assert "Traceback" not in err, err[-3000:]
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("error: "), err
    assert len([ln for ln in lines if ln.startswith("error: ")]) == 1, err
    assert len(lines) <= 2, err  # the error line plus an optional hint line
    if says:
        assert says.lower() in err.lower(), err


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def parallel(*jobs):
    """Run independent CLI calls or scenarios two at a time (this machine has 2 cores).

    Besides saving time, this makes the CLI processes meet on the same vault file.
    """
    with ThreadPoolExecutor(max_workers=2) as pool:
        return [fut.result() for fut in [pool.submit(job) for job in jobs]]


@pytest.fixture(scope="module")
def base_vault(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A vault (``--vault-dir``) with one secret, copied by the tests that break things."""
    root = tmp_path_factory.mktemp("base")
    cli = Cli(root)
    cli("--vault-dir", "v", "init")
    cli("--vault-dir", "v", "set", "base-secret", input="base-VALUE-42")
    return root / "v"


def copy_vault(base: Path, dest: Path) -> Path:
    shutil.copytree(base, dest)  # copy2 keeps the 0400 / 0600 modes
    return dest


# --------------------------------------------------------------------------------------------
# the whole lifecycle, in the default layout (data/secrets/ under the working directory)
# --------------------------------------------------------------------------------------------


def test_lifecycle(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    v1, v2 = "sk-stdin-VALUE-one", "sk-stdin-VALUE-two"
    pem = "-----BEGIN KEY-----\nMIIB-line-1\nline-2==\n-----END KEY-----"
    file_value, explicit = "file-VALUE-\u00e9t\u00e9", "rotated-by-hand-VALUE"
    secrets_dir = tmp_path / "data" / "secrets"

    # init: key 0400, db 0600, folder 0700; re-running keeps the key
    res = cli("init")
    assert "created" in res.stdout
    key = secrets_dir / "master.key"
    assert (mode(key), mode(secrets_dir / "vault.db"), mode(secrets_dir)) == (0o400, 0o600, 0o700)
    assert len(key.read_bytes()) == 32
    key_bytes = key.read_bytes()
    assert "opened existing" in cli("init").stdout
    assert key.read_bytes() == key_bytes

    # set: piped stdin without --stdin (no TTY), --stdin, --from-file; trailing newline dropped
    (tmp_path / "value.txt").write_text(file_value + "\n", encoding="utf-8")
    parallel(
        lambda: cli("set", "api-key", "--tag", "prod", "--service", "openai", input=v1 + "\n"),
        lambda: cli("set", "pem", "--stdin", "--type", "ssh_key", input=pem + "\n"),
        lambda: cli("set", "from-file", "--from-file", "value.txt", "-d", "from a file"),
        lambda: cli("set", "doomed", input="doomed-VALUE"),
    )

    # get: plain output is exactly the value; --json carries value and metadata, no ciphertext
    got_v1, got_pem, as_json, listed, table = parallel(
        lambda: cli("get", "api-key").stdout,
        lambda: cli("get", "pem").stdout,
        lambda: json.loads(cli("get", "api-key", "--json").stdout),
        lambda: json.loads(cli("list", "--json").stdout),
        lambda: cli("list").stdout,
    )
    assert (got_v1, got_pem) == (v1, pem)
    assert as_json["value"] == v1 and as_json["record"]["name"] == "api-key"
    assert as_json["record"]["metadata"]["version"] == 1
    assert as_json["record"]["metadata"]["tags"] == ["prod"]
    assert as_json["record"]["metadata"]["service"] == "openai"
    assert not {"encrypted_value", "nonce", "salt"} & set(as_json["record"])
    # list: names and metadata, never values
    assert sorted(r["name"] for r in listed) == ["api-key", "doomed", "from-file", "pem"]
    assert "api-key" in table and "pem" in table
    for value in (v1, pem, file_value):
        assert value not in table and value not in json.dumps(listed)

    # update → v2; the old version stays readable with --version; history shows both
    cli("update", "api-key", input=v2)
    got_v2, old, hist, hist_text = parallel(
        lambda: cli("get", "api-key").stdout,
        lambda: cli("get", "api-key", "--version", "1").stdout,
        lambda: json.loads(cli("history", "api-key", "--json").stdout),
        lambda: cli("history", "api-key").stdout,
    )
    assert (got_v2, old) == (v2, v1)
    assert [h["version"] for h in hist] == [2, 1]
    assert "v2" in hist_text and "v1" in hist_text

    # rotate: generated value, then an explicit one from stdin
    assert "v2 -> v3" in cli("rotate", "api-key").stderr
    generated = cli("get", "api-key").stdout
    assert generated and generated not in (v1, v2)
    cli("rotate", "api-key", "--value", "--stdin", input=explicit)
    now, hist = parallel(
        lambda: cli("get", "api-key").stdout,
        lambda: json.loads(cli("history", "api-key", "--json").stdout),
    )
    assert now == explicit
    assert [h["version"] for h in hist][:2] == [4, 3]

    # soft delete / hard delete / revoke (three writers at once), then reads are refused
    parallel(
        lambda: cli("delete", "from-file"),
        lambda: cli("delete", "doomed", "--hard", "--yes"),
        lambda: cli("revoke", "pem", "--reason", "leaked in a ticket"),
    )
    parallel(
        lambda: cli.fails("get", "from-file", code=EXIT["state"], says="pending deletion"),
        lambda: cli.fails("get", "doomed", code=EXIT["not_found"], says="not found"),
        lambda: cli.fails("get", "pem", code=EXIT["state"], says="revoked"),
    )
    cli("restore", "from-file")
    assert cli("get", "from-file").stdout == file_value  # --from-file value, newline dropped

    # backup, then a change, then restore --from-backup: the change is gone
    backup = tmp_path / "snap.db"
    cli("backup", "--output", str(backup))
    assert mode(backup) == 0o600
    cli("set", "after-backup", input="after-backup-VALUE")
    res = cli("restore", "--from-backup", str(backup), "--yes")
    assert "previous state saved" in res.stderr
    _, restored = parallel(
        lambda: cli.fails("get", "after-backup", code=EXIT["not_found"]),
        lambda: cli("get", "api-key").stdout,
    )
    assert restored == explicit

    # rekey: new key id, old key kept 0400 in backups/, values still readable
    res = cli("rekey", "--yes")
    old_id, new_id = re.search(r"rotated: (\w+) -> (\w+)", res.stdout).groups()
    assert old_id != new_id and key.read_bytes() != key_bytes
    retired = secrets_dir / "backups" / f"master.key.{old_id}"
    assert retired.read_bytes() == key_bytes
    assert mode(retired) == 0o400 and mode(key) == 0o400
    # backups/ (retired keys, the safety copy restore made) is private like the rest
    assert mode(secrets_dir / "backups") == 0o700
    for path in (secrets_dir / "backups").iterdir():
        assert mode(path) in (0o400, 0o600), (path, oct(mode(path)))
    assert any(p.name.startswith("vault-") for p in (secrets_dir / "backups").iterdir())
    # (a backup made under the old key restores too: test_a_backup_from_before_a_rekey_...)
    current, first = parallel(
        lambda: cli("get", "api-key").stdout,
        lambda: cli("get", "api-key", "--version", "1").stdout,
    )
    assert (current, first) == (explicit, v1)

    # audit: log, verify, export as JSON lines without any value; doctor all green
    log, verified, export, doctor = parallel(
        lambda: cli("audit", "log", "--limit", "0").stdout,
        lambda: cli("audit", "verify").stdout,
        lambda: cli("audit", "export").stdout,
        lambda: cli("doctor").stdout,
    )
    for action in ("create", "read", "update", "rotate", "soft_delete", "restore", "revoke"):
        assert f" {action} " in log, action
    assert "FAIL" in log  # the denied reads are recorded
    assert "chain intact" in verified
    rows = [json.loads(line) for line in export.splitlines()]
    assert len(rows) > 30 and {r["action"] for r in rows} >= {"create", "read", "rekey"}
    # the whole-vault restore is on record (the trail itself was rolled back to the snapshot)
    assert any(r["action"] == "restore" and "snap.db" in (r["reason"] or "") for r in rows)
    assert all({"seq", "user", "action", "success", "entry_hash"} <= set(r) for r in rows)
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)
    everything = [v1, v2, pem, file_value, explicit, generated, "doomed-VALUE"]
    for value in [*everything, "after-backup-VALUE", "MIIB-line-1"]:
        assert value not in export
    assert "FAIL" not in doctor and doctor.count("[ok]") >= 3
    cli.assert_never_printed(*everything, "MIIB-line-1")
    # and no plaintext in any file the vault wrote (database, backups, key files)
    written = [p for p in (tmp_path / "data").rglob("*") if p.is_file()] + [backup]
    blob = b"".join(p.read_bytes() for p in written)
    for value in [*everything, "after-backup-VALUE", "MIIB-line-1"]:
        assert value.encode() not in blob, value


# --------------------------------------------------------------------------------------------
# RBAC through the environment layer and --user
# --------------------------------------------------------------------------------------------


def test_rbac_grant_list_revoke(tmp_path: Path) -> None:
    cli = Cli(tmp_path, MAHAVISHNU_SECRETS_MANAGEMENT__RBAC_ENABLED="true")
    alice, bob = ("--user", "alice"), ("--user", "bob")
    cli("init")
    # Before any grant, nobody may write; the first grant bootstraps the first admin.
    cli.fails(*alice, "set", "prod-db", input="prod-db-VALUE", code=EXIT["denied"])
    cli(*alice, "access", "grant", "alice", "admin")
    cli(*alice, "set", "prod-db", input="prod-db-VALUE")
    cli(*alice, "set", "dev-cache", input="dev-cache-VALUE")

    parallel(
        lambda: cli.fails(*bob, "get", "prod-db", code=EXIT["denied"], says="bob"),
        lambda: cli.fails(
            *bob, "access", "grant", "bob", "admin", code=EXIT["denied"], says="administrator"
        ),
    )
    cli(*alice, "access", "grant", "bob", "operator", "--scope", "prod-*")
    grants, bob_reads, *_ = parallel(
        lambda: json.loads(cli("access", "list", "--json").stdout),
        lambda: cli(*bob, "get", "prod-db").stdout,
        lambda: cli.fails(*bob, "get", "dev-cache", code=EXIT["denied"]),
        lambda: cli.fails(*bob, "update", "prod-db", input="bob-was-here", code=EXIT["denied"]),
        lambda: cli.fails(*bob, "audit", "log", code=EXIT["denied"]),
    )
    assert {"principal": "alice", "role": "admin", "scope": "name:*"} in grants
    assert {"principal": "bob", "role": "operator", "scope": "name:prod-*"} in grants
    assert bob_reads == "prod-db-VALUE"
    assert [r["name"] for r in json.loads(cli(*bob, "list", "--json").stdout)] == ["prod-db"]

    assert "removed 1 grant" in cli(*alice, "access", "revoke", "bob").stderr
    _, grants_now, export = parallel(
        lambda: cli.fails(*bob, "get", "prod-db", code=EXIT["denied"]),
        lambda: cli("access", "list").stdout,
        lambda: cli(*alice, "audit", "export").stdout,
    )
    assert "bob" not in grants_now

    # The denials are in the audit trail, attributed to bob; the chain verifies.
    entries = [json.loads(x) for x in export.splitlines()]
    denied = [e for e in entries if e["user"] == "bob" and not e["success"]]
    assert {e["action"] for e in denied} >= {"read", "grant", "update"}
    assert all(e["user"] in ("alice", "bob") for e in entries if e["action"] == "read")
    _, still = parallel(
        lambda: cli(*alice, "audit", "verify"), lambda: cli(*alice, "get", "prod-db").stdout
    )
    assert still == "prod-db-VALUE"
    cli.assert_never_printed("prod-db-VALUE", "dev-cache-VALUE", "bob-was-here")


# --------------------------------------------------------------------------------------------
# error cases: exit codes, one-line messages, no tracebacks, nothing created behind our back
# --------------------------------------------------------------------------------------------


def test_key_and_store_errors(base_vault: Path, tmp_path: Path) -> None:
    def wrong_key() -> None:
        d = copy_vault(base_vault, tmp_path / "wrong")
        key = d / "master.key"
        key.chmod(0o600)
        key.write_bytes(os.urandom(32))
        key.chmod(0o400)
        cli = Cli(tmp_path)
        cli.fails(
            "--vault-dir", str(d), "get", "base-secret", code=EXIT["key"], says="does not match"
        )
        res = cli("--vault-dir", str(d), "doctor", code=EXIT["error"])
        assert "[FAIL]" in res.stdout and "does not match" in res.stdout
        cli.assert_never_printed("base-VALUE-42")

    def missing_key() -> None:
        d = copy_vault(base_vault, tmp_path / "nokey")
        (d / "master.key").unlink()
        cli = Cli(tmp_path)
        say = "Master key not found"
        cli.fails("--vault-dir", str(d), "get", "base-secret", code=EXIT["key"], says=say)
        # neither init nor set may generate a new key over existing data
        cli.fails("--vault-dir", str(d), "init", code=EXIT["key"], says=say)
        cli.fails("--vault-dir", str(d), "set", "n", input="x-VALUE", code=EXIT["key"], says=say)
        assert sorted(p.name for p in d.iterdir() if "key" in p.name) == []

    def loose_key() -> None:
        d = copy_vault(base_vault, tmp_path / "loose")
        (d / "master.key").chmod(0o644)
        cli = Cli(tmp_path)
        cli.fails("--vault-dir", str(d), "get", "base-secret", code=EXIT["key"], says="chmod 400")
        res = cli("--vault-dir", str(d), "doctor", code=EXIT["error"])
        assert "[FAIL] master key" in res.stdout and "0644" in res.stdout
        assert mode(d / "master.key") == 0o644  # reported, not silently changed

    def corrupt_db() -> None:
        d = copy_vault(base_vault, tmp_path / "corrupt")
        db = d / "vault.db"
        db.write_bytes(os.urandom(db.stat().st_size))
        cli = Cli(tmp_path)
        res = cli.fails("--vault-dir", str(d), "get", "base-secret", code=EXIT["store"])
        assert "corrupt" in res.stderr and "hint:" in res.stderr and "restore" in res.stderr
        cli.fails("--vault-dir", str(d), "list", code=EXIT["store"], says="restore")

    def unreadable_db() -> None:
        d = copy_vault(base_vault, tmp_path / "unreadable")
        db = d / "vault.db"
        if os.geteuid() == 0:  # root reads any file: make the path impossible to open instead
            db.unlink()
            db.mkdir()
        else:
            db.chmod(0)
        cli = Cli(tmp_path)
        cli.fails("--vault-dir", str(d), "get", "base-secret", code=EXIT["store"], says="vault.db")

    def no_vault_yet() -> None:
        d = tmp_path / "empty"
        d.mkdir()
        cli = Cli(d)
        cli.fails("get", "anything", code=EXIT["not_found"], says="secretvault init")
        assert list(d.iterdir()) == []  # a read never creates a vault or a key
        res = cli("doctor", code=EXIT["error"])
        assert "[FAIL]" in res.stdout
        assert list(d.iterdir()) == []

    def altered_ciphertext() -> None:
        d = copy_vault(base_vault, tmp_path / "altered")
        with sqlite3.connect(d / "vault.db") as conn:
            (ct,) = conn.execute("SELECT ciphertext FROM versions").fetchone()
            flipped = bytes([ct[0] ^ 1]) + ct[1:]
            conn.execute("UPDATE versions SET ciphertext = ?", (flipped,))
        conn.close()
        cli = Cli(tmp_path)
        cli.fails("--vault-dir", str(d), "get", "base-secret", code=EXIT["crypto"])
        cli.assert_never_printed("base-VALUE-42")

    def tampered_audit() -> None:
        d = copy_vault(base_vault, tmp_path / "tampered")
        with sqlite3.connect(d / "vault.db") as conn:
            conn.execute("UPDATE audit SET user = 'somebody-else' WHERE seq = 1")
        conn.close()
        cli = Cli(tmp_path)
        cli.fails("--vault-dir", str(d), "audit", "verify", code=EXIT["audit"], says="not verify")
        res = cli("--vault-dir", str(d), "doctor", code=EXIT["error"])
        assert "[FAIL]" in res.stdout and "audit" in res.stdout

    parallel(
        wrong_key,
        missing_key,
        loose_key,
        corrupt_db,
        unreadable_db,
        no_vault_yet,
        altered_ciphertext,
        tampered_audit,
    )


def test_input_errors(base_vault: Path, tmp_path: Path) -> None:
    d = copy_vault(base_vault, tmp_path / "v")
    cli = Cli(tmp_path, SECRETVAULT_DIR=str(d))  # the env var form of --vault-dir

    def names() -> None:
        cli.fails("get", "bad name!", code=EXIT["usage"], says="invalid secret name")
        cli.fails("set", ".hidden", input="x-VALUE", code=EXIT["usage"], says="invalid")
        cli.fails("set", "a" * 300, input="x-VALUE", code=EXIT["usage"], says="invalid")
        cli.fails("set", "empty", input="", code=EXIT["usage"], says="empty")
        cli.fails("restore", code=EXIT["usage"], says="either")

    def missing_and_duplicate() -> None:
        cli.fails("get", "nope", code=EXIT["not_found"], says="'nope' not found")
        cli.fails("update", "nope", input="x-VALUE", code=EXIT["not_found"], says="nope")
        cli.fails("history", "nope", code=EXIT["not_found"])
        cli.fails("delete", "nope", "--hard", "--yes", code=EXIT["not_found"])
        cli.fails("get", "base-secret", "--version", "9", code=EXIT["not_found"], says="version")
        cli.fails("set", "base-secret", input="dup-VALUE", code=EXIT["exists"], says="exists")
        assert cli("get", "base-secret").stdout == "base-VALUE-42"

    def expired() -> None:
        cli("set", "old-token", "--expires-at", "2001-01-01T00:00:00", input="old-VALUE")
        cli.fails("get", "old-token", code=EXIT["state"], says="expired")

    parallel(names, missing_and_duplicate, expired)
    cli.assert_never_printed("x-VALUE", "dup-VALUE", "old-VALUE", "base-VALUE-42")


# --------------------------------------------------------------------------------------------
# settings layers and Python <-> CLI interoperability
# --------------------------------------------------------------------------------------------

PY_STORE_AND_READ = textwrap.dedent(
    """
    import asyncio, sys
    from secretvault import SecretType, create_vault

    async def main():
        vault = await create_vault()
        try:
            await vault.store_secret(SecretType.API_KEY, "from-python", "py-VALUE-7")
            value, _ = await vault.get_secret(sys.argv[1])
            sys.stdout.write(value)
        finally:
            await vault.shutdown()

    asyncio.run(main())
    """
)


def test_settings_file_and_python_interop(tmp_path: Path) -> None:
    (tmp_path / "settings").mkdir()
    (tmp_path / "settings" / "mahavishnu.yaml").write_text(
        "secrets_management:\n  storage_path: store/team.db\n  master_key_path: keys/team.key\n",
        encoding="utf-8",
    )
    cli = Cli(tmp_path)
    cli("init")
    assert (tmp_path / "store" / "team.db").is_file()
    assert mode(tmp_path / "keys" / "team.key") == 0o400
    assert not (tmp_path / "data").exists()  # the defaults were not used
    cli("set", "from-cli", input="cli-VALUE-3")

    script = tmp_path / "interop.py"
    script.write_text(PY_STORE_AND_READ, encoding="utf-8")
    py = subprocess.run(
        [sys.executable, str(script), "from-cli"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=base_env(),
        timeout=60,
    )
    assert py.returncode == 0, py.stderr
    assert py.stdout == "cli-VALUE-3"  # Python read what the CLI wrote ...
    assert cli("get", "from-python").stdout == "py-VALUE-7"  # ... and the CLI reads Python's

    # The environment layer beats the YAML file.
    other = tmp_path / "elsewhere"
    cli(
        "init",
        MAHAVISHNU_SECRETS_MANAGEMENT__STORAGE_PATH=str(other / "v.db"),
        MAHAVISHNU_SECRETS_MANAGEMENT__MASTER_KEY_PATH=str(other / "k.key"),
    )
    assert (other / "v.db").is_file() and (other / "k.key").is_file()
    res = cli("doctor")
    assert "settings/mahavishnu.yaml: present" in res.stdout and "team.db" in res.stdout
    report = json.loads(cli("doctor", "--json").stdout)
    assert report["ok"] is True and report["backend"] == "local"
    assert "settings/mahavishnu.yaml: present" in report["settings_layers"]
    assert all(c["ok"] for c in report["checks"]) and len(report["checks"]) >= 3

    # --app and --settings-dir select another namespace and folder (conf/acme.yaml).
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "acme.yaml").write_text(
        "secrets_management:\n  storage_path: acme/a.db\n  master_key_path: acme/a.key\n",
        encoding="utf-8",
    )
    acme = ("--app", "acme", "--settings-dir", "conf")
    cli(*acme, "set", "acme-only", input="acme-VALUE")
    assert (tmp_path / "acme" / "a.db").is_file()
    # plain `get` (a fast path in the entry point) and `get --json` (typer) agree
    plain, as_json = parallel(
        lambda: cli(*acme, "get", "acme-only").stdout,
        lambda: json.loads(cli(*acme, "get", "acme-only", "--json").stdout)["value"],
    )
    assert plain == as_json == "acme-VALUE"
    cli.fails("get", "acme-only", code=EXIT["not_found"])  # not in the mahavishnu vault

    # settings/local.yaml beats settings/APP.yaml; ${VAR:-default} expands from the environment
    (tmp_path / "conf" / "local.yaml").write_text(
        "secrets_management:\n  storage_path: ${ACME_DB:-acme/from-local.db}\n",
        encoding="utf-8",
    )
    cli(*acme, "init")
    assert (tmp_path / "acme" / "from-local.db").is_file()
    cli(*acme, "init", ACME_DB=str(tmp_path / "acme" / "from-env.db"))
    assert (tmp_path / "acme" / "from-env.db").is_file()
    cli.assert_never_printed("cli-VALUE-3", "py-VALUE-7", "acme-VALUE")


def test_configuration_errors(tmp_path: Path) -> None:
    """Bad settings in any layer: exit 3, one line naming the field or file, input not echoed."""
    bad_yaml, bad_field, bad_env = (tmp_path / n for n in ("yaml", "field", "env"))
    for folder, text in (
        (bad_yaml, "secrets_management:\n  storage_path: [unclosed\n"),
        (bad_field, "secrets_management:\n  storage_pth: x.db\n"),
    ):
        (folder / "settings").mkdir(parents=True)
        (folder / "settings" / "mahavishnu.yaml").write_text(text, encoding="utf-8")
    bad_env.mkdir()
    token = "sk-live-TOKEN-in-the-wrong-variable"
    parallel(
        lambda: Cli(bad_yaml).fails("list", code=3, says="mahavishnu.yaml line"),
        lambda: Cli(bad_field).fails("list", code=3, says="storage_pth"),
        lambda: Cli(bad_env, MAHAVISHNU_SECRETS_MANAGEMENT__BUSY_TIMEOUT_MS=token).fails(
            "get", "x", code=3, says="busy_timeout_ms"
        ),
        lambda: Cli(bad_env, MAHAVISHNU_SECRETS_MANAGEMENT__DEFAULT_BACKEND="aws").fails(
            "list", code=3, says="backend"
        ),
    )
    # nothing was created by a command that could not even load its settings
    assert not any(p.name == "data" for d in (bad_yaml, bad_field, bad_env) for p in d.iterdir())
    res = Cli(bad_env, MAHAVISHNU_SECRETS_MANAGEMENT__BUSY_TIMEOUT_MS=token)("list", code=3)
    assert token not in res.stderr
    # With Python's warnings on, the error is still the whole output: no "coroutine ... was
    # never awaited" after the message (settings load before any coroutine is made).
    for args in (("get", "x"), ("list",)):
        res = Cli(bad_field)(*args, code=3, PYTHONWARNINGS="default")
        assert res.stderr.startswith("error: ") and "Warning" not in res.stderr, res.stderr


def test_version_flag(tmp_path: Path) -> None:
    """``--version`` and ``-V`` print the package version without touching a vault."""
    from secretvault import __version__

    for flag in ("--version", "-V"):
        res = Cli(tmp_path)(flag)
        assert res.stdout.strip() == f"secretvault {__version__}"
    assert not (tmp_path / "data").exists()


# --------------------------------------------------------------------------------------------
# secret hygiene: no value argument, hidden prompt, --debug tracebacks without the value
# --------------------------------------------------------------------------------------------


def test_set_has_no_value_argument() -> None:
    """Structural: a value can never be on argv (visible in ``ps``)."""
    import typer.main

    from secretvault.cli.main import app

    command = typer.main.get_command(app)
    for name in ("set", "update", "rotate"):
        params = command.commands[name].params
        positional = [p.name for p in params if p.param_type_name == "argument"]
        assert positional == ["name"], (name, positional)
    res = subprocess.run(
        [SV, "set", "--help"], capture_output=True, text=True, env=base_env(), timeout=60
    )
    usage = next(ln for ln in res.stdout.splitlines() if "Usage:" in ln)
    assert re.sub(r"\s+", " ", usage.strip()) == "Usage: secretvault set [OPTIONS] {name}"
    assert "value" not in res.stdout.split("Options")[0].lower().split("arguments")[-1]


def run_in_pty(
    args: list[str], cwd: Path, env: dict[str, str], script: list[tuple[str, str]]
) -> tuple[int, str]:
    """Run ``args`` on a pseudo-terminal (controlling TTY); answer each prompt in turn.

    click prints ``Value:`` and then getpass prints ``" "`` after turning echo off (flushing
    pending input), so a prompt is matched with its trailing space before answering.
    """
    master, slave = os.openpty()

    def become_tty_owner() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        args,
        cwd=cwd,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        preexec_fn=become_tty_owner,
    )
    os.close(slave)
    out = b""
    steps = list(script)
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            if steps and steps[0][0].encode() in out:
                os.write(master, steps.pop(0)[1].encode() + b"\n")
                out += b"\x00"  # mark where the answer went, so a prompt is not matched twice
            if proc.poll() is not None and not ready:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return proc.returncode, out.decode(errors="replace")


def test_hidden_prompt_on_a_terminal(base_vault: Path, tmp_path: Path) -> None:
    d = copy_vault(base_vault, tmp_path / "v")
    env = base_env(SECRETVAULT_DIR=str(d))
    typed = "typed-at-prompt-VALUE"
    rc, out = run_in_pty(
        [SV, "set", "typed"], tmp_path, env, [("Value: ", typed), ("confirmation: ", typed)]
    )
    assert rc == 0, out
    assert typed not in out  # not echoed
    assert "stored typed" in out
    # On a terminal, get adds a newline for the human; piped output stays exact.
    rc, out = run_in_pty([SV, "get", "typed"], tmp_path, env, [])
    assert rc == 0 and out.replace("\r\n", "\n").endswith(typed + "\n"), out
    assert Cli(tmp_path, SECRETVAULT_DIR=str(d))("get", "typed").stdout == typed


def test_debug_traceback_never_contains_the_value(base_vault: Path, tmp_path: Path) -> None:
    d = copy_vault(base_vault, tmp_path / "v")
    cli = Cli(tmp_path, SECRETVAULT_DIR=str(d))
    value = "debug-mode-VALUE-0xC0FFEE"
    res = cli("--debug", "set", "base-secret", input=value, code=None)
    assert res.returncode != 0 and "Traceback" in res.stderr and "SecretAlreadyExists" in res.stderr
    res = cli("--debug", "update", "missing", input=value, code=None)
    assert res.returncode != 0 and "Traceback" in res.stderr
    res = cli("--debug", "set", "bad name", input=value, code=None)
    assert res.returncode != 0 and "Traceback" in res.stderr
    cli.assert_never_printed(value)
    export = cli("audit", "export").stdout
    assert value not in export and "base-VALUE-42" not in export


# --------------------------------------------------------------------------------------------
# regressions: bugs these tests found, fixed in src/
# --------------------------------------------------------------------------------------------


def test_purge_a_soft_deleted_secret(base_vault: Path, tmp_path: Path) -> None:
    d = copy_vault(base_vault, tmp_path / "v")
    cli = Cli(tmp_path, SECRETVAULT_DIR=str(d))
    cli("delete", "base-secret")
    cli("purge", "base-secret", "--yes")
    cli.fails("get", "base-secret", code=EXIT["not_found"])
    assert not json.loads(cli("list", "--json").stdout)


def test_a_revoked_secret_can_be_reinstated_by_an_admin(base_vault: Path, tmp_path: Path) -> None:
    d = copy_vault(base_vault, tmp_path / "v")
    cli = Cli(tmp_path, SECRETVAULT_DIR=str(d))
    cli("revoke", "base-secret", "--reason", "leaked")
    cli.fails("get", "base-secret", code=EXIT["state"], says="revoked")
    cli("update", "base-secret", "--metadata-only", "--status", "active")
    assert cli("get", "base-secret").stdout == "base-VALUE-42"


def test_update_revives_an_expired_secret_as_the_hint_says(base_vault: Path, tmp_path: Path):
    d = copy_vault(base_vault, tmp_path / "v")
    cli = Cli(tmp_path, SECRETVAULT_DIR=str(d))
    cli("set", "tok", "--expires-at", "2001-01-01T00:00:00", input="old-VALUE")
    res = cli.fails("get", "tok", code=EXIT["state"], says="expired")
    assert "update" in res.stderr
    cli("update", "tok", "--expires-at", "2099-01-01T00:00:00", input="new-VALUE")
    assert cli("get", "tok").stdout == "new-VALUE"


def test_pending_deletion_hint_names_a_real_command(base_vault: Path, tmp_path: Path) -> None:
    d = copy_vault(base_vault, tmp_path / "v")
    cli = Cli(tmp_path, SECRETVAULT_DIR=str(d))
    cli("delete", "base-secret")
    res = cli.fails("get", "base-secret", code=EXIT["state"], says="pending deletion")
    hinted = re.search(r"`secretvault ([^`]+)`", res.stderr)
    assert hinted, res.stderr
    cli(*hinted.group(1).split())  # following the hint must work
    assert cli("get", "base-secret").stdout == "base-VALUE-42"


def test_corrupt_database_can_be_restored_as_the_hint_says(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli("init")
    cli("set", "keep-me", input="keep-me-VALUE")
    snap = tmp_path / "snap.db"
    cli("backup", "--output", str(snap))
    db = tmp_path / "data" / "secrets" / "vault.db"
    db.write_bytes(os.urandom(db.stat().st_size))
    res = cli.fails("get", "keep-me", code=EXIT["store"], says="restore")
    assert "hint:" in res.stderr
    # The manual recovery the guide describes (copy the backup over vault.db) works ...
    spare = tmp_path / "spare"
    shutil.copytree(tmp_path / "data" / "secrets", spare)
    shutil.copy(snap, spare / "vault.db")
    assert cli("--vault-dir", str(spare), "get", "keep-me").stdout == "keep-me-VALUE"
    # ... but the CLI command the hint points at cannot run on the corrupt vault.
    cli("restore", "--from-backup", str(snap), "--yes")
    assert cli("get", "keep-me").stdout == "keep-me-VALUE"


def test_corrupt_table_pages_give_a_clean_store_error(base_vault: Path, tmp_path: Path) -> None:
    d = copy_vault(base_vault, tmp_path / "v")
    db = d / "vault.db"
    conn = sqlite3.connect(db)
    try:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        roots = [
            r[0]
            for r in conn.execute(
                "SELECT rootpage FROM sqlite_master WHERE tbl_name IN ('secrets', 'versions') "
                "AND rootpage > 0"
            )
        ]
    finally:
        conn.close()
    assert roots
    with db.open("r+b") as fh:
        for root in roots:
            fh.seek((root - 1) * page)
            fh.write(os.urandom(page))
    cli = Cli(tmp_path, SECRETVAULT_DIR=str(d))
    cli.fails("get", "base-secret", code=EXIT["store"], says="restore")
    cli.fails("list", code=EXIT["store"], says="restore")
    res = cli("doctor", code=EXIT["error"])
    assert "Traceback" not in res.stderr and "[FAIL]" in res.stdout


PY_WRITE_AND_VANISH = textwrap.dedent(
    """
    import asyncio, os
    from secretvault import SecretType, create_vault

    async def main():
        vault = await create_vault()
        for i in range(30):
            await vault.store_secret(SecretType.API_KEY, f"late-{i}", f"late-VALUE-{i}")
        await vault.update_secret("keep-me", "changed-after-the-backup")
        os._exit(0)  # dies without closing: its committed pages are still only in the WAL

    asyncio.run(main())
    """
)


def test_restore_when_the_database_is_gone_but_its_wal_is_not(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli("init")
    cli("set", "keep-me", input="keep-me-VALUE")
    snap = tmp_path / "snap.db"
    cli("backup", "--output", str(snap))
    script = tmp_path / "vanish.py"
    script.write_text(PY_WRITE_AND_VANISH, encoding="utf-8")
    subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=base_env(), check=True, timeout=60
    )
    secrets_dir = tmp_path / "data" / "secrets"
    assert (secrets_dir / "vault.db-wal").stat().st_size > 0
    (secrets_dir / "vault.db").unlink()  # the database file is lost; its WAL is still there
    cli("restore", "--from-backup", str(snap), "--yes")
    value, listed = parallel(
        lambda: cli("get", "keep-me").stdout,
        lambda: [r["name"] for r in json.loads(cli("list", "--json").stdout)],
    )
    assert (value, listed) == ("keep-me-VALUE", ["keep-me"])


def test_a_backup_from_before_a_rekey_can_be_restored(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli("init")
    cli("set", "a", input="before-rekey-VALUE")
    old_backup = tmp_path / "old.db"
    cli("backup", "--output", str(old_backup))
    cli("update", "a", input="after-rekey-VALUE")
    old_id = re.search(r"rotated: (\w+) ->", cli("rekey", "--yes").stdout).group(1)
    res = cli("restore", "--from-backup", str(old_backup), "--yes", code=None)
    if res.returncode != 0:  # then its hint must lead to a successful restore
        assert_clean_error(res, old_id)
        assert "backups/master.key" in res.stderr
        assert res.returncode == EXIT["key"]
        key = tmp_path / "data" / "secrets" / "master.key"
        key.chmod(0o600)
        shutil.copy(key.parent / "backups" / f"master.key.{old_id}", key)
        key.chmod(0o400)
        cli("restore", "--from-backup", str(old_backup), "--yes")
    assert cli("get", "a").stdout == "before-rekey-VALUE"
    cli("audit", "verify")


@pytest.mark.parametrize("source", ["from-file", "stdin"])
def test_a_value_that_is_not_utf8_is_a_clean_input_error(
    base_vault: Path, tmp_path: Path, source: str
) -> None:
    d = copy_vault(base_vault, tmp_path / "v")
    raw = b"\xff\xfe binary \x80 key"
    (tmp_path / "key.bin").write_bytes(raw)
    env = base_env(SECRETVAULT_DIR=str(d))
    args = ["set", "binary"] + (["--from-file", "key.bin"] if source == "from-file" else [])
    res = subprocess.run(
        [SV, *args],
        cwd=tmp_path,
        input=raw if source == "stdin" else b"",
        capture_output=True,
        env=env,
        timeout=60,
    )
    res = subprocess.CompletedProcess(res.args, res.returncode, "", res.stderr.decode())
    assert res.returncode == EXIT["usage"], res.stderr[-2000:]
    assert_clean_error(res)


def test_every_command_that_prints_data_speaks_json(tmp_path: Path) -> None:
    """``--json`` on set, update, rotate, history, list, backup (and --list), rekey, audit
    verify/log, access list: stdout is one JSON document a script can parse, with no value in
    it unless the command is ``get``."""
    cli = Cli(tmp_path)
    value = "json-VALUE-" + os.urandom(8).hex()
    j = lambda *a, **kw: json.loads(cli(*a, **kw).stdout)  # noqa: E731
    assert j("set", "svc-key", "--json", input=value) == {
        "name": "svc-key",
        "id": j("get", "svc-key", "--json")["record"]["id"],
        "version": 1,
    }
    updated = j("update", "svc-key", "--json", input=value + "-2")
    assert updated["metadata"]["version"] == 2 and "encrypted_value" not in updated
    rotated = j("rotate", "svc-key", "--json")
    assert (rotated["success"], rotated["old_version"], rotated["new_version"]) == (True, 2, 3)
    assert [h["version"] for h in j("history", "svc-key", "--json")] == [3, 2, 1]
    assert [r["name"] for r in j("list", "--json")] == ["svc-key"]
    backup = j("backup", "--json")
    assert Path(backup["path"]).is_absolute() and Path(backup["path"]).is_file()
    assert [b["path"] for b in j("backup", "--list", "--json")] == [backup["path"]]
    keys = j("rekey", "--yes", "--json")
    assert keys["old_key_id"] != keys["new_key_id"]
    chain = j("audit", "verify", "--json")
    assert chain["ok"] is True and chain["checked"] > 5
    assert j("access", "list", "--json") == []
    assert not any(value in err for err in cli.stderrs)


def test_sync_and_drift_between_named_backends(tmp_path: Path) -> None:
    """Named backends in settings; sync copies, drift exits 1 and names what differs without
    showing values; a second sync changes nothing; bad names are a clear usage error."""
    (tmp_path / "settings").mkdir()
    (tmp_path / "settings" / "mahavishnu.yaml").write_text(
        textwrap.dedent(
            """\
            secrets_management:
              backends:
                staging:
                  storage_path: staging/vault.db
                  master_key_path: staging/master.key
            """
        ),
        encoding="utf-8",
    )
    cli = Cli(tmp_path)
    value = "sync-VALUE-" + os.urandom(6).hex()
    cli("set", "db-pass", "--type", "database_password", "--service", "pg", input=value)
    cli("set", "api", input=value + "-api")
    res = cli("sync", "--from", "local", "--to", "staging")
    assert "2 created" in res.stdout
    assert (
        "0 created, 0 updated, 2 unchanged"
        in cli("sync", "--from", "local", "--to", "staging").stdout
    )
    cli("--vault-dir", "staging", "update", "api", input="changed-" + value)
    res = cli("drift", "--from", "local", "--to", "staging", code=1)
    assert res.stdout.strip() == "api: value"
    assert value not in res.stdout + res.stderr
    report = json.loads(cli("drift", "--from", "local", "--to", "staging", "--json", code=1).stdout)
    assert report == [{"name": "api", "kind": "value", "fields": []}]
    cli.fails("sync", "--from", "local", "--to", "nowhere", code=3, says="unknown backend")
    assert all(value not in err for err in cli.stderrs)
