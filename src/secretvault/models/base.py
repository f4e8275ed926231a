"""The base of every pydantic model in the project."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """Base of every model here. ``defer_build``: a schema is built on first use, not at import,
    so a CLI command pays only for the models it touches (import time is a CLI latency target)."""

    model_config = ConfigDict(defer_build=True)
