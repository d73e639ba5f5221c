"""Stats benchmark (script/bench stats): what one poll of the stats service costs.

Starts a real JupyterHub 6.1.1 (with configurable-http-proxy) on loopback, with USERS
users created through its API and SERVERS of them running real servers
(jupyterhub-singleuser, SimpleLocalProcessSpawner). The stats service's token has the
deployment's scopes. Then, alternating, RUNS times each (after one warm-up):
- baseline: one bare `GET /hub/api/users` of the same hub with the same token;
- poll: one stats poll (`swarmhub.stats.poll_once`): the paginated user list, parsed,
  and the samples written to SQLite (WAL) with the retention delete.
Prints both medians and their ratio. No thresholds.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests
from swarmhub.stats import PollSettings, open_db, poll_once
from swarmhub.stats.hubapi import PAGINATION_TYPE, HubAPI

# The hub is started as the integration tests start theirs: from the repository's tests
# package (script/bench runs this file directly, so the repository is not on sys.path).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.hub_process import VENV_BIN, HubDidNotStart, HubProcess

SCOPES = ["list:users", "read:users:name", "read:users:activity", "read:servers",
          "admin:server_state"]  # fmt: skip

HUB_SETTINGS = """\
c.JupyterHub.last_activity_interval = 3600
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.spawner_class = "simple"
c.Spawner.cmd = ["{venv_bin}/jupyterhub-singleuser"]
c.Spawner.args = ["--allow-root"]
c.Spawner.start_timeout = 600
c.Spawner.http_timeout = 600
c.SimpleLocalProcessSpawner.home_dir_template = "{workdir}/homes/{{username}}"
c.JupyterHub.services = [
    {{"name": "stats", "api_token": "{stats_token}"}},
    {{"name": "benchops", "api_token": "{ops_token}"}},
]
c.JupyterHub.load_roles = [
    {{"name": "stats-service", "scopes": {scopes!r}, "services": ["stats"]}},
    {{"name": "benchops", "scopes": ["admin:users", "admin:servers", "list:users", "read:users"],
      "services": ["benchops"]}},
]
"""


def until(what: str, probe: Callable[[], object], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.2)
    sys.exit(f"bench: timed out waiting for {what}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="script/bench stats")
    parser.add_argument("-n", "--runs", type=int, default=20)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument(
        "--servers", type=int, default=10, help="users with a running server"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-stats-"))
    hub = HubProcess(workdir)
    stats_token, ops_token = secrets.token_hex(32), secrets.token_hex(32)
    settings = HUB_SETTINGS.format(
        workdir=workdir,
        stats_token=stats_token,
        ops_token=ops_token,
        scopes=SCOPES,
        venv_bin=VENV_BIN,
    )
    api = hub.api_url
    try:
        hub.start(settings, startup_timeout=120)
        ops = requests.Session()
        ops.headers["Authorization"] = f"token {ops_token}"
        names = [f"user{i:03d}" for i in range(args.users)]
        ops.post(
            f"{api}/users", json={"usernames": names}, timeout=60
        ).raise_for_status()
        print(
            f"hub with {args.users} users; starting {args.servers} servers", flush=True
        )
        for name in names[: args.servers]:
            ops.post(f"{api}/users/{name}/server", timeout=60).raise_for_status()
        for name in names[: args.servers]:
            until(
                f"{name}'s server",
                lambda n=name: (
                    ops.get(f"{api}/users/{n}", timeout=30)
                    .json()["servers"]
                    .get("", {})
                    .get("ready")
                ),
            )
        engine = open_db(workdir / "activity.sqlite")
        stats = HubAPI(url=api, token=stats_token)
        settings = PollSettings()
        bare_session = requests.Session()
        bare_session.headers["Authorization"] = f"token {stats_token}"

        def bare() -> float:
            start = time.perf_counter()
            reply = bare_session.get(f"{api}/users", timeout=60)
            reply.raise_for_status()
            assert len(reply.json()) == args.users
            return time.perf_counter() - start

        def poll() -> float:
            start = time.perf_counter()
            result = poll_once(engine, stats, settings)
            elapsed = time.perf_counter() - start
            assert (result.users, result.servers) == (args.users, args.servers)
            return elapsed

        bare_times, poll_times = [], []
        for run in range(args.runs + 1):
            b, p = bare(), poll()
            if run:
                bare_times.append(b)
                poll_times.append(p)
        pages = -(-args.users // 200)
        b50, p50 = statistics.median(bare_times), statistics.median(poll_times)
        print(f"baseline: one bare GET /hub/api/users ({args.users} users): p50 {b50 * 1000:.1f} ms "
              f"(min {min(bare_times) * 1000:.1f}, max {max(bare_times) * 1000:.1f})")  # fmt: skip
        print(f"one stats poll ({pages} page(s) with {PAGINATION_TYPE}, {args.servers} samples "
              f"written): p50 {p50 * 1000:.1f} ms (min {min(poll_times) * 1000:.1f}, "
              f"max {max(poll_times) * 1000:.1f})")  # fmt: skip
        print(
            f"poll ratio (poll p50 / bare GET p50): {p50 / b50:.2f}x  over {args.runs} runs"
        )
    except HubDidNotStart as error:
        sys.exit(f"bench: {error}")
    finally:
        hub.stop(grace_seconds=30)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
