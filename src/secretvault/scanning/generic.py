"""Generic detection: a literal credential assigned to a password/secret/token/key name.

All rules here share the id ``generic-secret``; they differ only in the syntax they read
(assignments and object literals in most languages, unquoted config values, XML elements,
name/value pairs, setter calls, command-line flags, SQL, URLs, DSNs, ``.netrc`` ...). The regex
only finds the shape; :func:`accept` decides from the *name* and the *value*:

* The name must say what the value is (password, secret, token, key, salt ...).
* For a password the value is judged by **what it is**, not how random it looks: a
  placeholder, a reference (variable, env, template, attribute path), an expression or call,
  a masked or empty value, or a well-known default password is not a finding; any other
  literal of 4+ characters is, with lower confidence and severity when short or word-like.
* Tokens and keys are machine-made, so a value made of words is a label or a name, not one.
* Matches in test code are reported with lower confidence and severity, not hidden.
"""

from __future__ import annotations

import math
import random
import re
import string
from collections import Counter
from functools import lru_cache
from pathlib import PurePosixPath
from typing import NamedTuple

from secretvault.models import SecretType, Severity
from secretvault.scanning.filters import (
    decoded_text,
    is_default_password,
    is_masked,
    is_uuid_value,
)
from secretvault.scanning.rules.base import ExampleFactory, Rule

GENERIC_ID = "generic-secret"
# Rule tag: the syntax itself says the value is a password (SQL IDENTIFIED BY, URL user-info,
# .netrc, mysql -p), so no secret-like name is needed.
PASSWORD_SYNTAX = "password-syntax"

_KEYWORDS = (
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "credential",
    "auth",
    "salt",
    "nonce",
    "verifier",
)

_NAME = r"(?P<name>[A-Za-z_$@][\w.$@-]{0,80})"
# A backslash may precede each quote: JSON escaped inside a string literal
# (``PAYLOAD = "{\"client_secret\": \"…\"}"``).
# A type annotation may sit between name and operator (``api_key: str = "…"``,
# ``creds: Dict[str, str] = …``); commas only inside brackets, so that ``a: b, c: 'x'`` in an
# object literal is two entries, not one annotated name.
_ANNOTATION = r"(?::\s*[A-Za-z_][\w.]*(?:\[[\w\[\], .]*\])?\s*)?"
_OP = r"\\?[\"']?\]?\s*" + _ANNOTATION + r"(?:===|==|!==|!=|:=|=>|=|:|<-)\s*"
_QUOTED = _NAME + _OP + r"(?:[rbuf]{0,2})?\\?([\"'`])(?P<secret>[^\"'`\s\\]{4,200})\\?[\"'`]"
_UNQUOTED = (
    r"(?:^|`)\s*(?:export\s+|set\s+|ENV\s+|-\s+[\"']?)?" + _NAME + r"[\"']?\s*(?:=|:)\s*"
    r"(?P<secret>(?:(?<==)#|[^\s\"'`#;,{}\[\]()<>])[^\s\"'`]{3,199})[\"']?(?:\s+[#;].*)?\s*(?:`|$)"
)

_CONFIG_SUFFIXES = frozenset(
    {
        ".env",
        ".yaml",
        ".yml",
        ".ini",
        ".cfg",
        ".conf",
        ".cnf",
        ".properties",
        ".sh",
        ".bash",
        ".zsh",
        ".toml",
        ".envrc",
        ".txt",
        ".config",
        ".tfvars",
        ".dockerfile",
        ".md",
        ".rst",
        ".adoc",
        ".mdx",
        ".markdown",
    }
)
_CONFIG_NAMES = frozenset({".env", "dockerfile", ".npmrc", ".pypirc", ".netrc", "env"})

