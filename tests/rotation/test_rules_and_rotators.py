"""Settings errors, the command rotator, the http verifier, Python rotators and value policies."""

from __future__ import annotations

import http.server
import logging
import string
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rotationtest_helpers import rotation_config

from secretvault import SecretType, SecretVault
from secretvault.errors import ConfigurationError
from secretvault.rotation.rotators import RotationContext


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"rotators": [{"match": "db", "kind": "ldap"}]}, "rotation.rotators[0].kind"),
        ({"rotators": [{"match": "colour:red", "kind": "postgres"}]}, "rotators[0].match"),
        ({"rotators": [{"match": "type:nope", "kind": "postgres"}]}, "rotators[0].match"),
        ({"rotators": [{"kind": "postgres"}]}, "rotators[0].match"),
        ({"rotators": [{"match": "x", "kind": "command"}]}, "rotators[0].command"),
        (
            {"rotators": [{"match": "x", "kind": "postgres", "strategy": "alternating"}]},
            "rotators[0].admin_secret",
        ),
        ({"rotators": [{"match": "x", "kind": "postgres", "colour": 1}]}, "rotators[0].colour"),
        ({"rotation_verifiers": [{"match": "x", "kind": "http"}]}, "verifiers[0].url"),
        (
            {
                "rotation_verifiers": [
                    {
                        "match": "x",
                        "kind": "http",
                        "url": "http://h/",
                        "header": "Authorization: none",
                    }
                ]
            },
            "verifiers[0].header",
        ),
        ({"rotation_policies": {"api_key": {"lenght": 9}}}, "policies.api_key.lenght"),
        ({"rotation_policies": {"api_key": {"length": 2}}}, "policies.api_key.length"),
        ({"rotation_policies": {"nokey": {"length": 20}}}, "policies.nokey"),
    ],
)
async def test_settings_errors_name_the_key(tmp_path: Path, settings: dict[str, Any], key: str):
    vault = SecretVault(rotation_config(tmp_path, **settings))
    with pytest.raises(ConfigurationError) as err:
        await vault.initialize()
    assert key in str(err.value)
    assert not (tmp_path / "vault.db").exists()  # failed before anything was created


def test_nested_yaml_section_reaches_the_rules(tmp_path: Path):
    from secretvault.config import load_config

    (tmp_path / "mahavishnu.yaml").write_text(
        "secrets_management:\n"
        "  rotation:\n"
        "    rotators:\n"
        "      - match: tag:stripe\n"
        "        kind: command\n"
        '        command: ["./scripts/stripe-roll.sh"]\n'
        "    verifiers:\n"
        "      - match: service:github\n"
        "        kind: http\n"
        "        url: https://api.github.com/user\n"
        '        header: "Authorization: Bearer {value}"\n'
        "        expect_status: 200\n"
    )
    cfg = load_config(settings_dir=tmp_path)
    assert cfg.rotators[0]["kind"] == "command"
    assert cfg.rotation_verifiers[0]["url"] == "https://api.github.com/user"


CHILD_RECORDER = """
import os, sys
out = sys.argv[1]
step = os.environ["SECRETVAULT_ROTATION_STEP"]
with open(out, "a") as f:
    f.write(step + "|" + open("/proc/self/cmdline").read().replace("\\0", " ") + "\\n")
    f.write("env-has-value=" + str(bool(os.environ.get("SECRETVAULT_NEW_VALUE"))) + "\\n")
sys.exit(int(os.environ.get("EXIT_CODE", "0")) if step == "apply" else 0)
"""


