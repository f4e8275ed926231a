"""Messaging, chat and e-mail: Slack, Discord, Telegram, Twilio, SendGrid, Mailgun, Mailchimp,
Postmark, Microsoft Teams, Brevo, Mandrill, Mailjet, Vonage, MessageBird, Mattermost, Sendbird,
Pusher, Zulip, Plivo.
"""

from __future__ import annotations

import random

from secretvault.scanning.rules.base import Rule
from secretvault.scanning.rules.catalogue._dsl import CTX_REGEX, SEV, ST, Raw, ctx, rule, tok, uuid
from secretvault.scanning.rules.gen import b64url_bytes, chars, hexs
from secretvault.scanning.rules.validators import all_of, discord_bot_token_ok, not_placeholder

_B64U = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


def _discord_token(rng: random.Random, user_id: str | None = None) -> str:
    uid = user_id or str(rng.randrange(10**17, 10**19))
    return f"{b64url_bytes(uid.encode())}.{chars(rng, _B64U, 6)}.{chars(rng, _B64U, 38)}"


def _discord_example(rng: random.Random) -> str:
    return f'DISCORD_BOT_TOKEN = "{_discord_token(rng)}"'


def _discord_negatives(rng: random.Random) -> list[str]:
    not_id = b64url_bytes(("user" + hexs(rng, 14)).encode())  # first part is not a snowflake
    return [
        f'DISCORD_BOT_TOKEN = "{not_id}.{chars(rng, _B64U, 6)}.{chars(rng, _B64U, 38)}"',
        f'OTHER_TOKEN = "{_discord_token(rng)}"',
    ]


_TEAMS_HOST = Raw(
    r"[a-z0-9-]{1,60}\.webhook\.office\.com/webhookb2/",
    lambda rng: chars(rng, "contoso", 7) + ".webhook.office.com/webhookb2/",
)

