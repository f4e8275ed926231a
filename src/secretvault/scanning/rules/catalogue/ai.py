"""AI / LLM providers: OpenAI, Anthropic, Hugging Face, Cohere, Replicate, Groq, Perplexity,
Mistral, Together, xAI, DeepSeek, LangSmith, Pinecone, OpenRouter, ElevenLabs, AssemblyAI,
Deepgram, Weights & Biases, Stability, Azure OpenAI, Cerebras, NVIDIA, Fireworks, Voyage,
LlamaCloud, AI21. Google Gemini keys share the ``AIza`` format (see ``gcp-api-key``).
"""

from __future__ import annotations

import random

from secretvault.scanning.rules.base import Rule
from secretvault.scanning.rules.catalogue._dsl import SEV, Raw, Seg, ctx, tok, uuid
from secretvault.scanning.rules.gen import alnum

# OpenAI embeds base64("openai") == "T3BlbkFJ" in every user/project/service key.
_MARKER = "T3Blbk" + "FJ"


def _openai_legacy(rng: random.Random) -> str:
    return "sk-" + alnum(rng, 20) + _MARKER + alnum(rng, 20)


def _openai_legacy_ok(token: str) -> bool:
    return token[23:31] == _MARKER


def _openai(rid: str, desc: str, kind: str) -> Rule:
    return tok(
        rid,
        desc,
        f"sk-{kind}-",
        ("b64u", 58, 74),
        _MARKER,
        ("b64u", 58, 74),
        sev=SEV.CRITICAL,
        kw=(f"sk-{kind}-",),
    )


def _key(rid: str, desc: str, name: str, *segs: Seg, key: str | None = None) -> Rule:
    """``<provider> ... key = <value>`` for providers whose keys have no prefix."""
    return ctx(
        rid,
        desc,
        key or rf"{name}[\w. -]*(?:api[_. -]?)?key",
        (f"{name}_api_key", f"{name.upper()}_KEY"),
        *segs,
        kw=(name,),
    )


RULES: list[Rule] = [
    tok(
        "openai-api-key-legacy",
        "OpenAI API key (legacy user key)",
        "sk-",
        ("a62", 48),
        sev=SEV.CRITICAL,
        conf=0.9,
        make=_openai_legacy,
        check=_openai_legacy_ok,
        neg=lambda rng: ["sk-" + alnum(rng, 48)],
    ),
    _openai("openai-project-key", "OpenAI project API key", "proj"),
    _openai("openai-service-account-key", "OpenAI service-account API key", "svcacct"),
    _openai("openai-admin-key", "OpenAI admin API key", "admin"),
    tok(
        "anthropic-api-key",
        "Anthropic API key",
        "sk-ant-api03-",
        ("b64u", 93),
        "AA",
        sev=SEV.CRITICAL,
    ),
    tok(
        "anthropic-admin-key",
        "Anthropic admin API key",
        "sk-ant-admin01-",
        ("b64u", 93),
        "AA",
        sev=SEV.CRITICAL,
    ),
    tok("huggingface-access-token", "Hugging Face user access token", "hf_", ("alpha", 34)),
    tok("huggingface-org-token", "Hugging Face organization API token", "api_org_", ("alpha", 34)),
    _key("cohere-api-key", "Cohere API key", "cohere", ("a62", 40)),
    tok("replicate-api-token", "Replicate API token", "r8_", ("a62", 37)),
    tok("groq-api-key", "Groq API key", "gsk_", ("a62", 52)),
    tok("perplexity-api-key", "Perplexity API key", "pplx-", ("a62", 48)),
    _key("mistral-api-key", "Mistral AI API key", "mistral", ("a62", 32)),
    _key("together-api-key", "Together AI API key (hex format)", "together", ("hex", 64)),
    tok("together-api-key-v1", "Together AI API key (tgp_v1_ format)", "tgp_v1_", ("b64u", 43)),
    tok("xai-api-key", "xAI (Grok) API key", "xai-", ("a62", 80)),
    _key("deepseek-api-key", "DeepSeek API key", "deepseek", "sk-", ("hex", 32)),
    tok(
        "langsmith-api-key",
        "LangSmith personal / service key",
        "lsv2_",
        Raw("(?:pt|sk)_", lambda rng: rng.choice(["pt_", "sk_"])),
        ("hex", 32),
        "_",
        ("hex", 10),
    ),
    tok(
        "pinecone-api-key",
        "Pinecone API key (pcsk_ format)",
        "pcsk_",
        ("a62", 4, 8),
        "_",
        ("a62", 50, 80),
    ),
    _key("pinecone-api-key-legacy", "Pinecone API key (UUID format)", "pinecone", *uuid()),
    tok("openrouter-api-key", "OpenRouter API key", "sk-or-v1-", ("hex", 64)),
    ctx(
        "elevenlabs-api-key",
        "ElevenLabs API key",
        r"(?:elevenlabs|xi[_-]api)[\w. -]*key",
        ("elevenlabs_api_key", "XI_API_KEY"),
        "sk_",
        ("hex", 48),
        kw=("elevenlabs", "xi_api", "xi-api"),
    ),
    _key("assemblyai-api-key", "AssemblyAI API key", "assemblyai", ("hex", 32)),
    _key("deepgram-api-key", "Deepgram API key", "deepgram", ("hex", 40)),
    _key("wandb-api-key", "Weights & Biases API key", "wandb", ("hex", 40)),
    _key("stability-api-key", "Stability AI API key", "stability", "sk-", ("a62", 48)),
    ctx(
        "azure-openai-api-key",
        "Azure OpenAI resource key",
        r"azure[_. -]?openai[\w. -]*key",
        ("azure_openai_api_key", "AZURE_OPENAI_KEY"),
        ("hex", 32),
        kw=("azure",),
    ),
    tok("cerebras-api-key", "Cerebras API key", "csk-", ("l36", 48)),
    tok("nvidia-api-key", "NVIDIA NGC / build.nvidia.com API key", "nvapi-", ("b64u", 64)),
    _key("fireworks-api-key", "Fireworks AI API key", "fireworks", "fw_", ("a62", 24)),
    _key("voyage-api-key", "Voyage AI API key", "voyage", "pa-", ("b64u", 43)),
    tok("llamacloud-api-key", "LlamaIndex LlamaCloud API key", "llx-", ("a62", 48), conf=0.8),
    _key("ai21-api-key", "AI21 Labs API key", "ai21", ("a62", 32)),
]
