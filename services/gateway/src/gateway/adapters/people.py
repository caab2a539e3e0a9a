"""Development sign-in: the people the sign-in page offers, read from the file ``gridloop run``
writes from the demo districts' rosters. Nothing here runs in production."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from common.tokens import Role


class DevRider(BaseModel):
    subject: str = Field(pattern=r"^rider-[A-Za-z0-9_-]{1,60}$")
    district: str = Field(pattern=r"^\d{6}$")
    label: str


class DevStaff(BaseModel):
    subject: str = Field(min_length=1, max_length=128)
    role: Role
    district: str = Field(pattern=r"^\d{6}$")
    grids: list[str] = []
    name: str
    label: str


class DevPeople(BaseModel):
    riders: list[DevRider]
    staff: list[DevStaff]

    @property
    def districts(self) -> set[str]:
        return {rider.district for rider in self.riders} | {
            member.district for member in self.staff
        }

    def staff_member(self, subject: str) -> DevStaff | None:
        return next((member for member in self.staff if member.subject == subject), None)


class PeopleFileError(Exception):
    """The development sign-in file is missing or malformed; the message says how."""


def read_people(path: Path) -> DevPeople:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise PeopleFileError(f"the development sign-in file {path} does not exist") from error
    except (OSError, json.JSONDecodeError) as error:
        raise PeopleFileError(
            f"the development sign-in file {path} is unreadable: {error}"
        ) from error
    try:
        return TypeAdapter(DevPeople).validate_python(raw)
    except ValidationError as error:
        raise PeopleFileError(
            f"the development sign-in file {path} is malformed: {error.errors()[0]['msg']} at "
            f"{'.'.join(str(p) for p in error.errors()[0]['loc'])}"
        ) from error
