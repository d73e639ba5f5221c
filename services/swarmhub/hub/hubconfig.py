"""The hub's configuration, from the settings JSON that Ansible renders (/etc/swarmhub/hub.json).

jupyterhub_config.py only calls configure(c, load_settings(path)). Everything the
deployment decides is in the JSON; everything that follows from it is here. Bad
settings raise ValueError naming the key or file and what to do; secrets are read
from files and never logged or put into messages.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyterhub.traitlets import ByteSpecification
from traitlets import TraitError

from ..common import usernames
from .authenticators import (
    SwarmhubGoogleOAuthenticator,
    SwarmhubSharedPasswordAuthenticator,
    domain_labels,
    normalize_email,
)
from .environments import parse_environments
from .projects_handlers import PROJECTS_TEMPLATES, projects_handlers
from .proxy import ExternalProxy
from .service_spec import DEFAULT_PIDS_LIMIT
from .shares import parse_shares
from .spawner import SwarmUserSpawner, stop_reasons

log = logging.getLogger(__name__)

HUB_PORT = 8000  # configurable-http-proxy; nginx forwards here
HUB_API_PORT = 8081  # what user servers call back to (hub_api_port; swarmhub_hub_api_port)
NAMED_SERVER_LIMIT = 2
# JupyterHub role whose members may open the services marked for_instructors
# (the activity statistics), as admins may.
INSTRUCTORS_ROLE = "instructors"
FIX_HINT = "fix the jupyterhub role's settings (group_vars) and deploy again"

_MISSING = object()

SETTINGS_KEYS = frozenset(
    {
        "public_url",
        "user_subdomains",
        "hub_connect_host",
        "hub_api_port",
        "network",
        "environments",
        "placement_constraints",
        "passwd_file",
        "group_file",
        "home_root",
        "hub_home_root",
        "data_dir",
        "shares",
        "project_limit",
        "pids_limit",
        "named_server_limit",
        "admin_users",
        "admin_users_file",
        "allowed_users",
        "instructors",
        "username_map",
        "restuser_socket",
        "crypt_key_file",
        "spawn_timeout",
        "http_timeout",
        "orphan_check_seconds",
        "activity_interval",
        "db_url",
        "cookie_secret_file",
        "ops_token_file",
        "proxy_api_url",
        "proxy_token_file",
        "services",
        "auth",
    }
)
SERVICE_KEYS = frozenset(
    {"name", "token_file", "scopes", "url", "access_groups", "for_instructors"}
)
AUTH_KEYS = {
    "google": frozenset(
        {
            "kind",
            "client_id",
            "client_secret_file",
            "hosted_domain",
            "oauth_callback_url",
            "authorize_url",
            "token_url",
            "userdata_url",
            "email_map",
        }
    ),
    "shared_password": frozenset({"kind", "password_file", "admin_password_file"}),
}


def load_settings(path: str | Path) -> dict[str, Any]:
    """Read the hub settings JSON file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(
            f"cannot read hub settings {path} ({e.strerror}); the jupyterhub role "
            "renders this file: deploy the hub again, or mount the file into the container"
        ) from None
    try:
        settings = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"hub settings {path} is not valid JSON ({e}); {FIX_HINT}") from None
    if not isinstance(settings, dict):
        raise ValueError(f"hub settings {path} must hold a JSON object; {FIX_HINT}")
    return settings


def configure(c: Any, settings: Mapping[str, Any]) -> None:
    """Apply hub settings to a traitlets config object (the `c` of jupyterhub_config.py)."""
    _reject_unknown_keys(settings, SETTINGS_KEYS, "")
    configure_hub(c, settings)
    configure_proxy(c, settings)
    configure_spawner(c, settings)
    configure_authenticator(c, settings)
    configure_ops_service(c, settings)


