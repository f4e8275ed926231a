"""OpenBao / HashiCorp Vault KV v2 secret store (``default_backend: vault``), through hvac.

The mapping, written down once:

- **Path**: secret ``name`` is the KV v2 secret ``<vault_mount>/<name>`` (``vault kv put
  mahavishnu/openai-api-key value=…`` with ``vault_mount: mahavishnu`` is ``openai-api-key``).
  ``open(create=True)`` enables a missing mount as ``kv-v2``.
- **Value**: under the key ``value``. A secret another tool wrote with one other key is read as
  that key's value; with several keys, as their JSON text. With ``client_side_encryption``
  the value is our envelope (``remote.ENVELOPE_MARKER`` + base64), never plaintext.
- **Versions**: KV v2's own integer versions are ours (version N is KV version N). Every write
  is check-and-set: ``cas=N-1``, so two writers never both create version N; a CAS refusal is
  ``VersionConflictError``.
- **Record and stages**: type, status, metadata, deletion times, our current version number
  and the stage labels live in the secret's ``custom_metadata`` as ``sv:…`` keys
  (``sv:current``, ``sv:previous``, ``sv:pending``; ``sv:by.N`` is who wrote version N;
  ``sv:top`` is the last KV version secretvault wrote). Values longer than the 512-byte limit
  are split over ``key``, ``key#1``, ….
  A KV version written by another tool after ``sv:top`` becomes the current version.
  During a rotation's verify step the pending version is KV's *latest*: a plain ``vault kv
  get`` sees it until the rotation is promoted or rolled back (rolled back = destroyed).
- **Rotations in progress**: the KV secret ``_secretvault/pending`` (a path no secret name can
  take) lists (name, version) of every pending version; it is written under CAS before the
  pending version and cleaned after promotion or rollback, so opening a vault costs one
  request, not one per secret. The token needs read/write on it to rotate.
- **Soft delete**: status PENDING_DELETION in ``custom_metadata`` plus a KV delete of the
  current version (so other tools stop reading it); restore undeletes it. **Purge**: delete the
  metadata and every version. ``max_versions`` destroys unlabelled versions beyond the limit.
- **Auth**: a token (``vault_token``, else ``VAULT_TOKEN``), AppRole (``vault_role_id`` /
  ``vault_secret_id``, else ``VAULT_ROLE_ID``/``VAULT_SECRET_ID``) or Kubernetes
  (``vault_kubernetes_role`` + the service-account JWT file). Tokens from a login are renewed
  before they expire and obtained again when renewal is refused.
- **Resilience**: every request has ``backend_timeout_seconds``; connection failures and
  502/503/504 on reads are retried ``backend_retries`` times with exponential backoff by
  urllib3's ``Retry`` (the SDK's transport). Writes are retried only when the request never
  left (a connection refused); CAS makes a repeated write safe anyway.
- **Errors**: ``_ERRORS`` is the one table from hvac/requests exceptions to ours. Texts carry
  the operation and the path, never a server response body (it could echo a value).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import hvac
import hvac.exceptions as hv
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from secretvault.backends.base import (
    STAGE_CURRENT,
    STAGE_PENDING,
    STAGE_PREVIOUS,
    Check,
    NativeValue,
    SecretFilter,
    StoredVersion,
    StoreFeatures,
)
from secretvault.backends.remote import (
    PREFIX,
    BufferedSession,
    SessionContext,
    conflict,
    decode_payload,
    encode_payload,
    ints,
    record_fields,
    record_from_fields,
    value_from_mapping,
)
from secretvault.crypto.envelope import Envelope
from secretvault.errors import (
    AuthorizationError,
    BackendUnavailableError,
    ConfigurationError,
    InvalidArgumentError,
    SecretNotFoundError,
    SecretVaultError,
    VersionConflictError,
)
from secretvault.models import BackendType, SecretRecord, SecretVersionInfo, secret_id_for

if TYPE_CHECKING:
    from secretvault.config import SecretsConfig

T = TypeVar("T")

_LIMIT = 500  # bytes per custom_metadata value (the server allows 512)
# The mount's index of rotations in progress: a path no secret can take (names have no "/").
_PENDING_INDEX = "_secretvault/pending"
_VAULT_ERRORS_HINT = (
    "check vault_addr and that the server is running (`bao status` / `vault status`)"
)

# (hvac/requests exception, our error, message, hint) — the one mapping of this module. The
# first matching row wins; "{op}" and "{addr}" are filled in. Never the exception's own text.
_ERRORS: tuple[tuple[type[BaseException], type[SecretVaultError], str, str], ...] = (
    (
        requests.exceptions.SSLError,  # before ConnectionError, its base class
        BackendUnavailableError,
        "TLS with Vault at {addr} failed ({op})",
        "set vault_ca_cert to the CA that signed the server's certificate (or check "
        "vault_client_cert / vault_client_key); vault_tls_verify: false only for testing",
    ),
    (
        requests.exceptions.ConnectionError,
        BackendUnavailableError,
        "Vault connection refused at {addr} ({op})",
        _VAULT_ERRORS_HINT,
    ),
    (
        requests.exceptions.Timeout,
        BackendUnavailableError,
        "Vault at {addr} did not answer in time ({op})",
        "check the server's load and network; raise backend_timeout_seconds if it is slow",
    ),
    (
        hv.Forbidden,
        AuthorizationError,
        "Vault denied {op}: permission denied",
        "the token's policies do not allow this path (ask for a policy granting it), or the "
        "token expired or was revoked (`bao token lookup`); `secretvault doctor` tells which",
    ),
    (
        hv.Unauthorized,
        AuthorizationError,
        "Vault refused the credentials ({op})",
        "the token is missing, invalid or expired: set vault_token / VAULT_TOKEN or AppRole",
    ),
    (
        hv.VaultDown,
        BackendUnavailableError,
        "Vault at {addr} is sealed or in maintenance ({op})",
        "unseal the server (`bao operator unseal`) or wait for it",
    ),
    (
        hv.InvalidPath,
        SecretNotFoundError,
        "Vault has no {op}",
        "check vault_mount and the secret name (`vault kv list <mount>`)",
    ),
    (
        hv.InvalidRequest,
        InvalidArgumentError,
        "Vault refused {op} as invalid",
        "check the mount is KV version 2 (`vault secrets enable -path=<mount> kv-v2`)",
    ),
    (
        hv.RateLimitExceeded,
        BackendUnavailableError,
        "Vault rate-limited {op}",
        "retry later, or raise the server's rate limit quota",
    ),
    (
        hv.VaultError,
        BackendUnavailableError,
        "Vault failed {op}",
        "see the server log; " + _VAULT_ERRORS_HINT,
    ),
    (
        requests.exceptions.RequestException,
        BackendUnavailableError,
        "Vault request failed at {addr} ({op})",
        _VAULT_ERRORS_HINT,
    ),
)


def map_error(exc: BaseException, op: str, addr: str) -> SecretVaultError:
    """Our error for an hvac/requests exception (the ``_ERRORS`` table)."""
    if isinstance(exc, hv.InvalidRequest) and "check-and-set" in str(exc):
        return VersionConflictError(
            f"{op}: another writer changed the secret (check-and-set refused)",
            hint="read it again and retry",
        )
    for kind, err, text, hint in _ERRORS:
        if isinstance(exc, kind):
            return err(text.format(op=op, addr=addr), hint=hint)
    return BackendUnavailableError(f"Vault failed {op} ({type(exc).__name__})")


def _when(text: str | None) -> datetime | None:
    """An RFC 3339 time from Vault (nanoseconds trimmed to what Python parses)."""
    if not text:
        return None
    head, _, frac = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(frac or '0')[:6]}+00:00")


def _pack(fields: dict[str, str]) -> dict[str, str]:
    """Split values over the size limit into ``key``, ``key#1``, … ."""
    out: dict[str, str] = {}
    for key, value in fields.items():
        raw = value.encode()
        if len(raw) <= _LIMIT:
            out[key] = value
            continue
        parts, text = [], value
        while text:
            cut = len(text[:_LIMIT].encode()[:_LIMIT].decode(errors="ignore"))
            parts.append(text[:cut])
            text = text[cut:]
        for i, part in enumerate(parts):
            out[key if i == 0 else f"{key}#{i}"] = part
    return out


