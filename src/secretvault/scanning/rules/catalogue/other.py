"""SaaS, developer platforms and everything else: HashiCorp Vault / Terraform Cloud, Doppler,
Pulumi, Atlassian, Linear, Notion, Airtable, Asana, Figma, Okta, Auth0, Firebase Cloud
Messaging, Mapbox, Algolia, Contentful, Dropbox, Shippo, Intercom, Zendesk, HubSpot, Typeform,
Postman, Netlify, Vercel, Fly.io, Render, Railway, 1Password, Tailscale, Twitch, Twitter/X,
Facebook, LinkedIn, Prefect, ReadMe, Frame.io, Duffel, EasyPost, Infracost, Scalingo,
Cloudinary, LaunchDarkly, Trello, Sourcegraph-like dev tools.
"""

from __future__ import annotations

import json
import random

from secretvault.scanning.rules.base import Rule
from secretvault.scanning.rules.catalogue._dsl import CTX_REGEX, SEV, ST, Raw, ctx, rule, tok, uuid
from secretvault.scanning.rules.gen import alnum, b64url_bytes, chars, hexs
from secretvault.scanning.rules.validators import base64_decodes, not_placeholder

_A62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _named(
    rid: str, desc: str, name: str, key: str, *segs: object, ex: tuple[str, ...] = (),
    **kw: object,
) -> Rule:  # fmt: skip
    """``<name>..<key> = value``; ``ex`` lists the literal names when ``name`` is a regex."""
    suffix = "secret" if "secret" in key else "token" if "token" in key else "api_key"
    bases = ex or (name,)
    names = tuple(n for b in bases for n in (f"{b}_{suffix}", f"{b.upper()}_{suffix.upper()}"))
    return ctx(rid, desc, rf"{name}[\w. -]*{key}", names, *segs, kw=bases, **kw)  # type: ignore[arg-type]


def _mapbox_body(rng: random.Random) -> str:
    claims = {"u": alnum(rng, 8).lower(), "a": alnum(rng, 25).lower()}
    return b64url_bytes(json.dumps(claims, separators=(",", ":")).encode())[7:]


def _ops_body(rng: random.Random) -> str:
    claims = {
        "signInAddress": "my.1password.com",
        "userAuth": {
            "method": "SRPg-4096",
            "alg": "PBES2g-HS256",
            "iterations": 650000,
            "salt": alnum(rng, 22),
        },
        "email": alnum(rng, 12).lower() + "@1passwordserviceaccounts.com",
        "srpX": hexs(rng, 64),
        "muk": {
            "alg": "A256GCM",
            "ext": True,
            "k": alnum(rng, 43),
            "key_ops": ["encrypt", "decrypt"],
            "kty": "oct",
            "kid": "mp",
        },
        "secretKey": "A3-" + alnum(rng, 6).upper(),
        "deviceUuid": alnum(rng, 26).lower(),
    }
    return b64url_bytes(json.dumps(claims).encode())[3:]  # fmt: skip


def _twitter_bearer(rng: random.Random) -> str:
    return "A" * 22 + alnum(rng, 30) + "%3D" + alnum(rng, 55)


def _twitter_example(rng: random.Random) -> str:
    return rng.choice(
        ['TWITTER_BEARER_TOKEN="{}"', 'curl -H "Authorization: Bearer {}"', "x_bearer_token: {}"]
    ).format(_twitter_bearer(rng))


def _twitter_ok(token: str) -> bool:
    return not_placeholder(token.lstrip("A"))


def _fcm(rng: random.Random) -> str:
    b64u = _A62 + "_-"
    return "AAAA" + chars(rng, b64u, 7) + ":APA91b" + chars(rng, b64u, 134)


def _cloudinary(rng: random.Random) -> str:
    return f"CLOUDINARY_URL=cloudinary://{rng.randrange(10**14, 10**15)}:{alnum(rng, 27)}@acme"


