"""restuser adopts only the accounts it made (or the users file's), and never one that
could act for the hub host; the upgrade step marks the accounts it made before marks.

The real useradd, usermod and groupadd run against a temporary root (--prefix), as in
test_restuser_useradd.
"""

from __future__ import annotations

import json

import pytest
from test_restuser_useradd import etc_snapshot, make_root, tree_snapshot

from swarmhub.restuser import create_app
from swarmhub.restuser.migrate import main as migrate_main
from swarmhub.restuser.migrate import mark_existing

# (passwd line, groups it is a member of besides its own): accounts of a hub host
ACCOUNTS = {
    # an operator's account, made by hand: not restuser's, not in the users file
    "ops": ("ops:x:1002:1002:Operator:/home/ops:/bin/bash", []),
    # an admin: sudo
    "sam": ("sam:x:1003:1003::/home/sam:/bin/bash", ["sudo"]),
    # may use the Docker socket (docker's gid here is above 1000, as on many hosts)
    "dina": ("dina:x:1004:1004::/home/dina:/bin/bash", ["docker"]),
    # reads the logs
    "lou": ("lou:x:1005:1005::/home/lou:/bin/bash", ["adm"]),
    # a low-gid group that is not its own
    "gus": ("gus:x:1006:1006::/home/gus:/bin/bash", ["plugdev"]),
    # a person whose primary group is the shared "users" (gid 100): allowed
    "pat": ("pat:x:1007:100::/home/pat:/bin/bash", []),
}
EXTRA_GROUPS = {
    "sudo": 27,
    "adm": 4,
    "plugdev": 46,
    "users": 100,
    "docker": 1999,
}


def add_accounts(config, names, *, marked=()):
    """Put the chosen ACCOUNTS into the root's etc files, with homes; `marked` are
    also members of swarmhub-users."""
    etc = config.host_path("/etc")
    members: dict[str, list[str]] = {g: [] for g in EXTRA_GROUPS}
    members["swarmhub-users"] = ["carol", *marked]
    passwd, shadow = [], []
    own_groups = []
    for name in names:
        line, groups = ACCOUNTS[name]
        passwd.append(line)
        shadow.append(f"{name}:*:19000:0:99999:7:::")
        gid = int(line.split(":")[3])
        if gid >= 1000:
            own_groups.append(f"{name}:x:{gid}:")
        for group in groups:
            members[group].append(name)
        home = config.host_path(f"/home/{name}")
        home.mkdir()
        (home / "notes.txt").write_text(f"{name}'s\n")
    group_lines = etc.joinpath("group").read_text().splitlines()
    group_lines = [line for line in group_lines if not line.startswith("swarmhub-users:")]
    group_lines += own_groups
    gids = {**EXTRA_GROUPS, "swarmhub-users": 1100}
    group_lines += [f"{g}:x:{gids[g]}:{','.join(m)}" for g, m in members.items()]
    with etc.joinpath("passwd").open("a") as f:
        f.write("\n".join(passwd) + "\n")
    with etc.joinpath("shadow").open("a") as f:
        f.write("\n".join(shadow) + "\n")
    etc.joinpath("group").write_text("\n".join(group_lines) + "\n")
    etc.joinpath("gshadow").write_text(
        "".join(f"{line.split(':')[0]}:*::\n" for line in group_lines)
    )


@pytest.fixture
def config(tmp_path):
    return make_root(tmp_path / "root")


@pytest.fixture
def client(config):
    return create_app(config).test_client()


def refused(config, client, name, status, error):
    etc, homes = etc_snapshot(config), tree_snapshot(config.host_path("/home"))
    for method in ("post", "get"):
        response = getattr(client, method)(f"/users/{name}")
        assert (response.status_code, response.get_json()["error"]) == (status, error), (
            method,
            response.get_json(),
        )
    assert etc_snapshot(config) == etc
    assert tree_snapshot(config.host_path("/home")) == homes
    return response.get_json()["detail"]


