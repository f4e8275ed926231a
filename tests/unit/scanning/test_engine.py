"""The Hyperscan and pure-``re`` engines return identical findings; spans and lines are exact."""

from __future__ import annotations

import random
import re

import pytest

from secretvault.scanning.builtin_rules import SPEC_RULES, load_provider_rules
from secretvault.scanning.engine import ReEngine, compile_rule, hyperscan_available
from secretvault.scanning.generic import GENERIC_RULES
from secretvault.scanning.scanner import Scanner

needs_hs = pytest.mark.skipif(not hyperscan_available(), reason="hyperscan not installed")
SEEDS = (1, 7, 42)


def _findings(scanner: Scanner, data: bytes, path: str = "app/config.py") -> list[dict]:
    return [m.to_finding().model_dump(exclude={"date"}) for m in scanner.scan_bytes(data, path)]


@pytest.fixture(scope="module")
def engines() -> tuple[Scanner, Scanner]:
    return Scanner(engine="hyperscan"), Scanner(engine="re")


@needs_hs
def test_engines_identical_on_every_rule_example(engines: tuple[Scanner, Scanner]) -> None:
    hs, rx = engines
    rules = [*load_provider_rules(), *GENERIC_RULES]
    for seed in SEEDS[:2]:
        for rule in rules:
            text = rule.example(random.Random(seed))
            negatives = rule.negatives(random.Random(seed))
            for path in ("app/config.py", "deploy/.env"):
                for sample in (text, "\n".join([*negatives, "x", text, "# tail"])):
                    data = sample.encode()
                    assert _findings(hs, data, path) == _findings(rx, data, path), rule.id


@needs_hs
def test_engines_identical_on_one_big_buffer(engines: tuple[Scanner, Scanner]) -> None:
    hs, rx = engines
    rng = random.Random(3)
    parts = []
    for rule in [*load_provider_rules(), *GENERIC_RULES]:
        parts.append("filler = compute(x, y)  # nothing here")
        parts.append(rule.example(rng))
    data = "\n".join(parts).encode()
    a, b = _findings(hs, data), _findings(rx, data)
    assert a == b
    assert len(a) >= len(parts) // 2 * 0.9


def test_rule_examples_are_found() -> None:
    scanner = Scanner(engine="re")
    missed = []
    rules = load_provider_rules()
    for rule in rules:
        text = rule.example(random.Random(11))
        if not scanner.scan_bytes(text.encode(), "src/settings.py"):
            missed.append(rule.id)
    assert len(missed) <= len(rules) * 0.02, missed


def test_line_and_column_are_one_based_and_unicode_aware() -> None:
    rule = SPEC_RULES[1]  # github-pat-classic
    token = rule.example(random.Random(5))
    text = f"first line\n# é ü comment\nvalue = 'ünï {token}'\n"
    (m,) = Scanner([rule], engine="re", generic_detection=False).scan_bytes(text.encode(), "a.py")
    line = text.splitlines()[2]
    assert m.secret in token and line.count(m.secret) == 1  # the example may carry context
    assert (m.line_number, m.column) == (3, line.index(m.secret) + 1)
    assert m.end_column == m.column + len(m.secret)


def test_keywordless_custom_rule_runs_on_every_line() -> None:
    from dataclasses import replace

    rule = replace(SPEC_RULES[1], id="no-kw", keywords=())
    engine = ReEngine([compile_rule(0, rule)])
    data = b"a\nb\nc"
    assert engine.candidates(data) == {0: {0, 2, 4}}