def _unpack(custom: dict[str, str] | None) -> dict[str, str]:
    """Inverse of ``_pack``."""
    if not custom:
        return {}
    out = {k: v for k, v in custom.items() if "#" not in k}
    for key in out:
        i = 1
        while f"{key}#{i}" in custom:
            out[key] += custom[f"{key}#{i}"]
            i += 1
    return out


class _State:
    """A secret's KV metadata, read as our record's view: stage labels and versions."""

    __slots__ = ("current", "custom", "kv_current", "pending", "previous", "versions")

    def __init__(self, custom: dict[str, str], kv_current: int, versions: dict[str, Any]):
        self.custom = custom
        self.kv_current = kv_current
        self.versions = versions  # "N" -> {created_time, deletion_time, destroyed}
        top = int(custom.get(PREFIX + "top") or 0)
        current = int(custom.get(PREFIX + "current") or 0)
        self.pending = ints(custom.get(PREFIX + "pending"))
        self.previous = int(custom.get(PREFIX + "previous") or 0)
        if kv_current > top and kv_current not in self.pending:
            # Another tool wrote a version after our last one: it is the current value.
            self.previous, current = (current or self.previous), kv_current
        self.current = current or kv_current

    @property
    def version(self) -> int:
        """Our record's version number (the facade's compare-and-set value)."""
        ours = int(self.custom.get(PREFIX + "version") or 0)
        top = int(self.custom.get(PREFIX + "top") or 0)
        return self.current if (not ours or self.kv_current > top) else ours

    def stage(self, version: int) -> str:
        if version in self.pending:
            return STAGE_PENDING
        if version == self.current:
            return STAGE_CURRENT
        if version == self.previous:
            return STAGE_PREVIOUS
        return ""

    def labels(self) -> dict[str, str]:
        """The stage labels as ``sv:`` keys."""
        return {
            PREFIX + "current": str(self.current) if self.current else "",
            PREFIX + "previous": str(self.previous) if self.previous else "",
            PREFIX + "pending": ",".join(map(str, self.pending)),
            # Labels written now account for every KV version up to here (foreign ones too).
            PREFIX + "top": str(self.kv_current),
        }

    def live(self) -> list[int]:
        """Versions not destroyed, newest first."""
        return sorted(
            (int(v) for v, info in self.versions.items() if not info.get("destroyed")),
            reverse=True,
        )


