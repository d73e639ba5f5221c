"""The activity database: SQLAlchemy 2 typed models over SQLite in WAL mode.

Times are stored as naive datetimes that are always UTC (SQLite has no time zones);
`utc()` turns them back into aware ones.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, String, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


class Base(DeclarativeBase):
    pass


class Poll(Base):
    """One successful read of the hub's user list."""

    __tablename__ = "polls"

    id: Mapped[int] = mapped_column(primary_key=True)
    time: Mapped[datetime] = mapped_column(DateTime, index=True)
    # the poll interval in force: what one active sample of this poll counts for
    interval_seconds: Mapped[int]
    # the active window in force: a server was active when its last activity was this recent
    window_seconds: Mapped[int]
    users: Mapped[int]
    servers: Mapped[int]


class Sample(Base):
    """One server of one user, as the hub reported it at one poll."""

    __tablename__ = "samples"
    __table_args__ = (Index("ix_samples_user_time", "user", "time"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    time: Mapped[datetime] = mapped_column(DateTime, index=True)
    user: Mapped[str] = mapped_column(String(255))
    # "" for the user's default server
    server: Mapped[str] = mapped_column(String(255), default="")
    last_activity: Mapped[datetime | None] = mapped_column(DateTime)
    # last_activity within the poll window before `time`
    active: Mapped[bool]
    # the swarm node the server runs on (from the spawner state), if known
    node: Mapped[str | None] = mapped_column(String(255))


class HubUser(Base):
    """Every user the hub listed, with or without a server (so "never active" is answerable)."""

    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime)
    # the last poll that listed this user
    last_polled: Mapped[datetime] = mapped_column(DateTime)
    # the hub's own last_activity of the user (logins, requests, server activity)
    last_activity: Mapped[datetime | None] = mapped_column(DateTime)


def utc(value: datetime | None) -> datetime | None:
    """A stored (naive UTC) time as an aware UTC datetime."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_db(value: datetime) -> datetime:
    """An aware (or naive UTC) time as stored: naive UTC."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def open_db(path: str | Path, *, create: bool = True) -> Engine:
    """An engine on the SQLite file at `path`, in WAL mode, with the tables made.

    With create=False a missing file is an error (the report must not make an empty
    database where the operator mistyped a path).
    """
    path = Path(path)
    if not create and not path.is_file():
        raise FileNotFoundError(
            f"no activity database at {path}; give the path of activity.sqlite with --db "
            "(deployed: /srv/stats/db/activity.sqlite)"
        )
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", _sqlite_pragmas)
    Base.metadata.create_all(engine)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    assert isinstance(dbapi_connection, sqlite3.Connection)
    cursor = dbapi_connection.cursor()
    # readers (the page, the report) never block the poller's writes, nor it them
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def backup_to(engine: Engine, target: str | Path) -> None:
    """A consistent copy of the database at `target`, with SQLite's online backup API."""
    raw = engine.raw_connection()
    try:
        source = raw.driver_connection
        assert isinstance(source, sqlite3.Connection)
        destination = sqlite3.connect(str(target))
        try:
            source.backup(destination)
            # a single self-contained file for whoever opens the copy
            destination.execute("PRAGMA journal_mode=DELETE")
        finally:
            destination.close()
    finally:
        raw.close()
