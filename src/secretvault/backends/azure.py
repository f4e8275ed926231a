"""Azure Key Vault as the secret store (``default_backend: azure_key_vault``).

The real ``azure-keyvault-secrets`` aio ``SecretClient`` with an ``azure-identity`` aio
credential: ``ClientSecretCredential`` from ``azure_tenant_id``/``azure_client_id``/
``azure_client_secret``, ``DefaultAzureCredential`` (environment, managed identity, Azure CLI…)
when they are absent. ``azure_client_options`` and ``azure_credential_options`` are passed through
to the two constructors (``connection_verify``, ``api_version``, ``authority``…). The audit trail,
grants and key ring stay in the local control store (``build_stores`` pairs them); a unit commits
the Azure side first and the audit entry second (``backends/stores.py``).

Mapping, written down once (``docs/backends-azure.md`` explains it for users):

- **Names.** Azure allows letters, digits and ``-`` (1-127 characters, case-insensitive). Ours
  also allow ``_`` and ``.``, so names are escaped injectively with ``--`` as the escape
  introducer: ``_`` → ``--u``, ``.`` → ``--d``, and a ``-`` directly followed by ``-``, ``_`` or
  ``.`` → ``--h``; every other character is kept. A name of letters, digits and single dashes is
  therefore its own Azure name (``db-password`` ↔ ``db-password``), so secrets made in the portal
  are found under their own names. An Azure name with a ``--`` that is not an escape cannot be
  addressed (listing skips it). Our original name is kept in the ``sv-name`` tag; two names that
  differ only in case are one Azure secret and are refused.
- **Values** are stored as Azure encrypts them (``native_encryption``): any Azure client reads
  what secretvault writes. Azure holds up to 25 KiB per value.
- **Metadata** lives in tags of the secret's *latest* Azure version (what the portal and
  ``list`` show; Azure allows 15 tags of at most 256 characters): ``sv-name``, ``sv-status``,
  ``sv-service``, ``sv-environment``, ``sv-tags`` (JSON list), ``sv-description``,
  ``sv-rotation-days``, ``sv-created-by``, ``sv-version`` (the current version number),
  ``sv-times`` (JSON: created, updated, last rotated, expiry, deleted, purge-after) and
  ``sv-stages`` (``current=3,previous=2,pending=4``). The content type is the secret type; the
  ``expires`` attribute is ``expires_at``; ``enabled`` is false exactly when the secret is
  REVOKED (so other Azure clients cannot read a revoked secret either; a version disabled in the
  portal reads as revoked).
- **Versions.** Our integer versions map onto Azure's 32-hex version ids through per-version
  tags: ``sv-v`` (number), ``sv-by`` (creator) and ``sv-state`` (``dropped``: a rolled-back
  pending version, disabled; ``pruned``: beyond ``max_versions``, disabled — Azure cannot delete
  one version; ``moved``: superseded by a re-published copy). Versions without tags (written by
  other tools) are numbered in creation order after the highest number before them; a value set
  in the portal thus becomes the newest, current version and keeps the metadata tags of the
  version before it.
- **Stages.** A pending version (rotation) is written as a new Azure version, so for the
  verification window Azure's "latest" is the pending value; promotion only moves labels. A
  pending version that is dropped while it is the latest is disabled and the current value is
  re-published as a new Azure version, so other clients read ``current`` again.
- **Compare-and-set.** Azure has no conditional write. At commit the store re-reads the latest
  version and refuses with ``VersionConflictError`` when its current version is not the
  expected one; the race window left is the time between that read and the write (one round
  trip). Two writers inside that window both succeed and the later becomes latest. A secret
  deleted by another writer after the session read it is never recovered by a write.
- **Deletion.** Soft delete is Azure's soft delete (``PENDING_DELETION``; our purge-after time is
  kept in ``sv-times`` while Azure purges at its own ``scheduledPurgeDate``), restore is
  *recover*, purge is *purge* (delete first when the secret is live).
- **Units of work.** A session reads from Azure as it goes and applies its writes at commit, in
  order, one secret after another; a unit that fails before commit writes nothing. Azure has no
  transaction: a failure in the middle of a commit leaves the writes made before it (each is a
  complete version or property update, never a torn value) and raises the mapped error.
- **Errors.** Every SDK or transport error is mapped by ``_ERRORS`` (the one table) to the
  ``SecretVaultError`` hierarchy; an SDK exception never reaches the caller. Retries and
  timeouts are the SDK's own retry policy, bounded by ``DEFAULT_CLIENT_OPTIONS``.
- Values are never logged, put in an exception text, a ``repr`` or a tag. ``logging_enable``
  (the SDK's body logging) is refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp  # the aio SDK needs it; neither azure package depends on it (pyproject extra)
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestTimeoutError,
    ServiceResponseTimeoutError,
)
from azure.identity import CredentialUnavailableError
from azure.identity.aio import ClientSecretCredential, DefaultAzureCredential
from azure.keyvault.secrets import DeletedSecret, SecretProperties
from azure.keyvault.secrets.aio import SecretClient

from secretvault.backends.base import (
    STAGE_CURRENT,
    STAGE_PENDING,
    STAGE_PREVIOUS,
    NativeValue,
    SecretFilter,
    StoredVersion,
    StoreFeatures,
)
from secretvault.errors import (
    AuthorizationError,
    BackendUnavailableError,
    ConfigurationError,
    InvalidArgumentError,
    InvalidSecretNameError,
    InvalidSecretValueError,
    SecretAlreadyExistsError,
    SecretNotFoundError,
    SecretRevokedError,
    SecretVaultError,
    VersionConflictError,
)
from secretvault.models import (
    BackendType,
    SecretMetadata,
    SecretRecord,
    SecretStatus,
    SecretType,
    SecretVersionInfo,
    as_utc,
    secret_id_for,
)
from secretvault.validation import NAME_RE

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

    from secretvault.config import SecretsConfig
    from secretvault.crypto.envelope import Envelope

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Bounded retries and timeouts for the SDK's own retry policy (``azure_client_options`` and
#: ``azure_credential_options`` override them). The SDK default, 10 retries with back-off,
#: would keep a caller waiting for minutes on a dead vault.
DEFAULT_CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 3,
    "retry_backoff_factor": 0.5,
    "retry_backoff_max": 4,
    "connection_timeout": 5,
    "read_timeout": 15,
}

AZURE_NAME_MAX = 127
AZURE_VALUE_MAX = 25 * 1024
AZURE_TAG_VALUE_MAX = 256
#: A secret without our tags (made in the portal or by another tool) is read as this type.
UNTAGGED_TYPE = SecretType.ENVIRONMENT_VARIABLE

# Tags (see the module docstring).
T_NAME, T_STATUS, T_SERVICE, T_ENV = "sv-name", "sv-status", "sv-service", "sv-environment"
T_TAGS, T_DESC, T_ROTATION, T_OWNER = (
    "sv-tags",
    "sv-description",
    "sv-rotation-days",
    "sv-created-by",
)
T_CURRENT, T_TIMES, T_STAGES = "sv-version", "sv-times", "sv-stages"
T_V, T_BY, T_STATE = "sv-v", "sv-by", "sv-state"
DROPPED, PRUNED, MOVED = "dropped", "pruned", "moved"

# -- names ---------------------------------------------------------------------------------------

_ESCAPES = {"_": "--u", ".": "--d"}
_UNESCAPE = {"u": "_", "d": ".", "h": "-"}
_AZURE_NAME = re.compile(r"[0-9A-Za-z-]{1,127}")


def azure_name(name: str) -> str:
    """The Azure name of a secretvault name (injective; see the module docstring)."""
    out = []
    for i, ch in enumerate(name):
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch == "-" and i + 1 < len(name) and name[i + 1] in "-_.":
            out.append("--h")
        else:
            out.append(ch)
    encoded = "".join(out)
    if len(encoded) > AZURE_NAME_MAX:
        raise InvalidSecretNameError(
            f"secret name {name[:40]!r}… is {len(encoded)} characters in Azure Key Vault "
            f"(at most {AZURE_NAME_MAX}; '_' and '.' take 3 each)",
            hint="use a shorter name",
        )
    return encoded


def original_name(azure: str) -> str | None:
    """The secretvault name an Azure name stands for; None when it is not an escape's output."""
    out, i = [], 0
    while i < len(azure):
        ch = azure[i]
        if azure.startswith("--", i):
            code = azure[i + 2 : i + 3]
            if code not in _UNESCAPE:
                return None
            out.append(_UNESCAPE[code])
            i += 3
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# -- errors: the one table ----------------------------------------------------------------------

