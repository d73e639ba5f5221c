"""restuser: a missing home of an existing user is made; quotas at creation, all or nothing.

Real useradd/userdel against a temporary root, as in test_restuser_useradd. setquota
needs a kernel and filesystem with quotas on, which a unit test cannot count on: here
it is a script that records its arguments and fails when told to. The real setquota,
on a real filesystem, runs in tests/integration/test_quota_restuser.py.
"""

from __future__ import annotations

import dataclasses
import logging
import stat
from pathlib import Path

import pytest
from test_restuser_useradd import etc_snapshot, make_root, tree_snapshot

from swarmhub.restuser import Quota, create_app
from swarmhub.restuser.useradd import quota_filesystem

GIB = 1024 * 1024


def recording_setquota(tmp_path: Path, fail: bool = False) -> tuple[str, Path]:
    """A stand-in setquota that appends its argv to a file (and fails if asked)."""
    record = tmp_path / "setquota.calls"
    script = tmp_path / "setquota"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {record}\n'
        + ('echo "setquota: Cannot set quota: No such process" >&2\nexit 1\n' if fail else "")
    )
    script.chmod(0o755)
    return str(script), record


def calls(record: Path) -> list[str]:
    return record.read_text().splitlines() if record.exists() else []


@pytest.fixture
def root(tmp_path):
    return make_root(tmp_path / "root")


def with_quota(config, tmp_path, fail=False, **settings):
    setquota, record = recording_setquota(tmp_path, fail)
    config = dataclasses.replace(
        config,
        quota_enabled=True,
        default_quota=Quota(5 * GIB, 6 * GIB),
        setquota=setquota,
        **settings,
    )
    return config, record


