"""Each server backend's one error table: SDK exceptions become our errors, with the guide's
troubleshooting texts and a hint, and never the SDK's own text (it may carry a response)."""

from __future__ import annotations

import botocore.exceptions as bx
import hvac.exceptions as hv
import pytest
import requests

from secretvault.backends import aws, vault
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

LEAK = "sk-THIS-MUST-NOT-APPEAR"


@pytest.mark.parametrize(
    ("exc", "kind", "text"),
    [
        (requests.exceptions.ConnectionError(LEAK), BackendUnavailableError, "connection refused"),
        (requests.exceptions.SSLError(LEAK), BackendUnavailableError, "TLS"),
        (requests.exceptions.ReadTimeout(LEAK), BackendUnavailableError, "did not answer"),
        (hv.Forbidden(LEAK), AuthorizationError, "permission denied"),
        (hv.Unauthorized(LEAK), AuthorizationError, "credentials"),
        (hv.VaultDown(LEAK), BackendUnavailableError, "sealed"),
        (hv.InvalidPath(LEAK), SecretNotFoundError, "has no"),
        (hv.InvalidRequest(LEAK), InvalidArgumentError, "invalid"),
        (hv.InvalidRequest("check-and-set parameter did not match"), VersionConflictError, ""),
        (hv.InternalServerError(LEAK), BackendUnavailableError, "failed"),
    ],
)
def test_vault_errors(exc: BaseException, kind: type[SecretVaultError], text: str) -> None:
    err = vault.map_error(exc, "read of 'x'", "http://127.0.0.1:8200")
    assert type(err) is kind and text in str(err) and err.hint
    assert LEAK not in str(err)


def _client_error(code: str, status: int = 400) -> bx.ClientError:
    return bx.ClientError(
        {"Error": {"Code": code, "Message": LEAK}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "GetSecretValue",
    )


@pytest.mark.parametrize(
    ("exc", "kind", "text"),
    [
        (_client_error("ResourceNotFoundException"), SecretNotFoundError, "has no"),
        (_client_error("AccessDeniedException"), AuthorizationError, "access denied"),
        (_client_error("UnrecognizedClientException"), AuthorizationError, "credentials"),
        (_client_error("ResourceExistsException"), VersionConflictError, "another writer"),
        (_client_error("InvalidRequestException"), SecretPendingDeletionError, "deletion"),
        (_client_error("ThrottlingException"), BackendUnavailableError, "throttled"),
        (_client_error("SomethingNew", 403), AuthorizationError, "denied"),
        (_client_error("SomethingNew", 500), BackendUnavailableError, "failed"),
        (bx.NoCredentialsError(), ConfigurationError, "AWS credentials not found"),
        (bx.NoRegionError(), ConfigurationError, "region"),
        (bx.EndpointConnectionError(endpoint_url="http://x"), BackendUnavailableError, "reach"),
    ],
)
def test_aws_errors(exc: BaseException, kind: type[SecretVaultError], text: str) -> None:
    err = aws.map_error(exc, "secret 'x'", "http://127.0.0.1:5005")
    assert type(err) is kind and text in str(err)
    assert LEAK not in str(err)
