import asyncio
import copy
import json
import logging
import re
import runpy
from pathlib import Path

import pytest
from jupyterhub.app import JupyterHub
from jupyterhub.authenticators.shared import SharedPasswordAuthenticator
from jupyterhub.objects import Hub
from tornado.web import HTTPError
from traitlets.config import Config

from swarmhub.hub import hubconfig
from swarmhub.hub.authenticators import (
    SwarmhubGoogleOAuthenticator,
    SwarmhubSharedPasswordAuthenticator,
    VerifiedEmailGoogleOAuthenticator,
)
from swarmhub.hub.hubconfig import configure, load_settings
from swarmhub.hub.proxy import ExternalProxy
from swarmhub.hub.service_spec import DEFAULT_PIDS_LIMIT
from swarmhub.hub.settings import SettingsError
from swarmhub.hub.spawner import SwarmUserSpawner

IMAGE = "10.213.7.11:5000/swarmhub/notebook:1"
COURSE_IMAGE = "10.213.7.11:5000/swarmhub/course:1"
USER_PASSWORD = "correct-horse-battery"
ADMIN_PASSWORD = "an-admin-password-of-more-than-32-characters"
CLIENT_SECRET = "GOCSPX-not-a-real-secret"
CONFIG_FILE = Path(__file__).parents[2] / "images" / "jupyterhub" / "jupyterhub_config.py"


class StubUser:
    name = "alice"


@pytest.fixture
def secrets(tmp_path):
    files = {
        "client_secret": CLIENT_SECRET + "\n",
        "shared_password": USER_PASSWORD + "\n",
        "admin_password": ADMIN_PASSWORD,
        "crypt_key": "ab" * 32,
    }
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    return tmp_path


@pytest.fixture
def settings(secrets):
    """The contract's example settings, with Google login."""
    return {
        "public_url": "https://localhost:8443",
        "hub_connect_host": "jupyterhub",
        "network": "swarmhub",
        "environments": [
            {"name": "python", "image": IMAGE, "mem_limit": "1G", "cpu_limit": 1.0},
            {"name": "course", "image": COURSE_IMAGE, "description": "The course"},
        ],
        "placement_constraints": ["node.role == worker"],
        "passwd_file": "/etc/swarmhub/host/passwd",
        "home_root": "/home",
        "admin_users": ["alice"],
        "allowed_users": [],
        "spawn_timeout": 120,
        "http_timeout": 60,
        # the orphans' watch is tested on its own (test_orphans_watch_...)
        "orphan_check_seconds": 0,
        "db_url": "sqlite:////srv/jupyterhub/data/jupyterhub.sqlite",
        "cookie_secret_file": "/srv/jupyterhub/secrets/cookie_secret",
        # Google login keeps each name's Google identity in the encrypted auth_state
        "crypt_key_file": str(secrets / "crypt_key"),
        "auth": {
            "kind": "google",
            "client_id": "swarmhub.apps.googleusercontent.com",
            "client_secret_file": str(secrets / "client_secret"),
            "hosted_domain": ["example.org"],
            "oauth_callback_url": "https://localhost:8443/hub/oauth_callback",
            "authorize_url": "http://127.0.0.1:9000/o/oauth2/v2/auth",
            "token_url": None,
            "userdata_url": None,
        },
    }


@pytest.fixture
def shared_settings(settings, secrets):
    settings = copy.deepcopy(settings)
    settings["auth"] = {
        "kind": "shared_password",
        "password_file": str(secrets / "shared_password"),
        "admin_password_file": str(secrets / "admin_password"),
    }
    return settings


def configured(settings):
    c = Config()
    configure(c, settings)
    return c


# --- settings file ----------------------------------------------------------------------


def test_load_settings_reads_the_json_object(tmp_path, settings):
    path = tmp_path / "hub.json"
    path.write_text(json.dumps(settings))
    assert load_settings(path) == settings


def test_load_settings_names_a_missing_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read hub settings .*hub.json"):
        load_settings(tmp_path / "hub.json")


