"""Issue 11, drill 4: the hub restarts while a student's notebook runs a cell.

configurable-http-proxy runs in a container of its own (jupyterhub-proxy), so
the hub's restart leaves users' connections to their servers alone. What the
user sees: her kernel's websocket stays open and the running cell's output
arrives whole; her server's own pages answer throughout; only the hub's pages
(/hub/...) are missing for the restart's seconds. Her files are untouched
(a checksum of her home). Times are printed, not asserted."""

from __future__ import annotations

import re
import subprocess
import threading
import time

from playwright.sync_api import Error as PlaywrightError

from tests.cluster import jupyter_ui, trial
from tests.cluster.trial import home_checksum, on_host, wait_until

USER = "hal"
TICKS = 20
CELL = (
    "import time\n"
    f"for i in range({TICKS}):\n"
    "    print(f'tick {i}', flush=True)\n"
    "    time.sleep(1)\n"
    "print('cell done')"
)
# the hub's health page, through the proxy as nginx reaches it
HUB_HEALTH = (
    "curl -s -o /dev/null -w '%{http_code}' http://$(hostname -i | cut -d' ' -f1):8000/hub/health"
)

# A kernel of her server, and its websocket, opened by her browser as JupyterLab
# does: what arrives on it is kept in window.drill.
OPEN_KERNEL = """async base => {
    const xsrf = document.cookie.split("; ").find(c => c.startsWith("_xsrf="));
    const headers = {"Content-Type": "application/json",
                     "X-XSRFToken": xsrf ? decodeURIComponent(xsrf.slice(6)) : ""};
    const reply = await fetch(base + "api/kernels", {method: "POST", headers, body: "{}"});
    if (!reply.ok) return `POST api/kernels: ${reply.status} ${await reply.text()}`;
    const kernel = await reply.json();
    const ws = new WebSocket(`wss://${location.host}${base}api/kernels/${kernel.id}/channels`);
    window.drill = {ws, texts: [], closed: null, session: crypto.randomUUID()};
    ws.onmessage = event => {
        const message = JSON.parse(event.data);
        if (message.msg_type === "stream") window.drill.texts.push(message.content.text);
    };
    ws.onclose = event => { window.drill.closed = `closed (${event.code})`; };
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
    return "open";
}"""
RUN = """code => window.drill.ws.send(JSON.stringify({
    header: {msg_id: crypto.randomUUID(), msg_type: "execute_request", username: "",
             session: window.drill.session, date: new Date().toISOString(), version: "5.3"},
    parent_header: {}, metadata: {}, channel: "shell", buffers: [],
    content: {code, silent: false, store_history: false, user_expressions: {},
              allow_stdin: false, stop_on_error: true},
}))"""


def received(page) -> str:
    return "".join(page.evaluate("window.drill.texts"))


def test_a_hub_restart_keeps_her_kernel_connection_and_the_running_cells_output(
    first_deploy, new_page
):
    page = new_page()
    jupyter_ui.log_in_with_a_server(page, USER, environment="python")
    before = trial.drill_files(USER)
    page.goto(jupyter_ui.user_url(USER, "lab"))
    jupyter_ui.wait_for_lab(page, USER)
    base = f"/user/{USER}/"
    assert page.evaluate(OPEN_KERNEL, base) == "open"

    page.evaluate(RUN, CELL)
    wait_until("the cell's first output", lambda: "tick 1" in received(page), 60, 0.2)
    proxy_started = on_host("hub", "docker inspect -f '{{.State.StartedAt}}' jupyterhub-proxy")
    restart = threading.Thread(
        target=subprocess.run,
        args=(["docker", "exec", "hub", "docker", "restart", "jupyterhub"],),
        kwargs={"check": True, "timeout": 120, "capture_output": True},
    )
    restarted_at = time.monotonic()
    restart.start()

    # while the hub restarts: her server's pages, through the same proxy, and the hub's
    server_failures, hub_codes = [], []
    while restart.is_alive() or (hub_codes and hub_codes[-1] != "200"):
        assert time.monotonic() - restarted_at < 180, f"the hub did not come back: {hub_codes}"
        status = jupyter_ui.fetch_in_page(page, base + "api/status")["status"]
        if status != 200:
            server_failures.append(status)
        hub_codes.append(on_host("hub", HUB_HEALTH, check=False))
    back_s = time.monotonic() - restarted_at
    missing = [code for code in hub_codes if code != "200"]
    print(f"\nhub back {back_s:.1f}s after the restart began; its pages answered {set(missing)} "
          f"in {len(missing)} of {len(hub_codes)} looks; her server answered every look "
          f"but {len(server_failures)}")  # fmt: skip

    wait_until("the cell's last output", lambda: "cell done" in received(page), 60, 0.2)
    output = received(page)
    assert [f"tick {i}" in output for i in range(TICKS)] == [True] * TICKS, output
    assert page.evaluate("window.drill.closed") is None, "her kernel's websocket was closed"
    assert server_failures == [], f"her server did not answer during the restart: {server_failures}"
    # the same connection runs the next cell after the restart
    page.evaluate(RUN, "print(6 * 7)")
    wait_until("the next cell's output", lambda: "42" in received(page), 60, 0.2)
    assert on_host("hub", "docker inspect -f '{{.State.StartedAt}}' jupyterhub-proxy") == (
        proxy_started
    ), "the proxy restarted with the hub"
    assert home_checksum(USER) == before, f"{USER}'s files changed"


def test_a_proxy_restart_gets_every_route_back_from_the_hub_within_seconds(first_deploy, new_page):
    """The proxy itself restarts (a crash, a new proxy image): connections drop, and
    its routing table is empty until the hub gives it back (it looks every 10 s);
    meanwhile her requests go to the hub, which sends her on to her server."""
    page = new_page()
    jupyter_ui.log_in_with_a_server(page, USER, environment="python")
    page.goto(jupyter_ui.user_url(USER, "lab"))
    jupyter_ui.wait_for_lab(page, USER)
    since = on_host("hub", "date +%s")

    on_host("hub", "docker restart jupyterhub-proxy >/dev/null")
    status = f"/user/{USER}/api/status"

    def answers() -> bool:
        try:
            return jupyter_ui.fetch_in_page(page, status)["status"] == 200
        except PlaywrightError:  # "Failed to fetch": nothing listens while it restarts
            return False

    back_s = wait_until("her server answers through the restarted proxy", answers, 120, 0.5)
    # the hub gave the empty proxy its routes back: its own check (every 10 s), or
    # JupyterHub's activity poll (every 10 s in the tests' deploy), whichever came first
    # (tests/integration/test_external_proxy.py covers the check alone)
    log = on_host("hub", f"docker logs --since {since} jupyterhub 2>&1")
    assert "Adding route for Hub" in log, log[-3000:]
    # "Adding user hal to proxy …" (the hub's check) or "Adding missing route for …"
    # (JupyterHub's poll)
    route = rf"Adding (user {USER} to proxy|missing route for) {USER}\.localhost/user/{USER}/"
    assert re.search(route, log), log[-3000:]
    print(f"\nher server answered again {back_s:.1f}s after the proxy restarted")
    jupyter_ui.stop_server(page, USER)
