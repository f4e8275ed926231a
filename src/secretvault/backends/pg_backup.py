"""``pg_dump`` and ``pg_restore`` of a PostgreSQL store's schema: what ``secretvault backup`` and
``secretvault restore --from-backup`` run when the vault lives in PostgreSQL.

What a dump is: the one schema ``postgres_schema`` (tables, the change counter, their data) in
pg_dump's custom format, without ownership (``--no-owner``), so any role that may create the
tables can restore it. It holds ciphertext, the key ring's check values and the audit chain
with its head — never a plaintext value, and nothing readable without the master key, which is
therefore backed up separately (docs/multi-host.md, "Backups").

The password never reaches a command line, which ``ps`` shows to every user of the host: the
DSN is split with libpq's own parser (``conninfo_to_dict``), handed to the tools without it as
``--dbname``, and the password travels only in the child's ``PGPASSWORD`` environment (readable
by the same user and root alone). A parameter that has no environment variable and is secret
(``sslpassword``) is refused instead of being put on the command line.

Failures become the vault's errors with the tool's own message (scrubbed of the password) and
a hint; a missing tool names the Debian package. Everything here is synchronous and blocking:
``PostgresBackend`` runs it in a worker thread.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from secretvault.backends.base import PG_DUMP_SUFFIX, DumpKeys, open_new_backup
from secretvault.crypto.envelope import Envelope
from secretvault.crypto.keyring import KeyInfo
from secretvault.errors import (
    BackendUnavailableError,
    ConfigurationError,
    SecretDecryptionError,
)

#: File name ending of a PostgreSQL backup (``vault-<UTC time>.pgdump``).
DUMP_SUFFIX = PG_DUMP_SUFFIX

#: How long the tools wait for the server to answer a connection when the DSN does not say
#: (libpq's default is to wait for ever); the same 10 s the store's own connections use.
_CONNECT_TIMEOUT = "10"

_INSTALL_HINT = (
    "install PostgreSQL's client tools, of the server's major version or newer: "
    "apt-get install postgresql-client (Debian/Ubuntu; postgresql-client-<N> for version N)"
)


class _Connection:
    """How a child tool reaches the server: a password-free conninfo for its ``--dbname``,
    the environment carrying the password, and the secrets to scrub from its messages."""

    __slots__ = ("conninfo", "env", "secrets", "where")

    def __init__(self, dsn: str) -> None:
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        try:
            info = conninfo_to_dict(dsn)
        except Exception:
            # psycopg's message may quote the DSN, password included: say only what is wrong.
            raise ConfigurationError(
                "postgres_dsn is not a valid PostgreSQL connection string",
                hint="use postgresql://user@host:5432/dbname or key=value pairs",
            ) from None
        if info.get("sslpassword"):
            raise ConfigurationError(
                "postgres_dsn sets sslpassword, which pg_dump/pg_restore could only receive on "
                "their command line, where any user of the host can read it",
                hint="use a client key without a passphrase (mode 0600), or run pg_dump yourself",
            )
        password = info.pop("password", None)
        inherited = os.environ.get("PGPASSWORD", "")
        self.secrets = [s for s in (str(password or ""), inherited, dsn) if s]
        self.conninfo = make_conninfo("", **{k: v for k, v in info.items() if v is not None})
        self.env = dict(os.environ)
        self.env.setdefault("PGCONNECT_TIMEOUT", _CONNECT_TIMEOUT)
        if password:
            self.env["PGPASSWORD"] = str(password)
        host = info.get("host") or "localhost"
        self.where = f"{host}:{info.get('port') or 5432}/{info.get('dbname') or ''}"

    def scrub(self, text: str) -> str:
        """``text`` with every secret of the DSN replaced by ``***``."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


def _tool(name: str) -> str:
    """The path of ``pg_dump``/``pg_restore``; ConfigurationError naming the package if absent."""
    path = shutil.which(name)
    if path is None:
        raise ConfigurationError(
            f"{name} is not installed (not found on PATH); PostgreSQL backups need it",
            hint=_INSTALL_HINT,
        )
    return path


