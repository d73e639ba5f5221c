"""Issue 11, drill 1: a node host dies while a user's server runs on it.

What the user sees: within seconds the hub stops sending her to the dead node
and her page says what happened ("The computer your server ran on (node2)
stopped answering…") with the button to start again; the new server runs on
the other node, and her files are all there (a checksum of her home before and
after). The dead node is brought back at the end and rejoins the swarm.
Times are printed, not asserted."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from tests.cluster import jupyter_ui, trial
from tests.cluster.trial import home_checksum, on_host, wait_until

USER = "cara"


def node_state(hostname: str) -> str:
    return on_host("hub", f"docker node inspect -f '{{{{.Status.State}}}}' {hostname}", check=False)


def test_a_dead_nodes_server_is_stopped_and_restarts_elsewhere_with_every_file(
    first_deploy, new_page
):
    page = new_page()
    jupyter_ui.log_in_with_a_server(page, USER, environment="python")
    before = trial.drill_files(USER)
    dead = trial.running_task(f"jupyter-{USER}")["Node"]
    assert dead in ("node1", "node2"), dead

    trial.run(["docker", "kill", dead])  # the host's power is cut
    killed_at = time.monotonic()
    try:
        down_s = wait_until(f"swarm marks {dead} down", lambda: node_state(dead) == "down", 120)
        stopped_s = wait_until(
            f"the hub counts {USER}'s server on {dead} as stopped",
            lambda: not jupyter_ui.server_state(page, USER),
            120,
        )
        detected_s = time.monotonic() - killed_at
        print(f"\n{dead} down after {down_s:.0f}s; {USER}'s server counted as stopped "
              f"after {detected_s:.0f}s ({stopped_s:.0f}s after the node was down)")  # fmt: skip

        # her page says what happened and offers the restart
        page.goto(jupyter_ui.user_url(USER, "lab"))
        reason = page.locator("#stop-reason")
        expect(reason).to_contain_text(f"The computer your server ran on ({dead})", timeout=30_000)
        expect(reason).to_contain_text("Your files are kept")
        page.locator("#start").click()
        jupyter_ui.wait_for_lab(page, USER)
        back_s = time.monotonic() - killed_at
        task = trial.running_task(f"jupyter-{USER}")
        assert task and task["Node"] != dead, task
        print(f"{USER} back in JupyterLab on {task['Node']} {back_s:.0f}s after {dead} died")
        assert home_checksum(USER) == before, f"{USER}'s files changed"
        jupyter_ui.stop_server(page, USER)
    finally:
        trial.run(["docker", "start", dead])
        ready = lambda: node_state(dead) == "ready"  # noqa: E731
        back = wait_until(f"{dead} ready in the swarm again", ready, 300)
        print(f"{dead} rejoined the swarm {back:.0f}s after its restart")
    # the old server's container is not left running on the node that came back
    leftover = f"docker ps -q --filter label=com.docker.swarm.service.name=jupyter-{USER}"
    gone = lambda: not on_host(dead, leftover)  # noqa: E731
    wait_until(f"no container of jupyter-{USER} on {dead}", gone, 120)
