"""Contextual secrets in the benchmark's held-out syntaxes: JSON escaped inside a string,
literal defaults of environment look-ups, URL query strings, PowerShell SecureStrings, values
starting with ``#``, odd-looking generic values; plus the documentation filters that keep
those rules precise. Every value is built at run time (nothing secret-looking in the repo)."""

from __future__ import annotations

import random
import string

import pytest

from secretvault.scanning import filters
from secretvault.scanning.engine import hyperscan_available
from secretvault.scanning.generic import is_identifier
from secretvault.scanning.rules.gen import uuid4
from secretvault.scanning.scanner import Scanner

RNG = random.Random(4242)
ALNUM = string.ascii_letters + string.digits
# No vowels: chance words ("foo", "test", "admin") cannot occur in a generated value.
CONSONANTS = "".join(c for c in string.ascii_letters if c.lower() not in "aeiouy")
PW = "pass" + "word"


def rand(n: int = 32, alphabet: str = ALNUM) -> str:
    """Random mixed-case value with at least one digit, upper and lower letter."""
    body = [RNG.choice(alphabet) for _ in range(n - 3)]
    return "".join(body) + RNG.choice(string.digits) + RNG.choice("QWXZ") + RNG.choice("qwxz")


def few_digits(n: int) -> str:
    """Mixed-case letters with one or two digits: splits into many short "words"."""
    chars = [RNG.choice(string.ascii_letters) for _ in range(n)]
    for i in RNG.sample(range(n), 2):
        chars[i] = RNG.choice(string.digits)
    return "".join(chars)


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner(engine="re")


def found(scanner: Scanner, text: str, path: str) -> list[str]:
    return [m.secret for m in scanner.scan_bytes(text.encode(), path)]


BS = "\\"  # one backslash


def esc_json(name: str, value: str, lead: str = "PAYLOAD = ") -> str:
    """``PAYLOAD = "{\\"name\\": \\"value\\"}"``: JSON escaped inside a string literal."""
    return lead + '"{{' + BS + '"' + name + BS + '": ' + BS + '"' + value + BS + '"}}"'


POSITIVES = [
    # 1. JSON escaped inside a Python string literal
    ("app.py", esc_json("client_secret", "{v}")),
    ("app.py", esc_json("aws_secret_access_key", "{v}", "BODY=")),
    ("app.js", "const body = '{{" + BS + "'api_token" + BS + "': " + BS + "'{v}" + BS + "'}}';"),
    # 2./3. literal defaults of environment and config look-ups
    ("settings.py", 'SECRET_KEY = os.getenv("SECRET_KEY", "{v}")'),
    ("settings.py", 'db = os.environ.get("DB_' + PW.upper() + '", "{v}")'),
    ("conftest.py", 'os.environ.setdefault("MYSQL_ROOT_' + PW.upper() + '", "{v}")'),
    ("settings.py", "API_TOKEN = config('API_TOKEN', default='{v}')"),
    ("config.rb", 'token = ENV.fetch("AUTH_TOKEN", "{v}")'),
    # 4. URL query strings
    ("export.py", 'URL = "https://api.acme.io/v1/export?auth_token={v}&format=csv"'),
    ("export.py", 'URL = "https://api.acme.io/v1/x?limit=5&client_secret={v}"'),
    ("page.html", '<a href="https://api.acme.io/x?a=1&amp;api_secret={v}">x</a>'),
    ("notes.md", "Call https://api.acme.io/export?access_token={v} once a day."),
    # 5. PowerShell
    ("README.md", '$accessKey = ConvertTo-SecureString "{v}" -AsPlainText -Force'),
    ("guide.rst", "    $adminPass" + "word = ConvertTo-SecureString '{v}' -AsPlainText -Force"),
    ("deploy.ps1", '$apiToken = (ConvertTo-SecureString -String "{v}" -AsPlainText -Force)'),
]


@pytest.mark.parametrize(("path", "template"), POSITIVES)
def test_held_out_syntaxes_are_detected(scanner: Scanner, path: str, template: str) -> None:
    value = rand(RNG.choice([24, 32, 40]))
    text = template.format(v=value)
    assert found(scanner, text, path) == [value], text


