"""Logins become system users: the mixin against a real restuser (temporary root)."""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading

import pytest
from test_restuser_useradd import make_root
from tornado.web import HTTPError

from swarmhub.hub.authenticators import USERNAME_PATTERN, SwarmhubSharedPasswordAuthenticator
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


def restuser_gone(config, tmp_path, **traits):
    """An authenticator whose restuser socket answers nobody, reading the accounts
    restuser made (config's root) as the hub container reads the hub host's."""
    return authenticator(
        tmp_path / "absent.sock",
        passwd_file=str(config.host_path("/etc/passwd")),
        group_file=str(config.host_path("/etc/group")),
        hub_home_root=str(config.host_path("/home")),
        **traits,
    )


def test_while_restuser_is_down_an_existing_user_still_logs_in(restuser, tmp_path, caplog):
    config, path = restuser
    made = log_in(authenticator(path), "dora")["auth_state"]
    with caplog.at_level(logging.WARNING):
        model = log_in(restuser_gone(config, tmp_path), "dora")
    assert model["auth_state"] == made
    assert "dora logs in with the account the hub host has" in caplog.text


def test_while_restuser_is_down_a_new_user_is_told_and_nothing_is_made(restuser, tmp_path):
    config, path = restuser
    log_in(authenticator(path), "dora")
    before = config.host_path("/etc/passwd").read_text()
    with pytest.raises(HTTPError) as e:
        log_in(restuser_gone(config, tmp_path), "erin")
    assert e.value.status_code == 503
    assert "could not be set up" in e.value.log_message
    assert "Nothing was created" in e.value.log_message
    assert config.host_path("/etc/passwd").read_text() == before
    assert not config.host_path("/home/erin").exists()


def test_while_restuser_is_down_an_account_it_would_refuse_stays_out(restuser, tmp_path):
    config, path = restuser
    # an operator's account, not made for the hub (not in the mark group)
    passwd = config.host_path("/etc/passwd")
    passwd.write_text(passwd.read_text() + "oper:x:1500:1500::/home/oper:/bin/bash\n")
    group = config.host_path("/etc/group")
    group.write_text(group.read_text() + "oper:x:1500:\n")
    config.host_path("/home/oper").mkdir()
    with pytest.raises(HTTPError) as e:
        log_in(restuser_gone(config, tmp_path), "oper")
    assert e.value.status_code == 503


@pytest.mark.parametrize("damage", ["removed", "a link"])
def test_while_restuser_is_down_a_user_without_a_real_home_stays_out(restuser, tmp_path, damage):
    config, path = restuser
    log_in(authenticator(path), "dora")
    home = config.host_path("/home/dora")
    shutil.rmtree(home)
    if damage == "a link":
        home.symlink_to(tmp_path)
    with pytest.raises(HTTPError) as e:
        log_in(restuser_gone(config, tmp_path), "dora")
    assert e.value.status_code == 503


def test_without_restuser_logins_keep_working(tmp_path):
    model = log_in(authenticator(""), "dora")
    assert model["name"] == "dora" and model["auth_state"] is None


# --- one Google identity, one account ---------------------------------------------------


class StoredUser:
    """What JupyterHub's handler.find_user gives: a user with (decrypted) auth_state."""

    def __init__(self, auth_state):
        self.auth_state = auth_state

    async def get_auth_state(self):
        return self.auth_state


class Handler:
    """The login handler, as far as run_post_auth_hook uses it: the hub's users."""

    def __init__(self, users=None):
        self.users = dict(users or {})

    def find_user(self, name):
        return self.users.get(name)

    def save(self, model):
        # what JupyterHub does after a successful login: keep the auth_state
        self.users[model["name"]] = StoredUser(model["auth_state"])


def google_login(auth, handler, email, *, sub=None):
    """A Google login that passed Google and the allow checks, through the post-auth
    hook (identity check, then restuser); the model JupyterHub would save."""
    from swarmhub.hub.authenticators import google_identity

    user_info = {"email": email, "verified_email": True}
    user_info["sub"] = sub or google_identity({"email": email, "sub": "1" + email})["sub"]
    name = auth.normalize_username(auth.user_info_to_username(dict(user_info)))
    model = {"name": name, "admin": None, "auth_state": {"google_user": user_info}}
    model = asyncio.run(auth.run_post_auth_hook(handler, model))
    handler.save(model)
    return model


def google_auth(socket_path="", **traits):
    from swarmhub.hub.authenticators import SwarmhubGoogleOAuthenticator

    traits = {"hosted_domain": ["example.org"], "allow_all": True, **traits}
    return SwarmhubGoogleOAuthenticator(
        client_id="id", client_secret="secret", restuser_socket=str(socket_path), **traits
    )


def test_first_login_keeps_the_google_identity():
    model = google_login(google_auth(), Handler(), "Ada.Lovelace@example.org", sub="111")
    assert model["name"] == "ada-lovelace"
    assert model["auth_state"]["google_identity"] == {
        "email": "ada.lovelace@example.org",
        "sub": "111",
    }


