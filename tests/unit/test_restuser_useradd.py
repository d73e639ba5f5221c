"""restuser's account creation, with the real useradd/userdel against a temporary root.

Every test works in its own root (`--prefix`), so this machine's accounts never change.
The tests run as root (as restuser does), which is what lets the homes be chowned.
"""

from __future__ import annotations

import fcntl
import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from swarmhub.restuser import RestuserConfig, RestuserError, create_app
from swarmhub.restuser.useradd import home_path, user_lock

PASSWD = """\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
svc:x:998:998:a service account:/var/lib/svc:/usr/sbin/nologin
carol:x:1001:1001:Carol:/home/carol:/bin/bash
olduser:x:1500:1500:hand-made:/srv/olduser:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
"""
GROUP = """\
root:x:0:
daemon:x:1:
svc:x:998:
carol:x:1001:
olduser:x:1500:
staffers:x:1200:carol
swarmhub-users:x:1100:carol
nogroup:x:65534:
"""
ETC_FILES = ("passwd", "group", "shadow", "gshadow")


def make_root(path: Path, login_defs: str = "", **settings: Any) -> RestuserConfig:
    """A hub host in miniature under `path`: /etc account files, /home, a skeleton.

    Returns a config whose prefix is that root; `settings` override config fields.
    """
    etc = path / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text(PASSWD)
    (etc / "group").write_text(GROUP)
    names = [line.split(":")[0] for line in PASSWD.splitlines()]
    (etc / "shadow").write_text("".join(f"{n}:*:19000:0:99999:7:::\n" for n in names))
    groups = [line.split(":")[0] for line in GROUP.splitlines()]
    (etc / "gshadow").write_text("".join(f"{g}:*::\n" for g in groups))
    for secret in ("shadow", "gshadow"):
        (etc / secret).chmod(0o640)
    (etc / "login.defs").write_text(
        login_defs or "UID_MIN 1000\nUID_MAX 60000\nGID_MIN 1000\nGID_MAX 60000\n"
    )
    (path / "home" / "carol").mkdir(parents=True)
    (path / "home" / "carol" / "thesis.tex").write_text("\\chapter{One}\n")

    skeleton = path / "srv" / "skeldir"
    (skeleton / "sub" / "deeper").mkdir(parents=True)
    (skeleton / ".bashrc").write_text("export EDITOR=nano\n")
    (skeleton / "README.md").write_text("Welcome to the course hub.\n")
    (skeleton / "sub" / "deeper" / "notes.txt").write_text("notes\n")
    run = skeleton / "sub" / "run.sh"
    run.write_text("#!/bin/sh\necho hi\n")
    run.chmod(0o755)
    (skeleton / "data").symlink_to("/srv/data")
    return RestuserConfig(prefix=str(path), **settings)


def etc_snapshot(config: RestuserConfig) -> dict[str, bytes]:
    return {name: config.host_path(f"/etc/{name}").read_bytes() for name in ETC_FILES}


def tree_snapshot(top: Path) -> dict[str, tuple[int, int, int, int, bytes | str | None]]:
    """Everything about a tree that a second POST must not change."""
    snapshot = {}
    for path in [top, *sorted(top.rglob("*"))]:
        st = path.lstat()
        if path.is_symlink():
            content: bytes | str | None = os.readlink(path)
        elif path.is_file():
            content = path.read_bytes()
        else:
            content = None
        snapshot[str(path.relative_to(top))] = (
            st.st_mode,
            st.st_uid,
            st.st_gid,
            st.st_mtime_ns,
            content,
        )
    return snapshot


def passwd_line(config: RestuserConfig, name: str) -> list[str]:
    lines = config.host_path("/etc/passwd").read_text().splitlines()
    matching = [line.split(":") for line in lines if line.split(":")[0] == name]
    assert len(matching) == 1, matching
    return matching[0]


@pytest.fixture
def config(tmp_path):
    return make_root(tmp_path / "root")


@pytest.fixture
def client(config):
    return create_app(config).test_client()


