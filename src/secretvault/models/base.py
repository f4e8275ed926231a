"""The base of every pydantic model in the project."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict

_set = object.__setattr__


class Model(BaseModel):
    """Base of every model here. ``defer_build``: a schema is built on first use, not at import,
    so a CLI command pays only for the models it touches (import time is a CLI latency target)."""

    model_config = ConfigDict(defer_build=True)

    @classmethod
    def trusted(cls, fields: dict[str, Any]) -> Self:
        """An instance from values that are already valid, typed and complete — every field
        named, as our own stores wrote them — without validation.

        The hot read path builds a record per read; ``model_construct`` costs ~5 µs of
        default-resolving and bookkeeping per model, this ~0.5 µs. It sets exactly the state
        ``model_construct`` sets (``tests/unit/vault/test_models_config.py`` checks that);
        anything not known to be complete and valid goes through validation instead.
        """
        obj = cls.__new__(cls)
        _set(obj, "__dict__", fields)
        _set(obj, "__pydantic_fields_set__", set(fields))
        _set(obj, "__pydantic_extra__", None)
        _set(obj, "__pydantic_private__", None)
        return obj
