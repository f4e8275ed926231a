"""Version-control hosting: GitHub, GitLab, Bitbucket, Gitea/Gogs, Sourcegraph."""

from __future__ import annotations

import random

from secretvault.models import SecretType
from secretvault.scanning.rules.base import Rule
from secretvault.scanning.rules.catalogue._dsl import ST, Raw, ctx, tok
from secretvault.scanning.rules.gen import bad_crc32_token, crc32_token
from secretvault.scanning.rules.validators import digit_and_letter, github_crc32_ok


def _github(rid: str, desc: str, prefix: str, st: SecretType) -> Rule:
    # GitHub's 2021 format: prefix + 30 base62 + 6-char base62 CRC32 of the random part.
    def make(rng: random.Random) -> str:
        return crc32_token(rng, prefix)

    def neg(rng: random.Random) -> list[str]:
        return [bad_crc32_token(rng, prefix)]

    return tok(rid, desc, prefix, ("a62", 36), st=st, check=github_crc32_ok, make=make, neg=neg)


_GITHUB = [
    ("github-pat-classic", "GitHub personal access token (classic)", "ghp_", ST.API_KEY),
    ("github-oauth-token", "GitHub OAuth access token", "gho_", ST.OAUTH_TOKEN),
    ("github-user-to-server-token", "GitHub App user-to-server token", "ghu_", ST.OAUTH_TOKEN),
    ("github-server-to-server-token", "GitHub App installation token", "ghs_", ST.OAUTH_TOKEN),
    ("github-refresh-token", "GitHub App refresh token", "ghr_", ST.OAUTH_TOKEN),
]

# GitLab token prefixes (docs.gitlab.com "Token overview"), with their documented body lengths.
_GITLAB: list[tuple[str, str, str, tuple[str, int] | tuple[str, int, int]]] = [
    ("gitlab-pat", "GitLab personal/project/group access token", "glpat-", ("b64u", 20, 300)),
    ("gitlab-deploy-token", "GitLab deploy token", "gldt-", ("b64u", 20)),
    ("gitlab-runner-auth-token", "GitLab runner authentication token", "glrt-", ("b64u", 20, 64)),
    (
        "gitlab-runner-registration-token",
        "GitLab runner registration token",
        "GR1348941",
        ("b64u", 20),
    ),
    ("gitlab-pipeline-trigger-token", "GitLab pipeline trigger token", "glptt-", ("hex", 40)),
    ("gitlab-feed-token", "GitLab feed token", "glft-", ("b64u", 20)),
    ("gitlab-incoming-mail-token", "GitLab incoming email token", "glimt-", ("b64u", 25)),
    ("gitlab-oauth-app-secret", "GitLab OAuth application secret", "gloas-", ("b64u", 64)),
    ("gitlab-scim-token", "GitLab SCIM OAuth token", "glsoat-", ("b64u", 20)),
    ("gitlab-agent-token", "GitLab agent for Kubernetes token", "glagent-", ("b64u", 50)),
    ("gitlab-feature-flag-token", "GitLab feature-flags client token", "glffct-", ("b64u", 20)),
]

RULES: list[Rule] = [
    *(_github(*row) for row in _GITHUB),
    tok(
        "github-fine-grained-pat",
        "GitHub fine-grained personal access token",
        "github_pat_",
        ("a62", 22),
        "_",
        ("a62", 59),
    ),
    ctx(
        "github-oauth-client-secret",
        "GitHub OAuth app client secret",
        r"github[\w. -]*client[_. -]?secret",
        ("github_client_secret", "GITHUB_CLIENT_SECRET"),
        ("hex", 40),
        kw=("github",),
    ),
    *(tok(rid, desc, prefix, body) for rid, desc, prefix, body in _GITLAB),
    tok(
        "gitlab-ci-build-token",
        "GitLab CI/CD job token",
        "glcbt-",
        ("a62", 1, 5),
        "_",
        ("b64u", 20),
    ),
    tok(
        "bitbucket-app-password",
        "Bitbucket app password / Atlassian API token for Bitbucket",
        "ATBB",
        ("a62", 28, 40),
        conf=0.85,
        check=digit_and_letter,
    ),
    ctx(
        "bitbucket-client-secret",
        "Bitbucket OAuth consumer secret",
        r"bitbucket[\w. -]*secret",
        ("bitbucket_client_secret", "BITBUCKET_SECRET"),
        ("b64u", 64),
        kw=("bitbucket",),
    ),
    ctx(
        "gitea-access-token",
        "Gitea / Forgejo access token",
        r"(?:gitea|forgejo)[\w. -]*token",
        ("gitea_token", "FORGEJO_TOKEN"),
        ("hex", 40),
        kw=("gitea", "forgejo"),
    ),
    ctx(
        "gogs-access-token",
        "Gogs access token",
        r"gogs[\w. -]*token",
        ("gogs_token", "GOGS_ACCESS_TOKEN"),
        ("hex", 40),
        kw=("gogs",),
    ),
    tok(
        "sourcegraph-access-token",
        "Sourcegraph access token",
        "sgp_",
        Raw("(?:[a-f0-9]{16}|local)_", lambda rng: rng.choice(["local_", "0123abcd4567ef89_"])),
        ("hex", 40),
    ),
]
