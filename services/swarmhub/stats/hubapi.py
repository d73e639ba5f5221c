"""Reading the hub's user list through its REST API, page by page."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests

# JupyterHub's paginated answer ({items, _pagination}) is sent only to clients that ask
PAGINATION_TYPE = "application/jupyterhub-pagination+json"
PAGE_LIMIT = 200  # JupyterHub's default api_page_max_limit


class HubUnavailable(Exception):
    """The hub did not answer, or answered with a server error: try again at the next poll."""


class HubRefused(Exception):
    """The hub refused the token or its scopes: a configuration error."""


@dataclass(frozen=True)
class HubAPI:
    url: str  # e.g. http://10.213.128.2:8081/hub/api
    token: str
    timeout: float = 30.0

    def __repr__(self) -> str:  # never show the token
        return f"HubAPI(url={self.url!r})"

    @classmethod
    def from_env(cls) -> HubAPI:
        url = os.environ.get("JUPYTERHUB_API_URL", "").rstrip("/")
        token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
        if not url:
            raise ValueError(
                "JUPYTERHUB_API_URL is not set; set it to the hub API, "
                "e.g. http://10.213.128.2:8081/hub/api"
            )
        if not token:
            raise ValueError(
                "JUPYTERHUB_API_TOKEN is not set; set it to the stats service's token "
                "(the hub registers it as the service 'stats')"
            )
        return cls(url=url, token=token)

    def session(self) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"token {self.token}"
        session.headers["Accept"] = PAGINATION_TYPE
        return session

    def users(self, session: requests.Session) -> Iterator[dict[str, Any]]:
        """Every user model, following the hub's pagination to the end."""
        offset = 0
        while True:
            page = self._get(session, "/users", {"offset": offset, "limit": PAGE_LIMIT})
            if isinstance(page, list):  # a hub older than 2.0: no pagination
                yield from page
                return
            items = page.get("items")
            pagination = page.get("_pagination") or {}
            if not isinstance(items, list):
                raise HubUnavailable(f"unexpected answer from {self.url}/users: no 'items'")
            yield from items
            following = pagination.get("next")
            if not following or not items:
                return
            offset = int(following["offset"])

    def _get(self, session: requests.Session, path: str, params: dict[str, Any]) -> Any:
        url = self.url + path
        try:
            reply = session.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as e:
            raise HubUnavailable(f"hub API {url} did not answer: {type(e).__name__}") from None
        if reply.status_code in (401, 403):
            raise HubRefused(
                f"hub API {url} refused the stats token ({reply.status_code}): check that the "
                "hub registers the service 'stats' with this token and the scopes list:users, "
                "read:users:name, read:users:activity, read:servers, admin:server_state"
            )
        if reply.status_code >= 500 or reply.status_code == 429:
            raise HubUnavailable(f"hub API {url} answered {reply.status_code}")
        if reply.status_code != 200:
            raise HubRefused(f"hub API {url} answered {reply.status_code}: {reply.text[:200]}")
        try:
            return reply.json()
        except ValueError:
            raise HubUnavailable(f"hub API {url} answered something that is not JSON") from None
