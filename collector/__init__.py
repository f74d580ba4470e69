"""The Spyglass collector: OTLP/HTTP in, ClickHouse underneath, the query API out."""

from .app import create_app
from .settings import Settings

__all__ = ["Settings", "create_app"]
