"""The kernel tier: a hub VM and a node VM with Debian's real kernel (QEMU, no KVM),
configured by site.yml over SSH with the storage roles, as at a real site.

The session builds the image (cached by build-image's hash), boots both VMs,
gives the hub a second disk for /home mounted with usrquota (what a site's
operator prepares), then deploys the storage part of site.yml:
``-t nfs,quotas,users,restuser,shares``. The tests read what users and
operators see on the two VMs. Consoles and the deploy's log go to
test-artifacts/kernel/.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from swarmhub.hub.shares import accessible_shares, group_ids, parse_shares, user_groups
from tests.integration.ansible_run import ROOT, ansible_playbook
from tests.kernel.vm import SSH_OPTIONS, VM, bridge_down, bridge_up, run

CACHE = Path("/var/cache/swarmhub-kernel")
ARTIFACTS = ROOT / "test-artifacts" / "kernel"
STORAGE_TAGS = "nfs,quotas,users,restuser,shares"
# Small quotas so a test fills them in seconds; carl's comes from the users
# file (users_list), the way an operator gives one student more room.
QUOTA_SOFT_MB, QUOTA_HARD_MB = 20, 30
CARL_SOFT_MB, CARL_HARD_MB = 60, 80
USERS = [
    {"name": "ann", "uid": 1001},
    {"name": "bob", "uid": 1002},
    {
        "name": "carl",
        "uid": 1003,
        "quota": {"soft": f"{CARL_SOFT_MB}M", "hard": f"{CARL_HARD_MB}M"},
    },
    {"name": "dan", "uid": 1004},
]
SHARE = {"name": "handouts", "level": "private", "readers": ["bob"], "writers": ["ann"]}
# The same share as the hub's settings give it to the spawner.
SHARE_SETTING = {**SHARE, "path": "/srv/shares/handouts"}
TIMINGS: dict[str, float] = {}


def inventory(hub: VM, node: VM, key: Path) -> dict:
    """Hosts and settings of the tier: a site's shape, with the proxy group naming
    the hub VM (no proxy play runs with these tags, but validation wants one)."""
    return {
        "all": {
            "vars": {
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(key),
                "ansible_ssh_common_args": " ".join(SSH_OPTIONS[:6]),
                "ansible_host_key_checking": False,
                "ansible_python_interpreter": "/usr/bin/python3",
                "swarmhub_public_url": "https://kernel-tier.invalid",
                "swarmhub_auth": "shared_password",
                "vault_shared_password": secrets.token_hex(12),
                "vault_admin_password": secrets.token_hex(24),
                "vault_backup_passphrase": secrets.token_hex(24),
                "swarmhub_allowed_users": [u["name"] for u in USERS],
                "swarmhub_admin_users": [],
                "swarmhub_quota_soft": f"{QUOTA_SOFT_MB}M",
                "swarmhub_quota_hard": f"{QUOTA_HARD_MB}M",
                "users_list": USERS,
                "swarmhub_shares": [SHARE],
            },
            "children": {
                "proxy": {"hosts": {"proxy.kernel": {"ansible_host": hub.address}}},
                "hub": {"hosts": {"hub.kernel": {"ansible_host": hub.address}}},
                "nodes": {"hosts": {"node.kernel": {"ansible_host": node.address}}},
            },
        }
    }


def build_image() -> Path:
    started = time.monotonic()
    done = subprocess.run(
        [str(ROOT / "tests/kernel/build-image"), str(CACHE)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, f"build-image failed:\n{done.stderr}"
    TIMINGS["image (build or cache)"] = time.monotonic() - started
    return Path(done.stdout.strip().splitlines()[-1])


def home_disk(path: Path, size: str = "512M") -> Path:
    """An empty ext4 filesystem for the hub's /home, made on this machine."""
    path.unlink(missing_ok=True)
    run(["truncate", "-s", size, str(path)])
    run(["mkfs.ext4", "-q", "-L", "swarmhub-home", str(path)])
    return path


def prepare_hub(hub: VM) -> None:
    """The operator's part: /home on its own disk, mounted with user quotas."""
    hub.sh(
        "grep -q swarmhub-home /etc/fstab || "
        "echo 'LABEL=swarmhub-home /home ext4 defaults,usrquota 0 2' >>/etc/fstab; "
        "mountpoint -q /home || mount /home"
    )


def mark_package_lists_fresh(*vms: VM) -> None:
    """The image carries every package and the VMs have no route out, so the
    lists it was built with are as fresh as they can be: say so to apt's
    cache_valid_time, which would otherwise try the network."""
    for vm in vms:
        vm.sh("mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/update-success-stamp")


def deploy(
    inventory_file: Path, *args: str, log_name: str, timeout: float = 1500
) -> subprocess.CompletedProcess:
    done = ansible_playbook("-i", str(inventory_file), *args, timeout=timeout)
    (ARTIFACTS / f"{log_name}.log").write_text(done.stdout + done.stderr)
    return done


