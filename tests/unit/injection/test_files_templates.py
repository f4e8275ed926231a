"""Injected files and rendered templates: content, mode 0400, atomicity, symlink and
world-writable refusal, all-or-nothing rendering, hostile values in every quoting context,
the sandbox, and scan_on_write's git check."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import yaml
from dotenv import dotenv_values
from helpers_inject import distinctive, hostile

from secretvault import InjectionError, InjectionType, SecretsConfig, SecretType, SecretVault
from secretvault.injection import files, templates
from secretvault.injection.env import read_env_file


async def test_file_mount_content_mode_and_binding(vault: SecretVault, tmp_path: Path) -> None:
    value = hostile()
    await vault.store_secret(SecretType.API_KEY, "k", value)
    path = tmp_path / "out" / "k.txt"
    assert await vault.inject_secret("k", InjectionType.FILE_MOUNT, "app", file_path=str(path))
    assert path.read_text() == value
    assert path.stat().st_mode & 0o777 == 0o400
    assert [p.name for p in path.parent.iterdir()] == ["k.txt"]  # no temp file left behind
    entries = (await vault.get_access_log("k")).entries
    assert ("inject", True) in [(e.action, e.success) for e in entries]
    assert all(value not in json.dumps(e.model_dump(mode="json")) for e in entries)


async def test_symlink_and_world_writable_refused(vault: SecretVault, tmp_path: Path) -> None:
    await vault.store_secret(SecretType.API_KEY, "k", distinctive())
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    link = tmp_path / "link"
    link.symlink_to(victim)
    with pytest.raises(InjectionError, match="symbolic link"):
        await vault.inject_secret("k", InjectionType.FILE_MOUNT, "app", file_path=str(link))
    assert victim.read_text() == "untouched" and link.is_symlink()

    public = tmp_path / "public"
    public.mkdir()
    public.chmod(0o777)
    with pytest.raises(InjectionError, match="world-writable"):
        await vault.inject_secret("k", InjectionType.FILE_MOUNT, "app", file_path=str(public / "k"))
    assert list(public.iterdir()) == []
    await vault.inject_secret(
        "k", InjectionType.FILE_MOUNT, "app", file_path=str(public / "k"), allow_world_writable=True
    )
    assert (public / "k").exists()
    with pytest.raises(InjectionError, match="other users"):
        await vault.inject_secret(
            "k",
            InjectionType.FILE_MOUNT,
            "app",
            file_path=str(tmp_path / "x"),
            file_permissions="0644",
        )
    failures = [e for e in (await vault.get_access_log("k")).entries if not e.success]
    assert {e.action for e in failures} == {"inject"} and len(failures) == 3


def test_atomic_write_never_shows_a_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    olds = [bytes([65 + i]) * 2_000_000 for i in range(4)]
    files.atomic_write(path, olds[0], 0o600)
    seen: set[bytes] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            data = path.read_bytes()
            seen.add(data[:1] + str(len(data)).encode() + data[-1:])

    t = threading.Thread(target=reader)
    t.start()
    for i in range(20):
        files.atomic_write(path, olds[i % 4], 0o600)
    stop.set()
    t.join()
    whole = {o[:1] + str(len(o)).encode() + o[-1:] for o in olds}
    assert seen and seen <= whole


async def test_template_all_or_nothing_names_every_missing(
    vault: SecretVault, tmp_path: Path
) -> None:
    await vault.store_secret(SecretType.API_KEY, "present", distinctive())
    tpl = tmp_path / "app.conf"
    tpl.write_text('a={{ present }}\nb={{ MISSING_ONE }}\nc={{ secret "missing-two" }}\n')
    out = tmp_path / "app.injected.conf"
    out.write_text("previous")
    with pytest.raises(InjectionError) as err:
        await vault.injection.render_file(tpl)
    msg = str(err.value)
    assert "MISSING_ONE" in msg and "missing-two" in msg and "nothing was written" in msg
    assert out.read_text() == "previous"


@pytest.mark.parametrize(
    ("suffix", "body", "load"),
    [
        (".yaml", "key: {{ VALUE }}\nother: {{ VALUE | yaml }}\n", lambda t: yaml.safe_load(t)),
        (".json", '{"key": {{ VALUE }}, "other": {{ secret "value" | json }}}', json.loads),
        (".env", "KEY={{ VALUE }}\nOTHER={{ VALUE | env }}\n", None),
        (".sh", "KEY={{ VALUE }}\nOTHER={{ VALUE | shell }}\n", None),
    ],
)
async def test_hostile_values_render_safely(
    vault: SecretVault, tmp_path: Path, suffix: str, body: str, load: object
) -> None:
    value = hostile()
    await vault.store_secret(SecretType.API_KEY, "value", value)
    tpl = tmp_path / f"conf{suffix}"
    tpl.write_text(body)
    out, _ = await vault.injection.render_file(tpl)
    text = out.read_text()
    if suffix == ".env":
        got = dotenv_values(out)
        assert (got["KEY"], got["OTHER"]) == (value, value)
        plain, _ = read_env_file(out)  # our own .env reader agrees
        assert plain == {"KEY": value, "OTHER": value}
    elif suffix == ".sh":
        res = subprocess.run(
            ["sh", "-c", f'. "{out}"; printf "%s|%s" "$KEY" "$OTHER"'],
            capture_output=True,
            text=True,
            check=True,
        )
        assert res.stdout == f"{value}|{value}"
    else:
        assert callable(load)
        data = load(text)
        assert (data["key"], data["other"]) == (value, value)
    # equality above proves "{{ 7*7 }}" inside a value came out as text, never evaluated


async def test_raw_filter_and_unknown_suffix_insert_as_is(
    vault: SecretVault, tmp_path: Path
) -> None:
    value = distinctive()
    await vault.store_secret(SecretType.API_KEY, "v", value)
    tpl = tmp_path / "x.yaml"
    tpl.write_text("k: {{ v | raw }}\n")
    out, _ = await vault.injection.render_file(tpl, tmp_path / "x.txt")
    assert out.read_text() == f"k: {value}\n"


async def test_sandbox_and_syntax_errors(vault: SecretVault, tmp_path: Path) -> None:
    await vault.store_secret(SecretType.API_KEY, "v", distinctive())
    bad = tmp_path / "bad.txt"
    bad.write_text("line one\n{{ v \n")
    with pytest.raises(InjectionError, match="line 2"):
        await vault.injection.render_file(bad)
    evil = tmp_path / "evil.txt"
    evil.write_text("{{ v.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(InjectionError, match="cannot render"):
        await vault.injection.render_file(evil)
    assert not (tmp_path / "evil.injected.txt").exists()


async def test_template_binding_follows_the_target(vault: SecretVault, tmp_path: Path) -> None:
    a, b = distinctive("a"), distinctive("b")
    await vault.store_secret(SecretType.API_KEY, "alpha-key", a)
    await vault.store_secret(SecretType.API_KEY, "beta", b)
    tpl = tmp_path / "app.yaml"
    tpl.write_text("one: {{ ONE }}\ntwo: {{ TWO }}\n")
    # the first mapping cannot render yet (TWO unknown): nothing written, the error says so
    with pytest.raises(InjectionError, match="TWO"):
        await vault.inject_secret(
            "alpha-key",
            InjectionType.TEMPLATE_REFERENCE,
            "svc",
            file_path=str(tpl),
            template_pattern="{{ ONE }}",
        )
    await vault.inject_secret(
        "beta", InjectionType.TEMPLATE_REFERENCE, "svc", template_pattern="{{ TWO }}"
    )
    await vault.inject_secret(
        "alpha-key",
        InjectionType.TEMPLATE_REFERENCE,
        "svc",
        file_path=str(tpl),
        template_pattern="{{ ONE }}",
    )
    out = tmp_path / "app.injected.yaml"
    assert yaml.safe_load(out.read_text()) == {"one": a, "two": b}
    out.unlink()
    assert await vault.injection.apply_target("svc") == [out]
    assert yaml.safe_load(out.read_text()) == {"one": a, "two": b}


def test_placeholder_forms() -> None:
    bare, called = templates.placeholders(
        '{{ A }} {{ secret "b-c" | json }} {% for x in L %}{{ x }}{% endfor %}'
    )
    assert bare == {"A", "L"} and called == {"b-c"}
    with pytest.raises(InjectionError, match="one placeholder"):
        from secretvault.injection.injector import _placeholder

        _placeholder("{{ A }}{{ B }}")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
async def test_scan_on_write_refuses_files_git_would_commit(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    cfg = SecretsConfig(
        storage_path=str(tmp_path / "v" / "vault.db"),
        master_key_path=str(tmp_path / "v" / "master.key"),
        scan_on_write=True,
    )
    vault = SecretVault(cfg)
    await vault.initialize()
    try:
        await vault.store_secret(SecretType.API_KEY, "k", distinctive())
        target = repo / "conf" / "k.txt"
        with pytest.raises(InjectionError) as err:
            await vault.inject_secret("k", InjectionType.FILE_MOUNT, "app", file_path=str(target))
        assert "/conf/k.txt" in str(err.value) and ".gitignore" in str(err.value)
        assert not target.exists()
        (repo / ".gitignore").write_text("/conf/k.txt\n")
        await vault.inject_secret("k", InjectionType.FILE_MOUNT, "app", file_path=str(target))
        assert target.exists()
        # templates too
        tpl = repo / "c.yaml"
        tpl.write_text("k: {{ k }}\n")
        with pytest.raises(InjectionError, match=r"c\.injected\.yaml"):
            await vault.injection.render_file(tpl)
    finally:
        await vault.shutdown()
    assert os.environ.get("GIT_DIR") is None
