"""Burst benchmark, run inside the hub container (script/bench burst): a class
logging in at once.

N new users log in through the hub's login form (the shared-password login;
restuser makes each account) at RATE per second, then their servers are
started through the hub API at RATE per second, each timed until its spawn
progress stream (what the spawn page listens to) says ready. Meanwhile a probe times `GET /hub/api/users
?limit=50` every half second. The servers are stopped, then the baseline
runs: the same burst of bare `docker service create` of the same image (same
network, the same users' uids, placement and limits), each timed until its
HTTP API answers. Figures are printed, never judged.

Arguments: N RATE PREFIX. Users are PREFIX001..; a name taken by a user with
a running server stops the bench before it starts anything.
"""

from __future__ import annotations

import re
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import docker
import requests
from bench_hub import (
    API,
    HUB,
    SETTINGS,
    TIMEOUT,
    Outcome,
    ops_session,
    paced,
    quantiles,
    report,
    start_and_time,
)
from docker.types import EndpointSpec, Resources, RestartPolicy
from swarmhub.hub.service_spec import nano_cpus
from swarmhub.hub.settings import byte_size
from swarmhub.hub.swarm_tasks import (
    current_task,
    is_terminal,
    task_address,
    task_state,
    unplaceable,
)

PROBE_INTERVAL = 0.5
# The spawner's unplaceable_timeout: a bare server no node has room for fails after
# as long as a hub spawn does, not after TIMEOUT.
UNPLACEABLE_SECONDS = 15.0
XSRF_FIELD = re.compile(r'name="_xsrf"\s+value="([^"]+)"')
LOGIN_ERROR = re.compile(r'class="login_error"[^>]*>\s*([^<]+?)\s*<')


def log_in(name: str, password: str) -> Outcome:
    """The login form, as a browser sends it; restuser makes the account on the way."""
    session = requests.Session()
    start = time.monotonic()
    page = session.get(f"{HUB}/login", timeout=60)
    token = XSRF_FIELD.search(page.text)
    form = {"username": name, "password": password}
    if token:
        form["_xsrf"] = token.group(1)
    reply = session.post(f"{HUB}/login", data=form, allow_redirects=False, timeout=120)
    elapsed = time.monotonic() - start
    if reply.status_code == 302 and "/login" not in reply.headers.get("Location", ""):
        return Outcome(elapsed)
    shown = LOGIN_ERROR.search(reply.text)
    why = shown.group(1) if shown else "see the hub's log: docker logs jupyterhub"
    return Outcome(error=f"login refused ({reply.status_code}): {why}")


class ApiProbe(threading.Thread):
    """Times GET /hub/api/users?limit=50 every PROBE_INTERVAL until stopped."""

    def __init__(self, session: requests.Session) -> None:
        super().__init__(daemon=True)
        self.session = session
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            start = time.monotonic()
            try:
                self.session.get(
                    f"{API}/users", params={"limit": 50}, timeout=60
                ).raise_for_status()
                self.latencies.append(time.monotonic() - start)
            except requests.RequestException as error:
                self.errors.append(str(error))
            self.done.wait(PROBE_INTERVAL)

    def stop(self) -> None:
        self.done.set()
        self.join()


def active_servers(session: requests.Session) -> dict[str, dict]:
    """Every user with an active server: name -> the default server's model."""
    found: dict[str, dict] = {}
    offset = 0
    while True:
        reply = session.get(
            f"{API}/users",
            params={"state": "active", "limit": 200, "offset": offset},
            timeout=60,
        )
        reply.raise_for_status()
        page = reply.json()
        users = page["items"] if isinstance(page, dict) else page
        for user in users:
            found[user["name"]] = (user.get("servers") or {}).get("", {})
        if len(users) < 200:
            return found
        offset += 200


def hub_burst(
    session: requests.Session, names: Sequence[str], rate: float
) -> dict[str, Outcome]:
    """Start every server at RATE per second, each timed until its progress says ready;
    a start turned away (too many starting) asks again, as the spawn page does."""
    turned_away: list[str] = []
    outcomes = paced(
        names, rate, lambda name: start_and_time(session, name, None, turned_away)
    )
    print(
        f"  starts turned away first (too many starting), asked again: {len(turned_away)}"
    )
    return outcomes


def stop_servers(session: requests.Session, names: Sequence[str]) -> None:
    for name in names:
        session.delete(f"{API}/users/{name}/server", timeout=120)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if not set(names) & set(active_servers(session)):
            return
        time.sleep(1)
    sys.exit("bench: the hub did not stop the bench's servers in time")


def account(name: str) -> tuple[str, str] | None:
    """NAME's uid and gid in the hub's copy of passwd, waited for a few seconds
    (the hub host copies passwd after each change)."""
    deadline = time.monotonic() + 10
    while True:
        for line in Path(SETTINGS["passwd_file"]).read_text().splitlines():
            fields = line.split(":")
            if fields[0] == name:
                return fields[2], fields[3]
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.2)


def environment() -> dict:
    """The environment a plain spawn request gets (the first)."""
    environments = SETTINGS.get("environments") or []
    if not environments:
        sys.exit(
            "bench: the hub's settings name no environment (swarmhub_environments)"
        )
    return environments[0]


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code < 500
    except requests.RequestException:
        return False


