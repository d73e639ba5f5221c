"""What the benches that run inside the hub container share (script/bench burst,
term): the hub's settings and API, the operator's session, pacing, a spawn's end
as its progress stream says, and the figures. The bench scripts copy this file
into the container beside them (script/lib/bench_hub.sh).
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

SETTINGS = json.loads(Path("/etc/swarmhub/hub.json").read_text())
HUB = f"http://127.0.0.1:{SETTINGS['hub_api_port']}/hub"
API = f"{HUB}/api"
# Longest wait for one server (hub or bare) before it counts as a failure.
TIMEOUT = 600.0


@dataclass
class Outcome:
    seconds: float | None = None
    error: str | None = None


def paced(
    items: Sequence[str], rate: float, work: Callable[[str], Outcome]
) -> dict[str, Outcome]:
    """work(item) for each item, the i-th started at i/rate s, each in its own thread."""
    results: dict[str, Outcome] = {}
    start = time.monotonic()

    def run(index: int, item: str) -> None:
        time.sleep(max(0.0, start + index / rate - time.monotonic()))
        try:
            results[item] = work(item)
        except Exception as error:  # noqa: BLE001 (a bench reports every failure as one)
            results[item] = Outcome(error=f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=run, args=(i, x)) for i, x in enumerate(items)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def progress_end(session: requests.Session, name: str) -> dict:
    """The last event of NAME's spawn progress stream: ready, or failed with why.

    The stream a student's spawn page listens to (an EventSource): the hub sends
    each event as it happens, so watching costs it nothing between events.
    """
    with session.get(
        f"{API}/users/{name}/server/progress", stream=True, timeout=(30, 60)
    ) as reply:
        if reply.status_code == 400:
            # the spawn already ended, or never started: the hub says which
            return {"failed": True, "message": reply.json().get("message", reply.text)}
        reply.raise_for_status()
        last: dict = {}
        for line in reply.iter_lines(decode_unicode=True):
            if line and line.startswith("data:"):
                last = json.loads(line[5:])
                if last.get("ready") or last.get("failed"):
                    return last
    return last


def start_and_time(
    session: requests.Session,
    name: str,
    options: dict | None = None,
    turned_away: list[str] | None = None,
) -> Outcome:
    """Start NAME's server (with user OPTIONS) and time it until its progress stream
    says ready. A start the hub turns away (429: too many starting at once) waits
    the Retry-After it is given and asks again, as the spawn page does; each such
    turn is noted in TURNED_AWAY."""
    asked = time.monotonic()
    while True:
        try:
            reply = session.post(
                f"{API}/users/{name}/server", json=options, timeout=120
            )
        except requests.RequestException as error:
            return Outcome(error=f"start request failed: {error}")
        if reply.status_code != 429 or time.monotonic() - asked > TIMEOUT:
            break
        if turned_away is not None:
            turned_away.append(name)
        time.sleep(float(reply.headers.get("Retry-After") or 30))
    if reply.status_code == 201:  # ready before the hub answered
        return Outcome(time.monotonic() - asked)
    if reply.status_code != 202:
        return Outcome(error=f"start refused: {reply.status_code} {reply.text[:200]}")
    end = progress_end(session, name)
    if end.get("ready"):
        return Outcome(time.monotonic() - asked)
    return Outcome(
        error=end.get("message") or "the progress stream ended without an end"
    )


def quantiles(values: Sequence[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"p50 {statistics.median(ordered):.2f}s  p95 {p95:.2f}s  max {ordered[-1]:.2f}s"
    )


def report(label: str, outcomes: dict[str, Outcome]) -> list[float]:
    times = [o.seconds for o in outcomes.values() if o.seconds is not None]
    failures = {name: o.error for name, o in outcomes.items() if o.error}
    print(
        f"{label:<34} {quantiles(times)}  ({len(times)} ok, {len(failures)} failed)",
        flush=True,
    )
    for name, error in sorted(failures.items()):
        print(f"  failed: {name}: {error}", flush=True)
    return times


def ops_session() -> requests.Session:
    """A session with the operator's hub token (servers, users)."""
    session = requests.Session()
    # one connection per spawn's progress stream, all open at once
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=1000))
    token = Path(SETTINGS["ops_token_file"]).read_text().strip()
    session.headers["Authorization"] = f"token {token}"
    return session