@pytest.mark.parametrize("text, complaint", [("{", "not valid JSON"), ("[]", "JSON object")])
def test_load_settings_rejects_what_is_not_a_json_object(tmp_path, text, complaint):
    path = tmp_path / "hub.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=complaint) as e:
        load_settings(path)
    assert str(path) in str(e.value)


def test_jupyterhub_config_file_applies_the_settings_file(monkeypatch, settings):
    read = []

    def fake_load(path):
        read.append(path)
        return settings

    monkeypatch.setattr(hubconfig, "load_settings", fake_load)
    c = Config()
    runpy.run_path(str(CONFIG_FILE), init_globals={"c": c})
    assert read == ["/etc/swarmhub/hub.json"]
    assert c.JupyterHub.spawner_class is SwarmUserSpawner


# --- the hub itself ---------------------------------------------------------------------


def test_hub_listens_for_the_proxy_and_for_user_servers(settings):
    hub = JupyterHub(config=configured(settings))
    assert hub.bind_url == "http://0.0.0.0:8000/"
    assert hub.public_url == "https://localhost:8443/"
    assert (hub.hub_ip, hub.hub_port, hub.hub_connect_ip) == (
        "0.0.0.0",
        8081,
        "jupyterhub",
    )
    assert hub.db_url == "sqlite:////srv/jupyterhub/data/jupyterhub.sqlite"
    assert hub.cookie_secret_file == "/srv/jupyterhub/secrets/cookie_secret"
    assert hub.allow_named_servers is True
    assert hub.named_server_limit_per_user == 2
    assert hub.cleanup_servers is False
    assert hub.upgrade_db is True
    assert hub.spawner_class is SwarmUserSpawner
    assert hub.authenticator_class is SwarmhubGoogleOAuthenticator


def test_the_hub_api_port_comes_from_the_settings(settings):
    hub = JupyterHub(config=configured(dict(settings, hub_api_port=18081)))
    assert hub.hub_port == 18081


@pytest.mark.parametrize("port", [0, 70000])
def test_a_hub_api_port_that_is_no_port_is_refused(settings, port):
    with pytest.raises(ValueError, match=f"hub_api_port must be a port number, not {port}"):
        configured(dict(settings, hub_api_port=port))


def test_proxy_in_its_own_container_is_reached_on_its_socket_with_the_token_file(
    settings, tmp_path
):
    (tmp_path / "proxy_token").write_text("a-proxy-token\n")
    settings["proxy_api_url"] = "http+unix://%2Frun%2Fswarmhub-proxy%2Fapi.sock"
    settings["proxy_token_file"] = str(tmp_path / "proxy_token")
    c = configured(settings)
    assert c.JupyterHub.proxy_class is ExternalProxy
    proxy = ExternalProxy(config=c, route_check_seconds=0)
    assert proxy.should_start is False  # a hub restart leaves it, and users' connections, alone
    assert proxy.api_url == "http+unix://%2Frun%2Fswarmhub-proxy%2Fapi.sock"
    assert proxy.auth_token == "a-proxy-token"


def test_without_proxy_settings_the_hub_starts_its_own_proxy(settings):
    c = configured(settings)
    assert "proxy_class" not in c.JupyterHub
    assert "auth_token" not in c.ConfigurableHTTPProxy


@pytest.mark.parametrize(
    "proxy_settings, complaint",
    [
        ({"proxy_api_url": "http+unix://%2Frun%2Fapi.sock"}, "go together"),
        ({"proxy_token_file": "/nonexistent"}, "go together"),
        ({"proxy_api_url": "/run/api.sock", "proxy_token_file": "/x"}, "must be an http"),
        (
            {"proxy_api_url": "http://10.0.0.1:8001", "proxy_token_file": "/nonexistent/t"},
            "cannot read secret file /nonexistent/t named by proxy_token_file",
        ),
    ],
)
def test_incomplete_proxy_settings_are_refused(settings, proxy_settings, complaint):
    settings.update(proxy_settings)
    with pytest.raises(ValueError, match=complaint):
        configured(settings)


