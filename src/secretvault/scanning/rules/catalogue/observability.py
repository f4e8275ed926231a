"""Observability, logging and incident tooling: Datadog, New Relic, Sentry, Grafana, Honeycomb,
Dynatrace, PagerDuty, Splunk, Logz.io, Sumo Logic, Bugsnag, Rollbar, Loggly, Opsgenie, Mezmo,
Better Stack, Axiom, Instana, Coralogix.
"""

from __future__ import annotations

import json
import random

from secretvault.scanning.rules.base import Rule
from secretvault.scanning.rules.catalogue._dsl import SEV, Raw, Seg, ctx, rule, tok, uuid
from secretvault.scanning.rules.gen import alnum, b64_bytes, hexs, rand_bytes
from secretvault.scanning.rules.validators import not_placeholder


def _sentry_org_body(rng: random.Random) -> str:
    claims = {"iat": rng.randrange(1_700_000_000, 1_800_000_000), "url": "https://sentry.io",
              "region_url": "https://us.sentry.io", "org": alnum(rng, 8).lower()}  # fmt: skip
    return b64_bytes(json.dumps(claims).encode())[3:] + "_" + b64_bytes(rand_bytes(rng, 32))[:43]


def _grafana_cloud_body(rng: random.Random) -> str:
    claims = {"o": str(rng.randrange(10**5, 10**7)), "n": "stack-" + alnum(rng, 6),
              "k": alnum(rng, 24), "m": {"r": "us"}}  # fmt: skip
    return b64_bytes(json.dumps(claims, separators=(",", ":")).encode())


def _grafana_legacy_body(rng: random.Random) -> str:
    claims = {"k": alnum(rng, 32), "n": "deploy-" + alnum(rng, 4), "id": rng.randrange(1, 999)}
    return b64_bytes(json.dumps(claims, separators=(",", ":")).encode())[8:]


def _dd(pattern: str) -> str:
    return rf"(?:datadog[\w. -]*|(?:^|[^a-z0-9])dd[_. -]?){pattern}"


def _key(rid: str, desc: str, name: str, key: str, *segs: Seg) -> Rule:
    return ctx(
        rid,
        desc,
        rf"{name}[\w. -]*{key}",
        (
            f"{name}_api_key" if "key" in key else f"{name}_token",
            f"{name.upper()}_TOKEN" if "token" in key else f"{name.upper()}_API_KEY",
        ),
        *segs,
        kw=(name,),
    )


def _sentry_dsn(rng: random.Random) -> str:
    return (f'SENTRY_DSN="https://{hexs(rng, 32)}@o{rng.randrange(10**5, 10**7)}.ingest.sentry.io/'
            f'{rng.randrange(10**5, 10**7)}"')  # fmt: skip


