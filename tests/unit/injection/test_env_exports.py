"""--env specs, .env files with secret:// references, the streaming redactor, and the export
and import formats (round trips with hostile values)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml
from dotenv import dotenv_values
from helpers_inject import distinctive, hostile

from secretvault import InjectionError, SecretType
from secretvault.injection.env import EnvRef, parse_env_spec, read_env_file
from secretvault.injection.exports import export, guess_type, parse_import
from secretvault.injection.process import MASK, Redactor


def test_env_specs() -> None:
    assert parse_env_spec("API_KEY=openai-api-key") == EnvRef("API_KEY", "openai-api-key")
    assert parse_env_spec("X=secret://db.pw#3") == EnvRef("X", "db.pw", 3)
    for bad in ("novalue", "=name", "1X=name", "X=has space", "X-Y=name"):
        with pytest.raises(InjectionError) as err:
            parse_env_spec(bad)
        assert err.value.hint


def test_env_file_references(tmp_path: Path) -> None:
    f = tmp_path / ".env"
    f.write_text(
        "# comment\nexport PLAIN='a b'\nREF=secret://db-password#2\nQ=\"x\\ny\"\n\nU=v # note\n"
    )
    plain, refs = read_env_file(f)
    assert plain == {"PLAIN": "a b", "Q": "x\ny", "U": "v"}
    assert refs == [EnvRef("REF", "db-password", 2)]
    f.write_text("OK=1\nnot a line\n")
    with pytest.raises(InjectionError, match=":2:"):
        read_env_file(f)


def test_redactor_masks_values_split_anywhere() -> None:
    value = distinctive()
    data = f"before {value} middle {value}after\n".encode()
    for cut in range(1, len(data)):
        r = Redactor([value])
        out = r.feed(data[:cut]) + r.feed(data[cut:]) + r.flush()
        assert out == f"before {MASK.decode()} middle {MASK.decode()}after\n".encode(), cut
    # byte by byte, and a value whose prefix is another value
    short = value[:8]
    r = Redactor([value, short])
    out = b"".join(r.feed(bytes([b])) for b in data) + r.flush()
    assert value.encode() not in out and short.encode() not in out
    # a held-back prefix that never completes is released at the end
    r = Redactor([value])
    assert r.feed(value[:5].encode()) == b"" and r.flush() == value[:5].encode()


def test_export_formats_round_trip(tmp_path: Path) -> None:
    values = {"openai-api-key": hostile(), "db.password": distinctive()}
    k8s = yaml.safe_load(export(values, "k8s"))
    assert k8s["kind"] == "Secret" and k8s["metadata"]["name"] == "mahavishnu-secrets"
    assert base64.b64decode(k8s["data"]["openai-api-key"]).decode() == values["openai-api-key"]
    assert json.loads(export(values, "json")) == values
    dot = tmp_path / "x.env"
    dot.write_text(export(values, "dotenv"))
    assert dotenv_values(dot) == {
        "OPENAI_API_KEY": values["openai-api-key"],
        "DB_PASSWORD": values["db.password"],
    }
    with pytest.raises(InjectionError, match="openai-api-key"):
        export(values, "docker-env")
    assert export({"a": "b c"}, "docker-env") == "A=b c\n"
    for fmt in ("k8s", "json", "dotenv"):
        f = tmp_path / f"in-{fmt}"
        f.write_text(export(values, fmt))
        got = parse_import(f)
        if fmt == "dotenv":  # variable names come back as dashed lower-case names
            assert got == {
                "openai-api-key": values["openai-api-key"],
                "db-password": values["db.password"],
            }
        else:
            assert got == values


def test_k8s_string_data_and_bad_base64(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    v = distinctive()
    f.write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  tls.crt: {v}\n"
    )
    assert parse_import(f) == {"tls.crt": v}
    f.write_text("apiVersion: v1\nkind: Secret\ndata:\n  k: '!!notbase64'\n")
    with pytest.raises(InjectionError, match=r"data\.k"):
        parse_import(f)


def test_guess_type() -> None:
    assert guess_type("db-password", "x") == SecretType.DATABASE_PASSWORD
    assert guess_type("x", "-----BEGIN CERTIFICATE-----\n") == SecretType.TLS_CERTIFICATE
    assert guess_type("github-token", "x") == SecretType.OAUTH_TOKEN
    assert guess_type("openai-api-key", "x") == SecretType.API_KEY
    assert guess_type("log-level", "debug") == SecretType.ENVIRONMENT_VARIABLE
