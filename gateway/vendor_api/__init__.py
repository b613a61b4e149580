"""Everything HTTP-to-vendor, nothing of Kafka."""

from gateway.vendor_api.client import VendorClient
from gateway.vendor_api.endpoint import Endpoint, VendorAnswer, VendorRequest
from gateway.vendor_api.generated.endpoints import ALL_ENDPOINTS, BY_COMMAND, BY_PATH
from gateway.vendor_api.transport import HttpLimits, VendorTransport

__all__ = [
    "ALL_ENDPOINTS",
    "BY_COMMAND",
    "BY_PATH",
    "Endpoint",
    "HttpLimits",
    "VendorAnswer",
    "VendorClient",
    "VendorRequest",
    "VendorTransport",
]