def test_user_subdomains_put_servers_on_subdomains_of_the_public_host(settings):
    settings["user_subdomains"] = True
    hub = JupyterHub(config=configured(settings))
    assert hub.subdomain_host == "https://localhost:8443"
    assert hub.subdomain_hook("ann", "localhost", "user") == "ann.localhost"
    assert hub.subdomain_hook("stats", "localhost", "service") == "stats--service.localhost"


def test_user_subdomains_are_off_unless_asked_for(settings):
    assert JupyterHub(config=configured(settings)).subdomain_host == ""


def test_user_subdomains_without_a_public_url_are_refused(settings):
    settings["user_subdomains"] = True
    del settings["public_url"]
    with pytest.raises(ValueError, match="user_subdomains needs public_url"):
        configured(settings)


def test_public_url_is_optional(settings):
    del settings["public_url"]
    assert JupyterHub(config=configured(settings)).public_url == ""


def test_spawner_gets_image_network_limits_placement_and_timeouts(settings):
    spawner = SwarmUserSpawner(config=configured(settings), user=StubUser(), hub=Hub())
    assert spawner.image == IMAGE
    # only the environments' images, by name
    assert spawner.allowed_images == {"python": IMAGE, "course": COURSE_IMAGE}
    assert spawner.network_name == "swarmhub"
    assert spawner.use_internal_ip is True
    python, course = spawner.environments
    assert (python["mem_limit"], python["cpu_limit"]) == (1024**3, 1.0)
    assert (course["mem_limit"], course["cpu_limit"]) == (None, None)
    assert (python["mem_reservation"], course["mem_reservation"]) == (None, None)
    assert spawner.extra_placement_spec == {"constraints": ["node.role == worker"]}
    assert spawner.passwd_file == "/etc/swarmhub/host/passwd"
    assert spawner.home_root == "/home"
    assert (spawner.start_timeout, spawner.http_timeout) == (120, 60)
    assert spawner.poll_interval == 10  # a dead node's servers count as stopped soon
    assert spawner.remove is True


def test_optional_spawner_settings_have_defaults(settings):
    for key in ("placement_constraints", "spawn_timeout"):
        del settings[key]
    spawner = SwarmUserSpawner(config=configured(settings), user=StubUser(), hub=Hub())
    assert spawner.extra_placement_spec == {"constraints": []}
    assert spawner.start_timeout == 120


def test_servers_ignore_config_files_in_the_users_home(settings):
    spawner = SwarmUserSpawner(config=configured(settings), user=StubUser(), hub=Hub())
    assert spawner.disable_user_config is True


def test_pids_limit_from_settings_with_a_default(settings):
    spawner = SwarmUserSpawner(config=configured(settings), user=StubUser(), hub=Hub())
    assert spawner.pids_limit == DEFAULT_PIDS_LIMIT > 0
    settings["pids_limit"] = 300
    spawner = SwarmUserSpawner(config=configured(settings), user=StubUser(), hub=Hub())
    assert spawner.pids_limit == 300


def test_busy_hub_settings_reach_jupyterhub_with_defaults(settings):
    hub = JupyterHub(config=configured(settings))
    assert hub.concurrent_spawn_limit == 100
    assert hub.tornado_settings["spawn_throttle_retry_range"] == (30, 60)
    assert hub.activity_resolution == 30
    assert hub.init_spawners_timeout == 10
    settings |= {
        "concurrent_spawn_limit": 12,
        "spawn_retry_seconds": [5, 9],
        "activity_resolution": 120,
        "init_spawners_timeout": -1,
    }
    hub = JupyterHub(config=configured(settings))
    assert hub.concurrent_spawn_limit == 12
    assert hub.tornado_settings["spawn_throttle_retry_range"] == (5, 9)
    assert hub.activity_resolution == 120
    assert hub.init_spawners_timeout == -1


