"""Spawn benchmark, run inside the hub container (script/bench spawn), where
the swarmhub package is installed.

Baseline: a bare `docker service create` of the notebook image (same network,
same uid, same placement), timed until its HTTP API answers. Measured: the
hub's own spawn of a user's server through the hub API, timed from the start
request until the hub reports the server ready. Runs alternate so both see
the same load; one warm-up run of each is not counted.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import docker
import requests
from docker.types import EndpointSpec, RestartPolicy
from swarmhub.hub.swarm_tasks import current_task, is_terminal, task_address, task_state

SETTINGS = json.loads(Path("/etc/swarmhub/hub.json").read_text())
API = "http://127.0.0.1:8081/hub/api"
TIMEOUT = 180


def account(user: str) -> tuple[str, str]:
    for line in Path(SETTINGS["passwd_file"]).read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user:
            return fields[2], fields[3]
    sys.exit(
        f"bench: no account {user} on the hub host; pass --user with an existing user"
    )


def until(what: str, probe, interval: float = 0.05):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(interval)
    sys.exit(f"bench: timed out waiting for {what}")


def task_ip(client, service_id: str) -> str | None:
    task = current_task(client.api.tasks(filters={"service": service_id}))
    if task is None or task_state(task) != "running":
        return None
    return task_address(task, SETTINGS["network"])


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code < 500
    except requests.RequestException:
        return False


def default_image() -> str:
    """The image of the environment a plain spawn request gets (the first)."""
    environments = SETTINGS.get("environments") or []
    if not environments:
        sys.exit(
            "bench: the hub's settings name no environment (swarmhub_environments)"
        )
    return environments[0]["image"]


def bare_spawn(client, uid: str, gid: str, run: int) -> float:
    start = time.monotonic()
    service = client.services.create(
        default_image(),
        command=[
            "jupyter",
            "server",
            "--ip=0.0.0.0",
            "--port=8888",
            "--IdentityProvider.token=",
        ],
        name=f"bench-bare-{run}",
        user=f"{uid}:{gid}",
        env=["HOME=/tmp"],
        networks=[SETTINGS["network"]],
        constraints=SETTINGS.get("placement_constraints") or [],
        endpoint_spec=EndpointSpec(mode="dnsrr"),
        restart_policy=RestartPolicy(condition="none"),
    )
    ip = until("the bare service's task", lambda: task_ip(client, service.id))
    until("the bare server's HTTP API", lambda: answers(f"http://{ip}:8888/api"))
    elapsed = time.monotonic() - start
    tasks = [t["ID"] for t in client.api.tasks(filters={"service": service.id})]
    service.remove()
    for task_id in tasks:  # gone before the next run starts
        until("the bare task to end", lambda t=task_id: task_gone(client, t), 0.2)
    return elapsed


def task_gone(client, task_id: str) -> bool:
    try:
        return is_terminal(client.api.inspect_task(task_id))
    except docker.errors.NotFound:
        return True


def hub_spawn(session: requests.Session, user: str) -> float:
    start = time.monotonic()
    reply = session.post(f"{API}/users/{user}/server")
    if reply.status_code not in (201, 202):
        sys.exit(
            f"bench: hub refused to start {user}'s server: {reply.status_code} {reply.text}"
        )
    until(
        "the hub to report the server ready", lambda: server(session, user).get("ready")
    )
    elapsed = time.monotonic() - start
    session.delete(f"{API}/users/{user}/server")
    until("the server to stop", lambda: not server(session, user), 0.2)
    return elapsed


def server(session: requests.Session, user: str) -> dict:
    reply = session.get(f"{API}/users/{user}")
    reply.raise_for_status()
    return reply.json()["servers"].get("", {})


def main(user: str, runs: int) -> None:
    client = docker.from_env()
    uid, gid = account(user)
    session = requests.Session()
    token = Path(SETTINGS["ops_token_file"]).read_text().strip()
    session.headers["Authorization"] = f"token {token}"
    if server(session, user):
        sys.exit(f"bench: {user} has a running server; stop it first")
    bare, hub = [], []
    for run in range(runs + 1):
        b = bare_spawn(client, uid, gid, run)
        h = hub_spawn(session, user)
        label = "warm-up" if run == 0 else f"run {run}/{runs}"
        print(f"{label}: bare {b:.2f}s  hub {h:.2f}s", flush=True)
        if run:
            bare.append(b)
            hub.append(h)
    p50_bare, p50_hub = statistics.median(bare), statistics.median(hub)
    print(
        f"bare docker service create -> HTTP answers: p50 {p50_bare:.2f}s "
        f"(min {min(bare):.2f}, max {max(bare):.2f})"
    )
    print(
        f"hub spawn (start request -> ready):       p50 {p50_hub:.2f}s "
        f"(min {min(hub):.2f}, max {max(hub):.2f})"
    )
    print(
        f"spawn ratio (hub p50 / bare p50): {p50_hub / p50_bare:.2f}x  over {runs} runs"
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