def test_post_creates_the_user_with_a_home_from_the_skeleton(config, client):
    response = client.post("/users/dora")

    assert response.status_code == 201
    answer = response.get_json()
    assert answer["name"] == "dora"
    assert answer["home"] == "/home/dora"
    uid, gid = answer["uid"], answer["gid"]
    assert uid >= 1000 and gid >= 1000
    assert ":".join(passwd_line(config, "dora")) == f"dora:x:{uid}:{gid}::/home/dora:/bin/bash"
    assert f"dora:x:{gid}:\n" in config.host_path("/etc/group").read_text()
    # no password: people log in through the hub only
    assert "dora:!:" in config.host_path("/etc/shadow").read_text()

    home = config.host_path("/home/dora")
    skeleton = config.host_path("/srv/skeldir")
    st = home.lstat()
    assert stat.S_ISDIR(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o700
    copied = sorted(p.relative_to(home) for p in home.rglob("*"))
    assert copied == sorted(p.relative_to(skeleton) for p in skeleton.rglob("*"))
    for path in [home, *home.rglob("*")]:
        assert (path.lstat().st_uid, path.lstat().st_gid) == (uid, gid), path
    assert (home / "sub" / "deeper" / "notes.txt").read_text() == "notes\n"
    assert (home / ".bashrc").read_text() == "export EDITOR=nano\n"
    assert stat.S_IMODE((home / "sub" / "run.sh").stat().st_mode) == 0o755
    # a link in the skeleton stays a link, owned by the user, and is not followed
    assert os.readlink(home / "data") == "/srv/data"
    # the staging folder is gone
    assert sorted(p.name for p in config.host_path("/home").iterdir()) == ["carol", "dora"]


def test_the_new_uid_is_at_least_the_configured_minimum(tmp_path):
    config = make_root(tmp_path / "root", min_uid=5000)
    answer = create_app(config).test_client().post("/users/dora").get_json()
    assert answer["uid"] >= 5000 and answer["gid"] >= 5000


def test_the_minimum_uid_comes_from_login_defs(tmp_path):
    config = make_root(tmp_path / "root", login_defs="UID_MIN\t3000\nUID_MAX 60000\n")
    answer = create_app(config).test_client().post("/users/dora").get_json()
    assert answer["uid"] >= 3000 and answer["gid"] >= 3000


@pytest.mark.parametrize(
    "login_defs, expected",
    [
        ("UID_MIN 2000\n", 2000),
        ("# UID_MIN 5000\nUID_MIN  1500 # site policy\n", 1500),
        ("UID_MIN 500\n", 1000),  # never below 1000, whatever login.defs says
        ("UID_MIN lots\n", 1000),
        ("", 1000),
    ],
)
def test_effective_min_uid(tmp_path, login_defs, expected):
    config = make_root(tmp_path / "root", login_defs=login_defs or "\n")
    assert config.effective_min_uid() == expected


def test_a_second_post_answers_the_same_and_changes_nothing(config, client):
    first = client.post("/users/dora")
    home = config.host_path("/home/dora")
    (home / ".bashrc").write_text("# my own settings\n")
    etc_before, home_before = etc_snapshot(config), tree_snapshot(home)

    second = client.post("/users/dora")

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.get_json() == first.get_json()
    assert etc_snapshot(config) == etc_before
    assert tree_snapshot(home) == home_before


def test_get_answers_like_post(config, client):
    created = client.post("/users/dora").get_json()
    response = client.get("/users/dora")
    assert response.status_code == 200
    assert response.get_json() == created


def test_an_existing_user_is_answered_as_it_is(config, client):
    etc_before = etc_snapshot(config)
    home_before = tree_snapshot(config.host_path("/home/carol"))

    for response in (client.post("/users/carol"), client.get("/users/carol")):
        assert response.status_code == 200
        assert response.get_json() == {
            "name": "carol",
            "uid": 1001,
            "gid": 1001,
            "home": "/home/carol",
            "quota": None,
        }
    assert etc_snapshot(config) == etc_before
    assert tree_snapshot(config.host_path("/home/carol")) == home_before


def test_get_of_an_unknown_user_is_404(client):
    response = client.get("/users/zed")
    assert response.status_code == 404
    assert response.get_json() == {"error": "no-such-user", "detail": "there is no user 'zed'"}


def assert_refused(config, client, name, status, error, methods=("post", "get")):
    """Each method answers `status` with `error`, and the root is left as it was."""
    etc_before = etc_snapshot(config)
    homes_before = tree_snapshot(config.host_path("/home"))
    for method in methods:
        response = getattr(client, method)(f"/users/{name}")
        assert response.status_code == status, (method, response.get_json())
        body = response.get_json()
        assert body["error"] == error
        assert body["detail"]
    assert etc_snapshot(config) == etc_before
    assert tree_snapshot(config.host_path("/home")) == homes_before
    return body


@pytest.mark.parametrize(
    "name", ["root", "daemon", "nobody", "admin", "jupyterhub", "docker", "systemd-network", "_apt"]
)
def test_reserved_names_are_refused(config, client, name):
    assert_refused(config, client, name, 403, "reserved-name")


def test_the_reserved_names_are_configurable(tmp_path):
    config = make_root(tmp_path / "root", reserved_names=frozenset({"teacher"}))
    client = create_app(config).test_client()
    assert_refused(config, client, "teacher", 403, "reserved-name")


def test_a_system_account_is_refused(config, client):
    body = assert_refused(config, client, "svc", 403, "system-account")
    assert body["detail"] == (
        "'svc' is a system account (uid 998 is below 1000); it cannot be a hub user"
    )


def test_a_user_with_a_home_outside_the_home_root_is_refused(config, client):
    body = assert_refused(config, client, "olduser", 409, "home-outside-root")
    assert "/srv/olduser" in body["detail"]


def test_a_name_taken_by_a_group_is_refused_by_useradd(config, client):
    body = assert_refused(config, client, "staffers", 409, "name-in-use", methods=("post",))
    assert "useradd refused 'staffers'" in body["detail"]


@pytest.mark.parametrize("kind", ["folder", "symlink"])
def test_a_leftover_home_is_never_adopted(config, client, kind):
    leftover = config.host_path("/home/dora")
    if kind == "folder":
        leftover.mkdir()
        (leftover / "old.txt").write_text("from a removed account\n")
    else:
        leftover.symlink_to(config.host_path("/etc"))
    body = assert_refused(config, client, "dora", 409, "home-exists", methods=("post",))
    assert "/home/dora already exists" in body["detail"]


def test_a_home_outside_the_root_is_refused_even_if_the_name_rule_changed(config):
    with pytest.raises(RestuserError) as e:
        home_path(config, "../etc")
    assert (e.value.status, e.value.error) == (400, "home-outside-root")
    assert home_path(config, "dora") == "/home/dora"


def make_fifo_skeleton(config: RestuserConfig) -> Path:
    # a named pipe cannot be copied (shutil refuses to read it): a real failure, as root
    # too, for whom no file mode makes a plain file unreadable
    fifo = config.host_path("/srv/skeldir/sub/pipe")
    os.mkfifo(fifo)
    return fifo


@pytest.mark.parametrize(
    "login_defs",
    [
        # userdel leaves the user's group unless USERGROUPS_ENAB is yes: both must end clean
        "UID_MIN 1000\nUID_MAX 60000\n",
        "UID_MIN 1000\nUID_MAX 60000\nUSERGROUPS_ENAB yes\n",
    ],
)
def test_a_failed_skeleton_copy_is_rolled_back(tmp_path, login_defs, caplog):
    config = make_root(tmp_path / "root", login_defs=login_defs)
    fifo = make_fifo_skeleton(config)
    etc_before = etc_snapshot(config)
    client = create_app(config).test_client()

    with caplog.at_level(logging.INFO):
        response = client.post("/users/dora")

    assert response.status_code == 500
    body = response.get_json()
    assert body["error"] == "home-copy-failed"
    assert body["detail"].startswith(
        "creating the home of 'dora' from the skeleton /srv/skeldir failed: "
        f"cannot copy {fifo}: `{fifo}` is a named pipe"
    )
    assert body["detail"].endswith("; the user was deleted again, nothing was created")
    # shadow keeps the previous passwd as passwd-: dora was there before userdel
    assert "\ndora:x:" in config.host_path("/etc/passwd-").read_text()
    assert etc_snapshot(config) == etc_before
    assert sorted(p.name for p in config.host_path("/home").iterdir()) == ["carol"]
    assert client.get("/users/dora").status_code == 404
    assert "created user" not in caplog.text
    assert "500 home-copy-failed" in caplog.text


@pytest.mark.parametrize("skeleton", ["/srv/missing", "/srv/skeldir/README.md"])
def test_a_missing_skeleton_is_rolled_back(tmp_path, skeleton):
    config = make_root(tmp_path / "root", skeleton=skeleton)
    etc_before = etc_snapshot(config)
    response = create_app(config).test_client().post("/users/dora")
    assert response.status_code == 500
    assert response.get_json()["error"] == "home-copy-failed"
    assert "is missing or not a folder" in response.get_json()["detail"]
    assert etc_snapshot(config) == etc_before
    assert sorted(p.name for p in config.host_path("/home").iterdir()) == ["carol"]


def test_a_failed_rollback_says_what_is_left(tmp_path):
    config = make_root(tmp_path / "root", userdel="/bin/false")
    make_fifo_skeleton(config)
    response = create_app(config).test_client().post("/users/dora")
    assert response.status_code == 500
    body = response.get_json()
    assert body["error"] == "rollback-failed"
    assert "is a named pipe" in body["detail"]
    assert "remove user and group 'dora' by hand" in body["detail"]
    assert not config.host_path("/home/dora").exists()


def test_a_failing_useradd_creates_nothing(tmp_path):
    # a minimum above login.defs' UID_MAX: useradd itself finds no free uid
    config = make_root(tmp_path / "root", min_uid=60001)
    etc_before = etc_snapshot(config)
    response = create_app(config).test_client().post("/users/dora")
    assert response.status_code == 500
    body = response.get_json()
    assert body["error"] == "useradd-failed"
    assert body["detail"].startswith("useradd dora failed: exit status ")
    assert etc_snapshot(config) == etc_before
    assert sorted(p.name for p in config.host_path("/home").iterdir()) == ["carol"]


def test_a_missing_useradd_is_reported(tmp_path):
    config = make_root(tmp_path / "root", useradd=str(tmp_path / "no-useradd"))
    response = create_app(config).test_client().post("/users/dora")
    assert response.status_code == 500
    assert response.get_json()["error"] == "useradd-failed"
    assert "No such file or directory" in response.get_json()["detail"]


def test_every_creation_is_logged_once(client, caplog):
    with caplog.at_level(logging.INFO):
        answer = client.post("/users/dora").get_json()
        client.post("/users/dora")
    created = [r.getMessage() for r in caplog.records if r.getMessage().startswith("created")]
    assert created == [
        f"created user dora (uid {answer['uid']}, gid {answer['gid']}, home /home/dora)"
    ]


def test_the_lock_excludes_other_holders(config):
    # another open file stands for another thread or process
    with user_lock(config):
        with open(config.host_path(config.lock_file)) as other:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(config.host_path(config.lock_file)) as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)


@pytest.mark.parametrize(
    "settings, complaint",
    [
        ({"prefix": "relative/root"}, "prefix must be empty or an absolute path"),
        ({"home_root": "/home/"}, "home_root must be an absolute path"),
        ({"home_root": "/"}, "home_root must be an absolute path"),
        ({"skeleton": "/srv/../etc"}, "skeleton must be an absolute path"),
        ({"min_uid": 999}, "min_uid 999 is below 1000"),
    ],
)
def test_bad_settings_are_refused(settings, complaint):
    with pytest.raises(ValueError, match=complaint):
        RestuserConfig(**settings)
