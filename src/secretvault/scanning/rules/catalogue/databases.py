"""Databases and data platforms: connection URLs with passwords (PostgreSQL, MySQL/MariaDB,
MongoDB, Redis, AMQP, SQL Server, ClickHouse), JDBC and ADO.NET strings, PlanetScale,
Supabase, Neon, Snowflake, Databricks, Fauna, Upstash, InfluxDB, Confluent, MongoDB Atlas,
Firebase.
"""

from __future__ import annotations

import random

from secretvault.models import Severity
from secretvault.scanning.rules.base import Rule
from secretvault.scanning.rules.catalogue._dsl import SEV, ST, Raw, ctx, rule, tok, uuid
from secretvault.scanning.rules.gen import alnum, chars
from secretvault.scanning.rules.validators import (
    password_ok,
    strong_password_ok,
    url_password_ok,
)

_PW_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!*~._-"
# user:password@host — the password may not contain URL delimiters or template markers.
_USERINFO = (
    r"[A-Za-z0-9._%~+-]{0,64}:(?P<secret>[^\s:@/'\"\x60<>{}$\\]{3,128})@[A-Za-z0-9._-]{1,253}"
)


def _pw(rng: random.Random) -> str:
    return alnum(rng, 4) + chars(rng, _PW_CHARS, rng.randint(8, 20))


def _url_rule(
    rid: str, desc: str, scheme: str, schemes: tuple[str, ...], kw: tuple[str, ...],
    sev: Severity = SEV.HIGH, conf: float = 0.8,
) -> Rule:  # fmt: skip
    regex = rf"\b(?:{scheme})(?:\+[a-z0-9]+)?://{_USERINFO}"

    def example(rng: random.Random) -> str:
        user = rng.choice(["app", "svc_orders", "admin", ""]) if "redis" in scheme else "app"
        host = f"db-{alnum(rng, 5).lower()}.internal:5432/main"
        url = f"{rng.choice(schemes)}://{user}:{_pw(rng)}@{host}"
        return rng.choice(['DATABASE_URL="{}"', "url: {}", "conn = connect('{}')"]).format(url)

    def negatives(rng: random.Random) -> list[str]:
        s = rng.choice(schemes)
        return [
            f"{s}://app:password@localhost/db",
            f"{s}://app:${{DB_PASSWORD}}@db.internal/db",
            f"{s}://app:<password>@db.internal/db",
            f"{s}://db.internal:5432/main",
            f"{s}://app:@db.internal/db",
        ]

    return rule(
        rid,
        desc,
        regex,
        kw,
        example,
        st=ST.DATABASE_PASSWORD,
        sev=sev,
        conf=conf,
        negatives=negatives,
        check=url_password_ok,
    )


def _jdbc_example(rng: random.Random) -> str:
    pw = _pw(rng)
    return rng.choice([
        f"jdbc:postgresql://db.internal:5432/app?user=app&password={pw}",
        f"url=jdbc:sqlserver://sql.internal:1433;databaseName=app;user=sa;password={pw};",
        f"jdbc:mysql://db.internal:3306/app?useSSL=true&password={pw}&user=app",
    ])  # fmt: skip


def _adonet_example(rng: random.Random) -> str:
    return rng.choice([
        f'"Server=tcp:sql.internal,1433;Database=app;User ID=app;Password={_pw(rng)};"',
        f"Data Source=sql01;Initial Catalog=app;User Id=app;Pwd={_pw(rng)};",
        f"Host=pg.internal;Port=5432;Database=app;Username=app;Password={_pw(rng)}",
    ])  # fmt: skip


_PASSWORD = Raw(r"[A-Za-z0-9!#%*+./?@^_~-]{8,64}", lambda rng: _pw(rng), tail="!#%*+./?@^~-")

