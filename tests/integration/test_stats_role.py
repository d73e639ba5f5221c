"""roles/stats, applied for real: the sidecar from the real hub image, on a Docker
network, next to a real JupyterHub that registers it as the service `stats`.

What is real: the hub image built from images/jupyterhub (its `pip check` included)
with this checkout's package, the role's tasks run by ansible-playbook against this
machine's Docker engine, the sidecar's poller reading the hub API with the service
token the role passes it, and the role's own wait for the page through the hub's
proxy. What differs from a deployment: the network is a bridge network of the test
(an overlay needs swarm mode, which this machine's engine must not be switched to),
and the hub runs on this machine, reachable from the sidecar at the network's gateway.
The second run must change nothing. Everything the test made is removed at the end.
"""

from __future__ import annotations

import json
import pwd
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.hub_process import HubProcess, require_proxy
from tests.integration.ansible_run import ansible_playbook, recap
from tests.integration.docker_cli import ensure_hub_image

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
PREFIX = "swarmhub-statstest"
NETWORK = f"{PREFIX}-net"
CONTAINER = f"{PREFIX}-stats"
SCOPES = ["list:users", "read:users:name", "read:users:activity", "read:servers",
          "admin:server_state"]  # fmt: skip

HUB_SETTINGS = """\
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.load_groups = {{
    "instructors": {{"users": ["tina"]}},
    "students": {{"users": ["ann"]}},
}}
c.JupyterHub.services = [
    {{"name": "stats", "url": "http://{swarmhub_stats_ip}:8080", "api_token": "{token}",
      "oauth_no_confirm": True}},
]
c.JupyterHub.load_roles = [
    {{"name": "stats-service", "scopes": {scopes!r}, "services": ["stats"]}},
    {{"name": "stats-viewers", "scopes": ["access:services!service=stats"],
      "groups": ["instructors"]}},
]
"""

PLAYBOOK = """\
- name: The stats role alone
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - { role: stats, tags: [stats] }
"""