_PASSWORD_TOKENS = frozenset({"password", "passwd", "pwd", "pass", "passphrase", "passwort", "pw"})
_PASSWORD_SUFFIXES = ("password", "passwd", "passphrase", "pwd")  # pgpassword, dbpasswd
_FLAG_PREFIXES = frozenset({"is", "has", "use", "uses", "enable", "enabled", "allow", "show"})
# Secret inputs of signatures and key derivation (OAuth 1.0a nonce/verifier, salts, peppers).
_SALT_TOKENS = frozenset({"salt", "nonce", "verifier", "pepper"})
_STRONG_TOKENS = frozenset({"secret", "token", "apikey", "credential", "credentials", "bearer"})
_KEY_QUALIFIERS = frozenset(
    {
        "api",
        "access",
        "secret",
        "private",
        "auth",
        "signing",
        "encryption",
        "master",
        "client",
        "app",
        "license",
        "account",
        "service",
        "session",
        "hmac",
        "jwt",
        "webhook",
        # not "consumer": an OAuth consumer key is a public identifier (sent in the clear)
    }
)
_NOT_SECRET_LAST = frozenset(
    {
        "url",
        "uri",
        "endpoint",
        "path",
        "file",
        "filename",
        "dir",
        "name",
        "type",
        "field",
        "id",
        "ids",
        "label",
        "length",
        "len",
        "size",
        "count",
        "max",
        "min",
        "prefix",
        "suffix",
        "header",
        "param",
        "policy",
        "format",
        "regex",
        "pattern",
        "hash",
        "digest",
        "env",
        "var",
        "expiry",
        "expires",
        "expiration",
        "ttl",
        "timeout",
        "version",
        "hint",
        "prompt",
        "message",
        "msg",
        "placeholder",
        "reset",
        "required",
        "enabled",
        "mode",
        "algorithm",
        "alg",
        "provider",
        "manager",
        "store",
        "class",
        "method",
        "scheme",
        "kind",
        "input",
        "strength",
        "rotation",
        "location",
        "help",
        "error",
        "errors",
        "text",
        "title",
        "description",
        "validator",
        "column",
        "key",
        "keys",
        "index",
        "ref",
        "reference",
        "source",
        "option",
        "options",
        "list",
        "template",
        "generator",
        "factory",
        "handler",
        "service",
        "client",
        "callback",
        "provided",
        "changed",
        "set",
        "exists",
        "storage",
        "cache",
        "lookup",
        "arn",
        "region",
        "user",
        "username",
        "login",
        "email",
        "host",
        "port",
        "box",
        "form",
        "button",
        "icon",
        "backend",
        "engine",
        "module",
        "mount",
        "plugin",
        "strategy",
        "schema",
        "config",
        "settings",
        "used",
        "date",
        "time",
        "at",
        "last",
        "updated",
        "created",
        "age",
        "accessor",  # a Vault token accessor references a token without granting its rights
    }
)
_NOT_SECRET_ANY = frozenset(
    {
        "public",
        "publishable",
        "pub",
        "sha",
        "sha1",
        "sha256",
        "checksum",
        "md5",
        "fingerprint",
        "csrf",
        "xsrf",
        "csp",  # a CSP nonce is sent to every browser
        "keyboard",
        "monkey",
        "turkey",
        "hockey",
        "donkey",
        "jockey",
        "passenger",
        "passage",
        "compass",
        "bypass",
        "passive",
        "tokenizer",
        "tokenize",
        "tokenized",
        "tokens",
        "primary",
        "foreign",
        "sort",
        "partition",
        "cache",
        "redis",
        "dict",
        "map",
        "hotkey",
        "keycode",
        "keyword",
        "keywords",
        "keypress",
        "keydown",
        "keyup",
        "author",
        "authority",
        "authorization_url",
        "oauth_url",
        "next",
        "page",
        "pagination",
        "cursor",
        "continuation",
        "i18n",
        "translation",
        "mock",
        "fake",
        "dummy",
        "example",
        "verification",  # verification keys are public keys; site/domain tokens are published
    }
)

_WORDISH = re.compile(
    r"^[a-z]+(?:[_\-. ][a-z]+)*[_\-. ]?$|^[A-Za-z][a-z]+(?:[A-Z][a-z]+)*$|^[A-Z][A-Z_]+$"
)
_DOTTED = re.compile(r"^[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)+$")
_SEGMENT = re.compile(r"^(?:[a-z_][a-z0-9_-]*|[A-Z_][A-Z0-9_-]*|[A-Z]?[a-z]+(?:[A-Z][a-z0-9]+)*)$")
_PATHISH = re.compile(
    r"^(?:~|\.{1,2})?/[A-Za-z0-9._-]*(?:/[A-Za-z0-9._-]*)*$|^[A-Za-z]:\\|"
    r"^[\w.-]+(?:/[\w.-]+)+\.[a-z]{2,5}$|"
    r"\.(?:pem|key|json|txt|crt|p12|yaml|yml|env|pub|der|jks|keystore)$"
)
_FUNCISH = re.compile(r"[()\[\]]")
_HEXONLY = re.compile(r"^[0-9a-f]+$|^[0-9A-F]+$")
_IDENT_TOKENS = re.compile(r"[A-Z]?[a-z]+[0-9]{0,2}|[A-Z]+(?![a-z])[0-9]{0,2}|[0-9]+")
_CAMEL_SPLIT = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


