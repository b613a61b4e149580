"""Kafka header names the gateway reads and writes."""

from __future__ import annotations

__all__ = [
    "CE_PREFIX",
    "CONTENT_TYPE",
    "DLQ_ERROR_CLASS",
    "DLQ_REASON",
    "DLQ_SOURCE_OFFSET",
    "DLQ_SOURCE_PARTITION",
    "DLQ_SOURCE_TOPIC",
    "DLQ_VALUE_OMITTED",
    "SENDER",
    "TRACEPARENT",
    "TRACESTATE",
]

# CloudEvents Kafka protocol binding, binary mode: attributes travel as ce_<name> headers.
CE_PREFIX = "ce_"
CONTENT_TYPE = "content-type"
# W3C trace context, carried from command to result.
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
# The webhook sender whose signature the ingress verified: stamped on the command record,
# carried to the result (header and the ``sender`` CloudEvents extension) and into the
# idempotency scope, so that two senders' commands never share a key or a result.
SENDER = "gateway-sender"
# Dead-letter records keep the original bytes and headers and add these.
DLQ_REASON = "dlq-reason"
DLQ_ERROR_CLASS = "dlq-error-class"
DLQ_SOURCE_TOPIC = "dlq-source-topic"
DLQ_SOURCE_PARTITION = "dlq-source-partition"
DLQ_SOURCE_OFFSET = "dlq-source-offset"
# Only when the original plus these headers would exceed the record limit: its size in bytes.
DLQ_VALUE_OMITTED = "dlq-value-omitted"
