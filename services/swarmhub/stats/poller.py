"""The poller: every interval, one read of the hub's users, appended as samples."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .hubapi import HubAPI, HubRefused, HubUnavailable
from .models import HubUser, Poll, Sample, to_db
from .sampling import samples_from_users

log = logging.getLogger("swarmhub.stats.poller")


@dataclass(frozen=True)
class PollSettings:
    interval: timedelta = timedelta(minutes=5)
    # a server is active when its last activity lies within this window before the poll
    window: timedelta | None = None  # None: the interval
    retention: timedelta = timedelta(days=365)

    def __post_init__(self) -> None:
        if self.interval < timedelta(seconds=1):
            raise ValueError(f"poll interval must be at least 1 second, not {self.interval}")
        if self.window is not None and self.window <= timedelta(0):
            raise ValueError("the active window must be positive")
        if self.retention < timedelta(days=1):
            raise ValueError(f"retention must be at least 1 day, not {self.retention}")

    @property
    def active_window(self) -> timedelta:
        return self.window if self.window is not None else self.interval


def record_poll(
    session: Session,
    users: Iterable[Mapping[str, Any]],
    now: datetime,
    settings: PollSettings,
) -> Poll:
    """Append one poll's samples, update the users seen, drop what is past retention."""
    unique: dict[str, Mapping[str, Any]] = {}
    for user in users:  # pages can overlap when users are added meanwhile
        unique[str(user.get("name"))] = user
    result = samples_from_users(unique.values(), now, settings.active_window)
    stamp = to_db(now)
    poll = Poll(
        time=stamp,
        interval_seconds=int(settings.interval.total_seconds()),
        window_seconds=int(settings.active_window.total_seconds()),
        users=len(result.users),
        servers=len(result.samples),
    )
    session.add(poll)
    session.flush()
    session.add_all(
        Sample(
            poll_id=poll.id,
            time=stamp,
            user=s.user,
            server=s.server,
            last_activity=to_db(s.last_activity) if s.last_activity else None,
            active=s.active,
            node=s.node,
        )
        for s in result.samples
    )
    known = {u.name: u for u in session.scalars(select(HubUser))}
    for seen in result.users:
        last = to_db(seen.last_activity) if seen.last_activity else None
        row = known.get(seen.name)
        if row is None:
            session.add(
                HubUser(name=seen.name, first_seen=stamp, last_polled=stamp, last_activity=last)
            )
        else:
            row.last_polled = stamp
            if last is not None and (row.last_activity is None or last > row.last_activity):
                row.last_activity = last
    cutoff = to_db(now - settings.retention)
    session.execute(delete(Sample).where(Sample.time < cutoff))
    session.execute(delete(Poll).where(Poll.time < cutoff))
    session.execute(delete(HubUser).where(HubUser.last_polled < cutoff))
    return poll


def poll_once(
    engine: Engine, hub: HubAPI, settings: PollSettings, now: datetime | None = None
) -> Poll:
    """Read every user from the hub and record them; HubUnavailable/HubRefused on failure."""
    with hub.session() as http:
        users = list(hub.users(http))
    with Session(engine, expire_on_commit=False) as session, session.begin():
        return record_poll(session, users, now or datetime.now(UTC), settings)


def run_poller(
    engine: Engine,
    hub: HubAPI,
    settings: PollSettings,
    stop: threading.Event,
    on_poll: Callable[[Poll], None] | None = None,
) -> None:
    """Poll every interval until `stop` is set.

    An unreachable hub (down, restarting) is logged and tried again at the next poll.
    A refused token is a configuration error: HubRefused propagates.
    """
    log.info(
        "polling %s every %ss (active window %ss, retention %s days)",
        hub.url,
        int(settings.interval.total_seconds()),
        int(settings.active_window.total_seconds()),
        settings.retention.days,
    )
    while not stop.is_set():
        started = datetime.now(UTC)
        try:
            poll = poll_once(engine, hub, settings, started)
        except HubUnavailable as e:
            log.warning("poll skipped: %s; trying again in %s", e, settings.interval)
        except HubRefused:
            raise
        except SQLAlchemyError as e:  # disk full, locked too long: keep polling
            log.error("poll not recorded: database error %s", e)
        else:
            log.info("poll: %d users, %d servers", poll.users, poll.servers)
            if on_poll:
                on_poll(poll)
        elapsed = datetime.now(UTC) - started
        stop.wait(max(0.0, (settings.interval - elapsed).total_seconds()))
