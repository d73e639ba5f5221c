"""The backup sidecar as deployed: the image built from images/backup on the
local Docker engine, the container made by the real `backup` role (Ansible,
connection local), a backup it makes by itself on start, one through
`docker exec`, and a restore of a deleted home through `docker exec`.

Everything here is named swarmhub-test-backup-<pid> and removed afterwards;
nothing of the trial cluster is touched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from test_backup import ANN, make_home, manifest  # same folder (pytest's rootdir import)

ROOT = Path(__file__).resolve().parents[2]
NAME = f"swarmhub-test-backup-{os.getpid()}"
IMAGE = f"{NAME}:latest"
BASE = "swarmhub/base:bookworm"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="Docker and restores need root")


def sh(*argv: str, timeout: float = 600, check: bool = True, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and result.returncode != 0:
        pytest.fail(f"{argv} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> str:
    sh("bash", "-c", "source script/lib/common.sh; ensure_docker_engine", cwd=ROOT)
    sh(str(ROOT / "images" / "base" / "build-base-image"), BASE)
    contexts = tmp_path_factory.mktemp("contexts")
    sh(str(ROOT / "script/lib/build-images"), str(contexts),
       "--extra-ca", "/etc/ssl/certs/ca-certificates.crt")  # fmt: skip
    sh("docker", "build", "-q", "--build-arg", f"BASE={BASE}", "-t", IMAGE,
       str(contexts / "backup"), timeout=1200)  # fmt: skip
    return IMAGE  # kept: the next run's build is a cache hit


def deploy(tmp: Path, image: str) -> subprocess.CompletedProcess:
    playbook = tmp / "backup.yml"
    playbook.write_text(
        json.dumps(
            [
                {
                    "name": "backup role, locally",
                    "hosts": "localhost",
                    "connection": "local",
                    "gather_facts": False,
                    "vars": {
                        "ansible_python_interpreter": str(ROOT / ".venv" / "bin" / "python"),
                        "images_ref": {"backup": image},
                        "vault_backup_passphrase": "a test passphrase, long enough",
                        "swarmhub_backup_dir": str(tmp / "srv-backup"),
                        "backup_source_dir": str(tmp / "home"),
                        "swarmhub_backup_container": NAME,
                        # what the restuser role keeps on a hub host: passwd and group
                        "swarmhub_accounts_dir": str(accounts_copy(tmp)),
                    },
                    "roles": ["backup"],
                }
            ]
        )
    )
    return sh(
        str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", str(playbook),
        cwd=ROOT, env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")},
    )  # fmt: skip


def accounts_copy(tmp: Path) -> Path:
    """This machine's passwd and group, copied as the restuser role copies the hub's."""
    folder = tmp / "accounts"
    folder.mkdir(exist_ok=True)
    for name in ("passwd", "group"):
        shutil.copyfile(f"/etc/{name}", folder / name)
    return folder


def changed(result: subprocess.CompletedProcess) -> int:
    return int(re.search(r"localhost\s*:.*changed=(\d+)", result.stdout).group(1))


def wait_until(condition, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.5)


@pytest.fixture
def deployed(tmp_path: Path, image: str):
    (tmp_path / "home").mkdir()
    make_home(tmp_path / "home", "ann", ANN, 7)
    try:
        yield tmp_path, deploy(tmp_path, image)
    finally:
        logs = sh("docker", "logs", "--tail", "30", NAME, check=False)
        print(logs.stdout, logs.stderr)
        sh("docker", "rm", "-f", NAME, check=False)


def test_the_sidecar_backs_up_and_restores_a_deleted_home(deployed, image):
    tmp, first = deployed
    assert changed(first) > 0
    # the second deploy changes nothing
    assert changed(deploy(tmp, image)) == 0

    inspect = json.loads(sh("docker", "inspect", NAME).stdout)[0]
    assert inspect["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert inspect["Config"]["Hostname"] == NAME
    assert "a test passphrase" not in json.dumps(inspect)  # only the file holds it
    secret = tmp / "srv-backup" / "secrets" / "passphrase"
    assert oct(secret.stat().st_mode & 0o777) == "0o600"

    # no backup yet at start: the sidecar makes one by itself
    status_file = tmp / "srv-backup" / "state" / "status.json"

    def first_run_done() -> bool:  # the backup, and the restore drill after it
        return status_file.exists() and bool(json.loads(status_file.read_text())["last_drill"])

    wait_until(first_run_done, "the sidecar's first backup and its restore drill", 180)
    status = json.loads(status_file.read_text())
    assert status["last_result"] == "ok", status
    assert status["message"].startswith("full backup")
    assert status["drill_result"] == "ok", status

    (tmp / "home" / "ann" / "later.txt").write_text("written after the first backup\n")
    os.chown(tmp / "home" / "ann" / "later.txt", *ANN)
    before = manifest(tmp / "home" / "ann")
    run = sh("docker", "exec", NAME, "python3", "-m", "swarmhub.backup", "run")
    assert "Duplicity backup complete" in run.stdout
    assert json.loads(status_file.read_text())["message"].startswith("incremental backup")
    assert list((tmp / "srv-backup" / "duplicity").glob("duplicity-inc.*.manifest.gpg"))
    assert list((tmp / "srv-backup" / "cache").rglob("*.manifest"))

    shutil.rmtree(tmp / "home" / "ann")
    restore = sh("docker", "exec", NAME, "python3", "-m", "swarmhub.backup", "restore", "ann")
    assert "restored" in restore.stdout
    assert manifest(tmp / "home" / "ann") == before

    status = sh("docker", "exec", NAME, "python3", "-m", "swarmhub.backup", "status")
    assert "chains:        1" in status.stdout


def test_script_restore_drives_the_sidecar(deployed):
    """The operator's command, with an inventory whose hub is this machine."""
    tmp, _ = deployed
    inventory = tmp / "hosts.yml"
    inventory.write_text(
        json.dumps(
            {"all": {"children": {"hub": {"hosts": {"localhost": {
                "ansible_connection": "local", "swarmhub_backup_container": NAME}}}}}}
        )
    )  # fmt: skip
    status_file = tmp / "srv-backup" / "state" / "status.json"
    wait_until(
        lambda: status_file.exists() and json.loads(status_file.read_text())["last_run_finished"],
        "the sidecar's first backup",
        180,
    )

    def restore(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return sh(str(ROOT / "script" / "restore"), "-i", str(inventory), *args,
                  check=check, stdin=subprocess.DEVNULL)  # fmt: skip

    assert "last result:   ok" in restore("--status").stdout
    listed = restore("ann", "--list").stdout
    when = re.search(r"^\s+(\S+Z)\s+full", listed, re.M).group(1)
    notes = tmp / "home" / "ann" / "notes.txt"
    notes.write_text("changed\n")
    out = restore("ann", "--time", when, "--path", "notes.txt").stdout
    folder = re.search(r"restored-\S+Z", out).group(0)
    assert (tmp / "home" / "ann" / folder / "notes.txt").read_bytes() == b"week 1\n" * 50
    assert notes.read_text() == "changed\n"

    refused = restore("ann", "--force", check=False)
    assert refused.returncode == 1 and "replace  notes.txt" in refused.stdout
    assert notes.read_text() == "changed\n"
    unknown = restore("zed", check=False)
    assert unknown.returncode == 1 and "unknown user zed" in unknown.stderr
