"""Who may see the stats page: the hub's admins and whoever the hub lets open the
service (its access scope: the instructors role, or a group the operator named)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# HubOAuth.check_scopes: the subset of the required scopes the user model's token has
ScopeCheck = Callable[[set[str], Mapping[str, Any]], set[str]]


def may_view(user: Mapping[str, Any] | None, access_scopes: set[str], check: ScopeCheck) -> bool:
    """True for a hub user model with admin set, or whose token still carries the
    service's access scope. The hub checks that scope when it hands out the token;
    checking again here refuses someone whose access was taken away since (the
    token's scopes are what its owner may do now)."""
    if not user:
        return False
    if user.get("admin") is True:
        return True
    return isinstance(user.get("scopes"), list) and bool(check(access_scopes, user))


def refusal(user: Mapping[str, Any]) -> str:
    name = user.get("name", "?")
    return (
        f"You are logged in as {name}. The activity statistics are for the hub's admins and "
        f"its instructors (swarmhub_instructors in the deployment's group_vars). Ask a hub "
        f"admin to add you there if you teach this course."
    )
