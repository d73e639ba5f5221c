"""Issue 11, drills 5 and 6: a spawn that cannot start says why, soon; with the
registry down, servers still start from the images the nodes already have.

What the user sees is the hub's own page for a failed start (the spawn page's
"Spawn failed: …"), naming the cause. Times are printed, not asserted."""

from __future__ import annotations

import json
import time

from playwright.sync_api import expect

from tests.cluster import jupyter_ui, trial
from tests.cluster.trial import on_host

NODES = ("node1", "node2")
# whose starts fail on purpose: a user's last options are the next start's default
USER = "gus"


def environment_image(name: str) -> str:
    settings = json.loads(on_host("hub", "cat /etc/swarmhub/hub.json"))
    return next(e["image"] for e in settings["environments"] if e["name"] == name)


def failed_start(page, username: str, **options: str) -> tuple[float, str]:
    """Ask for a server that cannot start; seconds until the hub gave up, and the
    message the user's spawn page shows."""
    if jupyter_ui.server_state(page, username):
        jupyter_ui.stop_server(page, username)
    started = time.monotonic()
    # 202 (pending), or the failure itself when it comes before the hub answers
    reply = jupyter_ui.request_server(page, username, **options)
    assert reply.status == 202 or reply.status >= 400, f"start: {reply.status} {reply.text()}"
    while jupyter_ui.server_state(page, username):
        assert time.monotonic() - started < 180, "the failed start was not given up in 180s"
        time.sleep(0.5)
    seconds = time.monotonic() - started
    page.goto(f"{trial.PUBLIC_URL}/hub/spawn-pending/{username}")
    failure = page.get_by_text("Spawn failed").first
    expect(failure).to_be_visible(timeout=30_000)
    return seconds, page.content()


def test_an_environment_no_node_has_room_for_is_refused_soon_saying_why(first_deploy, new_page):
    page = new_page()
    jupyter_ui.log_in_to_hub(page, f"{USER}@example.org")
    seconds, shown = failed_start(page, USER, environment="huge")
    print(f"\nthe start no node had room for was given up after {seconds:.0f}s")
    assert "No computer in the cluster has room for a server of environment" in shown
    assert "huge" in shown and "insufficient resources" in shown
    assert not [t for t in trial.service_tasks_all() if t["Name"].startswith(f"jupyter-{USER}.")]


def test_with_the_registry_down_servers_start_from_the_nodes_images(first_deploy, new_page):
    page = new_page()
    jupyter_ui.log_in_to_hub(page, f"{USER}@example.org")
    course = environment_image("course")
    on_host("hub", "systemctl stop docker-registry")
    try:
        # the default environment's image is on every node already (pre-pulled)
        if jupyter_ui.server_state(page, USER):
            jupyter_ui.stop_server(page, USER)
        seconds = jupyter_ui.start_server(page, USER, environment="python")
        print(f"\nwith the registry down, gus's server was ready in {seconds:.1f}s")
        jupyter_ui.stop_server(page, USER)

        # an image no node has cannot be fetched now: the start says so (-f: a
        # server of that environment may still run; it keeps its image, untagged)
        for node in NODES:
            on_host(node, f"docker image rm -f {course}")
        seconds, shown = failed_start(page, USER, environment="course")
        print(f"the start whose image could not be pulled was given up after {seconds:.0f}s")
        assert "The image of a server of environment" in shown
        assert "could not be fetched" in shown and "registry may be down" in shown
    finally:
        on_host("hub", "systemctl start docker-registry")
        pull_again = f"docker image inspect {course} >/dev/null 2>&1 || docker pull -q {course}"
        for node in NODES:  # as the deploy pre-pulled it (roles/images)
            on_host(node, pull_again, timeout=300)