# What the operator's commands (script/bench, admins.yml, later restore and status)
# may do through the hub API: start and stop servers, list and read users (admins.yml
# reads who is admin before and after). Nothing else.
OPS_SERVICE = "swarmhub-ops"
OPS_SCOPES = ["servers", "read:users", "list:users"]
SIDECAR_WAIT_SECONDS = 2
# The orphaned servers' watch (swarmhub.hub.orphans): it reads users and their servers.
ORPHANS_SERVICE = "swarmhub-orphans"
ORPHANS_SCOPES = ["list:users", "read:users:name", "read:servers"]


def configure_ops_service(c: Any, settings: Mapping[str, Any]) -> None:
    """Hub services: the operator's (optional) and the sidecars' (culler, stats).

    Each gets a role with exactly its scopes. A service with a url may be opened
    (through the hub's login) by admins, by the hub groups in its access_groups and,
    if for_instructors, by the instructors.
    """
    services: list[dict[str, Any]] = []
    roles: list[dict[str, Any]] = []
    for_instructors: list[str] = []
    token_file = _get(settings, "ops_token_file", str, default=None)
    if token_file:
        token = read_secret(token_file, "ops_token_file")
        services.append({"name": OPS_SERVICE, "api_token": token})
        roles.append({"name": OPS_SERVICE, "scopes": OPS_SCOPES, "services": [OPS_SERVICE]})
    for i, entry in enumerate(_get(settings, "services", list, default=[])):
        where = f"services[{i}]."
        if not isinstance(entry, dict):
            raise ValueError(f"hub settings: services[{i}] must be an object; {FIX_HINT}")
        _reject_unknown_keys(entry, SERVICE_KEYS, where)
        name = _get(entry, "name", str, prefix=where)
        token = read_secret(_get(entry, "token_file", str, prefix=where), where + "token_file")
        service: dict[str, Any] = {"name": name, "api_token": token}
        url = _get(entry, "url", str, prefix=where, default=None)
        if url:
            # a sidecar starts after the hub: waiting the default 30 s for it would
            # hold the hub's own start (the proxy gets no routes until then)
            service.update(url=url, oauth_no_confirm=True, timeout=SIDECAR_WAIT_SECONDS)
        services.append(service)
        scopes = _get_str_list(entry, "scopes", prefix=where)
        if scopes:
            roles.append({"name": f"{name}-service", "scopes": scopes, "services": [name]})
        if _get(entry, "for_instructors", bool, prefix=where, default=False):
            for_instructors.append(f"access:services!service={name}")
        groups = _get_str_list(entry, "access_groups", prefix=where)
        if groups:
            roles.append(
                {
                    "name": f"{name}-users",
                    "scopes": [f"access:services!service={name}"],
                    "groups": groups,
                }
            )
    # A role, not a group: JupyterHub makes a role's listed users exact at every start,
    # so a name taken off the list loses access (load_groups only ever adds members).
    instructors = {
        "name": INSTRUCTORS_ROLE,
        "description": "Instructors: may open the activity statistics",
        "scopes": for_instructors,
        "users": sorted(_get_str_list(settings, "instructors")),
    }
    orphan_check = _get(settings, "orphan_check_seconds", (int, float), default=60)
    if orphan_check < 0:
        raise ValueError("hub settings: orphan_check_seconds must be 0 (never) or more")
    if orphan_check:
        # a hub-managed service (a process in the hub container, which has the
        # Docker socket): it reads which servers the hub knows through the API
        services.append(
            {
                "name": ORPHANS_SERVICE,
                "command": [
                    sys.executable,
                    "-m",
                    "swarmhub.hub.orphans",
                    "--every",
                    str(orphan_check),
                ],
            }
        )
        roles.append(
            {"name": ORPHANS_SERVICE, "scopes": ORPHANS_SCOPES, "services": [ORPHANS_SERVICE]}
        )
    c.JupyterHub.services = services
    c.JupyterHub.load_roles = [*_load_roles(c), *roles, instructors]


