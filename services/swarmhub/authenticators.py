"""The hub's authenticators: logins become system users on the hub host.

Google accounts map to usernames through `google_username` (the email's local
part, made a valid system name) and JupyterHub's own `username_map` for
exceptions. After a login passes every check, SystemAccountMixin asks restuser
to ensure the system user exists and keeps its uid/gid in auth_state, where the
spawner finds them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from jupyterhub.authenticators.shared import SharedPasswordAuthenticator
from oauthenticator.google import GoogleOAuthenticator
from tornado.web import HTTPError
from traitlets import Unicode
from traitlets.config import LoggingConfigurable

from .restuser_client import RestuserError, ensure_account

# What restuser (and useradd) accept; the hub refuses other names at login.
USERNAME_PATTERN = r"^[a-z_][a-z0-9_-]{0,31}$"
MAX_USERNAME_LENGTH = 32
_HASH_LENGTH = 7


def system_username(raw: str) -> str:
    """A valid system username made from `raw` (an email's local part, say).

    Lower case; runs of other characters than a-z, 0-9, _ and - become one "-";
    a leading digit or "-" gets a "u" in front; names longer than 32 characters
    keep their start and end in a short hash of the whole, so two long names
    that share a beginning stay apart. Exceptions go in the username_map.
    """
    name = re.sub(r"[^a-z0-9_-]+", "-", raw.strip().lower()).strip("-")
    if not name:
        return ""
    if not re.match(r"[a-z_]", name):
        name = "u" + name
    if len(name) > MAX_USERNAME_LENGTH:
        digest = hashlib.sha256(raw.strip().lower().encode()).hexdigest()[:_HASH_LENGTH]
        keep = MAX_USERNAME_LENGTH - _HASH_LENGTH - 1
        name = name[:keep].rstrip("-") + "-" + digest
    return name


def google_username(user_info: Mapping[str, Any]) -> str:
    """Hub username for a Google account: its email's local part as a system name.

    hosted_domain restricts which domains may log in, so the domain adds nothing.
    """
    email = str(user_info.get("email") or "")
    return system_username(email.split("@", 1)[0])


class SystemAccountMixin(LoggingConfigurable):
    """Ensures each user who logs in has a system account on the hub host.

    Runs after every allow/block check (in run_post_auth_hook), so nobody who is
    refused ever gets an account. If restuser fails, the login fails with a page
    that says so; restuser itself rolls back a half-made account.
    """

    restuser_socket = Unicode(
        "",
        help="""restuser's unix socket (mounted into the hub container).

        Empty: no accounts are made at login; users must already exist on the
        hub host (the spawner then reads the hub host's passwd file).
        """,
    ).tag(config=True)

    async def run_post_auth_hook(self, handler: Any, auth_model: dict[str, Any]) -> dict[str, Any]:
        auth_model = await super().run_post_auth_hook(handler, auth_model)  # type: ignore[misc]
        if not self.restuser_socket:
            return auth_model
        name = auth_model["name"]
        try:
            account = await ensure_account(self.restuser_socket, name)
        except RestuserError as e:
            self.log.error("Login of %r failed: %s", name, e)
            raise HTTPError(
                503,
                f"Your account could not be set up on the hub ({e.reason}). Nothing was "
                "created; please try again in a minute, and tell the hub's administrators "
                "if it keeps failing.",
            ) from None
        auth_state = dict(auth_model.get("auth_state") or {})
        auth_state.update(uid=account.uid, gid=account.gid)
        auth_model["auth_state"] = auth_state
        return auth_model


class VerifiedEmailGoogleOAuthenticator(GoogleOAuthenticator):
    """GoogleOAuthenticator that refuses unverified emails even when allow_all is set.

    GoogleOAuthenticator checks verified_email in check_allowed, which JupyterHub
    skips when allow_all is True (the setting used to admit a whole hosted_domain).
    check_blocked_users always runs, so the check is repeated there.
    """

    def check_blocked_users(self, username: str, auth_model: dict[str, Any]) -> bool:
        user_info = auth_model["auth_state"][self.user_auth_state_key]
        if not user_info.get("verified_email"):
            message = f"Login with unverified email {user_info.get('email')} is not allowed"
            self.log.warning(message)
            raise HTTPError(403, message)
        return super().check_blocked_users(username, auth_model)


class SwarmhubGoogleOAuthenticator(SystemAccountMixin, VerifiedEmailGoogleOAuthenticator):
    """Google login (verified emails only) that makes the user's system account."""


class SwarmhubSharedPasswordAuthenticator(SystemAccountMixin, SharedPasswordAuthenticator):
    """Shared-password login (the trial cluster) that makes the user's system account."""