_KW = "(?i:" + "|".join(_KEYWORDS) + ")"
# Hyperscan prefilters (supersets of each rule on a line, far faster than the full regex):
# every accepted generic name contains a keyword, and the name precedes the assignment.
_XML = r"<(?P<name>[A-Za-z_][\w.:-]{0,60})>\s*(?P<secret>[^<>\s\"']{4,200})\s*</"
_HEADER = (
    r"(?P<name>(?i:authorization))[\"']?\s*[:=]\s*[\"']?(?i:bearer|token|basic)[ \t]+"
    r"(?P<secret>[A-Za-z0-9._~+/-]{8,}=*)"
)
# A literal default of an environment / config / mapping look-up is hard-coded all the same:
# ``os.getenv("DB_PASSWORD", "…")``, ``os.environ.setdefault("API_TOKEN", "…")``,
# ``config("SECRET_KEY", default="…")``, ``ENV.fetch("X", "…")``, ``opts.get("token", "…")``.
_LOOKUP_CALL = (
    r"\b(?:getenv|get_env|env|get|setdefault|fetch|config|define|put|set|setProperty|setenv|"
    r"putenv|add|option)\(\s*"
)
_ENV_DEFAULT = (
    _LOOKUP_CALL + r"[rbuf]{0,2}[\"'](?P<name>[A-Za-z_][\w.-]{0,80})[\"']\s*,\s*"
    r"(?:default\s*=\s*)?[rbuf]{0,2}([\"'])(?P<secret>[^\"'`\s\\]{4,200})[\"']"
)
# A credential in a URL query string: ``https://api…/export?auth_token=…&format=csv``.
_QUERY = (
    r"(?:(?<=[\w/.-])[?&#]|(?<=[\"'])|^)(?:amp;)?(?P<name>[A-Za-z_][\w.-]{0,60})="
    r"(?P<secret>[^\s\"'`&#<>\\]{4,200})"
)
# PowerShell: ``$dbPassword = ConvertTo-SecureString "…" -AsPlainText -Force``.
_PWSH = (
    r"[$-](?P<name>[A-Za-z_]\w{0,80})\s*=?\s*\(?\s*(?i:ConvertTo-SecureString)\s+"
    r"(?:(?i:-String)\s+)?([\"'])(?P<secret>[^\"'`\s]{4,200})[\"'][^\n]*(?i:-AsPlainText)"
)
# An inline plain-text SecureString is a credential whatever it is assigned to:
# ``New-Object PSCredential('u', (ConvertTo-SecureString '…' -AsPlainText -Force))``.
_PWSH_INLINE = (
    r"\(\s*(?P<name>(?i:ConvertTo-SecureString))\s+(?:(?i:-String)\s+)?([\"'])"
    r"(?P<secret>[^\"'`\s]{4,200})[\"'][^\n]*(?i:-AsPlainText)"
)
# C/C++ and friends: ``#define DB_PASSWORD "…"`` (no operator between name and value).
_DEFINE = (
    r"#\s*define[ \t]+(?P<name>[A-Za-z_]\w{0,80})[ \t]+[LuU8]{0,2}\"(?P<secret>[^\"\s\\]{4,200})\""
)
# A (user, password) pair given to a credential constructor or an ``auth=`` tuple:
# ``auth=("svc", "…")``, ``HTTPBasicAuth("svc", "…")``, ``new NetworkCredential("u", "…")``,
# ``DriverManager.getConnection(url, "u", "…")``: the second string is the password.
_CRED_PAIR = (
    r"(?P<name>\b(?:auth|(?:HTTP)?(?:Basic|Digest|Proxy)Auth|NetworkCredential|"
    r"UsernamePasswordCredentials|PasswordAuthentication|PSCredential|getConnection))"
    r"\s*=?\s*\(\s*(?:[\w.]+\s*,\s*)?[\"'][^\"']{1,80}[\"']\s*,\s*"
    r"(?:[\w.]+\()?[\"'](?P<secret>[^\"'`\s\\]{4,200})[\"']"
)
# Value characters of an unquoted shell / command-line value: stops at quotes, $, operators.
_SHELL_VALUE = r"[^\s\"'`$;|&<>(){}\\-][^\s\"'`$;|&<>(){}\\]{3,199}"
# ``setPassword("…")``, ``.withToken("…")``, builder ``.password("…")``, ``.apiKey("…")``.
_SETTER = (
    r"(?P<name>\b(?:set|with)_?[A-Za-z]\w{0,60}|\.(?i:password|passwd|pwd|passphrase|secret|"
    r"token|api_?key|access_?token|client_?secret|secret_?key|access_?key|auth_?token))"
    r"\(\s*[rbuf]{0,2}([\"'])(?P<secret>[^\"'`\s\\]{4,200})[\"']\s*\)"
)
# A name/value pair on one line: ``<property name="password" value="…"/>``,
# ``<add key="DbPassword" value="…"/>``, ``{"name": "DB_PASSWORD", "value": "…"}``.
_PAIR = (
    r"(?i:name|key)\s*[=:]\s*[\"']?(?P<name>[A-Za-z_][\w.-]{0,80})[\"']?\s*,?\s*"
    r"(?i:value)\s*[=:]\s*[\"'](?P<secret>[^\"'`\s\\]{4,200})[\"']"
)
# Kubernetes / compose env lists: ``- name: DB_PASSWORD`` and ``value: …`` on the next line.
_PAIR_LINES = (
    r"(?i:name)[ \t]*:[ \t]*[\"']?(?P<name>[A-Za-z_][\w.-]{0,80})[\"']?[ \t]*\r?\n"
    r"[ \t]*(?i:value)[ \t]*:[ \t]*[\"']?(?P<secret>[^\s\"'`#{}\[\]]{4,200})"
)
# SQL: ``IDENTIFIED BY '…'``, ``WITH PASSWORD '…'``, ``SET PASSWORD = PASSWORD('…')``.
_SQL = (
    r"(?P<name>(?i:identified[ \t]+by|password))[ \t]*=?[ \t]*(?:(?i:password)[ \t]*\([ \t]*)?"
    r"[\"'](?P<secret>[^\"'`\s\\]{4,200})[\"']"
)
# Credentials in a URL of any scheme: ``nats://client:…@host``, ``ldap://cn:…@dc``.
_URL = (
    r"\b[A-Za-z][A-Za-z0-9+.-]{1,20}://(?P<name>[^\s:/@\"'`<>]{1,64}):"
    r"(?P<secret>[^\s:/@\"'`<>{}$\\]{4,128})@[A-Za-z0-9_\[]"
)
# Go / MySQL DSN: ``user:…@tcp(host:3306)/db``, ``user:…@unix(/run/mysqld.sock)/db``.
_DSN = r"(?P<name>\b[\w.-]{1,64}):(?P<secret>[^\s:/@\"'`<>{}$\\]{4,128})@(?:tcp|udp|unix)\("
# .netrc: ``machine host login user password …``.
_NETRC = (
    r"\bmachine[ \t]+\S+[ \t]+login[ \t]+\S+[ \t]+(?P<name>password|passwd)[ \t]+"
    r"(?P<secret>[^\s\"'`]{4,200})"
)
# Command-line flags: ``--password=…``, ``--db-password …``, ``--api-token '…'``.
_FLAG = (
    r"(?:^|[\s\"'])--?(?P<name>[A-Za-z][\w-]{0,60})(?:=|[ \t]+)[\"']?(?P<secret>"
    + _SHELL_VALUE
    + ")"
)
# ``mysql -uroot -p'…'`` (no space after -p) and ``sshpass -p …``: the syntax says password.
_DASH_P = (
    r"(?P<name>\s-u[ \t]?[^\s-]\S*[ \t]+-p|\bsshpass[ \t]+-p[ \t]?)[\"']?(?P<secret>"
    + _SHELL_VALUE
    + ")"
)
# ``docker run -e NAME=…``, ``--env``, ``--build-arg``, ``kubectl … --from-literal=NAME=…``.
_ENV_FLAG = (
    r"(?:^|\s)(?:-e|--env|--build-arg|--from-literal)[ \t=]+[\"']?(?P<name>[A-Za-z_]\w{0,80})="
    r"[\"']?(?P<secret>" + _SHELL_VALUE + ")"
)
HS_PREFILTERS: dict[str, str] = {
    _QUOTED: _KW + r"[^\n]*(?::=|=>|=|:|<-)\s*[rbuf]{0,2}\\?[\"'`][^\"'`\s\\]{4,200}\\?[\"'`]",
    _UNQUOTED: _KW + r"[\w.$@-]*[\"']?\s*[=:]",
    _XML: _KW + r"[\w.:-]*>\s*[^<>\s\"']{4,200}\s*</",
    # (these two start at the keyword: the bundled Hyperscan misses ``\(\s*["'][\w.-]*(?i:…)`` when
    # the keyword directly follows the quote)
    _ENV_DEFAULT: _KW + r"[\w.-]*[\"']\s*,\s*(?:default\s*=\s*)?[rbuf]{0,2}[\"'][^\"'`\s\\]{4}",
    _QUERY: _KW + r"[\w.-]*=[^\s\"'`&#<>\\]{4}",
    _PWSH: _KW + r"\w*\s*=?\s*\(?\s*(?i:ConvertTo-SecureString)\s",
    _PWSH_INLINE: r"\(\s*(?i:ConvertTo-SecureString)\s",
    _DEFINE: r"#\s*define[ \t]+\w*" + _KW + r"\w*[ \t]+[LuU8]{0,2}\"",
    _CRED_PAIR: r"(?i:auth|credential|getconnection)\w*\s*=?\s*\(",
    _SETTER: _KW + r"\w*\(\s*[rbuf]{0,2}[\"'][^\"'`\s\\]{4}",
    _PAIR: _KW + r"[\w.-]*[\"']?\s*,?\s*(?i:value)\s*[=:]\s*[\"'][^\"'`\s\\]{4}",
    _PAIR_LINES: _KW + r"[\w.-]*[\"']?[ \t]*\r?\n[ \t]*(?i:value)[ \t]*:",
    _SQL: r"(?i:identified[ \t]+by|password)[ \t]*=?[ \t]*[^\n]{0,12}[\"'][^\"'`\s\\]{4}",
    _URL: r"://[^\s:/@\"'`<>]{1,64}:[^\s:/@\"'`<>{}$\\]{4,128}@",
    _DSN: r":[^\s:/@\"'`<>{}$\\]{4,128}@(?:tcp|udp|unix)\(",
    _NETRC: r"\bmachine[ \t]+\S+[ \t]+login[ \t]+\S+[ \t]+passw",
    _FLAG: r"-[\w-]*" + _KW + r"[\w-]*(?:=|[ \t]+)[\"']?[^\s\"'`$;|&<>(){}\\-]",
    _DASH_P: r"(?:\s-u[ \t]?[^\s-]\S*[ \t]+-p|\bsshpass[ \t]+-p)",
    _ENV_FLAG: r"(?:-e|--env|--build-arg|--from-literal)[ \t=]+[\"']?\w*" + _KW,
}


