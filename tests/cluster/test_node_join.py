"""Issue 11, drill 2: a node joins the cluster, and leaves it, while servers run.

ann's and bob's servers keep their swarm tasks and answer throughout (a probe
asks each every second through nginx), and no engine restarts: the deploy
changes the other nodes' firewall rules live. Then the node is retired as the
README says. Times are printed, not asserted."""

from __future__ import annotations

import subprocess
import threading
import time

from tests.cluster import jupyter_ui, trial
from tests.cluster.trial import on_host

USERS = ("ann", "bob")
NEW = "node3"
NEW_ADDRESS = "10.213.7.23"
ENGINE_STARTED = "systemctl show docker -p ActiveEnterTimestampMonotonic --value"


class Probe(threading.Thread):
    """Asks each user's server for /api/status every second through nginx (no
    login: the server itself answers, refusing) and keeps every answer's status."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.answers: dict[str, list[str]] = {user: [] for user in USERS}
        self.done = threading.Event()

    def ask(self, user: str) -> str:
        url = jupyter_ui.user_url(user, "api/status")
        host = url.split("/")[2].split(":")[0]
        result = subprocess.run(
            ["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
             "--resolve", f"{host}:8443:127.0.0.1", url],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        return result.stdout or "no answer"

    def run(self) -> None:
        while not self.done.is_set():
            for user in USERS:
                self.answers[user].append(self.ask(user))
            time.sleep(1)

    def stop(self) -> dict[str, list[str]]:
        self.done.set()
        self.join(timeout=30)
        return self.answers


def test_a_node_joins_and_leaves_without_disturbing_running_servers(
    first_deploy, deploy_vars, new_page
):
    for user in USERS:
        page = new_page()
        jupyter_ui.log_in_with_a_server(page, user, environment="python")
    tasks = {user: trial.running_task(f"jupyter-{user}")["ID"] for user in USERS}
    engines = {node: on_host(node, ENGINE_STARTED) for node in ("node1", "node2")}
    probe = Probe()
    # what a running server answers a request without login (not the hub's 424 or
    # the proxy's 503 for a server that is gone)
    healthy = {user: probe.ask(user) for user in USERS}
    assert set(healthy.values()) <= {"200", "302", "403"}, healthy

    probe.start()
    try:
        started = time.monotonic()
        trial.run(["./script/cluster", "up", "--nodes", "3"], timeout=600)
        trial.deploy("-e", deploy_vars, log_name="deploy-node-joins.log")
        print(f"\n{NEW} made and deployed in {time.monotonic() - started:.0f}s")
        state = on_host("hub", f"docker node inspect -f '{{{{.Status.State}}}}' {NEW}")
        assert state == "ready", f"{NEW} is {state} in the swarm"

        started = time.monotonic()
        trial.run(["./script/cluster", "remove-node", NEW], timeout=300)
        trial.deploy("-t", "docker", "-e", deploy_vars, log_name="deploy-node-leaves.log")
        print(f"{NEW} retired in {time.monotonic() - started:.0f}s")
    finally:
        answers = probe.stop()
        trial.run(["./script/cluster", "remove-node", NEW], timeout=300, check=False)

    for user in USERS:
        failed = [a for a in answers[user] if a != healthy[user]]
        print(f"{user}'s server answered {len(answers[user]) - len(failed)} of "
              f"{len(answers[user])} probes")  # fmt: skip
        assert not failed, f"{user}'s server did not answer: {failed}"
        assert trial.running_task(f"jupyter-{user}")["ID"] == tasks[user]
    for node, since in engines.items():
        assert on_host(node, ENGINE_STARTED) == since, f"{node}'s engine was restarted"
        assert NEW_ADDRESS not in on_host(node, "iptables -S DOCKER-USER")
    assert NEW not in on_host("hub", "docker node ls --format '{{.Hostname}}'").split()