RULES: list[Rule] = [
    _url_rule(
        "database-url",
        "PostgreSQL / MySQL / MariaDB / CockroachDB URL with a password",
        "postgres(?:ql)?|mysql|mariadb|cockroachdb",
        ("postgres", "postgresql", "mysql", "mariadb"),
        ("postgres", "mysql", "mariadb", "cockroachdb"),
        conf=0.6,
    ),
    _url_rule(
        "mongodb-url",
        "MongoDB connection string with a password",
        r"mongodb(?:\+srv)?",
        ("mongodb", "mongodb+srv"),
        ("mongodb",),
    ),
    _url_rule(
        "redis-url",
        "Redis connection URL with a password",
        "rediss?",
        ("redis", "rediss"),
        ("redis",),
    ),
    _url_rule(
        "amqp-url", "AMQP (RabbitMQ) URL with a password", "amqps?", ("amqp", "amqps"), ("amqp",)
    ),
    _url_rule(
        "mssql-url",
        "SQL Server URL with a password",
        "mssql|sqlserver",
        ("mssql", "sqlserver"),
        ("mssql", "sqlserver"),
    ),
    _url_rule(
        "clickhouse-url",
        "ClickHouse URL with a password",
        "clickhouse",
        ("clickhouse",),
        ("clickhouse",),
    ),
    rule(
        "jdbc-url-password",
        "JDBC URL carrying a password property",
        r"jdbc:[a-z0-9]{2,20}:[^\s'\"]{0,200}[;?&](?i:password|pwd)=(?P<secret>[^\s;&'\"]{3,128})",
        ("jdbc:",),
        _jdbc_example,
        st=ST.DATABASE_PASSWORD,
        conf=0.8,
        check=password_ok,
        negatives=lambda rng: [
            "jdbc:postgresql://db/app?user=app&password=${DB_PASSWORD}",
            "jdbc:mysql://db/app?user=app&password=changeme",
        ],
    ),
    rule(
        "jdbc-oracle-thin",
        "Oracle JDBC thin URL with inline user/password",
        r"jdbc:oracle:thin:[A-Za-z0-9_$#]{1,30}/(?P<secret>[^@\s'\"/]{3,64})@",
        ("jdbc:oracle:thin:",),
        lambda rng: f"jdbc:oracle:thin:scott/{_pw(rng)}@db.internal:1521/ORCL",
        st=ST.DATABASE_PASSWORD,
        conf=0.8,
        check=password_ok,
        negatives=lambda rng: [
            "jdbc:oracle:thin:@db.internal:1521/ORCL",
            "jdbc:oracle:thin:scott/password@db:1521/X",
        ],
    ),
    rule(
        "adonet-connection-string",
        "ADO.NET / Npgsql connection string with a password",
        r"(?i:(?:server|data source|host)=[^;\r\n]{1,100};[^\r\n]{0,200}(?:password|pwd)=)"
        r"(?P<secret>[^;'\"\r\n]{3,128})",
        ("password=", "pwd="),
        _adonet_example,
        st=ST.DATABASE_PASSWORD,
        conf=0.75,
        check=password_ok,
        negatives=lambda rng: [
            "Server=sql01;Database=app;Trusted_Connection=True;",
            "Server=sql01;Database=app;User Id=sa;Password={0};",
        ],
    ),
    tok(
        "planetscale-password",
        "PlanetScale database password",
        "pscale_pw_",
        ("b64u", 32, 64),
        st=ST.DATABASE_PASSWORD,
    ),
    tok("planetscale-api-token", "PlanetScale service token", "pscale_tkn_", ("b64u", 32, 64)),
    tok(
        "planetscale-oauth-token",
        "PlanetScale OAuth token",
        "pscale_oauth_",
        ("b64u", 32, 64),
        st=ST.OAUTH_TOKEN,
    ),
    tok("supabase-access-token", "Supabase personal access token", "sbp_", ("hex", 40)),
    tok("supabase-secret-key", "Supabase secret API key", "sb_secret_", ("b64u", 31, 40)),
    ctx(
        "neon-api-key",
        "Neon API key",
        r"neon[\w. -]*(?:api[_. -]?)?key",
        ("neon_api_key", "NEON_API_KEY"),
        ("l36", 64),
        kw=("neon",),
    ),
    ctx(
        "snowflake-password",
        "Snowflake account password",
        r"snowflake[\w. -]*password",
        ("snowflake_password", "SNOWFLAKE_PASSWORD"),
        _PASSWORD,
        kw=("snowflake",),
        st=ST.DATABASE_PASSWORD,
        check=strong_password_ok,
    ),
    tok("databricks-api-token", "Databricks personal access token", "dapi", ("hex", 32)),
    ctx(
        "fauna-secret",
        "Fauna database secret",
        r"fauna[\w. -]*(?:secret|key)",
        ("fauna_secret", "FAUNADB_KEY"),
        "fn",
        ("b64u", 38),
        kw=("fauna",),
    ),
    ctx(
        "upstash-redis-token",
        "Upstash Redis REST token",
        r"upstash[\w. -]*token",
        ("upstash_redis_rest_token", "UPSTASH_TOKEN"),
        ("b64u", 40, 100),
        kw=("upstash",),
    ),
    ctx(
        "influxdb-token",
        "InfluxDB API token",
        r"influx(?:db)?[\w. -]*token",
        ("influxdb_token", "INFLUX_TOKEN"),
        ("b64u", 86),
        "==",
        kw=("influx",),
    ),
    ctx(
        "confluent-api-secret",
        "Confluent Cloud API secret",
        r"confluent[\w. -]*secret",
        ("confluent_api_secret", "CONFLUENT_CLOUD_API_SECRET"),
        ("b64", 64),
        kw=("confluent",),
    ),
    ctx(
        "mongodb-atlas-private-key",
        "MongoDB Atlas API private key",
        r"atlas[\w. -]*private[_. -]?key",
        ("atlas_private_key", "MONGODB_ATLAS_PRIVATE_KEY"),
        *uuid(),
        kw=("atlas",),
    ),
    ctx(
        "firebase-database-secret",
        "Firebase Realtime Database legacy secret",
        r"firebase[\w. -]*secret",
        ("firebase_secret", "FIREBASE_DB_SECRET"),
        ("a62", 40),
        kw=("firebase",),
    ),
]
