"""Settings every service reads from the environment (pydantic-settings)."""

from __future__ import annotations

import os
from typing import Any

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings

from common.auth import DEVELOPMENT_SECRET, validate_secret
from common.messaging.kafka import KafkaCredentials
from common.service.body_limit import DEFAULT_MAX_BODY_BYTES


class ServiceSettings(BaseSettings):
    """Settings every service reads. Subclasses set ``env_prefix`` (``REPORTING_`` …);
    the Kafka address, JWT secret and district are shared and read without a prefix.
    ``GRIDLOOP_HOST`` / ``GRIDLOOP_PORT`` stand in for an unset ``<PREFIX>HOST`` / ``PORT`` (the
    one image recipe sets them for whichever service it holds)."""

    database_url: str = "sqlite+aiosqlite:///./data/service.db"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    log_json: bool | None = None
    migrate_on_start: bool = True
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1)
    """The largest request body a route takes unless it allows more (``<PREFIX>MAX_BODY_BYTES``);
    a longer one is refused with 413 before it is read."""
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS")
    )
    jwt_secret: str = Field(
        default=DEVELOPMENT_SECRET, validation_alias=AliasChoices("GRIDLOOP_JWT_SECRET")
    )
    district: str = Field(
        default="370812", pattern=r"^\d{6}$", validation_alias=AliasChoices("GRIDLOOP_DISTRICT")
    )
    instance_id: str | None = Field(
        default=None, validation_alias=AliasChoices("GRIDLOOP_INSTANCE_ID")
    )
    """Set by a launcher to tell its own process from any other on the port; /healthz echoes
    it."""
    consumer_group_suffix: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,30}$",
        validation_alias=AliasChoices("GRIDLOOP_CONSUMER_GROUP_SUFFIX"),
    )
    """Consume as fresh consumer groups (``<name>-<suffix>``) from the start of every topic:
    a replay that must change nothing, since every effect is keyed by its business fact."""
    relay_idle_interval_seconds: float = Field(default=0.5, gt=0)
    relay_check_interval_seconds: float = Field(default=10.0, gt=0)
    """How often the relay checks that the broker still holds what it published."""
    relay_republish_window_hours: float = Field(default=14 * 24, gt=0)
    """How far back the relay publishes again when the broker lost records (the topics'
    retention)."""
    kafka_security_protocol: str = Field(
        default="PLAINTEXT",
        pattern=r"^(PLAINTEXT|SASL_PLAINTEXT|SASL_SSL)$",
        validation_alias=AliasChoices("KAFKA_SECURITY_PROTOCOL"),
    )
    kafka_sasl_mechanism: str = Field(
        default="SCRAM-SHA-512", validation_alias=AliasChoices("KAFKA_SASL_MECHANISM")
    )
    kafka_sasl_username: str | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_SASL_USERNAME")
    )
    kafka_sasl_password: str | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_SASL_PASSWORD")
    )

    @model_validator(mode="before")
    @classmethod
    def _listen_address_fallbacks(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in ("host", "port"):
                fallback = os.environ.get(f"GRIDLOOP_{name.upper()}")
                if name not in data and fallback:
                    data = {**data, name: fallback}
        return data

    def kafka_credentials(self) -> KafkaCredentials | None:
        if self.kafka_security_protocol == "PLAINTEXT":
            return None
        if not self.kafka_sasl_username or not self.kafka_sasl_password:
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        return KafkaCredentials(
            mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_sasl_username,
            password=self.kafka_sasl_password,
            use_ssl=self.kafka_security_protocol == "SASL_SSL",
        )

    @field_validator("jwt_secret")
    @classmethod
    def _secret_long_enough(cls, value: str) -> str:
        return validate_secret(value)