def test_an_existing_user_without_a_home_gets_it_from_the_skeleton(root, caplog):
    client = create_app(root).test_client()
    created = client.post("/users/dora").get_json()
    home = root.host_path("/home/dora")
    # restuser stopped between useradd and the home: the user exists, the home not
    for path in sorted(home.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
    home.rmdir()
    etc_before = etc_snapshot(root)

    with caplog.at_level(logging.INFO):
        response = client.post("/users/dora")

    assert response.status_code == 200
    assert response.get_json() == created
    assert stat.S_IMODE(home.lstat().st_mode) == 0o700
    assert (home.lstat().st_uid, home.lstat().st_gid) == (created["uid"], created["gid"])
    assert (home / "sub" / "deeper" / "notes.txt").read_text() == "notes\n"
    assert etc_snapshot(root) == etc_before
    assert [r.getMessage() for r in caplog.records if "home" in r.getMessage()] == [
        f"made the missing home of dora (uid {created['uid']}, gid {created['gid']}, "
        "home /home/dora)"
    ]
    # and then it is an existing user like any other: nothing changes any more
    before = tree_snapshot(home)
    assert client.post("/users/dora").status_code == 200
    assert tree_snapshot(home) == before


def test_get_does_not_make_a_missing_home(root):
    client = create_app(root).test_client()
    client.post("/users/dora")
    root.host_path("/home/dora").rename(root.host_path("/srv/dora-moved"))
    assert client.get("/users/dora").status_code == 200
    assert not root.host_path("/home/dora").exists()


def test_a_missing_home_that_cannot_be_made_says_so(root, tmp_path):
    client = create_app(root).test_client()
    client.post("/users/dora")
    root.host_path("/home/dora").rename(tmp_path / "moved")
    broken = create_app(dataclasses.replace(root, skeleton="/srv/missing")).test_client()
    response = broken.post("/users/dora")
    assert response.status_code == 500
    body = response.get_json()
    assert body["error"] == "home-copy-failed"
    assert body["detail"].endswith(
        "the user exists without a home: fix the skeleton folder and ask again"
    )
    assert not root.host_path("/home/dora").exists()


def test_a_new_user_gets_the_default_quota(root, tmp_path, caplog):
    config, record = with_quota(root, tmp_path)
    client = create_app(config).test_client()
    with caplog.at_level(logging.INFO):
        response = client.post("/users/dora")
    assert response.status_code == 201
    answer = response.get_json()
    assert answer["quota"] == {"soft": "5G", "hard": "6G"}
    filesystem = quota_filesystem(config)
    assert calls(record) == [f"-u {answer['uid']} 5242880 6291456 0 0 {filesystem}"]
    assert (
        f"created user dora (uid {answer['uid']}, gid {answer['gid']}, home /home/dora, "
        "quota soft 5G hard 6G)" in caplog.text
    )
    # GET and a second POST report it, and do not set it again
    assert client.get("/users/dora").get_json() == answer
    assert client.post("/users/dora").get_json() == answer
    assert len(calls(record)) == 1


def test_quota_filesystem_is_the_mount_of_the_home_root_or_the_setting(root):
    found = Path(quota_filesystem(root))
    assert found.is_mount() and root.host_path("/home").resolve().is_relative_to(found)
    chosen = dataclasses.replace(root, quota_filesystem="/home")
    assert quota_filesystem(chosen) == str(root.host_path("/home"))


def test_an_override_applies_and_is_read_again_per_request(root, tmp_path):
    overrides = root.host_path("/etc/swarmhub/quota-overrides.json")
    overrides.parent.mkdir()
    overrides.write_text('{"dora": {"soft": "10G", "hard": "12G"}}')
    config, record = with_quota(
        root, tmp_path, quota_overrides="/etc/swarmhub/quota-overrides.json"
    )
    client = create_app(config).test_client()

    dora = client.post("/users/dora").get_json()
    assert dora["quota"] == {"soft": "10G", "hard": "12G"}
    assert client.post("/users/erin").get_json()["quota"] == {"soft": "5G", "hard": "6G"}

    overrides.write_text('{"dora": {"soft": "10G", "hard": "12G"}, "finn": {"hard": "20G"}}')
    finn = client.post("/users/finn").get_json()
    assert finn["quota"] == {"soft": "5G", "hard": "20G"}
    assert calls(record)[-1].startswith(f"-u {finn['uid']} 5242880 20971520 0 0 ")


def test_a_failing_setquota_creates_nothing(root, tmp_path, caplog):
    config, record = with_quota(root, tmp_path, fail=True)
    etc_before = etc_snapshot(config)
    client = create_app(config).test_client()

    with caplog.at_level(logging.INFO):
        response = client.post("/users/dora")

    assert response.status_code == 500
    body = response.get_json()
    assert body["error"] == "quota-failed"
    assert "setquota of uid" in body["detail"]
    assert "Cannot set quota: No such process" in body["detail"]
    assert "quotaon -p" in body["detail"] and "without --quota-enabled" in body["detail"]
    assert body["detail"].endswith("; the user was deleted again, nothing was created")
    assert len(calls(record)) == 1  # it was really tried
    assert etc_snapshot(config) == etc_before
    assert sorted(p.name for p in config.host_path("/home").iterdir()) == ["carol"]
    assert "created user" not in caplog.text
    assert client.get("/users/dora").status_code == 404


def test_a_failing_setquota_leaves_no_restored_home(root, tmp_path):
    create_app(root).test_client().post("/users/dora")
    home = root.host_path("/home/dora")
    home.rename(tmp_path / "moved")
    config, _ = with_quota(root, tmp_path, fail=True)
    response = create_app(config).test_client().post("/users/dora")
    assert response.status_code == 500
    assert response.get_json()["error"] == "quota-failed"
    assert response.get_json()["detail"].endswith("the home made for it was removed again")
    assert not home.exists()


def test_a_broken_overrides_file_creates_nothing_but_keeps_existing_users_working(
    root, tmp_path, caplog
):
    overrides = root.host_path("/etc/quota-overrides.json")
    overrides.write_text('{"dora": {"soft": "ten gigabytes"}}')
    config, record = with_quota(root, tmp_path, quota_overrides="/etc/quota-overrides.json")
    etc_before = etc_snapshot(config)
    client = create_app(config).test_client()

    response = client.post("/users/dora")
    assert response.status_code == 500
    body = response.get_json()
    assert body["error"] == "bad-quota-overrides"
    assert "'ten gigabytes' is not a size" in body["detail"]
    assert "run ./script/deploy users.yml again" in body["detail"]
    assert etc_snapshot(config) == etc_before
    assert calls(record) == []

    # carol exists: her login goes on, with the quota unknown (and the problem logged)
    with caplog.at_level(logging.ERROR):
        carol = client.post("/users/carol")
    assert carol.status_code == 200 and carol.get_json()["quota"] is None
    assert "ten gigabytes" in caplog.text
