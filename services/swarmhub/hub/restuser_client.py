"""The hub's side of restuser: ask it, over its unix socket, to ensure a system user.

Plain http.client on a unix socket, run in a thread: one small request per first
login does not justify an HTTP client dependency in the hub.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

from ..common.accounts import Account
from .unix_http import UnixHTTPConnection

TIMEOUT_SECONDS = 30.0


class AccountServiceError(Exception):
    """restuser refused or could not be reached; the message says what to do. (The
    hub's side of restuser's own RestuserError, which it answers as {error, detail}.)

    `reason` is the short part a user may see (restuser's error code, or that it
    is not answering); the message is for the hub's log.
    """

    def __init__(self, message: str, reason: str, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        # restuser's HTTP status when it answered with a refusal; None when it did not
        self.status = status


def request_account(socket_path: str, method: str, name: str, timeout: float) -> Account:
    """POST (ensure) or GET one user; the Account restuser answers with."""
    conn = UnixHTTPConnection(socket_path, timeout, host="restuser")
    try:
        conn.request(method, "/users/" + quote(name, safe=""))
        response = conn.getresponse()
        body = response.read()
    except OSError as e:
        raise AccountServiceError(
            f"cannot reach restuser at {socket_path} ({e.strerror or e}); on the hub host "
            "check `systemctl status swarmhub-restuser` and that the socket is mounted "
            "into the hub container",
            "the account service is not answering",
        ) from None
    finally:
        conn.close()
    try:
        answer: dict[str, Any] = json.loads(body)
    except ValueError:
        raise AccountServiceError(
            f"restuser answered {response.status} with a body that is not JSON",
            "the account service gave a broken answer",
        ) from None
    if response.status >= 400:
        raise AccountServiceError(
            f"restuser refused user {name!r}: {answer.get('error', response.status)}: "
            f"{answer.get('detail', '')}",
            f"{answer.get('error', response.status)}: {answer.get('detail', '')}",
            response.status,
        )
    try:
        return Account(
            name=str(answer["name"]),
            uid=int(answer["uid"]),
            gid=int(answer["gid"]),
            home=str(answer["home"]),
        )
    except (KeyError, TypeError, ValueError):
        raise AccountServiceError(
            f"restuser answered without name/uid/gid/home: {answer!r}",
            "the account service gave a broken answer",
        ) from None


async def ensure_account(socket_path: str, name: str, timeout: float = TIMEOUT_SECONDS) -> Account:
    """Ensure `name` exists on the hub host (created from the skeleton on first use)."""
    return await asyncio.to_thread(request_account, socket_path, "POST", name, timeout)