def bare_burst(
    client: docker.DockerClient, ids: dict[str, tuple[str, str]], rate: float
) -> dict[str, Outcome]:
    """The same burst as bare swarm services, each timed until its HTTP API answers."""
    env = environment()
    services: list[str] = []

    def spawn(name: str) -> Outcome:
        uid, gid = ids[name]
        start = time.monotonic()
        service = client.services.create(
            env["image"],
            command=[
                "jupyter",
                "server",
                "--ip=0.0.0.0",
                "--port=8888",
                "--IdentityProvider.token=",
            ],
            name=f"bench-burst-{name}",
            user=f"{uid}:{gid}",
            env=["HOME=/tmp"],
            networks=[SETTINGS["network"]],
            constraints=SETTINGS.get("placement_constraints") or [],
            endpoint_spec=EndpointSpec(mode="dnsrr"),
            restart_policy=RestartPolicy(condition="none"),
            resources=Resources(
                mem_limit=size(env.get("mem_limit")),
                cpu_limit=nano_cpus(env.get("cpu_limit")),
                mem_reservation=size(env.get("mem_reservation")),
                cpu_reservation=nano_cpus(env.get("cpu_reservation")),
            ),
        )
        services.append(service.id)
        deadline = start + TIMEOUT
        ip = None
        waiting: float | None = None  # since when no node has had room
        while time.monotonic() < deadline:
            if ip is None:
                task = current_task(client.api.tasks(filters={"service": service.id}))
                if (
                    task is not None
                    and is_terminal(task)
                    and task_state(task) != "running"
                ):
                    return Outcome(
                        error=f"bare task {task_state(task)}: {task['Status'].get('Err')}"
                    )
                # as the hub's spawner gives up on a server no node has room for
                if task is not None and unplaceable(task):
                    waiting = waiting if waiting is not None else time.monotonic()
                    if time.monotonic() - waiting >= UNPLACEABLE_SECONDS:
                        return Outcome(
                            error=f"bare task unplaceable: {unplaceable(task)}"
                        )
                else:
                    waiting = None
                if task is not None and task_state(task) == "running":
                    ip = task_address(task, SETTINGS["network"])
            elif answers(f"http://{ip}:8888/api"):
                return Outcome(time.monotonic() - start)
            time.sleep(0.05 if ip else 0.2)
        return Outcome(error=f"bare server not answering after {TIMEOUT:.0f} s")

    try:
        return paced(list(ids), rate, spawn)
    finally:
        for service_id in services:
            client.api.remove_service(service_id)


def size(value: object) -> int | None:
    return None if value is None else byte_size(value)


def main(count: int, rate: float, prefix: str) -> None:
    auth = SETTINGS["auth"]
    if auth["kind"] != "shared_password":
        sys.exit(
            f"bench: burst logs its users in through the shared-password form, and this hub "
            f"logs in with {auth['kind']}: run it on a trial hub (./script/deploy)"
        )
    password = Path(auth["password_file"]).read_text().strip()
    admin = ops_session()
    names = [f"{prefix}{i:03d}" for i in range(1, count + 1)]
    busy = sorted(set(names) & set(active_servers(admin)))
    if busy:
        sys.exit(
            f"bench: {', '.join(busy)} already have a server; stop them or pick another --prefix"
        )

    print(f"burst: {count} users ({names[0]}..{names[-1]}) at {rate}/s", flush=True)
    # in the hub's user list first, as an admin adds a class on the admin page: a hub
    # with allowed_users admits the users it already has (allow_existing_users)
    known = admin.post(f"{API}/users", json={"usernames": names}, timeout=120)
    if known.status_code not in (201, 409):
        sys.exit(
            f"bench: the hub refused to add the users: {known.status_code} {known.text}"
        )
    logins = paced(names, rate, lambda name: log_in(name, password))
    ids: dict[str, tuple[str, str]] = {}
    for name in names:
        if logins[name].seconds is None:
            continue
        found = account(name)
        if found is None:
            logins[name] = Outcome(
                error="logged in, but not in the hub's copy of passwd"
            )
        else:
            ids[name] = found
    logged_in = list(ids)
    report("login (form, restuser included)", logins)

    probe = ApiProbe(admin)
    probe.start()
    spawns = hub_burst(admin, logged_in, rate)
    probe.stop()
    hub_times = report("hub spawn, each server", spawns)
    print(
        f"{'hub API GET /users?limit=50':<34} {quantiles(probe.latencies)}", flush=True
    )
    if probe.errors:
        print(
            f"  {len(probe.errors)} API probe errors, first: {probe.errors[0]}",
            flush=True,
        )
    stop_servers(admin, logged_in)

    bare = bare_burst(docker.from_env(), {name: ids[name] for name in logged_in}, rate)
    bare_times = report("bare docker service create", bare)
    if hub_times and bare_times:
        ratio = statistics.median(hub_times) / statistics.median(bare_times)
        print(f"burst spawn ratio (hub p50 / bare p50): {ratio:.2f}x", flush=True)
    failed = sum(
        1 for o in (*logins.values(), *spawns.values(), *bare.values()) if o.error
    )
    print(f"failures: {failed}", flush=True)
    if failed:
        sys.exit(f"bench: {failed} failure(s), each named above")


def remove_hub_users(count: int, prefix: str) -> None:
    admin = ops_session()
    for i in range(1, count + 1):
        reply = admin.delete(f"{API}/users/{prefix}{i:03d}", timeout=120)
        if reply.status_code not in (204, 404):
            sys.exit(
                f"bench: the hub refused to remove {prefix}{i:03d}: {reply.status_code}"
            )


if __name__ == "__main__":
    if sys.argv[4:] == ["--remove-hub-users"]:
        remove_hub_users(int(sys.argv[1]), sys.argv[3])
    else:
        main(int(sys.argv[1]), float(sys.argv[2]), sys.argv[3])