RULES: list[Rule] = [
    tok(
        "slack-bot-token",
        "Slack bot token",
        "xoxb-",
        ("dig", 8, 14),
        "-",
        ("dig", 8, 14),
        "-",
        ("a62", 24),
        st=ST.OAUTH_TOKEN,
    ),
    tok(
        "slack-legacy-bot-token",
        "Slack legacy bot token",
        "xoxb-",
        ("dig", 8, 14),
        "-",
        ("a62", 18, 23),
        st=ST.OAUTH_TOKEN,
        kw=("xoxb-",),
    ),
    tok(
        "slack-user-token",
        "Slack user token",
        "xoxp-",
        ("dig", 8, 14),
        "-",
        ("dig", 8, 14),
        "-",
        ("dig", 8, 14),
        "-",
        ("hex", 32),
        st=ST.OAUTH_TOKEN,
    ),
    tok(
        "slack-workspace-token",
        "Slack legacy workspace access token",
        "xoxa-2-",
        ("a62", 8, 48),
        st=ST.OAUTH_TOKEN,
        kw=("xoxa-",),
    ),
    tok(
        "slack-app-token",
        "Slack app-level token",
        "xapp-1-",
        ("u36", 9, 11),
        "-",
        ("dig", 10, 13),
        "-",
        ("hex", 64),
        kw=("xapp-",),
    ),
    tok(
        "slack-config-access-token",
        "Slack app configuration access token",
        Raw(r"xoxe\.xox[bp]-1-", lambda rng: rng.choice(["xoxe.xoxp-1-", "xoxe.xoxb-1-"])),
        ("a62", 163, 166),
        kw=("xoxe.",),
    ),
    tok(
        "slack-config-refresh-token",
        "Slack app configuration refresh token",
        "xoxe-1-",
        ("a62", 146),
        kw=("xoxe-",),
    ),
    tok(
        "slack-webhook-url",
        "Slack incoming webhook URL",
        Raw(
            r"https://hooks\.slack\.com/(?:services|workflows|triggers)/",
            lambda rng: "https://hooks.slack.com/services/",
        ),
        "T",
        ("u36", 8, 12),
        "/B",
        ("u36", 8, 12),
        "/",
        ("a62", 24),
        kw=("hooks.slack.com",),
        st=ST.WEBHOOK_SECRET,
    ),
    rule(
        "discord-bot-token",
        "Discord bot token (base64 user id . timestamp . HMAC)",
        r"(?i:discord[\w. -]*token)"
        + CTX_REGEX
        + r"(?P<secret>[MNO][A-Za-z0-9_-]{22,26}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38})"
        r"(?:[^A-Za-z0-9_.-]|$)",
        ("discord",),
        _discord_example,
        negatives=_discord_negatives,
        st=ST.OAUTH_TOKEN,
        conf=0.85,
        check=all_of(not_placeholder, discord_bot_token_ok),
    ),
    tok(
        "discord-webhook-url",
        "Discord webhook URL",
        Raw(
            r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/",
            lambda rng: "https://discord.com/api/webhooks/",
        ),
        ("dig", 17, 20),
        "/",
        ("b64u", 60, 68),
        kw=("/api/webhooks/",),
        st=ST.WEBHOOK_SECRET,
    ),
    ctx(
        "discord-client-secret",
        "Discord OAuth client secret",
        r"discord[\w. -]*secret",
        ("discord_client_secret", "DISCORD_SECRET"),
        ("b64u", 32),
        kw=("discord",),
    ),
    tok(
        "telegram-bot-token",
        "Telegram Bot API token",
        ("dig", 8, 10),
        ":AA",
        ("b64u", 33),
        kw=(":aa",),
        conf=0.7,
    ),
    tok("twilio-api-key", "Twilio API key SID (SK...)", "SK", ("hex", 32), conf=0.7, kw=("sk",)),
    ctx(
        "twilio-auth-token",
        "Twilio auth token",
        r"twilio[\w. -]*(?:auth[_. -]?)?token",
        ("twilio_auth_token", "TWILIO_TOKEN"),
        ("hex", 32),
        kw=("twilio",),
    ),
    tok(
        "sendgrid-api-key", "SendGrid API key", "SG.", ("b64u", 22), ".", ("b64u", 43), sev=SEV.HIGH
    ),
    # Mailgun keys also travel without the word "mailgun" (curl -u api:key-...), so the
    # literal "key-" is matched on its own, but not inside a longer word such as cache-key-.
    rule(
        "mailgun-api-key",
        "Mailgun private API key",
        r"(?:^|[^\w-])(?P<secret>key-[a-f0-9]{32})\b",
        ("key-",),
        lambda rng: rng.choice(
            ["curl -s --user 'api:{}' https://api.mailgun.net/v3", 'MAILGUN_API_KEY="{}"']
        ).format("key-" + hexs(rng, 32)),
        conf=0.75,
        check=lambda s: not_placeholder(s[4:]),
        negatives=lambda rng: [
            "cache-key-" + hexs(rng, 32),
            "key-" + hexs(rng, 31),
            "key-" + hexs(rng, 33),
            "key-" + "0" * 32,
        ],
    ),
    ctx(
        "mailgun-signing-key",
        "Mailgun webhook signing key",
        r"mailgun[\w. -]*(?:signing|webhook)[\w. -]*key",
        ("mailgun_signing_key", "MAILGUN_WEBHOOK_SIGNING_KEY"),
        ("hex", 32),
        "-",
        ("hex", 8),
        "-",
        ("hex", 8),
        kw=("mailgun",),
        st=ST.WEBHOOK_SECRET,
    ),
    tok(
        "mailchimp-api-key",
        "Mailchimp API key (hex + datacenter suffix)",
        ("hex", 32),
        "-us",
        ("dig", 1, 2),
        kw=("-us",),
        conf=0.8,
    ),
    ctx(
        "postmark-server-token",
        "Postmark server / account token",
        r"postmark[\w. -]*(?:token|key)",
        ("postmark_server_token", "POSTMARK_API_TOKEN"),
        *uuid(),
        kw=("postmark",),
    ),
    tok(
        "microsoft-teams-webhook",
        "Microsoft Teams incoming webhook URL",
        "https://",
        _TEAMS_HOST,
        *uuid("hex"),
        "@",
        *uuid("hex"),
        "/IncomingWebhook/",
        ("hex", 32),
        "/",
        *uuid("hex"),
        kw=("webhook.office.com",),
        st=ST.WEBHOOK_SECRET,
    ),
    tok("brevo-api-key", "Brevo (Sendinblue) API key", "xkeysib-", ("hex", 64), "-", ("a62", 16)),
    tok(
        "brevo-smtp-key", "Brevo (Sendinblue) SMTP key", "xsmtpsib-", ("hex", 64), "-", ("a62", 16)
    ),
    ctx(
        "mandrill-api-key",
        "Mailchimp Transactional (Mandrill) API key",
        r"mandrill[\w. -]*(?:key|token)",
        ("mandrill_api_key", "MANDRILL_KEY"),
        ("b64u", 22),
        kw=("mandrill",),
    ),
    ctx(
        "mailjet-secret-key",
        "Mailjet API secret key",
        r"mailjet[\w. -]*(?:secret|key)",
        ("mailjet_secret_key", "MAILJET_API_KEY"),
        ("hex", 32),
        kw=("mailjet",),
    ),
    ctx(
        "vonage-api-secret",
        "Vonage (Nexmo) API secret",
        r"(?:vonage|nexmo)[\w. -]*secret",
        ("vonage_api_secret", "NEXMO_API_SECRET"),
        ("a62", 16),
        kw=("vonage", "nexmo"),
    ),
    ctx(
        "messagebird-api-key",
        "MessageBird access key",
        r"messagebird[\w. -]*(?:key|token)",
        ("messagebird_access_key", "MESSAGEBIRD_API_KEY"),
        ("a62", 25),
        kw=("messagebird",),
    ),
    ctx(
        "mattermost-access-token",
        "Mattermost personal access token",
        r"mattermost[\w. -]*(?:token|key)",
        ("mattermost_token", "MATTERMOST_ACCESS_TOKEN"),
        ("l36", 26),
        kw=("mattermost",),
    ),
    ctx(
        "sendbird-api-token",
        "Sendbird API token",
        r"sendbird[\w. -]*(?:token|key)",
        ("sendbird_api_token", "SENDBIRD_TOKEN"),
        ("hex", 40),
        kw=("sendbird",),
    ),
    ctx(
        "pusher-app-secret",
        "Pusher Channels app secret",
        r"pusher[\w. -]*secret",
        ("pusher_app_secret", "PUSHER_SECRET"),
        ("hex", 20),
        kw=("pusher",),
    ),
    ctx(
        "zulip-api-key",
        "Zulip bot / user API key",
        r"zulip[\w. -]*(?:key|token)",
        ("zulip_api_key", "ZULIP_KEY"),
        ("a62", 32),
        kw=("zulip",),
    ),
    ctx(
        "plivo-auth-token",
        "Plivo auth token",
        r"plivo[\w. -]*(?:auth[_. -]?)?token",
        ("plivo_auth_token", "PLIVO_TOKEN"),
        ("a62", 40),
        kw=("plivo",),
    ),
]
