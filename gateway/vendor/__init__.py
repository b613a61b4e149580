"""Everything HTTP-to-vendor, nothing of Kafka."""

from gateway.vendor.client import VendorClient
from gateway.vendor.endpoint import Endpoint, VendorAnswer, VendorRequest
from gateway.vendor.endpoints import ALL_ENDPOINTS, BY_COMMAND, BY_PATH
from gateway.vendor.transport import HttpLimits, build_http_client

__all__ = [
    "ALL_ENDPOINTS",
    "BY_COMMAND",
    "BY_PATH",
    "Endpoint",
    "HttpLimits",
    "VendorAnswer",
    "VendorClient",
    "VendorRequest",
    "build_http_client",
]
