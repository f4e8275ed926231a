"""The README's main job: a local encrypted vault and a scan, in a scratch directory.

Runs the real ``secretvault`` CLI as a user would: init, store, read, rotate, list, history,
the audit trail and its verification, then a scan of a small sample tree. The sample's
hardcoded secrets are generated here at run time from the scanner's own rule examples, so this
repository holds no secret-looking literal. Exits non-zero if any step misbehaves.
"""

from __future__ import annotations

import os
import random
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path(sys.executable).parent / "secretvault"


def step(title: str, args: list[str], *, stdin: str | None = None, expect: int = 0) -> str:
    """Run one CLI command, show it and its output, check its exit code."""
    print(f"\n\033[1m$ secretvault {shlex.join(args)}\033[0m   # {title}")
    proc = subprocess.run(
        [str(BIN), *args], input=stdin, capture_output=True, text=True, env=os.environ
    )
    out = (proc.stdout + proc.stderr).rstrip()
    if out:
        print(out)
    if proc.returncode != expect:
        sys.exit(f"demo: `{shlex.join(args)}` exited {proc.returncode}, expected {expect}")
    return proc.stdout


def sample_tree(root: Path) -> None:
    """A tiny project with three hardcoded secrets and some look-alikes that are not secrets."""
    from secretvault.scanning.rules.catalogue import ALL_RULES

    rules = {r.id: r for r in ALL_RULES}
    rng = random.Random(7)
    (root / "app").mkdir(parents=True)
    (root / "app" / "settings.py").write_text(
        "import os\n\n"
        f"GITHUB_TOKEN = \"{rules['github-pat-classic'].example(rng)}\"\n"
        'DATABASE_PASSWORD = os.environ["DATABASE_PASSWORD"]  # fine: read at run time\n'
    )
    (root / "deploy.yaml").write_text(
        "services:\n  api:\n    environment:\n"
        f"      - STRIPE_KEY={rules['stripe-secret-key'].example(rng)}\n"
        "      - DB_PASSWORD=${DB_PASSWORD}\n"
    )
    # the rule's example is a key pasted into code, e.g. a triple-quoted Python string
    (root / "app" / "deploy_key.py").write_text(rules["private-key"].example(rng) + "\n")
    (root / "README.md").write_text("Set API_KEY=<your-api-key> in .env before running.\n")


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="secretvault-demo-"))
    os.environ["SECRETVAULT_DIR"] = str(scratch / "vault")
    os.environ.setdefault("SECRETVAULT_USER", "demo@example.com")
    print(f"scratch directory: {scratch}")

    step("create the vault and its master key", ["init"])
    step(
        "store a secret (value from stdin, never argv)",
        ["set", "openai-api-key", "--type", "api_key", "--service", "openai", "--tag", "llm"],
        stdin="demo-value-" + os.urandom(8).hex(),
    )
    step("read it back", ["get", "openai-api-key"])
    step("rotate: stage, verify, promote", ["rotate", "openai-api-key"])
    step("list (metadata only)", ["list"])
    step("every version", ["history", "openai-api-key"])
    step("the audit trail", ["audit", "log"])
    step("prove nobody edited it", ["audit", "verify"])

    tree = scratch / "sample-project"
    sample_tree(tree)
    step(
        "scan a sample project (exit 1: findings)", ["scan", str(tree), "--no-progress"], expect=1
    )
    print(f"\ndemo finished; everything is under {scratch}")


if __name__ == "__main__":
    main()