def _rand(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def _quoted_example(rng: random.Random) -> str:
    return "api_" + f'secret = "{_rand(rng, 12)}{rng.randint(10, 99)}{_rand(rng, 12)}"'


def _unquoted_example(rng: random.Random) -> str:
    return "DB_PASS" + f"WORD={_rand(rng, 10)}{rng.randint(10, 99)}{_rand(rng, 6)}"


def _xml_example(rng: random.Random) -> str:
    return "<client" + f"Secret>{_rand(rng, 14)}{rng.randint(10, 99)}{_rand(rng, 8)}</clientSecret>"


def _env_default_example(rng: random.Random) -> str:
    name = rng.choice(["DB_PASS" + "WORD", "API_" + "TOKEN", "SECRET" + "_KEY"])
    value = f"{_rand(rng, 14)}{rng.randint(10, 99)}{_rand(rng, 10)}"
    call = rng.choice(["os.getenv", "os.environ.get", "os.environ.setdefault"])
    return f'{name.lower()} = {call}("{name}", "{value}")'


def _query_example(rng: random.Random) -> str:
    value = f"{_rand(rng, 16)}{rng.randint(10, 99)}{_rand(rng, 14)}"
    return 'URL = "https://api.acme.io/v1/export?auth_' + f'token={value}&format=csv"'


def _pwsh_example(rng: random.Random) -> str:
    value = f"{_rand(rng, 12)}{rng.randint(10, 99)}{_rand(rng, 6)}"
    return "$adminPass" + f'word = ConvertTo-SecureString "{value}" -AsPlainText -Force'


def _pw_word(rng: random.Random) -> str:
    """A weak, word-like password: lowercase letters and a digit (what people really type)."""
    return "".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(rng.randint(5, 9))) + str(
        rng.randint(10, 99)
    )


