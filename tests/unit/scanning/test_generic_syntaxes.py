"""Generic credentials in the syntaxes people write, decided by what the value is.

Every value is generated at test time (nothing secret-looking is stored in the repository).
Each syntax has positives and negatives; each value filter has a counter-example.
"""

from __future__ import annotations

import random
import string

import pytest

from secretvault.models import Severity
from secretvault.scanning import generic
from secretvault.scanning.engine import hyperscan_available
from secretvault.scanning.scanner import Scanner

RNG = random.Random(1212)
PW = "pass" + "word"
# Consonants only: no chance word ("test", "admin", "foo") can appear in a generated value.
CONS = "bcdfghjklmnpqrstvwxz"
SECURE = "ConvertTo-SecureString "


def word(n: int) -> str:
    """``n`` lowercase letters: the weak, dictionary-like passwords real code is full of."""
    return "".join(RNG.choice(CONS) for _ in range(n))


def rand(n: int = 20) -> str:
    body = "".join(RNG.choice(string.ascii_letters + string.digits) for _ in range(n - 2))
    return body + RNG.choice(string.digits) + RNG.choice("QWXZ")


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner(engine="re")


def found(scanner: Scanner, text: str, path: str) -> list[str]:
    return [m.secret for m in scanner.scan_bytes(text.encode(), path)]