def test_new_accounts_are_marked_and_the_mark_group_is_made(config, client):
    group = config.host_path("/etc/group")
    group.write_text(
        "".join(
            line + "\n" for line in group.read_text().splitlines() if "swarmhub-users" not in line
        )
    )
    assert client.post("/users/dora").status_code == 201
    lines = {line.split(":")[0]: line.split(":") for line in group.read_text().splitlines()}
    assert lines["swarmhub-users"][3] == "dora"
    assert int(lines["swarmhub-users"][2]) >= 1000  # a regular group, not a system one
    # the mark is what lets restuser answer for the account again
    assert client.post("/users/dora").status_code == 200
    assert client.post("/users/eric").status_code == 201
    group_line = [line for line in group.read_text().splitlines() if line.startswith("swarmhub-")]
    assert group_line == [f"swarmhub-users:x:{lines['swarmhub-users'][2]}:dora,eric"]


def test_an_account_restuser_did_not_make_is_not_adopted(config, client):
    add_accounts(config, ["ops"])
    detail = refused(config, client, "ops", 409, "unmarked-account")
    assert detail == (
        "'ops' exists on the hub host but was not made for the hub (it is not in the "
        "group swarmhub-users); if it is a hub user, list it in the users file "
        "(./script/deploy users.yml), which marks it"
    )


def test_a_marked_account_is_adopted(config, client):
    # what the users playbook does for the accounts its users file lists
    add_accounts(config, ["ops", "pat"], marked=["ops", "pat"])
    for name, gid in (("ops", 1002), ("pat", 100)):
        response = client.post(f"/users/{name}")
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["gid"] == gid


@pytest.mark.parametrize(
    "name, groups",
    [("sam", "sudo"), ("dina", "docker"), ("lou", "adm"), ("gus", "plugdev")],
)
def test_a_privileged_account_is_never_adopted_even_marked(config, client, name, groups):
    add_accounts(config, [name], marked=[name])
    detail = refused(config, client, name, 403, "privileged-account")
    assert detail.startswith(f"'{name}' is a member of {groups}, which give power")


def test_the_upgrade_step_marks_what_restuser_made_and_nothing_else(config, client, tmp_path):
    add_accounts(config, list(ACCOUNTS))
    # carol was made by restuser before the mark: take her mark away
    group = config.host_path("/etc/group")
    group.write_text(
        group.read_text().replace("swarmhub-users:x:1100:carol", "swarmhub-users:x:1100:")
    )
    # and an account whose name the new rule refuses, and one with a home elsewhere
    with config.host_path("/etc/passwd").open("a") as f:
        f.write("old--name:x:1010:1010::/home/old--name:/bin/bash\n")
        f.write("web:x:1011:1011::/srv/web:/bin/bash\n")
    assert client.post("/users/carol").status_code == 409

    report = mark_existing(config)
    assert sorted(report.marked) == ["carol", "ops", "pat"]
    assert report.skipped["sam"] == "member of sudo"
    assert report.skipped["dina"] == "member of docker"
    assert report.skipped["lou"] == "member of adm"
    assert report.skipped["gus"] == "member of plugdev"
    assert report.skipped["old--name"].startswith("invalid-name")
    assert report.skipped["web"] == "home /srv/web is not /home/web"
    assert client.post("/users/carol").status_code == 200
    assert client.post("/users/sam").status_code == 403

    # idempotent: a second run changes nothing
    etc = etc_snapshot(config)
    assert mark_existing(config).marked == []
    assert etc_snapshot(config) == etc


def test_the_upgrade_command_runs_once(config, tmp_path, capsys):
    add_accounts(config, ["ops"])
    stamp = tmp_path / "state" / "restuser-marked"
    argv = ["--prefix", config.prefix, "--stamp", str(stamp), "--lock-file", "/run/lock/x.lock"]
    assert migrate_main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["marked"] == ["ops"] and stamp.exists()
    # an account made by hand after the upgrade is not marked by a later deploy
    add_group = config.host_path("/etc/group")
    add_group.write_text(
        add_group.read_text().replace(
            "swarmhub-users:x:1100:carol,ops", "swarmhub-users:x:1100:carol"
        )
    )
    assert migrate_main(argv) == 0
    assert json.loads(capsys.readouterr().out)["marked"] == []
    assert "carol,ops" not in add_group.read_text()