_FIX_PERMISSIONS = (
    "grant the identity the secret permissions get, list, set, delete, recover and purge: "
    "`az keyvault set-policy --name <vault> --spn $AZURE_CLIENT_ID --secret-permissions get "
    "list set delete recover purge` (or the 'Key Vault Secrets Officer' role)"
)

#: kind → (error class, message, hint). Placeholders: {op}, {name}, {url}, {detail}.
_ERRORS: dict[str, tuple[type[SecretVaultError], str, str]] = {
    "missing": (
        SecretNotFoundError,
        "Secret not found in Azure: {name} ({op}; {detail})",
        "list the vault's secrets (`az keyvault secret list --vault-name <vault> -o table`) and "
        "check the name; the identity also needs the secret permissions get and list",
    ),
    "exists": (
        SecretAlreadyExistsError,
        "Azure Key Vault refused to {op} {name}: it is deleted but recoverable ({detail})",
        "restore it (`secretvault restore NAME`) or purge it first",
    ),
    "bad_request": (
        InvalidArgumentError,
        "Azure Key Vault rejected {op} of {name} ({detail})",
        "check the name (letters, digits, '-', '_', '.'), the value (at most 25 KiB) and the "
        "metadata (tag values of at most 256 characters)",
    ),
    "credentials": (
        AuthorizationError,
        "Azure Key Vault did not accept the credential for {op} ({detail})",
        "check azure_tenant_id, azure_client_id and azure_client_secret (or AZURE_* "
        "environment variables); `az login` for the Azure CLI credential",
    ),
    "no_credential": (
        AuthorizationError,
        "no Azure credential is available for {op} ({detail})",
        "set azure_tenant_id, azure_client_id and azure_client_secret, or AZURE_TENANT_ID/"
        "AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, or run on a managed identity",
    ),
    "denied": (
        AuthorizationError,
        "Azure Key Vault denied {op} of {name} ({detail})",
        _FIX_PERMISSIONS,
    ),
    "disabled": (
        SecretRevokedError,
        "a version of {name} is disabled in Azure Key Vault ({detail})",
        "enable it: `az keyvault secret set-attributes --vault-name <vault> --name <name> "
        "--enabled true` (or reinstate it with `secretvault update-metadata --status active`)",
    ),
    "throttled": (
        BackendUnavailableError,
        "Azure Key Vault throttled {op} of {name} after retries ({detail})",
        "retry later; raise retry_total in azure_client_options",
    ),
    "timeout": (
        BackendUnavailableError,
        "Azure Key Vault did not answer {op} of {name} in time ({detail})",
        "check the vault's health and the network; read_timeout, connection_timeout and "
        "retry_total in azure_client_options bound the wait",
    ),
    "unreachable": (
        BackendUnavailableError,
        "cannot reach Azure Key Vault at {url} for {op} ({detail})",
        "check azure_vault_url, the network and TLS trust (connection_verify in "
        "azure_client_options)",
    ),
    "server": (
        BackendUnavailableError,
        "Azure Key Vault failed {op} of {name} ({detail})",
        "retry later; the SDK already retried",
    ),
}


