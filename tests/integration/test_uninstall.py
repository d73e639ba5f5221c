"""uninstall.yml against a real hub host: a container of this test's own with systemd as
PID 1 and its own Docker engine (like script/cluster's trial hosts), reached with
Ansible's docker connection.

What is real in there: a swarm with the overlay network `swarmhub`, a user server
(swarm service jupyter-ann, and a server's container left without its service), the hub
and sidecar containers, a restuser systemd unit,
Debian's docker-registry and nginx with the hub's site, a DOCKER-USER rule of the
firewall, user accounts with homes, and the data folders with files in them. The
containers run `sleep` from the cluster's base image instead of the hub's programs:
uninstall only removes them, by name. The host is in both the hub and proxy groups;
the nodes group is empty (the lead's cluster tests cover nodes leaving the swarm).
Everything the test made is removed at the end; this machine's engine is never put
in swarm mode.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.ansible_run import ansible_playbook, recap, write_inventory
from tests.integration.docker_cli import BASE_IMAGE, docker, ensure_base_image, sh

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "swarmhub-uninstalltest"
TRIAL_HOST_IMAGE = f"{PREFIX}/trial-host:bookworm"
IMAGE = f"{PREFIX}/host:bookworm"
DOCKERFILE = f"""\
FROM {TRIAL_HOST_IMAGE}
RUN apt-get update -q && apt-get install -y -q --no-install-recommends \\
      docker.io python3-docker python3-requests iptables docker-registry nginx \\
 && apt-get clean
"""
HUB_IMAGE = "10.213.7.11:5000/swarmhub/jupyterhub:0123456789ab"
BLOCKED = "10.213.99.99"
CONFIRM = "DELETE-ALL-DATA"

# The hub host as the roles leave it (restuser, registry, nginx site, firewall, data).
SETUP = rf"""
set -eu
useradd -m -u 1001 ann
useradd -m -u 1002 bob
useradd -m -u 1003 -G sudo keeper
mkdir -p /home/ann/work /srv/data /srv/shares/physics /srv/stats/db /srv/skeldir \
  /srv/backup/duplicity /srv/backup/secrets /srv/backup/state \
  /srv/jupyterhub/data /srv/jupyterhub/secrets /etc/swarmhub \
  /srv/swarmhub/images/jupyterhub /usr/local/lib/swarmhub /opt/swarmhub/restuser/swarmhub \
  /run/swarmhub-restuser /etc/nginx/tls /etc/systemd/system/docker.service.d
head -c 2000000 /dev/urandom > /home/ann/work/data.bin
echo 'print("hello")' > /home/ann/work/notebook.py
chown -R ann:ann /home/ann/work
echo thesis > /home/bob/thesis.tex
echo admin-notes > /home/keeper/notes.txt
echo 'course material' > /srv/data/course.txt
echo shared > /srv/shares/physics/lab.txt
echo 'Welcome' > /srv/skeldir/README.md
echo 'not-a-real-passphrase' > /srv/backup/secrets/passphrase
head -c 100000 /dev/urandom > /srv/backup/duplicity/duplicity-full.20261122T000000Z.vol1.difftar.gpg
echo '{{"last_success": "2026-11-22T00:05:00Z"}}' > /srv/backup/state/status.json
echo 0123456789abcdef > /srv/jupyterhub/secrets/cookie_secret
for db in /srv/jupyterhub/data/jupyterhub.sqlite /srv/stats/db/activity.sqlite; do
  python3 -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); \
