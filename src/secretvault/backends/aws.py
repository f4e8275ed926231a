"""AWS Secrets Manager secret store (``default_backend: aws_secrets_manager``), through boto3.

boto3 is synchronous; each call runs in a worker thread (``asyncio.to_thread``). aioboto3 is
not used: it pins botocore to a narrow range and pip then backtracks it to an ancient release.

The mapping, written down once:

- **Name**: secret ``name`` is the AWS secret ``<aws_secret_prefix><name>`` (prefix default
  ``mahavishnu/``: ``aws secretsmanager create-secret --name mahavishnu/openai-api-key`` is
  ``openai-api-key``). Names under the prefix that contain a further ``/`` are not listed.
- **Value**: ``SecretString`` as it is (JSON written by another tool is returned as that text;
  a binary secret as its base64). With ``client_side_encryption`` it is our envelope
  (``remote.ENVELOPE_MARKER`` + base64).
- **Versions**: our version N is the AWS version whose id (the ``ClientRequestToken`` we write
  it with) is ``sv-<N, 10 digits>-<hash of the name>``, so a number maps to a version id with no
  lookup, and a second writer of version N with another value is refused by AWS itself
  (``ResourceExistsException`` → ``VersionConflictError``). The facade's compare-and-set value
  is checked against a fresh ``DescribeSecret`` before the write. A version another tool wrote
  (a random id) that holds ``AWSCURRENT`` is our highest version + 1. AWS cannot delete one
  version: a dropped pending version is listed in the tag ``sv:dropped``, and ``max_versions``
  raises the tag ``sv:floor`` under which unlabelled versions are no longer ours (AWS deprecates
  unlabelled versions itself).
- **Stages**: ``AWSCURRENT`` / ``AWSPREVIOUS`` / ``AWSPENDING`` are our current / previous /
  pending. Promotion moves ``AWSCURRENT`` (AWS moves ``AWSPREVIOUS`` itself). Reads always pass
  ``VersionId`` (moto does not follow a moved ``AWSCURRENT`` otherwise).
- **Record**: the description is the AWS description; type, status, service, environment,
  dates, our version number and deletion times are ``sv:…`` tags; each user tag ``t`` is the tag
  ``tag:t``; ``sv:by:N`` is who wrote version N (AWS allows 50 tags: user tags + ~14 of ours
  + one per kept version).
- **Soft delete**: tags first (a secret marked for deletion cannot be tagged), then
  ``DeleteSecret`` with the recovery window (``recovery_window_days`` clamped to AWS's 7–30);
  restore = ``RestoreSecret``, then tags. **Purge** = ``ForceDeleteWithoutRecovery`` (a secret
  pending deletion is restored first: AWS refuses to force-delete it otherwise).
- **Credentials and endpoint**: the standard chain (environment, profiles, instance roles,
  ``AWS_ENDPOINT_URL``) unless ``aws_access_key_id``/``aws_secret_access_key``,
  ``aws_region`` and ``aws_endpoint_url`` are set.
- **Resilience**: ``backend_timeout_seconds`` for connect and read; botocore's "standard"
  retry mode retries throttling and transient errors ``backend_retries`` times with jittered
  exponential backoff.
- **Errors**: ``_CODES`` and ``_EXCEPTIONS`` are the one table from botocore to ours; texts
  carry the operation and the name, never a response body.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
import botocore.exceptions as bx
from botocore.config import Config

from secretvault.backends.base import (
    STAGE_CURRENT,
    STAGE_PENDING,
    STAGE_PREVIOUS,
    Check,
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
)
from secretvault.errors import (
    AuthorizationError,
    BackendUnavailableError,
    ConfigurationError,
    InvalidArgumentError,
    SecretNotFoundError,
    SecretPendingDeletionError,
    SecretVaultError,
    VersionConflictError,
)
from secretvault.models import BackendType, SecretRecord, SecretVersionInfo, secret_id_for

if TYPE_CHECKING:
    from secretvault.config import SecretsConfig

T = TypeVar("T")

CURRENT, PREVIOUS, PENDING = "AWSCURRENT", "AWSPREVIOUS", "AWSPENDING"
_USER_TAG = "tag:"
# Tags a record rewrite carries over: per-version authors, the prune floor, dropped versions.
_KEPT = (PREFIX + "by:", PREFIX + "floor", PREFIX + "dropped")
_CREDENTIALS_HINT = (
    "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or aws_access_key_id/aws_secret_access_key), "
    "run `aws configure`, or use an instance role; check with `aws sts get-caller-identity`"
)

# botocore error code -> (our error, message, hint): the one mapping of this module, with
# _EXCEPTIONS for errors raised before a response exists. "{op}" is filled in.
_CODES: dict[str, tuple[type[SecretVaultError], str, str]] = {
    "ResourceNotFoundException": (
        SecretNotFoundError,
        "AWS Secrets Manager has no {op}",
        "check aws_secret_prefix and the name (`aws secretsmanager list-secrets`)",
    ),
    "AccessDeniedException": (
        AuthorizationError,
        "AWS denied {op}: access denied",
        "the IAM policy must allow this secretsmanager action on the secret's ARN",
    ),
    "UnrecognizedClientException": (
        AuthorizationError,
        "AWS rejected the credentials ({op})",
        _CREDENTIALS_HINT,
    ),
    "InvalidClientTokenId": (
        AuthorizationError,
        "AWS rejected the credentials ({op})",
        _CREDENTIALS_HINT,
    ),
    "ExpiredTokenException": (
        AuthorizationError,
        "the AWS session token expired ({op})",
        "refresh the credentials (aws sso login / a new session token)",
    ),
    "ResourceExistsException": (
        VersionConflictError,
        "{op}: another writer created this version or secret first",
        "read it again and retry",
    ),
    "InvalidRequestException": (
        SecretPendingDeletionError,
        "AWS refused {op}: the secret is scheduled for deletion",
        "restore it first (`secretvault restore NAME`)",
    ),
    "InvalidParameterException": (
        InvalidArgumentError,
        "AWS refused {op}: invalid parameter",
        "tags allow letters, digits, spaces and + - = . _ : / @ only",
    ),
    "ValidationException": (
        InvalidArgumentError,
        "AWS refused {op}: invalid parameter",
        "check the name and tags",
    ),
    "LimitExceededException": (
        InvalidArgumentError,
        "AWS refused {op}: a limit was reached (tags, versions or labels)",
        "lower max_versions or the number of tags",
    ),
    "ThrottlingException": (
        BackendUnavailableError,
        "AWS throttled {op}",
        "retry later; raise backend_retries for bursts",
    ),
    "InternalServiceError": (
        BackendUnavailableError,
        "AWS Secrets Manager failed {op}",
        "retry later (AWS status page)",
    ),
}

_EXCEPTIONS: tuple[tuple[type[BaseException], type[SecretVaultError], str, str], ...] = (
    (
        bx.NoCredentialsError,
        ConfigurationError,
        "AWS credentials not found ({op})",
        _CREDENTIALS_HINT,
    ),
    (
        bx.PartialCredentialsError,
        ConfigurationError,
        "AWS credentials are incomplete ({op})",
        _CREDENTIALS_HINT,
    ),
    (
        bx.NoRegionError,
        ConfigurationError,
        "no AWS region configured ({op})",
        "set aws_region or AWS_REGION / AWS_DEFAULT_REGION",
    ),
    (
        bx.EndpointConnectionError,
        BackendUnavailableError,
        "cannot reach AWS Secrets Manager at {addr} ({op})",
        "check the network, aws_region and aws_endpoint_url / AWS_ENDPOINT_URL",
    ),
    (
        bx.ConnectTimeoutError,
        BackendUnavailableError,
        "AWS Secrets Manager at {addr} did not answer in time ({op})",
        "check the network; raise backend_timeout_seconds if it is slow",
    ),
    (
        bx.ReadTimeoutError,
        BackendUnavailableError,
        "AWS Secrets Manager at {addr} did not answer in time ({op})",
        "check the network; raise backend_timeout_seconds if it is slow",
    ),
    (
        bx.BotoCoreError,
        BackendUnavailableError,
        "AWS request failed ({op})",
        "check the network and settings; run `secretvault doctor`",
    ),
)


class _NoWireBodies(logging.Filter):
    """Drops botocore's DEBUG records of request parameters and response bodies: they hold
    ``SecretString`` in clear (a DEBUG log must never carry a value)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


