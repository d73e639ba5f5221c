"""Restoring a home whose owner is at the hard quota, with the product's backup
code and the sidecar's pinned duplicity, run in the hub VM as the sidecar runs:
root with only the sidecar's capabilities (roles/backup/tasks/container.yml)."""

from __future__ import annotations

import re
import secrets
import shlex
import subprocess

import pytest
import yaml

from tests.integration.ansible_run import ROOT
from tests.kernel.conftest import ARTIFACTS, QUOTA_HARD_MB
from tests.kernel.test_quotas import RESTUSER_POST, quota_kib, remove, write_mb

USER = "gus"
SIDECAR_ENV = {
    "SWARMHUB_BACKUP_TARGET_URL": "file:///srv/backup/duplicity",
    "SWARMHUB_BACKUP_SOURCE": "/home",
    "SWARMHUB_BACKUP_ARCHIVE_DIR": "/srv/backup/cache",
    "SWARMHUB_BACKUP_STATE_DIR": "/srv/backup/state",
    "SWARMHUB_BACKUP_PASSPHRASE_FILE": "/srv/backup/secrets/passphrase",
    "SWARMHUB_BACKUP_PASSWD_FILE": "/etc/passwd",
    "SWARMHUB_BACKUP_DRILL_FILES": "0",
    "PYTHONPATH": "/opt/backup/app",
}
# the sidecar's capabilities and nothing else
SIDECAR_CAPS = "-all,+chown,+dac_override,+dac_read_search,+fowner,+fsetid"


@pytest.fixture(scope="module")
def cluster(kernel_cluster):
    hub = kernel_cluster.hub
    code = subprocess.run(
        [
            "tar",
            "-C",
            str(ROOT / "services"),
            "--exclude=__pycache__",
            "-c",
            "swarmhub/__init__.py",
            "swarmhub/common",
            "swarmhub/backup",
        ],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(
        hub.ssh_argv(
            "rm -rf /opt/backup/app && mkdir -p /opt/backup/app && tar -C /opt/backup/app -x"
        ),
        input=code,
        check=True,
        capture_output=True,
    )
    hub.sh(
        "mkdir -p /srv/backup/duplicity /srv/backup/cache /srv/backup/state && "
        "install -d -m 700 /srv/backup/secrets && "
        f"umask 077 && echo {secrets.token_hex(16)} >/srv/backup/secrets/passphrase"
    )
    answer = hub.sh(f"python3 -c {shlex.quote(RESTUSER_POST)} {USER}").stdout
    assert answer.startswith(("201", "200")), answer
    return kernel_cluster


def sidecar(cluster, command: str) -> subprocess.CompletedProcess:
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in SIDECAR_ENV.items())
    return cluster.hub.sh(
        f"env {env} setpriv --inh-caps=-all --bounding-set={SIDECAR_CAPS} "
        f"python3 -m swarmhub.backup {command}",
        check=False,
        timeout=600,
    )


def test_a_restore_past_the_hard_quota_says_so_and_changes_nothing_until_the_quota_is_raised(
    cluster,
):
    hub = cluster.hub
    cluster.on_node_as(
        USER, f"mkdir -p /home/{USER}/work && head -c 8M /dev/urandom >/home/{USER}/work/data.bin"
    )
    want = hub.sh(f"sha256sum </home/{USER}/work/data.bin").stdout.split()[0]
    backup = sidecar(cluster, "run")
    assert backup.returncode == 0, backup.stdout + backup.stderr

    # the user fills the quota after the backup
    full = write_mb(cluster, USER, "fill", QUOTA_HARD_MB, check=False)
    assert "Disk quota exceeded" in full.stderr, full.stderr
    before = hub.sh(f"find /home/{USER} -printf '%P %s\\n' | sort").stdout
    used_before = int(quota_kib(cluster, USER)["used"])

    refused = sidecar(cluster, f"restore {USER}")
    said = refused.stdout + refused.stderr
    (ARTIFACTS / "restore-over-quota.log").write_text(said)
    assert refused.returncode != 0, said
    assert re.search(rf"{USER}.*quota", said, re.S) and "nothing was changed" in said, said
    assert hub.sh(f"find /home/{USER} -printf '%P %s\\n' | sort").stdout == before
    assert hub.sh("ls -A /home/.swarmhub-restore").stdout == ""
    assert int(quota_kib(cluster, USER)["used"]) <= used_before + 64

    # the operator's choice: a larger quota (users.yml), then the same restore
    users_file = ARTIFACTS / f"users-{USER}.yml"
    users_file.write_text(
        yaml.safe_dump({"users": [{"name": USER, "quota": {"soft": "50M", "hard": "60M"}}]})
    )
    done = cluster.deploy("users.yml", "-e", f"users_file={users_file}", log_name=f"users-{USER}")
    assert done.returncode == 0, done.stdout[-4000:]
    restored = sidecar(cluster, f"restore {USER}")
    said = restored.stdout + restored.stderr
    assert restored.returncode == 0, said
    folder = re.search(rf"to (/home/{USER}/restored-\S+)", said)
    assert folder, said
    path = f"{folder.group(1)}/work/data.bin"
    assert hub.sh(f"sha256sum <{path}").stdout.split()[0] == want
    assert hub.sh(f"stat -c %U {path}").stdout.strip() == USER
    remove(cluster, USER, "fill", "work", folder.group(1).rsplit("/", 1)[1])
