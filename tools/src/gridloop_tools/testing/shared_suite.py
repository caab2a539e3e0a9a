"""The guard every shared test suite stands on."""

from __future__ import annotations

from typing import Any


class SharedSuite:
    """Base of the shared suites. Each suite names, in its own ``_REQUIRED_VALUES`` and
    ``_REQUIRED_HOOKS``, what a service's subclass must supply; a subclass that leaves one out
    fails when its module is imported. (A class that names requirements of its own is a suite
    itself, and is not checked.)"""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if {"_REQUIRED_VALUES", "_REQUIRED_HOOKS"} & vars(cls).keys():
            return
        missing: list[str] = []
        for suite in cls.__mro__[1:]:
            values: tuple[str, ...] = vars(suite).get("_REQUIRED_VALUES", ())
            hooks: tuple[str, ...] = vars(suite).get("_REQUIRED_HOOKS", ())
            missing += [name for name in values if not hasattr(cls, name)]
            missing += [name for name in hooks if getattr(cls, name) is getattr(suite, name)]
        if missing:
            raise TypeError(f"{cls.__name__} must define {', '.join(missing)}")


__all__ = ["SharedSuite"]