class Cluster:
    def __init__(
        self,
        hub: VM,
        node: VM,
        inventory_file: Path,
        second_deploy: subprocess.CompletedProcess | None = None,
    ):
        self.hub, self.node, self.inventory_file = hub, node, inventory_file
        self.second_deploy = second_deploy
        # name -> (uid, gids): no test changes an account's ids or share groups
        self._ids: dict[str, tuple[int, list[int]]] = {}

    def ids(self, name: str) -> tuple[int, list[int]]:
        """The uid and gids a server of `name` runs with: the account's uid and gid,
        and the share groups the spawner's own functions give it (spawner.share_access).
        Read from the hub once per user: each SSH round trip costs a second under TCG."""
        if name not in self._ids:
            self._ids[name] = self._read_ids(name)
        return self._ids[name]

    def _read_ids(self, name: str) -> tuple[int, list[int]]:
        uid, gid = (int(x) for x in self.hub.sh(f"id -u {name}; id -g {name}").stdout.split())
        with tempfile.NamedTemporaryFile("w", suffix=".group") as group_file:
            group_file.write(self.hub.sh("cat /etc/group").stdout)
            group_file.flush()
            groups = user_groups(name, gid, group_file.name)
            accesses = accessible_shares(parse_shares([SHARE_SETTING]), name, set(groups))
            wanted = [a.share.read_group for a in accesses]
            wanted += [a.share.write_group for a in accesses if a.writable]
            share_gids = group_ids(group_file.name, wanted)
        assert set(share_gids) == set(wanted), f"share groups missing on the hub: {wanted}"
        return uid, [gid, *sorted(share_gids.values())]

    def on_node_as(self, name: str, command: str, **kwargs) -> subprocess.CompletedProcess:
        uid, gids = self.ids(name)
        return self.node.as_user(uid, gids, command, **kwargs)

    def deploy(self, *args: str, log_name: str) -> subprocess.CompletedProcess:
        return deploy(self.inventory_file, *args, log_name=log_name)


def reused_cluster(image: Path) -> Cluster | None:
    """SWARMHUB_KERNEL_REUSE=1 (for iterating on tests): the VMs a session left
    running (with SWARMHUB_KERNEL_REUSE=1 too), as they are."""
    inventory_file = ARTIFACTS / "inventory.yml"
    if os.environ.get("SWARMHUB_KERNEL_REUSE") != "1" or not inventory_file.exists():
        return None
    work = ARTIFACTS / "vms"
    hub, node = VM("hub", 10, image, work), VM("node", 21, image, work)
    for vm in (hub, node):
        vm.wait_ssh(timeout=10)
    return Cluster(hub, node, inventory_file)


@pytest.fixture(scope="session")
def kernel_cluster():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    image = build_image()
    reused = reused_cluster(image)
    if reused is not None:
        yield reused
        return
    work = ARTIFACTS / "vms"
    subprocess.run(["rm", "-rf", str(work)], check=True)
    work.mkdir(parents=True)
    bridge_up()
    hub = VM("hub", 10, image, work, extra_disks=[home_disk(work / "home.img")])
    node = VM("node", 21, image, work)
    try:
        started = time.monotonic()
        hub.start()
        node.start()
        hub.wait_ssh()
        node.wait_ssh()
        TIMINGS["boot both VMs"] = time.monotonic() - started
        prepare_hub(hub)
        mark_package_lists_fresh(hub, node)
        inventory_file = ARTIFACTS / "inventory.yml"
        # it holds the run's generated passwords: root's only from the start
        inventory_file.unlink(missing_ok=True)
        inventory_file.touch(mode=0o600)
        inventory_file.write_text(yaml.safe_dump(inventory(hub, node, image / "id_ed25519")))
        started = time.monotonic()
        done = deploy(inventory_file, "site.yml", "-t", STORAGE_TAGS, log_name="deploy")
        TIMINGS["deploy (storage roles)"] = time.monotonic() - started
        assert done.returncode == 0, (
            f"deploy failed (test-artifacts/kernel/deploy.log):\n{done.stdout[-6000:]}"
        )
        # the second deploy, before any test changes what the inventory says
        started = time.monotonic()
        again = deploy(inventory_file, "site.yml", "-t", STORAGE_TAGS, log_name="deploy-again")
        TIMINGS["second deploy"] = time.monotonic() - started
        yield Cluster(hub, node, inventory_file, again)
    finally:
        if os.environ.get("SWARMHUB_KERNEL_REUSE") != "1":
            for vm in (node, hub):
                vm.stop()
            bridge_down()
            # the generated passwords go with the run
            (ARTIFACTS / "inventory.yml").unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.section("kernel tier timings")
        for what, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{what}: {seconds:.0f} s")