def _failure(
    name: str, conn: _Connection | None, stderr: str, what: str, changed: str
) -> Exception:
    """The vault's error for a tool that exited non-zero: its message (scrubbed) and a hint."""
    text = stderr.strip()
    if conn is not None:
        text = conn.scrub(text)
    lines = text.splitlines()
    detail = "\n".join(lines[-12:]) if lines else "(no message)"  # the cause is at the end
    where = f" at {conn.where}" if conn is not None else ""
    message = f"{name} could not {what}{where}:\n{detail}"
    low = text.lower()
    if "version mismatch" in low or "unsupported version" in low:
        found = re.search(r"server version: (\d+)", text)
        wanted = f"postgresql-client-{found.group(1)}" if found else "postgresql-client-<N>"
        return ConfigurationError(
            message,
            hint=f"{name} must be of the server's major version (and of the pg_dump that "
            f"wrote the file) or newer: apt-get install {wanted}, and put its bin directory "
            "(/usr/lib/postgresql/<N>/bin) first on PATH",
        )
    if "password authentication failed" in low or "no password supplied" in low:
        hint = "check the password of postgres_dsn (or PGPASSWORD / ~/.pgpass)"
    elif "permission denied" in low or "must be owner" in low:
        hint = (
            "a backup needs SELECT on the schema's tables and sequences; a restore needs the "
            "role that owns them (the one that ran `secretvault init`)"
        )
    elif "could not connect" in low or "connection to server" in low:
        hint = "check that the server is running and postgres_dsn points at it"
    else:
        hint = "see the message above"
    return BackendUnavailableError(message, hint=f"{hint}; {changed}" if changed else hint)


def _run(
    name: str,
    args: list[str],
    conn: _Connection | None,
    *,
    what: str,
    changed: str,
    stdout: int | None = subprocess.PIPE,
) -> str:
    """Run ``name`` with ``args`` (the connection, if any, is in ``conn``); its stdout as text
    when captured. Any failure is an error carrying the tool's scrubbed message."""
    argv = [_tool(name), *args]
    if conn is not None:
        argv.append(f"--dbname={conn.conninfo}")
    try:
        res = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=conn.env if conn is not None else None,
            check=False,
        )
    except OSError as exc:  # found on PATH but not runnable
        raise ConfigurationError(
            f"{name} could not be started ({exc.strerror})", hint=_INSTALL_HINT
        ) from None
    stderr = res.stderr.decode("utf-8", "replace")
    if res.returncode != 0:
        raise _failure(name, conn, stderr, what, changed)
    return res.stdout.decode("utf-8", "replace") if stdout == subprocess.PIPE else ""


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def folded(schema: str) -> str:
    """The schema's name as PostgreSQL stores it: secretvault writes it unquoted, so the
    server folds ASCII capitals to lower case, and pg_restore matches names literally."""
    return schema.translate(_ASCII_LOWER)


def dump_schema(dsn: str, schema: str, target: Path) -> Path:
    """``pg_dump --format=custom --schema=<schema> --no-owner`` into the new file ``target``
    (mode 0600; an existing file is never overwritten, a failed dump leaves no file)."""
    conn = _Connection(dsn)
    fd = open_new_backup(target)
    try:
        # pg_dump writes the archive to the file we opened 0600, rather than creating one
        # itself under the umask.
        _run(
            "pg_dump",
            ["--format=custom", f"--schema={folded(schema)}", "--no-owner"],
            conn,
            what=f"dump schema {folded(schema)}",
            changed="no backup was written",
            stdout=fd,
        )
    except BaseException:
        os.close(fd)
        target.unlink(missing_ok=True)
        raise
    os.close(fd)
    return target


def _not_a_backup(source: Path, why: str) -> SecretDecryptionError:
    return SecretDecryptionError(
        f"{source} is not a secretvault backup ({why})", hint="pick another backup"
    )


_TOC_TABLE_DATA = re.compile(r"^\d+; \d+ \d+ TABLE DATA (\S+) keys ")


