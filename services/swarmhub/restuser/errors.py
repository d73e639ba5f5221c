"""The one error restuser answers with: an HTTP status, a short code, and what happened."""

from __future__ import annotations


class RestuserError(Exception):
    """A refused or failed request; the app answers it as `{error, detail}` JSON."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