@pytest.mark.parametrize(
    ("key", "value", "complaint"),
    [
        ("spawn_retry_seconds", [60, 30], "0 < least <= most, not [60, 30]"),
        ("spawn_retry_seconds", [30], "not [30]"),
        ("spawn_retry_seconds", [0, 30], "not [0, 30]"),
        ("spawn_retry_seconds", ["30", 60], "not ['30', 60]"),
        ("concurrent_spawn_limit", -1, "0 (no limit) or more, not -1"),
        ("init_spawners_timeout", 0, "-1 (check them all) or positive, not 0"),
        ("activity_resolution", 0, "a positive number of seconds, not 0"),
    ],
)
def test_busy_hub_settings_that_make_no_sense_are_refused(settings, key, value, complaint):
    settings[key] = value
    with pytest.raises(SettingsError, match=re.escape(f"{key} must be")) as refused:
        configured(settings)
    assert complaint in str(refused.value)


# --- Google -----------------------------------------------------------------------------


def google_user(email, *, hd="example.org", verified=True):
    """An auth model as OAuthenticator builds it ("domain" is added while naming the user)."""
    user_info = {
        "email": email,
        "verified_email": verified,
        "domain": email.split("@")[1],
    }
    if hd:
        user_info["hd"] = hd
    return {"name": None, "admin": None, "auth_state": {"google_user": user_info}}


def test_google_client_from_settings_and_secret_file(settings):
    auth = VerifiedEmailGoogleOAuthenticator(config=configured(settings))
    assert auth.client_id == "swarmhub.apps.googleusercontent.com"
    assert auth.client_secret == CLIENT_SECRET
    assert auth.hosted_domain == ["example.org"]
    assert auth.oauth_callback_url == "https://localhost:8443/hub/oauth_callback"
    assert auth.authorize_url == "http://127.0.0.1:9000/o/oauth2/v2/auth"
    # null keeps Google's own endpoint
    assert auth.token_url == "https://www.googleapis.com/oauth2/v4/token"
    assert auth.admin_users == {"alice"}


def test_google_username_is_the_lowercased_local_part(settings):
    auth = SwarmhubGoogleOAuthenticator(config=configured(settings))
    username = auth.user_info_to_username({"email": "Ada.Lovelace@Example.org"})
    # a valid system name: restuser and useradd take no dots
    assert auth.normalize_username(username) == "ada-lovelace"


def test_google_with_several_domains_keeps_the_domain_in_the_name(settings):
    settings["auth"]["hosted_domain"] = ["example.org", "physics.edu", "students.example.net"]
    auth = SwarmhubGoogleOAuthenticator(config=configured(settings))
    assert auth.user_info_to_username({"email": "ann@example.org"}) == "ann-example-org"
    assert auth.user_info_to_username({"email": "Ann@Physics.edu"}) == "ann-physics-edu"
    # a domain longer than 16 characters: its start and a hash of the whole
    long = auth.user_info_to_username({"email": "ann.lee@students.example.net"})
    assert re.fullmatch(r"ann-lee-students-[0-9a-f]{7}", long), long


def test_google_domains_whose_names_could_clash_are_refused(settings):
    # "a-b"@c.org and "a"@b-c.org would both be a-b-c-org
    settings["auth"]["hosted_domain"] = ["c.org", "b-c.org"]
    with pytest.raises(ValueError, match="hosted domains 'b-c.org' and 'c.org' would give clash"):
        configured(settings)


def test_google_email_map_comes_first(settings):
    settings["auth"]["email_map"] = {"Ada-Lovelace@example.org": "alovelace"}
    auth = SwarmhubGoogleOAuthenticator(config=configured(settings))
    assert auth.email_map == {"ada-lovelace@example.org": "alovelace"}
    assert auth.user_info_to_username({"email": "ada-lovelace@example.org"}) == "alovelace"
    assert auth.user_info_to_username({"email": "ada.lovelace@example.org"}) == "ada-lovelace"