def configure_hub(c: Any, settings: Mapping[str, Any]) -> None:
    c.JupyterHub.bind_url = f"http://0.0.0.0:{HUB_PORT}/"
    public_url = _get(settings, "public_url", str, default=None)
    if public_url:
        # links and redirects the hub makes point where browsers come in (nginx)
        c.JupyterHub.public_url = public_url.rstrip("/") + "/"
    if _get(settings, "user_subdomains", bool, default=False):
        # each user's servers on USER.HOST, each service on NAME--service.HOST:
        # a page one of them serves cannot read the hub's or another's (same-origin)
        if not public_url:
            raise ValueError(f"hub settings: user_subdomains needs public_url; {FIX_HINT}")
        c.JupyterHub.subdomain_host = public_url.rstrip("/")
    c.JupyterHub.hub_ip = "0.0.0.0"
    api_port = _get(settings, "hub_api_port", int, default=HUB_API_PORT)
    if not 0 < api_port < 65536:
        raise ValueError(f"hub settings: hub_api_port must be a port number, not {api_port}")
    c.JupyterHub.hub_port = api_port
    c.JupyterHub.hub_connect_ip = _get(settings, "hub_connect_host", str)
    c.JupyterHub.db_url = _get(settings, "db_url", str)
    c.JupyterHub.cookie_secret_file = _get(settings, "cookie_secret_file", str)
    c.JupyterHub.allow_named_servers = True
    named_limit = _get(settings, "named_server_limit", int, default=NAMED_SERVER_LIMIT)
    if named_limit < 0:
        raise ValueError("hub settings: named_server_limit must be 0 (no limit) or more")
    c.JupyterHub.named_server_limit_per_user = named_limit
    activity = _get(settings, "activity_interval", (int, float), default=None)
    if activity is not None:
        if activity <= 0:
            raise ValueError("hub settings: activity_interval must be a positive number")
        # how often the hub reads activity from the proxy, and servers report theirs
        c.JupyterHub.last_activity_interval = int(activity)
        c.Spawner.environment = {"JUPYTERHUB_ACTIVITY_INTERVAL": str(int(activity))}
    # the projects page and API (deprecated mechanism, still supported in JupyterHub 6)
    c.JupyterHub.extra_handlers = projects_handlers(
        _get(settings, "hub_home_root", str, default="")
    )
    c.JupyterHub.template_paths = [PROJECTS_TEMPLATES]
    # why a user's server stopped on its own (not_running.html)
    c.JupyterHub.template_vars = {"stop_reasons": stop_reasons}
    # user servers are swarm services that outlive a hub restart (e.g. a redeploy);
    # the restarted hub finds them again through the spawner state in its database
    c.JupyterHub.cleanup_servers = False
    # a newer JupyterHub upgrades an older database schema at start instead of refusing
    # to start; the jupyterhub role copies the database aside before it changes the image
    c.JupyterHub.upgrade_db = True


def configure_proxy(c: Any, settings: Mapping[str, Any]) -> None:
    """A proxy in its own container (proxy_api_url), or else one the hub starts itself."""
    api_url = _get(settings, "proxy_api_url", str, default=None)
    token_file = _get(settings, "proxy_token_file", str, default=None)
    if api_url is None and token_file is None:
        return  # the hub starts configurable-http-proxy (from PATH) and stops it
    if not (api_url and token_file):
        raise ValueError(
            "hub settings: proxy_api_url and proxy_token_file go together (a proxy the "
            f"hub does not start is reached at the one with the token in the other); {FIX_HINT}"
        )
    if not api_url.startswith(("http://", "https://", "http+unix://")):
        raise ValueError(
            f"hub settings: proxy_api_url {api_url!r} must be an http://, https:// or "
            f"http+unix:// URL; {FIX_HINT}"
        )
    c.JupyterHub.proxy_class = ExternalProxy
    c.ConfigurableHTTPProxy.api_url = api_url
    c.ConfigurableHTTPProxy.auth_token = read_secret(token_file, "proxy_token_file")


