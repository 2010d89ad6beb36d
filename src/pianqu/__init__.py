"""pianqu (片区): planning support for zone-based rural territorial spatial planning."""

__version__ = "0.1.0"
