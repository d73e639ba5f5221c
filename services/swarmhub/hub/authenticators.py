"""The hub's authenticators: logins become system users on the hub host.

Google accounts map to usernames through `google_username`: an explicit email map
first, else the email's local part (one hosted domain) or local part and domain
(several), made a valid system name. One Google identity keeps one account: the
identity (email and Google's stable `sub`) is kept in the user's auth_state, and a
different identity whose email maps to a taken name is refused. After a login passes
every check, SystemAccountMixin asks restuser to ensure the system user exists and
keeps its uid/gid in auth_state, where the spawner finds them.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Mapping
from typing import Any

from jupyterhub.authenticators.shared import SharedPasswordAuthenticator
from oauthenticator.google import GoogleOAuthenticator
from tornado.web import HTTPError
from traitlets import Dict, Unicode, default
from traitlets.config import LoggingConfigurable

from ..common.accounts import (
    UID_FLOOR,
    Account,
    AccountError,
    group_memberships,
    hub_user_refusal,
    lookup_account,
)
from ..common.usernames import MAX_LENGTH as MAX_USERNAME_LENGTH
from ..common.usernames import USERNAME_PATTERN, system_username
from .google_names import (
    NotMapped,
    domain_labels,
    google_username,
    normalize_email,
)
from .restuser_client import AccountServiceError, ensure_account

__all__ = [
    "MAX_USERNAME_LENGTH",
    "USERNAME_PATTERN",
    "IdentityConflict",
    "NotMapped",
    "SwarmhubGoogleOAuthenticator",
    "SwarmhubSharedPasswordAuthenticator",
    "check_identity",
    "domain_labels",
    "google_identity",
    "google_username",
    "system_username",
]

# Where the identity is kept in auth_state, next to uid/gid and oauthenticator's keys
IDENTITY_KEY = "google_identity"
# A login between its identity check and the hub's saving of its auth_state holds
# the name this long (seconds), so that two logins at once cannot both take it.
CLAIM_SECONDS = 300


class IdentityConflict(Exception):
    """The name is already another Google account's."""


def google_identity(user_info: Mapping[str, Any]) -> dict[str, str]:
    """What identifies a Google account: its email and, if Google gave it, its `sub`
    (the OpenID subject; v1 userinfo calls it `id`), which never changes."""
    identity = {"email": normalize_email(user_info.get("email"))}
    sub = user_info.get("sub") or user_info.get("id")
    if sub:
        identity["sub"] = str(sub)
    return identity


