"""Payments and commerce: Stripe, Square, PayPal/Braintree, Adyen, Razorpay, Shopify, Coinbase,
Plaid, GoCardless, Flutterwave, Mollie, Wise, Authorize.Net.
"""

from __future__ import annotations

import random

from secretvault.scanning.rules.base import Rule
from secretvault.scanning.rules.catalogue._dsl import SEV, ST, Raw, ctx, tok, uuid
from secretvault.scanning.rules.gen import alnum


def _publishable(rng: random.Random) -> list[str]:
    # Publishable keys (pk_) ship to browsers and test-mode keys (sk_test_) reach no live
    # data: neither is reported.
    return [
        "pk_" + "live_" + alnum(rng, 24),
        "pk_" + "test_" + alnum(rng, 24),
        "sk_" + "test_" + alnum(rng, 24),
    ]


_SHOPIFY = [
    ("shopify-access-token", "Shopify Admin API access token", "shpat_"),
    ("shopify-shared-secret", "Shopify app shared secret", "shpss_"),
    ("shopify-custom-app-token", "Shopify custom app access token", "shpca_"),
    ("shopify-private-app-token", "Shopify private app access token", "shppa_"),
]

RULES: list[Rule] = [
    tok(
        "stripe-secret-key",
        "Stripe live secret key",
        "sk_live_",
        ("a62", 24, 247),
        sev=SEV.CRITICAL,
        conf=0.9,
        neg=_publishable,
    ),
    tok(
        "stripe-restricted-key",
        "Stripe live restricted key",
        "rk_live_",
        ("a62", 24, 247),
        sev=SEV.CRITICAL,
    ),
    tok(
        "stripe-webhook-secret",
        "Stripe webhook signing secret",
        "whsec_",
        ("a62", 32, 64),
        st=ST.WEBHOOK_SECRET,
    ),
    tok("square-access-token", "Square access token (legacy sq0atp-)", "sq0atp-", ("b64u", 22)),
    tok("square-access-token-v2", "Square production access token (EAAA)", "EAAA", ("b64u", 60)),
    tok("square-oauth-secret", "Square OAuth application secret", "sq0csp-", ("b64u", 43)),
    tok(
        "braintree-access-token",
        "PayPal Braintree production access token",
        "access_token$production$",
        ("l36", 16),
        "$",
        ("hex", 32),
        sev=SEV.CRITICAL,
    ),
    ctx(
        "paypal-client-secret",
        "PayPal REST API client secret",
        r"paypal[\w. -]*secret",
        ("paypal_client_secret", "PAYPAL_SECRET"),
        ("b64u", 80),
        kw=("paypal",),
    ),
    ctx(
        "adyen-api-key",
        "Adyen API key",
        r"adyen[\w. -]*(?:api[_. -]?)?key",
        ("adyen_api_key", "ADYEN_KEY"),
        "AQE",
        ("b64", 80, 200),
        kw=("adyen",),
        sev=SEV.CRITICAL,
    ),
    ctx(
        "razorpay-key-secret",
        "Razorpay key secret",
        r"razorpay[\w. -]*secret",
        ("razorpay_key_secret", "RAZORPAY_SECRET"),
        ("a62", 24),
        kw=("razorpay",),
    ),
    tok(
        "razorpay-live-key-id",
        "Razorpay live key id (pairs with a key secret)",
        "rzp_live_",
        ("a62", 14),
        sev=SEV.MEDIUM,
        conf=0.6,
    ),
    *(tok(rid, desc, prefix, ("hexi", 32), sev=SEV.CRITICAL) for rid, desc, prefix in _SHOPIFY),
    ctx(
        "coinbase-api-secret",
        "Coinbase API secret",
        r"coinbase[\w. -]*secret",
        ("coinbase_api_secret", "COINBASE_SECRET"),
        ("a62", 32),
        kw=("coinbase",),
    ),
    tok(
        "plaid-access-token",
        "Plaid item access token",
        Raw(
            "access-(?:production|development)-",
            lambda rng: rng.choice(["access-production-", "access-development-"]),
        ),
        *uuid("hex"),
        kw=("access-production-", "access-development-"),
    ),
    ctx(
        "plaid-secret",
        "Plaid API secret",
        r"plaid[\w. -]*secret",
        ("plaid_secret", "PLAID_SECRET"),
        ("hex", 30),
        kw=("plaid",),
    ),
    ctx(
        "gocardless-access-token",
        "GoCardless live access token",
        r"gocardless[\w. -]*(?:token|key)",
        ("gocardless_access_token", "GOCARDLESS_TOKEN"),
        "live_",
        ("b64u", 40),
        kw=("gocardless",),
    ),
    tok(
        "flutterwave-secret-key",
        "Flutterwave live secret key",
        "FLWSECK-",
        ("hex", 32),
        "-X",
        sev=SEV.CRITICAL,
    ),
    ctx(
        "mollie-api-key",
        "Mollie live API key",
        r"mollie[\w. -]*(?:key|token)",
        ("mollie_api_key", "MOLLIE_KEY"),
        "live_",
        ("a62", 30),
        kw=("mollie",),
    ),
    ctx(
        "wise-api-token",
        "Wise (TransferWise) API token",
        r"wise[\w. -]*(?:token|key)",
        ("wise_api_token", "TRANSFERWISE_API_KEY"),
        *uuid(),
        kw=("wise",),
    ),
    ctx(
        "authorize-net-transaction-key",
        "Authorize.Net transaction key",
        r"authorize[\w. -]*net[\w. -]*(?:transaction[_. -]?)?key",
        ("authorize_net_transaction_key", "AUTHORIZENET_TRANSACTION_KEY"),
        ("a62", 16),
        kw=("authorize",),
    ),
]