def _pwsh_inline_example(rng: random.Random) -> str:
    value = _pw_word(rng)
    return f"$c = New-Object PSCredential('u', (ConvertTo-SecureString '{value}' -AsPlainText))"


def _define_example(rng: random.Random) -> str:
    return "#define MQTT_PASS" + f'WORD "{_pw_word(rng)}"'


def _cred_pair_example(rng: random.Random) -> str:
    return f'resp = requests.get(url, auth=("svc", "{_pw_word(rng)}"))'


def _setter_example(rng: random.Random) -> str:
    call = rng.choice(["ds.setPass" + "word", "builder.pass" + "word", "cfg.withApiTo" + "ken"])
    return f'{call}("{_rand(rng, 10)}{rng.randint(10, 99)}");'


def _pair_example(rng: random.Random) -> str:
    return '<property name="pass' + f'word" value="{_pw_word(rng)}"/>'


def _pair_lines_example(rng: random.Random) -> str:
    return "        - name: DB_PASS" + f"WORD\n          value: {_pw_word(rng)}"


def _sql_example(rng: random.Random) -> str:
    return "CREATE USER app IDENTIFIED " + f"BY '{_pw_word(rng)}';"


def _url_example(rng: random.Random) -> str:
    scheme = rng.choice(["nats", "ldap", "smtp", "ftp", "amqp"])
    return f'URL = "{scheme}://client:{_pw_word(rng)}@broker.internal:4222"'


def _dsn_example(rng: random.Random) -> str:
    return f'dsn := "app:{_pw_word(rng)}@tcp(db:3306)/orders"'


def _netrc_example(rng: random.Random) -> str:
    return "machine api.internal login deploy pass" + f"word {_pw_word(rng)}"


def _flag_example(rng: random.Random) -> str:
    return "app-cli --db-pass" + f"word={_pw_word(rng)} --verbose"


def _dash_p_example(rng: random.Random) -> str:
    return f"mysql -uroot -p'{_pw_word(rng)}' orders < dump.sql"


def _env_flag_example(rng: random.Random) -> str:
    return "docker run -e MYSQL_ROOT_PASS" + f"WORD={_pw_word(rng)} mysql:8"


def _header_example(rng: random.Random) -> str:
    return "curl -H 'Authorization: " + f"Bearer {_rand(rng, 20)}{rng.randint(10, 99)}' https://api"


def _generic(
    description: str,
    regex: str,
    example: ExampleFactory,
    *,
    secret_type: SecretType = SecretType.API_KEY,
    keywords: tuple[str, ...] = _KEYWORDS,
    extra_tags: tuple[str, ...] = (),
    case_insensitive: bool = False,
) -> Rule:
    """A generic rule: all share one id, severity and confidence; the syntax is what differs."""
    return Rule(
        id=GENERIC_ID,
        description=description,
        secret_type=secret_type,
        severity=Severity.MEDIUM,
        confidence=0.6,
        regex=regex,
        keywords=keywords,
        example=example,
        case_insensitive=case_insensitive,
        tags=("generic", *extra_tags),
    )


