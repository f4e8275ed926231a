"""``secretvault scan`` as a user runs it: in-process with CliRunner and as real subprocesses
on real git repositories (exit codes, formats, stdin, baseline, hook, known secrets, fix)."""

from __future__ import annotations

import json
import os
import random
import re
import string
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer
from typer.testing import CliRunner

from secretvault.cli import scan as scan_cli
from secretvault.models import SecretType
from secretvault.scanning.builtin_rules import load_provider_rules

pytestmark = pytest.mark.e2e
RULES = {r.id: r for r in load_provider_rules()}
ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Ada",
    "GIT_AUTHOR_EMAIL": "ada@example.org",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@example.org",
}


def secret(rule_id: str, seed: int) -> str:
    rule = RULES[rule_id]
    m = re.search(
        rule.regex, rule.example(random.Random(seed)), re.I if rule.case_insensitive else 0
    )
    assert m
    return m.group("secret") if "secret" in m.re.groupindex else m.group(0)


def stripe(seed: int = 1) -> str:
    return secret("stripe-secret-key", seed)


def app() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _main() -> None:
        """Test root."""

    scan_cli.register(root)
    return root


def run(*args: str, input: str | None = None, cwd: Path | None = None):
    old = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(app(), list(args), input=input)
    finally:
        os.chdir(old)


def cli(*args: str, cwd: Path, input: str | None = None) -> subprocess.CompletedProcess[str]:
    code = "from secretvault.cli.scan import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        input=input,
        env=ENV,
    )


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=ENV)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(f'KEY = "{stripe()}"\n')
    (tmp_path / "ok.py").write_text("x = 1\n")
    return tmp_path


def test_exit_codes(tree: Path) -> None:
    r = run("scan", str(tree), "--no-progress")
    assert r.exit_code == 1 and "stripe-secret-key" in r.output
    assert stripe() not in r.output
    assert run("scan", str(tree / "ok.py")).exit_code == 0
    assert run("scan", str(tree / "missing")).exit_code == 2
    assert run("scan", str(tree), "--fail-on", "never").exit_code == 0


def test_fail_on_threshold(tmp_path: Path) -> None:
    (tmp_path / "t.ts").write_text(f'const t = "{secret("jwt", 2)}";\n')  # medium
    assert run("scan", str(tmp_path), "--fail-on", "high").exit_code == 0
    assert run("scan", str(tmp_path), "--fail-on", "medium").exit_code == 1


@pytest.mark.parametrize("fmt", ["json", "sarif", "junit", "html", "text"])
def test_formats_to_output_file(tree: Path, fmt: str) -> None:
    out = tree / f"report.{fmt}"
    r = run("scan", str(tree), "--format", fmt, "--output", str(out), "--include", "*.py")
    assert r.exit_code == 1
    text = out.read_text()
    assert stripe() not in text
    if fmt == "json":
        assert json.loads(text)["total_findings"] == 1
    if fmt == "sarif":
        assert json.loads(text)["runs"][0]["results"][0]["ruleId"] == "stripe-secret-key"


def test_stdin(tmp_path: Path) -> None:
    assert run("scan", "-", input=f'k = "{stripe()}"\n').exit_code == 1
    assert run("scan", "--stdin", input="nothing here\n").exit_code == 0


def test_baseline_workflow(tree: Path) -> None:
    base = tree / ".secretvault-baseline.json"
    r = run("scan", str(tree), "--baseline", str(base), "--update-baseline")
    assert r.exit_code == 0 and base.exists()
    assert run("scan", str(tree), "--baseline", str(base)).exit_code == 0
    (tree / "app.py").write_text(f'# moved\n\nKEY = "{stripe()}"\n')
    assert run("scan", str(tree), "--baseline", str(base)).exit_code == 0
    (tree / "new.py").write_text(f'K2 = "{stripe(9)}"\n')
    r = run("scan", str(tree), "--baseline", str(base), "--format", "json")
    assert r.exit_code == 1
    assert [f["file_path"] for f in json.loads(r.stdout)["findings"]] == [
        f"{tree.as_posix()}/new.py"
    ]
    fp = json.loads(base.read_text())["findings"][0]["fingerprint"]
    r = run("baseline", "audit", str(base), fp[:16])
    assert r.exit_code == 0 and json.loads(base.read_text())["findings"][0]["is_false_positive"]


def test_engines_agree_via_cli(tree: Path) -> None:
    outs = []
    for engine in ("re", "hyperscan"):
        r = run("scan", str(tree), "--engine", engine, "--format", "json")
        outs.append(
            [
                (f["file_path"], f["line_number"], f["fingerprint"])
                for f in json.loads(r.stdout)["findings"]
            ]
        )
    assert outs[0] == outs[1] and outs[0]


