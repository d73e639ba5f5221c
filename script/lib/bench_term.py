"""Term-size bench, run inside the hub container (script/bench term): the hub
holding a term's users, hundreds of them with a running server.

  start USERS SERVERS RATE PREFIX
    Times GET /hub/api/users?limit=50 on the hub as it is (the baseline); adds
    USERS users to the hub (PREFIX00001.., in batches, as an admin adds a class);
    starts the first SERVERS of them (their accounts exist: the users playbook
    made them) in the environment "bench" at RATE per second, each timed until
    its progress stream says ready; a start the hub turns away (too many
    starting at once) waits the Retry-After it is given and asks again, as the
    spawn page does. Then, with them all running: the hub's resident memory, and
    the same API call again, as a ratio to the baseline.
  stop USERS SERVERS PREFIX
    Stops the servers and removes the users from the hub.

Figures are printed, never judged; a failure is named and makes the exit
status non-zero.
"""

from __future__ import annotations

import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from bench_hub import (
    API,
    SETTINGS,
    TIMEOUT,
    Outcome,
    ops_session,
    paced,
    quantiles,
    report,
    start_and_time,
)

ENVIRONMENT = "bench"
BATCH = 500  # users per POST /users
PROBES = 20
STOPPERS = 20  # stop requests at once


def names(count: int, prefix: str) -> list[str]:
    return [f"{prefix}{i:05d}" for i in range(1, count + 1)]


def api_latencies(session: requests.Session) -> list[float]:
    """PROBES times GET /users?limit=50, one after another."""
    times = []
    for _ in range(PROBES):
        start = time.monotonic()
        session.get(f"{API}/users", params={"limit": 50}, timeout=60).raise_for_status()
        times.append(time.monotonic() - start)
    return times


def hub_memory_mib() -> float:
    """Resident memory of the JupyterHub process in this container."""
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            cmdline = (status.parent / "cmdline").read_bytes().split(b"\0")
            text = status.read_text()
        except OSError:
            continue  # ended meanwhile
        if any(arg.endswith(b"/jupyterhub") for arg in cmdline[:2]):
            for line in text.splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    sys.exit("bench: no jupyterhub process in this container")


def add_users(session: requests.Session, users: list[str]) -> None:
    for first in range(0, len(users), BATCH):
        batch = users[first : first + BATCH]
        reply = session.post(f"{API}/users", json={"usernames": batch}, timeout=600)
        if reply.status_code == 409:  # some exist already: add the others one by one
            for name in batch:
                one = session.post(f"{API}/users/{name}", timeout=60)
                if one.status_code not in (201, 409):
                    sys.exit(
                        f"bench: the hub refused to add {name}: {one.status_code} {one.text}"
                    )
        elif reply.status_code != 201:
            sys.exit(
                f"bench: the hub refused to add users: {reply.status_code} {reply.text}"
            )


def start_servers(
    session: requests.Session, servers: list[str], rate: float
) -> tuple[dict[str, Outcome], int]:
    """Each server in ENVIRONMENT at RATE per second, timed until ready; how many
    starts the hub turned away first (each asked again after its Retry-After)."""
    turned_away: list[str] = []
    options = {"environment": ENVIRONMENT}
    outcomes = paced(
        servers, rate, lambda name: start_and_time(session, name, options, turned_away)
    )
    return outcomes, len(turned_away)


def start(count: int, servers: int, rate: float, prefix: str) -> None:
    session = ops_session()
    environments = {e["name"] for e in SETTINGS.get("environments") or []}
    if ENVIRONMENT not in environments:
        sys.exit(
            f"bench: the hub has no environment {ENVIRONMENT!r} (script/bench term deploys it)"
        )
    users = names(count, prefix)
    before = api_latencies(session)
    print(
        f"{'hub API GET /users?limit=50, before':<40} {quantiles(before)}", flush=True
    )
    print(f"{'hub resident memory, before':<40} {hub_memory_mib():.0f} MiB", flush=True)

    began = time.monotonic()
    add_users(session, users)
    print(
        f"{count} users added to the hub in {time.monotonic() - began:.1f} s",
        flush=True,
    )

    began = time.monotonic()
    outcomes, turned_away = start_servers(session, users[:servers], rate)
    report(f"{servers} servers at {rate}/s, each", outcomes)
    print(
        f"  the last start ended {time.monotonic() - began:.1f} s after the first was asked; "
        f"{turned_away} start(s) turned away first (too many starting), asked again",
        flush=True,
    )
    after = api_latencies(session)
    print(
        f"{'hub API GET /users?limit=50, at size':<40} {quantiles(after)}", flush=True
    )
    ratio = statistics.median(after) / statistics.median(before)
    print(f"hub API p50 at size / before: {ratio:.2f}x", flush=True)
    print(
        f"{'hub resident memory, at size':<40} {hub_memory_mib():.0f} MiB", flush=True
    )
    failed = sum(1 for o in outcomes.values() if o.error)
    if failed:
        sys.exit(f"bench: {failed} server(s) did not start, each named above")


def stop(count: int, servers: int, prefix: str) -> None:
    session = ops_session()
    users = names(count, prefix)
    began = time.monotonic()
    # as many at once as the hub stops at once
    with ThreadPoolExecutor(STOPPERS) as pool:
        list(
            pool.map(
                lambda n: session.delete(f"{API}/users/{n}/server", timeout=300),
                users[:servers],
            )
        )
    deadline = time.monotonic() + TIMEOUT
    running = set(users[:servers])
    while running and time.monotonic() < deadline:
        time.sleep(1)
        running = {
            name
            for name in running
            if session.get(f"{API}/users/{name}", timeout=60).json().get("servers")
        }
    if running:
        sys.exit(f"bench: {len(running)} server(s) still there after {TIMEOUT:.0f} s")
    print(f"{servers} servers stopped in {time.monotonic() - began:.1f} s", flush=True)

    began = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        removed = dict(
            zip(users, pool.map(lambda name: remove_user(session, name), users))
        )
    failures = {name: o.error for name, o in removed.items() if o.error}
    for name, error in sorted(failures.items())[:10]:
        print(f"  failed: {name}: {error}", flush=True)
    print(
        f"{count} users removed from the hub in {time.monotonic() - began:.1f} s",
        flush=True,
    )
    if failures:
        sys.exit(f"bench: {len(failures)} user(s) not removed")


def remove_user(session: requests.Session, name: str) -> Outcome:
    reply = session.delete(f"{API}/users/{name}", timeout=120)
    if reply.status_code in (204, 404):
        return Outcome(0.0)
    return Outcome(error=f"{reply.status_code} {reply.text[:200]}")


if __name__ == "__main__":
    if sys.argv[1] == "start":
        start(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
    elif sys.argv[1] == "stop":
        stop(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit(f"bench: unknown step {sys.argv[1]!r}")