@pytest.mark.parametrize(
    "email_map, complaint",
    [
        ({"ann@example.org": "ann", "ANN2@example.org": "ann"}, "gives the name ann to both"),
        ({"ann@example.org": "ann--x"}, "must have lowercase letters"),
        ({"ann@example.org": "Ann"}, "must have lowercase letters"),
        ({"ann": "ann"}, "key 'ann' is not an email"),
        ({"ann@example.org": "ann", "Ann@Example.org": "ann2"}, "lists ann@example.org twice"),
    ],
)
def test_google_email_map_is_checked(settings, email_map, complaint):
    settings["auth"]["email_map"] = email_map
    with pytest.raises(ValueError, match=complaint):
        configured(settings)


def test_google_needs_auth_state(settings):
    del settings["crypt_key_file"]
    with pytest.raises(ValueError, match="Google login needs crypt_key_file"):
        configured(settings)


def test_username_map_must_give_valid_names(settings):
    settings["username_map"] = {"ann": "ann-"}
    with pytest.raises(ValueError, match="username_map gives invalid user name"):
        configured(settings)


def test_google_admits_the_whole_domain_when_no_users_are_listed(settings):
    auth = VerifiedEmailGoogleOAuthenticator(config=configured(settings))
    assert auth.allow_all is True
    assert auth.check_blocked_users("bob", google_user("bob@example.org")) is True
    assert auth.check_blocked_users("eve", google_user("eve@evil.test", hd="evil.test")) is False


def test_google_refuses_unverified_email_even_with_allow_all(settings):
    auth = VerifiedEmailGoogleOAuthenticator(config=configured(settings))
    with pytest.raises(HTTPError) as e:
        auth.check_blocked_users("bob", google_user("bob@example.org", verified=False))
    assert e.value.status_code == 403
    assert "unverified email" in e.value.log_message


def test_google_with_listed_users_admits_only_them(settings):
    settings["allowed_users"] = ["bob"]
    auth = VerifiedEmailGoogleOAuthenticator(config=configured(settings))
    assert auth.allow_all is False
    assert auth.allowed_users == {"bob"}
    assert asyncio.run(auth.check_allowed("bob", google_user("bob@example.org"))) is True
    assert asyncio.run(auth.check_allowed("carol", google_user("carol@example.org"))) is False


def test_google_without_domain_refuses_bare_names(settings):
    # changed with issue 8: this used to admit admin_users (with a warning), by name
    # alone, whatever their email's domain
    settings["auth"]["hosted_domain"] = []
    settings["allowed_users"] = ["ann", "bob"]
    settings["auth"]["email_map"] = {"ann@gmail.com": "ann"}
    with pytest.raises(ValueError, match="as full emails with their names.*not given so: bob"):
        configured(settings)


def test_google_without_domain_or_users_admits_nobody_and_is_refused(settings):
    settings["auth"]["hosted_domain"] = []
    with pytest.raises(ValueError, match="there are none"):
        configured(settings)


def test_google_without_domain_admits_only_mapped_emails(settings):
    settings["auth"]["hosted_domain"] = []
    settings["allowed_users"] = ["ann"]
    settings["auth"]["email_map"] = {"ann.lee@gmail.com": "ann"}
    auth = SwarmhubGoogleOAuthenticator(config=configured(settings))
    assert auth.allow_all is False
    assert auth.user_info_to_username({"email": "Ann.Lee@gmail.com"}) == "ann"
    for stranger in ("ann@example.org", "ann.lee@example.org", "ann@gmail.com"):
        with pytest.raises(HTTPError) as e:
            auth.user_info_to_username({"email": stranger})
        assert e.value.status_code == 403
        assert f"The Google account {stranger} has no user name on this hub" in (
            e.value.log_message
        )


def test_google_with_one_domain_names_only_its_emails(settings):
    auth = SwarmhubGoogleOAuthenticator(config=configured(settings))
    with pytest.raises(HTTPError) as e:
        # another domain's "ann" must not become example.org's ann
        auth.user_info_to_username({"email": "ann@example.net"})
    assert e.value.status_code == 403


