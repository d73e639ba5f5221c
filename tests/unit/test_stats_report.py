"""The instructors' numbers, from a fixed history of polls, through the report command."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from swarmhub.stats import PollSettings, open_db, record_poll
from swarmhub.stats.cli import main
from swarmhub.stats.report import (
    active_per_period,
    format_duration,
    never_active,
    render_text,
    user_activity_per_day,
    user_summary,
)

DAY1 = datetime(2026, 11, 20, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
OLD = DAY1 - timedelta(days=3)


def at(hour: int, minute: int, day: datetime = DAY1) -> datetime:
    return day + timedelta(hours=hour, minutes=minute)


def iso(t: datetime) -> str:
    return t.isoformat()


def srv(last: datetime) -> dict:
    return {"last_activity": iso(last), "state": {"node": "node1"}}


# (poll time, {user: {server: last_activity}}); every poll lists ann, bob, cat and dan
HISTORY: list[tuple[datetime, dict[str, dict[str, datetime]]]] = [
    (at(9, 0), {"ann": {"": at(8, 58)}, "bob": {"": OLD}}),
    # ann's two servers both active: one poll of active time, not two
    (at(9, 5), {"ann": {"": at(9, 4), "gpu": at(9, 3)}, "bob": {"": OLD}}),
    (at(9, 10), {"ann": {"": at(9, 4), "gpu": at(9, 9)}, "bob": {"": OLD}}),
    (at(10, 0), {"ann": {"": at(9, 4)}, "bob": {"": OLD}, "dan": {"": at(9, 59)}}),
    (at(9, 0, DAY2), {"ann": {"": at(8, 57, DAY2)}, "bob": {"": OLD}}),
]
USERS = ["ann", "bob", "cat", "dan"]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "activity.sqlite"
    engine = open_db(path)
    for when, servers in HISTORY:
        models = [
            {
                "name": name,
                "last_activity": None,
                "servers": {s: srv(t) for s, t in servers.get(name, {}).items()},
            }
            for name in USERS
        ]
        with Session(engine) as session, session.begin():
            record_poll(session, models, when, PollSettings())
    engine.dispose()
    return path


def session_on(path: Path) -> Session:
    return Session(open_db(path, create=False))


def test_active_users_per_hour_count_distinct_users_with_an_active_sample(db: Path) -> None:
    with session_on(db) as session:
        rows = active_per_period(session, at(8, 30), at(11, 0), "hour")
    assert [(r.start.hour, r.active_users, r.users_with_servers) for r in rows] == [
        (8, 0, 0),  # an hour without polls is listed with zeros
        (9, 1, 2),  # ann active; ann and bob had servers
        (10, 1, 3),  # dan active; ann's server idle since 9:04
    ]


def test_active_users_per_day(db: Path) -> None:
    with session_on(db) as session:
        rows = active_per_period(session, DAY1, DAY2 + timedelta(days=1), "day")
    assert [(r.start.day, r.active_users, r.users_with_servers) for r in rows] == [
        (20, 2, 3),
        (21, 1, 2),
    ]


def test_active_time_is_active_polls_times_the_interval(db: Path) -> None:
    with session_on(db) as session:
        rows = {r.name: r for r in user_summary(session, DAY1, DAY2 + timedelta(days=1))}
    assert sorted(rows) == USERS
    assert (rows["ann"].active_polls, rows["ann"].active_seconds) == (4, 4 * 300)
    assert (rows["dan"].active_polls, rows["dan"].active_seconds) == (1, 300)
    assert (rows["bob"].active_seconds, rows["bob"].polls_with_server) == (0, 5)
    assert (rows["cat"].active_seconds, rows["cat"].polls_with_server) == (0, 0)
    assert rows["ann"].last_seen == at(8, 57, DAY2)
    assert rows["bob"].last_seen == OLD
    assert rows["cat"].last_seen is None


def test_range_limits_active_time_and_never_active(db: Path) -> None:
    with session_on(db) as session:
        day2 = {r.name: r for r in user_summary(session, DAY2, DAY2 + timedelta(days=1))}
        never = [r.name for r in never_active(session, DAY2, DAY2 + timedelta(days=1))]
        never_all = [r.name for r in never_active(session, DAY1, DAY2 + timedelta(days=1))]
    assert day2["ann"].active_seconds == 300
    assert never == ["bob", "cat", "dan"]
    assert never_all == ["bob", "cat"]


def test_activity_per_day_per_user(db: Path) -> None:
    with session_on(db) as session:
        daily = user_activity_per_day(session, DAY1, DAY2 + timedelta(days=1))
    assert daily == {
        "ann": {DAY1.date(): 900, DAY2.date(): 300},
        "dan": {DAY1.date(): 300},
    }


def test_activity_per_day_of_some_users_only(db: Path) -> None:
    with session_on(db) as session:
        daily = user_activity_per_day(session, DAY1, DAY2 + timedelta(days=1), ["dan", "bob"])
    assert daily == {"dan": {DAY1.date(): 300}}


def test_report_users_csv_matches_the_samples(db: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(
        ["report", "users", "--db", str(db), "--since", "2026-11-20", "--until", "2026-11-21"]
        + ["--csv"]
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["user"], r["active_seconds"], r["polls_with_server"]) for r in rows] == [
        ("ann", "1200", "5"),
        ("bob", "0", "5"),
        ("cat", "0", "0"),
        ("dan", "300", "1"),
    ]
    assert rows[0]["last_seen"] == "2026-11-21T08:57:00+00:00"
    assert rows[2]["last_seen"] == ""


def test_report_active_per_hour_table(db: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(
        ["report", "active", "--per", "hour", "--db", str(db)]
        + ["--since", "2026-11-20T09:00", "--until", "2026-11-20T11:00"]
    )
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split("  ")[0] == "hour (UTC)"
    assert out[3].split() == ["2026-11-20", "09:00", "1", "2"]
    assert out[4].split() == ["2026-11-20", "10:00", "1", "3"]
    assert len(out) == 5


def test_report_never_lists_users_without_active_samples(
    db: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["report", "never", "--db", str(db), "--since", "2026-11-21", "--csv"]) == 0
    names = [r["user"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))]
    assert names == ["bob", "cat", "dan"]


def test_table_aligns_columns_and_right_aligns_numbers() -> None:
    text = render_text(["user", "time"], [["ann", "1:05"], ["bartholomew", "12:00"]])
    lines = text.splitlines()
    assert lines[0] == "user          time"
    assert lines[2] == "ann           1:05"
    assert lines[3] == "bartholomew  12:00"


def test_durations_are_hours_and_minutes() -> None:
    assert format_duration(0) == "0:00"
    assert format_duration(300) == "0:05"
    assert format_duration(7500) == "2:05"
    assert format_duration(36000) == "10:00"