def _kind(exc: BaseException) -> str:
    """The row of ``_ERRORS`` for an SDK or transport error."""
    if isinstance(exc, CredentialUnavailableError):
        return "no_credential"
    if isinstance(exc, ClientAuthenticationError):
        return "credentials"
    if isinstance(exc, ResourceNotFoundError):
        return "missing"
    if isinstance(exc, ResourceExistsError):
        return "exists"
    if isinstance(exc, HttpResponseError):
        status = exc.status_code or 0
        if status == 403:
            return "disabled" if _inner_code(exc) == "SecretDisabled" else "denied"
        if status == 401:
            return "credentials"
        if status == 409:
            return "exists"
        if status == 429:
            return "throttled"
        if 400 <= status < 500:
            return "bad_request"
        return "server"
    if isinstance(exc, ServiceRequestTimeoutError | ServiceResponseTimeoutError | TimeoutError):
        return "timeout"
    return "unreachable"  # ServiceRequestError, ServiceResponseError, OSError, aiohttp


def _inner_code(exc: HttpResponseError) -> str | None:
    inner = getattr(exc.error, "innererror", None) or {}
    code = inner.get("code") if isinstance(inner, dict) else None
    return str(code) if code else None


def _detail(exc: BaseException) -> str:
    """Status and service error code/message — never a request body, so never a value."""
    if isinstance(exc, HttpResponseError):
        err = exc.error
        code = err.code if err is not None else None
        message = err.message if err is not None else exc.reason
        inner = _inner_code(exc)
        text = f"{exc.status_code} {code or ''}{'/' + inner if inner else ''}: {message or ''}"
    else:
        text = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return text.strip()[:240]


def azure_error(exc: BaseException, op: str, name: str | None, url: str) -> SecretVaultError:
    """The ``SecretVaultError`` for an SDK or transport error (``_ERRORS``)."""
    cls, message, hint = _ERRORS[_kind(exc)]
    shown = repr(name) if name else "the vault"
    return cls(message.format(op=op, name=shown, url=url, detail=_detail(exc)), hint=hint)


_SDK_ERRORS = (AzureError, OSError, asyncio.TimeoutError, aiohttp.ClientError)


# -- the mapping of one secret ------------------------------------------------------------------


@dataclass(slots=True)
class _Version:
    """One Azure version as a numbered secretvault version."""

    azure_id: str
    number: int
    props: SecretProperties
    state: str  # "", DROPPED, PRUNED or MOVED


@dataclass(slots=True)
class _State:
    """What Azure holds for one name, as read in this session."""

    name: str
    azure: str
    live: bool  # False: soft-deleted
    latest: SecretProperties
    value: str | None = field(default=None, repr=False)  # the latest value, when read
    deleted: DeletedSecret | None = None
    versions: list[_Version] | None = None


def _tags(props: SecretProperties) -> dict[str, str]:
    return dict(props.tags or {})


def _number_versions(items: list[SecretProperties], latest: str | None = None) -> list[_Version]:
    """Our version numbers for Azure's versions (module docstring, "Versions"). Azure keeps
    whole seconds: within one second our ``sv-v`` orders, then Azure's ``latest``, then the
    order Azure lists them in (the sort is stable)."""

    def order(p: SecretProperties) -> tuple[datetime, int, int]:
        tag = _tags(p).get(T_V)
        created = p.created_on or datetime.min.replace(tzinfo=UTC)
        return created, int(p.version == latest), int(tag) if tag and tag.isdigit() else 0

    out, top = [], 0
    for props in sorted(items, key=order):
        tags = _tags(props)
        state = tags.get(T_STATE, "")
        tagged = tags.get(T_V, "")
        if tagged.isdigit():
            number = int(tagged)
            if state != DROPPED:
                top = max(top, number)
        else:
            top += 1
            number = top
        out.append(_Version(props.version or "", number, props, state))
    return out


def _live_versions(versions: list[_Version]) -> dict[int, _Version]:
    """Number → the readable Azure version (dropped, pruned and moved ones are not)."""
    return {v.number: v for v in versions if not v.state}


