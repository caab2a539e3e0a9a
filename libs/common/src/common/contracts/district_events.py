"""A district's public reference data, published by dispatch on ``gridloop.districts.v1``
(key: the district code; ``sequence``: the catalogue's revision, so the newest wins)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from common.contracts.base import EventData
from common.contracts.topics import Topic


class PublishedCategory(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    code: str = Field(pattern=r"^\d{4}$")
    name: str
    group_code: str
    group_name: str
    priority: str
    handle_limit: str
    """The handling time limit in words, e.g. ``4 工作时``."""
    active: bool = True
    photo_required: bool = False
    """Whether a report of this category must carry at least one photo."""


class DistrictCataloguePublished(EventData):
    """The district's category catalogue as it stands now (every category, active or not):
    what riders may report there. Reporting validates reports against the newest one."""

    event_type: ClassVar[str] = "gridloop.district.catalogue_published"
    topic: ClassVar[Topic] = Topic.DISTRICTS

    district: str = Field(pattern=r"^\d{6}$")
    district_name: str
    revision: int = Field(ge=1)
    categories: list[PublishedCategory]
    published_at: AwareDatetime
