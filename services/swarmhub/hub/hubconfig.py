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

from ..common import exchange_protocol, usernames
from ..common.courses import expand, members_of_groups, parse_courses
from .authenticators import SwarmhubGoogleOAuthenticator, SwarmhubSharedPasswordAuthenticator
from .database import use_write_ahead_log
from .environments_page import environments_handlers
from .google_names import normalize_email
from .node_images import NodeImages
from .projects_handlers import PROJECTS_TEMPLATES, projects_handlers
from .proxy import ExternalProxy
from .settings import FIX_HINT, byte_size, checked, filled
from .spawner import SwarmUserSpawner, stop_reasons

log = logging.getLogger(__name__)

HUB_PORT = 8000  # configurable-http-proxy; nginx forwards here
# JupyterHub role whose members may open the services marked for_instructors
# (the activity statistics), as admins may.
INSTRUCTORS_ROLE = "instructors"


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
    """Apply hub settings to a traitlets config object (the `c` of jupyterhub_config.py).

    The settings are checked against their schema (swarmhub.hub.settings) first,
    as the deploy checked them before any host changed: a problem stops the hub
    with every problem listed."""
    settings = checked(settings)
    configure_hub(c, settings)
    configure_proxy(c, settings)
    configure_spawner(c, settings)
    configure_authenticator(c, settings)
    configure_ops_service(c, settings)
    configure_courses(c, settings)


# What the operator's commands (script/bench, admins.yml, later restore and status)
# may do through the hub API: start and stop servers, list and read users (admins.yml
# reads who is admin before and after). Nothing else.
OPS_SERVICE = "swarmhub-ops"
# admin:users: script/bench burst adds its users to the hub (as an admin adds a class
# on the admin page) and removes them; whoever can read the token is root on the hub
OPS_SCOPES = ["servers", "read:users", "list:users", "admin:users"]
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
    settings = filled(settings)
    services: list[dict[str, Any]] = []
    roles: list[dict[str, Any]] = []
    for_instructors: list[str] = []
    token_file = settings["ops_token_file"]
    if token_file:
        token = read_secret(token_file, "ops_token_file")
        services.append({"name": OPS_SERVICE, "api_token": token})
        roles.append({"name": OPS_SERVICE, "scopes": OPS_SCOPES, "services": [OPS_SERVICE]})
    for i, entry in enumerate(settings["services"]):
        name = entry["name"]
        token = read_secret(entry["token_file"], f"services[{i}].token_file")
        service: dict[str, Any] = {"name": name, "api_token": token}
        if entry["url"]:
            # a sidecar starts after the hub: waiting the default 30 s for it would
            # hold the hub's own start (the proxy gets no routes until then)
            service.update(url=entry["url"], oauth_no_confirm=True, timeout=SIDECAR_WAIT_SECONDS)
        services.append(service)
        if entry["scopes"]:
            roles.append({"name": f"{name}-service", "scopes": entry["scopes"], "services": [name]})
        if entry["for_instructors"]:
            for_instructors.append(f"access:services!service={name}")
        if entry["access_groups"]:
            roles.append(
                {
                    "name": f"{name}-users",
                    "scopes": [f"access:services!service={name}"],
                    "groups": entry["access_groups"],
                }
            )
    # A role, not a group: JupyterHub makes a role's listed users exact at every start,
    # so a name taken off the list loses access (load_groups only ever adds members).
    instructors = {
        "name": INSTRUCTORS_ROLE,
        "description": "Instructors: may open the activity statistics",
        "scopes": for_instructors,
        "users": sorted(settings["instructors"]),
    }
    orphan_check = settings["orphan_check_seconds"]
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


# The course exchange's hub service (roles/courses): every server's token may call it,
# and the exchange itself decides who may do what in which course.
EXCHANGE_SERVICE = "exchange"
# The scopes of a server's own token: the hub's default server role, plus the exchange.
SERVER_TOKEN_SCOPES = ["users:activity!user", "access:servers!server"]