c.execute('create table t (name text)'); c.execute(\"insert into t values ('ann')\"); c.commit()" \
    $db
done
echo '{{}}' > /etc/swarmhub/hub.json
echo FROM > /srv/swarmhub/images/jupyterhub/Dockerfile
echo '#!/bin/sh' > /usr/local/lib/swarmhub/build-base-image
echo '' > /opt/swarmhub/restuser/swarmhub/__init__.py
printf 'd /run/swarmhub-restuser 0750 root root -\n' > /etc/tmpfiles.d/swarmhub-restuser.conf
printf '[Unit]\nDescription=restuser stand-in\n[Service]\nExecStart=/bin/sleep infinity\n' \
  > /etc/systemd/system/swarmhub-restuser.service
printf '[Install]\nWantedBy=multi-user.target\n' >> /etc/systemd/system/swarmhub-restuser.service
printf '[Service]\nExecStartPost=/usr/local/sbin/swarmhub-firewall\n' \
  > /etc/systemd/system/docker.service.d/swarmhub-firewall.conf
printf '#!/bin/sh\nexit 0\n' > /usr/local/sbin/swarmhub-firewall
chmod 755 /usr/local/sbin/swarmhub-firewall
systemctl daemon-reload
systemctl enable --now swarmhub-restuser docker-registry
echo key > /etc/nginx/tls/site.key
printf 'server {{ listen 443; server_name hub.example; return 200; }}\n' \
  > /etc/nginx/sites-available/jupyterhub.conf
ln -s /etc/nginx/sites-available/jupyterhub.conf /etc/nginx/sites-enabled/jupyterhub.conf
rm -f /etc/nginx/sites-enabled/default
systemctl reload-or-restart nginx
iptables -I DOCKER-USER -i docker0 -d {BLOCKED} -j DROP
docker swarm init --advertise-addr 127.0.0.1 >/dev/null
docker network create -d overlay --attachable --subnet 10.213.128.0/20 \
  --gateway 10.213.128.1 --ip-range 10.213.136.0/21 swarmhub >/dev/null
docker tag {BASE_IMAGE} {HUB_IMAGE}
docker tag {BASE_IMAGE} example/other-app:1
docker run -d --name jupyterhub --network swarmhub --ip 10.213.128.2 \
  --restart unless-stopped {HUB_IMAGE} sleep infinity >/dev/null
for c in jupyterhub-proxy swarmhub-culler swarmhub-stats swarmhub-backup; do
  docker run -d --name $c --network swarmhub --restart unless-stopped \
    {HUB_IMAGE} sleep infinity >/dev/null
done
docker service create -d -q --name jupyter-ann --network swarmhub \
  {HUB_IMAGE} sleep infinity >/dev/null
# a server's container its service no longer owns (its node was down when the service went)
docker run -d --name jupyter-bob.1.leftover0001 {HUB_IMAGE} sleep infinity >/dev/null
docker run -d --name other-app --restart unless-stopped \
  example/other-app:1 sleep infinity >/dev/null
"""

# What uninstall keeps: every file's checksum, owner and mode.
KEPT = "/home /srv/data /srv/shares /srv/stats /srv/backup /srv/jupyterhub /srv/skeldir"
FINGERPRINT = (
    f"find {KEPT} -print0 | LC_ALL=C sort -z"
    " | xargs -0 stat -c '%n %u:%g %a %s'"
    f" && find {KEPT} -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum"
)


def wait_for(what: str, condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(1)


@pytest.fixture(scope="module")
def image() -> str:
    ensure_base_image()
    docker("build", "-q", "--build-arg", f"BASE={BASE_IMAGE}", "-t", TRIAL_HOST_IMAGE,
           str(ROOT / "images/host"))  # fmt: skip
    docker("build", "-q", "-t", IMAGE, "-", input=DOCKERFILE)
    return IMAGE  # kept: the next run's build is a cache hit


@pytest.fixture(scope="module")
def host(image: str) -> Iterator[str]:
    name = f"{PREFIX}-{uuid.uuid4().hex[:8]}"
    engine_dir = Path(f"/var/lib/{name}")  # the host's /var/lib/docker: no overlay on overlay
    engine_dir.mkdir(parents=True)
    cgroupns = (
        "--cgroupns=private" if Path("/sys/fs/cgroup/cgroup.controllers").exists()
        else "--cgroupns=host"
    )  # fmt: skip
    try:
        docker(
            "run", "-d", "--name", name, "--hostname", "hub",
            "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
            "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
            "--security-opt", "systempaths=unconfined", cgroupns,
            "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "-v", "/lib/modules:/lib/modules:ro",
            "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp:exec",
            "-v", f"{engine_dir}:/var/lib/docker", image,
        )  # fmt: skip

        def engine_up() -> bool:
            return docker("exec", name, "docker", "info", check=False).returncode == 0

        wait_for("the host's Docker engine", engine_up, 180)
        save = subprocess.Popen(["docker", "save", BASE_IMAGE], stdout=subprocess.PIPE)
        subprocess.run(["docker", "exec", "-i", name, "docker", "load", "-q"],
                       stdin=save.stdout, check=True, capture_output=True, timeout=600)  # fmt: skip
        assert save.wait(timeout=600) == 0
        sh(name, SETUP)

        def server_running() -> bool:
            names = sh(name, "docker ps --format '{{.Names}}'").split()
            return any(n.startswith("jupyter-ann.") for n in names)

        wait_for("the user server's container", server_running, 120)
        yield name
    finally:
        docker("rm", "-f", "-v", name, check=False)
        shutil.rmtree(engine_dir, ignore_errors=True)


def run_uninstall(tmp_path: Path, host: str, *extra: str) -> tuple[int, str]:
    connection = {
        "ansible_connection": "community.docker.docker",
        "ansible_python_interpreter": "/usr/bin/python3",
    }
    inventory = {
        "all": {
            "children": {
                "hub": {
                    "hosts": {host: connection},
                    "vars": {"docker_blocked_destinations": [BLOCKED]},
                },
                "proxy": {"hosts": {host: connection}},
                "nodes": {"hosts": {}},
            },
        }
    }  # fmt: skip
    proc = ansible_playbook(
        "-i", str(write_inventory(tmp_path, inventory)), "uninstall.yml", *extra
    )
    return proc.returncode, proc.stdout + proc.stderr


def state(host: str) -> dict[str, str]:
    """What uninstall removes (or keeps), as the host reports it."""
    return {
        "containers": sh(host, "docker ps -a --format '{{.Names}}' | sort"),
        "swarm": sh(host, "docker info --format '{{.Swarm.LocalNodeState}}'").strip(),
        "networks": sh(host, "docker network ls --format '{{.Name}}' | sort"),
        "images": sh(host, "docker images --format '{{.Repository}}:{{.Tag}}' | sort"),
        "units": sh(
            host, "systemctl is-active swarmhub-restuser docker-registry nginx docker", check=False
        ),
        "registry package": sh(host, "dpkg-query -W -f '${Status}' docker-registry", check=False),
        "firewall": sh(host, "iptables -S DOCKER-USER"),
        "files": sh(
            host,
            "ls -d /etc/swarmhub /etc/systemd/system/swarmhub-restuser.service"
            " /etc/tmpfiles.d/swarmhub-restuser.conf /opt/swarmhub /srv/swarmhub"
            " /usr/local/lib/swarmhub /etc/docker/registry/config.yml"
            " /etc/systemd/system/docker.service.d/swarmhub-firewall.conf"
            " /usr/local/sbin/swarmhub-firewall /etc/nginx/sites-enabled/jupyterhub.conf"
            " /etc/nginx/sites-available/jupyterhub.conf /etc/nginx/tls 2>/dev/null",
            check=False,
        ),
    }


def test_a_purge_without_the_confirmation_is_refused_and_changes_nothing(tmp_path, host):
    before, data = state(host), sh(host, FINGERPRINT)
    code, output = run_uninstall(tmp_path, host, "-e", "uninstall_purge_data=true")
    assert code != 0
    assert "cannot be undone. Nothing was changed." in output
    assert f"add -e uninstall_confirm={CONFIRM}" in output
    code, output = run_uninstall(
        tmp_path, host, "-e", "uninstall_purge_data=true", "-e", "uninstall_confirm=yes"
    )
    assert code != 0 and "Nothing was changed." in output
    assert state(host) == before
    assert sh(host, FINGERPRINT) == data


def test_uninstall_removes_the_hub_and_keeps_the_data_and_a_second_run_changes_nothing(
    tmp_path, host
):
    data = sh(host, FINGERPRINT)
    assert "/home/ann/work/data.bin" in data and "/srv/stats/db/activity.sqlite" in data

    code, output = run_uninstall(tmp_path, host)
    assert code == 0, output[-4000:]

    after = state(host)
    # the hub, its sidecars, the user server and the swarm are gone; other containers stay
    assert after["containers"].split() == ["other-app"]
    assert after["swarm"] == "inactive"
    assert "swarmhub" not in after["networks"].split()
    assert not [i for i in after["images"].split() if "swarmhub/" in i]
    assert "example/other-app:1" in after["images"].split()
    # restuser and the registry are gone; nginx and the engine stay
    assert after["units"].split() == ["inactive", "inactive", "active", "active"]
    assert "install ok installed" not in after["registry package"]
    assert BLOCKED not in after["firewall"]
    assert after["files"] == ""
    # every kept file is byte-identical, with its owner and mode
    assert sh(host, FINGERPRINT) == data
    assert "Kept on" in output and "/srv/jupyterhub" in output
    assert f"-e uninstall_confirm={CONFIRM}" in output

    code, output = run_uninstall(tmp_path, host)
    assert code == 0, output[-4000:]
    assert recap(output, host)["changed"] == 0, output[-4000:]
    assert state(host) == after
    assert sh(host, FINGERPRINT) == data


def test_purge_deletes_the_data_and_the_engine_but_not_admins_homes(tmp_path, host):
    purge = ("-e", "uninstall_purge_data=true", "-e", f"uninstall_confirm={CONFIRM}")
    code, output = run_uninstall(tmp_path, host, *purge, "-e", "uninstall_docker=true")
    assert code == 0, output[-4000:]
    left = sh(host, f"ls -d {KEPT} /home/* 2>/dev/null", check=False).split()
    assert left == ["/home", "/home/keeper"]
    assert sh(host, "cat /home/keeper/notes.txt") == "admin-notes\n"
    # the accounts stay (only their homes go)
    assert sh(host, "getent passwd ann bob | cut -d: -f1").split() == ["ann", "bob"]
    assert "Deleted the data" in output
    # and the engine, with its state
    assert "install ok installed" not in sh(
        host, "dpkg-query -W -f '${Status}' docker.io", check=False
    )
    assert sh(host, "ls -A /var/lib/docker; ls /etc/docker 2>&1", check=False) == (
        "ls: cannot access '/etc/docker': No such file or directory\n"
    )

    code, output = run_uninstall(tmp_path, host, *purge, "-e", "uninstall_docker=true")
    assert code == 0, output[-4000:]
    assert recap(output, host)["changed"] == 0, output[-4000:]


def test_an_inventory_without_a_host_group_is_refused_before_any_host(tmp_path):
    inventory = {"all": {"children": {"hub": {"hosts": {"hub1": {"ansible_port": 1}}}}}}
    proc = ansible_playbook(
        "-i", str(write_inventory(tmp_path, inventory)), "uninstall.yml", timeout=300
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "The inventory has no group 'proxy'" in output
    assert "hub1" not in output.split("PLAY RECAP")[0]
