"""The numbers instructors ask for, computed from the samples.

Rules (also in `python -m swarmhub.stats report --help`):
- A sample is active when the server's last activity lies within the active window
  (by default the poll interval) before the poll.
- A user is active in an hour or a day when at least one of their samples taken in it
  is active.
- A user's active time is the number of polls at which at least one of their servers
  was active, each counted for the poll interval in force at that poll (two servers
  active at the same poll count once).
- Never active: listed by the hub during the range, without a single active sample in it.
- Last seen: the newest last activity the hub reported for the user or any server
  (all recorded history, not only the range).
All times are UTC; a range includes its start and excludes its end.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.orm import Session

from .models import HubUser, Poll, Sample, to_db, utc

Period = Literal["hour", "day"]
PERIODS: dict[str, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
_BUCKET_FORMAT = {"hour": "%Y-%m-%d %H:00:00", "day": "%Y-%m-%d 00:00:00"}


@dataclass(frozen=True)
class PeriodRow:
    start: datetime
    active_users: int
    users_with_servers: int


@dataclass(frozen=True)
class UserRow:
    name: str
    active_seconds: int
    active_polls: int
    polls_with_server: int
    last_seen: datetime | None


def floor_to(value: datetime, per: Period) -> datetime:
    value = value.astimezone(UTC)
    if per == "day":
        return datetime.combine(value.date(), time(), tzinfo=UTC)
    return value.replace(minute=0, second=0, microsecond=0)


def active_per_period(
    session: Session, start: datetime, end: datetime, per: Period
) -> list[PeriodRow]:
    """One row per hour or day from `start` (rounded down) to `end`, empty periods included."""
    bucket = func.strftime(_BUCKET_FORMAT[per], Sample.time).label("bucket")
    rows = session.execute(
        select(
            bucket,
            func.count(distinct(case((Sample.active, Sample.user)))),
            func.count(distinct(Sample.user)),
        )
        .where(Sample.time >= to_db(start), Sample.time < to_db(end))
        .group_by(bucket)
    ).all()
    counts = {
        datetime.fromisoformat(label).replace(tzinfo=UTC): (int(active), int(running))
        for label, active, running in rows
    }
    result = []
    step = PERIODS[per]
    current = floor_to(start, per)
    while current < end:
        active, running = counts.get(current, (0, 0))
        result.append(PeriodRow(start=current, active_users=active, users_with_servers=running))
        current += step
    return result


def user_summary(session: Session, start: datetime, end: datetime) -> list[UserRow]:
    """Every user listed by the hub during the range (or with samples in it), by name."""
    in_range = and_(Sample.time >= to_db(start), Sample.time < to_db(end))
    active_polls = (
        select(Sample.user.label("user"), Sample.poll_id.label("poll_id"))
        .where(in_range, Sample.active)
        .distinct()
        .subquery()
    )
    active = {
        user: (int(polls), int(seconds or 0))
        for user, polls, seconds in session.execute(
            select(active_polls.c.user, func.count(), func.sum(Poll.interval_seconds))
            .join(Poll, Poll.id == active_polls.c.poll_id)
            .group_by(active_polls.c.user)
        )
    }
    running = dict(
        session.execute(
            select(Sample.user, func.count(distinct(Sample.poll_id)))
            .where(in_range)
            .group_by(Sample.user)
        ).all()
    )
    sample_last: dict[str, datetime | None] = {
        user: last
        for user, last in session.execute(
            select(Sample.user, func.max(Sample.last_activity)).group_by(Sample.user)
        )
    }
    hub_users = {
        u.name: u
        for u in session.scalars(
            select(HubUser).where(
                HubUser.last_polled >= to_db(start), HubUser.first_seen < to_db(end)
            )
        )
    }
    names = sorted(set(hub_users) | set(running))
    known = {u.name: u for u in session.scalars(select(HubUser).where(HubUser.name.in_(names)))}
    rows = []
    for name in names:
        polls, seconds = active.get(name, (0, 0))
        candidates = [sample_last.get(name), known[name].last_activity if name in known else None]
        seen = [c for c in candidates if c is not None]
        rows.append(
            UserRow(
                name=name,
                active_seconds=seconds,
                active_polls=polls,
                polls_with_server=int(running.get(name, 0)),
                last_seen=utc(max(seen)) if seen else None,
            )
        )
    return rows


def never_active(session: Session, start: datetime, end: datetime) -> list[UserRow]:
    return [row for row in user_summary(session, start, end) if row.active_polls == 0]


def user_activity_per_day(
    session: Session, start: datetime, end: datetime, names: Collection[str] | None = None
) -> dict[str, dict[date, int]]:
    """Active seconds per user and day (same rule as the active time); only of `names`
    when given (the page asks for the 50 users it shows, not for all of them)."""
    where = [Sample.time >= to_db(start), Sample.time < to_db(end), Sample.active]
    if names is not None:
        where.append(Sample.user.in_(list(names)))
    active_polls = (
        select(Sample.user.label("user"), Sample.poll_id.label("poll_id"))
        .where(*where)
        .distinct()
        .subquery()
    )
    day = func.date(Poll.time).label("day")
    result: dict[str, dict[date, int]] = {}
    for user, label, seconds in session.execute(
        select(active_polls.c.user, day, func.sum(Poll.interval_seconds))
        .join(Poll, Poll.id == active_polls.c.poll_id)
        .group_by(active_polls.c.user, day)
    ):
        result.setdefault(user, {})[date.fromisoformat(label)] = int(seconds)
    return result


# -- output -------------------------------------------------------------------


def format_duration(seconds: int) -> str:
    """Hours and minutes, e.g. 2:05 for 7500 seconds."""
    minutes = seconds // 60
    return f"{minutes // 60}:{minutes % 60:02d}"


def format_time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else "never"


def period_table(rows: Sequence[PeriodRow], per: Period) -> tuple[list[str], list[list[str]]]:
    label = "%Y-%m-%d %H:00" if per == "hour" else "%Y-%m-%d"
    header = [f"{per} (UTC)", "active users", "users with a server"]
    return header, [
        [r.start.strftime(label), str(r.active_users), str(r.users_with_servers)] for r in rows
    ]


def user_table(rows: Sequence[UserRow], *, for_csv: bool) -> tuple[list[str], list[list[str]]]:
    if for_csv:
        header = ["user", "active_seconds", "active_polls", "polls_with_server", "last_seen"]
        body = [
            [
                r.name,
                str(r.active_seconds),
                str(r.active_polls),
                str(r.polls_with_server),
                r.last_seen.astimezone(UTC).isoformat() if r.last_seen else "",
            ]
            for r in rows
        ]
        return header, body
    header = ["user", "active time (h:mm)", "active polls", "polls with a server", "last seen"]
    body = [
        [
            r.name,
            format_duration(r.active_seconds),
            str(r.active_polls),
            str(r.polls_with_server),
            format_time(r.last_seen),
        ]
        for r in rows
    ]
    return header, body


def render_text(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """An aligned table: text left, numbers right."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *body, strict=False)]
    numeric = [bool(body) and all(_is_number(row[i]) for row in body) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    lines = [line(header), "  ".join("-" * w for w in widths)]
    lines += [line(row) for row in body]
    return "\n".join(lines) + "\n"


def render_csv(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(body)
    return out.getvalue()


def _is_number(text: str) -> bool:
    return text.replace(":", "").isdigit()
