"""SYNTHETIC demo gift catalogues, one folder per district code (``<code>/gifts.json``),
loaded at start with ``LEDGER_DISTRICTS_DIR=demo``. The gifts, their costs, stock and
collection points are invented for demonstrations and tests; none is a real offer."""