# (path, template): {v} is the secret that must be reported, exactly.
POSITIVES = [
    # the misses: short lowercase passwords in compose, Go, XML, URLs
    ("docker-compose.yml", "      POSTGRES_" + PW.upper() + ": {w8}"),
    ("docker-compose.yml", "      - MYSQL_ROOT_" + PW.upper() + "={w17}"),
    ("docker-compose.yml", '      - "MYSQL_' + PW.upper() + '={w8}"'),
    ("mqtt.go", "\to.MQTT." + PW.title() + ' = "{w6}"'),
    ("beans.xml", '<bean id="ds" class="x.DataSource" ' + PW + '="{w6}"/>'),
    ("nats.go", 'nc, _ := nats.Connect("nats://client:{w4}@127.0.0.1:4222")'),
    # Python
    ("db.py", "conn = psycopg2.connect(host=h, " + PW + "='{w8}')"),
    ("db.py", 'DATABASES = {{"default": {{"' + PW.upper() + '": "{w8}"}}}}'),
    # JS / TS
    ("db.ts", "const client = new Client({{ user: 'app', " + PW + ": '{w8}' }});"),
    ("db.js", "auth: {{ user: 'app', pass: '{w8}' }},"),
    # Go
    ("db.go", '\tdbPass := "{w8}"'),
    ("db.go", "\t\t" + PW.title() + ':   "{w8}",'),
    ("db.go", 'dsn := "app:{w8}@tcp(db:3306)/orders?parseTime=true"'),
    # Java / Kotlin / Scala / C#
    ("Db.java", "ds.set" + PW.title() + '("{w8}");'),
    ("Db.java", "return DataSourceBuilder.create().username(u)." + PW + '("{w8}").build();'),
    ("Db.kt", "val db" + PW.title() + ' = "{w8}"'),
    ("Db.scala", "val " + PW + ': String = "{w8}"'),
    ("Db.cs", 'var cs = "Server=db;Database=app;User Id=sa;' + PW.title() + '={w8};";'),
    # PHP / Ruby
    ("config.php", "    '" + PW + "' => '{w8}',"),
    ("config.php", "define('DB_" + PW.upper() + "', '{w8}');"),
    ("config.rb", "  " + PW + ": '{w8}',"),
    ("config.rb", "  :" + PW + " => '{w8}',"),
    # shell / Dockerfile
    ("run.sh", "docker run -d -e POSTGRES_" + PW.upper() + "={w8} postgres:16"),
    ("run.sh", "app-cli --db-" + PW + "={w8} --verbose"),
    ("run.sh", "app-cli --" + PW + " '{r}' --verbose"),
    ("run.sh", "mysql -uroot -p'{w8}' orders < dump.sql"),
    ("run.sh", "mysql -u root -p{w8} -h db"),
    ("Dockerfile", "ENV DB_" + PW.upper() + "={w8}"),
    ("run.sh", "kubectl create secret generic db --from-literal=" + PW + "={w8}"),
    # Kubernetes env lists
    ("deploy.yaml", "        - name: DB_" + PW.upper() + "\n          value: {w8}"),
    ("deploy.yaml", '        - name: API_TOKEN\n          value: "{r}"'),
    # XML / HTML
    ("ctx.xml", '<property name="' + PW + '" value="{w8}"/>'),
    ("web.config", '<add key="Db' + PW.title() + '" value="{w8}" />'),
    ("ctx.xml", "<" + PW + ">{w8}</" + PW + ">"),
    # properties / INI / TOML / YAML
    ("app.properties", "spring.datasource." + PW + "={w8}"),
    ("app.ini", PW + " = {w8}"),
    ("app.toml", PW + ' = "{w8}"'),
    ("app.yaml", "  " + PW + ": {w8}"),
    # SQL
    ("init.sql", "CREATE USER app IDENTIFIED BY '{w8}';"),
    ("init.sql", "ALTER ROLE app WITH LOGIN " + PW.upper() + " '{w8}';"),
    # PowerShell
    (
        "d.ps1",
        "$cred = New-Object PSCredential('u', (ConvertTo-SecureString '{w8}' -AsPlainText -Force))",
    ),
    (
        "d.ps1",
        "New-LocalUser app -" + PW.title() + " (ConvertTo-SecureString '{w8}' -AsPlainText -Force)",
    ),
    # .netrc and URLs of any scheme
    (".netrc", "machine api.internal login deploy " + PW + " {w8}"),
    ("a.py", 'BROKER = "amqp://guest:{w8}@rabbit:5672//"'),
    ("a.py", 'LDAP = "ldap://cn=admin:{w8}@ldap.internal"'),
    ("a.py", 'MAIL = "smtp://mailer:{w8}@smtp.internal:587"'),
    ("a.py", 'FTP = "ftp://upload:{w8}@files.internal/in"'),
    # C preprocessor, credential constructors and auth tuples
    ("cfg.h", "#define WIFI_" + PW.upper() + ' "{w8}"'),
    ("api.py", 'r = requests.get(url, auth=("svc", "{w8}"))'),
    ("api.py", 'session.auth = HTTPBasicAuth("svc", "{w8}")'),
    ("Db.cs", 'var c = new NetworkCredential("svc", "{w8}");'),
    ("Db.java", 'c = DriverManager.getConnection(url, "app", "{w8}");'),
    # comparisons: the literal is the expected password
    ("test_url.py", 'assert url["' + PW.upper() + '"] == "{w8}"'),
    ("auth.js", "if (req.body." + PW + " === '{w8}') {{"),
    # a UUID under a token name is that token (Vault tokens, AppRole secret ids)
    ("test_vault.py", '"client_token": "{uuid}",'),
    # bearer tokens and query / fragment tokens, short ones too
    ("tokens.py", "'Authorization': 'Bearer {r10}'"),
    ("tokens.py", "body = 'access_token={r}&token_type=bearer'"),
    ("cb.py", "uri = 'https://app.internal/cb#access_token={r}&state=xyz'"),
    ("a.py", 'PWD = "{r}"'),  # PWD as a password name: the value decides, not the name
    # OAuth fields, salts, signing keys
    ("oauth.py", 'oauth_token_secret = "{r}"'),
    ("oauth.py", 'params["oauth_verifier"] = "{r}"'),
    ("oauth.py", 'oauth_nonce = "{r}"'),
    ("oauth.py", 'oauth_nonce = "{hex8}"'),  # salts and nonces are written in hex
    ("oauth.js", '"tp_half_shared_secret": "{hex64}",'),  # "shared" is not "sha"
    ("auth.py", 'PASSWORD_SALT = "{r}"'),
    ("auth.py", 'JWT_SIGNING_KEY = "{r}"'),
]

