"""What the stats page shows: the numbers of the index page, from the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .charts import bar_chart
from .models import Poll, utc
from .report import (
    active_per_period,
    floor_to,
    format_duration,
    format_time,
    user_activity_per_day,
    user_summary,
)


@dataclass(frozen=True)
class IndexPage:
    last: str  # "last 7 days"
    overview: str  # SVG: active users per hour or day
    rows: list[dict[str, Any]]  # each user: name, active, last_seen, chart (SVG)
    latest: Poll | None  # the newest poll, for its settings


def last(days: int) -> str:
    return "last day" if days == 1 else f"last {days} days"


def index_page(engine: Engine, days: int, now: datetime) -> IndexPage:
    """Charts and the per-user table of the last `days` days before `now`."""
    per: Literal["hour", "day"] = "hour" if days <= 14 else "day"
    start = floor_to(now - timedelta(days=days), per)
    with Session(engine) as session:
        periods = active_per_period(session, start, now, per)
        users = user_summary(session, start, now)
        daily = user_activity_per_day(session, start, now)
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
    rows = []
    for row in users:
        per_day = daily.get(row.name, {})
        rows.append(
            {
                "name": row.name,
                "active": format_duration(row.active_seconds),
                "last_seen": format_time(row.last_seen),
                "chart": bar_chart(
                    [d.strftime("%m-%d") for d in day_list],
                    [round(per_day.get(d, 0) / 60) for d in day_list],
                    title="",
                    unit="active minutes per day",
                    width=320,
                    height=70,
                    label_every=max(len(day_list) // 3, 1),
                    css_class="spark",
                    compact=True,
                ),
            }
        )
    return IndexPage(last=last(days), overview=overview, rows=rows, latest=latest)


def poll_time(poll: Poll) -> str:
    return format_time(utc(poll.time))


def minutes(seconds: float) -> str:
    return f"{seconds / 60:g}"
