"""Export the public contracts as files other city systems can read without our code:
JSON Schema per event, an AsyncAPI 3.0 document of the topics, and each service's OpenAPI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from common.contracts.base import EventData
from common.contracts.envelope import CONTENT_TYPE, CloudEvent
from common.contracts.events import EVENT_MODELS
from common.contracts.topics import Topic

PRODUCERS = {
    Topic.REPORTS: "reporting",
    Topic.WORKORDERS: "dispatch",
    Topic.POINTS: "ledger",
    Topic.NOTIFICATIONS: "notification",
    Topic.DISTRICTS: "dispatch",
}


def _schema_name(model: type[EventData]) -> str:
    return model.event_type.removeprefix("gridloop.")


def event_schema(model: type[EventData]) -> dict[str, Any]:
    """The full CloudEvent of ``model``: envelope attributes with ``data`` typed."""
    envelope = CloudEvent.model_json_schema()
    data = model.model_json_schema()
    definitions = {**envelope.pop("$defs", {}), **data.pop("$defs", {})}
    envelope["title"] = model.event_type
    envelope["description"] = (model.__doc__ or "").strip()
    envelope["properties"]["type"] = {"const": model.event_type, "type": "string"}
    envelope["properties"]["data"] = data
    envelope["required"] = sorted({*envelope.get("required", []), "type", "data"})
    envelope["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    envelope["$id"] = f"https://gridloop.example/contracts/{_schema_name(model)}.v1.schema.json"
    if definitions:
        envelope["$defs"] = definitions
    return envelope


def asyncapi_document() -> dict[str, Any]:
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic, producer in PRODUCERS.items():
        models = [m for m in EVENT_MODELS if m.topic is topic]
        channel_messages = {}
        for model in models:
            name = _schema_name(model).replace(".", "_")
            messages[name] = {
                "name": model.event_type,
                "title": model.event_type,
                "summary": (model.__doc__ or "").strip(),
                "contentType": CONTENT_TYPE,
                "payload": {"$ref": f"./schemas/{_schema_name(model)}.v1.schema.json"},
                "bindings": {
                    "kafka": {
                        "key": {"type": "string", "description": "the aggregate id (subject)"}
                    }
                },
            }
            channel_messages[name] = {"$ref": f"#/components/messages/{name}"}
        channel_id = topic.value.replace(".", "_")
        channels[channel_id] = {
            "address": topic.value,
            "description": f"Produced by the {producer} service through its transactional outbox.",
            "messages": channel_messages,
        }
        operations[f"{producer}_publishes_{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
        }
    channels["gridloop_deadletter_v1"] = {
        "address": Topic.DEADLETTER.value,
        "description": "Records a consumer could not process, unchanged, with headers "
        "gridloop-dlq-original-topic/-partition/-offset, -consumer, -service, -reason, -error.",
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "gridloop event topics",
            "version": "1.0.0",
            "description": "CloudEvents 1.0 (structured JSON mode) on Kafka. Kafka key = "
            "aggregate id; CloudEvents id = deduplication key; extensions district, "
            "correlationid, causationid, sequence.",
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def _dump(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def render_contracts(openapi: dict[str, dict[str, Any]] | None = None) -> dict[str, str]:
    """Relative path → file content, for every contract file."""
    files = {"asyncapi.json": _dump(asyncapi_document())}
    for model in EVENT_MODELS:
        files[f"schemas/{_schema_name(model)}.v1.schema.json"] = _dump(event_schema(model))
    for service, document in (openapi or {}).items():
        files[f"openapi/{service}.json"] = _dump(document)
    return files


def write_contracts(directory: Path, files: dict[str, str]) -> None:
    for relative, content in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")


def stale_contracts(directory: Path, files: dict[str, str]) -> list[str]:
    return [
        relative
        for relative, content in files.items()
        if not (directory / relative).exists()
        or (directory / relative).read_text(encoding="utf-8") != content
    ]
