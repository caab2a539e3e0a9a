"""``gridloop bench``: how many loops a second the system closes, how fast, at what CPU and
memory per process — and, on PostgreSQL, against what the database alone commits.

A run starts its own stack (SQLite, or PostgreSQL databases made for the run, with
``replicas`` processes per service) or measures a running one, warms it up, then submits
reports closed loop (a fixed number in flight) or open loop (a fixed rate) and times each
from ``POST /v1/reports`` to the reporter's first message about it on the delivery log
(``gridloop.notifications.v1``). One module a concern: ``config``, ``plan`` (where the
reports go), ``load`` (HTTP), ``listener`` (the broker), ``processes`` (``/proc``),
``anchor`` (PostgreSQL alone), ``target`` (the stack), ``results``, ``render``, ``record``
(docs/benchmarks.md), ``run`` and ``command`` (typer).
"""

from gridloop_tools.bench.command import bench

__all__ = ["bench"]
