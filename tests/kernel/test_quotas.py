"""Disk quotas on a real kernel, as a user on a node meets them: writes over
NFS to the hub's /home, which the quotas role turned quotas on for."""

from __future__ import annotations

import json
import shlex
import time

import pytest
import yaml

from tests.kernel.conftest import ARTIFACTS, CARL_HARD_MB, QUOTA_HARD_MB, QUOTA_SOFT_MB

EXCEEDED = "Disk quota exceeded"
# a first login, as the hub asks restuser (hub/restuser_client.py), from the hub VM
RESTUSER_POST = """
import http.client, socket, sys
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect("/run/swarmhub-restuser/restuser.sock")
c = C("restuser")
c.request("POST", "/users/" + sys.argv[1])
r = c.getresponse()
print(r.status, r.read().decode())
"""


@pytest.fixture(scope="module")
def cluster(kernel_cluster):
    return kernel_cluster


def write_mb(cluster, user: str, name: str, mb: int, *, check: bool = True):
    """`mb` MiB written to ~/NAME on the node as `user`, flushed to the hub (fsync:
    over NFS, a quota error may come only when the data leaves the client)."""
    path = f"/home/{user}/{name}"
    return cluster.on_node_as(
        user, f"dd if=/dev/zero of={path} bs=1M count={mb} conv=fsync", check=check
    )


def quota_kib(cluster, user: str) -> dict[str, str]:
    """`quota` of the user on the hub host: blocks used, soft, hard (KiB), the end of
    the grace (seconds since the epoch, 0 for none) and whether over the soft limit."""
    # exits 1 when the user is over a limit
    out = cluster.hub.sh(
        f"quota --user --no-wrap --raw-grace --filesystem=/home {user} || true"
    ).stdout
    fields = out.strip().splitlines()[-1].split()
    return {
        "used": fields[1].rstrip("*"),
        "soft": fields[2],
        "hard": fields[3],
        "grace": fields[4],
        "over_soft": str(fields[1].endswith("*")),
    }


def remove(cluster, user: str, *names: str) -> None:
    """Files removed on the node, as the user, then until the hub's quota counts
    them gone: the NFS server keeps a closed file open a few seconds (its file
    cache), and the blocks come back only when it lets go."""
    paths = " ".join(f"/home/{user}/{n}" for n in names)
    cluster.on_node_as(user, f"rm -rf {paths}")
    deadline = time.monotonic() + 60
    while int(quota_kib(cluster, user)["used"]) > 1024:
        assert time.monotonic() < deadline, f"{user}'s quota still counts {paths} after 60 s"
        time.sleep(1)


def test_over_the_hard_quota_a_write_fails_and_others_keep_writing(cluster):
    done = write_mb(cluster, "ann", "fill", QUOTA_HARD_MB + 10, check=False)
    try:
        assert done.returncode != 0 and EXCEEDED in done.stderr, done.stderr
        # the data stops at the limit; ext4 may charge a block of metadata past it
        used = int(quota_kib(cluster, "ann")["used"])
        assert QUOTA_HARD_MB * 1024 - 1024 <= used <= QUOTA_HARD_MB * 1024 + 16, used
        # ann is full; bob is not held back by her
        write_mb(cluster, "bob", "while-ann-is-full", 5)
        assert cluster.hub.sh("stat -c %s /home/bob/while-ann-is-full").stdout.strip() == str(
            5 << 20
        )
    finally:
        remove(cluster, "ann", "fill")
        remove(cluster, "bob", "while-ann-is-full")


def test_over_the_soft_quota_the_grace_period_runs_then_writes_stop(cluster):
    try:
        write_mb(cluster, "bob", "over-soft", QUOTA_SOFT_MB + 3)
        quota = quota_kib(cluster, "bob")
        assert quota["over_soft"] == "True", quota
        # --raw-grace: the time the grace ends (seconds since the epoch), about 7 days on
        now = int(cluster.hub.sh("date +%s").stdout)
        assert 6 * 86400 < int(quota["grace"]) - now <= 7 * 86400, quota
        # the same grace, made to end now: the next write is refused although under the hard limit
        cluster.hub.sh("setquota --user -T bob 1 0 /home && sleep 2")
        done = write_mb(cluster, "bob", "after-grace", 1, check=False)
        assert done.returncode != 0 and EXCEEDED in done.stderr, done.stderr
    finally:
        remove(cluster, "bob", "over-soft", "after-grace")
    # under the soft limit again, the grace is over and writes go on
    write_mb(cluster, "bob", "after-cleanup", 1)
    remove(cluster, "bob", "after-cleanup")


def test_a_per_user_quota_from_group_vars_takes_effect(cluster):
    quota = quota_kib(cluster, "carl")
    assert (int(quota["soft"]), int(quota["hard"])) == (60 * 1024, CARL_HARD_MB * 1024), quota
    try:
        write_mb(cluster, "carl", "big", QUOTA_HARD_MB + 20)  # over everyone else's hard limit
        done = write_mb(cluster, "carl", "bigger", 40, check=False)
        assert done.returncode != 0 and EXCEEDED in done.stderr, done.stderr
    finally:
        remove(cluster, "carl", "big", "bigger")


def test_users_yml_sets_a_quota_that_takes_effect(cluster):
    users_file = ARTIFACTS / "users-dan.yml"
    users_file.write_text(
        yaml.safe_dump({"users": [{"name": "dan", "quota": {"soft": "90M", "hard": "100M"}}]})
    )
    done = cluster.deploy("users.yml", "-e", f"users_file={users_file}", log_name="users-dan")
    assert done.returncode == 0, done.stdout[-4000:]
    quota = quota_kib(cluster, "dan")
    assert (int(quota["soft"]), int(quota["hard"])) == (90 * 1024, 100 * 1024), quota
    overrides = json.loads(cluster.hub.sh("cat /etc/swarmhub/quota-overrides.json").stdout)
    assert "dan" in json.dumps(overrides), overrides
    try:
        write_mb(cluster, "dan", "big", QUOTA_HARD_MB + 20)
    finally:
        remove(cluster, "dan", "big")


def test_an_account_restuser_makes_at_first_login_gets_the_default_quota(cluster):
    script = shlex.quote(RESTUSER_POST)
    answer = cluster.hub.sh(f"python3 -c {script} eve").stdout
    assert answer.startswith(("201", "200")), answer
    quota = quota_kib(cluster, "eve")
    assert (int(quota["soft"]), int(quota["hard"])) == (
        QUOTA_SOFT_MB * 1024,
        QUOTA_HARD_MB * 1024,
    ), quota
    done = write_mb(cluster, "eve", "fill", QUOTA_HARD_MB + 5, check=False)
    remove(cluster, "eve", "fill")
    assert done.returncode != 0 and EXCEEDED in done.stderr, done.stderr
