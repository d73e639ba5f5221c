"""Logins become system users: the mixin against a real restuser (temporary root)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from test_restuser_useradd import make_root
from tornado.web import HTTPError

from swarmhub.authenticators import USERNAME_PATTERN, SwarmhubSharedPasswordAuthenticator
from swarmhub.restuser import create_app, make_unix_server

PASSWORD = "correct-horse-battery"


@pytest.fixture
def restuser(tmp_path):
    config = make_root(tmp_path / "root")
    path = tmp_path / "restuser.sock"
    server = make_unix_server(create_app(config), path, 0o600)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    yield config, path
    server.shutdown()
    thread.join()


def log_in(auth, username):
    data = {"username": username, "password": PASSWORD}
    return asyncio.run(auth.get_authenticated_user(None, data))


def authenticator(socket_path, **traits):
    traits = {"allow_all": True, **traits}
    return SwarmhubSharedPasswordAuthenticator(
        user_password=PASSWORD,
        restuser_socket=str(socket_path),
        username_pattern=USERNAME_PATTERN,
        **traits,
    )


def test_first_login_makes_the_account_and_keeps_uid_gid(restuser):
    config, path = restuser
    model = log_in(authenticator(path), "dora")
    uid, gid = model["auth_state"]["uid"], model["auth_state"]["gid"]
    assert uid >= 1000
    passwd = config.host_path("/etc/passwd").read_text()
    assert f"dora:x:{uid}:{gid}:" in passwd
    home = config.host_path("/home/dora")
    assert (home.stat().st_mode & 0o777, home.stat().st_uid) == (0o700, uid)
    # a second login: same ids, nothing changed
    before = passwd
    assert log_in(authenticator(path), "dora")["auth_state"] == {"uid": uid, "gid": gid}
    assert config.host_path("/etc/passwd").read_text() == before


def test_refused_login_makes_nothing(restuser):
    config, path = restuser
    before = config.host_path("/etc/passwd").read_text()
    auth = authenticator(path, allow_all=False, allowed_users={"someone"})
    assert log_in(auth, "eve") is None
    assert config.host_path("/etc/passwd").read_text() == before


def test_restuser_refusal_fails_the_login_with_its_reason(restuser):
    config, path = restuser
    # "root" passes the hub's name rules but restuser keeps system accounts. A refusal
    # is for good (403, ask the administrators), unlike restuser being down (503).
    with pytest.raises(HTTPError) as e:
        log_in(authenticator(path), "root")
    assert e.value.status_code == 403
    assert "cannot give you the account root" in e.value.log_message
    assert "reserved-name" in e.value.log_message
    assert "Nothing was created" in e.value.log_message
    assert "ask the hub's administrators" in e.value.log_message


def test_restuser_down_fails_the_login_clearly(tmp_path):
    with pytest.raises(HTTPError) as e:
        log_in(authenticator(tmp_path / "absent.sock"), "dora")
    assert "not answering" in e.value.log_message


def test_without_restuser_logins_keep_working(tmp_path):
    model = log_in(authenticator(""), "dora")
    assert model["name"] == "dora" and model["auth_state"] is None
