"""The hub's admin list: admins.yml's checks, and how the hub settings read the list."""

from __future__ import annotations

import json

import pytest
from traitlets.config import Config

from swarmhub.hub.hubconfig import admin_users_from, configure_authenticator
from swarmhub.restuser.usersfile import check_admins

SHARED = {
    "kind": "shared_password",
    "password_file": "",
    "admin_password_file": None,
}


def test_a_good_admin_list():
    assert check_admins(["ann", "bob"]) == []
    assert check_admins([], allow_none=True) == []


@pytest.mark.parametrize(
    "names, expected",
    [
        ("ann", "must be a list of user names, not text"),
        ([], "the admin list is empty"),
        (["Ann"], "'Ann' is not a valid user name"),
        (["root"], "'root' is reserved"),
        (["ann", "ann"], "'ann' is listed twice"),
        ([7], "7 is not a user name"),
    ],
)
def test_bad_admin_lists(names, expected):
    problems = check_admins(names)
    assert len(problems) == 1 and expected in problems[0]


def test_the_admin_file_replaces_the_settings_list(tmp_path):
    settings = {"admin_users": ["alice", "bob"], "admin_users_file": str(tmp_path / "a.json")}
    # no file yet (admins.yml never ran): the settings' list
    assert admin_users_from(settings) == {"alice", "bob"}
    (tmp_path / "a.json").write_text(json.dumps(["bob", "carol"]))
    assert admin_users_from(settings) == {"bob", "carol"}
    (tmp_path / "a.json").write_text("[]")
    assert admin_users_from(settings) == set()
    assert admin_users_from({"admin_users": ["alice"]}) == {"alice"}


@pytest.mark.parametrize("text", ["{broken", '{"admins": ["a"]}', '["a", ""]', "[1]"])
def test_a_broken_admin_file_stops_the_hub_with_what_to_do(tmp_path, text):
    (tmp_path / "a.json").write_text(text)
    with pytest.raises(ValueError, match="run ./script/deploy admins.yml again"):
        admin_users_from({"admin_users": [], "admin_users_file": str(tmp_path / "a.json")})


def test_the_admin_role_lists_exactly_the_admins(tmp_path):
    password = tmp_path / "pw"
    password.write_text("a-shared-password\n")
    (tmp_path / "a.json").write_text('["bob", "carol"]')
    c = Config()
    configure_authenticator(
        c,
        {
            "admin_users": ["alice"],
            "admin_users_file": str(tmp_path / "a.json"),
            "auth": dict(SHARED, password_file=str(password)),
        },
    )
    assert c.Authenticator.admin_users == {"bob", "carol"}
    # listing the admin role's users makes JupyterHub revoke anyone else at start
    assert c.JupyterHub.load_roles == [{"name": "admin", "users": ["bob", "carol"]}]