@needs_hs
def test_hyperscan_database_is_cached(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SECRETVAULT_CACHE_DIR", str(tmp_path))
    Scanner(engine="hyperscan")
    cached = list(tmp_path.glob("hs-*.db"))
    assert len(cached) == 1
    again = Scanner(engine="hyperscan")
    assert again.engine_name == "hyperscan"
    assert list(tmp_path.glob("hs-*.db")) == cached


def test_large_file_is_scanned_in_chunks(tmp_path, monkeypatch) -> None:
    from secretvault.scanning import scanner as mod

    monkeypatch.setattr(mod, "CHUNK_SIZE", 4096)
    rule = SPEC_RULES[3]  # stripe
    token = rule.example(random.Random(2))
    lines = [f"line {i} = {i * 7}" for i in range(3000)]
    lines[2500] = f'key = "{token}"'
    f = tmp_path / "big.py"
    f.write_text("\n".join(lines) + "\n")
    matches, nbytes = Scanner([rule], engine="re", generic_detection=False).scan_file(
        str(f), "big.py"
    )
    assert nbytes == f.stat().st_size
    assert [m.line_number for m in matches] == [2501]


def test_binary_files_are_skipped(tmp_path) -> None:
    token = SPEC_RULES[3].example(random.Random(2))
    f = tmp_path / "blob.dat"
    f.write_bytes(b"\x00\x01" + token.encode())
    assert Scanner(engine="re").scan_file(str(f), "blob.dat") == ([], 0)


@needs_hs
def test_parallel_scan_matches_serial(tmp_path) -> None:
    rng = random.Random(9)
    rule = SPEC_RULES[3]
    for i in range(80):
        body = "\n".join(f"v{j} = {j}" for j in range(2000))
        (tmp_path / f"f{i}.py").write_text(body + f'\nk = "{rule.example(rng)}"\n')
    from secretvault.scanning.parallel import fork_is_safe
    from secretvault.scanning.walker import walk

    assert fork_is_safe()  # else jobs=2 silently runs serially and this proves nothing
    files = list(walk(tmp_path))
    scanner = Scanner(engine="hyperscan")
    serial, s1 = scanner.scan_paths(files, jobs=1)
    parallel, s2 = scanner.scan_paths(files, jobs=2)
    key = lambda m: (m.path, m.line_number)  # noqa: E731
    assert sorted(map(key, serial)) == sorted(map(key, parallel))
    assert len(serial) == 80 and s1.bytes_scanned == s2.bytes_scanned


def test_manifest_lets_a_scan_start_without_the_catalogue(tmp_path) -> None:
    import subprocess
    import sys

    token = SPEC_RULES[3].example(random.Random(2))
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text(f'k = "{token}"\n')
    code = (
        "import sys, json\n"
        "from secretvault.scanning.api import scan_repository\n"
        f"r = scan_repository({str(tmp_path / 'src')!r}, engine=sys.argv[1])\n"
        "print(json.dumps([sorted(m for m in sys.modules if m.endswith('catalogue')),"
        " [f.rule_id for f in r.findings]]))\n"
    )
    env = {"SECRETVAULT_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    runs = [
        subprocess.run(
            [sys.executable, "-c", code, engine],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
        for engine in ("re", "re")
    ]
    first, second = (__import__("json").loads(r) for r in runs)
    assert first[1] == second[1] == ["stripe-secret-key"]
    assert second[0] and list((tmp_path / "cache").glob("rules-*.json"))


def test_manifest_stub_scanner_skips_catalogue_when_nothing_matches(tmp_path) -> None:
    import subprocess
    import sys

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text('x = 1\nTOKEN_NAME = "short"\n')
    code = (
        "import sys\n"
        "from secretvault.scanning.api import scan_repository\n"
        f"scan_repository({str(tmp_path / 'src')!r}, engine='re')\n"
        "print(any(m.endswith('catalogue') for m in sys.modules))\n"
    )
    env = {"SECRETVAULT_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    outs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        ).stdout.strip()
        for _ in range(2)
    ]
    assert outs == ["True", "False"]


@needs_hs
def test_rule_hyperscan_cannot_compile_falls_back_to_re(tmp_path, monkeypatch) -> None:
    from dataclasses import replace

    monkeypatch.setenv("SECRETVAULT_CACHE_DIR", str(tmp_path))
    backref = replace(
        SPEC_RULES[3], id="backref", regex=r"(?P<secret>(sk_live_)[a-zA-Z0-9]{24,}\2?)(?=\s|$)"
    )
    example = SPEC_RULES[3].example(random.Random(4))
    token = re.search(r"sk_live_[a-zA-Z0-9]+", example).group(0)  # the bare key, no context
    data = f'k = "{token}"\nm = {token}\n'.encode()
    hs = Scanner([backref], engine="hyperscan", generic_detection=False)
    assert hs.engine.rejected == {0}
    rx = Scanner([backref], engine="re", generic_detection=False)
    assert _findings(hs, data) == _findings(rx, data)
    assert [m.line_number for m in hs.scan_bytes(data, "a.py")] == [2]