NEGATIVES = [
    ("settings.py", 'SECRET_KEY = os.getenv("SECRET_KEY")'),
    ("settings.py", 'SECRET_KEY = os.getenv("SECRET_KEY", "")'),
    ("settings.py", 'SECRET_KEY = os.getenv("SECRET_KEY", "change' + 'me-in-production")'),
    ("settings.py", 'SECRET_KEY = os.getenv("SECRET_KEY", "${{SECRET_KEY}}")'),
    ("settings.py", 'LOG_FORMAT = os.getenv("LOG_FORMAT", "{v}")'),
    ("settings.py", 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{v}")'),
    ("settings.py", 'token = os.environ.get("TOKEN") or fetch(url, "{v}")'),
    ("export.py", 'URL = "https://api.acme.io/v1/export?auth_token=" + token'),
    ("export.py", 'URL = "https://api.acme.io/v1/export?auth_token={{token}}&format=csv"'),
    ("export.py", 'URL = "https://api.acme.io/v1/export?auth_token=YOUR_AUTH_TOKEN"'),
    ("export.py", 'URL = "https://api.acme.io/v1/export?page_token={v}"'),
    ("export.py", 'URL = "https://api.acme.io/v1/export?request_id={v}"'),
    ("resource.py", "    https://example.com/protected?access_token={v}   # Query"),
    ("docs.md", "GET https://api.example.org/items?api_secret={v}"),
    ("README.md", "$accessKey = ConvertTo-SecureString $env:ACCESS_KEY -AsPlainText -Force"),
    ("README.md", '$accessKey = ConvertTo-SecureString "{v}"'),  # encrypted standard string
    ("README.md", '$userName = ConvertTo-SecureString "{v}" -AsPlainText -Force'),
    ("values.yaml", "  " + PW + ": # set by the operator"),
    ("app.ini", PW + " = #" + "{v}"),
    ("docker-compose.yml", "      - " + PW.upper() + "= #{v}"),
    ("app.py", esc_json("client_secret", "${{SECRET}}")),
    # ConfigParser.get(section, option): the "default" is itself a secret-like name
    (
        "creds.py",
        "config.get('Credentials', '" + "_".join(["gs", "oauth2", "refresh", "token"]) + "')",
    ),
    ("creds.py", "opts.get('credentials', '" + "_".join(["DB2", "ADMIN", PW.upper(), "V3"]) + "')"),
]


@pytest.mark.parametrize(("path", "template"), NEGATIVES)
def test_held_out_shapes_that_are_not_secrets(scanner: Scanner, path: str, template: str) -> None:
    text = template.format(v=rand())
    assert found(scanner, text, path) == [], text


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("docker-compose.yml", "      - " + PW.upper() + "=#{v}"),
        ("application.properties", "spring.datasource." + PW + "=#{v}"),
        (".env", "DB_" + PW.upper() + "=#{v}"),
    ],
)
def test_value_starting_with_hash_is_a_value(scanner: Scanner, path: str, template: str) -> None:
    value = rand(20, ALNUM + "+.")
    text = template.format(v=value)
    assert found(scanner, text, path) == ["#" + value], text


def test_provider_context_rules_see_escaped_json_and_powershell(scanner: Scanner) -> None:
    value = uuid4(RNG)
    name = "heroku" + "_api_key"
    lines = [
        'PAYLOAD = "{' + BS + '"' + name + BS + '": ' + BS + '"' + value + BS + '"}"',
        "$herokuApiKey = ConvertTo-SecureString " + f'"{value}" -AsPlainText -Force',
    ]
    for line in lines:
        got = [(m.rule_id, m.secret) for m in scanner.scan_bytes(line.encode(), "README.md")]
        assert got == [("heroku-api-key", value)], line


def test_odd_generic_values_are_detected(scanner: Scanner) -> None:
    # values with '=' next to '!' or '%', and 32-40 mixed-case letters with few digits
    missed = []
    for i in range(200):
        a, b, c = (rand(8, CONSONANTS + string.digits) for _ in range(3))
        value = RNG.choice([f"{a}={b}!{c}", f"{a}%{b}={c}", f"=!{a}%{b}", f"{a}=%{b}!{c}"])
        text = f'{PW} = "{value}"'
        if found(scanner, text, "app.py") != [value]:
            missed.append(text)
        name = ["client_secret", "auth_token", "api_secret"][i % 3]
        value = few_digits(RNG.randint(32, 40))
        text = f'{name} = "{value}"'
        if found(scanner, text, "app.py") != [value]:
            missed.append(text)
    assert missed == []


def test_identifiers_are_still_identifiers() -> None:
    for word in (
        "OAuth2ClientSecretBackend",
        "PasswordResetTokenGeneratorFactory",
        "IAmSensitive",
        "user_profile_cache_entry",
        "_threading_local._localimpl.",
    ):
        assert is_identifier(word), word
    assert not any(is_identifier(few_digits(36)) for _ in range(50))


def test_printf_and_windows_templates_still_dropped() -> None:
    def cand(v: str) -> filters.Candidate:
        line = f'{PW} = "{v}"'
        return filters.Candidate(v, line, "a.py", line.index(v), line.index(v) + len(v), "g")

    for v in ("Bearer %s", "%s:%s@db", "prefix_%s_suffix", "%APPDATA%/x", "%(pw)s"):
        assert filters.is_template(cand(v)), v
    generated = (f"{rand(8)}%sq{rand(8)}", f"{rand(8)}a%XY%b{rand(8)}", f"{rand(9)}=!{rand(6)}%s^.")
    for v in generated:
        assert not filters.is_template(cand(v)), v


def test_documentation_examples_are_dropped(scanner: Scanner) -> None:
    value = rand(24, ALNUM + "_;~")
    old = f'    "Old{PW.title()}": "{value}",'
    assert found(scanner, old, "botocore/data/iam/2010-05-08/examples-1.json") == []
    assert found(scanner, old, "botocore/data/iam/2010-05-08/service-2.json") == [value]
    for path in ("samples.json", "example.yaml", "docs/example_2.json"):
        assert found(scanner, old, path) == [], path
    ses = '"Verification' + f'Token": "{rand(43)}="'
    assert found(scanner, ses, "moto/ses/models.py") == []


SAMPLE_LINES = [t for _, t in POSITIVES + NEGATIVES]


@pytest.mark.skipif(not hyperscan_available(), reason="hyperscan not installed")
def test_engines_agree_on_held_out_syntaxes() -> None:
    hs, rx = Scanner(engine="hyperscan"), Scanner(engine="re")
    for path in ("app.py", "README.md", "docker-compose.yml"):
        lines = [t.format(v=rand()) for t in SAMPLE_LINES]
        lines.append("      - " + PW.upper() + "=#" + rand(20))
        data = "\n".join(lines).encode()
        a = [(m.rule_id, m.line_number, m.secret) for m in hs.scan_bytes(data, path)]
        b = [(m.rule_id, m.line_number, m.secret) for m in rx.scan_bytes(data, path)]
        assert a == b
        assert len(a) >= len(POSITIVES) - 3
