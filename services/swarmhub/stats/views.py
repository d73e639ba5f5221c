"""What the stats page shows: the numbers of the index page, from the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .charts import bar_chart, heat_map
from .models import Poll, utc
from .report import (
    active_per_period,
    floor_to,
    format_duration,
    format_time,
    user_activity_per_day,
    user_summary,
)
from .user_list import ListPage, ListQuery, select_page


@dataclass(frozen=True)
class IndexPage:
    last: str  # "last 7 days"
    since: datetime  # the start of the range (its end is the page's time)
    overview: str  # SVG: active users per hour or day
    users: ListPage  # the table's page of users
    rows: list[dict[str, str]]  # the same users, as the table shows them
    heatmap: str  # SVG: their active minutes per day ("" without users)
    latest: Poll | None  # the newest poll, for its settings


def last(days: int) -> str:
    return "last day" if days == 1 else f"last {days} days"


def index_page(engine: Engine, query: ListQuery, now: datetime) -> IndexPage:
    """Charts and the table of users of the last `query.days` days before `now`."""
    days = query.days
    per: Literal["hour", "day"] = "hour" if days <= 14 else "day"
    start = floor_to(now - timedelta(days=days), per)
    with Session(engine) as session:
        periods = active_per_period(session, start, now, per)
        # the report's own numbers (`report users`), then searched, sorted and paged
        users = select_page(user_summary(session, start, now), query)
        names = [row.name for row in users.rows]
        daily = user_activity_per_day(session, start, now, names) if names else {}
        latest = session.scalars(select(Poll).order_by(Poll.time.desc()).limit(1)).first()
    day_list = [(start + timedelta(days=i)).date() for i in range(days + 1)]
    labels = [p.start.strftime("%m-%d %H:00" if per == "hour" else "%m-%d") for p in periods]
    overview = bar_chart(
        labels,
        [p.active_users for p in periods],
        title=f"Active users per {per}, {last(days)} (UTC)",
        unit="users",
        label_every=24 if per == "hour" and days > 1 else (6 if per == "hour" else 7),
    )
    heatmap = (
        heat_map(
            names,
            day_list,
            [[daily.get(name, {}).get(d, 0) / 60 for d in day_list] for name in names],
            title=f"Active minutes per day (UTC) of users {users.first}–{users.last}",
        )
        if names
        else ""
    )
    rows = [
        {
            "name": row.name,
            "active": format_duration(row.active_seconds),
            "last_seen": format_time(row.last_seen),
        }
        for row in users.rows
    ]
    return IndexPage(
        last=last(days),
        since=start,
        overview=overview,
        users=users,
        rows=rows,
        heatmap=heatmap,
        latest=latest,
    )


def poll_time(poll: Poll) -> str:
    return format_time(utc(poll.time))


def minutes(seconds: float) -> str:
    return f"{seconds / 60:g}"
