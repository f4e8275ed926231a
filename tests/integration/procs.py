"""Helpers for tests that drive the vault from real child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from secretvault import SecretsConfig


def clean_env() -> dict[str, str]:
    """The environment without any secretvault/mahavishnu settings of the caller's."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("MAHAVISHNU_", "SECRETVAULT_"))
    }


def vault_config(vault_dir: Path, **extra: object) -> SecretsConfig:
    """Settings for a vault in ``vault_dir`` that keeps every version."""
    return SecretsConfig(
        storage_path=str(vault_dir / "vault.db"),
        master_key_path=str(vault_dir / "master.key"),
        max_versions=0,
        **extra,
    )


def spawn(tmp_path: Path, name: str, source: str, *args: str) -> subprocess.Popen:
    """Write ``source`` to ``tmp_path/name`` and start it as a child with ``args``."""
    script = tmp_path / name
    script.write_text(source, encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )


def wait_for(proc: subprocess.Popen, marker: Path, timeout: float = 20) -> None:
    """Wait until the child creates ``marker``; fail if it dies or the time runs out."""
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{marker.name} never appeared"
        time.sleep(0.01)


def run_until_killed(tmp_path: Path, name: str, source: str, *args: str) -> None:
    """Run a child script that is expected to SIGKILL itself; fail with its stderr if not."""
    script = tmp_path / name
    script.write_text(source, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=30,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
