"""Without anything to receive spans, none is made and the caller's trace context goes on."""

from __future__ import annotations

import pytest

from gateway.telemetry import tracing

CALLER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_no_span_and_the_callers_context_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """span() makes none; inside it the caller's traceparent is current, unchanged."""
    monkeypatch.setattr(tracing, "_enabled", False)
    context = tracing.extract_context([("traceparent", CALLER.encode())])
    with tracing.span("process commands", context=context) as made:
        assert not made.is_recording()
        assert tracing.inject_traceparent()["traceparent"] == CALLER
    assert "traceparent" not in tracing.inject_traceparent()
    assert tracing.extract_context([("content-type", b"application/json")]) is None


def test_configuring_without_an_exporter_installs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OTLP endpoint and no processor: no SDK provider, tracing stays off."""
    monkeypatch.setattr(tracing, "_enabled", False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert tracing.configure_tracing("vendor-gateway") is None
    assert not tracing.tracing_enabled()
