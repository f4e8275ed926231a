"""An Azure Key Vault test server: the REST protocol the real ``azure-keyvault-secrets`` client
speaks, over real HTTPS, with a local Entra-style token endpoint for ``azure-identity``.

No Key Vault emulator exists, so this is the one test double of the Azure tests: everything on
the client side (``SecretClient``, ``ClientSecretCredential``, challenge auth, retries, TLS
verification, pollers) is the real SDK. What the server does, per ``/work/shared/SERVICES.md``:

* TLS for 127.0.0.1 with a certificate signed by a throwaway CA made at start-up
  (``ca_path`` is what clients pass as ``connection_verify``);
* the bearer challenge: a request without ``Authorization`` gets ``401`` and
  ``WWW-Authenticate: Bearer authorization=..., resource=https://vault.azure.net``; every other
  request must carry a token this server issued;
* ``/{tenant}/v2.0/.well-known/openid-configuration`` and ``/{tenant}/oauth2/v2.0/token``
  (client credentials), so ``ClientSecretCredential(authority=server.authority,
  disable_instance_discovery=True, connection_verify=ca)`` obtains real tokens offline;
* secrets with versions, tags, content type and attributes (enabled, exp, nbf, created,
  updated); names case-insensitive; soft delete, deleted-secret reads, recover and purge;
  paging through ``nextLink``; Azure's error bodies ``{"error": {"code", "message"}}`` with
  the status codes the service uses (400 bad parameter, 401, 403 with ``innererror``, 404
  ``SecretNotFound``, 409 on a deleted name);
* per-identity permissions (``grant``), to provoke 403s; ``fail_next`` to provoke 5xx and
  exercise the SDK's retry policy.

Start it with ``AzureKeyVaultServer.start()`` (a thread, a free port) and ``stop()``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import secrets as pysecrets
import ssl
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ALL_PERMISSIONS = frozenset({"get", "list", "set", "delete", "recover", "purge"})
NAME_RE = re.compile(r"[0-9a-zA-Z-]{1,127}")
MAX_VALUE_CHARS = 25 * 1024
MAX_TAGS = 15
MAX_TAG_VALUE = 256
RETENTION_DAYS = 7
TENANT = "test-tenant"
DEFAULT_CLIENT = "secretvault-tests"
DEFAULT_SECRET = "client-secret-for-tests"


@dataclass
class Version:
    """One immutable value with its mutable properties."""

    id: str
    value: str
    content_type: str | None
    tags: dict[str, str]
    enabled: bool
    exp: int | None
    nbf: int | None
    created: int
    updated: int


@dataclass
class Secret:
    name: str  # as first written (Azure names are case-insensitive)
    versions: list[Version] = field(default_factory=list)


@dataclass
class Deleted:
    secret: Secret
    deleted_date: int
    scheduled_purge_date: int


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, inner: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.inner = status, code, message, inner

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.inner:
            err["innererror"] = {"code": self.inner}
        return {"error": err}


def _not_found(name: str, deleted: bool = False) -> ApiError:
    what = "Deleted Secret" if deleted else "A secret with (name/id)"
    return ApiError(404, "SecretNotFound", f"{what} {name} was not found in this key vault.")


def make_tls(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for 127.0.0.1/localhost it signed: (ca, cert, key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secretvault test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path, key_path


class _Endpoints:
    """The addresses clients need, from the port the server listens on."""

    port: int
    tenant = TENANT

    @property
    def url(self) -> str:
        """The vault URL (``azure_vault_url``)."""
        return f"https://127.0.0.1:{self.port}/"

    @property
    def authority(self) -> str:
        """The Entra authority to give ``ClientSecretCredential(authority=...)``."""
        return f"https://127.0.0.1:{self.port}"


class AzureKeyVaultServer(_Endpoints):
    """The server and its state; thread-safe (one lock around the state)."""

    def __init__(self, page_size: int = 25) -> None:
        self.page_size = page_size
        self.lock = threading.Lock()
        self.secrets: dict[str, Secret] = {}
        self.deleted: dict[str, Deleted] = {}
        self.clients: dict[str, str] = {DEFAULT_CLIENT: DEFAULT_SECRET}
        self.permissions: dict[str, frozenset[str]] = {}
        self.tokens: dict[str, str] = {}
        self.failures: list[int] = []
        self.stalls: list[float] = []
        self.requests = 0
        self._dir = tempfile.TemporaryDirectory(prefix="azkv-")
        self.ca_path, cert, key = make_tls(Path(self._dir.name))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
        self._httpd.kv = self
        self.port = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    # -- lifecycle and test controls ------------------------------------------------------------

    def start(self) -> AzureKeyVaultServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._dir.cleanup()

    def reset(self) -> None:
        """Forget every secret, identity restriction and queued failure (not issued tokens)."""
        with self.lock:
            self.secrets.clear()
            self.deleted.clear()
            self.permissions.clear()
            self.failures.clear()
            self.stalls.clear()
            self.clients = {DEFAULT_CLIENT: DEFAULT_SECRET}

    def add_client(self, client_id: str, secret: str, permissions: set[str] | None = None) -> None:
        """Register an identity; ``permissions`` limits its secret permissions (default all)."""
        with self.lock:
            self.clients[client_id] = secret
            if permissions is not None:
                self.permissions[client_id] = frozenset(permissions)

    def fail_next(self, *statuses: int) -> None:
        """Answer the next Key Vault requests with these statuses (e.g. 503) before serving."""
        with self.lock:
            self.failures.extend(statuses)

    def stall_next(self, *seconds: float) -> None:
        """Hold the next Key Vault requests this long before answering (a hung service)."""
        with self.lock:
            self.stalls.extend(seconds)

    # -- protocol ---------------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], dict[str, Any] | None]:
        parts = path.split("/")
        if len(parts) == 3 and parts[1] == "_test" and method == "POST":
            return self._control(parts[2], json.loads(body or b"{}"))
        if len(parts) >= 3 and parts[1] == TENANT:
            return self._entra(method, parts[2:], body)
        self.requests += 1
        auth = headers.get("Authorization")
        if not auth:
            challenge = (
                f'Bearer authorization="{self.authority}/{TENANT}", '
                'resource="https://vault.azure.net"'
            )
            return 401, {"WWW-Authenticate": challenge}, None
        with self.lock:
            delay = self.stalls.pop(0) if self.stalls else 0.0
        if delay:
            time.sleep(delay)  # outside the lock: only this request hangs
        with self.lock:
            client = self.tokens.get(auth.removeprefix("Bearer "))
            if client is None:
                raise ApiError(401, "Unauthorized", "AKV10022: Invalid audience or token.")
            if self.failures:
                status = self.failures.pop(0)
                raise ApiError(status, "ServiceUnavailable", "The service is busy; retry.")
            if "api-version" not in query:
                raise ApiError(400, "BadParameter", "api-version is missing")
            return self._vault(method, parts[1:], query, body, client)

    def _control(
        self, what: str, args: dict[str, Any]
    ) -> tuple[int, dict[str, str], dict[str, Any] | None]:
        """The test controls, for a server running in another process (``ServerProcess``)."""
        if what == "reset":
            self.reset()
        elif what == "client":
            perms = args.get("permissions")
            self.add_client(args["client_id"], args["secret"], set(perms) if perms else None)
        elif what == "fail":
            self.fail_next(*args["statuses"])
        elif what == "stall":
            self.stall_next(*args["seconds"])
        elif what == "stats":
            return 200, {}, {"requests": self.requests}
        else:
            return 404, {}, None
        return 200, {}, {}

    def _entra(
        self, method: str, parts: list[str], body: bytes
    ) -> tuple[int, dict[str, str], dict[str, Any] | None]:
        base = f"{self.authority}/{TENANT}"
        if method == "GET" and parts[-1] == "openid-configuration":
            return (
                200,
                {},
                {
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "issuer": f"{base}/v2.0",
                    "tenant_region_scope": None,
                },
            )
        if method == "POST" and parts[-1] == "token":
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            client = form.get("client_id", "")
            with self.lock:
                known = self.clients.get(client)
                if known is None or not pysecrets.compare_digest(
                    known, form.get("client_secret", "")
                ):
                    return (
                        401,
                        {},
                        {
                            "error": "invalid_client",
                            "error_description": "AADSTS7000215: Invalid client secret.",
                        },
                    )
                token = pysecrets.token_urlsafe(24)
                self.tokens[token] = client
            return 200, {}, {"token_type": "Bearer", "expires_in": 3600, "access_token": token}
        return 404, {}, {"error": "not_found"}

    def _allow(self, client: str, permission: str) -> None:
        allowed = self.permissions.get(client, ALL_PERMISSIONS)
        if permission not in allowed:
            raise ApiError(
                403,
                "Forbidden",
                f"The user, group or application 'appid={client}' does not have secrets "
                f"{permission} permission on key vault 'test-vault'.",
                "AccessDenied",
            )

    def _vault(
        self, method: str, parts: list[str], query: dict[str, str], body: bytes, client: str
    ) -> tuple[int, dict[str, str], dict[str, Any] | None]:
        payload = json.loads(body) if body else {}
        kind, rest = parts[0], parts[1:]
        if kind == "secrets":
            if not rest or rest == [""]:
                self._allow(client, "list")
                items = [self._item(s, s.versions[-1], True) for s in self._sorted(self.secrets)]
                return self._page(items, query, "secrets")
            name = rest[0]
            if len(rest) == 2 and rest[1] == "versions":
                self._allow(client, "list")
                secret = self._live(name)
                items = [self._item(secret, v, False) for v in secret.versions]
                return self._page(items, query, f"secrets/{name}/versions")
            version = rest[1] if len(rest) > 1 else ""
            if method == "PUT":
                self._allow(client, "set")
                return 200, {}, self._set(name, payload)
            if method == "GET":
                self._allow(client, "get")
                secret = self._live(name)
                found = self._version(secret, version)
                if not found.enabled:
                    raise ApiError(
                        403,
                        "Forbidden",
                        "Operation get is not allowed on a disabled secret.",
                        "SecretDisabled",
                    )
                return 200, {}, self._bundle(secret, found)
            if method == "PATCH":
                self._allow(client, "set")
                secret = self._live(name)
                found = self._version(secret, version)
                self._patch(found, payload)
                return 200, {}, self._bundle(secret, found, value=False)
            if method == "DELETE":
                self._allow(client, "delete")
                secret = self._live(name)
                now = int(time.time())
                gone = Deleted(secret, now, now + RETENTION_DAYS * 86400)
                del self.secrets[name.lower()]
                self.deleted[name.lower()] = gone
                return 200, {}, self._deleted(gone, bundle=True)
        if kind == "deletedsecrets":
            if not rest or rest == [""]:
                self._allow(client, "list")
                items = [self._deleted(d, bundle=False) for d in self._sorted(self.deleted)]
                return self._page(items, query, "deletedsecrets")
            name = rest[0]
            gone = self.deleted.get(name.lower())
            if len(rest) == 2 and rest[1] == "recover" and method == "POST":
                self._allow(client, "recover")
                if gone is None:
                    raise _not_found(name, deleted=True)
                del self.deleted[name.lower()]
                self.secrets[name.lower()] = gone.secret
                return 200, {}, self._bundle(gone.secret, gone.secret.versions[-1], value=False)
            if method == "GET":
                self._allow(client, "get")
                if gone is None:
                    raise _not_found(name, deleted=True)
                return 200, {}, self._deleted(gone, bundle=True)
            if method == "DELETE":
                self._allow(client, "purge")
                if gone is None:
                    raise _not_found(name, deleted=True)
                del self.deleted[name.lower()]
                return 204, {}, None
        raise ApiError(404, "NotFound", f"no route {method} /{'/'.join(parts)}")

    # -- state helpers (called under the lock) ---------------------------------------------------

    @staticmethod
    def _sorted(table: dict[str, Any]) -> list[Any]:
        return [table[k] for k in sorted(table)]

    def _live(self, name: str) -> Secret:
        secret = self.secrets.get(name.lower())
        if secret is None:
            raise _not_found(name)
        return secret

    @staticmethod
    def _version(secret: Secret, version: str) -> Version:
        if not version:
            return secret.versions[-1]
        for v in secret.versions:
            if v.id == version:
                return v
        raise _not_found(f"{secret.name}/{version}")

    def _set(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        if not NAME_RE.fullmatch(name):
            raise ApiError(
                400,
                "BadParameter",
                "The request URI contains an invalid name: "
                f"{name[:40]}. Follow this rule: '^[0-9a-zA-Z-]+$'.",
            )
        value = payload.get("value")
        if not isinstance(value, str) or len(value) > MAX_VALUE_CHARS:
            raise ApiError(400, "BadParameter", "Property value is invalid or too large.")
        tags = payload.get("tags") or {}
        self._check_tags(tags)
        if name.lower() in self.deleted:
            raise ApiError(
                409,
                "Conflict",
                f"Secret {name} is currently in a deleted but recoverable state, and its name "
                "cannot be reused; in this state, the secret can only be recovered or purged.",
                "ObjectIsDeletedButRecoverable",
            )
        attrs = payload.get("attributes") or {}
        now = int(time.time())
        version = Version(
            uuid.uuid4().hex,
            value,
            payload.get("contentType"),
            dict(tags),
            attrs.get("enabled", True) is not False,
            attrs.get("exp"),
            attrs.get("nbf"),
            now,
            now,
        )
        secret = self.secrets.setdefault(name.lower(), Secret(name))
        secret.versions.append(version)
        return self._bundle(secret, version)

    @staticmethod
    def _check_tags(tags: dict[str, Any]) -> None:
        if len(tags) > MAX_TAGS or any(
            not isinstance(v, str) or len(v) > MAX_TAG_VALUE for v in tags.values()
        ):
            raise ApiError(
                400,
                "BadParameter",
                f"Tags: at most {MAX_TAGS}, each value at most {MAX_TAG_VALUE} characters.",
            )

    def _patch(self, version: Version, payload: dict[str, Any]) -> None:
        if "tags" in payload and payload["tags"] is not None:
            self._check_tags(payload["tags"])
            version.tags = dict(payload["tags"])
        if "contentType" in payload and payload["contentType"] is not None:
            version.content_type = payload["contentType"]
        attrs = payload.get("attributes") or {}
        if "enabled" in attrs and attrs["enabled"] is not None:
            version.enabled = bool(attrs["enabled"])
        if "exp" in attrs:
            version.exp = attrs["exp"]
        if "nbf" in attrs:
            version.nbf = attrs["nbf"]
        version.updated = int(time.time())

    def _attrs(self, v: Version) -> dict[str, Any]:
        out: dict[str, Any] = {
            "enabled": v.enabled,
            "created": v.created,
            "updated": v.updated,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": RETENTION_DAYS,
        }
        if v.exp is not None:
            out["exp"] = v.exp
        if v.nbf is not None:
            out["nbf"] = v.nbf
        return out

    def _bundle(self, secret: Secret, v: Version, value: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": f"{self.url}secrets/{secret.name}/{v.id}",
            "attributes": self._attrs(v),
            "tags": dict(v.tags),
        }
        if value:
            out["value"] = v.value
        if v.content_type is not None:
            out["contentType"] = v.content_type
        return out

    def _item(self, secret: Secret, v: Version, latest: bool) -> dict[str, Any]:
        item = self._bundle(secret, v, value=False)
        if latest:
            item["id"] = f"{self.url}secrets/{secret.name}"
        return item

    def _deleted(self, gone: Deleted, bundle: bool) -> dict[str, Any]:
        latest = gone.secret.versions[-1]
        out = (
            self._bundle(gone.secret, latest, value=False)
            if bundle
            else self._item(gone.secret, latest, True)
        )
        out["recoveryId"] = f"{self.url}deletedsecrets/{gone.secret.name}"
        out["deletedDate"] = gone.deleted_date
        out["scheduledPurgeDate"] = gone.scheduled_purge_date
        return out

    def _page(
        self, items: list[dict[str, Any]], query: dict[str, str], route: str
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        size = min(int(query.get("maxresults") or self.page_size), self.page_size)
        start = int(query.get("$skiptoken") or 0)
        out: dict[str, Any] = {"value": items[start : start + size], "nextLink": None}
        if start + size < len(items):
            nxt = urlencode(
                {
                    "api-version": query["api-version"],
                    "$skiptoken": str(start + size),
                    "maxresults": str(size),
                }
            )
            out["nextLink"] = f"{self.url}{route}?{nxt}"
        return 200, {}, out


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # aio clients open many connections at once
    kv: AzureKeyVaultServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each response waits ~40 ms for delayed ACKs
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: request lines would clutter test output

    def _serve(self) -> None:
        split = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            status, headers, payload = self.server.kv.handle(
                self.command, split.path, query, self.headers, body
            )
        except ApiError as err:
            status, headers, payload = err.status, {}, err.body()
        data = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST = _serve


class ServerProcess(_Endpoints):
    """The server in a child process (``python azure_kv_server.py``), driven through its
    ``/_test/*`` control routes. A child keeps the test process single-threaded (the scanner's
    fork-based parallel scan requires it) and gives clients and server their own interpreters,
    as against a real service."""

    def __init__(self) -> None:
        import subprocess
        import sys

        self._proc = subprocess.Popen(
            [sys.executable, __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._proc.stdout is not None
        hello = json.loads(self._proc.stdout.readline() or b"{}")
        if "port" not in hello:
            self._proc.kill()
            raise RuntimeError("the Key Vault test server did not start")
        self.port: int = hello["port"]
        self.ca_path = Path(hello["ca"])
        self.clients: dict[str, str] = {DEFAULT_CLIENT: DEFAULT_SECRET}

    def _post(self, what: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        import http.client

        ctx = ssl.create_default_context(cafile=str(self.ca_path))
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=10)
        try:
            conn.request("POST", f"/_test/{what}", body=json.dumps(args or {}))
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"test server control {what}: {resp.status}")
            result: dict[str, Any] = json.loads(data or b"{}")
            return result
        finally:
            conn.close()

    def reset(self) -> None:
        """Empty the vault; forget identities and queued failures."""
        self.clients = {DEFAULT_CLIENT: DEFAULT_SECRET}
        self._post("reset")

    def add_client(self, client_id: str, secret: str, permissions: set[str] | None = None) -> None:
        """Register an identity; ``permissions`` limits its secret permissions (default all)."""
        self.clients[client_id] = secret
        self._post(
            "client",
            {"client_id": client_id, "secret": secret, "permissions": sorted(permissions or [])},
        )

    def fail_next(self, *statuses: int) -> None:
        """Answer the next Key Vault requests with these statuses before serving again."""
        self._post("fail", {"statuses": list(statuses)})

    def stall_next(self, *seconds: float) -> None:
        """Hold the next Key Vault requests this long before answering (a hung service)."""
        self._post("stall", {"seconds": list(seconds)})

    def requests(self) -> int:
        """Key Vault requests served so far (challenges included)."""
        return int(self._post("stats")["requests"])

    def stop(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()  # the child stops when its stdin closes
        try:
            self._proc.wait(timeout=10)
        except Exception:
            self._proc.kill()
            self._proc.wait()


_running: ServerProcess | None = None
_last_root: object = None


def running() -> ServerProcess:
    """The server the session fixture ``azure_kv`` started."""
    if _running is None:
        raise RuntimeError("the azure_kv fixture has not started the Key Vault test server")
    return _running


def start_shared() -> ServerProcess:
    """Start the session's server (the ``azure_kv`` fixture calls this once)."""
    global _running
    if _running is None:
        _running = ServerProcess()
    return _running


def stop_shared() -> None:
    global _running
    if _running is not None:
        _running.stop()
        _running = None


def fresh_for(owner: object) -> ServerProcess:
    """The running server, reset the first time a new ``owner`` (a test's tmp_path) asks, so
    every test starts from an empty vault while two vaults of one test share it."""
    global _last_root
    server = running()
    if owner != _last_root:
        server.reset()
        _last_root = owner
    return server


def client_options(server: ServerProcess, **extra: Any) -> dict[str, Any]:
    """``azure_client_options`` for this server: trust its CA, accept its challenge resource,
    and retry once (a test of a dead server should not wait for the default back-off)."""
    return {
        "connection_verify": str(server.ca_path),
        "verify_challenge_resource": False,
        "retry_total": 1,
        "retry_backoff_factor": 0.05,
        **extra,
    }


def credential_options(server: ServerProcess) -> dict[str, Any]:
    """``azure_credential_options`` that point ``ClientSecretCredential`` at this server."""
    return {
        "authority": server.authority,
        "disable_instance_discovery": True,
        "connection_verify": str(server.ca_path),
    }


def settings(server: ServerProcess, client: str = DEFAULT_CLIENT) -> dict[str, Any]:
    """The ``SecretsConfig`` fields that open this server with the real credential class."""
    return {
        "default_backend": "azure_key_vault",
        "azure_vault_url": server.url,
        "azure_tenant_id": TENANT,
        "azure_client_id": client,
        "azure_client_secret": server.clients.get(client, DEFAULT_SECRET),
        "azure_client_options": client_options(server),
        "azure_credential_options": credential_options(server),
    }


def main() -> None:
    """Child-process entry: print the port and CA path, serve until stdin closes."""
    import sys

    page = int(sys.argv[1]) if len(sys.argv) > 1 else 25
    server = AzureKeyVaultServer(page_size=page).start()
    print(json.dumps({"port": server.port, "ca": str(server.ca_path)}), flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
