"""``--fix`` planning: per-file-type references, redacted diff, vault store before rewrite."""

from __future__ import annotations

import random
import string

from secretvault.models import SecretType
from secretvault.scanning.api import scan_tree_raw
from secretvault.scanning.fix import plan_fixes

RNG = random.Random(5)


def rand(n: int = 22) -> str:
    body = "".join(RNG.choice(string.ascii_letters + string.digits) for _ in range(n - 2))
    return body + "7Q"


def test_python_yaml_env_replacements(tmp_path) -> None:
    a, b, c = rand(), rand(), rand()
    (tmp_path / "settings.py").write_text(
        f'"""Settings."""\nfrom __future__ import annotations\n\nDB_PASSWORD = "{a}"\n'
    )
    (tmp_path / "docker-compose.yml").write_text(f"services:\n  app:\n    api_token: {b}\n")
    (tmp_path / ".env").write_text(f"STRIPE_SECRET={c}\n")
    matches, *_ = scan_tree_raw(tmp_path, ["*"], engine="re")
    plan = plan_fixes(tmp_path, matches)
    updated = {f.rel_path: f.updated for f in plan.files}
    py = updated["settings.py"]
    assert 'DB_PASSWORD = os.environ["DB_PASSWORD"]' in py
    assert py.index("from __future__") < py.index("import os\n")
    assert "api_token: ${API_TOKEN}" in updated["docker-compose.yml"]
    assert updated[".env"] == "STRIPE_SECRET=secret://stripe_secret\n"
    diff = plan.diff()
    assert "+DB_PASSWORD = os.environ" in diff
    assert not any(v in diff for v in (a, b, c))
    assert plan.secrets["db_password"] == (a, SecretType.DATABASE_PASSWORD)


def test_apply_stores_then_writes(tmp_path) -> None:
    a = rand()
    f = tmp_path / "app.js"
    f.write_text(f'const apiSecret = "{a}";\n')
    matches, *_ = scan_tree_raw(tmp_path, ["*"], engine="re")
    plan = plan_fixes(tmp_path, matches)
    stored: list[tuple[str, str, SecretType]] = []
    assert plan.apply(lambda n, v, t: stored.append((n, v, t))) == 1
    assert stored == [("api_secret", a, SecretType.API_KEY)]
    assert f.read_text() == "const apiSecret = process.env.API_SECRET;\n"


def test_partial_python_literal_becomes_fstring(tmp_path) -> None:
    pw = rand(16)
    (tmp_path / "db.py").write_text(f'URL = "postgres://app:{pw}@db:5432/app"\n')
    matches, *_ = scan_tree_raw(tmp_path, ["*"], engine="re")
    plan = plan_fixes(tmp_path, matches)
    text = plan.files[0].updated
    assert text.endswith("URL = f\"postgres://app:{os.environ['DATABASE_URL']}@db:5432/app\"\n")
    compile(text, "db.py", "exec")


def test_unsupported_file_type_is_skipped(tmp_path) -> None:
    (tmp_path / "conf.json").write_text(f'{{"client_secret": "{rand()}"}}\n')
    matches, *_ = scan_tree_raw(tmp_path, ["*"], engine="re")
    plan = plan_fixes(tmp_path, matches)
    assert plan.files == [] and "conf.json" in plan.skipped[0]
