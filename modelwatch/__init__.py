"""modelwatch: monitoring and observability for deployed ML models."""

__version__ = "0.1.0"
