"""The gridloop command and the test fixtures; depends on the services, never the reverse."""