GENERIC_RULES: tuple[Rule, ...] = (
    _generic(
        "Secret-looking literal assigned to a secret-like name",
        _QUOTED,
        _quoted_example,
    ),
    _generic(
        "Secret-looking value assigned to a secret-like name in a config file",
        _UNQUOTED,
        _unquoted_example,
        extra_tags=("config-only",),
    ),
    _generic(
        "Secret-looking value in an XML element with a secret-like name",
        _XML,
        _xml_example,
    ),
    _generic(
        "Secret-looking literal default of an environment or config look-up",
        _ENV_DEFAULT,
        _env_default_example,
    ),
    _generic(
        "Secret-looking value of a secret-like URL query parameter",
        _QUERY,
        _query_example,
    ),
    _generic(
        "Plain-text secret passed to PowerShell ConvertTo-SecureString",
        _PWSH,
        _pwsh_example,
    ),
    _generic(
        "Plain-text SecureString passed inline (PowerShell)",
        _PWSH_INLINE,
        _pwsh_inline_example,
        keywords=("convertto-securestring",),
        extra_tags=(PASSWORD_SYNTAX,),
    ),
    _generic("Literal passed to a credential setter or builder", _SETTER, _setter_example),
    _generic("Secret-like C preprocessor definition", _DEFINE, _define_example),
    _generic(
        "Password of a (user, password) pair given to a credential constructor",
        _CRED_PAIR,
        _cred_pair_example,
        keywords=("auth", "credential", "getconnection"),
        extra_tags=(PASSWORD_SYNTAX,),
    ),
    _generic("Secret-like name/value pair on one line", _PAIR, _pair_example),
    _generic(
        "Secret-like env entry: name, and value on the next line",
        _PAIR_LINES,
        _pair_lines_example,
        extra_tags=("multiline",),
    ),
    _generic(
        "SQL password literal (IDENTIFIED BY, PASSWORD)",
        _SQL,
        _sql_example,
        keywords=("identified", "password"),
        extra_tags=(PASSWORD_SYNTAX,),
    ),
    _generic(
        "Password in the user-info of a URL",
        _URL,
        _url_example,
        secret_type=SecretType.DATABASE_PASSWORD,
        keywords=("://",),
        extra_tags=(PASSWORD_SYNTAX,),
    ),
    _generic(
        "Password in a Go / MySQL DSN",
        _DSN,
        _dsn_example,
        keywords=("@tcp(", "@unix(", "@udp("),
        extra_tags=(PASSWORD_SYNTAX,),
    ),
    _generic(
        "Password in a .netrc entry",
        _NETRC,
        _netrc_example,
        keywords=("machine",),
        extra_tags=(PASSWORD_SYNTAX,),
    ),
    _generic("Secret-like command-line flag with a literal value", _FLAG, _flag_example),
    _generic(
        "Password given to mysql -p / sshpass -p",
        _DASH_P,
        _dash_p_example,
        keywords=("-p",),
        extra_tags=(PASSWORD_SYNTAX,),
    ),
    _generic(
        "Secret-like variable set with docker -e / --build-arg / --from-literal",
        _ENV_FLAG,
        _env_flag_example,
    ),
    _generic(
        "Credential in an HTTP Authorization header",
        _HEADER,
        _header_example,
        secret_type=SecretType.OAUTH_TOKEN,
        keywords=("authorization",),
        extra_tags=("header",),
    ),
)


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value`` (0 for empty)."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def char_classes(value: str) -> int:
    """How many of lower, upper, digit, symbol occur in ``value``."""
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )


def name_tokens(name: str) -> list[str]:
    """Split an identifier (snake, kebab, camel, dotted) into lowercase tokens."""
    name = name.strip("$@\"'")
    parts = re.split(r"[^A-Za-z0-9]+", _CAMEL_SPLIT.sub("_", name))
    return [p.lower() for p in parts if p]


@lru_cache(maxsize=8192)  # names repeat across a tree (password, api_key ...); pure function
def name_kind(name: str) -> str | None:
    """``"password"``, ``"salt"``, ``"key"``, ``"secret"`` for a secret-like name; else None."""
    tokens = name_tokens(name)
    if not tokens or (tokens[-1] in _NOT_SECRET_LAST and tokens[-1] != "key"):
        return None
    if tokens[0] in _FLAG_PREFIXES and len(tokens) > 1:
        return None  # is_password, has_token, use_api_key: a flag about a secret
    if any(t in _NOT_SECRET_ANY for t in tokens):
        return None
    if any(t in _PASSWORD_TOKENS or t.endswith(_PASSWORD_SUFFIXES) for t in tokens):
        return "password"
    if any(t in _SALT_TOKENS for t in tokens):
        return "salt"
    if tokens[-1] == "key":
        if len(tokens) > 1 and tokens[-2] == "consumer":
            return None  # OAuth consumer keys are public identifiers, sent in the clear
        if len(tokens) > 1 and tokens[-2] in _KEY_QUALIFIERS:
            return "secret"
        return "key"
    if any(t in _STRONG_TOKENS or t.endswith(("secret", "token", "apikey")) for t in tokens):
        return "secret"
    return None


def secret_type_for(name: str) -> SecretType:
    """The vault SecretType a generic finding belongs to, from its variable name."""
    tokens = set(name_tokens(name))
    if tokens & _PASSWORD_TOKENS or any(t.endswith(_PASSWORD_SUFFIXES) for t in tokens):
        return SecretType.DATABASE_PASSWORD
    if "webhook" in tokens:
        return SecretType.WEBHOOK_SECRET
    if tokens & {"private", "signing", "encryption", "master", "hmac"}:
        return SecretType.ENCRYPTION_KEY
    if tokens & {"token", "bearer", "oauth", "refresh"} or any(t.endswith("token") for t in tokens):
        return SecretType.OAUTH_TOKEN
    return SecretType.API_KEY


