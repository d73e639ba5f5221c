"""Issue 4: activity statistics from the stats sidecar, checked against its
database; the page for admins and instructors, refused to others."""

from __future__ import annotations

import csv
import io
import time

from playwright.sync_api import expect

from tests.cluster import jupyter_ui, trial
from tests.cluster.trial import on_host

POLL_WAIT_S = 240  # stats_interval_minutes is 1 in the tests' deploy


def stats(command: str) -> str:
    return on_host("hub", f"docker exec swarmhub-stats python -m swarmhub.stats {command}")


def users_report() -> dict[str, dict[str, str]]:
    rows = csv.DictReader(io.StringIO(stats("report users --csv")))
    return {row["user"]: row for row in rows}


def sql(query: str) -> str:
    script = (
        "import sqlite3,sys; c=sqlite3.connect('/srv/stats/db/activity.sqlite'); "
        "print(c.execute(sys.argv[1]).fetchone()[0])"
    )
    return on_host("hub", f'docker exec swarmhub-stats python -c "{script}" "{query}"')


def test_samples_report_and_page(first_deploy, new_page):
    page = new_page()
    jupyter_ui.log_in_to_hub(page, "bob@example.org")
    if not jupyter_ui.server_state(page, "bob"):
        jupyter_ui.start_server(page, "bob")
    page.goto(f"{trial.PUBLIC_URL}/user/bob/lab")
    jupyter_ui.wait_for_lab(page, "bob")

    # bob works until the poller has seen him active
    deadline = time.monotonic() + POLL_WAIT_S
    report = users_report()
    while int(report.get("bob", {}).get("active_polls", 0)) < 1:
        assert time.monotonic() < deadline, f"no active sample of bob: {report}"
        assert jupyter_ui.fetch_in_page(page, "/user/bob/api/contents")["status"] == 200
        time.sleep(10)
        report = users_report()

    # the report's numbers are the database's
    bob = users_report()["bob"]
    active_polls = sql("select count(distinct poll_id) from samples where user='bob' and active=1")
    active_seconds = sql(
        "select coalesce(sum(p.interval_seconds),0) from polls p where p.id in "
        "(select poll_id from samples where user='bob' and active=1)"
    )
    assert (bob["active_polls"], bob["active_seconds"]) == (active_polls, active_seconds)
    # each sample knows the node the server ran on
    node = sql("select node from samples where user='bob' order by id desc limit 1")
    assert node == trial.running_task("jupyter-bob")["Node"]
    # "never active" lists exactly the users without an active poll
    never = {row["user"] for row in csv.DictReader(io.StringIO(stats("report never --csv")))}
    idle = {name for name, row in users_report().items() if row["active_polls"] == "0"}
    assert never == idle and "bob" not in never

    # the page: bob is an instructor; charts render in the browser
    # (on its own host, stats--service.localhost: the hub's login reaches it by OAuth)
    page.goto(jupyter_ui.service_url("stats"))
    expect(page.locator("svg").first).to_be_visible(timeout=60_000)
    assert "bob" in page.content()
    page.screenshot(path=str(trial.ARTIFACTS / "stats-page-bob.png"), full_page=True)
    download = jupyter_ui.fetch_in_page(page, "/services/stats/activity.sqlite")
    assert download["status"] == 200 and download["body"].startswith("SQLite format 3")

    # an ordinary user is refused
    other = new_page()
    jupyter_ui.log_in_to_hub(other, "cara@example.org")
    refused = other.goto(jupyter_ui.service_url("stats"))
    assert refused.status == 403
    assert "bob" not in other.content()
    jupyter_ui.stop_server(page, "bob")
