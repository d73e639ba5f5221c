"""The hub's settings (/etc/swarmhub/hub.json, rendered by the jupyterhub role):
one schema, with every key's type, default and rule.

Two readers check against it: the deploy's first plays, on the control machine,
before any host changes (roles/jupyterhub/tasks/check_settings.yml, through the
filter swarmhub_hub_settings_problems), and the hub at start (hubconfig.configure).
What only the hub host can know (secret files, the admins file) is checked at
start alone. Standard library only: Ansible imports this module.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..common import usernames
from ..common.courses import parse_courses
from .environments import parse_environments
from .google_names import domain_labels, normalize_email
from .shares import parse_shares

FIX_HINT = "fix the jupyterhub role's settings (group_vars) and deploy again"
REQUIRED = object()  # a Key without a default must be given
# JupyterHub's ByteSpecification: a number of bytes, or a number with K, M, G or T
BYTE_UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


class SettingsError(ValueError):
    """Settings that do not follow the schema; the message lists every problem."""


# A rule gets the value (of the right type) and where it is ("environments[0].cpu_limit")
# and yields what is wrong with it.
Rule = Callable[[Any, str], Iterator[str]]


@dataclass(frozen=True)
class Key:
    kind: tuple[type, ...]
    default: Any = REQUIRED
    rule: Rule | None = None
    doc: str = ""
    # the Ansible variable the jupyterhub role writes it from ("": a fixed path or name)
    ansible: str = ""


def _range(ok: Callable[[Any], bool], must: str) -> Rule:
    """A rule for a number: `ok` says whether it is right, `must` what it must be."""

    def rule(value: Any, where: str) -> Iterator[str]:
        if not ok(value):
            yield f"{where} must be {must}, not {value}"

    return rule


_positive = _range(lambda v: v > 0, "positive")
_zero_or_more = _range(lambda v: v >= 0, "0 (no limit) or more")
_seconds = _range(lambda v: v > 0, "a positive number of seconds")
_at_least_one = _range(lambda v: v >= 1, "at least 1")
_port = _range(lambda v: 0 < v < 65536, "a port number")


_init_timeout = _range(lambda v: v == -1 or v > 0, "-1 (check them all) or positive")


def _retry_range(value: Any, where: str) -> Iterator[str]:
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    if not (len(value) == 2 and numbers and 0 < value[0] <= value[1]):
        yield f"{where} must be [least, most] seconds with 0 < least <= most, not {value}"


def _names(value: Any, where: str) -> Iterator[str]:
    if not all(isinstance(v, str) and v for v in value):
        yield f"{where} must be a list of non-empty strings"


def _user_names(value: Any, where: str) -> Iterator[str]:
    yield from _names(value, where)
    bad = sorted(v for v in value if isinstance(v, str) and v and not usernames.is_valid(v))
    if bad:
        yield (
            f"{where} has invalid user name(s) {', '.join(bad)}; "
            f"a user name must have {usernames.RULE_TEXT}"
        )


def _username_map(value: Any, where: str) -> Iterator[str]:
    if not all(isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()):
        yield f"{where} must map names to names"
        return
    bad = sorted(v for v in value.values() if not usernames.is_valid(v))
    if bad:
        yield (
            f"{where} gives invalid user name(s) {', '.join(bad)}; "
            f"a user name must have {usernames.RULE_TEXT}"
        )


def _proxy_url(value: Any, where: str) -> Iterator[str]:
    if not value.startswith(("http://", "https://", "http+unix://")):
        yield f"{where} {value!r} must be an http://, https:// or http+unix:// URL"


def byte_size(value: Any) -> int:
    """A size as JupyterHub's ByteSpecification reads it; ValueError if it is none."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        return int(value)
    text = str(value)
    if text.isdigit():
        return int(text)
    unit = BYTE_UNITS.get(text[-1:])
    if unit is None:
        raise ValueError(value)
    return int(float(text[:-1]) * unit)


def _size(value: Any, where: str) -> Iterator[str]:
    try:
        size = byte_size(value)
    except ValueError:
        yield f'{where} {value!r} is not a size; use bytes or a number with K, M, G or T, e.g. "1G"'
        return
    if size <= 0:
        yield f"{where} must be positive, not {value!r}"


