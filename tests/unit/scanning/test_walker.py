"""The walker skips virtualenvs by their ``pyvenv.cfg`` and VCS metadata, never a folder by name."""

from __future__ import annotations

from pathlib import Path

from secretvault.scanning.git import _wanted
from secretvault.scanning.scanner import Scanner
from secretvault.scanning.walker import walk


def _tree(root: Path, files: dict[str, str]) -> list[str]:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return sorted(rel for _, rel, _ in walk(root))


def test_virtualenvs_are_skipped_by_marker_not_name(tmp_path: Path) -> None:
    cfg = "home = /usr/bin\nversion = 3.11.7\n"
    got = _tree(
        tmp_path,
        {
            "Lib/venv/__init__.py": "x = 1\n",  # the standard library's venv package
            "lib/venv/scripts/common/activate.py": "y = 2\n",
            "src/env/settings.py": "z = 3\n",
            ".venv/pyvenv.cfg": cfg,
            ".venv/lib/python3.11/foo/mod.py": "a = 1\n",
            "venv/pyvenv.cfg": cfg,
            "venv/bin/tool.py": "b = 2\n",
            "build-env/pyvenv.cfg": cfg,  # any name: the marker decides
            "build-env/lib/m.py": "c = 3\n",
            "pkg/site-packages/d.py": "d = 4\n",
            "web/node_modules/e.js": "e = 5\n",
            "app.py": "f = 6\n",
        },
    )
    assert got == [
        "Lib/venv/__init__.py",
        "app.py",
        "lib/venv/scripts/common/activate.py",
        "pkg/site-packages/d.py",
        "src/env/settings.py",
        "web/node_modules/e.js",
    ]


def test_a_virtualenv_named_as_the_root_is_scanned(tmp_path: Path) -> None:
    got = _tree(tmp_path, {"pyvenv.cfg": "home = /usr/bin\n", "lib/m.py": "x = 1\n"})
    assert got == ["lib/m.py", "pyvenv.cfg"]


def test_git_paths_skip_virtualenv_layouts_and_named_dirs_on_request_only() -> None:
    scanner = Scanner([], engine="re", generic_detection=False)
    assert _wanted("Lib/venv/__init__.py", None, scanner)
    assert _wanted("Lib/venv/scripts/common/activate.py", None, scanner)
    assert _wanted("src/env/settings.py", None, scanner)
    assert not _wanted("venv/lib/python3.11/x/m.py", None, scanner)
    assert not _wanted(".venv/bin/activate_this.py", None, scanner)
    assert not _wanted("env/Scripts/activate.py", None, scanner)
    assert _wanted("pkg/site-packages/d.py", None, scanner)
    assert _wanted("web/node_modules/e.js", None, scanner)
    names = frozenset({"node_modules"})
    assert not _wanted("web/node_modules/e.js", None, scanner, names)
