"""The hub's SQLite database in write-ahead-log mode.

Every request that writes (a token's or a server's last activity, a spawn's state)
commits on the hub's one event loop. In SQLite's default rollback-journal mode each
commit waits for several fsyncs; while a class starts servers at once the disk is
busy and those waits stalled every other request (a profile of a 40-server burst:
an eighth of the event loop in commit). In WAL mode with synchronous=NORMAL a
commit appends to the log without waiting for the disk: a crash of the hub loses
nothing, and a crash or power loss of its host keeps the database consistent but
can undo the last commits before it (a server started in that moment is then an
orphan the orphans watch removes; its files are untouched). WAL needs a local disk, which
the hub's database has (the hub host's data folder, never NFS).
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

_wal_paths: set[str] = set()


def _write_ahead_log(dbapi_connection: Any, _record: Any) -> None:
    if not type(dbapi_connection).__module__.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    try:
        main = next(row[2] for row in cursor.execute("PRAGMA database_list") if row[1] == "main")
        if os.path.realpath(main) in _wal_paths:
            cursor.execute("PRAGMA journal_mode=WAL")  # kept in the file; a no-op once set
            cursor.execute("PRAGMA synchronous=NORMAL")  # per connection
    finally:
        cursor.close()


def use_write_ahead_log(db_url: str) -> None:
    """Connections the hub process opens from now on to this SQLite database use WAL
    (other databases in the process, e.g. in tests, keep their own modes)."""
    path = make_url(db_url).database
    if not path or path == ":memory:":
        return
    if not _wal_paths:
        event.listen(Engine, "connect", _write_ahead_log)
    _wal_paths.add(os.path.realpath(path))
