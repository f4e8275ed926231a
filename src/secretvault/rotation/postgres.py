"""PostgreSQL credentials and the ``postgres`` rotator (docs/rotation.md, "postgres").

A secret holds a libpq URI (``postgresql://user:pass@host:port/db``) or AWS-RDS-style JSON
(``{"engine", "host", "port", "username", "password", "dbname"}``); a rotated value keeps the
format. Passwords are never formatted into SQL: the new one is hashed client-side into a SCRAM
verifier (libpq's ``PQencryptPasswordConn``) and composed with ``psycopg.sql.Literal``, so the
server — and its statement log — never sees the plaintext.

Strategies (AWS's names): ``single-user`` logs in with the current credential and changes its
own password; ``alternating`` uses an admin secret to set the password of the *other* of two
users (``app`` / ``app_clone``), so the current credential keeps working during the rotation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from secretvault.errors import ConfigurationError, RotationError

if TYPE_CHECKING:
    import psycopg

    from secretvault.models import SecretRecord
    from secretvault.rotation.rotators import RotationContext

CONNECT_TIMEOUT_SECONDS = 5
CLONE_SUFFIX = "_clone"


@dataclass(frozen=True, slots=True)
class PgCredential:
    """A parsed database credential and the format it came in (``uri`` or ``json``)."""

    username: str
    password: str
    host: str
    port: int
    dbname: str
    fmt: str
    extra: dict[str, Any]

    @classmethod
    def parse(cls, value: str) -> PgCredential:
        """Parse a URI or RDS-style JSON; errors never quote the value."""
        text = value.strip()
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except ValueError:
                raise RotationError("the secret is not valid JSON") from None
            missing = [k for k in ("username", "password", "host") if not data.get(k)]
            if missing:
                raise RotationError(f"the credential JSON lacks {', '.join(missing)}")
            known = {"username", "password", "host", "port", "dbname"}
            return cls(
                str(data["username"]),
                str(data["password"]),
                str(data["host"]),
                int(data.get("port") or 5432),
                str(data.get("dbname") or "postgres"),
                "json",
                {k: v for k, v in data.items() if k not in known},
            )
        parts = urlsplit(text)
        if parts.scheme not in ("postgresql", "postgres"):
            raise RotationError(
                "the secret is neither a postgresql:// URI nor RDS-style JSON",
                hint='store e.g. postgresql://app:PASSWORD@db:5432/app or {"engine": ...}',
            )
        if not parts.username or parts.password is None:
            raise RotationError("the postgresql:// URI has no user:password@ part")
        return cls(
            unquote(parts.username),
            unquote(parts.password),
            parts.hostname or "localhost",
            parts.port or 5432,
            parts.path.lstrip("/") or "postgres",
            "uri",
            {"scheme": parts.scheme, "query": parts.query},
        )

    def render(self) -> str:
        """The credential as a secret value, in the format it was parsed from."""
        if self.fmt == "json":
            data = {**self.extra, "username": self.username, "password": self.password}
            data.update(host=self.host, port=self.port, dbname=self.dbname)
            data.setdefault("engine", "postgres")
            return str(json.dumps(data, separators=(",", ":")))
        host = f"[{self.host}]" if ":" in self.host else self.host
        netloc = f"{quote(self.username, safe='')}:{quote(self.password, safe='')}@{host}"
        netloc += f":{self.port}"
        scheme = str(self.extra.get("scheme", "postgresql"))
        query = str(self.extra.get("query") or "")
        return urlunsplit((scheme, netloc, "/" + self.dbname, query, ""))

    def with_login(self, username: str, password: str) -> PgCredential:
        """The same target with another user and password."""
        return replace(self, username=username, password=password)

    async def connect(self) -> psycopg.AsyncConnection[Any]:
        """Log in (``RotationError`` without the value when refused)."""
        import psycopg

        try:
            return await psycopg.AsyncConnection.connect(
                host=self.host,
                port=self.port,
                user=self.username,
                password=self.password,
                dbname=self.dbname,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                autocommit=True,
            )
        except psycopg.Error as exc:
            raise RotationError(
                f"cannot log in to {self.host}:{self.port} as {self.username!r}: "
                f"{_first_line(exc, self.password)}"
            ) from None

    async def works(self) -> bool:
        """True when this credential logs in and runs a query."""
        try:
            conn = await self.connect()
        except RotationError:
            return False
        async with conn:
            await conn.execute("SELECT 1")
        return True


def _first_line(exc: BaseException, *secrets: str) -> str:
    """The server's message without any of ``secrets`` (libpq never echoes passwords, but a
    message is checked anyway before it reaches a result, a log or the audit trail)."""
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


async def set_password(conn: psycopg.AsyncConnection[Any], role: str, password: str) -> None:
    """``ALTER ROLE role PASSWORD <scram verifier>``: hashed client-side, composed with
    ``psycopg.sql`` (never string-formatted)."""
    from psycopg import sql

    verifier = conn.pgconn.encrypt_password(
        password.encode(), role.encode(), b"scram-sha-256"
    ).decode()
    await conn.execute(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(verifier))
    )


class PostgresRotator:
    """``kind: postgres``: apply a new password to the database role the secret names."""

    kind = "postgres"

    def __init__(self, strategy: str = "single-user", admin_secret: str | None = None) -> None:
        self.strategy = strategy
        self.admin_secret = admin_secret

    def candidate(self, current: str, new_value: str | None, generated: str) -> str:
        """The new secret value: same format and target, a new password (alternating: the
        other user). ``new_value`` may be a full credential or just the new password."""
        cred = PgCredential.parse(current)
        if new_value is not None:
            try:
                given = PgCredential.parse(new_value)
            except RotationError:
                return cred.with_login(cred.username, new_value).render()
            if self.strategy == "single-user" and given.username != cred.username:
                raise RotationError("a single-user rotation cannot change the user name")
            return given.render()
        user = cred.username
        if self.strategy == "alternating":
            user = (
                user[: -len(CLONE_SUFFIX)] if user.endswith(CLONE_SUFFIX) else user + CLONE_SUFFIX
            )
        return cred.with_login(user, generated).render()

    async def _admin(self, ctx: RotationContext) -> PgCredential:
        assert self.admin_secret is not None
        return PgCredential.parse(await ctx.read_secret(self.admin_secret))

    async def check(self, ctx: RotationContext) -> None:
        """Before anything changes: the current credential (and the admin's) must log in."""
        current = PgCredential.parse(ctx.current)
        conn = await current.connect()
        await conn.close()
        if self.strategy == "alternating":
            admin = await (await self._admin(ctx)).connect()
            await admin.close()

    async def apply(self, ctx: RotationContext) -> None:
        """Set the candidate's password on the database."""
        current, new = PgCredential.parse(ctx.current), PgCredential.parse(ctx.candidate)
        if self.strategy == "single-user":
            async with await current.connect() as conn:
                await set_password(conn, current.username, new.password)
            return
        async with await (await self._admin(ctx)).connect() as conn:
            base = new.username.removesuffix(CLONE_SUFFIX)
            exists = await (
                await conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (new.username,))
            ).fetchone()
            if exists is None:
                from psycopg import sql

                # The clone gets the base user's privileges through membership.
                await conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN IN ROLE {}").format(
                        sql.Identifier(new.username), sql.Identifier(base)
                    )
                )
            await set_password(conn, new.username, new.password)

    async def restore(self, ctx: RotationContext) -> bool:
        """Put the previous credential back; True when it logs in afterwards."""
        old, new = PgCredential.parse(ctx.current), PgCredential.parse(ctx.candidate)
        if self.strategy == "alternating":
            # The other user was changed; the current one never was.
            return await old.works()
        if await old.works():
            return True  # the change never reached the database
        try:
            async with await new.connect() as conn:
                await set_password(conn, new.username, old.password)
        except RotationError:
            return False
        return await old.works()

    async def verify(self, value: str, record: SecretRecord) -> bool:
        """The default verifier: the candidate logs in."""
        return await PgCredential.parse(value).works()


def postgres_from_settings(spec: dict[str, Any], key: str) -> PostgresRotator:
    """A postgres rotator from one ``rotation.rotators`` entry."""
    extra = sorted(set(spec) - {"match", "kind", "strategy", "admin_secret"})
    if extra:
        raise ConfigurationError(f"{key}.{extra[0]}: unknown option for kind postgres")
    strategy = spec.get("strategy", "single-user")
    if strategy not in ("single-user", "alternating"):
        raise ConfigurationError(
            f"{key}.strategy: unknown strategy {strategy!r}", hint="single-user or alternating"
        )
    admin = spec.get("admin_secret")
    if strategy == "alternating" and not admin:
        raise ConfigurationError(
            f"{key}.admin_secret: required for strategy alternating",
            hint="name the secret holding a role that may ALTER/CREATE ROLE",
        )
    return PostgresRotator(strategy, admin)
