"""``gridloop chaos``: a fault-injection run that proves nothing is lost or doubled.

- ``proxy``: the TCP proxy between the services and PostgreSQL that can cut every connection;
- ``faults``: the seeded fault plan and carrying it out;
- ``keeper``: the one thread that starts and stops the run's processes, polls the supervisor
  and fires the faults that are due;
- ``load``: riders submitting over HTTP, retrying with the same Idempotency-Key;
- ``databases``, ``topics``: reading the services' databases and the broker directly;
- ``quiescence``: waiting until nothing is left to do and nothing moves;
- ``checks``: nothing lost, nothing doubled, read from every database;
- ``replay``: fresh consumer groups from offset 0 must change nothing;
- ``run``: one run from start to finish; ``command``: the typer command.
"""
