"""Cloud providers: AWS, Google Cloud, Azure, DigitalOcean, Alibaba, Tencent, IBM, Heroku,
Cloudflare, Fastly, Linode, Vultr, Scaleway, Hetzner, Yandex.
"""

from __future__ import annotations

import random

from secretvault.scanning.rules.base import Rule
from secretvault.scanning.rules.catalogue._dsl import (
    CTX_REGEX,
    CTX_TEMPLATES,
    SEV,
    ST,
    Raw,
    ctx,
    name_forms,
    rule,
    tok,
    uuid,
)
from secretvault.scanning.rules.gen import alnum, b64_bytes, chars, pem_private_key, rand_bytes
from secretvault.scanning.rules.validators import (
    all_of,
    base64_len,
    digit_and_letter,
    not_placeholder,
    pem_body_ok,
)

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B32U = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
# Header pieces kept apart so this file holds no PEM-looking literal.
_BEGIN, _END, _PK = "-----" + "BEGIN ", "-----" + "END ", "PRIVATE" + " KEY"
_AWS_KEY_NAMES = ("aws_secret_access_key", "AWS_SECRET_KEY", "aws_access_key")


def _aws_key_id(rng: random.Random, prefix: str = "AKIA") -> str:
    return prefix + chars(rng, _B32U, 16)


def _aws_secret(rng: random.Random) -> str:
    return chars(rng, _B64, 40)


def _aws_secret_example(rng: random.Random) -> str:
    forms = name_forms(rng.choice(_AWS_KEY_NAMES))
    return rng.choice(CTX_TEMPLATES).format(v=_aws_secret(rng), **forms)


def _aws_secret_negatives(rng: random.Random) -> list[str]:
    doc = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLE" + "KEY"  # AWS documentation key
    return [
        f'aws_secret_access_key = "{doc}"',
        f'aws_secret_access_key = "{_aws_secret(rng)[:39]}"',
        f'build_secret = "{_aws_secret(rng)}"',
        "aws_secret_access_key = " + "x" * 40,
    ]


def _azure_conn(rng: random.Random) -> str:
    return (
        "DefaultEndpointsProtocol=https;AccountName=" + chars(rng, "abcdefghij0123", 10)
        + ";AccountKey=" + b64_bytes(rand_bytes(rng, 64)) + ";EndpointSuffix=core.windows.net"
    )  # fmt: skip


def _azure_ad_secret(rng: random.Random) -> str:
    tail = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_~.-"
    return alnum(rng, 3) + str(rng.randrange(10)) + "Q~" + chars(rng, tail, 34)


def _gcp_sa(rng: random.Random) -> str:
    pem = pem_private_key("PKCS8").replace("\n", "\\n")
    return f'  "private_key": "{pem}",'


def _aws_session(rng: random.Random) -> str:
    return rng.choice(["IQoJb3JpZ2luX2", "FwoGZXIvYXdz"]) + chars(rng, _B64, 300)


_SB = Raw(
    r"Endpoint=sb://[a-z0-9-]{3,50}\.servicebus\.windows\.net/;SharedAccessKeyName=[A-Za-z0-9_.-]"
    r"{1,64};SharedAccessKey=",
    lambda rng: "Endpoint=sb://ns-" + chars(rng, "abcdef123", 8)
    + ".servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=",
)  # fmt: skip