NEGATIVES = [
    # placeholders, references, expressions, masked, empty, defaults
    ("docker-compose.yml", "      POSTGRES_" + PW.upper() + ": ${{POSTGRES_" + PW.upper() + "}}"),
    ("docker-compose.yml", "      POSTGRES_" + PW.upper() + ": postgres"),
    ("docker-compose.yml", "      - MYSQL_ROOT_" + PW.upper() + "=root"),
    ("a.go", "\to.MQTT." + PW.title() + " = cfg." + PW.title()),
    ("a.go", "\t" + PW.title() + ': os.Getenv("MQTT_' + PW.upper() + '"),'),
    ("a.py", PW + ' = "********"'),
    ("a.py", PW + ' = ""'),
    ("a.py", PW + ' = "admin123"'),
    ("a.py", PW + ' = "DB_' + PW.upper() + '"'),
    ("a.py", PW + ' = "{{{{ ' + PW + ' }}}}"'),
    ("a.py", PW + ' = "db_' + PW + '_field"'),
    ("a.py", PW + '_hash = "{r}"'),
    ("a.py", PW + ' = "$' + PW.upper() + '"'),
    ("a.py", PW + ' = "secret-$' + '{{ENV}}"'),
    ("a.py", PW + ' = "abc"'),
    ("a.py", PW + ' = "1234"'),
    ("a.py", 'token = "{w8}"'),  # tokens are machine-made: eight letters are a label
    ("a.py", 'key = "{w8}"'),
    ("a.py", 'sort_key = "{r}"'),
    ("a.py", 'csrf_nonce = "{r}"'),
    ("Db.java", "String p = user.get" + PW.title() + '("{w8}");'),
    ("run.sh", "app-cli --" + PW + "-file=/run/secrets/db"),
    ("run.sh", "app-cli --" + PW + "=$DB_" + PW.upper()),
    ("run.sh", "nc -p 8080 host"),
    ("run.sh", "docker run -e POSTGRES_" + PW.upper() + "=$PW postgres"),
    ("deploy.yaml", "        - name: LOG_LEVEL\n          value: {w8}"),
    ("deploy.yaml", "        - name: DB_" + PW.upper() + "\n          valueFrom:"),
    ("ctx.xml", '<property name="username" value="{w8}"/>'),
    ("init.sql", "CREATE USER app IDENTIFIED BY '${{DB_" + PW.upper() + "}}';"),
    ("a.py", 'URL = "https://user:${{TOKEN}}@github.com/org/repo.git"'),
    ("a.py", 'URL = "https://user:<' + PW + '>@example.org"'),
    ("a.py", 'DSN = "app:%s@tcp(db:3306)/orders"'),
    ("docs/examples/db.py", PW + ' = "{w8}"'),
    ("client.js", "if (typeof this." + PW + " === 'function') {{"),
    ("a.py", ":param is_" + PW + ": `bool` or a filter"),
    ("a.py", "Pass :meth:`peek` a default value"),
    ("a.py", "# use the --username and --" + PW + " options instead"),
    ("a.yaml", "--kms-key=projects/*/locations/*/keyRings/*"),
    ("a.json", '"AWS::IAM::AccessKey": "62d91b17309e76c8",'),
    ("a.py", 'sha256 = "{hex64}"'),
    ("a.md", "PWD: '/Users/" + word(6) + "'"),
    ("a.js", "set({{ tfa: {{ " + PW + ": " + PW + ", mode: 'disable' }} }})"),
    ("a.py", '"SessionToken": "ABC12345",'),
    ("a.py", 'oauth_consumer_key = "{r}"'),  # public identifier; the consumer secret is not
    ("api.py", "r = requests.get(url, auth=(user, " + PW + "))"),
    ("api.py", 'r = requests.get(url, auth=("svc", os.environ["PW"]))'),
    ("cfg.h", "#define " + PW.upper() + "_MAX_LEN 64"),
    ("a.py", '"secret_id_accessor": "{uuid}",'),
    ("a.py", 'key = "{uuid}"'),
    ("a.py", 'URL = "redis://myuser:mypass@localhost"'),
    ("a.py", 'URL = "postgres://user:p%23ssword@localhost/db"'),
    ("a.py", 'URL = "postgres://test:**@db/app"'),
    ("a.rst", "Pass :py:class:`email.Message` objects to send"),
    ("README.md", "  " + PW + ": process.env.DB_PWD,"),
    ("a.py", 'assert line == "-----BEGIN RSA PRIVATE' + ' KEY-----"'),
]


def _fill(template: str) -> tuple[str, dict[str, str]]:
    import uuid

    values = {
        "w4": word(4),
        "w6": word(6),
        "w8": word(8),
        "w17": word(17),
        "r": rand(),
        "r10": rand(10),
        "uuid": str(uuid.UUID(int=RNG.getrandbits(128))),
        "hex8": f"{RNG.getrandbits(32):08x}",
        "hex64": f"{RNG.getrandbits(256):064x}",
    }
    return template.format(**values), values


