"""``--record``: a run's row appended to the results table of docs/benchmarks.md.

The table ends at the line :data:`MARKER` (an HTML comment, invisible when rendered); each
new row goes just above it, so the table grows downwards in date order and the rest of the
file is left as it is.
"""

from __future__ import annotations

from pathlib import Path

from gridloop_tools.bench.config import BenchError
from gridloop_tools.bench.render import markdown_row
from gridloop_tools.bench.results import BenchResult

__all__ = ["MARKER", "record"]

MARKER = "<!-- gridloop bench --record adds its rows above this line -->"


def record(result: BenchResult, path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise BenchError(f"cannot read {path} to record the run: {error.strerror}") from error
    lines = text.splitlines(keepends=True)
    try:
        at = next(index for index, line in enumerate(lines) if line.strip() == MARKER)
    except StopIteration:
        raise BenchError(
            f"{path} has no results table to add the run to (the line {MARKER!r} ends it)"
        ) from None
    lines.insert(at, markdown_row(result) + "\n")
    try:
        path.write_text("".join(lines), encoding="utf-8")
    except OSError as error:
        raise BenchError(f"cannot write {path}: {error.strerror}") from error