def configure_spawner(c: Any, settings: Mapping[str, Any]) -> None:
    c.JupyterHub.spawner_class = SwarmUserSpawner
    spawner = c.SwarmUserSpawner
    environments = _environments(settings)
    spawner.environments = environments
    spawner.image = environments[0]["image"]
    # only these images: users choose an environment by name and cannot name another
    spawner.allowed_images = {e["name"]: e["image"] for e in environments}
    spawner.network_name = _get(settings, "network", str)
    spawner.use_internal_ip = True
    shares = _get(settings, "shares", list, default=[])
    parse_shares(shares)  # fail now, not at the first spawn
    spawner.shares = shares
    spawner.group_file = _get(settings, "group_file", str, default="/etc/group")
    spawner.hub_home_root = _get(settings, "hub_home_root", str, default="")
    spawner.data_dir = _get(settings, "data_dir", str, default="")
    project_limit = _get(settings, "project_limit", int, default=5)
    if project_limit < 1:
        raise ValueError("hub settings: project_limit must be at least 1")
    spawner.project_limit = project_limit
    constraints = _get_str_list(settings, "placement_constraints")
    spawner.extra_placement_spec = {"constraints": constraints}
    spawner.passwd_file = _get(settings, "passwd_file", str)
    spawner.home_root = _get(settings, "home_root", str)
    pids_limit = _get(settings, "pids_limit", int, default=DEFAULT_PIDS_LIMIT)
    if pids_limit < 0:
        raise ValueError("hub settings: pids_limit must be 0 (no limit) or more")
    spawner.pids_limit = pids_limit
    # servers ignore config files in the user's home (~/.jupyter): the hub decides how
    # they run, not a file the user (or whatever wrote into the home) left there
    spawner.disable_user_config = True
    spawner.start_timeout = _seconds(settings, "spawn_timeout", 120)
    spawner.http_timeout = _seconds(settings, "http_timeout", 60)
    # a server whose node went down counts as stopped at the next poll: every 10 s
    # (JupyterHub's 30 s default), so the hub stops sending its user to a dead node
    # within about 25 s of the node's last heartbeat; the node list behind it is read
    # once for all servers (node_state_ttl)
    spawner.poll_interval = 10
    # SwarmSpawner always removes services on stop (remove is a constant there, not a
    # trait), so there is nothing to configure for that.


