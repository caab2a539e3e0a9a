"""Progress reporting while a run submits and follows its reports."""

from __future__ import annotations

from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = [
    "NullProgress",
    "ProgressReporter",
    "RichProgress",
]


class ProgressReporter(Protocol):
    def start(self, total: int) -> None: ...

    def submitted(self) -> None: ...

    def submission_failed(self) -> None: ...

    def completed(self) -> None: ...


class NullProgress:
    """Reports nothing."""

    def start(self, total: int) -> None:
        return None

    def submitted(self) -> None:
        return None

    def submission_failed(self) -> None:
        return None

    def completed(self) -> None:
        return None


class RichProgress:
    """Two bars on a :class:`rich.progress.Progress`: submitted and completed."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._submitted = progress.add_task("submitted", total=None)
        self._completed = progress.add_task("completed (inbox reached)", total=None)
        self._completed_total = 0
        self._started = False

    @staticmethod
    def create(console: Console | None = None) -> Progress:
        return Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )

    def start(self, total: int) -> None:
        self._completed_total = total
        self._progress.start()  # shown only once submitting begins, never before an error
        self._started = True
        self._progress.update(self._submitted, total=total)
        self._progress.update(self._completed, total=total)

    def stop(self) -> None:
        if self._started:
            self._progress.stop()
            self._started = False

    def submitted(self) -> None:
        self._progress.advance(self._submitted)

    def submission_failed(self) -> None:
        self._progress.advance(self._submitted)
        self._completed_total = max(self._completed_total - 1, 0)
        self._progress.update(self._completed, total=self._completed_total)

    def completed(self) -> None:
        self._progress.advance(self._completed)
