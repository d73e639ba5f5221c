"""Issue 11, drill 7: a user server's swarm service that the hub does not know
(as after restoring an older hub database) is removed and logged; the servers
the hub knows keep running. (The tests' deploy looks every 10 s.)"""

from __future__ import annotations

import time

from tests.cluster import jupyter_ui, trial
from tests.cluster.trial import on_host

GHOST = "jupyter-ghost"


def test_a_server_the_hub_does_not_know_is_removed_and_logged(first_deploy, new_page):
    page = new_page()
    jupyter_ui.log_in_to_hub(page, "ann@example.org")
    if not jupyter_ui.server_state(page, "ann").get("ready"):
        jupyter_ui.start_server(page, "ann")
    ann = trial.running_task("jupyter-ann")["ID"]
    image = on_host("hub", "docker service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "
                           "jupyter-ann")  # fmt: skip
    since = on_host("hub", "date -u +%Y-%m-%dT%H:%M:%SZ")
    on_host("hub", f"docker service create -d -q --name {GHOST} --label swarmhub.server=ghost "
                   f"--constraint node.role==worker {image} sleep infinity")  # fmt: skip
    started = time.monotonic()
    while on_host("hub", f"docker service ls -q --filter name={GHOST}"):
        assert time.monotonic() - started < 120, f"{GHOST} was not removed in 120s"
        time.sleep(2)
    print(f"\nthe unknown service was removed after {time.monotonic() - started:.0f}s")
    log = on_host("hub", f"docker logs --since {since} jupyterhub 2>&1")
    assert f"Removing {GHOST}: a user server's service the hub does not know" in log
    assert trial.running_task("jupyter-ann")["ID"] == ann
    assert jupyter_ui.server_state(page, "ann").get("ready")
