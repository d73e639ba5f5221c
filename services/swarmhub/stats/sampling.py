"""What one poll records, from the hub's user models: plain functions, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class ServerSample:
    user: str
    server: str
    last_activity: datetime | None
    active: bool
    node: str | None


@dataclass(frozen=True)
class UserSeen:
    name: str
    last_activity: datetime | None


@dataclass(frozen=True)
class PollResult:
    users: list[UserSeen]
    samples: list[ServerSample]


def parse_time(value: Any) -> datetime | None:
    """A hub timestamp (ISO 8601, "Z" or an offset) as an aware UTC datetime; None stays None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 time, got {value!r}")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:  # the hub writes UTC
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def is_active(last_activity: datetime | None, now: datetime, window: timedelta) -> bool:
    """Active: the last activity lies within `window` before `now` (or after it: clock skew)."""
    if last_activity is None:
        return False
    return now - last_activity <= window


def node_of(server: Mapping[str, Any]) -> str | None:
    """The swarm node from the server's spawner state (key `node`); None when the hub
    does not show the state (no admin:server_state scope) or the spawner did not set it."""
    state = server.get("state")
    if not isinstance(state, Mapping):
        return None
    node = state.get("node")
    return node if isinstance(node, str) and node else None


def samples_from_users(
    users: Iterable[Mapping[str, Any]], now: datetime, window: timedelta
) -> PollResult:
    """One sample per server the hub lists (running or starting), and every user seen."""
    seen: list[UserSeen] = []
    samples: list[ServerSample] = []
    for user in users:
        name = user.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"hub user model without a name: {sorted(user)}")
        seen.append(UserSeen(name=name, last_activity=parse_time(user.get("last_activity"))))
        servers = user.get("servers") or {}
        if not isinstance(servers, Mapping):
            raise ValueError(f"user {name!r}: 'servers' is not an object")
        for server_name, server in sorted(servers.items()):
            last = parse_time(server.get("last_activity"))
            samples.append(
                ServerSample(
                    user=name,
                    server=server_name or "",
                    last_activity=last,
                    active=is_active(last, now, window),
                    node=node_of(server),
                )
            )
    return PollResult(users=seen, samples=samples)
