"""A CommandHandler's configuration for tests: the settings' defaults, fast retries."""

from __future__ import annotations

import dataclasses
from typing import Any

from gateway.commands.handler import HandlerConfig
from gateway.commands.upload import SourcePolicy
from gateway.settings import GatewaySettings, RetrySettings

__all__ = ["handler_config"]

FAST_RETRY = RetrySettings(max_attempts=2, initial_wait_s=0.0, max_wait_s=0.0)


def handler_config(
    owner: str,
    *,
    retry: RetrySettings = FAST_RETRY,
    upload_source: SourcePolicy | None = None,
    **overrides: Any,
) -> HandlerConfig:
    """``HandlerConfig.from_settings`` on default settings (``retry`` replaced), then
    ``overrides`` (e.g. ``lease_s=0.1``)."""
    config = HandlerConfig.from_settings(
        GatewaySettings(retry=retry), owner, upload_source or SourcePolicy()
    )
    return dataclasses.replace(config, **overrides)