STR, INT, NUMBER, BOOL, LIST, OBJECT = (str,), (int,), (int, float), (bool,), (list,), (dict,)
SIZE = (str, int)

ENVIRONMENT: dict[str, Key] = {
    "name": Key(STR, doc="the environment's name; also its folder in each home"),
    "image": Key(STR, doc="the image its servers run (by digest for the cluster's own)"),
    "description": Key(STR, "", doc="shown in the spawn form"),
    "mem_limit": Key(SIZE, None, _size, "most memory of each server"),
    "mem_reservation": Key(SIZE, None, _size, "memory set aside for each server"),
    "cpu_limit": Key(NUMBER, None, _positive, "most CPUs of each server"),
    "seed_from": Key(STR, "/home/jovyan", doc="folder of the image copied once into the home"),
}

SHARE: dict[str, Key] = {
    "name": Key(STR),
    "path": Key(STR),
    "level": Key(STR),
    "readers": Key(LIST, [], _names),
    "writers": Key(LIST, [], _names),
}

SERVICE: dict[str, Key] = {
    "name": Key(STR, doc="the hub service's name"),
    "token_file": Key(STR, doc="file holding its API token"),
    "scopes": Key(LIST, [], _names, "the scopes of its role"),
    "url": Key(STR, None, doc="where the hub proxies /services/NAME/ (a page)"),
    "access_groups": Key(LIST, [], _names, "hub groups that may open its page"),
    "for_instructors": Key(BOOL, False, doc="the instructors may open its page"),
}


def _late_policy(value: Any, where: str) -> Iterator[str]:
    if value not in LATE_POLICIES:
        yield f"{where} must be one of {', '.join(LATE_POLICIES)}"


# nbgrader's LateSubmissionPlugin.penalty_method values a course may choose
LATE_POLICIES = ("none", "zero")

COURSE: dict[str, Key] = {
    "name": Key(STR, doc="the course's name (also its nbgrader course id)"),
    "instructors": Key(LIST, [], _names, "user names or @groups"),
    "graders": Key(LIST, [], _names, "user names or @groups"),
    "students": Key(LIST, [], _names, "user names or @groups"),
    "late_policy": Key(STR, "none", _late_policy, "what a late submission scores"),
}

GOOGLE: dict[str, Key] = {
    "kind": Key(STR),
    "client_id": Key(STR, doc="the OAuth client's id"),
    "client_secret_file": Key(STR, doc="file holding the OAuth client's secret"),
    "hosted_domain": Key(LIST, [], _names, "Google Workspace domains whose accounts log in"),
    "oauth_callback_url": Key(STR),
    "authorize_url": Key(STR, None, doc="null: Google's own"),
    "token_url": Key(STR, None, doc="null: Google's own"),
    "userdata_url": Key(STR, None, doc="null: Google's own"),
    "email_map": Key(OBJECT, {}, doc="full email -> user name"),
}

SHARED_PASSWORD: dict[str, Key] = {
    "kind": Key(STR),
    "password_file": Key(STR, doc="file holding the users' password (8 characters or more)"),
    "admin_password_file": Key(STR, None, doc="file holding the admins' (32 or more)"),
}

AUTH = {"google": GOOGLE, "shared_password": SHARED_PASSWORD}

