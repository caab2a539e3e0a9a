"""Transactional outbox and relay, processed-event records and the idempotent consumer."""
