"""The stats page: login through the hub's OAuth, who may see it, charts, download, backup.

The hub's side of the login is played by FakeHubLogin (the parts of HubOAuth the app
uses); the integration test runs the real HubOAuth against a real hub.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from flask.testing import FlaskClient
from jupyterhub.services.auth import check_scopes
from sqlalchemy.orm import Session

from swarmhub.stats import PollSettings, may_view, open_db, record_poll
from swarmhub.stats.backup_status import read_backup_status
from swarmhub.stats.web import WebSettings, create_app

PREFIX = "/services/stats/"
ACCESS = "access:services!service=stats"


class FakeHubLogin:
    login_url = "/hub/api/oauth2/authorize?client_id=service-stats&response_type=code"
    cookie_name = "service-stats"
    access_scopes = {ACCESS}

    def __init__(self, users: dict[str, dict[str, Any]]) -> None:
        self.users = dict(users)  # token -> user model
        self.codes: dict[str, str] = {}  # code -> token
        self.states: dict[str, dict[str, Any]] = {}
        self.verifiers_seen: list[str | None] = []

    def user_for_token(self, token: str) -> dict[str, Any] | None:
        return self.users.get(token)

    def check_scopes(self, required_scopes: set[str], user: dict[str, Any]) -> set[str]:
        return check_scopes(required_scopes, set(user["scopes"]))  # JupyterHub's own

    def generate_state(self, next_url: str | None = None, **extra: Any) -> str:
        state = f"state{len(self.states)}"
        self.states[state] = {"next_url": next_url, **extra}
        return state

    def get_next_url(self, state_id: str = "") -> str:
        return self.states.get(state_id, {}).get("next_url") or PREFIX

    def get_code_verifier(self, state_id: str = "") -> str | None:
        return self.states.get(state_id, {}).get("code_verifier")

    def clear_oauth_state(self, state_id: str) -> None:
        self.states.pop(state_id, None)

    def token_for_code(self, code: str, *, code_verifier: str | None = None) -> str:
        self.verifiers_seen.append(code_verifier)
        return self.codes[code]

    def generate_pkce_code_challenge(self) -> tuple[str, str, str]:
        return "verifier-1", "challenge-1", "S256"


USERS = {
    "t-admin": {"name": "alice", "admin": True, "groups": [], "scopes": [ACCESS]},
    "t-teacher": {"name": "tina", "admin": False, "groups": [], "scopes": [ACCESS]},
    "t-student": {"name": "bob", "admin": False, "groups": ["students"], "scopes": []},
}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "activity.sqlite"
    engine = open_db(path)
    now = datetime.now(UTC)
    # ann's server: active 1 minute before each poll but the one 60 minutes ago
    for minutes, idle in ((65, 1), (60, 30), (5, 1), (0, 1)):
        when = now - timedelta(minutes=minutes)
        models = [
            {
                "name": "ann",
                "last_activity": None,
                "servers": {"": {"last_activity": (when - timedelta(minutes=idle)).isoformat()}},
            },
            {"name": "cat", "servers": {}},
        ]
        with Session(engine) as session, session.begin():
            record_poll(session, models, when, PollSettings())
    engine.dispose()
    return path


@pytest.fixture
def hub() -> FakeHubLogin:
    return FakeHubLogin(USERS)


@pytest.fixture
def status_file(tmp_path: Path) -> Path:
    return tmp_path / "backup" / "status.json"


@pytest.fixture
def client(db: Path, hub: FakeHubLogin, status_file: Path) -> FlaskClient:
    settings = WebSettings(prefix=PREFIX, backup_status=status_file)
    app = create_app(settings, open_db(db), auth=hub)
    return app.test_client()


def log_in(client: FlaskClient, hub: FakeHubLogin, token: str, path: str = PREFIX) -> Any:
    """Start at `path`, follow the redirect to the hub, come back with a code."""
    start = client.get(path)
    assert start.status_code == 302
    location = urlparse(start.headers["Location"])
    assert location.path == "/hub/api/oauth2/authorize"
    query = parse_qs(location.query)
    assert query["client_id"] == ["service-stats"]
    assert query["code_challenge"] == ["challenge-1"]
    assert query["code_challenge_method"] == ["S256"]
    hub.codes["code-1"] = token
    back = client.get(f"{PREFIX}oauth_callback?code=code-1&state={query['state'][0]}")
    assert back.status_code == 302
    return back


def test_health_needs_no_login(client: FlaskClient) -> None:
    assert client.get(f"{PREFIX}healthz").text == "ok"


def test_visitor_without_login_is_sent_to_the_hub(client: FlaskClient) -> None:
    reply = client.get(PREFIX)
    assert reply.status_code == 302
    assert reply.headers["Location"].startswith("/hub/api/oauth2/authorize?")


def test_admin_sees_charts_of_activity(client: FlaskClient, hub: FakeHubLogin) -> None:
    back = log_in(client, hub, "t-admin", f"{PREFIX}?days=1")
    assert back.headers["Location"] == f"{PREFIX}?days=1"
    assert hub.verifiers_seen == ["verifier-1"]  # PKCE verifier handed to the hub
    page = client.get(f"{PREFIX}?days=1")
    assert page.status_code == 200
    html = page.text
    assert "Logged in as alice" in html
    assert html.count("<svg") == 3  # the overview, and one chart per user (ann, cat)
    assert "Active users per hour, last day" in html
    # ann was active at three of the four polls: 0:15 of active time
    assert '<td>ann</td><td class="num">0:15</td>' in html
    assert '<td>cat</td><td class="num">0:00</td>' in html
    assert "no backup yet" in html
    words = " ".join(html.split())
    assert (
        "a poll every 5 min, and a server counts as active when its last activity lies "
        "within 5 min before the poll" in words
    )


def test_instructor_sees_the_page(client: FlaskClient, hub: FakeHubLogin) -> None:
    log_in(client, hub, "t-teacher")
    assert client.get(PREFIX).status_code == 200


def test_ordinary_user_is_refused_with_a_clear_message(
    client: FlaskClient, hub: FakeHubLogin
) -> None:
    log_in(client, hub, "t-student")
    page = client.get(PREFIX)
    assert page.status_code == 403
    assert "logged in as bob" in page.text
    assert "swarmhub_instructors" in page.text
    assert client.get(f"{PREFIX}activity.sqlite").status_code == 403


def test_callback_with_a_foreign_state_is_refused(client: FlaskClient, hub: FakeHubLogin) -> None:
    client.get(PREFIX)
    hub.codes["c"] = "t-admin"
    reply = client.get(f"{PREFIX}oauth_callback?code=c&state=forged")
    assert reply.status_code == 400
    assert "Open the statistics page again" in reply.text
    assert client.get(PREFIX).status_code == 302  # still not logged in


def test_callback_never_redirects_outside_the_service(
    client: FlaskClient, hub: FakeHubLogin
) -> None:
    client.get(PREFIX)
    (state,) = hub.states
    hub.states[state]["next_url"] = "https://evil.example/"
    hub.codes["c"] = "t-admin"
    reply = client.get(f"{PREFIX}oauth_callback?code=c&state={state}")
    assert reply.headers["Location"] == PREFIX


def test_revoked_token_sends_the_user_through_login_again(
    client: FlaskClient, hub: FakeHubLogin
) -> None:
    log_in(client, hub, "t-admin")
    del hub.users["t-admin"]
    assert client.get(PREFIX).status_code == 302


def test_bad_days_argument_is_explained(client: FlaskClient, hub: FakeHubLogin) -> None:
    log_in(client, hub, "t-admin")
    reply = client.get(f"{PREFIX}?days=lots")
    assert reply.status_code == 400
    assert "days must be a whole number" in reply.text
    assert client.get(f"{PREFIX}?days=0").status_code == 400


def test_download_is_a_consistent_sqlite_copy(
    client: FlaskClient, hub: FakeHubLogin, tmp_path: Path
) -> None:
    log_in(client, hub, "t-teacher")
    reply = client.get(f"{PREFIX}activity.sqlite")
    assert reply.status_code == 200
    assert "attachment" in reply.headers["Content-Disposition"]
    copy = tmp_path / "downloaded.sqlite"
    copy.write_bytes(reply.data)
    with sqlite3.connect(copy) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert raw.execute("SELECT count(*) FROM samples").fetchone() == (4,)
        assert raw.execute("SELECT count(*) FROM users").fetchone() == (2,)
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("delete",)


def test_backup_status_shows_the_last_good_backup(
    client: FlaskClient, hub: FakeHubLogin, status_file: Path
) -> None:
    status_file.parent.mkdir()
    status_file.write_text(
        json.dumps(
            {
                "last_result": "failed",
                "last_success": "2026-11-21T03:00:12Z",
                "last_run_finished": "2026-11-22T03:00:40Z",
                "message": "target unreachable",
            }
        )
    )
    log_in(client, hub, "t-admin")
    html = client.get(PREFIX).text
    assert "last good backup: 2026-11-21 03:00 UTC" in html
    assert "The last run failed (2026-11-22 03:00 UTC): target unreachable" in html


def test_backup_status_shows_the_last_restore_drill_and_flags_a_failed_one(
    client: FlaskClient, hub: FakeHubLogin, status_file: Path
) -> None:
    status_file.parent.mkdir()
    status = {
        "last_result": "ok",
        "last_success": "2026-11-22T03:00:40Z",
        "last_drill": "2026-11-22T03:01:10Z",
        "drill_result": "ok",
        "drill_message": "restore drill: 5 files restored, 5 identical to the live files",
    }
    status_file.write_text(json.dumps(status))
    log_in(client, hub, "t-admin")
    html = client.get(PREFIX).text
    assert "2026-11-22 03:01 UTC: restore drill: 5 files restored, 5 identical" in html
    assert 'class="backup"' in html  # nothing to flag

    status.update(drill_result="failed", drill_message="restore drill: 1 DIFFER: ann/a.txt")
    status_file.write_text(json.dumps(status))
    html = client.get(PREFIX).text
    assert 'class="warn">2026-11-22 03:01 UTC: restore drill: 1 DIFFER: ann/a.txt' in html
    assert 'class="backup bad"' in html


def test_unreadable_backup_status_is_reported_not_fatal(status_file: Path) -> None:
    status_file.parent.mkdir()
    status_file.write_text("{not json")
    status = read_backup_status(status_file)
    assert status.headline == "no backup yet"
    assert status.problem and "cannot read" in status.problem


@pytest.mark.parametrize(
    ("user", "allowed"),
    [
        ({"name": "a", "admin": True, "groups": []}, True),
        ({"name": "t", "admin": False, "scopes": [ACCESS, "read:users:name!user=t"]}, True),
        # admins' and some operators' roles give access to every service
        ({"name": "o", "admin": False, "scopes": ["access:services"]}, True),
        # a member of the instructors group whose token no longer has the access scope
        ({"name": "s", "admin": False, "groups": ["instructors"], "scopes": []}, False),
        ({"name": "s", "admin": False, "scopes": ["access:services!service=other"]}, False),
        ({"name": "s", "admin": False}, False),  # scopes not readable: not allowed
        ({"name": "s", "admin": "yes", "scopes": []}, False),
        (None, False),
    ],
)
def test_only_admins_and_who_the_hub_lets_in_may_view(user: dict | None, allowed: bool) -> None:
    hub = FakeHubLogin({})
    assert may_view(user, hub.access_scopes, hub.check_scopes) is allowed


def test_the_app_refuses_to_start_without_its_access_scopes(db: Path) -> None:
    hub = FakeHubLogin(USERS)
    hub.access_scopes = set()
    with pytest.raises(ValueError, match="JUPYTERHUB_SERVICE_NAME"):
        create_app(WebSettings(prefix=PREFIX), open_db(db), auth=hub)


def test_prefix_must_be_a_path_with_slashes() -> None:
    with pytest.raises(ValueError, match="prefix"):
        WebSettings(prefix="services/stats")
