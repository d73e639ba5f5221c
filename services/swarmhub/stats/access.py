"""Who may see the stats page: the hub's admins and one group (instructors)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_GROUP = "instructors"


def may_view(user: Mapping[str, Any] | None, group: str = DEFAULT_GROUP) -> bool:
    """True for a hub user model with admin set, or with `group` among its groups."""
    if not user:
        return False
    if user.get("admin") is True:
        return True
    groups = user.get("groups") or []
    return isinstance(groups, list) and group in groups


def refusal(user: Mapping[str, Any], group: str = DEFAULT_GROUP) -> str:
    name = user.get("name", "?")
    return (
        f"You are logged in as {name}. The activity statistics are for the hub's admins and "
        f"the members of the JupyterHub group '{group}'. Ask a hub admin to add you to "
        f"that group if you teach this course."
    )