class VaultStore:
    """KV v2 on OpenBao or HashiCorp Vault (module docstring: the mapping)."""

    backend_type = BackendType.VAULT
    features = StoreFeatures(native_encryption=True)

    def __init__(self, config: SecretsConfig) -> None:
        self.config = config
        self.addr = config.vault_addr or os.environ.get("VAULT_ADDR") or "http://127.0.0.1:8200"
        self.mount = config.vault_mount.strip("/")
        self._client: hvac.Client | None = None
        self._names: dict[str, str] = {}  # secret id -> name, learned from every read
        self._renew_at = float("inf")
        self._ttl = 0

    # -- connection -------------------------------------------------------------------------

    @property
    def client(self) -> hvac.Client:
        if self._client is None:
            raise BackendUnavailableError("the vault is not initialized; call initialize() first")
        return self._client

    def _build_client(self) -> hvac.Client:
        cfg = self.config
        retry = Retry(
            total=cfg.backend_retries,
            connect=cfg.backend_retries,
            read=0,
            status=cfg.backend_retries,
            backoff_factor=0.1,
            status_forcelist=(502, 503, 504),
            allowed_methods=frozenset({"GET", "LIST", "HEAD"}),
            raise_on_status=False,
        )
        session = requests.Session()
        adapter = HTTPAdapter(
            max_retries=retry,
            pool_connections=1,
            pool_maxsize=cfg.vault_max_connections,
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        verify: bool | str = cfg.vault_ca_cert or cfg.vault_tls_verify
        cert = (cfg.vault_client_cert, cfg.vault_client_key) if cfg.vault_client_cert else None
        if cert and cert[1] is None:
            cert = None
            session.cert = cfg.vault_client_cert
        return hvac.Client(
            url=self.addr,
            verify=verify,
            cert=cert,
            timeout=cfg.backend_timeout_seconds,
            session=session,
        )

    def _auth_method(self) -> str:
        cfg = self.config
        if cfg.vault_auth_method:
            return cfg.vault_auth_method
        if cfg.vault_token or os.environ.get("VAULT_TOKEN"):
            return "token"
        if cfg.vault_role_id or os.environ.get("VAULT_ROLE_ID"):
            return "approle"
        if cfg.vault_kubernetes_role:
            return "kubernetes"
        raise ConfigurationError(
            "no Vault credentials configured",
            hint="set vault_token (or VAULT_TOKEN), or AppRole (vault_role_id/vault_secret_id "
            "or VAULT_ROLE_ID/VAULT_SECRET_ID), or vault_kubernetes_role",
        )

    def _login(self) -> None:
        """Authenticate the client (blocking; runs in a worker thread)."""
        cfg, client = self.config, self.client
        method = self._auth_method()
        if method == "token":
            token = cfg.vault_token or os.environ.get("VAULT_TOKEN")
            if not token:
                raise ConfigurationError(
                    "vault_auth_method is token but no token is set",
                    hint="set vault_token or VAULT_TOKEN",
                )
            client.token = token
            return
        if method == "approle":
            role_id = cfg.vault_role_id or os.environ.get("VAULT_ROLE_ID")
            secret_id = cfg.vault_secret_id or os.environ.get("VAULT_SECRET_ID")
            if not role_id:
                raise ConfigurationError(
                    "AppRole login needs a role id", hint="set vault_role_id or VAULT_ROLE_ID"
                )
            auth = client.auth.approle.login(
                role_id=role_id, secret_id=secret_id, mount_point=cfg.vault_approle_mount
            )
        else:
            if not cfg.vault_kubernetes_role:
                raise ConfigurationError(
                    "Kubernetes login needs a role", hint="set vault_kubernetes_role"
                )
            try:
                with open(cfg.vault_kubernetes_jwt_path, encoding="utf-8") as fh:
                    jwt = fh.read().strip()
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot read the service-account token {cfg.vault_kubernetes_jwt_path} "
                    f"({exc.strerror})",
                    hint="run inside the pod, or set vault_kubernetes_jwt_path",
                ) from None
            auth = client.auth.kubernetes.login(
                role=cfg.vault_kubernetes_role, jwt=jwt, mount_point=cfg.vault_kubernetes_mount
            )
        self._note_lease(auth.get("auth") or {})

    def _note_lease(self, auth: dict[str, Any]) -> None:
        ttl = int(auth.get("lease_duration") or 0)
        self._ttl = ttl
        # Renew at two thirds of the lease, so a slow call never outlives the token.
        self._renew_at = (
            time.monotonic() + ttl * 2 / 3 if ttl and auth.get("renewable") else (float("inf"))
        )

    def _renew(self) -> None:
        """Renew a login token nearing expiry; log in again when renewal is refused."""
        try:
            self._note_lease(self.client.auth.token.renew_self().get("auth") or {})
        except hv.VaultError:
            self._login()

    async def call(self, op: str, fn: Callable[[], T], *, missing: T | None = None) -> T:
        """Run one blocking hvac call in a worker thread, mapping its errors (``_ERRORS``).
        ``missing``: the result for a 404 instead of ``SecretNotFoundError``."""

        def run() -> T:
            if time.monotonic() >= self._renew_at:
                self._renew()
            return fn()

        try:
            return await asyncio.to_thread(run)
        except hv.InvalidPath:
            if missing is not None:
                return missing
            raise map_error(hv.InvalidPath(), op, self.addr) from None
        except (hv.VaultError, requests.exceptions.RequestException) as exc:
            raise map_error(exc, op, self.addr) from None

    async def open(self, *, create: bool) -> None:
        """Connect and authenticate; with ``create``, enable a missing mount as kv-v2."""
        self._client = self._build_client()
        await self.call("login", self._login)
        if create:
            mounts = await self.call("mount check", self._mounts)
            if f"{self.mount}/" not in mounts:
                await self.call(
                    f"enabling mount {self.mount!r}",
                    lambda: self.client.sys.enable_secrets_engine(
                        "kv", path=self.mount, options={"version": "2"}
                    ),
                )

    def _mounts(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = self.client.sys.list_mounted_secrets_engines()["data"]
            return data
        except hv.Forbidden:
            # A token limited to its paths may not list mounts: assume the mount exists (the
            # first read or write will say if it does not).
            return {f"{self.mount}/": {}}

    async def diagnose(self) -> list[Check]:
        """Reachability (``sys/health``), authentication (``token/lookup-self``) and the
        token's capabilities on the mount (``sys/capabilities-self``), each with its fix."""
        checks: list[Check] = []
        self._client = self._client or self._build_client()
        try:
            health = await self.call("health check", self._health)
        except SecretVaultError as exc:
            return [Check(False, Exception.__str__(exc), exc.hint)]
        if health.get("sealed"):
            return [Check(False, f"Vault at {self.addr} is sealed", "unseal it")]
        checks.append(
            Check(True, f"Vault at {self.addr} answers (version {health.get('version')})")
        )
        try:
            await self.call("login", self._login)
            me = await self.call("token lookup", lambda: self.client.auth.token.lookup_self())
        except AuthorizationError:
            # Every valid token may look itself up: a refusal means the token is bad.
            return [
                *checks,
                Check(
                    False,
                    "Vault rejected the token (invalid, expired or revoked)",
                    "set a valid vault_token / VAULT_TOKEN (check it with `bao token lookup`), "
                    "or configure AppRole / Kubernetes login",
                ),
            ]
        except SecretVaultError as exc:
            return [*checks, Check(False, Exception.__str__(exc), exc.hint)]
        data = me.get("data") or {}
        ttl = data.get("ttl") or 0
        policies = ", ".join(data.get("policies") or []) or "none"
        checks.append(
            Check(
                True,
                f"authenticated ({self._auth_method()}; policies {policies}; ttl "
                f"{'never expires' if not ttl else f'{ttl} s'})",
            )
        )
        paths = {
            f"{self.mount}/data/probe": {"create", "read", "update"},
            f"{self.mount}/metadata/probe": {"read", "update", "delete", "list"},
            f"{self.mount}/data/{_PENDING_INDEX}": {"create", "read", "update"},
        }
        try:
            caps = await self.call(
                "permission probe",
                lambda: self.client.adapter.post(
                    "/v1/sys/capabilities-self", json={"paths": list(paths)}
                ),
            )
        except SecretVaultError as exc:
            return [*checks, Check(False, Exception.__str__(exc), exc.hint)]
        body = caps.get("data", caps) if isinstance(caps, dict) else {}
        missing = []
        for path, need in paths.items():
            have = set(body.get(path) or [])
            if "root" not in have and not need <= have:
                missing.append(f"{path}: {', '.join(sorted(need - have))}")
        if missing:
            checks.append(
                Check(
                    False,
                    "the token lacks capabilities: " + "; ".join(missing),
                    f'grant a policy like: path "{self.mount}/data/*" {{ capabilities = '
                    '["create","read","update"] }} and path "'
                    f'{self.mount}/metadata/*" {{ capabilities = ["read","update","delete",'
                    '"list"] }}',
                )
            )
        else:
            checks.append(Check(True, f"the token may read and write secrets under {self.mount}/"))
        return checks

    def _health(self) -> dict[str, Any]:
        resp = self.client.adapter.get(
            "/v1/sys/health",
            params={"standbyok": "true", "sealedcode": "200", "uninitcode": "200"},
            raise_exception=False,
        )
        data: dict[str, Any] = resp.json() if hasattr(resp, "json") else dict(resp)
        return data

    async def close(self) -> None:
        """Drop the HTTP connections (idempotent)."""
        if self._client is not None:
            self._client.adapter.close()
            self._client = None

    async def exists(self) -> bool:
        """A server-backed store is always there; the key ring lives in the control store."""
        return True

    def session(self) -> SessionContext:
        """A unit of work on the secret role (writes sent at commit)."""
        return SessionContext(VaultSession(self))

    async def generation(self) -> int:
        """KV has no change counter: -1 (nothing is cached)."""
        return -1

    # -- raw KV calls (blocking parts run in worker threads) --------------------------------

    def _kv(self) -> Any:
        return self.client.secrets.kv.v2

    async def read_data(self, name: str, version: int | None = None) -> dict[str, Any] | None:
        """``{data, metadata}`` of one KV version (latest by default); None when the path has
        no version. Deleted or destroyed versions come back with ``data`` None."""
        result: dict[str, Any] = await self.call(
            f"secret {name!r}",
            lambda: self._kv().read_secret_version(
                name, version=version, mount_point=self.mount, raise_on_deleted_version=False
            ),
            missing={},
        )
        return result.get("data") if result else None

    async def state(self, name: str) -> _State | None:
        """The KV metadata of ``name``; None when absent."""
        result: dict[str, Any] = await self.call(
            f"metadata of {name!r}",
            lambda: self._kv().read_secret_metadata(name, mount_point=self.mount),
            missing={},
        )
        if not result:
            return None
        data = result["data"]
        custom = _unpack(data.get("custom_metadata"))
        return _State(custom, int(data.get("current_version") or 0), data.get("versions") or {})

    async def write_metadata(self, name: str, custom: dict[str, str]) -> None:
        """Replace the secret's custom_metadata (empty values dropped)."""
        packed = _pack({k: v for k, v in custom.items() if v})
        await self.call(
            f"metadata write of {name!r}",
            lambda: self._kv().update_metadata(
                name, custom_metadata=packed, mount_point=self.mount
            ),
        )

    async def write_data(self, name: str, text: str, cas: int) -> int:
        """Write a new KV version with check-and-set; returns its version number."""
        result: dict[str, Any] = await self.call(
            f"write of {name!r}",
            lambda: self._kv().create_or_update_secret(
                name, secret={"value": text}, cas=cas, mount_point=self.mount
            ),
        )
        return int(result["data"]["version"])

    async def pending_index(self) -> tuple[set[tuple[str, int]], int]:
        """The (name, version) pairs of rotations in progress, and the index's KV version
        (for check-and-set). A token that may not read it sees none: nothing to recover."""
        try:
            data = await self.read_data(_PENDING_INDEX)
        except AuthorizationError:
            return set(), -1
        if not data or not data.get("data"):
            return set(), int(((data or {}).get("metadata") or {}).get("version") or 0)
        entries = json.loads(value_from_mapping(data["data"]) or "[]")
        return {(str(n), int(v)) for n, v in entries}, int(data["metadata"]["version"])

    async def edit_pending_index(
        self, change: Callable[[set[tuple[str, int]]], set[tuple[str, int]]]
    ) -> None:
        """Read-modify-write the pending index under check-and-set; a concurrent edit makes
        it read again (a few times: rotations of one mount rarely start together)."""
        for _ in range(8):
            entries, version = await self.pending_index()
            if version < 0:
                return  # not readable by this token: see pending_index
            new = change(set(entries))
            if new == entries:
                return
            try:
                await self.write_data(_PENDING_INDEX, json.dumps(sorted(new)), cas=version)
                return
            except VersionConflictError:
                continue
        raise VersionConflictError(
            "the rotation index kept changing under concurrent rotations",
            hint="retry the rotation",
        )

    async def forget_pending(self, name: str, version: int | None) -> None:
        """Remove index entries of ``name`` (one version, or all). Best effort: the change
        itself is done, and a stale entry is skipped by ``pending_versions``."""
        with contextlib.suppress(AuthorizationError, VersionConflictError):
            await self.edit_pending_index(
                lambda entries: {
                    e for e in entries if e[0] != name or (version is not None and e[1] != version)
                }
            )

    async def names(self) -> list[str]:
        """Every secret name under the mount (folders are not ours: skipped)."""
        result: dict[str, Any] = await self.call(
            "listing",
            lambda: self._kv().list_secrets("", mount_point=self.mount),
            missing={},
        )
        keys = (result or {}).get("data", {}).get("keys", [])
        return sorted(k for k in keys if not k.endswith("/"))

    def record(self, name: str, state_custom: dict[str, str], version: int) -> SecretRecord:
        self._names[secret_id_for(name)] = name
        return record_from_fields(name, state_custom, backend=BackendType.VAULT, version=version)

    async def name_of(self, secret_id: str) -> str | None:
        name = self._names.get(secret_id)
        if name is None:
            for candidate in await self.names():
                self._names[secret_id_for(candidate)] = candidate
            name = self._names.get(secret_id)
        return name


def _stored(
    version: int,
    data: dict[str, Any] | None,
    meta: dict[str, Any],
    custom: dict[str, str],
    stage: str,
) -> StoredVersion | None:
    """A StoredVersion from a KV read; None when the version was deleted or destroyed."""
    if not data:
        return None
    payload: Envelope | NativeValue = decode_payload(value_from_mapping(data))
    created = _when(meta.get("created_time")) or datetime.now().astimezone()
    by = custom.get(f"{PREFIX}by.{version}") or "external"
    return StoredVersion(version, payload, created, by, stage)


class VaultSession(BufferedSession):
    """One unit of work on a VaultStore (reads now, writes at commit: ``remote``)."""

    def __init__(self, store: VaultStore) -> None:
        super().__init__("the vault backend", store.config.client_side_encryption)
        self.store = store
        self._seen: dict[str, int] = {}  # KV current version per name, read in this session

    # -- reads ------------------------------------------------------------------------------

    async def read(
        self, name: str, version: int | None = None
    ) -> tuple[SecretRecord, StoredVersion | None] | None:
        """Record and one version; the hot path is one GET (latest data carries the
        custom_metadata)."""
        store = self.store
        latest = await store.read_data(name)
        if latest is None:
            # No readable latest version: absent, or its latest version was destroyed (a
            # dropped pending version) — the metadata says which.
            full = await store.state(name)
            if full is None:
                return None
            latest, state = {}, full
            custom, kv_current, meta = full.custom, full.kv_current, dict[str, Any]()
        else:
            meta = latest.get("metadata") or {}
            custom = _unpack(meta.get("custom_metadata"))
            kv_current = int(meta.get("version") or 0)
            state = _State(custom, kv_current, {})
        record = store.record(name, custom, state.version)
        self._seen[name] = kv_current
        want = version or state.current
        if want == kv_current:
            return record, _stored(want, latest.get("data"), meta, custom, state.stage(want))
        if want > kv_current:
            return record, None
        older = await store.read_data(name, want)
        if older is None:
            return record, None
        omit = older.get("metadata") or {}
        return record, _stored(want, older.get("data"), omit, custom, state.stage(want))

    async def get(self, name: str) -> SecretRecord | None:
        found = await self.read(name, None)
        return found[0] if found else None

    async def get_version(self, secret_id: str, version: int) -> StoredVersion | None:
        name = await self.store.name_of(secret_id)
        if name is None:
            return None
        found = await self.read(name, version)
        return found[1] if found else None

    async def max_version(self, secret_id: str) -> int:
        """KV's current version, as this session last read it when it did (a stale number
        makes the check-and-set write fail, never overwrite)."""
        name = await self.store.name_of(secret_id)
        if name in self._seen:
            return self._seen[name]
        state = await self.store.state(name) if name else None
        return state.kv_current if state else 0

    async def pending_versions(self) -> list[tuple[str, int]]:
        """Pending versions listed in the mount's rotation index and still pending (the
        index is written before a pending version, so a crash leaves at most a stale entry,
        which is skipped). One request when no rotation is in progress."""
        out = []
        entries, _ = await self.store.pending_index()
        for name, version in sorted(entries):
            state = await self.store.state(name)
            if state is not None and version in state.pending:
                self.store._names[secret_id_for(name)] = name
                out.append((secret_id_for(name), version))
        return out

    async def list_records(self, flt: SecretFilter) -> list[SecretRecord]:
        out = []
        for name in await self.store.names():
            state = await self.store.state(name)
            if state is None or not state.live():
                continue
            record = self.store.record(name, state.custom, state.version)
            if flt.matches(record):
                out.append(record)
        return out

    async def versions(self, secret_id: str) -> list[SecretVersionInfo]:
        name = await self.store.name_of(secret_id)
        state = await self.store.state(name) if name else None
        if state is None:
            return []
        return [
            SecretVersionInfo(
                version=v,
                created_at=_when(state.versions[str(v)].get("created_time"))
                or datetime.now().astimezone(),
                created_by=state.custom.get(f"{PREFIX}by.{v}") or "external",
                stage=state.stage(v),
            )
            for v in state.live()
        ]

    async def secret_name(self, secret_id: str) -> str | None:
        return await self.store.name_of(secret_id)

    # -- writes (queued; sent at commit) ----------------------------------------------------

    async def create(self, record: SecretRecord, version: StoredVersion) -> None:
        snapshot = record.model_copy(deep=True)
        text = encode_payload(version.payload)

        async def write() -> None:
            store = self.store
            n = await store.write_data(snapshot.name, text, cas=0)
            custom = record_fields(snapshot)
            custom.update(
                {
                    PREFIX + "top": str(n),
                    PREFIX + "current": str(n) if version.stage == STAGE_CURRENT else "",
                    PREFIX + "pending": str(n) if version.stage == STAGE_PENDING else "",
                    f"{PREFIX}by.{n}": version.created_by,
                }
            )
            await store.write_metadata(snapshot.name, custom)
            store._names[snapshot.id] = snapshot.name

        self.queue(write)

    async def add_version(
        self, record: SecretRecord, version: StoredVersion, max_versions: int, *, cas: int
    ) -> None:
        snapshot = record.model_copy(deep=True)
        text = encode_payload(version.payload)

        async def write() -> None:
            store, name = self.store, snapshot.name
            state = await store.state(name)
            if state is None or state.version != cas:
                raise conflict(name, state.version if state else None, cas)
            if version.stage == STAGE_PENDING:
                entry = (name, version.version)
                await store.edit_pending_index(lambda entries: entries | {entry})
            n = await store.write_data(name, text, cas=version.version - 1)
            if version.stage == STAGE_CURRENT:
                state.previous, state.current = state.current, n
            else:
                state.pending.append(n)
            custom = self._keep(state.custom)
            custom.update(record_fields(snapshot))
            custom.update(state.labels())
            custom[PREFIX + "top"] = str(n)
            custom[f"{PREFIX}by.{n}"] = version.created_by
            if max_versions:
                state.versions[str(n)] = {}
                old = [v for v in state.live() if v <= n - max_versions and not state.stage(v)]
                if old:
                    await store.call(
                        f"pruning old versions of {name!r}",
                        lambda: store._kv().destroy_secret_versions(
                            name, old, mount_point=store.mount
                        ),
                    )
                    for v in old:
                        custom.pop(f"{PREFIX}by.{v}", None)
            await store.write_metadata(name, custom)

        self.queue(write)

    @staticmethod
    def _keep(custom: dict[str, str]) -> dict[str, str]:
        """Keys to carry over into a metadata rewrite: foreign keys and per-version authors
        (our record fields and labels are written afresh)."""
        return {
            k: v
            for k, v in custom.items()
            if not k.startswith(PREFIX) or k.startswith(PREFIX + "by.")
        }

    async def update(self, record: SecretRecord) -> None:
        snapshot = record.model_copy(deep=True)

        async def write() -> None:
            store, name = self.store, snapshot.name
            state = await store.state(name)
            if state is None:
                raise SecretNotFoundError(f"secret {name!r} not found")
            was = state.custom.get(PREFIX + "status")
            now = snapshot.status.value
            deleting = "pending_deletion"
            if now == deleting and was != deleting and state.current:
                await store.call(
                    f"soft delete of {name!r}",
                    lambda: store._kv().delete_secret_versions(
                        name, [state.current], mount_point=store.mount
                    ),
                )
            elif was == deleting and now != deleting and state.current:
                await store.call(
                    f"restore of {name!r}",
                    lambda: store._kv().undelete_secret_versions(
                        name, [state.current], mount_point=store.mount
                    ),
                )
            custom = self._keep(state.custom)
            custom.update(record_fields(snapshot))
            custom.update(state.labels())
            await store.write_metadata(name, custom)

        self.queue(write)

    async def set_stage(self, secret_id: str, version: int, stage: str) -> None:
        async def write() -> None:
            store = self.store
            name = await store.name_of(secret_id)
            state = await store.state(name) if name else None
            if name is None or state is None:
                return
            if version in state.pending:
                state.pending.remove(version)
            if stage == STAGE_CURRENT:
                state.previous, state.current = state.current, version
            elif stage == STAGE_PENDING:
                state.pending.append(version)
            custom = dict(state.custom)
            custom.update(state.labels())
            await store.write_metadata(name, custom)
            if stage != STAGE_PENDING:
                await store.forget_pending(name, version)

        self.queue(write)

    async def drop_version(self, secret_id: str, version: int) -> None:
        async def write() -> None:
            store = self.store
            name = await store.name_of(secret_id)
            state = await store.state(name) if name else None
            if name is None or state is None or version not in state.pending:
                return  # only a pending version is ever dropped
            await store.call(
                f"dropping version {version} of {name!r}",
                lambda: store._kv().destroy_secret_versions(
                    name, [version], mount_point=store.mount
                ),
            )
            state.pending.remove(version)
            custom = dict(state.custom)
            custom.update(state.labels())
            custom.pop(f"{PREFIX}by.{version}", None)
            await store.write_metadata(name, custom)
            await store.forget_pending(name, version)

        self.queue(write)

    async def purge(self, secret_id: str) -> None:
        async def write() -> None:
            store = self.store
            name = await store.name_of(secret_id)
            if name is None:
                return
            await store.call(
                f"purge of {name!r}",
                lambda: store._kv().delete_metadata_and_all_versions(name, mount_point=store.mount),
            )
            await store.forget_pending(name, None)

        self.queue(write)


def vault_store(config: SecretsConfig) -> VaultStore:
    """The registry's factory for ``default_backend: vault``."""
    return VaultStore(config)


if TYPE_CHECKING:
    # mypy proves the store and its session fill their roles (base.py's Protocols).
    from secretvault.backends.base import DiagnosableStore, SecretSession, SecretStore

    _as_store: type[SecretStore] = VaultStore
    _as_session: type[SecretSession] = VaultSession
    _as_diagnosable: type[DiagnosableStore] = VaultStore