def test_a_second_google_account_cannot_take_a_used_name(caplog):
    auth, handler = google_auth(), Handler()
    google_login(auth, handler, "ada.lovelace@example.org", sub="111")
    with caplog.at_level(logging.WARNING), pytest.raises(HTTPError) as e:
        google_login(auth, handler, "ada-lovelace@example.org", sub="222")
    assert e.value.status_code == 403
    assert e.value.log_message == (
        "The name ada-lovelace is already used by another Google account; ask the "
        "administrators for a username map entry."
    )
    assert "Refused login of ada-lovelace@example.org (sub 222) as 'ada-lovelace'" in caplog.text
    assert "belongs to ada.lovelace@example.org (sub 111)" in caplog.text
    # the first keeps the account, also after the refusal
    again = google_login(auth, handler, "ada.lovelace@example.org", sub="111")
    assert again["auth_state"]["google_identity"]["email"] == "ada.lovelace@example.org"


def test_a_new_hub_process_still_knows_the_owner():
    # the identity is in the stored auth_state, not in the authenticator's memory
    handler = Handler()
    google_login(google_auth(), handler, "ada.lovelace@example.org", sub="111")
    with pytest.raises(HTTPError) as e:
        google_login(google_auth(), handler, "ada-lovelace@example.org", sub="222")
    assert e.value.status_code == 403


def test_the_same_account_is_known_by_its_sub_when_its_email_changes():
    auth, handler = google_auth(), Handler()
    google_login(auth, handler, "ada.lovelace@example.org", sub="111")
    # Google Workspace renamed the account (same sub): it is still the same person
    model = google_login(auth, handler, "ada-lovelace@example.org", sub="111")
    assert model["auth_state"]["google_identity"] == {
        "email": "ada-lovelace@example.org",
        "sub": "111",
    }


def test_two_logins_at_once_cannot_both_take_a_new_name():
    # the hub saves the first one's auth_state only after the hook: until then, the
    # authenticator remembers who took the name
    auth, handler = google_auth(), Handler()
    first = {
        "name": "bob",
        "auth_state": {"google_user": {"email": "bob@example.org", "sub": "1"}},
    }
    second = {
        "name": "bob",
        "auth_state": {"google_user": {"email": "b.o.b@example.org", "sub": "2"}},
    }
    asyncio.run(auth.run_post_auth_hook(handler, first))
    with pytest.raises(HTTPError) as e:
        asyncio.run(auth.run_post_auth_hook(handler, second))
    assert e.value.status_code == 403


def test_users_from_before_the_check_are_adopted_once(caplog):
    # a user the hub knows without any stored identity (made before this check, or
    # by an admin): the first login after the upgrade adopts and records it
    handler = Handler({"grace": StoredUser(None)})
    auth = google_auth()
    with caplog.at_level(logging.INFO):
        model = google_login(auth, handler, "grace@example.org", sub="7")
    assert model["auth_state"]["google_identity"] == {"email": "grace@example.org", "sub": "7"}
    assert "adopts (no identity was stored) the name 'grace'" in caplog.text
    with pytest.raises(HTTPError):
        google_login(google_auth(), handler, "Grace@example.org", sub="8")


def test_identity_kept_by_oauthenticator_before_the_check_counts():
    # logins before this change kept Google's userinfo in auth_state["google_user"];
    # "bob" was robert@ (through the old username_map)
    stored = {"google_user": {"email": "robert@example.org", "id": "5"}, "uid": 1001}
    handler = Handler({"bob": StoredUser(stored)})
    with pytest.raises(HTTPError) as e:
        google_login(google_auth(), handler, "bob@example.org", sub="6")
    assert e.value.status_code == 403
    # robert himself still gets in (his old username_map entry)
    model = google_login(
        google_auth(username_map={"robert": "bob"}), handler, "robert@example.org", sub="5"
    )
    assert model["name"] == "bob"


def test_a_name_in_the_email_map_belongs_to_that_email():
    auth = google_auth(email_map={"ann.lee@example.org": "ann"})
    handler = Handler()
    with pytest.raises(HTTPError) as e:
        # "ann"@example.org would make "ann", which the map gives to ann.lee
        google_login(auth, handler, "ann@example.org")
    assert e.value.status_code == 403
    assert google_login(auth, handler, "ann.lee@example.org")["name"] == "ann"


def test_a_refused_identity_gets_no_system_account(restuser):
    config, path = restuser
    handler = Handler()
    google_login(google_auth(path), handler, "ada.lovelace@example.org", sub="111")
    passwd = config.host_path("/etc/passwd").read_text()
    assert "ada-lovelace:" in passwd
    with pytest.raises(HTTPError) as e:
        google_login(google_auth(path), handler, "ada-lovelace@example.org", sub="222")
    assert e.value.status_code == 403
    assert config.host_path("/etc/passwd").read_text() == passwd
