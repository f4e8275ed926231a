"""Git modes on real temporary repositories: staged, since and full history."""

from __future__ import annotations

import random
import re
import subprocess
from pathlib import Path

import pytest

from secretvault.scanning import git
from secretvault.scanning.builtin_rules import load_provider_rules
from secretvault.scanning.scanner import Scanner

RULES = {r.id: r for r in load_provider_rules()}


def tok(seed: int) -> str:
    """A fresh Stripe-shaped secret (the rule's example may be a whole assignment line)."""
    rule = RULES["stripe-secret-key"]
    m = re.search(rule.regex, rule.example(random.Random(seed)))
    assert m
    return m.group("secret") if "secret" in m.re.groupindex else m.group(0)


def sh(repo: Path, *args: str, date: str | None = None) -> str:
    env = {
        "GIT_AUTHOR_NAME": "Ada",
        "GIT_AUTHOR_EMAIL": "ada@example.org",
        "GIT_COMMITTER_NAME": "Ada",
        "GIT_COMMITTER_EMAIL": "ada@example.org",
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "HOME": str(repo),
    }
    if date:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    sh(tmp_path, "init", "-q", "-b", "main")
    return tmp_path


def commit(repo: Path, files: dict[str, str], msg: str, date: str | None = None) -> str:
    for rel, text in files.items():
        p = repo / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        sh(repo, "add", rel)
    sh(repo, "commit", "-q", "-m", msg, date=date)
    return sh(repo, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner(engine="auto")


def test_staged_reports_only_added_lines(repo: Path, scanner: Scanner) -> None:
    commit(repo, {"app.py": f'OLD = "{tok(1)}"\n'}, "old secret")
    (repo / "app.py").write_text(f'OLD = "{tok(1)}"\nx = 1\nNEW = "{tok(2)}"\n')
    (repo / "unstaged.py").write_text(f'K = "{tok(3)}"\n')
    assert git.scan_blocks(scanner, git.staged_blocks(repo))[0] == []
    sh(repo, "add", "app.py")
    matches, files, _ = git.scan_blocks(scanner, git.staged_blocks(repo))
    assert [(m.path, m.line_number, m.secret) for m in matches] == [("app.py", 3, tok(2))]
    assert files == 1


def test_staged_on_a_repo_without_commits(repo: Path, scanner: Scanner) -> None:
    (repo / "a.py").write_text(f'K = "{tok(4)}"\n')
    sh(repo, "add", "a.py")
    matches, *_ = git.scan_blocks(scanner, git.staged_blocks(repo))
    assert [m.line_number for m in matches] == [1]


def test_history_reports_each_secret_once_at_first_commit(repo: Path, scanner: Scanner) -> None:
    first = commit(repo, {"a.py": f'K = "{tok(5)}"\n'}, "add key", date="2024-01-02T03:04:05+00:00")
    commit(repo, {"b.py": f'K = "{tok(5)}"\n'}, "copy key")
    commit(repo, {"a.py": "K = None\n"}, "remove key")
    later = commit(repo, {"c/d.py": f'\n\nT = "{tok(6)}"\n'}, "another")
    matches, *_ = git.scan_blocks(scanner, git.history_blocks(repo), once=True)
    got = [(m.path, m.line_number, m.commit) for m in matches]
    assert got == [("a.py", 1, first), ("c/d.py", 3, later)]
    assert matches[0].author == "Ada <ada@example.org>"
    assert matches[0].date is not None and matches[0].date.year == 2024
    f = matches[0].to_finding()
    assert f.commit == first and tok(5) not in f.model_dump_json()


def test_since_only_scans_later_commits(repo: Path, scanner: Scanner) -> None:
    base = commit(repo, {"a.py": f'K = "{tok(7)}"\n'}, "old")
    newer = commit(repo, {"b.py": f'K = "{tok(8)}"\n'}, "new")
    matches, *_ = git.scan_blocks(scanner, git.history_blocks(repo, since=base), once=True)
    assert [(m.path, m.commit) for m in matches] == [("b.py", newer)]


def test_bad_revision_is_a_scan_error(repo: Path, scanner: Scanner) -> None:
    from secretvault.errors import ScanError

    commit(repo, {"a.py": "x = 1\n"}, "one")
    with pytest.raises(ScanError):
        git.scan_blocks(scanner, git.history_blocks(repo, since="no-such-rev"))


def test_not_a_repository(tmp_path: Path) -> None:
    from secretvault.errors import ScanError

    with pytest.raises(ScanError):
        git.repo_root(tmp_path)


def test_parse_diff_handles_deletions_and_binary() -> None:
    diff = b"""diff --git a/x.py b/x.py
--- a/x.py
+++ b/x.py
@@ -3,2 +3,0 @@
-gone
-gone
@@ -10,0 +9,2 @@
+added one
+added two
diff --git a/img.png b/img.png
Binary files a/img.png and b/img.png differ
diff --git a/old.py b/old.py
deleted file mode 100644
--- a/old.py
+++ /dev/null
@@ -1 +0,0 @@
-bye
"""
    blocks = list(git.parse_diff(iter(diff.splitlines(keepends=True))))
    assert [(b.path, b.numbers, b.lines) for b in blocks] == [
        ("x.py", [9, 10], [b"added one", b"added two"])
    ]


def test_paths_with_spaces_and_unicode(repo: Path, scanner: Scanner) -> None:
    (repo / "my file.py").write_text(f'K = "{tok(11)}"\n')
    (repo / "\u00e9t\u00e9.py").write_text(f'K = "{tok(12)}"\n')
    sh(repo, "add", ".")
    matches, *_ = git.scan_blocks(scanner, git.staged_blocks(repo))
    assert sorted(m.path for m in matches) == ["my file.py", "\u00e9t\u00e9.py"]


def test_added_lines_that_look_like_headers(repo: Path, scanner: Scanner) -> None:
    (repo / "notes.md").write_text(f"++ b/fake.py\n@@ -1 +1 @@\nk = {tok(13)}\n")
    sh(repo, "add", ".")
    matches, *_ = git.scan_blocks(scanner, git.staged_blocks(repo))
    assert [(m.path, m.line_number) for m in matches] == [("notes.md", 3)]
