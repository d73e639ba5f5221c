"""A real JupyterHub process with configurable-http-proxy, on this machine's loopback.

For the integration tests and script/bench stats. The hub runs from this virtualenv
(jupyterhub and jupyterhub-singleuser sit beside the interpreter), with its config,
sqlite database, cookie secret and log in a work folder of the caller's. The caller
adds its own settings (authenticator, spawner, services) to the lines that say where
the hub and its proxy listen.

Not pytest-specific (the benchmark uses it too): a hub that does not come up raises
HubDidNotStart, with the end of its log in the message.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

LOOPBACK = "127.0.0.1"
VENV_BIN = Path(sys.executable).parent
# The hub starts configurable-http-proxy from PATH, and the user servers it spawns
# find jupyterhub-singleuser there; the virtualenv comes first.
PATH_WITH_VENV = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"

# Where the hub and its proxy listen, and its files in the work folder.
LISTENING_CONFIG = """\
c = get_config()  # noqa: F821

c.JupyterHub.ip = "{loopback}"
c.JupyterHub.port = {public_port}
c.JupyterHub.hub_ip = "{hub_ip}"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://{loopback}:{proxy_api_port}"
c.ConfigurableHTTPProxy.auth_token = "{proxy_token}"
c.JupyterHub.db_url = "sqlite:///{workdir}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{workdir}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = "{workdir}/jupyterhub.pid"

"""


class HubDidNotStart(RuntimeError):
    """The hub exited, did not answer in time, or cannot run here (no proxy)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def require_proxy() -> None:
    """Fail early, saying how to install it, where the hub could not start its proxy."""
    if shutil.which("configurable-http-proxy", path=PATH_WITH_VENV) is None:
        raise HubDidNotStart(
            "configurable-http-proxy is not on PATH; ./script/test installs the version "
            "images/proxy/package.json pins (npm install -g configurable-http-proxy@VERSION)"
        )


def stop_process_group(process: subprocess.Popen, grace_seconds: float = 20) -> None:
    """Stop a process started with start_new_session=True, then anything left in its
    process group (a hub's proxy and user servers)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class HubProcess:
    """One hub in `workdir`. Its ports are chosen up front, so that the caller's settings
    can name its URLs before it starts.

    url: the public (proxy) URL; api_url: the hub's own API, without the proxy.
    """

    def __init__(self, workdir: Path, *, hub_ip: str = LOOPBACK, hub_port: int = 0) -> None:
        # hub_port 0: a free one
        self.workdir = workdir
        self.hub_ip = hub_ip
        self.public_port = free_port()
        self.hub_port = hub_port or free_port()
        self.url = f"http://{LOOPBACK}:{self.public_port}"
        self.api_url = f"http://{hub_ip}:{self.hub_port}/hub/api"
        self.log_path = workdir / "jupyterhub.log"
        self.process: subprocess.Popen | None = None

    def log_tail(self, chars: int = 4000) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    def start(self, settings: str, startup_timeout: float) -> None:
        """Write jupyterhub_config.py (where it listens, then `settings`), start the hub
        and return once /hub/api answers through the proxy. If it does not, the hub is
        stopped and HubDidNotStart raised."""
        require_proxy()
        config = self.workdir / "jupyterhub_config.py"
        listening = LISTENING_CONFIG.format(
            loopback=LOOPBACK,
            public_port=self.public_port,
            hub_ip=self.hub_ip,
            hub_port=self.hub_port,
            proxy_api_port=free_port(),
            proxy_token=secrets.token_hex(16),
            workdir=self.workdir,
        )
        config.write_text(listening + settings)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(VENV_BIN / "jupyterhub"), "-f", str(config)],
                cwd=self.workdir,
                env={**os.environ, "PATH": PATH_WITH_VENV},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # one group: the hub, its proxy and servers end together
            )
        try:
            self._wait_until_answering(startup_timeout)
        except BaseException:  # not answering, or interrupted: leave no hub behind
            self.stop()
            raise

    def _wait_until_answering(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HubDidNotStart(
                    f"jupyterhub exited with {self.process.returncode} during startup:\n"
                    + self.log_tail()
                )
            try:
                if requests.get(f"{self.url}/hub/api", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise HubDidNotStart(
            f"jupyterhub did not answer at {self.url} within {timeout:.0f}s:\n" + self.log_tail()
        )

    def stop(self, grace_seconds: float = 20) -> None:
        """Stop the hub and its process group; nothing to do if it never started."""
        if self.process is not None:
            stop_process_group(self.process, grace_seconds)
