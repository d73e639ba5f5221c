"""The stats service against a real JupyterHub 6.1.1 with configurable-http-proxy.

Users log in with JupyterHub's DummyAuthenticator (a shared password); ann and tina
get real servers (jupyterhub-singleuser, SimpleLocalProcessSpawner, with the swarm
node put into the spawner state as swarmhub's spawner does). The stats service runs
as the sidecar does (`python -m swarmhub.stats serve`), registered with the hub as
the service `stats` with the scopes the deployment grants it; the hub pages its user
list two users at a time, so the poller must follow pagination. Then:
- the database holds one sample per server and poll, matching what the hub reports;
- the report command's numbers equal those computed from the samples with plain SQL;
- the page renders in headless Chromium for an admin and an instructor (screenshots
  in test-artifacts/), its header links sort the users and its form searches them;
  it is refused by the hub to a user without access, and by the service itself to a
  user who has access to the service but is no instructor.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.hub_process import (
    LOOPBACK,
    PATH_WITH_VENV,
    VENV_BIN,
    HubProcess,
    free_port,
    stop_process_group,
)

TIMEOUT = 90.0
PASSWORD = "stats-test-" + secrets.token_hex(6)
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
# What the deployment grants the stats service (the lead's hub config uses the same list)
STATS_SCOPES = [
    "list:users",
    "read:users:name",
    "read:users:activity",
    "read:servers",
    "admin:server_state",
]
# the active window of the test's polls: ann "works" right before each poll, tina's
# server stays idle for longer than this first
WINDOW_MINUTES = 0.2  # 12 seconds
NODE = "test-node-1"

HUB_SETTINGS = """\
from jupyterhub.spawner import SimpleLocalProcessSpawner


class NodeSpawner(SimpleLocalProcessSpawner):
    # like swarmhub's spawner: the node the server runs on, in the spawner state
    def get_state(self):
        state = super().get_state()
        if self.pid:
            state["node"] = {node!r}
        return state


c.JupyterHub.last_activity_interval = 3600
c.JupyterHub.api_page_max_limit = 2
c.JupyterHub.api_page_default_limit = 2

c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = "{password}"
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {{"alice"}}

c.JupyterHub.spawner_class = NodeSpawner
c.Spawner.cmd = ["{venv_bin}/jupyterhub-singleuser"]
c.Spawner.args = ["--allow-root"]
c.Spawner.environment = {{"JUPYTERHUB_ACTIVITY_INTERVAL": "3600"}}
c.NodeSpawner.home_dir_template = "{workdir}/homes/{{username}}"
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60