class FakeVault:
    """In-memory stand-in for SecretVault (list/get/store/shutdown)."""

    def __init__(self, values: dict[str, tuple[str, SecretType]]) -> None:
        self.values = dict(values)
        self.stored: list[dict] = []

    async def list_secrets(self):
        return [SimpleNamespace(name=n) for n in sorted(self.values)]

    async def get_secret(self, name: str):
        value, stype = self.values[name]
        return value, SimpleNamespace(name=name, secret_type=stype)

    async def store_secret(self, **kw) -> str:
        self.stored.append(kw)
        self.values[kw["name"]] = (kw["value"], kw["secret_type"])
        return kw["name"]

    async def shutdown(self) -> None:
        pass


@pytest.fixture
def fake_vault(monkeypatch) -> FakeVault:
    vault = FakeVault({})

    async def factory(_ctx):
        return vault

    monkeypatch.setattr(scan_cli, "vault_factory", factory)
    return vault


def test_known_secrets(tmp_path: Path, fake_vault: FakeVault) -> None:
    rng = random.Random(3)
    value = "".join(rng.choice(string.ascii_lowercase) for _ in range(20))
    fake_vault.values["legacy-db"] = (value, SecretType.DATABASE_PASSWORD)
    (tmp_path / "notes.yaml").write_text(f"pw: {value}\n")
    assert run("scan", str(tmp_path)).exit_code == 0
    r = run("scan", str(tmp_path), "--known-secrets", "--format", "json")
    (f,) = json.loads(r.stdout)["findings"]
    assert r.exit_code == 1 and f["known_secret"] == "legacy-db"
    assert value not in r.stdout


def test_fix_dry_run_then_confirm(tmp_path: Path, fake_vault: FakeVault) -> None:
    rng = random.Random(4)
    pw = "".join(rng.choice(string.ascii_letters) for _ in range(14)) + "4q"
    src = tmp_path / "settings.py"
    src.write_text(f'DB_PASSWORD = "{pw}"\n')
    r = run("scan", str(tmp_path), "--fix", "--dry-run")
    assert r.exit_code == 1 and '+DB_PASSWORD = os.environ["DB_PASSWORD"]' in r.stdout
    assert pw not in r.stdout and src.read_text() == f'DB_PASSWORD = "{pw}"\n'
    r = run("scan", str(tmp_path), "--fix", input="n\n")
    assert r.exit_code == 1 and fake_vault.stored == [] and pw in src.read_text()
    r = run("scan", str(tmp_path), "--fix", "--yes")
    assert r.exit_code == 0, r.output
    assert fake_vault.stored[0]["name"] == "db_password"
    assert fake_vault.stored[0]["secret_type"] == SecretType.DATABASE_PASSWORD
    assert src.read_text() == 'import os\nDB_PASSWORD = os.environ["DB_PASSWORD"]\n'
    assert run("scan", str(tmp_path)).exit_code == 0


# -- real processes, real git ---------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "README.md").write_text("hello\n")
    git(tmp_path, "add", "README.md")
    git(tmp_path, "commit", "-q", "-m", "init")
    return tmp_path


def test_subprocess_staged_and_history(repo: Path) -> None:
    (repo / "a.py").write_text(f'K = "{stripe(5)}"\n')
    assert cli("scan", "--staged", cwd=repo).returncode == 0  # nothing staged yet
    git(repo, "add", "a.py")
    r = cli("scan", "--staged", "--format", "json", cwd=repo)
    assert r.returncode == 1, r.stderr
    assert json.loads(r.stdout)["findings"][0]["line_number"] == 1
    git(repo, "commit", "-q", "-m", "oops")
    r = cli("scan", "--history", "--format", "json", cwd=repo)
    (f,) = json.loads(r.stdout)["findings"]
    assert r.returncode == 1 and f["commit"] and f["author"] == "Ada <ada@example.org>"
    assert cli("scan", "--since", "HEAD", cwd=repo).returncode == 0
    assert cli("scan", "--since", "HEAD~1", cwd=repo).returncode == 1
    assert stripe(5) not in r.stdout + r.stderr


def test_subprocess_stdin_and_error(tmp_path: Path) -> None:
    assert cli("scan", "-", cwd=tmp_path, input=f"k={stripe(6)}\n").returncode == 1
    r = cli("scan", "--staged", cwd=tmp_path)
    assert r.returncode == 2 and "not inside a git repository" in r.stderr