# --- shared password --------------------------------------------------------------------


def log_in(auth, username, password):
    return asyncio.run(auth.authenticate(None, {"username": username, "password": password}))


def test_shared_password_logs_users_and_admins_in(shared_settings):
    c = configured(shared_settings)
    assert c.JupyterHub.authenticator_class is SwarmhubSharedPasswordAuthenticator
    auth = SwarmhubSharedPasswordAuthenticator(config=c)
    assert auth.allow_all is True  # allowed_users is empty
    assert log_in(auth, "bob", USER_PASSWORD) == {
        "name": "bob",
        "admin": False,
        "groups": [],
    }
    assert log_in(auth, "bob", "wrong-password") is None
    assert log_in(auth, "alice", ADMIN_PASSWORD)["admin"] is True
    # admins must use the admin password
    assert log_in(auth, "alice", USER_PASSWORD) is None


def test_shared_password_with_listed_users(shared_settings):
    shared_settings["allowed_users"] = ["bob"]
    auth = SharedPasswordAuthenticator(config=configured(shared_settings))
    assert auth.allow_all is False
    assert auth.allowed_users == {"bob"}


def test_shared_password_admin_file_is_optional(shared_settings):
    del shared_settings["auth"]["admin_password_file"]
    auth = SharedPasswordAuthenticator(config=configured(shared_settings))
    assert auth.admin_password is None
    assert log_in(auth, "bob", USER_PASSWORD)["name"] == "bob"


# --- bad settings -----------------------------------------------------------------------


def test_missing_key_is_named(settings):
    del settings["environments"]
    with pytest.raises(ValueError, match="missing key environments"):
        configured(settings)


def test_missing_auth_key_is_named_with_its_section(settings):
    del settings["auth"]["client_id"]
    with pytest.raises(ValueError, match=r"missing key auth\.client_id"):
        configured(settings)


def test_unknown_auth_kind_lists_the_known_ones(settings):
    settings["auth"] = {"kind": "github"}
    with pytest.raises(ValueError, match="unknown auth.kind 'github'; use one of google, shared"):
        configured(settings)


def test_misspelt_key_is_not_ignored(settings):
    settings["spawn_timout"] = 300
    with pytest.raises(ValueError, match="unknown key.* spawn_timout"):
        configured(settings)


def test_key_of_the_other_auth_kind_is_refused(shared_settings):
    shared_settings["auth"]["hosted_domain"] = ["example.org"]
    with pytest.raises(ValueError, match=r"unknown key.* auth\.hosted_domain"):
        configured(shared_settings)


@pytest.mark.parametrize(
    "key, value, complaint",
    [
        ("network", 5, "network must be a string, not 5"),
        ("environments", [{"name": "py", "image": IMAGE, "cpu_limit": "2"}], "cpu_limit must"),
        ("environments", [], "at least one environment"),
        ("environments", [{"name": "Py 3", "image": IMAGE}], "must be lower-case"),
        ("shares", [{"name": "x", "path": "/s", "level": "open"}], "level must be one of"),
        ("project_limit", 0, "project_limit must be at least 1"),
        ("pids_limit", -1, "pids_limit must be 0 \\(no limit\\) or more"),
        ("pids_limit", "many", "pids_limit must be a number"),
        ("spawn_timeout", True, "spawn_timeout must be a number, not true"),
        ("spawn_timeout", 0, "positive number of seconds"),
        ("allowed_users", "bob", "allowed_users must be a list"),
        ("admin_users", ["alice", 3], "list of non-empty strings"),
        ("environments", [{"name": "py", "image": IMAGE, "mem_limit": "lots"}], "is not a size"),
        (
            "environments",
            [{"name": "py", "image": IMAGE, "mem_limit": "1G", "mem_reservation": "2G"}],
            "mem_reservation is more than",
        ),
    ],
)
def test_wrong_types_are_named(settings, key, value, complaint):
    settings[key] = value
    with pytest.raises(ValueError, match=complaint):
        configured(settings)