def configure_courses(c: Any, settings: Mapping[str, Any]) -> None:
    """nbgrader courses: each server's token reaches the exchange; each course's
    formgrader (a hub service, formgrader-NAME) opens for its instructors and graders.

    Roles, not hub groups: a role's users are made exact at every hub start, so
    someone taken out of a course loses its formgrader (load_groups only adds).
    """
    settings = filled(settings)
    courses = parse_courses(settings["courses"])
    if not courses:
        return
    exchange_scope = f"access:services!service={EXCHANGE_SERVICE}"
    c.Spawner.server_token_scopes = [*SERVER_TOKEN_SCOPES, exchange_scope]
    c.Spawner.environment = {
        **_spawner_environment(c),
        exchange_protocol.URL_ENV: settings["exchange_url"],
    }
    groups = members_of_groups(settings["group_file"])
    roles = [{"name": "user", "scopes": ["self", exchange_scope]}]
    for course in courses:
        service = exchange_protocol.formgrader_service(course.name)
        roles.append(
            {
                "name": f"{service}-users",
                "description": f"Instructors and graders of {course.name}: its formgrader",
                "scopes": [f"access:services!service={service}"],
                "users": sorted(expand(course.staff, groups)),
            }
        )
    c.JupyterHub.load_roles = [*_load_roles(c), *roles]


def _spawner_environment(c: Any) -> dict[str, str]:
    return dict(c.Spawner.environment) if "environment" in c.Spawner else {}


