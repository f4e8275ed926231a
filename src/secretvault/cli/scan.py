"""``secretvault scan``, ``secretvault hook install`` and ``secretvault baseline audit``.

Mount with :func:`register` (``scan`` is a single command; ``hook`` and ``baseline`` are
groups). Exit codes: 0 clean, 1 findings at or above ``--fail-on``, 2 error.
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from secretvault.models import SecretScanReport, SecretType
    from secretvault.scanning.allowlist import Allowlist
    from secretvault.scanning.scanner import RawMatch, Scanner
    from secretvault.scanning.walker import SkipStats

HOOK_MARKER = "# secretvault pre-commit hook"
HOOK_SCRIPT = f"""#!/bin/sh
{HOOK_MARKER}
# Blocks commits that add hardcoded secrets. Bypass once with: git commit --no-verify
if command -v secretvault >/dev/null 2>&1; then
    exec secretvault scan --staged --no-progress
fi
exec "{{python}}" -m secretvault.cli.main scan --staged --no-progress
"""


class Format(StrEnum):
    """Output formats."""

    text = "text"
    json = "json"
    sarif = "sarif"
    junit = "junit"
    html = "html"


class EngineName(StrEnum):
    """Scanning engines."""

    auto = "auto"
    hyperscan = "hyperscan"
    re = "re"


class FailOn(StrEnum):
    """Lowest severity that makes the scan fail."""

    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"
    never = "never"


async def _open_vault(ctx: typer.Context | None) -> Any:
    from secretvault.cli.common import Options, options
    from secretvault.vault import SecretVault

    opts = options(ctx) if ctx is not None else Options()
    vault = SecretVault(opts.config(), app=opts.app)
    await vault.initialize()
    return vault


# Tests replace this with a factory returning an in-memory fake vault.
vault_factory: Callable[[typer.Context | None], Any] = _open_vault


async def _close(vault: Any) -> None:
    closer = getattr(vault, "shutdown", None) or getattr(vault, "close", None)
    if closer is not None:
        await closer()


def load_known_secrets(ctx: typer.Context | None) -> tuple[dict[str, str], dict[str, SecretType]]:
    """Every value in the vault, in memory only: ({name: value}, {name: type})."""

    async def main() -> tuple[dict[str, str], dict[str, SecretType]]:
        vault = await vault_factory(ctx)
        try:
            values: dict[str, str] = {}
            types: dict[str, SecretType] = {}
            for rec in await vault.list_secrets():
                value, record = await vault.get_secret(rec.name)
                values[rec.name] = value
                types[rec.name] = record.secret_type
            return values, types
        finally:
            await _close(vault)

    return asyncio.run(main())


def store_in_vault(ctx: typer.Context | None, items: list[tuple[str, str, SecretType]]) -> None:
    """Store each (name, value, type) in the vault (``--fix``)."""

    async def main() -> None:
        vault = await vault_factory(ctx)
        try:
            for name, value, stype in items:
                await vault.store_secret(
                    secret_type=stype,
                    name=name,
                    value=value,
                    description="moved out of source code by `secretvault scan --fix`",
                )
        finally:
            await _close(vault)

    asyncio.run(main())


PROGRESS_MIN_FILES = 500


def _progress(enabled: bool) -> tuple[Callable[[int, int], None] | None, Callable[[], None]]:
    """A stderr progress bar for large trees and long histories (shown from 500 files or
    commits-files on; ``total == 0`` means unknown), never when stderr is not a terminal."""
    if not enabled or not sys.stderr.isatty():
        return None, lambda: None
    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            if (0 < total < PROGRESS_MIN_FILES) or (total == 0 and done < PROGRESS_MIN_FILES):
                return
            from rich.console import Console
            from rich.progress import Progress

            bar = Progress(console=Console(stderr=True), transient=True)
            state["task"] = bar.add_task("history" if total == 0 else "files", total=None)
            bar.start()
            state["bar"] = bar
        state["bar"].update(state["task"], completed=done, total=total or None)

    def stop() -> None:
        if "bar" in state:
            state["bar"].stop()

    return update, stop


def _err(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _scan_dirs(
    scanner: Scanner,
    paths: list[str],
    include: list[str] | None,
    exclude: list[str],
    max_size: int,
    jobs: int | None,
    progress: Callable[[int, int], None] | None,
    skip: SkipStats,
    skip_dir_names: frozenset[str],
) -> tuple[list[RawMatch], int, int]:
    from secretvault.scanning.walker import WalkOptions, walk

    for arg in paths:
        if not Path(arg).exists():
            raise _err(f"path does not exist: {arg}")
    opts = WalkOptions(
        patterns=include or None,
        exclude=exclude,
        max_file_size=max_size,
        skip_dir_names=skip_dir_names,
        stats=skip,
    )

    def files() -> Iterator[tuple[str, str, int]]:
        for arg in paths:
            root = Path(arg)
            if root.is_file():
                yield str(root.resolve()), root.as_posix(), root.stat().st_size
                continue
            prefix = "" if arg in (".", "./") else root.as_posix().rstrip("/") + "/"
            for a, rel, size in walk(root, opts):
                if not scanner.allowlist.path_allowed(rel):
                    yield a, prefix + rel, size

    matches, stats = scanner.scan_paths(files(), jobs=jobs, progress=progress)
    for e in stats.errors:
        typer.echo(f"warning: {e}", err=True)
    if stats.binary_files:
        skip.files["binary"] += stats.binary_files
    return matches, stats.files_scanned, stats.bytes_scanned


def _allowlist(paths: list[str]) -> Allowlist:
    from secretvault.scanning.allowlist import Allowlist

    allow = Allowlist()
    for arg in paths:
        root = Path(arg)
        allow = allow.merged(Allowlist.load(root if root.is_dir() else root.parent))
    return allow


def _fail(report: SecretScanReport, fail_on: FailOn) -> bool:
    from secretvault.models import Severity

    if fail_on == FailOn.never:
        return False
    floor = Severity(fail_on.value).rank
    return any(f.severity.rank >= floor for f in report.findings)


def scan_command(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(
        None, help="Files or directories, or - for stdin (default: the current directory)."
    ),
    fmt: Format = typer.Option(Format.text, "--format", "-f", help="Output format."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report here."),
    stdin: bool = typer.Option(False, "--stdin", help="Scan standard input."),
    staged: bool = typer.Option(False, "--staged", help="Scan what `git commit` would add."),
    since: str | None = typer.Option(None, "--since", help="Scan commits after REV."),
    history: bool = typer.Option(False, "--history", help="Scan every commit's added lines."),
    baseline: Path | None = typer.Option(None, "--baseline", help="Only new findings."),
    update_baseline: bool = typer.Option(False, "--update-baseline", help="Write --baseline."),
    fail_on: FailOn = typer.Option(FailOn.low, "--fail-on", help="Lowest severity that fails."),
    include: list[str] = typer.Option(None, "--include", help="Only files matching GLOB."),
    exclude: list[str] = typer.Option(
        None, "--exclude", help="Skip paths matching GLOB (gitignore syntax)."
    ),
    skip_vendored: bool = typer.Option(
        False,
        "--skip-vendored",
        help="Also skip directories by name (node_modules, vendor, third_party, "
        "site-packages ...). Off by default: committed third-party trees are scanned.",
    ),
    skip_dir: list[str] = typer.Option(
        None, "--skip-dir", help="Skip every directory with this exact NAME (repeatable)."
    ),
    min_confidence: float = typer.Option(
        0.0,
        "--min-confidence",
        min=0.0,
        max=1.0,
        help="Report only findings at or above this confidence (0-1; default: all).",
    ),
    max_file_size: int = typer.Option(25 * 1024 * 1024, "--max-file-size", help="Bytes."),
    engine: EngineName = typer.Option(EngineName.auto, "--engine", help="Matching engine."),
    jobs: int | None = typer.Option(
        None, "--jobs", "-j", help="Worker processes (default: all cores)."
    ),
    known_secrets: bool = typer.Option(False, "--known-secrets", help="Also find vault values."),
    fix: bool = typer.Option(False, "--fix", help="Move secrets into the vault, reference them."),
    dry_run: bool = typer.Option(False, "--dry-run", help="With --fix: show the diff only."),
    yes: bool = typer.Option(False, "--yes", "-y", help="With --fix: do not ask."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
) -> None:
    """Scan files, stdin or git changes for hardcoded secrets."""
    started = time.perf_counter()
    paths = list(paths or ["."])
    use_stdin = stdin or paths == ["-"]
    from secretvault.errors import SecretVaultError
    from secretvault.scanning.walker import VENDORED_DIR_NAMES

    skip_names = frozenset(skip_dir or ()) | (VENDORED_DIR_NAMES if skip_vendored else frozenset())

    try:
        report, matches = _run_scan(
            ctx,
            paths,
            use_stdin,
            staged,
            since,
            history,
            list(include or []),
            list(exclude or []),
            max_file_size,
            engine.value,
            jobs,
            known_secrets,
            no_progress,
            started,
            skip_names,
        )
    except SecretVaultError as exc:
        raise _err(str(exc)) from None
    if min_confidence > 0:
        keep_fp = {f.fingerprint for f in report.findings if f.confidence >= min_confidence}
        report.findings = [f for f in report.findings if f.fingerprint in keep_fp]
        matches = [m for m in matches if m.fingerprint in keep_fp]
    if update_baseline:
        if baseline is None:
            raise _err("--update-baseline needs --baseline FILE")
        from secretvault.scanning import baseline as bl

        n = bl.write(baseline, report.findings)
        typer.echo(f"baseline {baseline}: {n} findings", err=True)
        raise typer.Exit(0)
    if baseline is not None:
        from secretvault.scanning import baseline as bl

        try:
            new = bl.filter_new(report.findings, baseline)
        except SecretVaultError as exc:
            raise _err(str(exc)) from None
        keep = {f.fingerprint for f in new}
        report.findings = new
        matches = [m for m in matches if m.fingerprint in keep]
    if fix:
        _fix(ctx, paths, matches, dry_run, yes)
        return
    _emit(report, fmt, output, {m.fingerprint: m.context for m in matches})
    raise typer.Exit(1 if _fail(report, fail_on) else 0)


def _run_scan(
    ctx: typer.Context,
    paths: list[str],
    use_stdin: bool,
    staged: bool,
    since: str | None,
    history: bool,
    include: list[str],
    exclude: list[str],
    max_size: int,
    engine: str,
    jobs: int | None,
    known: bool,
    no_progress: bool,
    started: float,
    skip_dir_names: frozenset[str] = frozenset(),
) -> tuple[SecretScanReport, list[RawMatch]]:
    from secretvault.scanning.api import build_report
    from secretvault.scanning.scanner import Scanner
    from secretvault.scanning.walker import SkipStats

    values, types = load_known_secrets(ctx) if known else ({}, {})
    git_mode = staged or history or since is not None
    root = paths[0] if paths else "."
    if git_mode:
        from secretvault.scanning.git import repo_root

        allow = _allowlist([str(repo_root(root))])
    else:
        allow = _allowlist(["."] if use_stdin else paths)
    scanner = Scanner(engine=engine, allowlist=allow, known_secrets=values, known_types=types)
    values.clear()
    progress, stop = _progress(not no_progress)
    skipped = SkipStats()
    try:
        if use_stdin:
            data = sys.stdin.buffer.read()
            matches = scanner.scan_bytes(data, "<stdin>")
            files, nbytes = 1, len(data)
        elif git_mode:
            matches, files, nbytes = _scan_git(
                scanner, root, staged, since, include, progress, skip_dir_names
            )
        else:
            matches, files, nbytes = _scan_dirs(
                scanner,
                paths,
                include,
                exclude,
                max_size,
                jobs,
                progress,
                skipped,
                skip_dir_names,
            )
    finally:
        stop()
    label = "<stdin>" if use_stdin else root
    report = build_report(label, matches, files, nbytes, started, scanner.engine_name, skipped)
    return report, matches


def _scan_git(
    scanner: Scanner,
    root: str,
    staged: bool,
    since: str | None,
    include: list[str],
    progress: Callable[[int, int], None] | None,
    skip_dir_names: frozenset[str],
) -> tuple[list[RawMatch], int, int]:
    from secretvault.scanning import git

    repo = git.repo_root(root)
    pats = include or None
    if staged:
        blocks = git.staged_blocks(repo)
        return git.scan_blocks(
            scanner, blocks, pats, progress=progress, skip_dir_names=skip_dir_names
        )
    if not git.has_commits(repo):
        return [], 0, 0
    blocks = git.history_blocks(repo, since=since)
    return git.scan_blocks(
        scanner, blocks, pats, once=True, progress=progress, skip_dir_names=skip_dir_names
    )


def _emit(
    report: SecretScanReport, fmt: Format, output: Path | None, contexts: dict[str, str]
) -> None:
    from secretvault.scanning.report import render

    color = output is None and fmt == Format.text and sys.stdout.isatty()
    text = render(report, fmt.value, color=color, contexts=contexts)
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise _err(f"cannot write {output}: {exc.strerror or exc}") from None
        typer.echo(f"report written to {output} ({report.total_findings} findings)", err=True)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _fix(
    ctx: typer.Context, paths: list[str], matches: list[RawMatch], dry_run: bool, yes: bool
) -> None:
    from secretvault.scanning.fix import plan_fixes

    root = Path(paths[0]) if len(paths) == 1 and Path(paths[0]).is_dir() else Path(".")
    if len(paths) == 1 and Path(paths[0]).is_dir() and paths[0] != ".":
        matches = [_strip_prefix(m, paths[0]) for m in matches]
    plan = plan_fixes(root, matches)
    for note in plan.skipped:
        typer.echo(f"skip: {note}", err=True)
    if not plan.files:
        typer.echo("nothing to fix", err=True)
        raise typer.Exit(1 if matches else 0)
    sys.stdout.write(plan.diff())
    if dry_run:
        raise typer.Exit(1)
    if not yes and not typer.confirm(
        f"Store {len(plan.secrets)} secret(s) in the vault and rewrite {len(plan.files)} file(s)?",
        default=False,
    ):
        typer.echo("aborted; nothing changed", err=True)
        raise typer.Exit(1)
    items = [(n, v, t) for n, (v, t) in sorted(plan.secrets.items())]
    try:
        if items:
            store_in_vault(ctx, items)
    except Exception as exc:
        raise _err(f"storing in the vault failed, no file changed: {type(exc).__name__}") from None
    for f in plan.files:
        f.path.write_text(f.updated, encoding="utf-8")
    typer.echo(
        f"moved {len(items)} secret(s) into the vault; {len(plan.files)} file(s) updated", err=True
    )


def _strip_prefix(m: RawMatch, prefix: str) -> RawMatch:
    from dataclasses import replace

    p = Path(prefix).as_posix().rstrip("/") + "/"
    return replace(m, path=m.path[len(p) :]) if m.path.startswith(p) else m


# -- hook ---------------------------------------------------------------------------------------

hook_app = typer.Typer(help="Git hook integration.", no_args_is_help=True)


@hook_app.command("install")
def hook_install(
    repo: Path = typer.Option(Path("."), "--repo", help="Repository to install into."),
    force: bool = typer.Option(False, "--force", help="Replace an existing foreign hook."),
) -> None:
    """Write .git/hooks/pre-commit running `secretvault scan --staged`."""
    import subprocess

    proc = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--git-path", "hooks"],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise _err(f"{repo} is not a git repository")
    hooks = Path(proc.stdout.strip())
    if not hooks.is_absolute():
        hooks = repo / hooks
    hooks.mkdir(parents=True, exist_ok=True)
    target = hooks / "pre-commit"
    if target.exists() and HOOK_MARKER not in target.read_text(errors="replace") and not force:
        raise _err(f"{target} exists and is not secretvault's; use --force to replace it")
    target.write_text(HOOK_SCRIPT.replace("{python}", sys.executable), encoding="utf-8")
    target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    typer.echo(f"installed {target}")


# -- baseline -----------------------------------------------------------------------------------

baseline_app = typer.Typer(help="Baseline maintenance.", no_args_is_help=True)


@baseline_app.command("audit")
def baseline_audit(
    baseline: Path = typer.Argument(..., help="Baseline file."),
    fingerprints: list[str] = typer.Argument(..., help="Fingerprints (or unique prefixes)."),
    true_positive: bool = typer.Option(False, "--true-positive", help="Clear the FP mark."),
) -> None:
    """Mark baseline entries as audited false positives."""
    from secretvault.scanning import baseline as bl

    if not baseline.exists():
        raise _err(f"baseline {baseline} does not exist")
    n = bl.audit(baseline, fingerprints, false_positive=not true_positive)
    typer.echo(f"{n} entr{'y' if n == 1 else 'ies'} updated")


def register(app: typer.Typer) -> None:
    """Mount ``scan``, ``hook`` and ``baseline`` on the main CLI."""
    app.command("scan")(scan_command)
    app.add_typer(hook_app, name="hook")
    app.add_typer(baseline_app, name="baseline")


def main() -> None:
    """Standalone entry point (``python -m secretvault.cli.scan``)."""
    app = typer.Typer(add_completion=False)
    register(app)
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    app()


if __name__ == "__main__":
    main()