def test_unreadable_secret_file_is_named_with_its_key(settings, tmp_path):
    missing = tmp_path / "nope"
    settings["auth"]["client_secret_file"] = str(missing)
    with pytest.raises(ValueError, match="cannot read secret file") as e:
        configured(settings)
    assert str(missing) in str(e.value) and "auth.client_secret_file" in str(e.value)


def test_empty_secret_file_is_refused(settings, secrets):
    (secrets / "client_secret").write_text("\n")
    with pytest.raises(
        ValueError,
        match=r"secret file .*client_secret named by auth.client_secret_file is empty",
    ):
        configured(settings)


def test_short_admin_password_is_refused_without_showing_it(shared_settings, secrets):
    (secrets / "admin_password").write_text("short-admin-secret")
    with pytest.raises(ValueError, match="at least 32") as e:
        configured(shared_settings)
    assert "admin_password" in str(e.value)
    assert "short-admin-secret" not in str(e.value)


def test_admin_password_must_differ_from_the_user_password(shared_settings, secrets):
    (secrets / "admin_password").write_text(USER_PASSWORD * 2)
    (secrets / "shared_password").write_text(USER_PASSWORD * 2)
    with pytest.raises(ValueError, match="hold the same password"):
        configured(shared_settings)


def test_secrets_do_not_reach_the_log(settings, shared_settings, caplog):
    with caplog.at_level(logging.DEBUG):
        configured(settings)
        configured(shared_settings)
    for secret in (CLIENT_SECRET, USER_PASSWORD, ADMIN_PASSWORD):
        assert secret not in caplog.text


def test_ops_service_gets_only_server_and_read_scopes(settings, tmp_path):
    token_file = tmp_path / "ops_token"
    token_file.write_text("ops-token-value\n")
    settings["ops_token_file"] = str(token_file)
    hub = JupyterHub(config=configured(settings))
    assert hub.services == [{"name": "swarmhub-ops", "api_token": "ops-token-value"}]
    ops_roles = [role for role in hub.load_roles if role["name"] == "swarmhub-ops"]
    assert ops_roles == [
        {
            "name": "swarmhub-ops",
            "scopes": ["servers", "read:users", "list:users", "admin:users"],
            "services": ["swarmhub-ops"],
        }
    ]


def test_no_ops_service_without_its_token_file(settings):
    assert JupyterHub(config=configured(settings)).services == []


def test_sidecar_services_get_their_scopes_and_do_not_hold_the_hubs_start(settings, tmp_path):
    for name in ("culler", "stats"):
        (tmp_path / f"{name}.token").write_text(f"{name}-token-value\n")
    settings["services"] = [
        {"name": "idle-culler", "token_file": str(tmp_path / "culler.token"),
         "scopes": ["list:users", "read:users:activity", "servers"]},
        {"name": "stats", "token_file": str(tmp_path / "stats.token"),
         "url": "http://10.213.128.3:8080", "scopes": ["list:users", "read:users"],
         "access_groups": ["instructors"], "for_instructors": True},
    ]  # fmt: skip
    settings["instructors"] = ["tina", "bob"]
    hub = JupyterHub(config=configured(settings))
    assert hub.services == [
        {"name": "idle-culler", "api_token": "culler-token-value"},
        {"name": "stats", "api_token": "stats-token-value", "url": "http://10.213.128.3:8080",
         "oauth_no_confirm": True, "timeout": 2},
    ]  # fmt: skip
    roles = {role["name"]: role for role in hub.load_roles}
    assert roles["idle-culler-service"]["scopes"] == [
        "list:users",
        "read:users:activity",
        "servers",
    ]
    assert roles["stats-service"] == {
        "name": "stats-service", "scopes": ["list:users", "read:users"], "services": ["stats"],
    }  # fmt: skip
    assert roles["stats-users"] == {
        "name": "stats-users",
        "scopes": ["access:services!service=stats"],
        "groups": ["instructors"],
    }
    assert roles["instructors"]["users"] == ["bob", "tina"]
    assert roles["instructors"]["scopes"] == ["access:services!service=stats"]
    assert "culler-token-value" not in json.dumps(hub.load_roles)
    assert not hub.load_groups  # a role's listed users are exact; a group's only grow


