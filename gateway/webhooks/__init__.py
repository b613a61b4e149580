"""The webhook ingress: Standard Webhooks verification, replay guard, the ingress use case and
its Starlette routes (the only module here that knows HTTP)."""

from gateway.webhooks.clientrate import ClientRateLimiter
from gateway.webhooks.errors import WebhookError, problem_details
from gateway.webhooks.follower import follow_results, position_results
from gateway.webhooks.ingress import Accepted, CommandIngress, Completed, IngressConfig
from gateway.webhooks.publisher import CommandPublisher, KafkaCommandPublisher
from gateway.webhooks.replay import InProcessReplayGuard, RedisReplayGuard, ReplayGuard
from gateway.webhooks.results import CommandStatus, ResultBoard
from gateway.webhooks.signature import SignedMessage, SigningKey, Verifier, signed_headers

__all__ = [
    "Accepted",
    "ClientRateLimiter",
    "CommandIngress",
    "CommandPublisher",
    "CommandStatus",
    "Completed",
    "InProcessReplayGuard",
    "IngressConfig",
    "KafkaCommandPublisher",
    "RedisReplayGuard",
    "ReplayGuard",
    "ResultBoard",
    "SignedMessage",
    "SigningKey",
    "Verifier",
    "WebhookError",
    "follow_results",
    "position_results",
    "problem_details",
    "signed_headers",
]
