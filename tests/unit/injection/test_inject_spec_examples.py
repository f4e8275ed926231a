"""The guide's injection examples, copied literally from its "Secret Injection" section and
API reference; only the import line changed (and, for FILE_MOUNT, /etc/secrets points into
tmp_path so the test does not write to /etc). They run in tmp_path, where ``SecretVault()``
finds its default paths (data/secrets/)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import yaml
from helpers_inject import distinctive

from secretvault import InjectionType, SecretType, SecretVault


async def seed(**values: str) -> None:
    vault = SecretVault()
    await vault.initialize()
    for name, value in values.items():
        await vault.store_secret(SecretType.API_KEY, name, value)
    await vault.shutdown()


async def test_env_var_example(in_tmp: Path) -> None:
    value = distinctive()
    await seed(**{"openai-api-key": value})
    # --- SPEC "Environment Variable Injection", literal ---
    from secretvault import (
        InjectionType,
        SecretVault,
    )

    vault = SecretVault()
    await vault.initialize()

    # Inject as environment variable
    await vault.inject_secret(
        secret_name="openai-api-key",
        injection_type=InjectionType.ENV_VAR,
        target="my-app",
        env_var_name="OPENAI_API_KEY",
        restart_required=True,
    )
    # --- end ---
    assert os.environ["OPENAI_API_KEY"] == value
    bindings = await vault.injection.bindings("my-app")
    assert [(b.secret_name, b.kind) for b in bindings] == [("openai-api-key", "env_var")]
    assert value not in bindings[0].spec
    await vault.shutdown()


async def test_worker_example(in_tmp: Path) -> None:
    a, b = distinctive("a"), distinctive("b")
    await seed(**{"db-password": a, "queue-token": b})
    worker_config = SimpleNamespace(
        required_secrets=[
            SimpleNamespace(name="db-password", env_var="DB_PASSWORD"),
            SimpleNamespace(name="queue-token", env_var="QUEUE_TOKEN"),
        ]
    )

    # --- SPEC "Mahavishnu Integration", literal ---
    # Mahavishnu automatically injects secrets before launching workers
    async def inject_secrets_before_start(worker_config):
        vault = SecretVault()
        await vault.initialize()

        # Inject secrets from configuration
        for secret_ref in worker_config.required_secrets:
            await vault.inject_secret(
                secret_name=secret_ref.name,
                injection_type=InjectionType.ENV_VAR,
                target="worker",
                env_var_name=secret_ref.env_var,
            )

    # --- end ---
    await inject_secrets_before_start(worker_config)
    assert (os.environ["DB_PASSWORD"], os.environ["QUEUE_TOKEN"]) == (a, b)


async def test_file_mount_example(in_tmp: Path) -> None:
    value = "-----BEGIN CERTIFICATE-----\n" + distinctive() + "\n-----END CERTIFICATE-----\n"
    await seed(**{"tls-certificate": value})
    vault = SecretVault()
    await vault.initialize()
    etc_secrets = str(in_tmp / "etc" / "secrets")
    # --- SPEC "File Mount Injection", literal but for the folder ---
    # Mount secret as file
    await vault.inject_secret(
        secret_name="tls-certificate",
        injection_type=InjectionType.FILE_MOUNT,
        target="nginx",
        file_path="/etc/secrets/tls.crt".replace("/etc/secrets", etc_secrets),
        file_permissions="0400",  # Read-only owner
    )
    # --- end ---
    path = Path(etc_secrets) / "tls.crt"
    assert path.read_text() == value
    assert path.stat().st_mode & 0o777 == 0o400
    await vault.shutdown()


async def test_template_reference_example(in_tmp: Path) -> None:
    value = distinctive()
    await seed(**{"postgres-password": value})
    # SPEC "Template File (config.yaml)", literal
    Path("config.yaml").write_text(
        "database:\n"
        "  host: postgres.example.com\n"
        "  port: 5432\n"
        "  username: admin\n"
        "  password: {{ POSTGRES_PASSWORD }}\n"
        "  ssl: true\n"
    )
    vault = SecretVault()
    await vault.initialize()
    # --- SPEC "Injection", literal ---
    # Inject secret via template replacement
    await vault.inject_secret(
        secret_name="postgres-password",
        injection_type=InjectionType.TEMPLATE_REFERENCE,
        target="my-app",
        template_pattern="{{ POSTGRES_PASSWORD }}",
    )
    # --- end ---
    # The example names no template: the mapping is recorded on the target, and the target's
    # template is rendered once it is known (here: `secretvault render config.yaml --target`).
    assert not Path("config.injected.yaml").exists()
    out, used = await vault.injection.render_file(Path("config.yaml").absolute(), target="my-app")
    assert out.name == "config.injected.yaml" and used == ["postgres-password"]
    assert yaml.safe_load(out.read_text())["database"] == {
        "host": "postgres.example.com",
        "port": 5432,
        "username": "admin",
        "password": value,
        "ssl": True,
    }
    assert out.stat().st_mode & 0o777 == 0o400
    await vault.shutdown()


async def test_api_reference_example(in_tmp: Path) -> None:
    await seed(**{"openai-api-key": distinctive()})
    vault = SecretVault()
    await vault.initialize()
    # --- SPEC API reference, inject_secret() example, literal ---
    success = await vault.inject_secret(
        secret_name="openai-api-key",
        injection_type=InjectionType.ENV_VAR,
        target="my-app",
        env_var_name="OPENAI_API_KEY",
    )
    # --- end ---
    assert success is True
    await vault.shutdown()