def test_the_instructors_role_is_declared_even_empty_so_removals_take_effect(settings):
    settings["instructors"] = []
    roles = {role["name"]: role for role in JupyterHub(config=configured(settings)).load_roles}
    assert roles["instructors"]["users"] == [] and roles["instructors"]["scopes"] == []


def test_for_instructors_must_be_true_or_false(settings, tmp_path):
    (tmp_path / "t").write_text("token\n")
    settings["services"] = [
        {"name": "s", "token_file": str(tmp_path / "t"), "for_instructors": "yes"}
    ]
    with pytest.raises(ValueError, match="for_instructors"):
        configured(settings)


def test_orphans_watch_runs_in_the_hub_with_read_scopes_only(settings):
    del settings["orphan_check_seconds"]  # the default: every 60 s
    hub = JupyterHub(config=configured(settings))
    (watch,) = [s for s in hub.services if s["name"] == "swarmhub-orphans"]
    assert watch["command"][1:] == ["-m", "swarmhub.hub.orphans", "--every", "60"]
    (role,) = [r for r in hub.load_roles if r["name"] == "swarmhub-orphans"]
    assert role["scopes"] == ["list:users", "read:users:name", "read:servers"]
    assert role["services"] == ["swarmhub-orphans"]


# --- courses ----------------------------------------------------------------------------


def test_courses_open_each_formgrader_to_its_staff_and_the_exchange_to_servers(settings, tmp_path):
    group = tmp_path / "group"
    group.write_text("tas:x:3001:tom,tia\nswarmhub-users:x:100:ann,bob\n")
    settings.update(
        group_file=str(group),
        exchange_url="http://10.213.128.5:8090",
        courses=[
            {"name": "intro", "instructors": ["ida"], "graders": ["@tas"], "students": ["ann"]},
            {"name": "stats", "instructors": ["sam"], "students": ["bob"]},
        ],
    )
    c = configured(settings)
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert roles["formgrader-intro-users"]["users"] == ["ida", "tia", "tom"]
    assert roles["formgrader-intro-users"]["scopes"] == ["access:services!service=formgrader-intro"]
    assert roles["formgrader-stats-users"]["users"] == ["sam"]
    assert "access:services!service=exchange" in roles["user"]["scopes"]
    assert "access:services!service=exchange" in c.Spawner.server_token_scopes
    assert c.Spawner.environment["SWARMHUB_EXCHANGE_URL"] == "http://10.213.128.5:8090"


def test_without_courses_servers_get_the_hubs_default_token(settings):
    c = configured(settings)
    assert "server_token_scopes" not in c.Spawner
    assert "formgrader" not in " ".join(r["name"] for r in c.JupyterHub.load_roles)


def test_courses_without_an_exchange_are_refused(settings):
    settings["courses"] = [{"name": "intro", "students": ["ann"]}]
    with pytest.raises(ValueError, match="courses need exchange_url"):
        configured(settings)


@pytest.mark.parametrize(
    "course, complaint",
    [
        ({"name": "intro", "late_policy": "half"}, "late_policy must be one of none, zero"),
        ({"name": "intro", "student": ["ann"]}, "unknown key(s) courses[0].student"),
        ({"name": "Intro"}, "is not a course name"),
    ],
)
def test_a_course_with_a_mistake_is_refused_naming_it(settings, course, complaint):
    settings.update(exchange_url="http://10.213.128.5:8090", courses=[course])
    with pytest.raises(ValueError, match=re.escape(complaint)):
        configured(settings)