SETTINGS: dict[str, Key] = {
    "public_url": Key(
        STR, None, doc="where browsers come in (nginx)", ansible="swarmhub_public_url"
    ),
    "user_subdomains": Key(
        BOOL, False, doc="each user's servers on USER.HOST", ansible="swarmhub_user_subdomains"
    ),
    "hub_connect_host": Key(
        STR, doc="the hub's address on the overlay network", ansible="swarmhub_hub_ip"
    ),
    "hub_api_port": Key(
        INT, 8081, _port, "the hub API's port there", ansible="swarmhub_hub_api_port"
    ),
    "network": Key(
        STR, doc="the overlay network of the hub and user servers", ansible="swarmhub_network"
    ),
    "environments": Key(
        LIST,
        doc="what users choose from; the first is the default",
        ansible="swarmhub_environments",
    ),
    "placement_constraints": Key(
        LIST,
        [],
        _names,
        "swarm constraints of every server",
        ansible="jupyterhub_placement_constraints",
    ),
    "passwd_file": Key(STR, doc="the hub host's passwd, as the hub container sees it"),
    "group_file": Key(STR, "/etc/group", doc="the hub host's group file, likewise"),
    "home_root": Key(STR, doc="where homes are on the nodes"),
    "hub_home_root": Key(
        STR, "", doc="where the hub container sees the homes", ansible="jupyterhub_home_mount"
    ),
    "data_dir": Key(STR, "", doc="the course data, mounted read-only in servers"),
    "shares": Key(
        LIST, [], doc="shared folders and who reads or writes them", ansible="swarmhub_shares"
    ),
    "courses": Key(LIST, [], doc="nbgrader courses and their people", ansible="swarmhub_courses"),
    "environment_builder_socket": Key(
        STR, "", doc="the environment builder's API socket (empty: no environments page)"
    ),
    "built_environments_file": Key(
        STR, "", doc="the builder's catalog, read at each start (empty: no built environments)"
    ),
    "node_jobs_image": Key(
        STR,
        "",
        doc="the image of the hub's jobs on every node, which pull built environments' "
        "images there and remove them (one every node has, with python3)",
    ),
    "exchange_url": Key(
        STR, None, doc="the course exchange on the overlay network (null: no courses)"
    ),
    "project_limit": Key(
        INT, 5, _at_least_one, "most projects per user", ansible="jupyterhub_project_limit"
    ),
    "pids_limit": Key(
        INT,
        1024,
        _zero_or_more,
        "most processes per server (0: no limit)",
        ansible="jupyterhub_pids_limit",
    ),
    "named_server_limit": Key(
        INT,
        2,
        _zero_or_more,
        "named servers per user (0: no limit)",
        ansible="jupyterhub_named_server_limit",
    ),
    "admin_users": Key(LIST, [], _user_names, "the hub's admins", ansible="swarmhub_admin_users"),
    "admin_users_file": Key(STR, None, doc="written by admins.yml; replaces admin_users"),
    "allowed_users": Key(
        LIST,
        [],
        _user_names,
        "who may log in (empty: any the login admits)",
        ansible="swarmhub_allowed_users",
    ),
    "instructors": Key(
        LIST, [], _names, "who may open the activity statistics", ansible="swarmhub_instructors"
    ),
    "username_map": Key(
        OBJECT, {}, _username_map, "login name -> user name", ansible="jupyterhub_username_map"
    ),
    "restuser_socket": Key(STR, "", doc="restuser's socket (accounts made at first login)"),
    "crypt_key_file": Key(STR, None, doc="file holding the key of auth_state (64 hex digits)"),
    "spawn_timeout": Key(
        NUMBER,
        120,
        _seconds,
        "seconds a server may take to start",
        ansible="jupyterhub_spawn_timeout",
    ),
    "http_timeout": Key(
        NUMBER,
        60,
        _seconds,
        "seconds a started server may take to answer",
        ansible="jupyterhub_http_timeout",
    ),
    "orphan_check_seconds": Key(
        NUMBER,
        60,
        _zero_or_more,
        "the orphans watch (0: off)",
        ansible="jupyterhub_orphan_check_seconds",
    ),
    "activity_interval": Key(
        NUMBER,
        None,
        _seconds,
        "seconds between activity reports (unset: JupyterHub's 300)",
        ansible="jupyterhub_activity_interval",
    ),
    "concurrent_spawn_limit": Key(
        INT,
        100,
        _zero_or_more,
        "servers starting at once; more are asked to try again (0: no limit)",
        ansible="jupyterhub_concurrent_spawn_limit",
    ),
    "spawn_retry_seconds": Key(
        LIST,
        [30, 60],
        _retry_range,
        "[least, most] seconds a turned-away start waits before it tries again",
        ansible="jupyterhub_spawn_retry_seconds",
    ),
    "activity_resolution": Key(
        NUMBER,
        30,
        _seconds,
        "activity newer than the stored by less than this is not written",
        ansible="jupyterhub_activity_resolution",
    ),
    "init_spawners_timeout": Key(
        INT,
        10,
        _init_timeout,
        "seconds a starting hub checks running servers before it answers (-1: all)",
        ansible="jupyterhub_init_spawners_timeout",
    ),
    "db_url": Key(STR, doc="the hub's database"),
    "cookie_secret_file": Key(STR),
    "ops_token_file": Key(STR, None, doc="the operator's API token (script/bench, admins.yml)"),
    "proxy_api_url": Key(STR, None, _proxy_url, "the proxy's API (its own container)"),
    "proxy_token_file": Key(STR, None, doc="file holding the proxy's API token"),
    "services": Key(
        LIST, [], doc="hub services: the sidecars (culler, stats)", ansible="jupyterhub_services"
    ),
    "auth": Key(
        OBJECT, doc="how people log in: google or shared_password", ansible="swarmhub_auth"
    ),
}


