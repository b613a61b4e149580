"""Event-driven gateway between a company's Kafka bus and a video-conferencing vendor's API."""

__all__ = ["__version__"]

__version__ = "0.1.0"
