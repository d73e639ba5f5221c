"""NFS goes away and comes back: a write on the node waits (hard mounts) and
loses nothing; a node that reboots mounts the hub's folders before its
container engine may start."""

from __future__ import annotations

import re
import shlex
import time

import pytest

from tests.cluster.trial import wait_until
from tests.kernel.conftest import TIMINGS

# A writer as a notebook would be: 64 KiB at a time, each flushed, a tenth of
# a second apart (12 MiB: about 20 s); it logs the longest wait for one write and its exit status.
WRITER = """
import os, sys, time
src, dst = sys.argv[1], sys.argv[2]
longest = 0.0
with open(src, "rb") as f, open(dst, "wb") as out:
    while chunk := f.read(65536):
        start = time.monotonic()
        out.write(chunk); out.flush(); os.fsync(out.fileno())
        longest = max(longest, time.monotonic() - start)
        time.sleep(0.1)
print(f"longest write {longest:.1f} s")
"""
# The container engine's unit, stood in for (no engine runs in the VM): it
# records what /home was when systemd started it.
ENGINE_STAND_IN = """[Unit]
Description=Stand-in for the container engine (kernel tier)
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'findmnt -n -o FSTYPE,SOURCE /home >/run/engine-saw-home'
[Install]
WantedBy=multi-user.target
"""
MOUNT_UNITS = {"home.mount", "srv-data.mount", "srv-shares.mount"}


@pytest.fixture(scope="module")
def cluster(kernel_cluster):
    return kernel_cluster


def test_a_write_during_an_nfs_server_restart_waits_and_loses_nothing(cluster):
    node, hub = cluster.node, cluster.hub
    node.sh("head -c 12M /dev/urandom >/var/tmp/payload && chmod 644 /var/tmp/payload")
    want = node.sh("sha256sum </var/tmp/payload").stdout.split()[0]
    node.sh("rm -f /var/tmp/writer.out /var/tmp/writer.rc")
    writer = f"python3 -c {shlex.quote(WRITER)} /var/tmp/payload /home/dan/payload"
    uid, gids = cluster.ids("dan")
    as_dan = f"setpriv --reuid={uid} --regid={gids[0]} --groups={','.join(map(str, gids))}"
    node.sh(
        f"( {as_dan} sh -c {shlex.quote(writer)}; echo $? >/var/tmp/writer.rc ) "
        ">/var/tmp/writer.out 2>&1 </dev/null &"
    )
    size = lambda: int(hub.sh("stat -c %s /home/dan/payload 2>/dev/null || echo 0").stdout)  # noqa: E731
    wait_until("the writer has begun", lambda: size() > 0, timeout=120, interval=0.2)

    hub.sh("systemctl stop nfs-server")
    try:
        stopped_at = size()
        time.sleep(10)
        assert size() == stopped_at, "the file grew while the NFS server was stopped"
        assert node.sh("test -e /var/tmp/writer.rc", check=False).returncode != 0, (
            "the writer ended in the outage"
        )
    finally:
        hub.sh("systemctl start nfs-server")

    wait_until(
        "the writer has finished",
        lambda: node.sh("test -s /var/tmp/writer.rc", check=False).returncode == 0,
        timeout=300,
    )
    out = node.sh("cat /var/tmp/writer.rc /var/tmp/writer.out").stdout
    assert out.startswith("0\n"), out
    longest = re.search(r"longest write ([\d.]+) s", out)
    if longest:
        TIMINGS["longest single write across the 10 s NFS outage"] = float(longest.group(1))
    assert hub.sh("sha256sum </home/dan/payload").stdout.split()[0] == want, out
    assert hub.sh("stat -c %U /home/dan/payload").stdout.strip() == "dan"


def test_a_rebooted_node_mounts_the_hubs_folders_before_its_engine_starts(cluster):
    node = cluster.node
    node.sh(
        f"printf %s {shlex.quote(ENGINE_STAND_IN)} >/etc/systemd/system/docker.service && "
        "systemctl daemon-reload && systemctl enable docker.service"
    )
    try:
        shown = node.sh("systemctl show -p Requires -p After docker.service").stdout
        lines = dict(line.split("=", 1) for line in shown.splitlines())
        for key in ("Requires", "After"):
            assert MOUNT_UNITS <= set(lines[key].split()), shown

        node.sh("systemctl reboot", check=False)
        node.wait_gone()
        node.wait_ssh()
        # sshd is up before the remote mounts: wait for the boot's end
        node.sh("systemctl is-system-running --wait", check=False, timeout=600)
        mounts = node.sh("findmnt -n -o TARGET,FSTYPE -t nfs4").stdout.split()
        assert {"/home", "/srv/data", "/srv/shares"} <= set(mounts), mounts
        assert node.sh("systemctl is-active docker.service").stdout.strip() == "active"
        saw = node.sh("cat /run/engine-saw-home").stdout.split()
        assert saw == ["nfs4", f"{cluster.hub.address}:/home"], saw
        # what was written before the reboot reads the same after it
        want = cluster.hub.sh("sha256sum </home/dan/payload").stdout.split()[0]
        assert cluster.on_node_as("dan", "sha256sum </home/dan/payload").stdout.split()[0] == want
    finally:
        node.sh(
            "systemctl disable docker.service; rm -f /etc/systemd/system/docker.service; "
            "systemctl daemon-reload",
            check=False,
        )
        cluster.on_node_as("dan", "rm -f /home/dan/payload", check=False)
