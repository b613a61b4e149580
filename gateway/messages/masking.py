"""Secret fields of vendor answers, masked before a result event leaves the gateway.

Some vendor answers carry secrets: ``/sip/account/read`` returns each account's SIP
``password``, ``/app/get_token`` the access ``token``. A result event repeats the vendor's
answer (``data.result``, and ``data.error.details`` for a failure), is published on Kafka for
any consumer and is served by ``GET /v1/commands/{id}``; so every field named like a vendor
secret is replaced by ``"***"`` at any depth, before the event is built.

The names are those of :data:`gateway.redaction.SECRET_PARAM_NAMES` (``token``,
``access_key``, ``secret_key``, ``password``, ``host_password``, ``licence_cert``: the
vendor's secret parameters and answer fields, gateway/vendor_api/spec/endpoints.json), plus any
name containing ``password`` or ``secret``, the rule logs use too: one list for both.
"""

from __future__ import annotations

from typing import Any

from gateway.messages.results import ResultData
from gateway.redaction import MASK, SECRET_PARAM_NAMES

__all__ = ["MASK", "is_secret_field", "mask_result_data", "mask_secrets"]


def is_secret_field(name: str) -> bool:
    """Whether a field of this name holds a vendor secret."""
    lowered = name.lower()
    return lowered in SECRET_PARAM_NAMES or "password" in lowered or "secret" in lowered


def mask_secrets(value: Any) -> Any:
    """A copy of ``value`` (JSON-like) with every secret field's value replaced by ``"***"``."""
    if isinstance(value, dict):
        return {
            k: (
                MASK
                if isinstance(k, str) and is_secret_field(k) and v is not None
                else mask_secrets(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    return value


def mask_result_data(data: ResultData) -> ResultData:
    """``data`` with its vendor answer (result, error details) masked."""
    update: dict[str, Any] = {}
    if data.result is not None:
        masked = mask_secrets(data.result)
        if masked != data.result:  # most answers hold no secret: no copy of the result then
            update["result"] = masked
    if data.error is not None and data.error.details is not None:
        update["error"] = data.error.model_copy(
            update={"details": mask_secrets(data.error.details)}
        )
    return data.model_copy(update=update) if update else data