def is_config_path(path: str) -> bool:
    """Files whose syntax allows unquoted secret values (``.env``, YAML, INI, shell ...)."""
    p = PurePosixPath(path.replace("\\", "/"))
    name = p.name.lower()
    return (
        name in _CONFIG_NAMES
        or name.startswith(".env")
        or p.suffix.lower() in _CONFIG_SUFFIXES
        or name.endswith(".env")
    )


def alnum_classes(value: str) -> int:
    """How many of lower, upper, digit occur in ``value``."""
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
    )


def is_identifier(value: str) -> bool:
    """CamelCase / snake_case made of real-looking words (``OAuth2ClientSecretBackend``)."""
    parts = [p for p in re.split(r"[_\-.:/]+", value) if p]
    tokens = [t for p in parts for t in _IDENT_TOKENS.findall(p)]
    if sum(map(len, tokens)) != sum(map(len, parts)) or len(tokens) < 2:
        return False
    words = [t.rstrip("0123456789") for t in tokens if not t.isdigit()]
    noise = sum(len(t.rstrip("0123456789")) <= 2 or t[-1].isdigit() for t in tokens)
    if noise > max(2, len(tokens) // 3):
        return False  # random mixed case splits into many short or digit-glued "words"
    acronyms = [w for w in words if w.isupper()]
    real = [w for w in words if not w.isupper()]
    if len(real) < 1 or any(len(w) > 6 for w in acronyms) or max(map(len, real)) < 4:
        return False
    return all(len(w) >= 2 and _VOWELS.search(w) for w in real) and (
        len(real) >= 2 or bool(acronyms)
    )


_VOWELS = re.compile(r"[aeiouyAEIOUY]")


def is_dotted_name(value: str) -> bool:
    """``settings.DB_PASSWORD``, ``config.auth.token``: attribute paths, not literals."""
    return bool(_DOTTED.match(value)) and all(_SEGMENT.match(p) for p in value.split("."))


def looks_like_secret(value: str, kind: str) -> bool:
    """Strict value test: random enough, not an identifier, path, call or sentence."""
    if len(value) < (6 if kind == "password" else 12 if kind == "secret" else 20):
        return False
    if _WORDISH.match(value) or _PATHISH.search(value) or is_dotted_name(value):
        return False
    if _FUNCISH.search(value) or value.startswith("$"):
        return False
    if kind != "password" and _HEXONLY.match(value) and len(value) < 32:
        return False
    if is_identifier(value):
        return False
    classes = char_classes(value)
    entropy = shannon_entropy(value)
    mixed = alnum_classes(value)
    if kind == "password":
        strong = mixed >= 2 or (len(value) >= 16 and entropy >= 3.5)
        return 6 <= len(value) <= 128 and classes >= 2 and entropy >= 2.3 and strong
    if kind == "key":
        return len(value) >= 20 and mixed >= 2 and entropy >= 3.5
    return len(value) >= 12 and mixed >= 2 and entropy >= 3.0


_INTERPOLATION = re.compile(r"\$[{(]|#\{|\{\{|\{[A-Za-z_][\w.]*\}")
_SHELL_VAR = re.compile(r"\$[A-Za-z_]")
_TYPE_NAMES = frozenset(
    {"bool", "boolean", "str", "string", "bytes", "int", "integer", "float", "number", "dict"}
    | {"list", "object", "function", "optional", "any", "char", "secretstr", "securestring"}
)
_CONST_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
_SNAKE = re.compile(r"^(?:[a-z][a-z0-9]*(?:_[a-z0-9]+)+|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)$")
_CAMEL_NAME = re.compile(r"^[a-z]+(?:[A-Z][a-z0-9]+)+$")


def is_reference(value: str) -> bool:
    """The value names or computes a secret rather than being one: a variable, environment or
    template reference, an attribute path, a call or an expression, a constant's name, or the
    prefix of a longer text (it ends in ``:``; base64 padding ``=`` is part of a value).

    A ``$name`` inside a short value is shell/PHP/Perl interpolation; long generated values
    contain ``$`` by chance (Django secret keys). Counter-example: ``s3cr3t_v4lue`` is a snake-like
    literal, but it names no secret.
    """
    value = value.rstrip(",;")  # the surrounding syntax's punctuation, not the value's
    # (``%(x)s``, ``%VAR%`` and ``%s`` templates are filters.is_template's: a generated password
    # may start with ``%``)
    if value.startswith(("$", "{", "[", "<")) or _INTERPOLATION.search(value):
        return True
    if _SHELL_VAR.search(value) and len(value) < 24:
        return True  # "abc$HOME": short text around a variable is an interpolated string
    if value.lower() in _TYPE_NAMES or "/*" in value or "*/" in value:
        return True  # ``password: `bool` ``: a type; ``keyRings/*``: a resource pattern
    if value.endswith(":"):
        return True  # ``Pass :py:class:`` - a label or a role, the value comes later
    if is_dotted_name(value) or _FUNCISH.search(value) or _PATHISH.search(value):
        return True
    if _CONST_NAME.match(value):
        return True  # PASSWORD_ENV_VAR: the name of where the secret lives
    # "db_password", "resetPasswordToken": a field or key name
    return bool(_SNAKE.match(value) or _CAMEL_NAME.match(value)) and name_kind(value) is not None


def password_value(value: str) -> float | None:
    """Confidence that a literal assigned to a password name is a real password, or None.

    Decided by what the value is, not how random it looks (see :func:`is_reference`,
    :func:`is_masked`, :func:`is_default_password`); short or word-like values get less.
    """
    if not 4 <= len(value) <= 128 or (value.isdigit() and len(value) < 6):
        return None
    if is_masked(value) or is_reference(value) or is_default_password(value):
        return None
    if looks_like_secret(value, "password"):
        return STRONG_CONFIDENCE
    return WEAK_CONFIDENCE


def token_value(value: str, kind: str) -> float | None:
    """Confidence for a token, key, salt or nonce literal, or None.

    These values are machine-made: a value of words, an identifier or a reference is a label
    or a name. A UUID under a token/secret name is that token (Vault service tokens, AppRole
    secret ids and many API keys are UUIDs), at lower confidence. Counter-examples:
    ``refresh_token_label`` is a label; a UUID under a bare ``key`` name is an identifier.
    """
    if len(value) < 8 or is_masked(value) or is_reference(value):
        return None
    if is_uuid_value(value):
        return None if kind == "key" else WEAK_CONFIDENCE
    if looks_like_secret(value, "key" if kind == "key" else "secret"):
        return STRONG_CONFIDENCE
    if kind == "key" or is_identifier(value):
        return None  # a bare "key" is as often a dictionary key: only random values count
    if _WORDISH.match(value) and not _LONG_RUN.match(value):
        return None
    if decoded_text(value).isalpha():
        return None  # base64 of one plain word ("c2hvcnQ=" = "short"): a label, not key bytes
    if _HEXONLY.match(value) and kind != "salt":
        return None  # short hex (< 32) names an id or digest prefix; salts and nonces are hex
    if shannon_entropy(value) >= 2.0 and (alnum_classes(value) >= 2 or _LONG_RUN.match(value)):
        return WEAK_CONFIDENCE
    return None


# One run of 16+ lowercase letters: no identifier or English word is that long unseparated.
_LONG_RUN = re.compile(r"^[a-z]{16,}$")


STRONG_CONFIDENCE = 0.6
WEAK_CONFIDENCE = 0.4  # short, word-like or low-entropy: reported with LOW severity
TEST_PATH_PENALTY = 0.2  # test code hard-codes throwaway credentials far more often


class Verdict(NamedTuple):
    """What a generic finding is: its type, confidence and severity."""

    secret_type: SecretType
    confidence: float
    severity: Severity


def accept(
    name: str,
    value: str,
    path: str,
    config_only: bool,
    header: bool = False,
    password_syntax: bool = False,
) -> Verdict | None:
    """Decide a generic candidate; None drops it."""
    if config_only and not is_config_path(path):
        return None
    if header:
        conf = token_value(value, "secret")
        return None if conf is None else _verdict(SecretType.OAUTH_TOKEN, conf, path)
    if password_syntax:
        conf = password_value(value)
        return None if conf is None else _verdict(SecretType.DATABASE_PASSWORD, conf, path)
    kind = name_kind(name)
    low_name = name.lower()
    if kind is None or not any(k in low_name for k in _KEYWORDS):
        return None
    lowered = value.lower()
    if lowered == low_name or any(t in lowered for t in name_tokens(name) if len(t) >= 4):
        return None  # the value repeats its own name: a key, label or field name
    conf = password_value(value) if kind == "password" else token_value(value, kind)
    if conf is None:
        return None
    return _verdict(secret_type_for(name), conf, path)


def _verdict(stype: SecretType, conf: float, path: str) -> Verdict:
    if is_test_path(path):
        conf = round(conf - TEST_PATH_PENALTY, 2)
    severity = Severity.MEDIUM if conf >= STRONG_CONFIDENCE else Severity.LOW
    return Verdict(stype, conf, severity)


_TEST_DIRS = frozenset(
    {
        "test",
        "tests",
        "testing",
        "spec",
        "specs",
        "__tests__",
        "testdata",
        "test_data",
        "fixtures",
        "fixture",
        "__fixtures__",
        "__mocks__",
        "mocks",
        "e2e",
        "it",
    }
)
_TEST_FILE = re.compile(
    r"(?:^test_|_test\.|\.test\.|\.spec\.|^conftest\.py$|Tests?\.(?:java|kt|cs|scala|swift)$|"
    r"_spec\.rb$|Spec\.(?:groovy|scala|kt)$)"
)


def is_test_path(path: str) -> bool:
    """Test code: a file in a test/fixture directory, or named like a test."""
    p = PurePosixPath(path.replace("\\", "/"))
    if any(part.lower() in _TEST_DIRS for part in p.parts[:-1]):
        return True
    return bool(_TEST_FILE.search(p.name))
