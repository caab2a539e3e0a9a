"""CloudEvents 1.0 envelope in structured JSON mode (docs/architecture.md, "Messaging")."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

CONTENT_TYPE = "application/cloudevents+json"


class EnvelopeError(ValueError):
    """A message on a topic is not a CloudEvent we can read."""


class CloudEvent(BaseModel):
    """One event on a gridloop topic.

    ``id`` is the deduplication key; ``subject`` is the aggregate id and the Kafka key;
    ``sequence`` is the aggregate's version, increasing, so consumers can ignore stale events.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1, max_length=64)
    type: str = Field(pattern=r"^gridloop\.[a-z_]+\.[a-z_]+$")
    source: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=128)
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    district: str = Field(pattern=r"^\d{6}$")
    correlationid: str = Field(min_length=1, max_length=128)
    causationid: str | None = Field(default=None, max_length=128)
    sequence: int = Field(ge=0)
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> CloudEvent:
        """Parse and validate in one pass (pydantic's JSON parser)."""
        if not raw:
            raise EnvelopeError("empty message")
        try:
            return cls.model_validate_json(raw)
        except ValidationError as error:
            errors = error.errors()
            if errors and errors[0]["type"] == "json_invalid":
                raise EnvelopeError(f"not JSON: {errors[0]['msg']}") from error
            if errors and errors[0]["type"] == "model_type" and not errors[0]["loc"]:
                raise EnvelopeError("not a JSON object") from error
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors
            )
            raise EnvelopeError(f"not a valid CloudEvent: {problems}") from error