async def test_command_rotator_gets_the_value_in_its_environment_never_argv(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    script, out = tmp_path / "roll.py", tmp_path / "calls.txt"
    script.write_text(CHILD_RECORDER)
    rotators = [
        {
            "match": "tag:stripe",
            "kind": "command",
            "command": [sys.executable, str(script), str(out)],
        }
    ]
    caplog.set_level(logging.DEBUG)
    vault = SecretVault(rotation_config(tmp_path / "v", rotators=rotators))
    await vault.initialize()
    try:
        await vault.store_secret(
            SecretType.API_KEY, "stripe-key", "sk_live_old_value_123", tags=["stripe"]
        )
        result = await vault.rotate_secret("stripe-key", new_value="sk_live_NEW_value_456")
        assert result.success and result.rotator == "command"
        calls = out.read_text()
        assert "apply|" in calls and "env-has-value=True" in calls
        assert "sk_live_NEW_value_456" not in calls and "sk_live_old_value_123" not in calls

        # A refusing command: the restore step runs, the stored value is unchanged.
        import os

        os.environ["EXIT_CODE"] = "3"
        try:
            failed = await vault.rotate_secret("stripe-key", new_value="sk_live_THIRD_789")
        finally:
            del os.environ["EXIT_CODE"]
        assert not failed.success and failed.failed_step == "apply"
        assert failed.error is not None and "status 3" in failed.error and failed.restored
        assert "restore|" in out.read_text()
        assert (await vault.get_secret("stripe-key"))[0] == "sk_live_NEW_value_456"

        log = await vault.get_access_log("stripe-key")
        trail = " ".join(f"{e.action} {e.reason}" for e in log.entries)
        for value in ("sk_live_old_value_123", "sk_live_NEW_value_456", "sk_live_THIRD_789"):
            assert value not in trail and value not in caplog.text
            assert value not in str(failed.model_dump())
        for action in (
            "rotate_start",
            "rotate_check",
            "rotate_apply_start",
            "rotate_apply",
            "rotate",
            "rotate_restore",
            "rotate_rollback",
        ):
            assert action in trail
    finally:
        await vault.shutdown()


class _Api(http.server.BaseHTTPRequestHandler):
    token = ""

    def do_GET(self) -> None:
        ok = self.headers.get("Authorization") == f"Bearer {self.token}"
        self.send_response(200 if ok else 401)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api() -> Iterator[tuple[str, type[_Api]]]:
    handler = type("Api", (_Api,), {"token": ""})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/user", handler
    server.shutdown()
    server.server_close()


async def test_http_verifier_promotes_only_a_working_token(
    tmp_path: Path, api: tuple[str, type[_Api]]
):
    url, handler = api
    verifiers = [
        {
            "match": "service:github",
            "kind": "http",
            "url": url,
            "header": "Authorization: Bearer {value}",
            "expect_status": 200,
        }
    ]
    vault = SecretVault(rotation_config(tmp_path, rotation_verifiers=verifiers))
    await vault.initialize()
    try:
        await vault.store_secret(SecretType.API_KEY, "gh", "ghp_old", service="github")
        handler.token = "ghp_good"
        good = await vault.rotate_secret("gh", new_value="ghp_good")
        assert good.success and good.verified
        bad = await vault.rotate_secret("gh", new_value="ghp_bad")
        assert not bad.success and bad.failed_step == "verify" and bad.rolled_back
        assert (await vault.get_secret("gh"))[0] == "ghp_good"
    finally:
        await vault.shutdown()


async def test_python_rotator_and_decorators(tmp_path: Path):
    vault = SecretVault(rotation_config(tmp_path))
    target = {"value": "t-old"}

    @vault.rotator("type:webhook_secret")
    def push(ctx: RotationContext) -> None:
        target["value"] = ctx.candidate

    await vault.initialize()
    try:
        await vault.store_secret(SecretType.WEBHOOK_SECRET, "hook", "t-old")
        result = await vault.rotate_secret("hook")
        assert result.success and result.rotator == "python"
        assert target["value"] == (await vault.get_secret("hook"))[0] != "t-old"

        restored: list[str] = []

        async def undo(ctx: RotationContext) -> bool:
            restored.append(ctx.current)
            target["value"] = ctx.current
            return True

        vault.register_rotator("hook", push, undo)
        vault.register_verifier("hook", lambda value, record: False)
        before = target["value"]
        failed = await vault.rotate_secret("hook")
        assert not failed.success and failed.restored and restored == [before]
        assert target["value"] == before == (await vault.get_secret("hook"))[0]
    finally:
        await vault.shutdown()


async def test_value_policy_from_settings(tmp_path: Path, open_vault: Callable[..., Any]):
    policies = {
        "api_key": {"length": 48, "exclude_punctuation": True, "exclude_characters": "0Oo1lI"}
    }
    vault = await open_vault(rotation_policies=policies)
    await vault.store_secret(SecretType.API_KEY, "k", "old-key")
    assert (await vault.rotate_secret("k")).success
    value, _ = await vault.get_secret("k")
    assert len(value) == 48
    assert set(value) <= set(string.ascii_letters + string.digits) - set("0Oo1lI")
    assert any(c.isdigit() for c in value) and any(c.isupper() for c in value)


async def test_failed_restore_parks_the_rotation_until_a_later_open(tmp_path: Path):
    """When the target cannot be put back, the vault does not guess: the rotation stays
    pending (reads serve the old value) and the next open with a working restore resolves it."""
    from secretvault import SecretStatus

    target = {"value": "tok-old"}

    def apply(ctx: RotationContext) -> None:
        target["value"] = ctx.candidate

    def broken_restore(ctx: RotationContext) -> bool:
        return False

    def restore(ctx: RotationContext) -> bool:
        target["value"] = ctx.current
        return True

    cfg = rotation_config(tmp_path)
    first = SecretVault(cfg)
    first.register_rotator("tok", apply, broken_restore)
    first.register_verifier("tok", lambda value, record: False)
    await first.initialize()
    try:
        await first.store_secret(SecretType.OAUTH_TOKEN, "tok", "tok-old")
        result = await first.rotate_secret("tok")
        assert not result.success and result.restored is False and not result.rolled_back
        assert result.error is not None and "stays pending" in result.error
        value, record = await first.get_secret("tok")
        assert value == "tok-old" and record.status == SecretStatus.ROTATING
    finally:
        await first.shutdown()

    second = SecretVault(cfg)
    second.register_rotator("tok", apply, restore)
    await second.initialize()  # recovery: the parked rotation is restored and dropped
    try:
        value, record = await second.get_secret("tok")
        assert value == "tok-old" == target["value"] and record.status == SecretStatus.ACTIVE
        assert (await second.rotate_secret("tok")).success
    finally:
        await second.shutdown()
