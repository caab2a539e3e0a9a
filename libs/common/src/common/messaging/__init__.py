"""Transactional outbox, relay, inbox and the idempotent consumer (DESIGN.md §3)."""
