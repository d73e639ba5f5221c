"""What users and operators see of the shared storage, on a real kernel: a
process on the node works in the hub's folders over NFSv4 with the uid and
gids a server gets, and the hub host sees the result."""

from __future__ import annotations

import pytest

from tests.kernel.conftest import STORAGE_TAGS


@pytest.fixture(scope="module")
def cluster(kernel_cluster):
    return kernel_cluster


def test_a_second_deploy_changes_nothing(cluster):
    # run by the session's fixture right after the first, before tests change things
    done = cluster.second_deploy
    if done is None:  # SWARMHUB_KERNEL_REUSE=1: VMs a test has changed since
        done = cluster.deploy("site.yml", "-t", STORAGE_TAGS, log_name="deploy-again")
    assert done.returncode == 0, done.stdout[-4000:]
    recap = [line for line in done.stdout.splitlines() if " : ok=" in line]
    assert recap and all(" changed=0 " in line for line in recap), "\n".join(recap)


def test_homes_and_data_are_mounted_from_the_hub_over_nfs4(cluster):
    mounts = cluster.node.sh("findmnt -n -o TARGET,SOURCE,FSTYPE,OPTIONS -t nfs4").stdout
    for path in ("/home", "/srv/data", "/srv/shares"):
        line = next((m for m in mounts.splitlines() if m.split()[0] == path), None)
        assert line, f"{path} is not an NFSv4 mount on the node:\n{mounts}"
        assert f"{cluster.hub.address}:{path}" in line and ",hard," in line, line


def test_a_file_written_on_the_node_belongs_to_its_user_on_the_hub(cluster):
    written = cluster.on_node_as("ann", "echo from-node >/home/ann/from-node.txt && id -u")
    uid = written.stdout.strip()
    owner = cluster.hub.sh("stat -c '%u %U %a' /home/ann/from-node.txt").stdout.split()
    assert owner[:2] == [uid, "ann"], owner
    assert cluster.hub.sh("cat /home/ann/from-node.txt").stdout == "from-node\n"


def test_root_on_the_node_is_squashed(cluster):
    for command in ("touch /home/ann/by-root", "touch /home/by-root", "ls /home/ann"):
        done = cluster.node.sh(command, check=False)
        assert done.returncode != 0 and "Permission denied" in done.stderr, (command, done.stderr)
    assert cluster.hub.sh("ls -A /home/ann").stdout.split().count("by-root") == 0


def test_homes_are_private_between_users(cluster):
    cluster.on_node_as("ann", "echo secret >/home/ann/private.txt")
    for command in ("cat /home/ann/private.txt", "ls /home/ann", "touch /home/ann/planted"):
        done = cluster.on_node_as("bob", command, check=False)
        assert done.returncode != 0 and "Permission denied" in done.stderr, (command, done.stderr)


def test_course_data_is_read_only_on_the_node(cluster):
    cluster.hub.sh("echo 'week 1' >/srv/data/syllabus.txt && chmod 644 /srv/data/syllabus.txt")
    assert cluster.on_node_as("ann", "cat /srv/data/syllabus.txt").stdout == "week 1\n"
    for who in ("ann", None):
        command = "echo x >/srv/data/planted"
        done = (
            cluster.on_node_as(who, command, check=False)
            if who
            else cluster.node.sh(command, check=False)
        )
        assert done.returncode != 0 and "Read-only file system" in done.stderr, (who, done.stderr)


def test_a_share_lets_writers_write_readers_read_and_nobody_else_in(cluster):
    share = "/srv/shares/handouts"
    cluster.on_node_as(
        "ann", f"rm -f {share}/sheet.txt; umask 077; echo 'exercise 1' >{share}/sheet.txt"
    )
    # new files take the writers' group (setgid folder) and the readers' ACL,
    # whatever the writer's umask
    group = cluster.hub.sh(f"stat -c %G {share}/sheet.txt").stdout.strip()
    assert group == "share-handouts-w"
    acl = cluster.hub.sh(f"getfacl -p {share}/sheet.txt").stdout
    assert "group:share-handouts:r-" in acl, acl

    assert cluster.on_node_as("bob", f"cat {share}/sheet.txt").stdout == "exercise 1\n"
    done = cluster.on_node_as("bob", f"echo changed >{share}/sheet.txt", check=False)
    assert done.returncode != 0 and "Permission denied" in done.stderr, done.stderr
    done = cluster.on_node_as("bob", f"touch {share}/bobs.txt", check=False)
    assert done.returncode != 0 and "Permission denied" in done.stderr, done.stderr

    for command in (f"cat {share}/sheet.txt", f"ls {share}"):
        done = cluster.on_node_as("dan", command, check=False)
        assert done.returncode != 0 and "Permission denied" in done.stderr, (command, done.stderr)
    assert cluster.hub.sh(f"cat {share}/sheet.txt").stdout == "exercise 1\n"