def _environments(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The environments, checked, with limits in bytes and CPUs."""
    entries = _get(settings, "environments", list)
    if not all(isinstance(e, dict) for e in entries):
        raise ValueError(f"hub settings: environments must be a list of objects; {FIX_HINT}")
    result = []
    for i, entry in enumerate(entries):
        env = dict(entry)
        where = f"environments[{i}]."
        for key in ("mem_limit", "mem_reservation"):
            size = _get(entry, key, (str, int), prefix=where, default=None)
            env[key] = _byte_size(size, where + key) if size is not None else None
        if env["mem_limit"] and (env["mem_reservation"] or 0) > env["mem_limit"]:
            raise ValueError(f"hub settings: {where}mem_reservation is more than {where}mem_limit")
        cpu = _get(entry, "cpu_limit", (int, float), prefix=where, default=None)
        if cpu is not None and cpu <= 0:
            raise ValueError(f"hub settings: {where}cpu_limit must be positive, not {cpu}")
        env["cpu_limit"] = float(cpu) if cpu is not None else None
        result.append(env)
    parse_environments(result)
    return result


def configure_authenticator(c: Any, settings: Mapping[str, Any]) -> None:
    admin_users = admin_users_from(settings)
    c.Authenticator.admin_users = admin_users
    # The admin role with its users listed makes the list exact at every start: a
    # name taken off it loses admin (admin_users alone only ever adds admins, and
    # login never revokes). JupyterHub logs a warning that both are set; it merges
    # the same names, and admin_users is still needed for logins (admin password).
    c.JupyterHub.load_roles = [*_load_roles(c), {"name": "admin", "users": sorted(admin_users)}]
    allowed_users = set(_get_str_list(settings, "allowed_users"))
    bad_names = sorted(name for name in allowed_users if not usernames.is_valid(name))
    if bad_names:
        raise ValueError(
            f"hub settings: allowed_users has invalid user name(s) {', '.join(bad_names)}; "
            f"a user name must have {usernames.RULE_TEXT}"
        )
    c.Authenticator.allowed_users = allowed_users
    # the one rule (swarmhub.common.usernames): what restuser accepts, without "--" or a
    # trailing "-" (see service_name_for)
    c.Authenticator.username_pattern = usernames.USERNAME_PATTERN
    username_map = _get(settings, "username_map", dict, default={})
    if not all(isinstance(k, str) and isinstance(v, str) and v for k, v in username_map.items()):
        raise ValueError(f"hub settings: username_map must map names to names; {FIX_HINT}")
    bad_targets = sorted(v for v in username_map.values() if not usernames.is_valid(v))
    if bad_targets:
        raise ValueError(
            f"hub settings: username_map gives invalid user name(s) {', '.join(bad_targets)}; "
            f"a user name must have {usernames.RULE_TEXT}"
        )
    c.Authenticator.username_map = username_map
    crypt_key_file = _get(settings, "crypt_key_file", str, default=None)
    if crypt_key_file:
        # auth_state (the user's uid/gid) is stored encrypted in the hub's database
        key = read_secret(crypt_key_file, "crypt_key_file")
        try:
            c.CryptKeeper.keys = [bytes.fromhex(key)]
        except ValueError:
            raise ValueError(
                f"hub settings: {crypt_key_file} (crypt_key_file) must hold 64 hex digits"
            ) from None
        c.Authenticator.enable_auth_state = True
    restuser_socket = _get(settings, "restuser_socket", str, default="")

    auth = _get(settings, "auth", dict)
    kind = _get(auth, "kind", str, prefix="auth.")
    if kind not in AUTH_KEYS:
        raise ValueError(
            f"hub settings: unknown auth.kind {kind!r}; use one of {', '.join(sorted(AUTH_KEYS))}"
        )
    _reject_unknown_keys(auth, AUTH_KEYS[kind], "auth.")
    if kind == "google":
        if not crypt_key_file:
            raise ValueError(
                "hub settings: Google login needs crypt_key_file: the Google identity that "
                "owns each user name is kept in the encrypted auth_state; " + FIX_HINT
            )
        _configure_google(c, auth, allowed_users)
        authenticator = c.SwarmhubGoogleOAuthenticator
    else:
        _configure_shared_password(c, auth, allowed_users)
        authenticator = c.SwarmhubSharedPasswordAuthenticator
    authenticator.restuser_socket = restuser_socket
    # read when restuser is down: existing users still log in (SystemAccountMixin)
    authenticator.passwd_file = _get(settings, "passwd_file", str, default="/etc/passwd")
    authenticator.group_file = _get(settings, "group_file", str, default="/etc/group")
    authenticator.hub_home_root = _get(settings, "hub_home_root", str, default="")


def admin_users_from(settings: Mapping[str, Any]) -> set[str]:
    """The hub's admins: admin_users_file (written by admins.yml) if it exists, else
    admin_users. The file replaces the list; it does not add to it."""
    admin_file = _get(settings, "admin_users_file", str, default=None)
    if admin_file:
        try:
            text = Path(admin_file).read_text(encoding="utf-8")
        except FileNotFoundError:
            text = None
        except OSError as e:
            raise ValueError(
                f"hub settings: cannot read admin_users_file {admin_file} ({e.strerror})"
            ) from None
        if text is not None:
            try:
                names = json.loads(text)
            except json.JSONDecodeError as e:
                names = e
            if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
                raise ValueError(
                    f"hub settings: admin_users_file {admin_file} must hold a JSON list of "
                    "user names; run ./script/deploy admins.yml again to rewrite it"
                )
            return set(names)
    return set(_get_str_list(settings, "admin_users"))


def _load_roles(c: Any) -> list[Any]:
    # what earlier steps put in load_roles (nothing yet: traitlets' Config is empty)
    return list(c.JupyterHub.load_roles) if "load_roles" in c.JupyterHub else []


def _configure_google(c: Any, auth: Mapping[str, Any], allowed_users: set[str]) -> None:
    c.JupyterHub.authenticator_class = SwarmhubGoogleOAuthenticator
    # the GoogleOAuthenticator section applies to the subclass too
    google = c.GoogleOAuthenticator
    google.client_id = _get(auth, "client_id", str, prefix="auth.")
    google.client_secret = read_secret(
        _get(auth, "client_secret_file", str, prefix="auth."), "auth.client_secret_file"
    )
    hosted_domain = _get_str_list(auth, "hosted_domain", prefix="auth.")
    google.hosted_domain = hosted_domain
    google.oauth_callback_url = _get(auth, "oauth_callback_url", str, prefix="auth.")
    # null means Google's own endpoints; tests point these at a local OAuth server
    for key in ("authorize_url", "token_url", "userdata_url"):
        url = _get(auth, key, str, prefix="auth.", default=None)
        if url:
            setattr(google, key, url)
    # the username (username_claim) is SwarmhubGoogleOAuthenticator's own: the email
    # map, then the hosted domains (swarmhub.hub.authenticators.google_username)
    try:
        domain_labels(hosted_domain)  # several domains: their name parts must not clash
    except ValueError as e:
        raise ValueError(f"hub settings: auth.hosted_domain: {e}") from None
    email_map = _email_map(auth)
    c.SwarmhubGoogleOAuthenticator.email_map = email_map
    if not hosted_domain:
        # a name must come from a full email: a bare name would admit whoever has
        # that local part at any domain (gmail.com, for one)
        unmapped = sorted(allowed_users - set(email_map.values()))
        if not allowed_users or unmapped:
            raise ValueError(
                "hub settings: Google login without auth.hosted_domain admits only users "
                "given as full emails with their names (auth.email_map)"
                + (f"; not given so: {', '.join(unmapped)}" if unmapped else "; there are none")
                + f"; {FIX_HINT}"
            )
    elif not allowed_users:
        google.allow_all = True


def _email_map(auth: Mapping[str, Any]) -> dict[str, str]:
    """auth.email_map checked: full emails (lower case) to valid names, one to one."""
    raw = _get(auth, "email_map", dict, prefix="auth.", default={})
    result: dict[str, str] = {}
    owners: dict[str, str] = {}
    for email, name in raw.items():
        key = normalize_email(email)
        local, at, domain = key.rpartition("@")
        if not (at and local and domain):
            raise ValueError(f"hub settings: auth.email_map key {email!r} is not an email")
        if not isinstance(name, str) or not usernames.is_valid(name):
            raise ValueError(
                f"hub settings: auth.email_map gives {email} the name {name!r}; "
                f"a user name must have {usernames.RULE_TEXT}"
            )
        if key in result:
            raise ValueError(f"hub settings: auth.email_map lists {key} twice")
        if name in owners:
            # two Google accounts, one system account: exactly what must not happen
            raise ValueError(
                f"hub settings: auth.email_map gives the name {name} to both {owners[name]} "
                f"and {key}; each name belongs to one email"
            )
        result[key] = name
        owners[name] = key
    return result


def _configure_shared_password(c: Any, auth: Mapping[str, Any], allowed_users: set[str]) -> None:
    c.JupyterHub.authenticator_class = SwarmhubSharedPasswordAuthenticator
    shared = c.SharedPasswordAuthenticator
    user_file = _get(auth, "password_file", str, prefix="auth.")
    user_password = read_secret(user_file, "auth.password_file")
    _check_password_length(user_password, "auth.password_file", user_file, 8)
    shared.user_password = user_password
    admin_file = _get(auth, "admin_password_file", str, prefix="auth.", default=None)
    if admin_file:
        admin_password = read_secret(admin_file, "auth.admin_password_file")
        _check_password_length(admin_password, "auth.admin_password_file", admin_file, 32)
        if admin_password == user_password:
            raise ValueError(
                f"hub settings: auth.password_file and auth.admin_password_file "
                f"({admin_file}) hold the same password; generate a different admin password"
            )
        shared.admin_password = admin_password
    if not allowed_users:
        # anyone who knows the password may log in, under any name
        shared.allow_all = True


def read_secret(path: str, key: str) -> str:
    """The content of a secret file, without surrounding whitespace."""
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
        raise ValueError(
            f"hub settings: cannot read secret file {path} named by {key} ({reason}); "
            "check that the jupyterhub role wrote it and that the hub can read it"
        ) from None
    if not value:
        raise ValueError(
            f"hub settings: secret file {path} named by {key} is empty; "
            "set the secret in the vault and deploy again"
        )
    return value


def _check_password_length(password: str, key: str, path: str, minimum: int) -> None:
    # SharedPasswordAuthenticator enforces these too, but only when the hub starts
    # and without saying which file to fix
    if len(password) < minimum:
        raise ValueError(
            f"hub settings: the password in {path} ({key}) is {len(password)} characters "
            f"long; SharedPasswordAuthenticator needs at least {minimum}: generate a longer one"
        )


def _get(
    settings: Mapping[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    *,
    prefix: str = "",
    default: Any = _MISSING,
) -> Any:
    """settings[key], checked against `kind`; null counts as missing."""
    value = settings.get(key)
    if value is None:
        if default is _MISSING:
            raise ValueError(f"hub settings: missing key {prefix}{key}; {FIX_HINT}")
        return default
    # JSON true/false are bools, which Python also counts as ints
    if isinstance(value, bool) and bool not in _as_tuple(kind):
        value_ok = False
    else:
        value_ok = isinstance(value, kind)
    if not value_ok:
        expected = " or ".join(dict.fromkeys(_json_type_name(k) for k in _as_tuple(kind)))
        raise ValueError(
            f"hub settings: {prefix}{key} must be {expected}, not {json.dumps(value)}; {FIX_HINT}"
        )
    return value


def _get_str_list(settings: Mapping[str, Any], key: str, *, prefix: str = "") -> list[str]:
    values = _get(settings, key, list, prefix=prefix, default=[])
    if not all(isinstance(v, str) and v for v in values):
        raise ValueError(
            f"hub settings: {prefix}{key} must be a list of non-empty strings, "
            f"not {json.dumps(values)}; {FIX_HINT}"
        )
    return list(values)


def _seconds(settings: Mapping[str, Any], key: str, default: int) -> int:
    value = _get(settings, key, (int, float), default=default)
    if value <= 0:
        raise ValueError(f"hub settings: {key} must be a positive number of seconds")
    return int(value)


def _byte_size(value: str | int, key: str) -> int:
    try:
        size = ByteSpecification().validate(None, value)
    except TraitError:
        raise ValueError(
            f"hub settings: {key} {value!r} is not a size; use bytes or a number "
            'with K, M, G or T, e.g. "1G"'
        ) from None
    if size <= 0:
        raise ValueError(f"hub settings: {key} must be positive, not {value!r}")
    return int(size)


def _reject_unknown_keys(settings: Mapping[str, Any], known: frozenset[str], prefix: str) -> None:
    # a misspelt key would otherwise be ignored silently and its default used
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(
            f"hub settings: unknown key(s) {', '.join(prefix + k for k in unknown)}; "
            f"known keys are {', '.join(prefix + k for k in sorted(known))}"
        )


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _json_type_name(kind: type) -> str:
    return {
        str: "a string",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "an object",
        bool: "true or false",
    }.get(kind, kind.__name__)