c.JupyterHub.load_groups = {{
    "instructors": {{"users": ["tina"]}},
    "students": {{"users": ["ann", "bob", "carl"]}},
    # teaching assistants, given access at run time (as admins do on the admin page)
    "tas": {{"users": ["carl"]}},
}}
c.JupyterHub.services = [
    {{
        "name": "stats",
        "url": "http://{ip}:{stats_port}",
        "api_token": "{stats_token}",
        "oauth_no_confirm": True,
        "display": True,
    }},
    {{"name": "testops", "api_token": "{ops_token}"}},
]
c.JupyterHub.load_roles = [
    {{"name": "stats-service", "scopes": {scopes!r}, "services": ["stats"]}},
    {{
        "name": "stats-viewers",
        "scopes": ["access:services!service=stats"],
        "groups": ["instructors"],
    }},
    {{"name": "stats-tas", "scopes": ["access:services!service=stats"], "groups": ["tas"]}},
    {{
        "name": "testops",
        "scopes": ["admin:users", "admin:servers", "users:activity", "list:users", "read:users",
                   "groups"],
        "services": ["testops"],
    }},
]
"""


def wait_for(
    what: str, probe: Callable[[], Any], timeout: float = TIMEOUT, every: float = 0.2
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class Setup:
    url: str  # public (proxy) URL
    api: str
    ops: requests.Session
    workdir: Path
    db: Path
    stats_env: dict[str, str]
    hub_log: Path
    stats_log: Path
    stats_port: int = 0
    serve: subprocess.Popen | None = None

    def logs(self) -> str:
        return (
            "--- hub log ---\n"
            + self.hub_log.read_text(errors="replace")[-3000:]
            + "\n--- stats log ---\n"
            + (
                self.stats_log.read_text(errors="replace")[-3000:]
                if self.stats_log.exists()
                else ""
            )
        )

    def server(self, name: str) -> dict[str, Any]:
        reply = self.ops.get(f"{self.api}/users/{name}", timeout=30)
        reply.raise_for_status()
        return reply.json()["servers"].get("", {})

    def work(self, name: str) -> None:
        """What jupyterhub-singleuser reports when its user works: activity, now."""
        now = datetime.now(UTC).isoformat()
        reply = self.ops.post(
            f"{self.api}/users/{name}/activity",
            json={"last_activity": now, "servers": {"": {"last_activity": now}}},
            timeout=30,
        )
        assert reply.status_code == 200, reply.text

    def poll_once(self) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "swarmhub.stats", "poll", "--once", "--interval", "1"]
            + ["--window", str(WINDOW_MINUTES)],
            env=self.stats_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr + self.logs()
        assert self.stats_env["JUPYTERHUB_API_TOKEN"] not in result.stderr

    def report(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "swarmhub.stats", "report", *args, "--db", str(self.db)],
            env={**os.environ, "PYTHONPATH": self.stats_env["PYTHONPATH"]},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    if not (VENV_BIN / "jupyterhub-singleuser").exists():
        pytest.fail("jupyterhub-singleuser is missing; install services[test] (jupyter-server)")
    workdir = tmp_path_factory.mktemp("stats-hub")
    hub = HubProcess(workdir)
    stats_port = free_port()
    stats_token, ops_token = secrets.token_hex(32), secrets.token_hex(32)
    settings = HUB_SETTINGS.format(
        ip=LOOPBACK,
        workdir=workdir,
        password=PASSWORD,
        venv_bin=VENV_BIN,
        stats_port=stats_port,
        stats_token=stats_token,
        ops_token=ops_token,
        scopes=STATS_SCOPES,
        node=NODE,
    )
    url, api = hub.url, hub.api_url
    db = workdir / "stats" / "db" / "activity.sqlite"
    status = workdir / "backup-state" / "status.json"
    status.parent.mkdir()
    status.write_text(
        json.dumps(
            {
                "last_result": "ok",
                "last_success": "2026-11-22T03:00:05Z",
                "last_run_finished": "2026-11-22T03:00:05Z",
                "message": "",
            }
        )
    )
    stats_env = {
        "PATH": PATH_WITH_VENV,
        # this checkout's code, even when the venv's editable install is another's
        "PYTHONPATH": str(REPO / "services"),
        "JUPYTERHUB_API_URL": api,
        "JUPYTERHUB_API_TOKEN": stats_token,
        "JUPYTERHUB_CLIENT_ID": "service-stats",
        "JUPYTERHUB_SERVICE_NAME": "stats",
        "JUPYTERHUB_SERVICE_PREFIX": "/services/stats/",
        "JUPYTERHUB_OAUTH_CALLBACK_URL": "/services/stats/oauth_callback",
        "JUPYTERHUB_BASE_URL": "/",
        "JUPYTERHUB_PUBLIC_URL": url + "/",
        "SWARMHUB_STATS_DB": str(db),
        "SWARMHUB_STATS_BACKUP_STATUS": str(status),
        # a removed instructor is refused within 5 s, not the default 60 s
        "SWARMHUB_STATS_ACCESS_RECHECK_SECONDS": "5",
    }
    ops = requests.Session()
    ops.headers["Authorization"] = f"token {ops_token}"
    result = Setup(url, api, ops, workdir, db, stats_env, hub.log_path, workdir / "stats.log")
    result.stats_port = stats_port
    hub.start(settings, startup_timeout=TIMEOUT)  # load_groups made ann, bob, carl, tina
    try:
        yield result
    finally:
        if result.serve is not None:
            stop_process_group(result.serve)
        hub.stop()  # its process group: the proxy and the user servers


@pytest.fixture(scope="module")
def sampled(setup: Setup) -> Setup:
    """ann and tina run servers; tina's idles past the window; ann works before each of
    three polls (the sidecar's first poll, then two `poll --once`)."""
    for name in ("ann", "tina"):
        reply = setup.ops.post(f"{setup.api}/users/{name}/server", timeout=60)
        assert reply.status_code in (201, 202), reply.text
    for name in ("ann", "tina"):
        wait_for(f"{name}'s server to be ready", lambda n=name: setup.server(n).get("ready"))

    def tina_idle() -> bool:
        last = datetime.fromisoformat(setup.server("tina")["last_activity"].replace("Z", "+00:00"))
        return datetime.now(UTC) - last > timedelta(minutes=WINDOW_MINUTES, seconds=2)

    wait_for("tina's server to be idle longer than the window", tina_idle)

    setup.work("ann")
    port = str(setup.stats_port)
    with setup.stats_log.open("wb") as log:
        setup.serve = subprocess.Popen(
            [sys.executable, "-m", "swarmhub.stats", "serve", "--host", LOOPBACK, "--port", port]
            + ["--interval", "60", "--window", str(WINDOW_MINUTES)],
            env=setup.stats_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def first_poll_recorded() -> bool:
        if setup.serve is not None and setup.serve.poll() is not None:
            pytest.fail(f"stats serve exited with {setup.serve.returncode}:\n{setup.logs()}")
        return b"poll: 5 users, 2 servers" in setup.stats_log.read_bytes()

    wait_for("the sidecar's first poll", first_poll_recorded)
    for _ in range(2):
        setup.work("ann")
        setup.poll_once()
    return setup


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as raw:
        return raw.execute(sql).fetchall()


def test_database_holds_one_sample_per_server_and_poll(sampled: Setup) -> None:
    polls = rows(sampled.db, "SELECT id, interval_seconds, users, servers FROM polls ORDER BY id")
    assert [p[1:] for p in polls] == [(3600, 5, 2), (60, 5, 2), (60, 5, 2)], sampled.logs()
    samples = rows(
        sampled.db, "SELECT poll_id, user, server, active, node FROM samples ORDER BY poll_id, user"
    )
    assert samples == [
        (poll_id, user, "", active, NODE)
        for poll_id, *_ in polls
        for user, active in (("ann", 1), ("tina", 0))
    ]
    users = rows(sampled.db, "SELECT name FROM users ORDER BY name")
    assert [u[0] for u in users] == ["alice", "ann", "bob", "carl", "tina"]
    assert rows(sampled.db, "PRAGMA journal_mode") == [("wal",)]


def test_samples_carry_the_last_activity_the_hub_reports(sampled: Setup) -> None:
    (last,) = rows(sampled.db, "SELECT max(last_activity) FROM samples WHERE user = 'tina'")[0]
    hub_value = datetime.fromisoformat(
        sampled.server("tina")["last_activity"].replace("Z", "+00:00")
    )
    assert datetime.fromisoformat(last).replace(tzinfo=UTC) == hub_value.replace(
        microsecond=hub_value.microsecond
    )


def test_report_users_matches_the_samples(sampled: Setup) -> None:
    expected = dict(
        rows(
            sampled.db,
            "SELECT a.user, sum(p.interval_seconds) FROM (SELECT DISTINCT user, poll_id FROM "
            "samples WHERE active) a JOIN polls p ON p.id = a.poll_id GROUP BY a.user",
        )
    )
    assert expected == {"ann": 3600 + 60 + 60}
    report = list(csv.DictReader(io.StringIO(sampled.report("users", "--csv"))))
    assert {r["user"]: int(r["active_seconds"]) for r in report} == {
        "alice": 0,
        "ann": expected["ann"],
        "bob": 0,
        "carl": 0,
        "tina": 0,
    }
    assert {r["user"]: int(r["polls_with_server"]) for r in report}["tina"] == 3
    never = list(csv.DictReader(io.StringIO(sampled.report("never", "--csv"))))
    assert [r["user"] for r in never] == ["alice", "bob", "carl", "tina"]


def test_report_active_per_hour_matches_the_samples(sampled: Setup) -> None:
    expected = {
        hour: (active, running)
        for hour, active, running in rows(
            sampled.db,
            "SELECT strftime('%Y-%m-%d %H:00', time), count(DISTINCT CASE WHEN active THEN user "
            "END), count(DISTINCT user) FROM samples GROUP BY 1",
        )
    }
    table = sampled.report("active", "--per", "hour", "--since", "2020-01-01")
    reported = {}
    for line in table.splitlines()[3:]:
        day, hour, active, running = line.split()
        reported[f"{day} {hour}"] = (int(active), int(running))
    assert {h: v for h, v in reported.items() if v != (0, 0)} == expected
    assert set(expected.values()) == {(1, 2)}


def open_stats_as(browser: Any, setup: Setup, user: str) -> tuple[Any, Any]:
    """Log in at the hub as `user` and open the stats page; (context, the page's response)."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(f"{setup.url}/services/stats/?days=1")
    page.wait_for_url("**/hub/login**")
    page.fill("input#username_input", user)
    page.fill("input#password_input", PASSWORD)
    with page.expect_navigation(url="**/services/stats/**", wait_until="load", timeout=60_000):
        page.click("#login_submit")
    return context, page


def test_page_renders_charts_for_an_admin(browser: Any, sampled: Setup) -> None:
    context, page = open_stats_as(browser, sampled, "alice")
    try:
        page.wait_for_selector("#overview svg")
        heights = page.eval_on_selector_all(
            "#overview rect.bar", "bars => bars.map(b => b.getBBox().height)"
        )
        assert len(heights) == 25  # the last day's hours, hour by hour
        assert sum(1 for h in heights if h > 0) >= 1  # ann's active hour(s)
        assert page.url == f"{sampled.url}/services/stats/?days=1"
        assert "Logged in as alice" in page.inner_text("body")
        assert page.inner_text("#backup-status").startswith("last good backup: 2026-11-22 03:00")
        cells = page.locator("#users tbody tr").all_inner_texts()
        names = [c.split("\t")[0] for c in cells]
        assert names == ["alice", "ann", "bob", "carl", "tina"]
        ann = page.locator("#users tbody tr", has_text="ann").inner_text()
        assert "1:02" in ann  # 3720 s of active time
        assert "users 1–5 of 5" in page.inner_text("#count")
        # the heat map: a row per user in the table's order, a cell per user and day
        # (the day before and today)
        labels = page.locator("#heatmap g.row text.name").all_text_contents()
        assert labels == names
        assert page.locator("#heatmap rect.cell").count() == 5 * 2
        tooltips = page.locator("#heatmap rect.cell title").all_text_contents()
        ann_minutes = [t for t in tooltips if t.startswith("ann, ")]
        assert sum(int(t.split(": ")[1].split()[0]) for t in ann_minutes) == 62  # 3720 s
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "stats-page-admin.png"), full_page=True)

        download = context.request.get(f"{sampled.url}/services/stats/activity.sqlite")
        assert download.status == 200
        copy = sampled.workdir / "downloaded.sqlite"
        copy.write_bytes(download.body())
        assert rows(copy, "SELECT count(*) FROM samples") == rows(
            sampled.db, "SELECT count(*) FROM samples"
        )
    finally:
        context.close()


def table_names(page: Any) -> list[str]:
    return [c.split("\t")[0] for c in page.locator("#users tbody tr").all_inner_texts()]


def test_header_links_and_the_search_form_reorder_and_filter_rows(
    browser: Any, sampled: Setup
) -> None:
    context, page = open_stats_as(browser, sampled, "alice")
    try:
        page.wait_for_selector("#users")
        with page.expect_navigation():
            page.click("#users th a:has-text('active time')")
        assert "sort=active" in page.url and "days=1" in page.url
        assert table_names(page) == ["ann", "alice", "bob", "carl", "tina"]  # busiest first
        assert page.locator("#heatmap g.row text.name").all_text_contents()[0] == "ann"
        with page.expect_navigation():
            page.click("#users th a:has-text('active time')")
        assert table_names(page) == ["alice", "bob", "carl", "tina", "ann"]  # flipped
        page.fill("#search input[name=q]", "AN")
        with page.expect_navigation():
            page.click("#search button")
        assert table_names(page) == ["ann"]
        assert "users 1–1 of 1 whose name contains “AN” (5 in all)" in page.inner_text("#count")
        assert "sort=active" in page.url and "order=asc" in page.url  # the form kept them
    finally:
        context.close()


def test_page_is_shown_to_an_instructor(browser: Any, sampled: Setup) -> None:
    context, page = open_stats_as(browser, sampled, "tina")
    try:
        page.wait_for_selector("#overview svg")
        assert "Logged in as tina" in page.inner_text("body")
    finally:
        context.close()


def test_ordinary_user_is_refused_by_the_hub(browser: Any, sampled: Setup) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{sampled.url}/services/stats/")
        page.wait_for_url("**/hub/login**")
        page.fill("input#username_input", "bob")
        page.fill("input#password_input", PASSWORD)
        with page.expect_response(
            lambda r: "/hub/api/oauth2/authorize" in r.url and r.status == 403, timeout=60_000
        ):
            page.click("#login_submit")
        page.wait_for_load_state()
        assert "403" in page.inner_text("body")
        page.screenshot(path=str(ARTIFACTS / "stats-page-refused-by-hub.png"))
    finally:
        context.close()


def test_access_taken_away_closes_a_page_already_open(browser: Any, sampled: Setup) -> None:
    context, page = open_stats_as(browser, sampled, "carl")  # through the group "tas"
    try:
        page.wait_for_selector("#overview svg")
        reply = sampled.ops.delete(
            f"{sampled.api}/groups/tas/users", json={"users": ["carl"]}, timeout=30
        )
        assert reply.status_code == 200, reply.text

        # the hub drops the scope from carl's token at once; the page asks again when
        # its cache of carl (5 s here) runs out
        def refused() -> bool:
            return context.request.get(f"{sampled.url}/services/stats/").status == 403

        wait_for("the page to refuse carl", refused, timeout=120, every=2)
        page.reload()
        message = page.inner_text("#message")
        assert "You are logged in as carl" in message
        assert "swarmhub_instructors" in message
        download = context.request.get(f"{sampled.url}/services/stats/activity.sqlite")
        assert download.status == 403
        page.screenshot(path=str(ARTIFACTS / "stats-page-refused-by-service.png"))
    finally:
        context.close()