def test_hook_install_blocks_commit(repo: Path) -> None:
    r = run("hook", "install", "--repo", str(repo))
    assert r.exit_code == 0, r.output
    hook = repo / ".git" / "hooks" / "pre-commit"
    assert os.access(hook, os.X_OK) and "scan --staged" in hook.read_text()
    (repo / "a.py").write_text(f'K = "{stripe(7)}"\n')
    git(repo, "add", "a.py")
    env_path = f"{Path(sys.executable).parent}:{ENV['PATH']}"
    blocked = subprocess.run(
        ["git", "-C", str(repo), "commit", "-q", "-m", "leak"],
        capture_output=True,
        text=True,
        env={**ENV, "PATH": env_path},
    )
    assert blocked.returncode != 0 and "stripe-secret-key" in blocked.stdout + blocked.stderr
    (repo / "a.py").write_text("K = None\n")
    git(repo, "add", "a.py")
    ok = subprocess.run(
        ["git", "-C", str(repo), "commit", "-q", "-m", "clean"],
        capture_output=True,
        text=True,
        env={**ENV, "PATH": env_path},
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_hook_refuses_foreign_hook(repo: Path) -> None:
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text("#!/bin/sh\necho mine\n")
    assert run("hook", "install", "--repo", str(repo)).exit_code == 2
    assert hook.read_text() == "#!/bin/sh\necho mine\n"
    assert run("hook", "install", "--repo", str(repo), "--force").exit_code == 0


def test_ci_invocation_writes_sarif(repo: Path) -> None:
    (repo / "a.py").write_text(f'K = "{stripe(8)}"\n')
    r = cli(
        "scan", ".", "--format", "sarif", "--output", "results.sarif", "--no-progress", cwd=repo
    )
    assert r.returncode == 1
    doc = json.loads((repo / "results.sarif").read_text())
    uri = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri["uri"] == "a.py"


def test_pre_commit_hooks_manifest() -> None:
    import yaml

    manifest = Path(__file__).resolve().parents[2] / ".pre-commit-hooks.yaml"
    (hook,) = yaml.safe_load(manifest.read_text())
    assert hook["id"] == "secretvault" and hook["entry"].startswith("secretvault scan --staged")
    assert hook["language"] == "python" and hook["pass_filenames"] is False


def test_repository_itself_is_clean() -> None:
    root = Path(__file__).resolve().parents[2]
    r = cli("scan", "src", "tests", ".pre-commit-hooks.yaml", "--format", "json", cwd=root)
    findings = json.loads(r.stdout)["findings"]
    assert findings == [], [(f["file_path"], f["line_number"], f["rule_id"]) for f in findings]


def test_real_vault_known_secrets_and_fix(tmp_path: Path) -> None:
    """The real CLI and the real local vault: init, set, scan --known-secrets, scan --fix."""
    exe = Path(sys.executable).parent / "secretvault"
    if not exe.exists():
        pytest.skip("secretvault console script not installed")
    env = {**ENV, "SECRETVAULT_DIR": str(tmp_path / "vault")}
    work = tmp_path / "work"
    work.mkdir()

    def sv(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(exe), *args], cwd=work, capture_output=True, text=True, input=input, env=env
        )

    assert sv("init").returncode == 0
    rng = random.Random(12)
    stored = "".join(rng.choice(string.ascii_lowercase) for _ in range(22))
    assert (
        sv("set", "legacy-db", "--type", "database_password", "--stdin", input=stored).returncode
        == 0
    )
    (work / "notes.txt").write_text(f"old: {stored}\n")
    assert sv("scan", ".").returncode == 0
    r = sv("scan", ".", "--known-secrets", "--format", "json")
    assert r.returncode == 1 and stored not in r.stdout + r.stderr
    assert json.loads(r.stdout)["findings"][0]["known_secret"] == "legacy-db"

    (work / "notes.txt").unlink()
    pw = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(18)) + "7Q"
    (work / "settings.py").write_text(f'DB_PASSWORD = "{pw}"\n')
    r = sv("scan", ".", "--fix", "--yes")
    assert r.returncode == 0, r.stderr
    assert pw not in (work / "settings.py").read_text() + r.stdout + r.stderr
    got = sv("get", "db_password")
    assert got.returncode == 0 and pw in got.stdout
    assert sv("scan", ".").returncode == 0


def test_vendored_trees_are_scanned_and_skips_reported(tmp_path: Path) -> None:
    (tmp_path / "vendor" / "lib").mkdir(parents=True)
    (tmp_path / "vendor" / "lib" / "conf.py").write_text(f'KEY = "{stripe(4)}"\n')
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "k.js").write_text(f'const k = "{stripe(5)}";\n')
    (tmp_path / "logo.png").write_bytes(b"\x89PNG")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "out.py").write_text(f'KEY = "{stripe(6)}"\n')
    (tmp_path / ".gitignore").write_text("build/\n")
    r = run("scan", str(tmp_path), "-f", "json", "--no-progress")
    data = json.loads(r.output)
    assert sorted(f["file_path"].rsplit("/", 2)[-2] for f in data["findings"]) == [
        "lib",
        "node_modules",
    ]
    assert data["skipped_files"] == {"binary": 1}
    assert data["skipped_dirs"] == {"ignored": 1}
    text = run("scan", str(tmp_path), "--no-progress").output
    assert "Not scanned: 1 files (binary 1); 1 directories (ignored 1)" in text
    sarif = json.loads(run("scan", str(tmp_path), "-f", "sarif").output)
    assert sarif["runs"][0]["properties"]["skippedDirectories"] == {"ignored": 1}
    r = run("scan", str(tmp_path), "-f", "json", "--skip-vendored")
    data = json.loads(r.output)
    assert data["findings"] == [] and data["skipped_dirs"]["skip_dir_name"] == 2
    r = run("scan", str(tmp_path), "-f", "json", "--skip-dir", "vendor")
    assert len(json.loads(r.output)["findings"]) == 1
    assert "--skip-vendored" in run("scan", "--help").output
