"""The quotas role and restuser's quotas on this machine, with the real quota tools.

This machine's kernel has CONFIG_QUOTA but not CONFIG_QFMT_V2: ext4 mounts with
usrquota, quotacheck makes the quota file and setquota writes limits into it, but
quotaon fails ("Quota format not supported in kernel"), so limits are recorded, not
enforced; xfs refuses quota mount options. What runs here:
- the role's probe against this machine's /home (a clear refusal);
- the whole role against a small ext4 image of the test's own, mounted with
  usrquota: quotacheck runs, quotaon is refused by the kernel and the role says what
  to do (on a kernel with quota support the same test checks quotas end up on);
- restuser with the real setquota: limits recorded on that image and read back with
  quota(1); on a filesystem without quotas a POST fails and creates nothing.
What cannot run here: enforcement ("Disk quota exceeded" for a user over the limit).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.integration.ansible_run import ansible_playbook

ROOT = Path(__file__).resolve().parents[2]
# the hub host in miniature of restuser's unit tests
sys.path.insert(0, str(ROOT / "tests" / "unit"))
from test_restuser_useradd import etc_snapshot, make_root  # noqa: E402

GIB = 1024 * 1024


def ansible(tmp_path: Path, play: str, *extra: str) -> tuple[subprocess.CompletedProcess, str]:
    playbook = tmp_path / "play.yml"
    playbook.write_text(textwrap.dedent(play))
    proc = ansible_playbook(
        "-i",
        "localhost,",
        "-c",
        "local",
        # Debian's Python, with the apt bindings the role's package task needs
        "-e",
        "ansible_python_interpreter=/usr/bin/python3",
        str(playbook),
        *extra,
    )
    return proc, proc.stdout + proc.stderr


PROBE_PLAY = """\
- hosts: localhost
  gather_facts: true
  vars: {{ quotas_path: "{path}" }}
  tasks:
    - ansible.builtin.include_role: {{ name: quotas, tasks_from: probe.yml }}
"""


def mount_options(path: str) -> list[str]:
    out = subprocess.run(
        ["findmnt", "-n", "-o", "OPTIONS", "--target", path], capture_output=True, text=True
    )
    return out.stdout.strip().split(",")


def kernel_has(flag: str) -> bool | None:
    try:
        import gzip

        with gzip.open("/proc/config.gz", "rt") as config:
            text = config.read()
    except OSError:
        return None
    return re.search(rf"^{flag}=[ym]$", text, re.MULTILINE) is not None


def test_the_probe_on_this_machines_home_says_what_to_do(tmp_path):
    proc, output = ansible(tmp_path, PROBE_PLAY.format(path="/home"))
    home_has_quota = bool({"usrquota", "quota"} & set(mount_options("/home")))
    if home_has_quota and kernel_has("CONFIG_QFMT_V2") is not False:
        assert proc.returncode == 0, output
        return
    assert proc.returncode != 0
    assert "User quotas cannot work here:" in output
    assert "or set swarmhub_quotas_enabled: false" in output
    if not home_has_quota:
        assert "mounted without user quotas: add usrquota to its options in /etc/fstab" in output
    if kernel_has("CONFIG_QFMT_V2") is False:
        assert "not the quota format ext4 uses (CONFIG_QFMT_V2)" in output


@pytest.fixture
def ext4_with_usrquota(tmp_path):
    """A 64 MiB ext4 image of this test's own, loop-mounted with usrquota."""
    for tool in ("mkfs.ext4", "losetup", "quotacheck", "setquota", "quota"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: apt-get install e2fsprogs mount quota")
    image, mount = tmp_path / "home.img", tmp_path / "mnt"
    subprocess.run(["truncate", "-s", "64M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    mount.mkdir()
    subprocess.run(["mount", "-o", "loop,usrquota", str(image), str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["quotaoff", "-u", str(mount)], capture_output=True)
        subprocess.run(["umount", str(mount)], check=True)


ROLE_PLAY = """\
- hosts: localhost
  gather_facts: true
  vars:
    swarmhub_quotas_enabled: true
    quotas_path: "{path}"
    # unknown kernel config: the role goes on to quotaon and reports what it says
    quotas_kernel_config_files: []
  roles:
    - quotas
"""


def test_the_role_on_an_ext4_mounted_with_usrquota(tmp_path, ext4_with_usrquota):
    mount = ext4_with_usrquota
    proc, output = ansible(tmp_path, ROLE_PLAY.format(path=mount))
    # quotacheck ran for real: the quota file is there
    assert (mount / "aquota.user").is_file(), output
    state = subprocess.run(["quotaon", "-pu", str(mount)], capture_output=True, text=True)
    if proc.returncode == 0:
        # a kernel with quota support: on, and a second run changes nothing
        assert " is on" in state.stdout
        again, output = ansible(tmp_path, ROLE_PLAY.format(path=mount))
        assert again.returncode == 0 and "changed=0" in output, output
        return
    # this machine's kernel: quotaon refused, and the role says why and what to do
    assert " is off" in state.stdout
    assert f"quotaon {mount} failed" in output
    assert "Quota format not supported in kernel" in output
    assert "set swarmhub_quotas_enabled: false" in output


def restuser_on(root_config, **settings):
    import dataclasses

    from swarmhub.restuser import Quota, create_app

    config = dataclasses.replace(
        root_config,
        quota_enabled=True,
        default_quota=Quota(5 * GIB, 6 * GIB),
        setquota=shutil.which("setquota") or "/usr/sbin/setquota",
        **settings,
    )
    return config, create_app(config).test_client()


def test_restuser_sets_the_quota_with_the_real_setquota(tmp_path, ext4_with_usrquota):
    mount = ext4_with_usrquota
    subprocess.run(["quotacheck", "-cum", str(mount)], check=True)
    config, client = restuser_on(
        make_root(mount / "hub"), quota_overrides="/etc/quota-overrides.json"
    )
    overrides = config.host_path("/etc/quota-overrides.json")
    overrides.write_text(json.dumps({"erin": {"soft": "1G", "hard": "2G"}}))

    dora = client.post("/users/dora")
    erin = client.post("/users/erin")
    assert (dora.status_code, erin.status_code) == (201, 201), dora.get_json()
    for body, limits in ((dora.get_json(), (5 * GIB, 6 * GIB)), (erin.get_json(), (GIB, 2 * GIB))):
        shown = subprocess.run(
            ["quota", "-u", "-w", "-v", "-p", f"--filesystem={mount}", str(body["uid"])],
            capture_output=True,
            text=True,
        ).stdout
        fields = shown.splitlines()[-1].split()
        assert (int(fields[-7]), int(fields[-6])) == limits, shown


def test_restuser_creates_nothing_when_setquota_fails(tmp_path):
    # tmp_path's filesystem has no quotas: the real setquota refuses
    root = make_root(tmp_path / "root")
    config, client = restuser_on(root)
    before = etc_snapshot(config)
    response = client.post("/users/dora")
    assert response.status_code == 500
    body = response.get_json()
    assert body["error"] == "quota-failed"
    assert "setquota of uid" in body["detail"]
    assert "without --quota-enabled" in body["detail"]
    assert body["detail"].endswith("the user was deleted again, nothing was created")
    assert etc_snapshot(config) == before
    assert sorted(p.name for p in config.host_path("/home").iterdir()) == ["carol"]
