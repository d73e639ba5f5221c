"""Test stand-in for Google's OAuth 2.0 endpoints (see app.py)."""

from .app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_app

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "create_app"]
