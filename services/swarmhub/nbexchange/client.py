"""The HTTP side: one request to the course exchange, its errors as sentences."""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote

import requests

from swarmhub.common.exchange_protocol import API_PREFIX, URL_ENV

TOKEN_ENV = "JUPYTERHUB_API_TOKEN"


class ClientError(Exception):
    """A sentence for the person: the exchange's own error, or why it did not answer."""


def route(*segments: str) -> str:
    """The path of a route under API_PREFIX, each segment quoted whole.

    "." and ".." are refused here: requests (urllib3) would resolve them and ask
    for another route than the one meant.
    """
    for s in segments:
        if s in ("", ".", ".."):
            raise ClientError(f"{s!r} cannot be part of a course exchange address")
    return "/".join(quote(s, safe="") for s in segments)


class Client:
    def __init__(self, url: str, token: str, timeout: float) -> None:
        if not url:
            raise ClientError(
                f"{URL_ENV} is not set: this server does not know where the course exchange"
                " is; tell your instructor"
            )
        if not token:
            raise ClientError(f"{TOKEN_ENV} is not set: the course exchange cannot know who asks")
        self.url = url.rstrip("/")
        self.base = self.url + API_PREFIX
        self.timeout = timeout
        self.session = requests.Session()
        # the token goes only where the exchange is, never through an environment proxy
        self.session.trust_env = False
        self.session.headers["Authorization"] = f"token {token}"

    @classmethod
    def from_environment(cls, timeout: float) -> Client:
        return cls(os.environ.get(URL_ENV, ""), os.environ.get(TOKEN_ENV, ""), timeout)

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        limit: int | None = None,
    ) -> bytes:
        """The answer's body; ClientError for an error answer or no answer.

        limit: the most bytes accepted (a larger answer is refused, not cut).
        """
        headers = {"Content-Type": content_type} if content_type else {}
        try:
            with self.session.request(
                method,
                self.base + path,
                params=params,
                data=body,
                headers=headers,
                timeout=self.timeout,
                stream=True,
                allow_redirects=False,
            ) as response:
                content = _read(response, limit)
        except requests.RequestException as e:
            raise ClientError(
                f"The course exchange at {self.url} did not answer: {e}; try again,"
                " or tell your instructor"
            ) from e
        if response.status_code >= 300:
            raise ClientError(_error_message(response.status_code, response.reason, content))
        return content

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        content = self.request(method, path, **kwargs)
        try:
            return json.loads(content)
        except ValueError as e:
            raise ClientError(
                f"The course exchange at {self.url} answered {path} with something else"
                " than JSON; tell your instructor"
            ) from e


def _read(response: requests.Response, limit: int | None) -> bytes:
    chunks = []
    size = 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if limit is not None and size > limit:
            raise ClientError(
                f"The course exchange sent more than {limit // 1_000_000} MB: refused"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _error_message(status: int, reason: str, content: bytes) -> str:
    """The exchange's own sentence, verbatim; a plain one when a proxy answered instead."""
    try:
        error = json.loads(content)["error"]
    except (ValueError, TypeError, KeyError):
        error = None
    if isinstance(error, str) and error:
        return error
    return f"The course exchange answered {status} {reason}; try again, or tell your instructor"
