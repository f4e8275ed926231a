"""Generic detection: secret-like names with random-looking literals, in code and config syntax;
identifiers, sentences, paths and weak values are not reported."""

from __future__ import annotations

import random
import string

import pytest

from secretvault.models import SecretType
from secretvault.scanning.generic import name_kind, secret_type_for, shannon_entropy
from secretvault.scanning.scanner import Scanner

RNG = random.Random(2024)


def rand(n: int = 24) -> str:
    """A random mixed-case alphanumeric value (built at run time: nothing secret in the repo)."""
    chars = [RNG.choice(string.ascii_letters + string.digits) for _ in range(n - 2)]
    return "".join(chars) + RNG.choice(string.digits) + RNG.choice(string.ascii_uppercase)


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner([], engine="re")


def found(scanner: Scanner, text: str, path: str) -> list[str]:
    return [m.secret for m in scanner.scan_bytes(text.encode(), path)]


POSITIVES = [
    ("settings.py", 'DB_PASSWORD = "{v}"'),
    ("settings.py", 'api_secret: str = "{v}"'),
    ("client.js", 'const apiToken = "{v}";'),
    ("client.ts", "  authToken: '{v}',"),
    ("config.json", '{{"client_secret": "{v}"}}'),
    ("main.go", 'stripeSecretKey := "{v}"'),
    ("app.rb", 'config.secret_token => "{v}"'),
    ("values.yaml", "  password: {v}"),
    ("values.yml", '  api_key: "{v}"'),
    (".env", "SECRET_KEY={v}"),
    ("prod.env", "export DB_PASS={v}"),
    ("app.ini", "password = {v}"),
    ("deploy.sh", "export ACCESS_TOKEN={v}"),
    ("settings.xml", "  <clientSecret>{v}</clientSecret>"),
    ("call.sh", "curl -H 'Authorization: Bearer {v}' https://api.example.org/v1"),
    ("README.md", "Set `DB_PASSWORD={v}` before running the deploy script."),
    ("settings.yaml", "  pgpassword: {v}#x;y"),
    ("a.py", 'SIGNING_SECRET = "{v}foo{v}"'),
    ("a.py", 'pgpassword = "m_.{v}"'),
]


@pytest.mark.parametrize(("path", "template"), POSITIVES)
def test_assignment_syntaxes_are_detected(scanner: Scanner, path: str, template: str) -> None:
    value = rand()
    text = template.format(v=value)
    (secret,) = found(scanner, text, path)
    assert value in secret and " " not in secret, text


NEGATIVES = [
    ("a.py", 'password = "password123"'),
    ("a.py", 'password = "changeme"'),
    ("a.py", 'password = "${{DB_PASSWORD}}"'),
    ("a.py", 'password = "{{{{ vault_password }}}}"'),
    ("a.py", 'password = "<PASSWORD>"'),
    ("a.py", 'token = "xxxxxxxxxxxxxxxxxxxxxxxx"'),
    ("a.py", 'password = os.environ["DB_PASSWORD"]'),
    ("a.py", 'password = os.getenv("DB_PASSWORD", "")'),
    ("a.py", 'token_url = "https://auth.example.org/oauth/token"'),
    ("a.py", 'password_field = "id_password_input"'),
    ("a.py", 'secret_name = "prod/db/credentials"'),
    ("a.py", 'api_key = "API_KEY"'),
    ("a.py", "auth_token = get_token(session)"),
    ("a.py", 'password = "Enter your password"'),
    ("a.py", 'key = "user_profile_cache_entry"'),
    ("a.py", 'self.key = "_threading_local._localimpl."'),
    ("a.py", 'public_key = "{v}"'),
    ("a.py", 'password = "{v}"  # secretvault:allow'),
    ("a.py", 'password = "dummy-{v}"'),
    ("a.py", "api_key = settings.API_KEY"),
    ("a.py", 'password = "resetPasswordToken"'),
    ("a.py", 'sha256 = "{hex64}"'),
    ("a.py", 'commit_token = "{hex40}"  # git commit sha'),
    ("Cargo.lock", 'checksum_token = "{hex64}"'),
    ("app.min.js", 'var t={{apiToken:"{v}"}}'),
    ("a.py", 'password = "{short}"'),
    ("a.py", "password = {v}"),
    ("a.py", 'result_key = f"{{self.operation_model.name}}Response"'),
    ("a.py", 'password = f"{{registry_id}}-auth-token"'),
    ("a.py", 'creds = {{"username": "admin", "password": "P@55w0rd!"}}'),
    ("ex.json", '"PasswordLastUsed": "2016-09-08T21:47:36Z",'),
    ("ex.json", '"S3Key": "my-app/5026-stage-150723_224258.war"'),
    ("ex.json", '"PurchaseToken": "eyJ2IjoiMSIsInMiOjEsImMiOi...",'),
    ("a.py", 'passwd = "geheim$parole"'),
    ("a.py", '"encryption_key": "ZW5jcnlwdGlvbi1YWVpaWS00NDQ0"'),
    ("a.xml", "<password>${{DB_PASSWORD}}</password>"),
    ("a.xml", "<passwordField>id_password_input</passwordField>"),
    ("a.sh", 'curl -H "Authorization: Bearer $TOKEN" https://api'),
    ("a.sh", 'curl -H "Authorization: Bearer pk_live_{v}" https://api'),
    ("README.md", "Set `DB_PASSWORD` before running the deploy script."),
]


@pytest.mark.parametrize(("path", "template"), NEGATIVES)
def test_false_positive_shapes_are_not_reported(scanner: Scanner, path: str, template: str) -> None:
    import uuid

    text = template.format(
        v=rand(),
        uuid=uuid.UUID(int=RNG.getrandbits(128)),
        hex64=f"{RNG.getrandbits(256):064x}",
        hex40=f"{RNG.getrandbits(160):040x}",
        short=rand(3),
    )
    if path.endswith(".min.js"):
        text = text + " " * 1100
    assert found(scanner, text, path) == [], text


def test_name_kinds() -> None:
    assert name_kind("DB_PASSWORD") == "password"
    assert name_kind("stripeSecretKey") == "secret"
    assert name_kind("key") == "key"
    assert name_kind("token_url") is None
    assert name_kind("public_key") is None
    assert name_kind("keyboard_layout") is None


def test_secret_type_inference() -> None:
    assert secret_type_for("db_password") == SecretType.DATABASE_PASSWORD
    assert secret_type_for("GITHUB_WEBHOOK_SECRET") == SecretType.WEBHOOK_SECRET
    assert secret_type_for("accessToken") == SecretType.OAUTH_TOKEN
    assert secret_type_for("signing_key") == SecretType.ENCRYPTION_KEY
    assert secret_type_for("api_key") == SecretType.API_KEY


def test_entropy() -> None:
    assert shannon_entropy("") == 0
    assert shannon_entropy("aaaa") == 0
    assert shannon_entropy("abcd") == 2


def test_generic_finding_carries_type_and_name(scanner: Scanner) -> None:
    value = rand()
    (m,) = scanner.scan_bytes(f'WEBHOOK_SECRET = "{value}"'.encode(), "hooks.py")
    assert m.rule_id == "generic-secret"
    assert m.secret_type == SecretType.WEBHOOK_SECRET
    assert m.name == "WEBHOOK_SECRET"
