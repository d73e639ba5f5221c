"""The hub's client of the environment builder's API (a unix socket; see
swarmhub/envbuild/web.py). Blocking http.client calls, run off the hub's event
loop."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

from .unix_http import UnixHTTPConnection

TIMEOUT = 40.0  # more than the longest log wait the builder allows (25 s)


class BuilderUnavailable(Exception):
    """The builder did not answer: it is not running, or not deployed."""


class BuilderClient:
    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path

    def call_blocking(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        connection = UnixHTTPConnection(self.socket_path, TIMEOUT, host="envbuild")
        try:
            payload = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if payload is not None else {}
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except OSError as e:
            raise BuilderUnavailable(
                f"The environment builder does not answer ({e.strerror or e}): "
                "is it deployed and running (docker ps on the hub host)?"
            ) from None
        finally:
            connection.close()
        try:
            answer = json.loads(data or b"{}")
        except ValueError:
            answer = {"error": data.decode(errors="replace")[:300]}
        return response.status, answer

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        return await asyncio.to_thread(self.call_blocking, method, path, body)


def environment_path(name: str, *rest: str) -> str:
    return "/api/environments/" + "/".join(quote(part, safe="") for part in (name, *rest))