RULES: list[Rule] = [
    tok(
        "aws-access-key-id",
        "AWS access key ID (AKIA long-term, ASIA temporary, ABIA, ACCA)",
        Raw("(?:AKIA|ASIA|ABIA|ACCA)", lambda rng: rng.choice(["AKIA", "ASIA"])),
        ("b32u", 16),
        kw=("akia", "asia", "abia", "acca"),
        conf=0.8,
        sev=SEV.HIGH,
        neg=lambda rng: ["AKIAIOSFODNN7" + "EXAMPLE", "akia" + chars(rng, _B32U, 16).lower()],
    ),
    rule(
        "aws-secret-access-key",
        "AWS secret access key assigned to an AWS access-key variable",
        r"(?i:aws[\w. -]*(?:secret|access)[_. -]?(?:access[_. -]?)?key)"
        + CTX_REGEX
        + r"(?P<secret>[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)",
        ("aws",),
        _aws_secret_example,
        conf=0.7,
        sev=SEV.HIGH,
        negatives=_aws_secret_negatives,
        check=not_placeholder,
    ),
    ctx(
        "aws-session-token",
        "AWS STS session token (base64 of a protobuf starting 'origin')",
        r"aws[_. -]?session[_. -]?token",
        ("aws_session_token", "AWS_SESSION_TOKEN"),
        Raw("(?:IQoJb3JpZ2luX2|FwoGZXIvYXdz)", lambda rng: "IQoJb3JpZ2luX2"),
        ("b64", 100, 1200),
        kw=("aws",),
        sev=SEV.MEDIUM,
    ),
    tok("aws-mws-key", "Amazon Marketplace Web Service auth token", "amzn.mws.", *uuid("hex")),
    tok("gcp-api-key", "Google API key (Cloud, Maps, Firebase, Gemini)", "AIza", ("b64u", 35)),
    rule(
        "gcp-service-account-private-key",
        "GCP service-account JSON private_key",
        r"\"private_key\"\s*:\s*\"(?P<secret>-----BEGIN " + _PK + r"-----\\n[A-Za-z0-9+/=\\]{64,}"
        r"-----END " + _PK + r"-----(?:\\n)?)\"",
        ('"private_key"',),
        _gcp_sa,
        st=ST.SERVICE_ACCOUNT_KEY,
        sev=SEV.CRITICAL,
        conf=0.95,
        check=pem_body_ok,
        negatives=lambda rng: [
            f'"private_key": "{_BEGIN}{_PK}-----\\n' + "A" * 80 + f'{_END}{_PK}-----"',
            f'"private_key": "{_BEGIN}{_PK}-----\\n...\\n{_END}{_PK}-----\\n"',
        ],
    ),
    tok("gcp-oauth-client-secret", "Google OAuth client secret", "GOCSPX-", ("b64u", 28)),
    tok(
        "gcp-oauth-access-token",
        "Google OAuth 2.0 access token",
        "ya29.",
        ("b64u", 30, 400),
        st=ST.OAUTH_TOKEN,
        sev=SEV.MEDIUM,
        conf=0.7,
    ),
    rule(
        "azure-storage-connection-string",
        "Azure Storage connection string with AccountKey",
        r"DefaultEndpointsProtocol=https?;AccountName=[a-z0-9]{3,24};AccountKey="
        r"(?P<secret>[A-Za-z0-9+/]{86}==)",
        ("accountkey=",),
        lambda rng: f'conn = "{_azure_conn(rng)}"',
        sev=SEV.CRITICAL,
        check=all_of(not_placeholder, base64_len(64)),
        negatives=lambda rng: [
            "DefaultEndpointsProtocol=https;AccountName=dev;AccountKey=" + "A" * 86 + "==",
            "DefaultEndpointsProtocol=https;AccountName=devstoreaccount1;AccountKey=<key>",
        ],
    ),
    ctx(
        "azure-storage-account-key",
        "Azure storage account key (64 bytes, base64)",
        r"azure[\w. -]*(?:storage|account)[\w. -]*key",
        ("azure_storage_key", "AZURE_STORAGE_ACCOUNT_KEY"),
        ("b64", 86),
        "==",
        kw=("azure",),
        sev=SEV.CRITICAL,
        check=base64_len(64),
    ),
    rule(
        "azure-cosmosdb-connection-string",
        "Azure Cosmos DB connection string with AccountKey",
        r"AccountEndpoint=https://[a-z0-9-]{3,44}\.documents\.azure\.com:443/;AccountKey="
        r"(?P<secret>[A-Za-z0-9+/]{86}==)",
        ("documents.azure.com",),
        lambda rng: (
            "COSMOS=AccountEndpoint=https://db"
            + chars(rng, "abc123", 6)
            + ".documents.azure.com:443/;AccountKey="
            + b64_bytes(rand_bytes(rng, 64))
            + ";"
        ),
        sev=SEV.CRITICAL,
        check=all_of(not_placeholder, base64_len(64)),
    ),
    tok(
        "azure-service-bus-connection-string",
        "Azure Service Bus / Event Hubs SAS key",
        _SB,
        ("b64", 43),
        "=",
        kw=("servicebus.windows.net",),
        check=lambda s: base64_len(32)(s.rpartition("SharedAccessKey=")[2]),
    ),
    rule(
        "azure-ad-client-secret",
        "Microsoft Entra ID (Azure AD) application client secret",
        r"(?:^|[\\'\"\x60\s>=:(,])(?P<secret>[a-zA-Z0-9_~.]{3}[0-9]Q~[a-zA-Z0-9_~.-]{31,34})"
        r"(?:$|[\\'\"\x60\s<),])",
        ("q~",),
        lambda rng: f'AZURE_CLIENT_SECRET="{_azure_ad_secret(rng)}"',
        sev=SEV.CRITICAL,
        conf=0.85,
        check=not_placeholder,
        negatives=lambda rng: [
            f'x = "{_azure_ad_secret(rng)[:30]}"',
            'v = "abc1Q~' + "x" * 33 + '"',
        ],
    ),
    rule(
        "azure-sas-token",
        "Azure shared access signature (sig= in a SAS URL or query)",
        r"\bsv=[0-9]{4}-[0-9]{2}-[0-9]{2}&[\w=&%:.,-]{10,300}sig=(?P<secret>[A-Za-z0-9%+/]{40,60}"
        r"(?:%3D|=))",
        ("sig=",),
        lambda rng: (
            "https://acct.blob.core.windows.net/c?sv=2022-11-02&ss=b&srt=co&sp=rl"
            "&se=2030-01-01T00:00:00Z&sig=" + b64_bytes(rand_bytes(rng, 32)).replace("=", "%3D")
        ),
        sev=SEV.HIGH,
        conf=0.8,
        check=not_placeholder,
    ),
    tok("digitalocean-pat", "DigitalOcean personal access token", "dop_v1_", ("hex", 64)),
    tok(
        "digitalocean-oauth-token",
        "DigitalOcean OAuth access token",
        "doo_v1_",
        ("hex", 64),
        st=ST.OAUTH_TOKEN,
    ),
    tok(
        "digitalocean-refresh-token",
        "DigitalOcean OAuth refresh token",
        "dor_v1_",
        ("hex", 64),
        st=ST.OAUTH_TOKEN,
    ),
    tok(
        "alibaba-access-key-id",
        "Alibaba Cloud AccessKey ID",
        "LTAI",
        ("a62", 20),
        conf=0.8,
        check=digit_and_letter,
    ),
    ctx(
        "alibaba-secret-key",
        "Alibaba Cloud AccessKey secret",
        r"(?:alibaba|aliyun)[\w. -]*secret",
        ("alibaba_access_key_secret", "ALIYUN_SECRET"),
        ("a62", 30),
        kw=("alibaba", "aliyun"),
    ),
    tok(
        "tencent-secret-id",
        "Tencent Cloud SecretId",
        "AKID",
        ("a62", 32),
        conf=0.8,
        check=digit_and_letter,
    ),
    ctx(
        "tencent-secret-key",
        "Tencent Cloud SecretKey",
        r"tencent[\w. -]*secret[_. -]?key",
        ("tencentcloud_secret_key", "TENCENT_SECRET_KEY"),
        ("a62", 32),
        kw=("tencent",),
    ),
    ctx(
        "ibm-cloud-api-key",
        "IBM Cloud IAM API key",
        r"ibm[\w. -]*api[_. -]?key",
        ("ibm_cloud_api_key", "IBMCLOUD_API_KEY"),
        ("b64u", 44),
        kw=("ibm",),
    ),
    ctx(
        "heroku-api-key",
        "Heroku API key (UUID) next to a Heroku variable",
        r"heroku[\w. -]*"
        r"(?:api[_. -]?key|token)",
        ("heroku_api_key", "HEROKU_AUTH_TOKEN"),
        *uuid(),
        kw=("heroku",),
    ),
    tok("heroku-api-key-v2", "Heroku platform API token (HRKU- format)", "HRKU-AA", ("b64u", 58)),
    ctx(
        "cloudflare-api-token",
        "Cloudflare API token",
        r"cloudflare[\w. -]*(?:token|key)",
        ("cloudflare_api_token", "CLOUDFLARE_TOKEN"),
        ("b64u", 40),
        kw=("cloudflare",),
    ),
    ctx(
        "cloudflare-global-api-key",
        "Cloudflare global API key (37 hex)",
        r"cloudflare[\w. -]*key",
        ("cloudflare_global_api_key", "CLOUDFLARE_API_KEY"),
        ("hex", 37),
        kw=("cloudflare",),
    ),
    tok(
        "cloudflare-origin-ca-key",
        "Cloudflare Origin CA key",
        "v1.0-",
        ("hex", 24),
        "-",
        ("hex", 146),
    ),
    ctx(
        "fastly-api-token",
        "Fastly API token",
        r"fastly[\w. -]*(?:token|key)",
        ("fastly_api_token", "FASTLY_API_KEY"),
        ("b64u", 32),
        kw=("fastly",),
    ),
    ctx(
        "linode-api-token",
        "Linode / Akamai cloud API token",
        r"linode[\w. -]*(?:token|key)",
        ("linode_token", "LINODE_CLI_TOKEN"),
        ("hex", 64),
        kw=("linode",),
    ),
    ctx(
        "vultr-api-key",
        "Vultr API key",
        r"vultr[\w. -]*(?:token|key)",
        ("vultr_api_key", "VULTR_API_KEY"),
        ("u36", 36),
        kw=("vultr",),
    ),
    ctx(
        "scaleway-secret-key",
        "Scaleway secret key (UUID)",
        r"(?:scaleway|scw)[\w. -]*secret",
        ("scw_secret_key", "SCALEWAY_SECRET_KEY"),
        *uuid("hex"),
        kw=("scaleway", "scw"),
    ),
    ctx(
        "hetzner-api-token",
        "Hetzner Cloud API token",
        r"(?:hetzner|hcloud)[\w. -]*token",
        ("hcloud_token", "HETZNER_API_TOKEN"),
        ("a62", 64),
        kw=("hetzner", "hcloud"),
    ),
    tok("yandex-api-key", "Yandex Cloud API key", "AQVN", ("b64u", 35, 38)),
    tok(
        "yandex-iam-token",
        "Yandex Cloud IAM token",
        "t1.9euelZ",
        ("b64u", 80, 300),
        st=ST.OAUTH_TOKEN,
        sev=SEV.MEDIUM,
        conf=0.8,
    ),
]
