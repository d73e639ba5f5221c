"""The stats page: login through the hub's OAuth, who may see it, charts, download, backup.

The hub's side of the login is played by FakeHubLogin (the parts of HubOAuth the app
uses); the integration test runs the real HubOAuth against a real hub.
"""

from __future__ import annotations

import json
import re
import sqlite3
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from flask.testing import FlaskClient
from jupyterhub.services.auth import check_scopes
from sqlalchemy.orm import Session

from swarmhub.stats import PollSettings, may_view, open_db, record_poll
from swarmhub.stats.backup_status import read_backup_status
from swarmhub.stats.cli import main
from swarmhub.stats.web import WebSettings, create_app

PREFIX = "/services/stats/"
SVG = "{http://www.w3.org/2000/svg}"
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


def table_rows(html: str) -> list[tuple[str, str, str]]:
    """The users table as its visitor reads it: (user, active time, last seen) per row."""
    body = html.split('<table id="users">')[1].split("</table>")[0]
    return [
        (unescape(name), active, seen)
        for name, active, seen in re.findall(
            r'<tr><td>(.*?)</td><td class="num">(.*?)</td>\s*<td>(.*?)</td></tr>', body
        )
    ]


def heat_map(html: str) -> ET.Element:
    found = re.search(r'<div id="heatmap">(<svg.*?</svg>)</div>', html, re.S)
    assert found, "no heat map on the page"
    return ET.fromstring(found.group(1))  # well-formed, whatever the names


def heat_map_tooltips(html: str) -> list[str]:
    return [
        str(cell.findtext(f"{SVG}title"))
        for cell in heat_map(html).iter(f"{SVG}rect")
        if cell.get("class") == "cell"
    ]


def names(client: FlaskClient, query: str) -> list[str]:
    page = client.get(f"{PREFIX}{query}")
    assert page.status_code == 200, page.text
    return [row[0] for row in table_rows(page.text)]


def link(html: str, text: str) -> str:
    """The target of the link whose text starts with `text`, as a browser reads it."""
    found = re.search(r'<a href="([^"]*)"[^>]*>' + re.escape(text), html)
    assert found, f"no link {text!r} on the page"
    return unescape(found.group(1))


def query_of(href: str) -> dict[str, list[str]]:
    return parse_qs(urlparse(href).query)


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
    assert html.count("<svg") == 2  # the overview and the heat map of the users
    assert "Active users per hour, last day" in html
    # ann was active at three of the four polls: 0:15 of active time
    assert [row[:2] for row in table_rows(html)] == [("ann", "0:15"), ("cat", "0:00")]
    assert "users 1–2 of 2" in html
    tooltips = heat_map_tooltips(html)
    assert len(tooltips) == 2 * 2  # ann and cat, on the day before and today
    assert re.fullmatch(r"ann, \d{4}-\d\d-\d\d: \d+ active minutes", tooltips[0])
    assert sum(int(t.split(": ")[1].split()[0]) for t in tooltips[:2]) == 15  # ann's
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


# -- the users table: sorted, searched, paged --------------------------------

BUSY = ["ann", "joanne", "bob"] + [f"u{i:03d}" for i in range(120)]


@pytest.fixture
def many(tmp_path: Path, hub: FakeHubLogin, status_file: Path) -> FlaskClient:
    """123 users over three polls: ann 3 active polls, joanne 1, bob no server, and u<i>
    i % 4 of them (active time 0:00, 0:05, 0:10 or 0:15); a client logged in as alice."""
    path = tmp_path / "many.sqlite"
    engine = open_db(path)
    now = datetime.now(UTC)
    active_polls = {"ann": 3, "joanne": 1} | {f"u{i:03d}": i % 4 for i in range(120)}
    for poll in range(3):
        when = now - timedelta(minutes=10 * (2 - poll))
        models: list[dict[str, Any]] = [{"name": "bob", "servers": {}}]
        for name, active in active_polls.items():
            idle = 1 if poll >= 3 - active else 30
            last = (when - timedelta(minutes=idle)).isoformat()
            models.append({"name": name, "servers": {"": {"last_activity": last}}})
        with Session(engine) as session, session.begin():
            record_poll(session, models, when, PollSettings())
    settings = WebSettings(prefix=PREFIX, backup_status=status_file)
    client = create_app(settings, engine, auth=hub).test_client()
    log_in(client, hub, "t-admin")
    return client