def sh(*argv: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def wait_for(what: str, probe, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


@dataclass
class Deployment:
    workdir: Path
    extra_vars: dict
    hub_url: str

    def play(self) -> subprocess.CompletedProcess:
        playbook = self.workdir / "stats-only.yml"
        playbook.write_text(PLAYBOOK)
        return ansible_playbook(
            "-i",
            "localhost,",
            str(playbook),
            "-e",
            json.dumps(self.extra_vars),
            timeout=600,
            env={"ANSIBLE_STDOUT_CALLBACK": "default"},
        )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    require_proxy()  # before the image build, which takes minutes
    hub_image = ensure_hub_image()  # shared with the other tests: never removed here
    workdir = tmp_path_factory.mktemp("stats-role")
    sh("docker", "network", "rm", NETWORK, check=False)
    # a subnet of its own, as the deployment's network has (fixed addresses need one);
    # the next candidate when another network of this engine has it
    for third in range(240, 250):
        subnet, gateway = f"10.213.{third}.0/24", f"10.213.{third}.1"
        made = sh(
            "docker", "network", "create", "--subnet", subnet, "--gateway", gateway, NETWORK,
            check=False,
        )  # fmt: skip
        if made.returncode == 0:
            break
    else:
        pytest.fail(f"could not create the test network: {made.stderr}")
    # the hub's own port on the network's gateway: where the sidecar reaches it
    hub = HubProcess(workdir, hub_ip=gateway, hub_port=8081)
    try:
        swarmhub_stats_ip = gateway.rsplit(".", 1)[0] + ".3"
        token = secrets.token_hex(32)
        token_file = workdir / "secrets" / "service-stats.token"
        token_file.parent.mkdir(mode=0o700)
        token_file.write_text(token + "\n")
        settings = HUB_SETTINGS.format(
            swarmhub_stats_ip=swarmhub_stats_ip, token=token, scopes=SCOPES
        )
        hub.start(settings, startup_timeout=90)
        yield Deployment(
            workdir=workdir,
            hub_url=hub.url,
            extra_vars={
                "images_ref": {"jupyterhub": hub_image},
                "swarmhub_network": NETWORK,
                "swarmhub_hub_ip": gateway,
                "swarmhub_hub_address": "127.0.0.1",
                "swarmhub_hub_port": hub.public_port,
                "swarmhub_public_url": hub.url,
                "swarmhub_stats_container": CONTAINER,
                "swarmhub_stats_ip": swarmhub_stats_ip,
                "swarmhub_stats_db_dir": str(workdir / "stats-db"),
                "stats_backup_state_dir": str(workdir / "backup-state"),
                "stats_token_file": str(token_file),
                # an account this machine has: the test makes none on it
                "swarmhub_stats_account": "nobody",
                "ansible_python_interpreter": str(VENV_BIN / "python"),
            },
        )
    finally:
        sh("docker", "rm", "-f", CONTAINER, check=False)
        sh("docker", "network", "rm", NETWORK, check=False)
        hub.stop()


@pytest.fixture(scope="module")
def first_run(deployment: Deployment) -> subprocess.CompletedProcess:
    result = deployment.play()
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    return result


def test_role_starts_the_sidecar_and_its_page_answers_through_the_hub(
    deployment: Deployment, first_run: subprocess.CompletedProcess
) -> None:
    assert "Wait for the stats page's health check through the hub's proxy" in first_run.stdout
    reply = requests.get(f"{deployment.hub_url}/services/stats/healthz", timeout=10)
    assert (reply.status_code, reply.text) == (200, "ok")
    # a browser without a login is sent to the hub's OAuth
    page = requests.get(f"{deployment.hub_url}/services/stats/", allow_redirects=False, timeout=10)
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/hub/api/oauth2/authorize?client_id=service-stats")


def test_sidecar_polls_the_hub_with_the_token_it_was_given(
    deployment: Deployment, first_run: subprocess.CompletedProcess
) -> None:
    def polled() -> bool:
        logs = sh("docker", "logs", CONTAINER).stderr
        return "poll: 2 users, 0 servers" in logs

    wait_for("the sidecar's first poll", polled)
    report = sh(
        "docker", "exec", CONTAINER, "python", "-m", "swarmhub.stats", "report", "never", "--csv"
    ).stdout
    assert [line.split(",")[0] for line in report.splitlines()[1:]] == ["ann", "tina"]
    assert (deployment.workdir / "stats-db" / "activity.sqlite").is_file()
    assert oct((deployment.workdir / "stats-db").stat().st_mode & 0o777) == "0o700"
    token = (deployment.workdir / "secrets" / "service-stats.token").read_text().strip()
    assert token not in sh("docker", "logs", CONTAINER).stderr
    # the token is a read-only file in the sidecar, not in what docker inspect shows
    inspected = sh("docker", "inspect", CONTAINER).stdout
    assert token not in inspected
    mounts = {m["Destination"]: m for m in json.loads(inspected)[0]["Mounts"]}
    assert mounts["/run/secrets/hub-token"]["RW"] is False


def test_sidecar_runs_as_its_account_with_no_capabilities(
    deployment: Deployment, first_run: subprocess.CompletedProcess
) -> None:
    nobody = pwd.getpwnam("nobody")
    status = sh("docker", "exec", CONTAINER, "cat", "/proc/1/status").stdout
    fields = dict(line.split(":", 1) for line in status.splitlines())
    assert fields["Uid"].split()[0] == str(nobody.pw_uid)
    assert fields["CapEff"].strip() == "0000000000000000"
    assert fields["NoNewPrivs"].strip() == "1"
    # its token and database are its account's alone
    token = (deployment.workdir / "secrets" / "service-stats.token").stat()
    assert (token.st_uid, oct(token.st_mode & 0o777)) == (nobody.pw_uid, "0o400")
    assert (deployment.workdir / "stats-db").stat().st_uid == nobody.pw_uid


def test_sidecar_mounts_backup_state_read_only(
    deployment: Deployment, first_run: subprocess.CompletedProcess
) -> None:
    mounts = json.loads(sh("docker", "inspect", CONTAINER).stdout)[0]["Mounts"]
    by_target = {m["Destination"]: m for m in mounts}
    assert by_target["/srv/backup/state"]["RW"] is False
    assert by_target["/srv/stats/db"]["RW"] is True
    assert (deployment.workdir / "backup-state").is_dir()  # made before the backup role runs


def test_second_run_changes_nothing(
    deployment: Deployment, first_run: subprocess.CompletedProcess
) -> None:
    again = deployment.play()
    assert again.returncode == 0, again.stdout[-3000:]
    assert recap(again.stdout, "localhost")["changed"] == 0, again.stdout[-3000:]