# botocore.endpoint logs each request's parameters, botocore.parsers each response body.
for _logger in ("botocore.endpoint", "botocore.parsers"):
    logging.getLogger(_logger).addFilter(_NoWireBodies())


def map_error(exc: BaseException, op: str, addr: str) -> SecretVaultError:
    """Our error for a botocore exception (``_CODES`` / ``_EXCEPTIONS``)."""
    if isinstance(exc, bx.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        row = _CODES.get(code)
        if row is not None:
            err, text, hint = row
            return err(text.format(op=op, addr=addr), hint=hint)
        if status == 403:
            return AuthorizationError(
                f"AWS denied {op} ({code})", hint=_CODES["AccessDeniedException"][2]
            )
        return BackendUnavailableError(f"AWS Secrets Manager failed {op} ({code or status})")
    for kind, err, text, hint in _EXCEPTIONS:
        if isinstance(exc, kind):
            return err(text.format(op=op, addr=addr), hint=hint)
    return BackendUnavailableError(f"AWS Secrets Manager failed {op} ({type(exc).__name__})")


def _code(exc: bx.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _number(vid: str) -> int:
    """Our version number encoded in a version id (``token_for``); 0 for another tool's."""
    if vid.startswith("sv-") and vid[3:13].isdigit():
        return int(vid[3:13])
    return 0


class _State:
    """A secret's DescribeSecret/ListSecrets entry, read as our record's view."""

    __slots__ = ("by_id", "deleted", "description", "dropped", "floor", "name", "numbers", "tags")

    def __init__(self, name: str, entry: dict[str, Any]) -> None:
        self.name = name
        self.tags = {t["Key"]: t.get("Value", "") for t in entry.get("Tags") or []}
        self.description = entry.get("Description") or ""
        self.deleted = entry.get("DeletedDate") is not None
        self.dropped = set(ints(self.tags.get(PREFIX + "dropped")))
        self.floor = int(self.tags.get(PREFIX + "floor") or 0)
        # version id -> staging labels (labelled versions only), and our number -> version id
        self.by_id: dict[str, list[str]] = dict(
            entry.get("VersionIdsToStages") or entry.get("SecretVersionsToStages") or {}
        )
        self.numbers: dict[int, str] = {}
        self.add_ids(self.by_id)

    def add_ids(self, ids: Any) -> None:
        """Number the version ids ``ids`` (ours by their id; another tool's current one as
        the newest)."""
        for vid in ids:
            n = _number(vid)
            if n:
                self.numbers[n] = vid
        current = self.holding(CURRENT)
        if current is not None and not _number(current):
            top = max((k for k, v in self.numbers.items() if v != current), default=0)
            self.numbers = {k: v for k, v in self.numbers.items() if v != current}
            self.numbers[top + 1] = current

    def holding(self, label: str) -> str | None:
        """The version id holding ``label``."""
        return next((vid for vid, labels in self.by_id.items() if label in labels), None)

    def number(self, vid: str | None) -> int:
        return next((n for n, v in self.numbers.items() if v == vid), 0)

    @property
    def current(self) -> int:
        return self.number(self.holding(CURRENT))

    @property
    def version(self) -> int:
        """Our record's version number (the facade's compare-and-set value)."""
        current = self.holding(CURRENT)
        if current is not None and not _number(current):
            return self.number(current)  # a foreign write is the newest state
        ours = int(self.tags.get(PREFIX + "version") or 0)
        return ours or self.current

    def stage(self, n: int) -> str:
        labels = self.by_id.get(self.numbers.get(n, ""), [])
        if PENDING in labels:
            return STAGE_PENDING
        if CURRENT in labels:
            return STAGE_CURRENT
        if PREVIOUS in labels:
            return STAGE_PREVIOUS
        return ""

    def kept(self, n: int) -> bool:
        """True when version ``n`` is still ours to show (not dropped, not pruned)."""
        return n not in self.dropped and (n >= self.floor or bool(self.stage(n)))

    def record(self) -> SecretRecord:
        fields = {k: v for k, v in self.tags.items() if k.startswith(PREFIX)}
        user_tags = sorted(k[len(_USER_TAG) :] for k in self.tags if k.startswith(_USER_TAG))
        return record_from_fields(
            self.name,
            fields,
            backend=BackendType.AWS_SECRETS_MANAGER,
            version=self.version,
            description=self.description,
            tags=user_tags,
        )


def _tags_for(record: SecretRecord) -> dict[str, str]:
    tags = record_fields(record, with_description=False)
    for tag in record.metadata.tags:
        tags[_USER_TAG + tag] = ""
    return tags


class AwsStore:
    """AWS Secrets Manager (module docstring: the mapping)."""

    backend_type = BackendType.AWS_SECRETS_MANAGER
    features = StoreFeatures(native_encryption=True)

    def __init__(self, config: SecretsConfig) -> None:
        self.config = config
        self.prefix = config.aws_secret_prefix
        self.endpoint = config.aws_endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
        self._client: Any = None
        self._names: dict[str, str] = {}

    @property
    def addr(self) -> str:
        region = self._client.meta.region_name if self._client is not None else "?"
        return self.endpoint or f"the {region} endpoint"

    @property
    def client(self) -> Any:
        if self._client is None:
            raise BackendUnavailableError("the vault is not initialized; call initialize() first")
        return self._client

    async def open(self, *, create: bool) -> None:
        """Build the client (credentials are checked by the first call)."""
        cfg = self.config
        try:
            session = boto3.session.Session(
                aws_access_key_id=cfg.aws_access_key_id,
                aws_secret_access_key=cfg.aws_secret_access_key,
                aws_session_token=cfg.aws_session_token,
                region_name=cfg.aws_region,
            )
            self._client = session.client(
                "secretsmanager",
                endpoint_url=self.endpoint,
                config=Config(
                    connect_timeout=cfg.backend_timeout_seconds,
                    read_timeout=cfg.backend_timeout_seconds,
                    retries={"max_attempts": cfg.backend_retries + 1, "mode": "standard"},
                    max_pool_connections=cfg.vault_max_connections,
                ),
            )
        except bx.BotoCoreError as exc:
            raise map_error(exc, "client set-up", self.endpoint or "AWS") from None

    async def diagnose(self) -> list[Check]:
        """Credentials (the standard chain), reachability and authentication
        (``ListSecrets``), and a read probe under the prefix, each with its fix."""
        try:
            if self._client is None:
                await self.open(create=False)
            creds = await asyncio.to_thread(
                lambda: self.client._request_signer._credentials  # what the client signs with
            )
        except SecretVaultError as exc:
            return [Check(False, Exception.__str__(exc), exc.hint)]
        if creds is None:
            return [Check(False, "AWS credentials not found", _CREDENTIALS_HINT)]
        checks = [Check(True, f"AWS credentials found (region {self.client.meta.region_name})")]
        probe = self.full("secretvault-doctor-probe")
        try:
            await self.call(
                "listing",
                lambda: self.client.list_secrets(
                    MaxResults=1, Filters=[{"Key": "name", "Values": [self.prefix or "/"]}]
                ),
            )
            checks.append(Check(True, f"AWS Secrets Manager at {self.addr} accepts them"))
            await self.call(
                "permission probe",
                lambda: self.client.describe_secret(SecretId=probe),
                missing={"ok": True},
            )
        except SecretVaultError as exc:
            return [*checks, Check(False, Exception.__str__(exc), exc.hint)]
        checks.append(Check(True, f"secrets under {self.prefix!r} may be read"))
        return checks

    async def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def exists(self) -> bool:
        """A server-backed store is always there; the key ring lives in the control store."""
        return True

    def session(self) -> SessionContext:
        return SessionContext(AwsSession(self))

    async def generation(self) -> int:
        return -1

    # -- calls -----------------------------------------------------------------------------

    async def call(self, op: str, fn: Callable[[], T], *, missing: T | None = None) -> T:
        """One blocking boto3 call in a worker thread, errors mapped; ``missing`` is the
        result for ResourceNotFoundException instead of an error."""
        try:
            return await asyncio.to_thread(fn)
        except bx.ClientError as exc:
            if missing is not None and _code(exc) == "ResourceNotFoundException":
                return missing
            raise map_error(exc, op, self.addr) from None
        except bx.BotoCoreError as exc:
            raise map_error(exc, op, self.addr) from None

    def full(self, name: str) -> str:
        return self.prefix + name

    async def state(self, name: str) -> _State | None:
        entry: dict[str, Any] = await self.call(
            f"secret {name!r}",
            lambda: self.client.describe_secret(SecretId=self.full(name)),
            missing={},
        )
        if not entry:
            return None
        self._names[secret_id_for(name)] = name
        return _State(name, entry)

    async def states(self) -> list[_State]:
        """Every secret under the prefix, pending deletion included, by name."""
        out: list[_State] = []

        def fetch() -> list[dict[str, Any]]:
            pages = self.client.get_paginator("list_secrets").paginate(
                IncludePlannedDeletion=True,
                Filters=[{"Key": "name", "Values": [self.prefix]}] if self.prefix else [],
            )
            return [entry for page in pages for entry in page.get("SecretList", [])]

        for entry in await self.call("listing", fetch):
            full = entry.get("Name", "")
            if not full.startswith(self.prefix):
                continue
            name = full[len(self.prefix) :]
            if not name or "/" in name:
                continue
            self._names[secret_id_for(name)] = name
            out.append(_State(name, entry))
        return sorted(out, key=lambda s: s.name)

    async def value(self, name: str, **which: str) -> tuple[str, dict[str, Any]] | None:
        """(value text, response) of one version; None when that version does not exist."""
        resp: dict[str, Any] = await self.call(
            f"secret {name!r}",
            lambda: self.client.get_secret_value(SecretId=self.full(name), **which),
            missing={},
        )
        if not resp:
            return None
        text = resp.get("SecretString")
        if text is None:
            text = base64.b64encode(resp.get("SecretBinary") or b"").decode()
        return text, resp

    async def state_of(self, secret_id: str) -> _State | None:
        """The state of the secret with this id; None when absent."""
        name = await self.name_of(secret_id)
        return await self.state(name) if name else None

    async def name_of(self, secret_id: str) -> str | None:
        if secret_id not in self._names:
            await self.states()
        return self._names.get(secret_id)

    async def move_label(
        self, name: str, label: str, to: str | None = None, remove: str | None = None
    ) -> None:
        args: dict[str, Any] = {"SecretId": self.full(name), "VersionStage": label}
        if to:
            args["MoveToVersionId"] = to
        if remove:
            args["RemoveFromVersionId"] = remove
        await self.call(
            f"stage {label} of {name!r}",
            lambda: self.client.update_secret_version_stage(**args),
        )

    async def write_tags(
        self,
        state: _State,
        record: SecretRecord,
        extra: dict[str, str] | None = None,
        drop: list[str] | None = None,
    ) -> None:
        """Make the secret's ``sv:``/``tag:`` tags and description those of ``record``;
        per-version ``sv:by:`` tags are kept unless in ``drop``, ``extra`` are added."""
        name, want = state.name, _tags_for(record)
        for key, value in state.tags.items():
            if key.startswith(_KEPT) and key not in (drop or []):
                want[key] = value
        want.update(extra or {})
        stale = [k for k in state.tags if (k.startswith((PREFIX, _USER_TAG))) and k not in want]
        changed = {k: v for k, v in want.items() if state.tags.get(k) != v}
        sid = self.full(name)
        if changed:
            await self.call(
                f"tagging {name!r}",
                lambda: self.client.tag_resource(
                    SecretId=sid, Tags=[{"Key": k, "Value": v} for k, v in changed.items()]
                ),
            )
        if stale:
            await self.call(
                f"untagging {name!r}",
                lambda: self.client.untag_resource(SecretId=sid, TagKeys=stale),
            )
        if record.metadata.description != state.description:
            await self.call(
                f"description of {name!r}",
                lambda: self.client.update_secret(
                    SecretId=sid, Description=record.metadata.description
                ),
            )


def token_for(name: str, version: int) -> str:
    """The ClientRequestToken (and so the VersionId) of our version ``version`` of ``name``:
    the number is readable back from the id (``_number``); the name's hash keeps ids of
    equal numbers apart (AWS wants 32–64 characters)."""
    return f"sv-{version:010d}-{hashlib.sha256(name.encode()).hexdigest()[:32]}"


class AwsSession(BufferedSession):
    """One unit of work on an AwsStore (reads now, writes at commit: ``remote``)."""

    def __init__(self, store: AwsStore) -> None:
        super().__init__("AWS Secrets Manager", store.config.client_side_encryption)
        self.store = store
        self._seen: dict[str, _State] = {}  # states read in this session, by name

    async def read(
        self, name: str, version: int | None = None
    ) -> tuple[SecretRecord, StoredVersion | None] | None:
        store = self.store
        current: tuple[str, dict[str, Any]] | None = None
        if version is None:
            # The hot path: the record (DescribeSecret) and the current value in parallel,
            # so a read costs one round trip, not two.
            state, current = await asyncio.gather(store.state(name), self._current_value(name))
        else:
            state = await store.state(name)
        if state is None:
            return None
        self._seen[name] = state
        record = state.record()
        if state.deleted:
            return record, None  # AWS refuses to read it: the facade says "pending deletion"
        n = version or state.current
        if not n or not state.kept(n):
            return record, None
        vid = state.numbers.get(n) or token_for(name, n)
        got = current
        if got is None or got[1].get("VersionId") != vid:
            # A write landed between the two calls (or a version was asked for): read the
            # version the record names.
            got = await store.value(name, VersionId=vid)
        if got is None:
            return record, None
        text, resp = got
        created = resp.get("CreatedDate") or datetime.now(UTC)
        by = state.tags.get(f"{PREFIX}by:{n}") or "external"
        return record, StoredVersion(n, decode_payload(text), created, by, state.stage(n))

    async def _current_value(self, name: str) -> tuple[str, dict[str, Any]] | None:
        """The AWSCURRENT value, or None when there is none to read (absent, or scheduled
        for deletion: DescribeSecret, run alongside, tells which)."""
        try:
            return await self.store.value(name, VersionStage=CURRENT)
        except SecretPendingDeletionError:
            return None

    async def get(self, name: str) -> SecretRecord | None:
        state = await self.store.state(name)
        if state is None:
            return None
        self._seen[name] = state
        return state.record()

    async def get_version(self, secret_id: str, version: int) -> StoredVersion | None:
        name = await self.store.name_of(secret_id)
        found = await self.read(name, version) if name else None
        return found[1] if found else None

    async def _all_versions(self, state: _State) -> list[dict[str, Any]]:
        store = self.store
        listed = await store.call(
            f"versions of {state.name!r}",
            lambda: store.client.list_secret_version_ids(
                SecretId=store.full(state.name), MaxResults=100, IncludeDeprecated=True
            ),
        )
        versions: list[dict[str, Any]] = listed.get("Versions", [])
        state.add_ids(v["VersionId"] for v in versions)
        return versions

    async def max_version(self, secret_id: str) -> int:
        """Every version counts, dropped ones too (AWS never forgets a version id): the
        newest is labelled (current or pending) or listed in ``sv:dropped``. The state this
        session already read will do: a stale number makes the write fail, not overwrite."""
        name = self.store._names.get(secret_id)
        state = self._seen.get(name) if name else None
        if state is None:
            state = await self.store.state_of(secret_id)
        if state is None:
            return 0
        return max([*state.numbers, *state.dropped], default=0)

    async def pending_versions(self) -> list[tuple[str, int]]:
        out = []
        for state in await self.store.states():
            vid = state.holding(PENDING)
            if vid is not None and state.number(vid):
                out.append((secret_id_for(state.name), state.number(vid)))
        return out

    async def list_records(self, flt: SecretFilter) -> list[SecretRecord]:
        return [r for r in (s.record() for s in await self.store.states()) if flt.matches(r)]

    async def versions(self, secret_id: str) -> list[SecretVersionInfo]:
        state = await self.store.state_of(secret_id)
        if state is None:
            return []
        created = {v["VersionId"]: v.get("CreatedDate") for v in await self._all_versions(state)}
        return [
            SecretVersionInfo(
                version=n,
                created_at=created.get(vid) or datetime.now(UTC),
                created_by=state.tags.get(f"{PREFIX}by:{n}") or "external",
                stage=state.stage(n),
            )
            for n, vid in sorted(state.numbers.items(), reverse=True)
            if state.kept(n)
        ]

    async def secret_name(self, secret_id: str) -> str | None:
        return await self.store.name_of(secret_id)

    # -- writes (queued; sent at commit) ----------------------------------------------------

    async def create(self, record: SecretRecord, version: StoredVersion) -> None:
        snapshot = record.model_copy(deep=True)
        text = encode_payload(version.payload)

        async def write() -> None:
            store, name = self.store, snapshot.name
            tags = _tags_for(snapshot)
            tags[f"{PREFIX}by:{version.version}"] = version.created_by
            await store.call(
                f"creating {name!r}",
                lambda: store.client.create_secret(
                    Name=store.full(name),
                    SecretString=text,
                    Description=snapshot.metadata.description,
                    Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
                    ClientRequestToken=token_for(name, version.version),
                ),
            )
            store._names[snapshot.id] = name

        self.queue(write)

    async def add_version(
        self, record: SecretRecord, version: StoredVersion, max_versions: int, *, cas: int
    ) -> None:
        snapshot = record.model_copy(deep=True)
        text = encode_payload(version.payload)

        async def write() -> None:
            store, name, n = self.store, snapshot.name, version.version
            state = await store.state(name)
            if state is None or state.version != cas:
                raise conflict(name, state.version if state else None, cas)
            stage = CURRENT if version.stage == STAGE_CURRENT else PENDING
            await store.call(
                f"writing version {n} of {name!r}",
                lambda: store.client.put_secret_value(
                    SecretId=store.full(name),
                    SecretString=text,
                    ClientRequestToken=token_for(name, n),
                    VersionStages=[stage],
                ),
            )
            extra = {f"{PREFIX}by:{n}": version.created_by}
            drop: list[str] = []
            if max_versions and n - max_versions + 1 > state.floor:
                extra[PREFIX + "floor"] = str(n - max_versions + 1)
                drop = [f"{PREFIX}by:{k}" for k in range(state.floor, n - max_versions + 1)]
            await store.write_tags(state, snapshot, extra=extra, drop=drop)

        self.queue(write)

    async def update(self, record: SecretRecord) -> None:
        snapshot = record.model_copy(deep=True)
        days = min(max(self.store.config.recovery_window_days, 7), 30)

        async def write() -> None:
            store, name = self.store, snapshot.name
            state = await store.state(name)
            if state is None:
                raise SecretNotFoundError(f"secret {name!r} not found")
            deleting = snapshot.status.value == "pending_deletion"
            if state.deleted and not deleting:
                await store.call(
                    f"restore of {name!r}",
                    lambda: store.client.restore_secret(SecretId=store.full(name)),
                )
                state.deleted = False
            if not state.deleted:
                await store.write_tags(state, snapshot)
            if deleting and not state.deleted:
                await store.call(
                    f"soft delete of {name!r}",
                    lambda: store.client.delete_secret(
                        SecretId=store.full(name), RecoveryWindowInDays=days
                    ),
                )

        self.queue(write)

    async def set_stage(self, secret_id: str, version: int, stage: str) -> None:
        async def write() -> None:
            store = self.store
            state = await store.state_of(secret_id)
            if state is None:
                return
            name = state.name
            vid = state.numbers.get(version) or token_for(name, version)
            if stage == STAGE_CURRENT:
                await store.move_label(name, CURRENT, to=vid, remove=state.holding(CURRENT))
                if PENDING in state.by_id.get(vid, []):
                    await store.move_label(name, PENDING, remove=vid)
            elif stage == STAGE_PENDING:
                await store.move_label(name, PENDING, to=vid, remove=state.holding(PENDING))

        self.queue(write)

    async def drop_version(self, secret_id: str, version: int) -> None:
        async def write() -> None:
            store = self.store
            state = await store.state_of(secret_id)
            if state is None or state.stage(version) != STAGE_PENDING:
                return  # only a pending version is ever dropped
            name = state.name
            # Recorded before the label goes: a crash in between leaves a version that is
            # both pending and dropped, which the next recovery drops again.
            kept = sorted(d for d in state.dropped | {version} if d >= state.floor)
            while len(",".join(map(str, kept))) > 250:  # a tag value holds 256 characters
                kept.pop(0)  # the oldest: far below current, no longer written again
            dropped = ",".join(map(str, kept))
            await store.call(
                f"tagging {name!r}",
                lambda: store.client.tag_resource(
                    SecretId=store.full(name),
                    Tags=[{"Key": PREFIX + "dropped", "Value": dropped}],
                ),
            )
            await store.move_label(name, PENDING, remove=state.numbers[version])

        self.queue(write)

    async def purge(self, secret_id: str) -> None:
        async def write() -> None:
            store = self.store
            state = await store.state_of(secret_id)
            if state is None:
                return
            name = state.name
            sid = store.full(name)
            if state.deleted:
                await store.call(
                    f"purge of {name!r}", lambda: store.client.restore_secret(SecretId=sid)
                )
            await store.call(
                f"purge of {name!r}",
                lambda: store.client.delete_secret(SecretId=sid, ForceDeleteWithoutRecovery=True),
            )
            store._names.pop(secret_id, None)

        self.queue(write)


def aws_store(config: SecretsConfig) -> AwsStore:
    """The registry's factory for ``default_backend: aws_secrets_manager``."""
    return AwsStore(config)


if TYPE_CHECKING:
    from secretvault.backends.base import DiagnosableStore, SecretSession, SecretStore

    _as_store: type[SecretStore] = AwsStore
    _as_session: type[SecretSession] = AwsSession
    _as_diagnosable: type[DiagnosableStore] = AwsStore