def test_users_are_listed_by_name_fifty_a_page(many: FlaskClient) -> None:
    html = many.get(PREFIX).text
    assert [row[0] for row in table_rows(html)] == sorted(BUSY)[:50]
    assert "users 1–50 of 123" in html
    assert len(heat_map_tooltips(html)) == 50 * 8  # the last 7 days: 8 dates
    rows = heat_map(html).findall(f"{SVG}g[@class='row']")
    assert [r.findtext(f"{SVG}text") for r in rows] == sorted(BUSY)[:50]  # the table's order
    page2 = many.get(link(html, "next")).text
    assert "users 51–100 of 123" in page2
    assert [row[0] for row in table_rows(page2)] == sorted(BUSY)[50:100]
    page3 = many.get(link(page2, "next")).text
    assert "users 101–123 of 123" in page3
    assert ">next</span>" in page3  # no link past the last page
    assert [row[0] for row in table_rows(many.get(link(page3, "previous")).text)] == (
        sorted(BUSY)[50:100]
    )


def test_header_links_sort_and_flip_the_order(many: FlaskClient) -> None:
    html = many.get(f"{PREFIX}?days=1").text
    by_active = link(html, "active time")
    assert query_of(by_active) == {"days": ["1"], "sort": ["active"], "order": ["desc"]}
    html = many.get(by_active).text
    rows = table_rows(html)
    # the busiest first; equal active times by name
    assert [r[:2] for r in rows[:4]] == [("ann", "0:15"), ("u003", "0:15"), ("u007", "0:15"),
                                         ("u011", "0:15")]  # fmt: skip
    assert 'aria-sort="descending"' in html
    flipped = table_rows(many.get(link(html, "active time")).text)
    assert [r[:2] for r in flipped[:3]] == [("bob", "0:00"), ("u000", "0:00"), ("u004", "0:00")]
    by_name = many.get(link(html, "user")).text
    assert table_rows(by_name)[0][0] == "ann"
    assert table_rows(many.get(link(by_name, "user")).text)[0][0] == "u119"


def test_never_seen_users_come_last_by_last_seen(client: FlaskClient, hub: FakeHubLogin) -> None:
    log_in(client, hub, "t-admin")
    assert names(client, "?sort=last_seen&order=desc") == ["ann", "cat"]
    assert names(client, "?sort=last_seen&order=asc") == ["cat", "ann"]
    assert table_rows(client.get(f"{PREFIX}?sort=last_seen").text)[1][2] == "never"


def test_search_filters_names_ignoring_case(many: FlaskClient) -> None:
    html = many.get(f"{PREFIX}?q=ANN&sort=active").text
    assert [row[0] for row in table_rows(html)] == ["ann", "joanne"]
    assert "users 1–2 of 2 whose name contains “ANN” (123 in all)" in html
    assert len(heat_map(html).findall(f"{SVG}g[@class='row']")) == 2
    words = " ".join(many.get(f"{PREFIX}?q=zed").text.split())
    assert "No user's name contains “zed” (123 users in all)" in words


def test_search_form_keeps_the_range_and_sort_and_starts_at_page_one(many: FlaskClient) -> None:
    html = many.get(f"{PREFIX}?days=30&sort=active&order=asc&page=2&q=u").text
    form = html.split('<form id="search"')[1].split("</form>")[0]
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form))
    assert hidden == {"days": "30", "sort": "active", "order": "asc"}
    assert 'name="q" value="u"' in form


