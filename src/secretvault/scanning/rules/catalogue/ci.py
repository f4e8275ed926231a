"""CI/CD and code-quality services: CircleCI, Travis, Buildkite, Jenkins, Drone, Azure DevOps,
TeamCity, Harness, Bitrise, Codecov, Octopus Deploy, SonarQube, Snyk, Codacy, Coveralls, Percy.
"""

from __future__ import annotations

from secretvault.scanning.rules.base import Rule
from secretvault.scanning.rules.catalogue._dsl import Raw, ctx, tok, uuid

RULES: list[Rule] = [
    ctx("circleci-api-token", "CircleCI personal/project API token",
        r"circle(?:ci)?[\w. -]*token", ("circleci_token", "CIRCLE_TOKEN"), ("hex", 40),
        kw=("circle",)),
    tok("circleci-personal-token", "CircleCI personal API token (CCIPAT_ format)", "CCIPAT_",
        ("a62", 22), "_", ("hex", 40)),
    tok("circleci-project-token", "CircleCI project API token (CCIPRJ_ format)", "CCIPRJ_",
        ("a62", 22), "_", ("hex", 40)),
    ctx("travis-ci-token", "Travis CI API token", r"travis[\w. -]*token",
        ("travis_token", "TRAVIS_API_TOKEN"), ("b64u", 22), kw=("travis",)),
    tok("buildkite-api-token", "Buildkite user API access token", "bkua_", ("hex", 40)),
    ctx("buildkite-agent-token", "Buildkite agent registration token",
        r"buildkite[\w. -]*agent[_. -]?token", ("buildkite_agent_token", "BUILDKITE_AGENT_TOKEN"),
        ("a62", 40, 64), kw=("buildkite",)),
    # Jenkins API tokens are 34 hex characters and always start with "11".
    ctx("jenkins-api-token", "Jenkins API token", r"jenkins[\w. -]*(?:token|api[_. -]?key)",
        ("jenkins_api_token", "JENKINS_TOKEN"), "11", ("hex", 32), kw=("jenkins",)),
    ctx("drone-ci-token", "Drone CI access token", r"drone[\w. -]*token",
        ("drone_token", "DRONE_TOKEN"), ("a62", 32), kw=("drone",)),
    ctx("azure-devops-pat", "Azure DevOps personal access token (52 base32 chars)",
        r"(?:azure[_. -]?devops|vsts|ado)[\w. -]*(?:pat|token)",
        ("azure_devops_pat", "AZURE_DEVOPS_TOKEN", "VSTS_PAT"), ("b32l", 52),
        kw=("azure", "vsts", "ado")),
    ctx("azure-devops-pat-v2", "Azure DevOps personal access token (84-char format)",
        r"(?:azure[_. -]?devops|vsts|ado)[\w. -]*(?:pat|token)",
        ("azure_devops_pat", "AZURE_DEVOPS_EXT_PAT"), ("a62", 84), kw=("azure", "vsts", "ado")),
    # TeamCity tokens are JWT-shaped with the fixed header {"typ": "TCV2"} (no "alg").
    tok("teamcity-access-token", "JetBrains TeamCity access token", "eyJ0eXAiOiAiVENWMiJ9.",
        ("b64u", 36), ".", ("b64u", 48)),
    tok("harness-access-token", "Harness personal / service-account token",
        Raw(r"(?:pat|sat)\.", lambda rng: rng.choice(["pat.", "sat."])), ("b64u", 22), ".",
        ("hex", 24), ".", ("a62", 20), kw=("pat.", "sat.")),
    ctx("bitrise-token", "Bitrise personal access token", r"bitrise[\w. -]*token",
        ("bitrise_token", "BITRISE_ACCESS_TOKEN"), ("b64u", 60, 90), kw=("bitrise",)),
    ctx("codecov-token", "Codecov upload token", r"codecov[\w. -]*token",
        ("codecov_token", "CODECOV_TOKEN"), *uuid(), kw=("codecov",)),
    ctx("octopus-deploy-api-key", "Octopus Deploy API key",
        r"octopus[\w. -]*(?:api[_. -]?key|token)",
        ("octopus_api_key", "OCTOPUS_CLI_API_KEY"), "API-", ("u36", 25, 32), kw=("octopus",)),
    tok("sonarqube-token", "SonarQube / SonarCloud user, project or global token",
        Raw("sq[pua]_", lambda rng: rng.choice(["sqp_", "squ_", "sqa_"])), ("hex", 40),
        kw=("sqp_", "squ_", "sqa_")),
    ctx("snyk-api-token", "Snyk API token", r"snyk[\w. -]*(?:token|api[_. -]?key)",
        ("snyk_token", "SNYK_API_KEY"), *uuid(), kw=("snyk",)),
    ctx("codacy-api-token", "Codacy API / project token", r"codacy[\w. -]*token",
        ("codacy_project_token", "CODACY_API_TOKEN"), ("a62", 20, 32), kw=("codacy",)),
    ctx("coveralls-repo-token", "Coveralls repository token", r"coveralls[\w. -]*token",
        ("coveralls_repo_token", "COVERALLS_REPO_TOKEN"), ("a62", 32, 37), kw=("coveralls",)),
    ctx("percy-token", "Percy visual-testing token", r"percy[\w. -]*token",
        ("percy_token", "PERCY_TOKEN"), ("hex", 64), kw=("percy",)),
]
