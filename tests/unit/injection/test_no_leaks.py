"""Values never leak: not into errors, logs, repr, bindings, audit entries, temporary files
or argv-visible places, on the success and the failure paths."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from helpers_inject import distinctive

from secretvault import InjectionError, InjectionType, SecretType, SecretVault
from secretvault.injection.templates import SecretText


async def test_no_value_in_errors_logs_repr_bindings_audit(
    vault: SecretVault, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    value = distinctive("leak")
    await vault.store_secret(SecretType.API_KEY, "k", value)
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    # failure paths: a template that tries to escape the sandbox with the value, a bad mode
    tpl = tmp_path / "t.yaml"
    tpl.write_text("a: {{ k }}\nb: {{ k.__class__.__mro__ }}\n")
    for call in (
        vault.inject_secret("k", InjectionType.TEMPLATE_REFERENCE, "t", file_path=str(tpl)),
        vault.inject_secret(
            "k", InjectionType.FILE_MOUNT, "t", file_path=str(tmp_path / "f"), file_permissions="x"
        ),
    ):
        with pytest.raises(InjectionError) as err:
            await call
        seen += [str(err.value), repr(err.value), str(err.value.hint)]

    # a subscriber that raises with the value in its message is logged without it
    def broken() -> None:
        raise RuntimeError(value)

    vault.subscribe("k", broken)
    await vault.inject_secret("k", InjectionType.ENV_VAR, "t", env_var_name="LEAK_K")
    await asyncio.sleep(0.3)
    await vault.update_secret("k", distinctive())
    await asyncio.sleep(0.6)

    seen.append(caplog.text)
    seen.append(repr(SecretText(value)))
    seen.append(repr(vault))
    seen += [b.spec for b in await vault.injection.bindings()]
    log = await vault.get_access_log("k")
    seen += [json.dumps(e.model_dump(mode="json")) for e in log.entries]
    assert "subscriber of k failed: RuntimeError" in caplog.text
    for text in seen:
        assert value not in text
    # no temporary files were left next to the outputs, and nothing unreadable was written
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
