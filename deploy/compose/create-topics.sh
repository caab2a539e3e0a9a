#!/bin/sh
# Creates the gridloop topics on the compose broker (auto-create is off) and re-asserts their
# config, so running it again is harmless. Kubernetes uses the KafkaTopic resources in
# deploy/k8s/base/kafka/topics.yaml instead; keep both in step (docs/operations.md, "Topics").
set -eu

BOOTSTRAP="${BOOTSTRAP:-kafka:19092}"
REPLICATION_FACTOR="${REPLICATION_FACTOR:-1}"
PARTITIONS="${PARTITIONS:-6}"
BIN=/opt/kafka/bin
DAY_MS=86400000

topic() {  # name retention-days
  name="$1"
  retention_ms=$(( $2 * DAY_MS ))
  "$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
    --topic "$name" --partitions "$PARTITIONS" --replication-factor "$REPLICATION_FACTOR" \
    --config cleanup.policy=delete --config "retention.ms=$retention_ms"
  "$BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --alter \
    --entity-type topics --entity-name "$name" \
    --add-config "cleanup.policy=delete,retention.ms=$retention_ms"
}

topic gridloop.reports.v1 14
topic gridloop.workorders.v1 14
topic gridloop.points.v1 14
topic gridloop.notifications.v1 14
topic gridloop.districts.v1 14
topic gridloop.deadletter.v1 30

"$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --describe --topics-with-overrides
echo "gridloop topics ready"