def _dropbox_long(rng: random.Random) -> str:
    return alnum(rng, 11).lower() + "A" * 10 + chars(rng, _A62.lower() + "_-", 43)


RULES: list[Rule] = [
    tok(
        "vault-service-token",
        "HashiCorp Vault service token (hvs.)",
        "hvs.",
        ("b64u", 90, 120),
        sev=SEV.CRITICAL,
    ),
    tok(
        "vault-batch-token",
        "HashiCorp Vault batch token (hvb.)",
        "hvb.",
        ("b64u", 138, 300),
        sev=SEV.CRITICAL,
    ),
    ctx(
        "vault-legacy-token",
        "HashiCorp Vault legacy token (s.)",
        r"vault[\w. -]*token",
        ("vault_token", "VAULT_TOKEN"),
        "s.",
        ("a62", 24),
        kw=("vault",),
        sev=SEV.CRITICAL,
    ),
    tok(
        "terraform-cloud-token",
        "Terraform Cloud / Enterprise API token",
        ("a62", 14),
        ".atlasv1.",
        ("b64u", 60, 70),
        kw=(".atlasv1.",),
        sev=SEV.CRITICAL,
    ),
    *(
        tok(f"doppler-{name}-token", f"Doppler {label} token", f"dp.{code}.", ("a62", 40, 44))
        for name, label, code in [
            ("personal", "personal", "pt"),
            ("service", "service", "st"),
            ("service-account", "service-account", "sa"),
            ("cli", "CLI", "ct"),
            ("scim", "SCIM", "scim"),
            ("audit", "audit", "audit"),
        ]
    ),
    tok("pulumi-access-token", "Pulumi access token", "pul-", ("hex", 40)),
    tok(
        "atlassian-api-token",
        "Atlassian API token (Jira, Confluence)",
        "ATATT3",
        ("b64u", 180, 190),
        "=",
        ("HEX", 8),
    ),
    _named(
        "atlassian-api-token-legacy",
        "Atlassian legacy API token",
        r"(?:atlassian|jira|confluence)",
        r"[\w. -]*token",
        ("a62", 24),
        ex=("atlassian", "jira", "confluence"),
    ),
    tok("linear-api-key", "Linear personal API key", "lin_api_", ("a62", 40)),
    tok(
        "linear-oauth-token",
        "Linear OAuth access token",
        "lin_oauth_",
        ("hex", 64),
        st=ST.OAUTH_TOKEN,
    ),
    _named(
        "notion-integration-token-legacy",
        "Notion internal integration secret (secret_)",
        "notion",
        r"(?:token|secret|key)",
        "secret_",
        ("a62", 43),
    ),
    tok(
        "notion-integration-token",
        "Notion integration token (ntn_)",
        "ntn_",
        ("dig", 11),
        ("a62", 35),
    ),
    tok("airtable-pat", "Airtable personal access token", "pat", ("a62", 14), ".", ("hex", 64)),
    _named(
        "asana-pat",
        "Asana personal access token",
        "asana",
        r"(?:token|pat)",
        Raw(
            "[0-9]/[0-9]{10,20}(?::|/[0-9]{10,20}:)",
            lambda rng: (
                "2/"
                + str(rng.randrange(10**15, 10**16))
                + "/"
                + str(rng.randrange(10**15, 10**16))
                + ":"
            ),
        ),
        ("hex", 32),
    ),
    tok("figma-pat", "Figma personal access token", "figd_", ("b64u", 40)),
    _named("okta-api-token", "Okta API token", "okta", r"(?:api[_. -]?)?token", "00", ("b64u", 40)),
    _named(
        "auth0-client-secret",
        "Auth0 application client secret",
        "auth0",
        r"(?:client[_. -]?)?secret",
        ("b64u", 64),
    ),
    tok(
        "firebase-fcm-server-key",
        "Firebase Cloud Messaging legacy server key",
        "AAAA",
        ("b64u", 7),
        ":APA91b",
        ("b64u", 134),
        kw=(":apa91b",),
        make=_fcm,
    ),
    tok(
        "mapbox-secret-token",
        "Mapbox secret access token",
        "sk.eyJ1Ijoi",
        Raw(r"[A-Za-z0-9_-]{20,400}", _mapbox_body, tail="-"),
        ".",
        ("b64u", 22),
    ),
    _named(
        "algolia-admin-key",
        "Algolia admin API key",
        "algolia",
        r"(?:admin[_. -]?)?(?:api[_. -]?)?key",
        ("hex", 32),
    ),
    tok("contentful-pat", "Contentful personal access token", "CFPAT-", ("b64u", 43)),
    tok(
        "dropbox-short-lived-token",
        "Dropbox short-lived access token",
        "sl.",
        ("b64u", 130, 1500),
        st=ST.OAUTH_TOKEN,
        kw=("sl.",),
    ),
    ctx(
        "dropbox-long-lived-token",
        "Dropbox long-lived access token",
        r"dropbox[\w. -]*token",
        ("dropbox_token", "DROPBOX_ACCESS_TOKEN"),
        Raw(r"[a-z0-9]{11}AAAAAAAAAA[a-z0-9_-]{43}", _dropbox_long, tail="-"),
        kw=("dropbox",),
        plausible=False,
        check=lambda s: not_placeholder(s[21:]),
    ),
    tok("shippo-live-token", "Shippo live API token", "shippo_live_", ("hex", 40)),
    _named(
        "intercom-access-token",
        "Intercom access token",
        "intercom",
        r"(?:access[_. -]?)?token",
        ("b64u", 59),
        "=",
    ),
    _named(
        "zendesk-api-token", "Zendesk API token", "zendesk", r"(?:api[_. -]?)?token", ("a62", 40)
    ),
    tok(
        "hubspot-private-app-token",
        "HubSpot private app access token",
        Raw("pat-(?:na|eu)1-", lambda rng: rng.choice(["pat-na1-", "pat-eu1-"])),
        *uuid("hex"),
        kw=("pat-na1-", "pat-eu1-"),
    ),
    tok("typeform-pat", "Typeform personal access token", "tfp_", ("b64u", 59)),
    tok("postman-api-key", "Postman API key", "PMAK-", ("hex", 24), "-", ("hex", 34)),
    tok("netlify-pat", "Netlify personal access token", "nfp_", ("a62", 36)),
    _named("vercel-token", "Vercel access token", "vercel", "token", ("a62", 24)),
    tok("flyio-access-token", "Fly.io access token", "fo1_", ("b64u", 43)),
    tok("render-api-key", "Render API key", "rnd_", ("a62", 32)),
    _named("railway-token", "Railway API / project token", "railway", "token", *uuid()),
    tok(
        "onepassword-service-account-token",
        "1Password service account token",
        "ops_eyJ",
        Raw(r"[A-Za-z0-9+/_=-]{250,}", _ops_body, tail="+/=-"),
        check=lambda s: base64_decodes(s[4:], 150),
    ),
    tok(
        "tailscale-key",
        "Tailscale API / auth / OAuth key",
        Raw(
            "tskey-(?:api|auth|client|webhook|scim)-",
            lambda rng: rng.choice(["tskey-api-", "tskey-auth-", "tskey-client-"]),
        ),
        ("a62", 10, 20),
        "-",
        ("a62", 30, 40),
        kw=("tskey-",),
    ),
    _named(
        "twitch-oauth-token",
        "Twitch API OAuth token / client secret",
        "twitch",
        r"(?:token|secret)",
        ("l36", 30),
    ),
    # Runs of "A" also open base64 of zero bytes, so the bearer shape alone is not enough:
    # it must follow a Twitter-named key or an HTTP "Bearer " scheme.
    rule(
        "twitter-bearer-token",
        "Twitter / X app-only bearer token",
        r"(?:(?i:(?:twitter|x)[_. -]?(?:api[_. -]?)?(?:bearer[_. -]?)?token)"
        + CTX_REGEX
        + r"|Bearer )(?P<secret>A{22}[A-Za-z0-9%]{80,120})(?:[^A-Za-z0-9_%]|$)",
        ("twitter", "bearer aaaa", "x_bearer", "x_api"),
        _twitter_example,
        st=ST.OAUTH_TOKEN,
        check=_twitter_ok,
        negatives=lambda rng: ["icon = base64," + _twitter_bearer(rng)],
    ),
    _named(
        "twitter-api-secret",
        "Twitter / X consumer or access-token secret",
        r"(?:twitter|x_api)",
        r"(?:api[_. -]?|consumer[_. -]?|access[_. -]?token[_. -]?)?secret",
        ("a62", 45, 50),
        ex=("twitter",),
    ),
    tok(
        "facebook-access-token",
        "Facebook / Meta Graph API access token",
        Raw("EAA[MC]", lambda rng: rng.choice(["EAAM", "EAAC"])),
        ("a62", 100, 400),
        kw=("eaam", "eaac"),
        st=ST.OAUTH_TOKEN,
    ),
    _named(
        "facebook-app-secret",
        "Facebook / Meta app secret",
        r"(?:facebook|fb)",
        r"(?:app[_. -]?)?secret",
        ("hex", 32),
        ex=("facebook", "fb"),
    ),
    _named(
        "linkedin-client-secret",
        "LinkedIn OAuth client secret",
        "linkedin",
        r"(?:client[_. -]?)?secret",
        ("a62", 16),
    ),
    tok("prefect-api-key", "Prefect Cloud API key", "pnu_", ("a62", 36)),
    tok("readme-api-key", "ReadMe API key", "rdme_", ("l36", 70)),
    tok("frameio-api-token", "Frame.io developer token", "fio-u-", ("b64u", 64)),
    tok(
        "duffel-api-token",
        "Duffel API token",
        Raw("duffel_(?:test|live)_", lambda rng: "duffel_live_"),
        ("b64u", 43),
        kw=("duffel_",),
    ),
    tok("easypost-api-key", "EasyPost production API key", "EZAK", ("a62", 54)),
    tok("infracost-api-token", "Infracost API token", "ico-", ("a62", 32)),
    tok("scalingo-api-token", "Scalingo API token", "tk-us-", ("b64u", 48)),
    rule(
        "cloudinary-url",
        "Cloudinary URL with API secret",
        r"cloudinary://[0-9]{10,20}:(?P<secret>[A-Za-z0-9_-]{27})@[a-z0-9_-]{1,64}",
        ("cloudinary://",),
        _cloudinary,
        check=not_placeholder,
        negatives=lambda rng: ["cloudinary://123456789012345:<api_secret>@acme"],
    ),
    _named(
        "launchdarkly-access-token",
        "LaunchDarkly API access token",
        "launchdarkly",
        r"(?:access[_. -]?)?token",
        "api-",
        *uuid("hex"),
    ),
    _named("trello-api-token", "Trello API token", "trello", "token", ("a62", 64)),
    tok("mailersend-api-token", "MailerSend API token", "mlsn.", ("hex", 64), kw=("mlsn.",)),
    _named(
        "jumpcloud-api-key", "JumpCloud API key", "jumpcloud", r"(?:api[_. -]?)?key", ("hex", 40)
    ),
    _named(
        "sentinelone-api-token",
        "SentinelOne API token",
        "sentinelone",
        r"(?:api[_. -]?)?token",
        ("a62", 80),
    ),
    _named(
        "hcp-client-secret",
        "HashiCorp Cloud Platform service principal secret",
        "hcp",
        r"(?:client[_. -]?)?secret",
        ("a62", 64),
    ),
]
