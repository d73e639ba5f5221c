"""admins.yml replaces the hub's admin list, for real: the hub image (JupyterHub 6.1.1)
in a container of this test's own, with this checkout's swarmhub package mounted
over the image's, behind the proxy image in a container of its own (as on the hub
host), and admins.yml run against it (this machine as the hub host).

Why a restart: JupyterHub's Authenticator.admin_users only ever adds admins (at start
and at login); a name taken off it stays admin in the database. The hub's settings
declare the admin role's members, which JupyterHub makes exact at start.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.hub_process import free_port
from tests.integration.ansible_run import (
    ansible_playbook,
    recap,
    site_inventory,
    write_inventory,
)
from tests.integration.docker_cli import docker, ensure_cluster_image, ensure_hub_image

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 120


class Hub:
    def __init__(self, tmp_path: Path) -> None:
        self.hub_image = ensure_hub_image()  # this checkout's, built when missing
        self.proxy_image = ensure_cluster_image("proxy")
        self.name = f"swarmhub-adminstest-{uuid.uuid4().hex[:8]}"
        self.proxy_name = f"{self.name}-proxy"
        self.port = free_port()
        self.data_dir = tmp_path / "srv-jupyterhub"
        for sub in ("data", "secrets"):
            (self.data_dir / sub).mkdir(parents=True)
        self.token = secrets.token_hex(32)
        for name, value in {
            "ops_token": self.token,
            "cookie_secret": secrets.token_hex(32),
            "shared_password": secrets.token_hex(8),
            "admin_password": secrets.token_hex(20),
            "proxy_token": secrets.token_hex(32),
        }.items():
            secret = self.data_dir / "secrets" / name
            secret.write_text(value + "\n")
            secret.chmod(0o600)  # the hub refuses a cookie secret others can read
        settings = {
            "hub_connect_host": self.name,
            "network": "unused",
            "environments": [{"name": "python", "image": "unused"}],
            "passwd_file": "/etc/passwd",
            "home_root": "/home",
            "admin_users": ["alice", "bob"],
            "admin_users_file": "/srv/jupyterhub/data/admin_users.json",
            "allowed_users": [],
            "db_url": "sqlite:////srv/jupyterhub/data/jupyterhub.sqlite",
            "cookie_secret_file": "/srv/jupyterhub/secrets/cookie_secret",
            "ops_token_file": "/srv/jupyterhub/secrets/ops_token",
            "proxy_api_url": "http+unix://%2Frun%2Fswarmhub-proxy%2Fapi.sock",
            "proxy_token_file": "/srv/jupyterhub/secrets/proxy_token",
            "auth": {
                "kind": "shared_password",
                "password_file": "/srv/jupyterhub/secrets/shared_password",
                "admin_password_file": "/srv/jupyterhub/secrets/admin_password",
            },
        }
        self.settings_file = tmp_path / "hub.json"
        self.settings_file.write_text(json.dumps(settings))
        # the proxy (its own account in the image) owns its socket's folder and token
        self.socket_dir = tmp_path / "proxy"
        self.socket_dir.mkdir()
        os.chown(self.socket_dir, 65534, 65534)
        os.chown(self.data_dir / "secrets" / "proxy_token", 65534, 65534)
        self.url = f"http://127.0.0.1:{self.port}/hub"

    def start(self) -> None:
        """The proxy and the hub, on a network of their own, as on the hub host."""
        site_packages = "/opt/hub/lib/python3.11/site-packages/swarmhub"
        socket_dir = self.socket_dir
        docker("network", "create", self.name)
        hub_url = f"http://{self.name}:8081"
        docker(
            "run", "-d", "--name", self.proxy_name, "--network", self.name,
            "-p", f"127.0.0.1:{self.port}:8000",
            "-v", f"{socket_dir}:/run/swarmhub-proxy",
            "-v", f"{self.data_dir}/secrets/proxy_token:/run/secrets/proxy-token:ro",
            self.proxy_image,
            "--ip", "0.0.0.0", "--port", "8000", "--api-socket", "/run/swarmhub-proxy/api.sock",
            "--error-target", f"{hub_url}/hub/error", "--default-target", hub_url,
        )  # fmt: skip
        docker(
            "run",
            "-d",
            "--name",
            self.name,
            "--network",
            self.name,
            "-v",
            f"{socket_dir}:/run/swarmhub-proxy",
            "-v",
            f"{self.data_dir}/data:/srv/jupyterhub/data",
            "-v",
            f"{self.data_dir}/secrets:/srv/jupyterhub/secrets:ro",
            "-v",
            f"{self.settings_file}:/etc/swarmhub/hub.json:ro",
            # this checkout's hub code, not the image's
            "-v",
            f"{ROOT / 'services/swarmhub'}:{site_packages}:ro",
            self.hub_image,
        )

    def remove(self) -> None:
        docker("rm", "-f", self.name, self.proxy_name, check=False)
        docker("network", "rm", self.name, check=False)

    def wait(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            state = docker("inspect", "-f", "{{.State.Running}}", self.name).stdout.strip()
            if state != "true":
                raise RuntimeError(f"the hub container stopped:\n{self.logs()}")
            try:
                if requests.get(f"{self.url}/health", timeout=5).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"the hub did not answer within {STARTUP_TIMEOUT_SECONDS}s")

    def admins(self) -> list[str]:
        response = requests.get(
            f"{self.url}/api/users",
            headers={"Authorization": f"token {self.token}"},
            timeout=30,
        )
        response.raise_for_status()
        return sorted(user["name"] for user in response.json() if user["admin"])

    def logs(self) -> str:
        result = docker("logs", "--tail", "60", self.name, check=False)
        return result.stdout + result.stderr


@pytest.fixture
def hub(tmp_path):
    hub = Hub(tmp_path)
    try:
        hub.start()
        hub.wait()
        yield hub
    finally:
        hub.remove()


def run_admins(tmp_path: Path, hub: Hub, *extra: str) -> tuple[subprocess.CompletedProcess, str]:
    hub_host = {
        "ansible_connection": "local",
        # the project's virtualenv: the docker SDK for community.docker
        "ansible_python_interpreter": sys.executable,
        "swarmhub_hub_address": "127.0.0.1",
        "swarmhub_hub_port": hub.port,
        "swarmhub_hub_data_dir": str(hub.data_dir),
        "swarmhub_hub_container": hub.name,
    }
    inventory = write_inventory(tmp_path, site_inventory("hubhost", hub_host))
    proc = ansible_playbook("-i", str(inventory), "admins.yml", *extra)
    output = proc.stdout + proc.stderr
    assert hub.token not in output
    return proc, output


def test_admins_are_replaced_and_a_removed_admin_stops_being_one(tmp_path, hub):
    assert hub.admins() == ["alice", "bob"], hub.logs()
    admins_file = tmp_path / "admins.yaml"
    admins_file.write_text("admins: [carol, bob]\n")

    proc, output = run_admins(tmp_path, hub, "-e", f"admins_file={admins_file}")

    assert proc.returncode == 0, output[-4000:] + hub.logs()
    assert "admins were: alice, bob; now: bob, carol" in output
    assert hub.admins() == ["bob", "carol"]
    assert json.loads((hub.data_dir / "data" / "admin_users.json").read_text()) == [
        "bob",
        "carol",
    ]
    # alice is still a user, only no longer an admin; and it lasts over another restart
    docker("restart", hub.name)
    hub.wait()
    assert hub.admins() == ["bob", "carol"]

    # the same list again: nothing to do, no restart
    proc, output = run_admins(tmp_path, hub, "-e", f"admins_file={admins_file}")
    assert proc.returncode == 0, output[-4000:]
    assert "admins were: bob, carol; now: bob, carol" in output
    assert recap(output, "hubhost")["changed"] == 0


def test_a_bad_admin_list_changes_nothing(tmp_path, hub):
    proc, output = run_admins(tmp_path, hub, "-e", '{"admins": ["carol", "Root", "root"]}')
    assert proc.returncode != 0
    assert "The admin list has 2 problem(s); nothing was changed:" in output
    assert "'Root' is not a valid user name" in output
    assert "'root' is reserved" in output
    assert "[hubhost]" not in output
    proc, output = run_admins(tmp_path, hub, "-e", '{"admins": []}')
    assert proc.returncode != 0
    assert "admins_allow_none=true" in output
    assert hub.admins() == ["alice", "bob"]
    assert not (hub.data_dir / "data" / "admin_users.json").exists()