def _default(spec: Key) -> Any:
    # a copy: a caller that changes a default list must not change the schema's
    return None if spec.default is REQUIRED else copy.deepcopy(spec.default)


def _json_type(kind: tuple[type, ...]) -> str:
    names = {str: "a string", int: "a number", float: "a number", list: "a list"}
    names |= {dict: "an object", bool: "true or false"}
    return " or ".join(dict.fromkeys(names[k] for k in kind))


def _check_object(
    value: Any, schema: Mapping[str, Key], prefix: str
) -> tuple[dict[str, Any], list[str]]:
    """The object with defaults filled in, and what is wrong with it."""
    if not isinstance(value, dict):
        return {}, [f"{prefix.rstrip('.') or 'the settings'} must be an object"]
    problems = []
    unknown = sorted(set(value) - set(schema))
    if unknown:
        problems.append(
            f"unknown key(s) {', '.join(prefix + k for k in unknown)}; "
            f"known keys are {', '.join(prefix + k for k in sorted(schema))}"
        )
    result: dict[str, Any] = {}
    for key, spec in schema.items():
        where = prefix + key
        given = value.get(key)
        if given is None:  # null counts as missing
            if spec.default is REQUIRED:
                problems.append(f"missing key {where}")
            result[key] = _default(spec)
            continue
        # JSON true and false are bools, which Python also counts as ints
        if (isinstance(given, bool) and bool not in spec.kind) or not isinstance(given, spec.kind):
            problems.append(f"{where} must be {_json_type(spec.kind)}, not {json.dumps(given)}")
            result[key] = _default(spec)
            continue
        if spec.rule is not None:
            problems.extend(spec.rule(given, where))
        result[key] = given
    return result, problems


def _each(value: list[Any], schema: Mapping[str, Key], name: str) -> tuple[list[Any], list[str]]:
    items, problems = [], []
    for i, entry in enumerate(value):
        item, found = _check_object(entry, schema, f"{name}[{i}].")
        items.append(item)
        problems.extend(found)
    return items, problems


def _environment_problems(environments: list[dict[str, Any]]) -> Iterator[str]:
    for i, env in enumerate(environments):
        try:
            limit = byte_size(env["mem_limit"]) if env.get("mem_limit") is not None else None
            reserved = byte_size(env["mem_reservation"]) if env.get("mem_reservation") else 0
        except ValueError:
            continue  # said already
        if limit and reserved > limit:
            where = f"environments[{i}]."
            yield f"{where}mem_reservation is more than {where}mem_limit"
    try:
        parse_environments(environments)
    except ValueError as e:
        yield str(e).removeprefix("hub settings: ")