def stored_identity(auth_state: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The identity a user's auth_state holds: ours, else oauthenticator's google_user
    (kept by logins before this check existed); None if neither."""
    if not auth_state:
        return None
    identity = auth_state.get(IDENTITY_KEY)
    if isinstance(identity, Mapping) and identity.get("email"):
        return {k: str(v) for k, v in identity.items() if k in ("email", "sub") and v}
    user_info = auth_state.get(GoogleOAuthenticator.user_auth_state_key)
    if isinstance(user_info, Mapping) and user_info.get("email"):
        return google_identity(user_info)
    return None


def check_identity(
    name: str, stored: Mapping[str, str] | None, identity: Mapping[str, str]
) -> bool:
    """True if `identity` may use the account `name`: the same Google account as the
    stored one (by sub when both have one, else by email); False if nothing is stored
    (the account is adopted). IdentityConflict if another account holds it."""
    if stored is None:
        return False
    if stored.get("sub") and identity.get("sub"):
        same = stored["sub"] == identity["sub"]
    else:
        same = normalize_email(stored.get("email")) == normalize_email(identity.get("email"))
    if not same:
        raise IdentityConflict(name)
    return True


def conflict_message(name: str) -> str:
    return (
        f"The name {name} is already used by another Google account; ask the "
        "administrators for a username map entry."
    )


class SystemAccountMixin(LoggingConfigurable):
    """Ensures each user who logs in has a system account on the hub host.

    Runs after every allow/block check (in run_post_auth_hook), so nobody who is
    refused ever gets an account. If restuser refuses, the login fails with a page
    that says so; restuser itself rolls back a half-made account. If restuser
    cannot be reached, a user whose account and home already exist still logs in:
    the hub reads the account from the hub host's files and applies restuser's own
    rule (accounts.hub_user_refusal); a new user gets the page that says to retry.
    """

    restuser_socket = Unicode(
        "",
        help="""restuser's unix socket (mounted into the hub container).

        Empty: no accounts are made at login; users must already exist on the
        hub host (the spawner then reads the hub host's passwd file).
        """,
    ).tag(config=True)

    passwd_file = Unicode(
        "/etc/passwd",
        help="""The hub host's passwd file, read when restuser cannot be reached.""",
    ).tag(config=True)

    group_file = Unicode(
        "/etc/group",
        help="""The hub host's group file, read when restuser cannot be reached.""",
    ).tag(config=True)

    home_root = Unicode(
        "/home",
        help="""Where hub users' homes are on the hub host (restuser's home_root).""",
    ).tag(config=True)

    hub_home_root = Unicode(
        "",
        help="""Where the hub host's homes are mounted in the hub container: a user
        whose home is missing there is not let in while restuser is down.""",
    ).tag(config=True)

    async def run_post_auth_hook(self, handler: Any, auth_model: dict[str, Any]) -> dict[str, Any]:
        auth_model = await super().run_post_auth_hook(handler, auth_model)  # type: ignore[misc]
        if not self.restuser_socket:
            return auth_model
        name = auth_model["name"]
        try:
            account = await ensure_account(self.restuser_socket, name)
        except AccountServiceError as e:
            if e.status is not None and e.status < 500:
                self.log.error("Login of %r failed: %s", name, e)
                # a refusal (an operator's account, a system group member, a name it
                # keeps): waiting will not help, the administrators must
                raise HTTPError(
                    403,
                    f"This hub cannot give you the account {name} ({e.reason}). Nothing "
                    "was created; ask the hub's administrators.",
                ) from None
            account = self.existing_account(name, e)
        auth_state = dict(auth_model.get("auth_state") or {})
        auth_state.update(uid=account.uid, gid=account.gid)
        auth_model["auth_state"] = auth_state
        return auth_model

    def existing_account(self, name: str, error: AccountServiceError) -> Account:
        """The account of `name` as the hub host's files have it, when restuser could
        not answer; the 503 page if there is none, or restuser would refuse it."""
        try:
            account = lookup_account(name, self.passwd_file)
            with open(self.group_file, encoding="utf-8", errors="surrogateescape") as f:
                groups = group_memberships(f.read().splitlines(), name, account.gid)
        except (AccountError, OSError) as e:
            why = str(e)
        else:
            refusal = hub_user_refusal(account, groups, min_uid=UID_FLOOR, home_root=self.home_root)
            if refusal is not None:
                why = refusal.detail
            elif self.hub_home_root and not self._home_is_a_folder(name):
                why = f"its home is missing under {self.hub_home_root}"
            else:
                self.log.warning(
                    "restuser could not be reached (%s); %s logs in with the account "
                    "the hub host has (uid %s)",
                    error,
                    name,
                    account.uid,
                )
                return account
        self.log.error(
            "Login of %r failed: restuser could not be reached (%s) and the account cannot "
            "be used without it: %s",
            name,
            error,
            why,
        )
        raise HTTPError(
            503,
            f"Your account could not be set up on the hub ({error.reason}). Nothing was "
            "created; please try again in a minute, and tell the hub's administrators "
            "if it keeps failing.",
        ) from None

    def _home_is_a_folder(self, name: str) -> bool:
        # lstat: a home that is a link is not a home
        try:
            return stat.S_ISDIR(os.lstat(os.path.join(self.hub_home_root, name)).st_mode)
        except OSError:
            return False


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
        return bool(super().check_blocked_users(username, auth_model))


class SwarmhubGoogleOAuthenticator(SystemAccountMixin, VerifiedEmailGoogleOAuthenticator):
    """Google login (verified emails only) that makes the user's system account.

    One Google identity, one account: names come from google_username (email map,
    hosted domains), and a name already held by another Google account (the identity
    stored in its auth_state) is refused with a 403 page, before restuser is asked.
    Needs auth_state (a crypt key): without it nothing is stored to compare with.
    """

    email_map = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        help="""Full email -> username, checked before any other rule.

        The only way in without a hosted domain, and the way to give a second
        account whose email maps to a taken name ("ada.lovelace" and "ada-lovelace"
        both give ada-lovelace) a name of its own. Emails are compared in lower case.
        """,
    ).tag(config=True)

    # names this process let in whose auth_state the hub may not have saved yet:
    # name -> (identity, time.monotonic() of the check)
    _claims: dict[str, tuple[dict[str, str], float]]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._claims = {}

    @default("username_claim")
    def _username_claim_default(self) -> Any:
        return self.username_for

    def username_for(self, user_info: Mapping[str, Any]) -> str:
        """username_claim: the hub name of a Google account, or a 403 page saying why
        there is none."""
        email_map = {normalize_email(k): v for k, v in self.email_map.items()}
        try:
            return google_username(user_info, self.hosted_domain, email_map)
        except NotMapped:
            email = normalize_email(user_info.get("email"))
            self.log.warning("Refused login of %s: no username for it on this hub", email)
            if self.hosted_domain and email.rpartition("@")[2] not in self.hosted_domain:
                # from outside the hosted domains: the hub's usual refusal, as for
                # anyone else not admitted
                raise HTTPError(403, self.custom_403_message) from None
            raise HTTPError(
                403,
                f"The Google account {email} has no user name on this hub; ask the "
                "administrators to add it (with its full email) to the hub's users.",
            ) from None

    async def run_post_auth_hook(self, handler: Any, auth_model: dict[str, Any]) -> dict[str, Any]:
        name = auth_model["name"]
        auth_state = dict(auth_model.get("auth_state") or {})
        identity = google_identity(auth_state.get(self.user_auth_state_key) or {})
        user = handler.find_user(name) if handler is not None else None
        stored = stored_identity(await user.get_auth_state()) if user is not None else None
        # no await from here to the claim: the hub's logins share one event loop
        claim = self._claims.get(name)
        if claim is not None and time.monotonic() - claim[1] > CLAIM_SECONDS:
            del self._claims[name]
            claim = None
        try:
            self._check_mapped_name(name, identity)
            check_identity(name, stored, identity)
            if claim is not None:
                check_identity(name, claim[0], identity)
        except IdentityConflict:
            owner = stored or (claim[0] if claim else {})
            self.log.warning(
                "Refused login of %s (sub %s) as %r: the name belongs to %s (sub %s)",
                identity.get("email"),
                identity.get("sub", "unknown"),
                name,
                owner.get("email", "the email map's entry"),
                owner.get("sub", "unknown"),
            )
            raise HTTPError(403, conflict_message(name)) from None
        self._claims[name] = (identity, time.monotonic())
        if stored is None:
            self.log.info(
                "Google account %s (sub %s) %s the name %r",
                identity.get("email"),
                identity.get("sub", "unknown"),
                "adopts (no identity was stored)" if user is not None else "takes",
                name,
            )
        auth_state[IDENTITY_KEY] = identity
        auth_model["auth_state"] = auth_state
        return await super().run_post_auth_hook(handler, auth_model)

    def _check_mapped_name(self, name: str, identity: Mapping[str, str]) -> None:
        # a name the email map gives is that email's, whoever logs in first
        owners = {normalize_email(e) for e, n in self.email_map.items() if n == name}
        if owners and identity.get("email") not in owners:
            raise IdentityConflict(name)


class SwarmhubSharedPasswordAuthenticator(SystemAccountMixin, SharedPasswordAuthenticator):
    """Shared-password login (the trial cluster) that makes the user's system account."""
