"""The poller's rules: what one read of the hub's users records, retention, pagination."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from swarmhub.stats import HubUser, Poll, PollSettings, Sample, open_db, record_poll
from swarmhub.stats.hubapi import HubAPI, HubRefused, HubUnavailable
from swarmhub.stats.poller import poll_once
from swarmhub.stats.sampling import is_active, node_of, parse_time, samples_from_users

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
FIVE = timedelta(minutes=5)


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def user(name: str, servers: dict[str, Any] | None = None, last: datetime | None = None) -> dict:
    return {
        "name": name,
        "last_activity": iso(last) if last else None,
        "servers": servers or {},
    }


def server(last: datetime | None, state: dict | None = None) -> dict[str, Any]:
    model: dict[str, Any] = {"last_activity": iso(last) if last else None, "ready": True}
    if state is not None:
        model["state"] = state
    return model


@pytest.mark.parametrize(
    ("age", "active"),
    [
        (timedelta(0), True),
        (timedelta(minutes=4, seconds=59), True),
        (FIVE, True),
        (FIVE + timedelta(seconds=1), False),
        (timedelta(hours=3), False),
        (-timedelta(seconds=30), True),  # the hub's clock a little ahead
    ],
)
def test_active_means_last_activity_within_the_window(age: timedelta, active: bool) -> None:
    assert is_active(NOW - age, NOW, FIVE) is active


def test_no_last_activity_is_not_active() -> None:
    assert is_active(None, NOW, FIVE) is False


def test_hub_times_with_z_offsets_or_none_parse_to_utc() -> None:
    assert parse_time("2026-11-20T09:58:00.123456Z") == datetime(
        2026, 11, 20, 9, 58, 0, 123456, tzinfo=UTC
    )
    assert parse_time("2026-11-20T10:58:00+01:00") == datetime(2026, 11, 20, 9, 58, tzinfo=UTC)
    assert parse_time(None) is None
    with pytest.raises(ValueError):
        parse_time(12)


def test_node_comes_from_the_spawner_state_and_is_null_without_it() -> None:
    assert node_of(server(NOW, {"node": "node2", "service_id": "x"})) == "node2"
    assert node_of(server(NOW)) is None  # no admin:server_state scope
    assert node_of(server(NOW, {})) is None  # a spawner that does not record it
    assert node_of(server(NOW, {"node": ""})) is None


def test_one_sample_per_server_and_every_user_seen() -> None:
    result = samples_from_users(
        [
            user(
                "ann",
                {
                    "": server(NOW - timedelta(minutes=1), {"node": "node1"}),
                    "gpu": server(NOW - timedelta(hours=1)),
                },
            ),
            user("bob"),  # logged in once, never started a server
        ],
        NOW,
        FIVE,
    )
    assert [u.name for u in result.users] == ["ann", "bob"]
    assert [(s.user, s.server, s.active, s.node) for s in result.samples] == [
        ("ann", "", True, "node1"),
        ("ann", "gpu", False, None),
    ]


def test_a_user_model_without_name_is_an_error() -> None:
    with pytest.raises(ValueError, match="without a name"):
        samples_from_users([{"servers": {}}], NOW, FIVE)


def test_poll_settings_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="interval"):
        PollSettings(interval=timedelta(0))
    with pytest.raises(ValueError, match="retention"):
        PollSettings(retention=timedelta(hours=2))
    assert PollSettings().active_window == FIVE
    assert PollSettings(window=timedelta(minutes=7)).active_window == timedelta(minutes=7)


def test_recorded_poll_holds_samples_users_and_the_interval(tmp_path: Path) -> None:
    engine = open_db(tmp_path / "db" / "activity.sqlite")
    users = [
        user("ann", {"": server(NOW - timedelta(minutes=2), {"node": "node1"})}, NOW),
        user("bob", last=NOW - timedelta(days=2)),
    ]
    with Session(engine) as session, session.begin():
        record_poll(session, users, NOW, PollSettings())
    with Session(engine) as session:
        (poll,) = session.scalars(select(Poll)).all()
        assert (poll.interval_seconds, poll.users, poll.servers) == (300, 2, 1)
        (sample,) = session.scalars(select(Sample)).all()
        assert (sample.user, sample.server, sample.active, sample.node) == (
            "ann",
            "",
            True,
            "node1",
        )
        assert sample.poll_id == poll.id
        names = {u.name: u for u in session.scalars(select(HubUser))}
        assert set(names) == {"ann", "bob"}
        assert names["bob"].last_activity == (NOW - timedelta(days=2)).replace(tzinfo=None)


def test_database_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "activity.sqlite"
    open_db(path).dispose()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_retention_deletes_old_samples_and_keeps_recent_ones(tmp_path: Path) -> None:
    engine = open_db(tmp_path / "activity.sqlite")
    settings = PollSettings(retention=timedelta(days=30))
    old, recent = NOW - timedelta(days=40), NOW - timedelta(days=10)
    for when in (old, recent, NOW):
        with Session(engine) as session, session.begin():
            record_poll(session, [user("ann", {"": server(when)})], when, settings)
    with Session(engine) as session:
        times = sorted(s.time for s in session.scalars(select(Sample)))
        assert times == [recent.replace(tzinfo=None), NOW.replace(tzinfo=None)]
        assert session.query(Poll).count() == 2


def test_a_user_listed_twice_across_pages_is_recorded_once(tmp_path: Path) -> None:
    engine = open_db(tmp_path / "activity.sqlite")
    ann = user("ann", {"": server(NOW)})
    with Session(engine) as session, session.begin():
        record_poll(session, [ann, user("bob"), ann], NOW, PollSettings())
    with Session(engine) as session:
        assert session.query(Sample).count() == 1
        assert session.query(HubUser).count() == 2


# -- the hub API client, against a small paginating server on loopback ----------------


def fake_hub(users: list[dict], page_max: int, token: str) -> Flask:
    """Answers GET /hub/api/users as JupyterHub 5/6 does: paginated when asked."""
    app = Flask("fake-hub")
    app.config["seen_accept"] = []

    @app.get("/hub/api/users")
    def list_users() -> Any:
        if request.headers.get("Authorization") != f"token {token}":
            return jsonify(status=403, message="forbidden"), 403
        app.config["seen_accept"].append(request.headers.get("Accept"))
        offset = int(request.args.get("offset", 0))
        limit = min(int(request.args.get("limit", page_max)), page_max)
        items = users[offset : offset + limit]
        following = None
        if offset + limit < len(users):
            following = {"offset": offset + limit, "limit": limit, "url": "ignored"}
        return jsonify(
            items=items,
            _pagination={"offset": offset, "limit": limit, "total": len(users), "next": following},
        )

    @app.get("/broken/api/users")
    def broken() -> Any:
        return "upstream down", 503

    return app


@pytest.fixture
def hub_server() -> Iterator[tuple[str, Flask]]:
    users = [user(f"u{i:03d}", {"": server(NOW)} if i % 2 else None) for i in range(7)]
    app = fake_hub(users, page_max=3, token="right-token")
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}", app
    finally:
        srv.shutdown()
        thread.join(timeout=10)


def test_client_follows_pagination_to_the_last_page(hub_server: tuple[str, Flask]) -> None:
    base, app = hub_server
    hub = HubAPI(url=f"{base}/hub/api", token="right-token")
    with hub.session() as http:
        names = [u["name"] for u in hub.users(http)]
    assert names == [f"u{i:03d}" for i in range(7)]
    assert app.config["seen_accept"] == ["application/jupyterhub-pagination+json"] * 3


def test_poll_once_records_every_page(hub_server: tuple[str, Flask], tmp_path: Path) -> None:
    base, _ = hub_server
    engine = open_db(tmp_path / "activity.sqlite")
    poll = poll_once(engine, HubAPI(f"{base}/hub/api", "right-token"), PollSettings(), NOW)
    assert (poll.users, poll.servers) == (7, 3)


def test_refused_token_is_a_config_error_naming_the_scopes(hub_server: tuple[str, Flask]) -> None:
    base, _ = hub_server
    hub = HubAPI(url=f"{base}/hub/api", token="wrong-token")
    with pytest.raises(HubRefused, match="read:servers") as refused, hub.session() as http:
        list(hub.users(http))
    assert "wrong-token" not in str(refused.value)


def test_hub_down_or_failing_is_retryable(hub_server: tuple[str, Flask]) -> None:
    base, _ = hub_server
    with pytest.raises(HubUnavailable, match="503"):
        hub = HubAPI(url=f"{base}/broken/api", token="t")
        list(hub.users(hub.session()))
    with pytest.raises(HubUnavailable, match="did not answer"):
        hub = HubAPI(url="http://127.0.0.1:9/hub/api", token="t", timeout=5)
        list(hub.users(hub.session()))


def test_api_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUPYTERHUB_API_URL", raising=False)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "secret-token-value")
    with pytest.raises(ValueError, match="JUPYTERHUB_API_URL"):
        HubAPI.from_env()
    monkeypatch.setenv("JUPYTERHUB_API_URL", "http://10.213.128.2:8081/hub/api/")
    hub = HubAPI.from_env()
    assert hub.url == "http://10.213.128.2:8081/hub/api"
    assert "secret-token-value" not in repr(hub)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "")
    with pytest.raises(ValueError, match="JUPYTERHUB_API_TOKEN"):
        HubAPI.from_env()