def _google_problems(auth: dict[str, Any], allowed_users: list[Any]) -> Iterator[str]:
    try:
        domain_labels(auth["hosted_domain"])
    except ValueError as e:
        yield f"auth.hosted_domain: {e}"
    names: dict[str, str] = {}
    emails: set[str] = set()
    for email, name in auth["email_map"].items():
        key = normalize_email(email)
        local, at, domain = key.rpartition("@")
        if not (at and local and domain):
            yield f"auth.email_map key {email!r} is not an email"
        elif not isinstance(name, str) or not usernames.is_valid(name):
            yield (
                f"auth.email_map gives {email} the name {name!r}; "
                f"a user name must have {usernames.RULE_TEXT}"
            )
        elif key in emails:
            yield f"auth.email_map lists {key} twice"
        elif name in names:
            # two Google accounts, one system account: exactly what must not happen
            yield (
                f"auth.email_map gives the name {name} to both {names[name]} and {key}; "
                "each name belongs to one email"
            )
        else:
            names[name] = key
            emails.add(key)
    if not auth["hosted_domain"]:
        # a name must come from a full email: a bare name would admit whoever has
        # that local part at any domain (gmail.com, for one)
        unmapped = sorted(set(allowed_users) - set(names))
        if not allowed_users or unmapped:
            yield (
                "Google login without auth.hosted_domain admits only users given as full "
                "emails with their names (auth.email_map)"
                + (f"; not given so: {', '.join(unmapped)}" if unmapped else "; there are none")
            )


def check(settings: Any) -> tuple[dict[str, Any], list[str]]:
    """The settings with every default filled in (nested entries too), and every
    problem found, each naming its key."""
    result, problems = _check_object(settings, SETTINGS, "")
    if not isinstance(settings, dict):
        return result, problems
    environments, found = _each(result["environments"] or [], ENVIRONMENT, "environments")
    result["environments"] = environments
    problems += found
    problems += _environment_problems(environments)
    shares, found = _each(result["shares"], SHARE, "shares")
    problems += found
    if not found:
        try:
            parse_shares(shares)
        except ValueError as e:
            problems.append(str(e).removeprefix("hub settings: "))
    result["shares"] = shares
    courses, found = _each(result["courses"], COURSE, "courses")
    problems += found
    if not found:
        try:
            parse_courses(courses)
        except ValueError as e:
            problems.append(str(e))
    result["courses"] = courses
    if courses and not result["exchange_url"]:
        problems.append("courses need exchange_url (the course exchange)")
    result["services"], found = _each(result["services"], SERVICE, "services")
    problems += found
    if result["user_subdomains"] and not result["public_url"]:
        problems.append("user_subdomains needs public_url")
    if bool(result["proxy_api_url"]) != bool(result["proxy_token_file"]):
        problems.append(
            "proxy_api_url and proxy_token_file go together (a proxy the hub does not "
            "start is reached at the one with the token in the other)"
        )
    auth = result["auth"]
    if isinstance(auth, dict):
        kind = auth.get("kind")
        if kind not in AUTH:
            problems.append(f"unknown auth.kind {kind!r}; use one of {', '.join(sorted(AUTH))}")
        else:
            result["auth"], found = _check_object(auth, AUTH[kind], "auth.")
            problems += found
            if kind == "google" and not found:
                problems += _google_problems(result["auth"], result["allowed_users"] or [])
                if not result["crypt_key_file"]:
                    problems.append(
                        "Google login needs crypt_key_file: the Google identity that owns "
                        "each user name is kept in the encrypted auth_state"
                    )
    return result, problems


def checked(settings: Any) -> dict[str, Any]:
    """The settings with every default filled in; SettingsError lists what is wrong."""
    result, problems = check(settings)
    if len(problems) == 1:
        raise SettingsError(f"hub settings: {problems[0]}; {FIX_HINT}")
    if problems:
        listed = "\n".join(f"- {p}" for p in problems)
        raise SettingsError(f"hub settings have {len(problems)} problems:\n{listed}\n{FIX_HINT}")
    return result


def filled(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings with every default filled in, unchecked (hubconfig's parts use
    it; hubconfig.configure checks the whole first)."""
    return check(settings)[0]


def _shown(value: Any) -> str:
    if value is REQUIRED:
        return "required"
    if value is None:
        return "unset"
    return "`" + json.dumps(value) + "`"


def markdown_table() -> str:
    """The settings an operator sets (each Ansible variable), with the hub's default:
    the README's "Hub settings" table, made from the schema (a unit test compares)."""
    rows = ["| Ansible variable | hub setting | default | what it is |", "|---|---|---|---|"]
    for key, spec in SETTINGS.items():
        if spec.ansible:
            rows.append(f"| `{spec.ansible}` | `{key}` | {_shown(spec.default)} | {spec.doc} |")
    return "\n".join(rows)