RULES: list[Rule] = [
    ctx(
        "datadog-api-key",
        "Datadog API key",
        _dd(r"api[_. -]?key"),
        ("datadog_api_key", "DD_API_KEY"),
        ("hexi", 32),
        kw=("datadog", "dd_api", "dd-api", "dd.api", "dd api", "ddapi"),
    ),
    ctx(
        "datadog-app-key",
        "Datadog application key",
        _dd(r"app(?:lication)?[_. -]?key"),
        ("datadog_app_key", "DD_APPLICATION_KEY"),
        ("hexi", 40),
        kw=("datadog", "dd_app", "dd-app", "dd.app", "dd app", "ddapp"),
    ),
    tok("newrelic-user-api-key", "New Relic user API key", "NRAK-", ("u36", 27)),
    tok("newrelic-admin-api-key", "New Relic admin API key", "NRAA-", ("hex", 27)),
    tok("newrelic-insert-key", "New Relic insights insert key", "NRII-", ("b64u", 32)),
    tok("newrelic-insights-query-key", "New Relic insights query key", "NRIQ-", ("b64u", 32)),
    tok(
        "newrelic-browser-api-key",
        "New Relic browser API key",
        "NRJS-",
        ("hex", 19),
        sev=SEV.MEDIUM,
        conf=0.8,
    ),
    # License (ingest) keys are 40 chars: 36 hex followed by the literal "NRAL".
    tok(
        "newrelic-license-key", "New Relic license / ingest key", ("hex", 36), "NRAL", kw=("nral",)
    ),
    tok(
        "sentry-org-token",
        "Sentry organization auth token",
        "sntrys_eyJ",
        Raw(r"[A-Za-z0-9+/=_-]{60,600}", _sentry_org_body, tail="+/=-"),
    ),
    tok("sentry-user-token", "Sentry user auth token", "sntryu_", ("hex", 64)),
    rule(
        "sentry-dsn",
        "Sentry DSN (client key to a sentry.io project)",
        r"https://(?P<secret>[a-f0-9]{32})(?::[a-f0-9]{32})?@(?:o[0-9]+\.)?(?:ingest\.)?"
        r"(?:[a-z]{2}\.)?sentry\.io/[0-9]+",
        ("sentry.io",),
        _sentry_dsn,
        sev=SEV.LOW,
        conf=0.5,
        check=not_placeholder,
        negatives=lambda rng: ["https://" + "0" * 32 + "@o1.ingest.sentry.io/1"],
    ),
    tok(
        "grafana-cloud-token",
        "Grafana Cloud API / access-policy token",
        "glc_",
        Raw(r"[A-Za-z0-9+/]{32,400}={0,2}", _grafana_cloud_body, tail="+/="),
    ),
    tok(
        "grafana-service-account-token",
        "Grafana service-account token",
        "glsa_",
        ("a62", 32),
        "_",
        ("hexi", 8),
    ),
    # Legacy Grafana API keys are base64 of {"k":"...","n":"...","id":N}.
    tok(
        "grafana-api-key",
        "Grafana legacy API key",
        "eyJrIjoi",
        Raw(r"[A-Za-z0-9+/]{70,400}={0,2}", _grafana_legacy_body, tail="+/="),
    ),
    ctx(
        "honeycomb-api-key",
        "Honeycomb API / ingest key",
        r"honeycomb[\w. -]*(?:api[_. -]?)?key",
        ("honeycomb_api_key", "HONEYCOMB_WRITEKEY"),
        ("a62", 22, 32),
        kw=("honeycomb",),
    ),
    tok("dynatrace-api-token", "Dynatrace API token", "dt0c01.", ("u36", 24), ".", ("u36", 64)),
    ctx(
        "pagerduty-api-key",
        "PagerDuty REST API key",
        r"pagerduty[\w. -]*(?:api[_. -]?)?(?:key|token)",
        ("pagerduty_api_key", "PAGERDUTY_TOKEN"),
        Raw(r"[A-Za-z0-9_+-]{20}", lambda rng: "u+" + alnum(rng, 18), tail="+-"),
        kw=("pagerduty",),
    ),
    ctx(
        "pagerduty-integration-key",
        "PagerDuty Events API integration / routing key",
        r"pagerduty[\w. -]*(?:routing|integration|service)[_. -]?key",
        ("pagerduty_routing_key", "PAGERDUTY_INTEGRATION_KEY"),
        ("hex", 32),
        kw=("pagerduty",),
    ),
    ctx(
        "splunk-hec-token",
        "Splunk HTTP Event Collector token",
        r"(?:splunk|hec)[\w. -]*token",
        ("splunk_hec_token", "HEC_TOKEN"),
        *uuid(),
        kw=("splunk", "hec"),
    ),
    _key("logzio-token", "Logz.io shipping / API token", "logzio", "token", ("alpha", 32)),
    ctx(
        "sumologic-access-key",
        "Sumo Logic access key",
        r"sumo[\w. -]*(?:access[_. -]?)?key",
        ("sumo_access_key", "SUMOLOGIC_ACCESSKEY"),
        ("a62", 64),
        kw=("sumo",),
    ),
    _key("bugsnag-api-key", "Bugsnag API key", "bugsnag", r"(?:api[_. -]?)?key", ("hex", 32)),
    _key(
        "rollbar-access-token",
        "Rollbar access token",
        "rollbar",
        r"(?:access[_. -]?)?token",
        ("hex", 32),
    ),
    _key("loggly-token", "Loggly customer token", "loggly", "token", *uuid()),
    _key("opsgenie-api-key", "Opsgenie API key", "opsgenie", r"(?:api[_. -]?)?key", *uuid()),
    ctx(
        "mezmo-ingestion-key",
        "Mezmo (LogDNA) ingestion key",
        r"(?:logdna|mezmo)[\w. -]*(?:ingestion[_. -]?)?key",
        ("logdna_ingestion_key", "MEZMO_INGESTION_KEY"),
        ("hex", 32),
        kw=("logdna", "mezmo"),
    ),
    ctx(
        "betterstack-token",
        "Better Stack (Logtail) source token",
        r"(?:logtail|betterstack)[\w. -]*token",
        ("logtail_source_token", "BETTERSTACK_TOKEN"),
        ("a62", 24),
        kw=("logtail", "betterstack"),
    ),
    tok(
        "axiom-api-token",
        "Axiom API / personal token",
        Raw("xa[ap]t-", lambda rng: rng.choice(["xaat-", "xapt-"])),
        *uuid("hex"),
        kw=("xaat-", "xapt-"),
    ),
    _key(
        "instana-agent-key",
        "IBM Instana agent key",
        "instana",
        r"(?:agent[_. -]?)?key",
        ("b64u", 22),
    ),
    _key(
        "coralogix-api-key",
        "Coralogix private / send-your-data key",
        "coralogix",
        r"(?:private[_. -]?|api[_. -]?)?key",
        *uuid(),
    ),
]
