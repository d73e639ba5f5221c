"""Issue 11, drill 2 (the rest of it): new engine settings (daemon.json) on the
nodes restart their engines one node at a time, each paused first.

What users see: a server can be started all along, because at every moment at
least one node is ready and takes servers; a node about to restart takes no new
server (paused), so no student's fresh server dies with it. Servers that ran on
a restarted node stop with its engine, and the hub counts them stopped (their
users start them again). Times are printed, not asserted."""

from __future__ import annotations

import threading
import time

from tests.cluster import trial
from tests.cluster.trial import on_host

NODE_STATES = (
    "docker node ls --filter role=worker --format '{{.Hostname}} {{.Status}} {{.Availability}}'"
)


def engine_started(node: str) -> str:
    return on_host(node, "systemctl show docker -p ActiveEnterTimestampMonotonic --value")


def test_new_engine_settings_restart_one_node_at_a_time_each_paused_first(
    first_deploy, deploy_vars
):
    before = {node: engine_started(node) for node in trial.NODES}
    looks: list[tuple[float, dict[str, tuple[str, str]]]] = []
    deploying = threading.Event()
    deploying.set()

    def watch() -> None:  # the swarm's view of its workers, twice a second
        while deploying.is_set():
            states = {}
            for line in on_host("hub", NODE_STATES, check=False).splitlines():
                name, status, availability = line.split()
                states[name] = (status, availability)
            looks.append((time.monotonic(), states))
            time.sleep(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.monotonic()
    try:
        trial.deploy(
            "-t", "docker", "--limit", "nodes", "-e", deploy_vars,
            "-e", "docker_log_max_file=4",
            log_name="deploy-engine-settings.log",
        )  # fmt: skip
    finally:
        deploying.clear()
        watcher.join(timeout=30)
    took = time.monotonic() - start
    try:
        after = {node: engine_started(node) for node in trial.NODES}
        assert all(after[node] != before[node] for node in trial.NODES), (before, after)
        assert '"max-file": "4"' in on_host("node1", "cat /etc/docker/daemon.json")
        # each node was paused (no new servers) before its engine went
        paused = {n for _, states in looks for n, (_, a) in states.items() if a == "Pause"}
        assert paused == set(trial.NODES), f"paused: {paused}"
        # never both at once: a node ready and active took servers at every look
        for when, states in looks:
            usable = [n for n, (s, a) in states.items() if s == "Ready" and a == "Active"]
            assert usable, f"no node could take a server {when - start:.1f}s into the deploy"
        print(f"\nengine settings rolled over both nodes in {took:.0f}s ({len(looks)} looks, "
              "a node taking servers at each)")  # fmt: skip
    finally:
        trial.deploy(
            "-t", "docker", "--limit", "nodes", "-e", deploy_vars,
            log_name="deploy-engine-settings-restore.log",
        )  # fmt: skip