def check_archive(source: Path, schema: str) -> None:
    """Raise unless ``source`` is a pg_dump archive holding this vault's schema (its key ring),
    checked with ``pg_restore --list`` (reads the file only, connects nowhere)."""
    try:
        toc = _run(
            "pg_restore", ["--list", str(source)], None, what=f"read {source.name}", changed=""
        )
    except BackendUnavailableError:
        raise _not_a_backup(source, "not a pg_dump archive in custom format") from None
    schemas = {m.group(1) for m in map(_TOC_TABLE_DATA.match, toc.splitlines()) if m}
    if folded(schema) in schemas:
        return
    if schemas:
        raise SecretDecryptionError(
            f"{source} holds the secretvault schema {', '.join(sorted(schemas))}, and this "
            f"vault's postgres_schema is {folded(schema)}",
            hint="restore it into a vault configured with that postgres_schema",
        )
    raise _not_a_backup(source, f"it holds no key ring of schema {folded(schema)}")


def read_dump_keys(source: Path, schema: str) -> DumpKeys:
    """The key ring and KDF salt of a dump, from its data (``pg_restore --data-only`` to
    stdout: nothing is loaded anywhere)."""
    check_archive(source, schema)
    name = folded(schema)
    sql = _run(
        "pg_restore",
        [
            "--data-only",
            f"--schema={name}",
            "--table=keys",
            "--table=meta",
            "--file=-",
            str(source),
        ],
        None,
        what="read the key ring",
        changed="",
    )
    keys = _copy_rows(sql, name, "keys")
    meta = {row["key"]: row["value"] for row in _copy_rows(sql, name, "meta")}
    try:
        ring = [
            KeyInfo(
                str(row["key_id"]),
                str(row["status"]),
                str(row["created_at"]),
                Envelope(
                    _bytea(row["check_ct"]),
                    _bytea(row["check_nonce"]),
                    _bytea(row["check_salt"]),
                    str(row["key_id"]),
                ),
            )
            for row in keys
        ]
    except (KeyError, ValueError, TypeError):
        raise _not_a_backup(source, "its key ring cannot be read") from None
    # The order ControlSession.keys() gives: the active key first, then the newest.
    ring.sort(key=lambda k: k.created_at, reverse=True)
    ring.sort(key=lambda k: k.status != "active")
    return DumpKeys(ring, meta.get("kdf_salt"))


def restore_schema(dsn: str, schema: str, source: Path) -> None:
    """``pg_restore --clean --if-exists --no-owner --single-transaction --schema=<schema>``:
    the schema's tables are dropped and recreated from ``source`` in one transaction of the
    server's, so other hosts see the old contents or the new ones, and a failure changes
    nothing."""
    name = folded(schema)
    _run(
        "pg_restore",
        [
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            f"--schema={name}",
            str(source),
        ],
        _Connection(dsn),
        what=f"restore schema {name}",
        changed="the transaction was rolled back, nothing was changed",
    )


# -- reading COPY data from pg_restore's SQL output ------------------------------------------

_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)")


def _unescape(field: str) -> str:
    """One field of COPY's text format as its value (the format escapes with backslashes)."""

    def one(m: re.Match[str]) -> str:
        s = m.group(1)
        if s[0] == "x" and len(s) > 1:
            return chr(int(s[1:], 16))
        if s[0] in "01234567":
            return chr(int(s, 8))
        return _ESCAPES.get(s, s)

    return _ESCAPE.sub(one, field)


def _copy_rows(sql: str, schema: str, table: str) -> list[dict[str, str | None]]:
    """The rows of ``COPY schema.table (...) FROM stdin;`` in ``sql``, by column name."""
    header = re.compile(rf'^COPY "?{re.escape(schema)}"?\."?{table}"? \((.*)\) FROM stdin;$')
    lines = iter(sql.splitlines())
    for line in lines:
        found = header.match(line)
        if found is None:
            continue
        columns = [c.strip().strip('"') for c in found.group(1).split(",")]
        rows: list[dict[str, str | None]] = []
        for row in lines:
            if row == "\\.":
                break
            fields = [None if f == "\\N" else _unescape(f) for f in row.split("\t")]
            rows.append(dict(zip(columns, fields, strict=False)))
        return rows
    return []


def _bytea(value: str | None) -> bytes:
    """A bytea column in its hex output form (``\\x0123…``) as bytes."""
    if value is None or not value.startswith("\\x"):
        raise ValueError("not a hex bytea value")
    return bytes.fromhex(value[2:])
