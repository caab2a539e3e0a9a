"""The base of every event data model (the ``data`` member of a CloudEvent)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from common.contracts.topics import Topic


class EventData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    topic: ClassVar[Topic]