def configure_hub(c: Any, settings: Mapping[str, Any]) -> None:
    settings = filled(settings)
    c.JupyterHub.bind_url = f"http://0.0.0.0:{HUB_PORT}/"
    public_url = settings["public_url"]
    if public_url:
        # links and redirects the hub makes point where browsers come in (nginx)
        c.JupyterHub.public_url = public_url.rstrip("/") + "/"
    if settings["user_subdomains"]:
        # each user's servers on USER.HOST, each service on NAME--service.HOST:
        # a page one of them serves cannot read the hub's or another's (same-origin)
        c.JupyterHub.subdomain_host = public_url.rstrip("/")
    c.JupyterHub.hub_ip = "0.0.0.0"
    c.JupyterHub.hub_port = settings["hub_api_port"]
    c.JupyterHub.hub_connect_ip = settings["hub_connect_host"]
    c.JupyterHub.db_url = settings["db_url"]
    if settings["db_url"].startswith("sqlite:"):
        use_write_ahead_log(settings["db_url"])
    c.JupyterHub.cookie_secret_file = settings["cookie_secret_file"]
    c.JupyterHub.allow_named_servers = True
    c.JupyterHub.named_server_limit_per_user = settings["named_server_limit"]
    activity = settings["activity_interval"]
    if activity is not None:
        # how often the hub reads activity from the proxy, and servers report theirs
        c.JupyterHub.last_activity_interval = int(activity)
        c.Spawner.environment = {"JUPYTERHUB_ACTIVITY_INTERVAL": str(int(activity))}
    configure_busy_hub(c, settings)
    # the projects page and API (deprecated mechanism, still supported in JupyterHub 6)
    # and the admins' environments page (environments built from git)
    c.JupyterHub.extra_handlers = projects_handlers(
        settings["hub_home_root"]
    ) + environments_handlers(
        settings["environment_builder_socket"], settings["environments"], node_images(c, settings)
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


def node_images(c: Any, settings: Mapping[str, Any]) -> NodeImages | None:
    """Built environments' images copied onto the nodes (node_images.py), watched from
    now on; the spawner offers only those. None without built environments."""
    if not (settings["built_environments_file"] and settings["node_jobs_image"]):
        return None
    import docker  # the hub's own dependency (dockerspawner's)

    images = NodeImages(
        docker.APIClient(version="auto"),
        settings["built_environments_file"],
        settings["node_jobs_image"],
        constraints=list(settings["placement_constraints"]),
    )
    images.start()
    c.SwarmUserSpawner.node_images = images
    return images


def configure_busy_hub(c: Any, settings: Mapping[str, Any]) -> None:
    """What keeps the hub answering while a class logs in at once (README, "A busy hub")."""
    settings = filled(settings)
    # one start too many gets the spawn form again with "Try again in N seconds", a
    # wait drawn from spawn_retry_seconds; the form asks again by itself then
    # (templates/spawn_retry.js)
    c.JupyterHub.concurrent_spawn_limit = settings["concurrent_spawn_limit"]
    least, most = settings["spawn_retry_seconds"]
    # not a trait of its own in JupyterHub 6: its tornado setting is the one place
    c.JupyterHub.tornado_settings = {"spawn_throttle_retry_range": (least, most)}
    # each write of a last_activity is a commit on the event loop
    c.JupyterHub.activity_resolution = int(settings["activity_resolution"])
    c.JupyterHub.init_spawners_timeout = settings["init_spawners_timeout"]


def configure_proxy(c: Any, settings: Mapping[str, Any]) -> None:
    """A proxy in its own container (proxy_api_url), or else one the hub starts itself."""
    settings = filled(settings)
    api_url, token_file = settings["proxy_api_url"], settings["proxy_token_file"]
    if not (api_url and token_file):
        return  # the hub starts configurable-http-proxy (from PATH) and stops it
    c.JupyterHub.proxy_class = ExternalProxy
    c.ConfigurableHTTPProxy.api_url = api_url
    c.ConfigurableHTTPProxy.auth_token = read_secret(token_file, "proxy_token_file")


def configure_spawner(c: Any, settings: Mapping[str, Any]) -> None:
    settings = filled(settings)
    c.JupyterHub.spawner_class = SwarmUserSpawner
    spawner = c.SwarmUserSpawner
    environments = [
        dict(
            env,
            mem_limit=_bytes(env["mem_limit"]),
            mem_reservation=_bytes(env["mem_reservation"]),
            cpu_limit=float(env["cpu_limit"]) if env["cpu_limit"] is not None else None,
        )
        for env in settings["environments"]
    ]
    spawner.environments = environments
    spawner.image = environments[0]["image"]
    # only these images: users choose an environment by name and cannot name another
    spawner.allowed_images = {e["name"]: e["image"] for e in environments}
    spawner.network_name = settings["network"]
    spawner.use_internal_ip = True
    spawner.shares = settings["shares"]
    spawner.group_file = settings["group_file"]
    spawner.hub_home_root = settings["hub_home_root"]
    spawner.built_environments_file = settings["built_environments_file"]
    spawner.data_dir = settings["data_dir"]
    spawner.project_limit = settings["project_limit"]
    spawner.extra_placement_spec = {"constraints": settings["placement_constraints"]}
    spawner.passwd_file = settings["passwd_file"]
    spawner.home_root = settings["home_root"]
    spawner.pids_limit = settings["pids_limit"]
    # servers ignore config files in the user's home (~/.jupyter): the hub decides how
    # they run, not a file the user (or whatever wrote into the home) left there
    spawner.disable_user_config = True
    spawner.start_timeout = int(settings["spawn_timeout"])
    spawner.http_timeout = int(settings["http_timeout"])
    # a server whose node went down counts as stopped at the next poll: every 10 s
    # (JupyterHub's 30 s default), so the hub stops sending its user to a dead node
    # within about 25 s of the node's last heartbeat; the node list behind it is read
    # once for all servers (node_state_ttl)
    spawner.poll_interval = 10
    # SwarmSpawner always removes services on stop (remove is a constant there, not a
    # trait), so there is nothing to configure for that.


def _bytes(size: str | int | None) -> int | None:
    return byte_size(size) if size is not None else None


def configure_authenticator(c: Any, settings: Mapping[str, Any]) -> None:
    settings = filled(settings)
    admin_users = admin_users_from(settings)
    c.Authenticator.admin_users = admin_users
    # The admin role with its users listed makes the list exact at every start: a
    # name taken off it loses admin (admin_users alone only ever adds admins, and
    # login never revokes). JupyterHub logs a warning that both are set; it merges
    # the same names, and admin_users is still needed for logins (admin password).
    c.JupyterHub.load_roles = [*_load_roles(c), {"name": "admin", "users": sorted(admin_users)}]
    allowed_users = set(settings["allowed_users"])
    c.Authenticator.allowed_users = allowed_users
    # the one rule (swarmhub.common.usernames): what restuser accepts, without "--" or a
    # trailing "-" (see service_name_for)
    c.Authenticator.username_pattern = usernames.USERNAME_PATTERN
    c.Authenticator.username_map = settings["username_map"]
    crypt_key_file = settings["crypt_key_file"]
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
    auth = settings["auth"]
    if auth["kind"] == "google":
        _configure_google(c, auth, allowed_users)
        authenticator = c.SwarmhubGoogleOAuthenticator
    else:
        _configure_shared_password(c, auth, allowed_users)
        authenticator = c.SwarmhubSharedPasswordAuthenticator
    authenticator.restuser_socket = settings["restuser_socket"]
    # read when restuser is down: existing users still log in (SystemAccountMixin)
    authenticator.passwd_file = settings["passwd_file"] or "/etc/passwd"
    authenticator.group_file = settings["group_file"]
    authenticator.hub_home_root = settings["hub_home_root"]


def admin_users_from(settings: Mapping[str, Any]) -> set[str]:
    """The hub's admins: admin_users_file (written by admins.yml) if it exists, else
    admin_users. The file replaces the list; it does not add to it."""
    settings = filled(settings)
    admin_file = settings["admin_users_file"]
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
    return set(settings["admin_users"])


def _load_roles(c: Any) -> list[Any]:
    # what earlier steps put in load_roles (nothing yet: traitlets' Config is empty)
    return list(c.JupyterHub.load_roles) if "load_roles" in c.JupyterHub else []


def _configure_google(c: Any, auth: Mapping[str, Any], allowed_users: set[str]) -> None:
    c.JupyterHub.authenticator_class = SwarmhubGoogleOAuthenticator
    # the GoogleOAuthenticator section applies to the subclass too
    google = c.GoogleOAuthenticator
    google.client_id = auth["client_id"]
    google.client_secret = read_secret(auth["client_secret_file"], "auth.client_secret_file")
    google.hosted_domain = auth["hosted_domain"]
    google.oauth_callback_url = auth["oauth_callback_url"]
    # null means Google's own endpoints; tests point these at a local OAuth server
    for key in ("authorize_url", "token_url", "userdata_url"):
        if auth[key]:
            setattr(google, key, auth[key])
    # the username (username_claim) is SwarmhubGoogleOAuthenticator's own: the email
    # map, then the hosted domains (swarmhub.hub.google_names.google_username)
    c.SwarmhubGoogleOAuthenticator.email_map = {
        normalize_email(email): name for email, name in auth["email_map"].items()
    }
    if auth["hosted_domain"] and not allowed_users:
        google.allow_all = True


def _configure_shared_password(c: Any, auth: Mapping[str, Any], allowed_users: set[str]) -> None:
    c.JupyterHub.authenticator_class = SwarmhubSharedPasswordAuthenticator
    shared = c.SharedPasswordAuthenticator
    user_file = auth["password_file"]
    user_password = read_secret(user_file, "auth.password_file")
    _check_password_length(user_password, "auth.password_file", user_file, 8)
    shared.user_password = user_password
    admin_file = auth["admin_password_file"]
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
