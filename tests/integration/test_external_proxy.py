"""The hub's proxy apart from the hub, as the hub host runs it (a container of its own):
the configurable-http-proxy release the proxy image pins, driven by a real JupyterHub
through its API on a UNIX socket (swarmhub.hub.proxy.ExternalProxy).

What users see: while the hub is down, what the proxy routes to (here a service's page,
on the cluster their servers) still answers; a proxy that restarts empty gets every
route back from the hub within seconds, without a hub restart. Times are printed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from tests.hub_process import LOOPBACK, PATH_WITH_VENV, HubProcess, free_port, require_proxy

PAGE = "a page the proxy routes to\n"
WAIT_SECONDS = 60


class Proxy:
    """configurable-http-proxy as the proxy container runs it: its API on a socket only."""

    def __init__(self, port: int, socket_path: Path, token: str, hub_url: str) -> None:
        self.port, self.socket_path, self.token = port, socket_path, token
        self.hub_url = hub_url  # where it sends errors, and requests it has no route for
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        require_proxy()
        self.socket_path.unlink(missing_ok=True)  # as the image's entrypoint does
        self.process = subprocess.Popen(
            [
                shutil.which("configurable-http-proxy", path=PATH_WITH_VENV),
                *("--ip", LOOPBACK, "--port", str(self.port)),
                *("--api-socket", str(self.socket_path)),
                *("--error-target", self.hub_url + "/hub/error"),
                *("--default-target", self.hub_url, "--log-level", "warn"),
            ],
            env={**os.environ, "CONFIGPROXY_AUTH_TOKEN": self.token},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until("the proxy listens on its socket", self.socket_path.is_socket)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def wait_until(what: str, condition) -> float:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < WAIT_SECONDS, f"not within {WAIT_SECONDS}s: {what}"
        time.sleep(0.2)
    return time.monotonic() - start


def status(url: str) -> int:
    try:
        return requests.get(url, timeout=5).status_code
    except requests.ConnectionError:
        return 0


@pytest.fixture
def cluster() -> Iterator[tuple[HubProcess, Proxy, str]]:
    # a short folder: a UNIX socket's path has at most 107 characters
    workdir = Path(tempfile.mkdtemp(prefix="chp-", dir="/tmp"))
    # the page a service serves, at the path the proxy forwards (prefix included)
    (workdir / "www" / "services" / "page").mkdir(parents=True)
    (workdir / "www" / "services" / "page" / "index.txt").write_text(PAGE)
    page_port = free_port()
    page_server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", LOOPBACK, str(page_port)],
        cwd=workdir / "www",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    hub = HubProcess(workdir)
    token = secrets.token_hex(16)
    proxy = Proxy(hub.public_port, workdir / "api.sock", token, f"http://{LOOPBACK}:{hub.hub_port}")
    settings = f"""
from swarmhub.hub.proxy import ExternalProxy
c.JupyterHub.proxy_class = ExternalProxy
c.ConfigurableHTTPProxy.api_url = "http+unix://{quote(str(proxy.socket_path), safe="")}"
c.ConfigurableHTTPProxy.auth_token = "{token}"
c.ExternalProxy.route_check_seconds = 1
c.JupyterHub.services = [{{"name": "page", "url": "http://{LOOPBACK}:{page_port}"}}]
"""
    proxy.start()
    try:
        hub.start(settings, startup_timeout=60)  # answers through the proxy: routed over the socket
        yield hub, proxy, settings
    finally:
        hub.stop()
        proxy.stop()
        page_server.kill()
        page_server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def test_the_proxy_goes_on_serving_while_the_hub_is_down(cluster):
    hub, proxy, settings = cluster
    page = f"{hub.url}/services/page/index.txt"
    assert requests.get(page, timeout=5).text == PAGE

    hub.stop()
    assert requests.get(page, timeout=5).text == PAGE  # the hub is gone, the route is not
    print(f"\nhub down: its own pages answer {status(hub.url + '/hub/api')}")

    hub.start(settings, startup_timeout=60)
    assert requests.get(page, timeout=5).text == PAGE


def test_a_proxy_that_restarts_empty_gets_every_route_back_from_the_running_hub(cluster):
    hub, proxy, _ = cluster
    page = f"{hub.url}/services/page/index.txt"
    proxy.stop()
    proxy.start()  # a new process: no routes at all

    restored_s = wait_until(
        "the hub restores the proxy's routes",
        lambda: status(page) == 200 == status(hub.url + "/hub/api"),
    )
    print(f"\nroutes back {restored_s:.1f}s after the proxy restarted (route_check_seconds 1)")
    assert "The proxy has no route to the hub" in hub.log_tail(20000)
    assert hub.process.poll() is None  # without a hub restart