def _parse_stages(text: str | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in (text or "").split(","):
        stage, _, number = part.partition("=")
        if stage and number.isdigit():
            out[stage] = int(number)
    return out


def _format_stages(stages: dict[str, int]) -> str:
    order = (STAGE_CURRENT, STAGE_PREVIOUS, STAGE_PENDING)
    return ",".join(f"{s}={stages[s]}" for s in order if s in stages)


def _stage_of(stages: dict[str, int], number: int) -> str:
    for stage in (STAGE_CURRENT, STAGE_PENDING, STAGE_PREVIOUS):
        if stages.get(stage) == number:
            return stage
    return ""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# Tags can be edited in the portal: one we cannot read is ignored (its default applies),
# never an error — the secret must stay readable.


def _when(value: Any) -> datetime | None:
    """A timestamp from ``sv-times`` (UTC); None when absent or unreadable."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) and value else None
    except ValueError:
        return None
    return as_utc(moment)


def _json(text: str | None, default: T) -> T:
    """A JSON tag of the same shape as ``default``; ``default`` when absent or unreadable."""
    try:
        value = json.loads(text) if text else default
    except ValueError:
        return default
    return value if isinstance(value, type(default)) else default


def _days(text: str | None) -> int:
    """``sv-rotation-days`` within the model's 1-365; the default (90) otherwise."""
    return int(text) if text and text.isdigit() and 1 <= int(text) <= 365 else 90


def record_tags(record: SecretRecord, stages: dict[str, int]) -> dict[str, str]:
    """The metadata tags of ``record``; InvalidArgumentError when one does not fit Azure."""
    md = record.metadata
    times = {
        "c": _iso(md.created_at),
        "u": _iso(md.updated_at),
        "r": _iso(md.last_rotated),
        "e": _iso(md.expires_at),
        "d": _iso(record.deleted_at),
        "p": _iso(record.purge_after),
    }
    tags = {
        T_NAME: record.name,
        T_STATUS: record.status.value,
        T_ENV: md.environment,
        T_ROTATION: str(md.rotation_days),
        T_OWNER: md.created_by,
        T_CURRENT: str(md.version),
        T_TIMES: json.dumps({k: v for k, v in times.items() if v}, separators=(",", ":")),
        T_STAGES: _format_stages(stages),
    }
    if md.service is not None:
        tags[T_SERVICE] = md.service
    if md.tags:
        tags[T_TAGS] = json.dumps(md.tags, separators=(",", ":"))
    if md.description:
        tags[T_DESC] = md.description
    for key, value in tags.items():
        if len(value) > AZURE_TAG_VALUE_MAX:
            raise InvalidArgumentError(
                f"{key.removeprefix('sv-')} of {record.name!r} is {len(value)} characters; an "
                f"Azure Key Vault tag holds at most {AZURE_TAG_VALUE_MAX}",
                hint="shorten it; nothing was written",
            )
    return tags


def _record(state: _State, versions: list[_Version] | None) -> SecretRecord:
    """Our record of a secret: from our tags on the newest version that has them, else from
    Azure's own properties (a secret made in the portal). ``versions`` is needed when the
    latest version carries no tags of ours."""
    latest = state.latest
    tags = _tags(latest)
    current_props = latest
    current_number = int(tags[T_CURRENT]) if tags.get(T_CURRENT, "").isdigit() else 0
    if T_NAME not in tags:
        if versions:
            numbered = [v for v in versions if not v.state]
            newest = max(numbered, key=lambda v: v.number) if numbered else versions[-1]
            current_number, current_props = newest.number, newest.props
            source = [v for v in versions if T_NAME in _tags(v.props)]
            if source:
                tags = {**_tags(max(source, key=lambda v: v.number).props)}
        current_number = current_number or 1
    times: dict[str, Any] = _json(tags.get(T_TIMES), {})
    created = _when(times.get("c")) or latest.created_on or datetime.now(UTC)
    expires = current_props.expires_on
    tagged_exp = _when(times.get("e"))
    if (
        tagged_exp is not None
        and expires is not None
        and int(tagged_exp.timestamp()) == int(expires.timestamp())
    ):
        expires = tagged_exp  # Azure keeps whole seconds; ours, unchanged since, is exact
    user_tags: list[Any] = _json(tags.get(T_TAGS), [])
    metadata = SecretMetadata(
        created_at=created,
        updated_at=_when(times.get("u")) or current_props.updated_on or created,
        expires_at=expires,
        rotation_days=_days(tags.get(T_ROTATION)),
        last_rotated=_when(times.get("r")),
        version=max(current_number, 1),
        created_by=tags.get(T_OWNER, "azure"),
        description=tags.get(T_DESC, ""),
        tags=[str(t) for t in user_tags],
        service=tags.get(T_SERVICE),
        environment=tags.get(T_ENV, "development"),
    )
    types = {t.value: t for t in SecretType}
    secret_type = types.get(current_props.content_type or "", UNTAGGED_TYPE)
    statuses = {s.value: s for s in SecretStatus}
    status = statuses.get(tags.get(T_STATUS, ""), SecretStatus.ACTIVE)
    deleted_at = purge_after = None
    if not state.live:
        status = SecretStatus.PENDING_DELETION
        deleted = state.deleted
        deleted_at = _when(times.get("d")) or (deleted.deleted_date if deleted else None)
        purge_after = _when(times.get("p")) or (deleted.scheduled_purge_date if deleted else None)
    elif current_props.enabled is False:
        status = SecretStatus.REVOKED
    elif status == SecretStatus.PENDING_DELETION:
        status = SecretStatus.ACTIVE  # tagged for deletion but the delete never happened
    return SecretRecord(
        id=secret_id_for(state.name),
        name=state.name,
        secret_type=secret_type,
        status=status,
        metadata=metadata,
        backend=BackendType.AZURE_KEY_VAULT,
        deleted_at=deleted_at,
        purge_after=purge_after,
    )


# -- the store ----------------------------------------------------------------------------------


class AzureKeyVaultStore:
    """The secret store over one Azure Key Vault (``default_backend: azure_key_vault``)."""

    backend_type = BackendType.AZURE_KEY_VAULT
    features = StoreFeatures(
        native_encryption=True,
        not_found=(
            "Secret not found in Azure: {name}",
            "check the name (`secretvault list`; in the portal '_' is '--u' and '.' is '--d') "
            "and that the identity may get and list secrets (`az keyvault secret list "
            "--vault-name <vault> -o table`)",
        ),
    )

    def __init__(
        self,
        vault_url: str,
        *,
        tenant_id: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        client_options: dict[str, Any] | None = None,
        credential_options: dict[str, Any] | None = None,
    ) -> None:
        if not vault_url or not vault_url.startswith("https://"):
            raise ConfigurationError(
                "azure_vault_url must be the https:// URL of the key vault",
                hint="set azure_vault_url: https://<vault-name>.vault.azure.net/",
            )
        given = {
            "azure_tenant_id": tenant_id,
            "azure_client_id": client_id,
            "azure_client_secret": client_secret,
        }
        missing = [k for k, v in given.items() if not v]
        if 0 < len(missing) < 3:
            raise ConfigurationError(
                f"Azure client-secret login needs all three settings; missing {', '.join(missing)}",
                hint="set them all, or none to use DefaultAzureCredential",
            )
        self.client_options = {**DEFAULT_CLIENT_OPTIONS, **(client_options or {})}
        self.credential_options = dict(credential_options or {})
        for options in (self.client_options, self.credential_options):
            if options.get("logging_enable"):
                raise ConfigurationError(
                    "logging_enable makes the Azure SDK log request bodies, i.e. secret values",
                    hint="remove logging_enable from azure_client_options/azure_credential_options",
                )
        self.vault_url = vault_url
        self._login = (tenant_id, client_id, client_secret) if not missing else None
        self._client: SecretClient | None = None
        self._credential: AsyncTokenCredential | None = None
        self._names: dict[str, str] = {}  # secret id → name, learnt as names are seen

    def __repr__(self) -> str:
        return f"AzureKeyVaultStore({self.vault_url!r})"

    @property
    def client(self) -> SecretClient:
        """The open aio ``SecretClient``."""
        if self._client is None:
            raise BackendUnavailableError("the vault is not initialized; call initialize() first")
        return self._client

    async def open(self, *, create: bool) -> None:
        """Build the credential and the client (the vault itself is made with Azure's tools)."""
        if self._client is not None:
            return
        if self._login is not None:
            tenant, client_id, secret = self._login
            retries = {k: v for k, v in DEFAULT_CLIENT_OPTIONS.items() if k.startswith("retry")}
            credential: AsyncTokenCredential = ClientSecretCredential(
                str(tenant), str(client_id), str(secret), **(retries | self.credential_options)
            )
        else:
            credential = DefaultAzureCredential(**self.credential_options)
        self._credential = credential
        self._client = SecretClient(
            self.vault_url, credential, **client_kwargs(self.client_options)
        )

    async def close(self) -> None:
        """Close the aio client and credential (idempotent)."""
        client, credential, self._client, self._credential = (
            self._client,
            self._credential,
            None,
            None,
        )
        try:
            if client is not None:
                await client.close()
        finally:
            if credential is not None:
                await credential.close()

    async def exists(self) -> bool:
        """Always True: the key vault is created with Azure's tools, not by secretvault."""
        return True

    def session(self) -> _SessionContext:
        """A unit of work on the secret role (writes apply at commit; module docstring)."""
        return _SessionContext(self)

    async def generation(self) -> int:
        """-1: Azure offers no change counter, so the read cache stays off."""
        return -1

    # -- calls ----------------------------------------------------------------------------------

    async def call(self, op: str, name: str | None, awaitable: Awaitable[T]) -> T:
        """Await an SDK call; its errors become ``SecretVaultError`` (``_ERRORS``)."""
        try:
            return await awaitable
        except _SDK_ERRORS as exc:
            raise azure_error(exc, op, name, self.vault_url) from None

    async def collect(self, op: str, name: str | None, pager: AsyncIterator[T]) -> list[T]:
        """Every item of a paged listing (follows ``nextLink``), errors mapped."""
        try:
            return [item async for item in pager]
        except _SDK_ERRORS as exc:
            raise azure_error(exc, op, name, self.vault_url) from None

    def learn(self, name: str) -> str:
        """Remember ``name`` under its id; returns the id."""
        sid = secret_id_for(name)
        self._names[sid] = name
        return sid

    def known_name(self, secret_id: str) -> str | None:
        return self._names.get(secret_id)


class _SessionContext:
    def __init__(self, store: AzureKeyVaultStore) -> None:
        self.session = AzureSession(store)

    async def __aenter__(self) -> AzureSession:
        return self.session

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            await self.session.commit()


@dataclass(slots=True)
class _Plan:
    """The writes a session will make to one secret at commit."""

    name: str
    state: _State | None
    stages: dict[str, int]
    record: SecretRecord | None = None
    create: bool = False
    puts: list[tuple[StoredVersion, int | None]] = field(default_factory=list)
    drops: list[int] = field(default_factory=list)
    max_versions: int = 0
    purge: bool = False


class AzureSession:
    """The secret-store role over Azure inside one unit of work (reads now, writes at commit)."""

    def __init__(self, store: AzureKeyVaultStore) -> None:
        self.store = store
        self._states: dict[str, _State | None] = {}
        self._plans: dict[str, _Plan] = {}

    @property
    def changed(self) -> bool:
        """True once this session has writes to make."""
        return bool(self._plans)

    # -- reading --------------------------------------------------------------------------------

    async def _load(self, name: str, *, fresh: bool = False, deleted: bool = True) -> _State | None:
        """What Azure holds for ``name``: the latest version, else (``deleted``) the
        soft-deleted secret; None when neither exists."""
        if not fresh and name in self._states:
            return self._states[name]
        store, az = self.store, azure_name(name)
        state: _State | None
        try:
            secret = await store.client.get_secret(az)
            state = _State(name, az, True, secret.properties, secret.value)
        except ResourceNotFoundError:
            state = await self._load_deleted(name, az) if deleted else None
        except HttpResponseError as exc:
            if exc.status_code != 403 or _inner_code(exc) != "SecretDisabled":
                raise azure_error(exc, "get", name, store.vault_url) from None
            versions = await store.collect(
                "list versions", name, store.client.list_properties_of_secret_versions(az)
            )
            numbered = _number_versions(versions)
            state = _State(name, az, True, numbered[-1].props, versions=numbered)
        except _SDK_ERRORS as exc:
            raise azure_error(exc, "get", name, store.vault_url) from None
        if state is not None:
            owner = _tags(state.latest).get(T_NAME)
            # the Azure name is ours either way; only a name differing in case is another secret
            if owner is not None and owner != name and owner.lower() == name.lower():
                raise InvalidSecretNameError(
                    f"{name!r} and {owner!r} are one secret in Azure Key Vault (its names are "
                    "case-insensitive)",
                    hint=f"use {owner!r}",
                )
            self.store.learn(name)
        self._states[name] = state
        return state

    async def _load_deleted(self, name: str, az: str) -> _State | None:
        store = self.store
        try:
            gone = await store.client.get_deleted_secret(az)
        except ResourceNotFoundError:
            return None
        except _SDK_ERRORS as exc:
            raise azure_error(exc, "get deleted", name, store.vault_url) from None
        return _State(name, az, False, gone.properties, deleted=gone)

    async def _versions(self, state: _State) -> list[_Version]:
        if state.versions is None:
            if not state.live:
                state.versions = _number_versions([state.latest])
            else:
                items = await self.store.collect(
                    "list versions",
                    state.name,
                    self.store.client.list_properties_of_secret_versions(state.azure),
                )
                state.versions = _number_versions(items, state.latest.version)
        return state.versions

    async def _record_of(self, state: _State) -> SecretRecord:
        versions = None
        if T_NAME not in _tags(state.latest):
            versions = await self._versions(state)
        return _record(state, versions)

    async def _name_of(self, secret_id: str) -> str | None:
        known = self.store.known_name(secret_id)
        if known is not None:
            return known
        store = self.store
        live = await store.collect("list", None, store.client.list_properties_of_secrets())
        gone = await store.collect("list deleted", None, store.client.list_deleted_secrets())
        for props in [*live, *(d.properties for d in gone)]:
            name = _listed_name(props)
            if name is not None and store.learn(name) == secret_id:
                return name
        return None

    async def _state_by_id(self, secret_id: str) -> _State | None:
        name = await self._name_of(secret_id)
        return await self._load(name) if name is not None else None

    async def _stages(self, name: str, state: _State | None) -> dict[str, int]:
        """The stage labels: this session's plan, else ``sv-stages`` of the latest version; a
        latest version without our tags (set elsewhere) is simply ``current``."""
        plan = self._plans.get(name)
        if plan is not None:
            return plan.stages
        if state is None:
            return {}
        if T_NAME not in _tags(state.latest):
            return {STAGE_CURRENT: (await self._record_of(state)).metadata.version}
        return _parse_stages(_tags(state.latest).get(T_STAGES))

    async def get(self, name: str) -> SecretRecord | None:
        """The record of ``name`` (live or soft-deleted); None when Azure has neither."""
        state = await self._load(name)
        return await self._record_of(state) if state is not None else None

    async def read(
        self, name: str, version: int | None = None
    ) -> tuple[SecretRecord, StoredVersion | None] | None:
        """Record and one version (default: current). The common case — our current version
        is Azure's latest — is one request."""
        state = await self._load(name)
        if state is None:
            return None
        record = await self._record_of(state)
        if record.status in (SecretStatus.REVOKED, SecretStatus.PENDING_DELETION):
            return record, None  # the facade refuses these before it needs a value
        stored = await self._stored(state, version or record.metadata.version)
        return record, stored

    async def _stored(self, state: _State, number: int) -> StoredVersion | None:
        stages = await self._stages(state.name, state)
        tags = _tags(state.latest)
        if state.value is not None and tags.get(T_V) == str(number) and not tags.get(T_STATE):
            return self._stored_version(state.latest, number, state.value, stages)
        if not state.live:
            return None
        versions = await self._versions(state)
        found = _live_versions(versions).get(number)
        if found is None:
            return None
        if state.value is not None and found.azure_id == state.latest.version:
            value = state.value
        else:
            secret = await self.store.call(
                "get version",
                state.name,
                self.store.client.get_secret(state.azure, found.azure_id),
            )
            value = secret.value or ""
        return self._stored_version(found.props, number, value, stages)

    @staticmethod
    def _stored_version(
        props: SecretProperties, number: int, value: str, stages: dict[str, int]
    ) -> StoredVersion:
        return StoredVersion(
            number,
            NativeValue(value),
            props.created_on or datetime.now(UTC),
            _tags(props).get(T_BY, "azure"),
            _stage_of(stages, number),
        )

    async def get_version(self, secret_id: str, version: int) -> StoredVersion | None:
        """One stored version; None when it does not exist (or was dropped or pruned)."""
        state = await self._state_by_id(secret_id)
        if state is None or not state.live:
            return None
        return await self._stored(state, version)

    async def max_version(self, secret_id: str) -> int:
        """Highest live version number (pending included); 0 when none."""
        state = await self._state_by_id(secret_id)
        if state is None:
            return 0
        tags = _tags(state.latest)
        if state.live and T_NAME in tags and tags.get(T_V, "").isdigit() and not tags.get(T_STATE):
            # Every version we write is the latest and carries the labels, so the highest live
            # number is among them: no version listing (it grows with Azure's whole history).
            labels = _parse_stages(tags.get(T_STAGES)).values()
            return max(int(tags[T_V]), *labels)
        return max(_live_versions(await self._versions(state)), default=0)

    async def versions(self, secret_id: str) -> list[SecretVersionInfo]:
        """Every live version, newest first (no values)."""
        state = await self._state_by_id(secret_id)
        if state is None:
            return []
        stages = await self._stages(state.name, state)
        live = _live_versions(await self._versions(state))
        return [
            SecretVersionInfo(
                version=n,
                created_at=v.props.created_on or datetime.now(UTC),
                created_by=_tags(v.props).get(T_BY, "azure"),
                stage=_stage_of(stages, n),
            )
            for n, v in sorted(live.items(), reverse=True)
        ]

    async def secret_name(self, secret_id: str) -> str | None:
        """The name of the secret with this id."""
        return await self._name_of(secret_id)

    async def pending_versions(self) -> list[tuple[str, int]]:
        """(secret id, version) of every pending version: the latest version's ``sv-stages``
        names it, so one listing finds them all."""
        store = self.store
        out = []
        for props in await store.collect("list", None, store.client.list_properties_of_secrets()):
            pending = _parse_stages(_tags(props).get(T_STAGES)).get(STAGE_PENDING)
            name = _listed_name(props)
            if pending is not None and name is not None:
                out.append((store.learn(name), pending))
        return out

    async def list_records(self, flt: SecretFilter) -> list[SecretRecord]:
        """Records matching the filter (live and soft-deleted), ordered by name."""
        store = self.store
        states: list[_State] = []
        if flt.status in (None, SecretStatus.PENDING_DELETION):
            for gone in await store.collect(
                "list deleted", None, store.client.list_deleted_secrets()
            ):
                name = _listed_name(gone.properties)
                if name is not None:
                    states.append(
                        _State(name, gone.name or "", False, gone.properties, deleted=gone)
                    )
        if flt.status != SecretStatus.PENDING_DELETION:
            for props in await store.collect(
                "list", None, store.client.list_properties_of_secrets()
            ):
                name = _listed_name(props)
                if name is not None:
                    states.append(_State(name, props.name or "", True, props))
        out = []
        for state in states:
            store.learn(state.name)
            record = await self._record_of(state)
            if flt.matches(record):
                out.append(record)
        return sorted(out, key=lambda r: r.name)

    async def envelopes(self) -> list[tuple[str, int, Envelope]]:
        """None: Azure encrypts the values (``rekey`` re-wraps the audit key only)."""
        return []

    async def rewrap(self, secret_id: str, version: int, env: Envelope) -> None:
        """Never called: this store keeps no envelopes."""
        raise TypeError("the Azure store keeps no envelopes")  # a facade bug, not input

    # -- writing (planned now, applied at commit) ------------------------------------------------

    async def _plan(self, name: str) -> _Plan:
        plan = self._plans.get(name)
        if plan is None:
            state = await self._load(name)
            plan = _Plan(name, state, dict(await self._stages(name, state)))
            self._plans[name] = plan
        return plan

    async def create(self, record: SecretRecord, version: StoredVersion) -> None:
        """A new secret and its first version."""
        _check_value(record.name, version)
        plan = await self._plan(record.name)
        plan.create, plan.record = True, record
        plan.stages = {STAGE_CURRENT: version.version}
        plan.puts.append((version, None))
        record_tags(record, plan.stages)  # refuse what will not fit before anything is written

    async def add_version(
        self, record: SecretRecord, version: StoredVersion, max_versions: int, *, cas: int
    ) -> None:
        """A new version; a ``current`` one demotes the old current to ``previous``. The
        compare-and-set check runs at commit, just before the write (module docstring)."""
        _check_value(record.name, version)
        plan = await self._plan(record.name)
        plan.record, plan.max_versions = record, max_versions
        _move_label(plan.stages, version.version, version.stage)
        plan.puts.append((version, cas))
        record_tags(record, plan.stages)

    async def set_stage(self, secret_id: str, version: int, stage: str) -> None:
        """Move a stage label (rotation: pending → current)."""
        name = await self._name_of(secret_id)
        if name is None:
            return
        plan = await self._plan(name)
        _move_label(plan.stages, version, stage)

    async def drop_version(self, secret_id: str, version: int) -> None:
        """Drop a pending version (disabled in Azure, which cannot delete one version)."""
        name = await self._name_of(secret_id)
        if name is None:
            return
        if (await self._stages(name, await self._load(name))).get(STAGE_PENDING) != version:
            return  # only a pending version is ever dropped
        plan = await self._plan(name)
        del plan.stages[STAGE_PENDING]
        plan.drops.append(version)

    async def update(self, record: SecretRecord) -> None:
        """Write status, metadata and deletion state (soft delete / recover in Azure)."""
        plan = await self._plan(record.name)
        plan.record = record
        record_tags(record, plan.stages)

    async def purge(self, secret_id: str) -> None:
        """Hard delete: delete (when live) and purge."""
        name = await self._name_of(secret_id)
        if name is not None:
            (await self._plan(name)).purge = True

    # -- commit -----------------------------------------------------------------------------------

    async def commit(self) -> None:
        """Apply the planned writes, secret by secret, in the order they were first planned."""
        for plan in self._plans.values():
            await _Commit(self, plan).run()
        self._plans.clear()
        self._states.clear()


class _Commit:
    """The requests that apply one secret's plan."""

    def __init__(self, session: AzureSession, plan: _Plan) -> None:
        self.session = session
        self.store = session.store
        self.client = session.store.client
        self.plan = plan
        self.name = plan.name
        self.az = azure_name(plan.name)

    async def run(self) -> None:
        plan, state = self.plan, self.plan.state
        log.debug("azure commit %s: %d new versions", self.name, len(plan.puts))
        if plan.purge:
            await self._purge(state)
            return
        if plan.create:
            # a soft-deleted name needs no look-up here: Azure refuses the PUT (409 → exists)
            state = await self.session._load(self.name, fresh=True, deleted=False)
        elif any(cas is not None for _, cas in plan.puts):
            state = await self.session._load(self.name, fresh=True)
        if plan.create and state is not None:
            raise SecretAlreadyExistsError(
                f"secret {self.name!r} already exists in Azure Key Vault", hint="use update"
            )
        record = plan.record or (await self.session._record_of(state) if state else None)
        if record is None:
            return
        want_deleted = record.status == SecretStatus.PENDING_DELETION
        if state is not None and not state.live and not want_deleted:
            if plan.state is not None and plan.state.live:
                raise VersionConflictError(  # never undo another writer's delete
                    f"secret {self.name!r} was deleted by another writer meanwhile",
                    hint="read it again and retry",
                )
            await self.store.call("recover", self.name, self.client.recover_deleted_secret(self.az))
            state = await self.session._load(self.name, fresh=True)
        wrote_latest = False
        for i, (version, cas) in enumerate(plan.puts):
            if cas is not None and i == 0:
                await self._check_cas(state, cas)
            await self._put(version.version, _value(version), version.created_by, record)
            wrote_latest = True
        top = max((v.version for v, _ in plan.puts), default=0)
        if plan.max_versions and top > plan.max_versions:
            await self._prune(record)
        for number in plan.drops:
            wrote_latest = await self._drop(number, record) or wrote_latest
        if not wrote_latest and state is not None and state.live:
            await self._patch_latest(state, record)
        if want_deleted and (state is None or state.live):
            await self.store.call("delete", self.name, self.client.delete_secret(self.az))

    async def _check_cas(self, state: _State | None, cas: int) -> None:
        current = (await self.session._record_of(state)).metadata.version if state else None
        if current != cas:
            raise VersionConflictError(
                f"secret {self.name!r} is at version {current or 'none'}, not {cas}: another "
                "writer changed it",
                hint="read it again and retry",
            )

    def _attrs(self, record: SecretRecord) -> dict[str, Any]:
        return {
            "enabled": record.status != SecretStatus.REVOKED,
            "content_type": record.secret_type.value,
            "expires_on": record.metadata.expires_at,
        }

    async def _put(self, number: int, value: str, by: str, record: SecretRecord) -> None:
        tags = record_tags(record, self.plan.stages) | {T_V: str(number), T_BY: by[:256]}
        await self.store.call(
            "set",
            self.name,
            self.client.set_secret(self.az, value, tags=tags, **self._attrs(record)),
        )

    async def _patch_latest(self, state: _State, record: SecretRecord) -> None:
        """Write the record's tags and attributes onto the latest version (as read in this
        session: a version added since by another writer is not overwritten)."""
        own = {k: v for k, v in _tags(state.latest).items() if k in (T_V, T_BY, T_STATE)}
        await self._patch(state.latest.version, record_tags(record, self.plan.stages) | own, record)

    async def _patch(
        self,
        version: str | None,
        tags: dict[str, str],
        record: SecretRecord | None = None,
        enabled: bool | None = None,
    ) -> None:
        attrs = self._attrs(record) if record is not None else {"enabled": enabled}
        if enabled is not None:
            attrs["enabled"] = enabled
        await self.store.call(
            "update properties",
            self.name,
            self.client.update_secret_properties(self.az, version, tags=tags, **attrs),
        )

    async def _versions(self) -> list[_Version]:
        items = await self.store.collect(
            "list versions", self.name, self.client.list_properties_of_secret_versions(self.az)
        )
        return _number_versions(items)

    async def _prune(self, record: SecretRecord) -> None:
        """Disable unlabelled versions beyond ``max_versions`` (Azure keeps every version)."""
        versions = await self._versions()
        live = _live_versions(versions)
        top = max(live, default=0)
        labelled = set(self.plan.stages.values())
        for number, v in live.items():
            if number <= top - self.plan.max_versions and number not in labelled:
                await self._patch(v.azure_id, _tags(v.props) | {T_STATE: PRUNED}, enabled=False)

    async def _drop(self, number: int, record: SecretRecord) -> bool:
        """Disable a dropped pending version; when it was the latest, re-publish the current
        value so other Azure clients read it again. True when a new latest was written."""
        versions = await self._versions()
        live = _live_versions(versions)
        target = live.get(number)
        if target is None:
            return False
        await self._patch(target.azure_id, _tags(target.props) | {T_STATE: DROPPED}, enabled=False)
        if versions[-1].azure_id != target.azure_id:
            return False  # not Azure's latest: other clients never read it
        current = live.get(self.plan.stages.get(STAGE_CURRENT, record.metadata.version))
        if current is None or current.azure_id == target.azure_id:
            return False
        old = await self.store.call(
            "get version", self.name, self.client.get_secret(self.az, current.azure_id)
        )
        by = _tags(current.props).get(T_BY, "azure")
        await self._put(current.number, old.value or "", by, record)
        await self._patch(current.azure_id, _tags(current.props) | {T_STATE: MOVED})
        return True

    async def _purge(self, state: _State | None) -> None:
        if state is None:
            return
        if state.live:
            await self.store.call("delete", self.name, self.client.delete_secret(self.az))
        await self.store.call("purge", self.name, self.client.purge_deleted_secret(self.az))


def _move_label(stages: dict[str, int], version: int, stage: str) -> None:
    """Point ``stage`` at ``version`` (``current`` demotes the old current to ``previous``)."""
    for label, number in list(stages.items()):
        if number == version and label != stage:
            del stages[label]
    if stage == STAGE_CURRENT and stages.get(STAGE_CURRENT) not in (None, version):
        stages[STAGE_PREVIOUS] = stages[STAGE_CURRENT]
    if stage:
        stages[stage] = version


def _listed_name(props: SecretProperties) -> str | None:
    """Our name for a listed Azure secret: the ``sv-name`` tag, else the decoded Azure name."""
    tagged = _tags(props).get(T_NAME)
    if tagged is not None and NAME_RE.fullmatch(tagged):
        return tagged
    return original_name(props.name or "") if props.name else None


def _value(version: StoredVersion) -> str:
    payload = version.payload
    if not isinstance(payload, NativeValue):
        raise TypeError("the Azure store keeps native values only")  # a facade bug, not input
    return payload.value


def _check_value(name: str, version: StoredVersion) -> None:
    if len(_value(version).encode("utf-8")) > AZURE_VALUE_MAX:
        raise InvalidSecretValueError(
            f"the value of {name!r} is larger than Azure Key Vault's 25 KiB limit",
            hint="store large material elsewhere and keep its key here; nothing was written",
        )


def client_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    """``SecretClient`` keyword arguments for ``options``, with one fix: azure-core's aiohttp
    transport turns a ``connection_verify`` CA *path* into a new SSL context on every request,
    which also defeats connection reuse (a TLS handshake per request, ~10 ms). A transport whose
    connector holds one context built from that path keeps connections alive."""
    path = options.get("connection_verify")
    if not isinstance(path, str) or "transport" in options:
        return dict(options)
    import ssl

    from azure.core.pipeline.transport import AioHttpTransport

    context = ssl.create_default_context(cafile=path)
    session = aiohttp.ClientSession(  # the session azure-core would make, plus the context
        connector=aiohttp.TCPConnector(ssl=context),
        trust_env=options.get("use_env_settings", True),
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
    )
    rest = {k: v for k, v in options.items() if k != "connection_verify"}
    timeouts = {k: v for k, v in options.items() if k in ("connection_timeout", "read_timeout")}
    transport = AioHttpTransport(session=session, session_owner=True, **timeouts)
    return rest | {"transport": transport}


def azure_store(config: SecretsConfig) -> AzureKeyVaultStore:
    """The registry's factory for ``default_backend: azure_key_vault``."""
    return AzureKeyVaultStore(
        config.azure_vault_url or "",
        tenant_id=config.azure_tenant_id,
        client_id=config.azure_client_id,
        client_secret=config.azure_client_secret,
        client_options=config.azure_client_options,
        credential_options=config.azure_credential_options,
    )


if TYPE_CHECKING:
    # mypy proves here that the Azure store is a secret store and its session a secret session.
    from secretvault.backends.base import SecretSession, SecretStore

    _as_store: type[SecretStore] = AzureKeyVaultStore
    _as_session: type[SecretSession] = AzureSession
