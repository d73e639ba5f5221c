"""users.yml against a real Debian host: a container of this test's own, reached with
Ansible's docker connection. Real useradd, userdel, groups, shadow and homes in there;
this machine's accounts are never touched.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import yaml

from tests.integration.ansible_run import (
    ansible_playbook,
    recap,
    site_inventory,
    write_inventory,
)
from tests.integration.docker_cli import BASE_IMAGE, docker, ensure_base_image, sh

IMAGE = "swarmhub-userstest/host:bookworm"
DOCKERFILE = f"""\
FROM {BASE_IMAGE}
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \\
      python3 passwd && rm -rf /var/lib/apt/lists/*
RUN mkdir -p /srv/skeldir/sub && echo 'Welcome' > /srv/skeldir/README.md \\
    && echo 'export EDITOR=nano' > /srv/skeldir/.bashrc && echo notes > /srv/skeldir/sub/n.txt
"""
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="module")
def image():
    ensure_base_image()
    docker("build", "-q", "-t", IMAGE, "-", input=DOCKERFILE)
    return IMAGE  # kept: the next run's build is a cache hit


@pytest.fixture
def hub(image):
    name = f"swarmhub-userstest-{uuid.uuid4().hex[:8]}"
    docker("run", "-d", "--name", name, "--hostname", "hub", image, "sleep", "infinity")
    yield name
    docker("rm", "-f", name, check=False)


def run_users(tmp_path: Path, hub: str, users: list[dict], *extra: str):
    connection = {
        "ansible_connection": "community.docker.docker",
        "ansible_python_interpreter": "/usr/bin/python3",
    }
    inventory = write_inventory(tmp_path, site_inventory(hub, connection))
    users_file = tmp_path / "people.yaml"
    users_file.write_text(yaml.safe_dump({"users": users}))
    proc = ansible_playbook(
        "-i",
        str(inventory),
        "users.yml",
        "-e",
        f"users_file={users_file}",
        # this container has no quotas (nor has this machine's kernel); see test_quota*
        "-e",
        "swarmhub_quotas_enabled=false",
        "-v",
        *extra,
    )
    output = proc.stdout + proc.stderr
    assert PASSWORD not in output
    return proc, output


def passwd(hub: str) -> dict[str, list[str]]:
    return {line.split(":")[0]: line.split(":") for line in sh(hub, "getent passwd").splitlines()}


PEOPLE = [
    {
        "name": "ann",
        "password": PASSWORD,
        "groups": ["physics"],
        "quota": {"soft": "10G", "hard": "12G"},
        "comment": "Ann Example",
    },
    {"name": "bob", "uid": 2001},
]


def test_users_are_created_like_restuser_makes_them_and_a_second_run_changes_nothing(tmp_path, hub):
    proc, output = run_users(tmp_path, hub, PEOPLE)
    assert proc.returncode == 0, output[-3000:]

    accounts = passwd(hub)
    ann, bob = accounts["ann"], accounts["bob"]
    assert int(ann[2]) >= 1000 and int(ann[3]) >= 1000
    assert ann[4:] == ["Ann Example", "/home/ann", "/bin/bash"]
    assert bob[2] == "2001" and bob[5] == "/home/bob"
    # own group of the user's name, extra group made and joined
    assert sh(hub, "id -gn ann").strip() == "ann"
    assert "physics" in sh(hub, "id -Gn ann").split()
    # the mark that lets restuser adopt them at their first login (issue 8)
    for name in ("ann", "bob"):
        assert "swarmhub-users" in sh(hub, f"id -Gn {name}").split()
    for name in ("ann", "bob"):
        assert sh(hub, f"stat -c '%a %U' /home/{name}").split() == ["700", name]
        assert sh(hub, f"cat /home/{name}/sub/n.txt") == "notes\n"
        assert sh(hub, f"stat -c %U /home/{name}/README.md").strip() == name
    # sha512-crypt of the password; bob has none
    shadow = {
        line.split(":")[0]: line.split(":")[1] for line in sh(hub, "getent shadow").splitlines()
    }
    assert shadow["ann"].startswith("$6$")
    hashed = shadow["ann"]
    check = f"import crypt,sys; sys.exit(crypt.crypt({PASSWORD!r}, {hashed!r}) != {hashed!r})"
    assert docker("exec", hub, "python3", "-W", "ignore", "-c", check, check=False).returncode == 0
    assert shadow["bob"] in ("!", "!!", "*", "")
    overrides = json.loads(sh(hub, "cat /etc/swarmhub/quota-overrides.json"))
    assert overrides == {"ann": {"soft": "10G", "hard": "12G"}}

    again, output = run_users(tmp_path, hub, PEOPLE)
    assert again.returncode == 0, output[-3000:]
    assert recap(output, hub)["changed"] == 0, output[-3000:]
    assert sh(hub, "getent shadow ann").split(":")[1] == shadow["ann"]


def test_removal_keeps_the_home_and_a_leftover_home_is_never_adopted(tmp_path, hub):
    assert run_users(tmp_path, hub, PEOPLE)[0].returncode == 0
    sh(hub, "echo mine > /home/ann/thesis.tex")

    proc, output = run_users(tmp_path, hub, [{"name": "ann", "state": "absent"}])
    assert proc.returncode == 0, output[-3000:]
    assert "ann" not in passwd(hub)
    assert sh(hub, "cat /home/ann/thesis.tex") == "mine\n"
    assert json.loads(sh(hub, "cat /etc/swarmhub/quota-overrides.json")) == {}

    # ann again: her old home is in the way; nothing changes, for anybody in the file
    before = sh(hub, "getent passwd; getent group; ls -la /home")
    proc, output = run_users(tmp_path, hub, [{"name": "ann"}, {"name": "cyd"}])
    assert proc.returncode != 0
    assert "/home/ann already exists but there is no user 'ann'" in output
    assert "nothing was changed" in output
    assert sh(hub, "getent passwd; getent group; ls -la /home") == before

    proc, output = run_users(
        tmp_path, hub, [{"name": "bob", "state": "absent", "remove_home": True}]
    )
    assert proc.returncode == 0, output[-3000:]
    assert "bob" not in passwd(hub)
    assert sh(hub, "test -e /home/bob && echo there || echo gone").strip() == "gone"


def test_a_missing_home_of_an_existing_user_is_made_again(tmp_path, hub):
    assert run_users(tmp_path, hub, PEOPLE)[0].returncode == 0
    sh(hub, "rm -rf /home/bob")
    proc, output = run_users(tmp_path, hub, PEOPLE)
    assert proc.returncode == 0, output[-3000:]
    assert sh(hub, "stat -c '%a %U' /home/bob").split() == ["700", "bob"]
    assert sh(hub, "cat /home/bob/README.md") == "Welcome\n"


def test_the_hub_accounts_are_checked_before_any_change(tmp_path, hub):
    sh(
        hub,
        "groupadd -g 1500 staffers && useradd -r -u 990 -d /var/lib/svc svcacct"
        " && useradd -u 3000 -d /home/eve eve",
    )
    before = sh(hub, "getent passwd; getent group; ls -la /home")
    proc, output = run_users(
        tmp_path,
        hub,
        [{"name": "ann"}, {"name": "staffers"}, {"name": "svcacct"}, {"name": "dan", "uid": 3000}],
    )
    assert proc.returncode != 0
    assert "stand in the way of 3 entries; nothing was changed" in output
    assert "'staffers' is already the name of a group" in output
    assert "'svcacct' is a system account (uid 990 is below 1000)" in output
    assert "'dan': uid 3000 is taken by 'eve' on the hub host" in output
    assert sh(hub, "getent passwd; getent group; ls -la /home") == before
