"""The base of every JSON request body a service accepts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    """A JSON request body, validated strictly: a number must be a JSON number (not a string
    such as ``"35.55"``, not ``true``), a string must be a JSON string, and a field the model
    does not declare is refused. Every error is a 422 problem naming the field."""

    model_config = ConfigDict(strict=True, extra="forbid")


__all__ = ["RequestModel"]