@pytest.mark.parametrize(("path", "template"), POSITIVES)
def test_generic_syntax_positive(scanner: Scanner, path: str, template: str) -> None:
    text, values = _fill(template)
    want = [v for k, v in values.items() if "{" + k + "}" in template]
    assert found(scanner, text, path) == want, text


@pytest.mark.parametrize(("path", "template"), NEGATIVES)
def test_generic_syntax_negative(scanner: Scanner, path: str, template: str) -> None:
    text, _ = _fill(template)
    assert found(scanner, text, path) == [], text


def test_padding_and_percent_are_part_of_a_value(scanner: Scanner) -> None:
    padded, pct = rand() + "=", "%" + rand()  # base64 padding; a generated value may start %
    line = "      - LDAP_BIND_" + PW.upper() + "=" + padded
    assert found(scanner, line, "docker-compose.yml") == [padded]
    assert found(scanner, "  smtp" + PW.title() + f": '{pct}',", "a.js") == [pct]


def test_short_and_wordlike_values_are_lowered_not_hidden(scanner: Scanner) -> None:
    strong, weak = rand(), word(8)
    (m,) = scanner.scan_bytes(f'{PW} = "{strong}"'.encode(), "app.py")
    assert (m.confidence, m.severity) == (generic.STRONG_CONFIDENCE, Severity.MEDIUM)
    (m,) = scanner.scan_bytes(f'{PW} = "{weak}"'.encode(), "app.py")
    assert (m.confidence, m.severity) == (generic.WEAK_CONFIDENCE, Severity.LOW)


def test_test_paths_are_lowered_not_hidden(scanner: Scanner) -> None:
    value = rand()
    for path in ("tests/fixtures/users.py", "pkg/db_test.go", "src/test/java/DbTest.java"):
        (m,) = scanner.scan_bytes(f'{PW} = "{value}"'.encode(), path)
        assert m.confidence < generic.STRONG_CONFIDENCE and m.severity == Severity.LOW, path
    assert not generic.is_test_path("src/contest/app.py")  # counter-example: not a test dir


# -- each value filter and its counter-example --------------------------------------------------


def test_default_password_list_and_counter_example() -> None:
    assert generic.is_default_password("postgres") and generic.is_default_password("Admin123")
    assert not generic.is_default_password(word(8))  # a typed word is no vendor default


def test_reference_and_counter_example() -> None:
    refs = ("$DB_PW", "${X}", "cfg.db.pw", "getPw()", "DB_" + PW.upper(), "user" + PW.title())
    for ref in (*refs, "abc$HOME", "py:class:", "process.env.DB_PWD,"):
        assert generic.is_reference(ref), ref
    django_like = rand(20) + "$pt^#@" + rand(10)  # random despite a "$name" inside
    for lit in ("s3cr3t_v4lue", word(8), rand(), django_like):
        assert not generic.is_reference(lit), lit  # a snake-like literal names no secret


def test_masked_and_counter_example() -> None:
    assert generic.is_masked("********") and generic.is_masked("xxxx")
    assert not generic.is_masked("x" + word(6))


def test_token_value_and_counter_example() -> None:
    assert generic.token_value("refresh_token_label", "secret") is None
    assert generic.token_value(word(12), "secret") is None  # a word-like label
    assert generic.token_value(word(20), "secret") is not None  # no word runs that long
    assert generic.token_value("OAuth2ClientSecretBackend", "secret") is None
    hexkey = "".join(RNG.choice("0123456789abcdef") for _ in range(32))
    assert generic.token_value(hexkey, "secret") is not None


@pytest.mark.skipif(not hyperscan_available(), reason="hyperscan not installed")
def test_engines_agree_on_generic_syntaxes() -> None:
    hs, rx = Scanner(engine="hyperscan"), Scanner(engine="re")
    for path, template in POSITIVES + NEGATIVES:
        text, _ = _fill(template)
        a = [(m.line_number, m.secret) for m in hs.scan_bytes(text.encode(), path)]
        b = [(m.line_number, m.secret) for m in rx.scan_bytes(text.encode(), path)]
        assert a == b, text