def test_links_keep_the_other_parameters(many: FlaskClient) -> None:
    html = many.get(f"{PREFIX}?days=30&q=u0&sort=active&order=desc&page=2").text
    assert "users 51–100 of 100 whose name contains “u0”" in html
    query = {"days": ["30"], "q": ["u0"], "sort": ["active"], "order": ["desc"]}
    assert query_of(link(html, "previous")) == query  # page 1 is the default
    assert query_of(link(html, "7</a>")) == query | {"days": ["7"]}  # a new range: page 1
    assert query_of(link(html, "last seen")) == query | {"sort": ["last_seen"]}
    assert query_of(link(html, "user")) == {"days": ["30"], "q": ["u0"]}  # the default sort


def test_a_page_past_the_end_says_so(many: FlaskClient) -> None:
    reply = many.get(f"{PREFIX}?q=u0&page=9")
    assert reply.status_code == 200
    words = " ".join(reply.text.split())
    assert "There is no page 9: the 100 users fit on 2 pages." in words
    assert query_of(link(reply.text, "Go to page 2"))["page"] == ["2"]
    assert table_rows(reply.text) == [] and "No users on this page." in reply.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sort=age", "sort must be one of name, active, last_seen, not &#39;age&#39;"),
        ("order=up", "order must be asc or desc, not &#39;up&#39;"),
        ("page=0", "page must be 1 or more, not 0"),
        ("page=two", "page must be a whole number from 1, not &#39;two&#39;"),
        ("q=" + "x" * 101, "the search may be at most 100 characters long"),
    ],
)
def test_bad_table_arguments_are_explained(
    client: FlaskClient, hub: FakeHubLogin, query: str, message: str
) -> None:
    log_in(client, hub, "t-admin")
    reply = client.get(f"{PREFIX}?{query}")
    assert reply.status_code == 400
    assert message in reply.text


def test_hostile_names_are_shown_as_text(tmp_path: Path, hub: FakeHubLogin) -> None:
    hostile = ["<script>alert(1)</script>", '"onmouseover=alert(1)']
    engine = open_db(tmp_path / "hostile.sqlite")
    when = datetime.now(UTC)
    server = {"": {"last_activity": (when - timedelta(minutes=1)).isoformat()}}
    with Session(engine) as session, session.begin():
        record_poll(
            session, [{"name": n, "servers": server} for n in hostile], when, PollSettings()
        )
    client = create_app(WebSettings(prefix=PREFIX), engine, auth=hub).test_client()
    log_in(client, hub, "t-admin")
    html = client.get(f"{PREFIX}?q=%22%3E%3Cscript%3E").text  # the search is reflected too
    assert "<script>" not in html and '"onmouseover' not in html
    assert 'value="&#34;&gt;&lt;script&gt;"' in html
    html = client.get(PREFIX).text
    assert "<script>" not in html and '"onmouseover' not in html
    assert sorted(row[0] for row in table_rows(html)) == sorted(hostile)
    labels = [t.text for t in heat_map(html).iter(f"{SVG}text") if t.get("class") == "name"]
    assert sorted(labels) == sorted(name[:21] + "…" if len(name) > 22 else name for name in hostile)
    assert any(t.startswith('"onmouseover=alert(1), ') for t in heat_map_tooltips(html))


def test_the_table_shows_the_numbers_of_report_users(
    many: FlaskClient, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    html = many.get(f"{PREFIX}?days=1&sort=active&order=desc").text
    command = unescape(re.sub(r"\s+", " ", html.split('id="report-command">')[1].split("<")[0]))
    since = command.split("--since ")[1]
    assert main(["report", "users", "--db", str(tmp_path / "many.sqlite"), "--since", since]) == 0
    report = {
        cells[0]: (cells[1], cells[4])
        for cells in (
            re.split(r"\s{2,}", line) for line in capsys.readouterr().out.splitlines()[3:]
        )
    }
    page = table_rows(html)
    assert len(page) == 50
    assert {name: (active, seen) for name, active, seen in page} == {
        name: report[name] for name, *_ in page
    }
    assert report["ann"][0] == "0:15" and report["bob"] == ("0:00", "never")
