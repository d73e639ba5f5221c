"""The stats page's login through the hub (OAuth with PKCE, jupyterhub's
HubOAuth): who is looking, sending them through the hub's login when nobody
is, and letting only admins and those with access to the service in."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import wraps
from typing import Any, Protocol, cast
from urllib.parse import urlencode

from flask import Flask, Response, redirect, request
from flask import session as cookie

from .access import may_view, refusal

log = logging.getLogger("swarmhub.stats.web")

# page_error(status, title, message): how the app shows a refusal
ErrorPage = Callable[[int, str, str], Any]


class HubLogin(Protocol):
    """What the app uses of jupyterhub.services.auth.HubOAuth."""

    login_url: str
    cookie_name: str
    access_scopes: set[str]

    def user_for_token(self, token: str) -> dict[str, Any] | None: ...
    def check_scopes(self, required_scopes: set[str], user: Any) -> set[str]: ...
    def generate_state(self, next_url: str | None = None, **extra: Any) -> str: ...
    def get_next_url(self, state_id: str = "") -> str: ...
    def get_code_verifier(self, state_id: str = "") -> str | None: ...
    def clear_oauth_state(self, state_id: str) -> None: ...
    def token_for_code(self, code: str, *, code_verifier: str | None = None) -> str: ...
    def generate_pkce_code_challenge(self) -> tuple[str, str, str]: ...


def hub_oauth() -> HubLogin:
    """HubOAuth configured from the environment the hub gives a service
    (JUPYTERHUB_API_URL, JUPYTERHUB_API_TOKEN, JUPYTERHUB_CLIENT_ID,
    JUPYTERHUB_SERVICE_PREFIX, JUPYTERHUB_OAUTH_CALLBACK_URL, JUPYTERHUB_BASE_URL)."""
    from jupyterhub.services.auth import HubOAuth

    # how long a page already open keeps a login before asking the hub again,
    # so an instructor taken off the list loses the page within this time
    recheck = int(os.environ.get("SWARMHUB_STATS_ACCESS_RECHECK_SECONDS", "60"))
    return cast(HubLogin, HubOAuth(cache_max_age=recheck))


class LoginFlow:
    """The hub's login for one app at one prefix: `viewer_only` guards a view,
    `add_callback` adds the route the hub sends people back to."""

    def __init__(self, login: HubLogin, prefix: str, page_error: ErrorPage) -> None:
        if not login.access_scopes:
            # HubOAuth derives them from JUPYTERHUB_SERVICE_NAME; without them only admins get in
            raise ValueError(
                "the stats page needs its hub service name: set JUPYTERHUB_SERVICE_NAME "
                "(or JUPYTERHUB_OAUTH_ACCESS_SCOPES) as the hub's services list names it"
            )
        self.login = login
        self.prefix = prefix
        self.page_error = page_error

    def current_user(self) -> dict[str, Any] | None:
        token = cookie.get("token")
        if not token:
            return None
        user = self.login.user_for_token(token)
        if user is None:  # expired or revoked
            cookie.pop("token", None)
        return user

    def start_login(self) -> Response:
        verifier, challenge, method = self.login.generate_pkce_code_challenge()
        next_url = request.full_path if request.query_string else request.path
        state = self.login.generate_state(next_url=next_url, code_verifier=verifier)
        cookie["oauth_state"] = state
        query = urlencode(
            {"state": state, "code_challenge": challenge, "code_challenge_method": method}
        )
        return redirect(f"{self.login.login_url}&{query}")  # type: ignore[return-value]

    def viewer_only(self, view: Callable[..., Any]) -> Callable[..., Any]:
        """The view, called with the user as its first argument, for those who may see
        the page; the hub's login for nobody; a refusal page for the others."""

        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = self.current_user()
            if user is None:
                return self.start_login()
            if not may_view(user, self.login.access_scopes, self.login.check_scopes):
                log.info(
                    "refused %s (not admin, no %s)", user.get("name"), self.login.access_scopes
                )
                return self.page_error(403, "Not for you, sorry", refusal(user))
            return view(user, *args, **kwargs)

        return wrapped

    def add_callback(self, app: Flask) -> None:
        """PREFIX/oauth_callback: the end of the hub's login, back to the page asked for."""

        def oauth_callback() -> Any:
            code = request.args.get("code")
            state = request.args.get("state")
            expected = cookie.pop("oauth_state", None)
            if not code or not state or state != expected:
                return self.page_error(
                    400,
                    "Login did not complete",
                    "The hub's answer does not match a login started here (an old tab, or "
                    "cookies blocked). Open the statistics page again to log in afresh.",
                )
            verifier = self.login.get_code_verifier(state)
            next_url = self.login.get_next_url(state)
            self.login.clear_oauth_state(state)
            cookie["token"] = self.login.token_for_code(code, code_verifier=verifier)
            if not next_url.startswith(self.prefix) or next_url.startswith("//"):
                next_url = self.prefix
            return redirect(next_url)

        app.add_url_rule(self.prefix + "oauth_callback", "oauth_callback", oauth_callback)
