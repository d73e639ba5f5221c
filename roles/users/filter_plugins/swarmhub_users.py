"""Filters of the users role: the rules of restuser (swarmhub.restuser.usersfile),
applied on the control machine, so the users playbook and logins agree.

./script/deploy runs Ansible from the project's virtualenv, where the swarmhub
package is installed; from a bare checkout the services/ folder is used directly.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

try:
    from swarmhub.restuser import DEFAULT_RESERVED_NAMES, usersfile
except ImportError:  # pragma: no cover - Ansible run outside the project's virtualenv
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "services"))
    from swarmhub.restuser import DEFAULT_RESERVED_NAMES, usersfile

import yaml
from ansible.errors import AnsibleFilterError


def parse_users_file(text: str, path: str) -> dict[str, Any]:
    """{users, problems} from a users file's text; YAML errors give only their place.

    Never raises and never quotes the file: it may hold passwords.
    """
    try:
        data = yaml.safe_load(str(text))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "syntax error"
        return {"users": [], "problems": [f"{path}: not valid YAML{where} ({problem})"]}
    if not isinstance(data, dict) or "users" not in data:
        return {
            "users": [],
            "problems": [
                f"{path}: must be a map with a `users:` list (see README, users file)"
            ],
        }
    unknown = sorted(str(key) for key in data if key != "users")
    problems = (
        [f"{path}: unknown top-level key(s) {', '.join(unknown)}"] if unknown else []
    )
    return {"users": data["users"], "problems": problems}


def parse_admins_file(text: str, path: str) -> dict[str, Any]:
    """{admins, problems} from an admins file's text (`admins: [NAME, ...]`)."""
    try:
        data = yaml.safe_load(str(text))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return {"admins": [], "problems": [f"{path}: not valid YAML{where}"]}
    if not isinstance(data, dict) or set(data) != {"admins"}:
        return {
            "admins": [],
            "problems": [f"{path}: must be a map with only an `admins:` list"],
        }
    return {"admins": data["admins"], "problems": []}


def check_admins(names: Any, allow_none: bool = False) -> list[str]:
    return usersfile.check_admins(_plain(names), bool(allow_none))


def check_users(
    entries: Any, default_soft: Any = 0, default_hard: Any = 0, reserved: Any = ()
) -> list[str]:
    """The users' problems; `reserved` adds names (swarmhub_reserved_names) to restuser's."""
    return usersfile.check_users(
        _plain(entries),
        _plain(default_soft),
        _plain(default_hard),
        reserved_names=DEFAULT_RESERVED_NAMES | frozenset(_plain(reserved) or ()),
    )


def normalize_users(entries: Any) -> list[dict[str, Any]]:
    """The entries for the tasks, without passwords (has_password says if there is one)."""
    users = usersfile.normalize_users(_plain(entries))
    for user in users:
        user["has_password"] = user.pop("password") is not None
    return users


def user_passwords(entries: Any) -> dict[str, str]:
    """name -> password of the present entries that have one (for no_log tasks only)."""
    return {
        user["name"]: user["password"]
        for user in usersfile.normalize_users(_plain(entries))
        if user["state"] == "present" and user["password"] is not None
    }


def host_problems(
    users: Any,
    passwd: Any,
    group: Any,
    homes: Any,
    home_root: str = "/home",
    min_uid: int = 1000,
) -> list[str]:
    return usersfile.host_problems(
        _plain(users),
        _plain(passwd),
        _plain(group),
        _plain(homes),
        str(home_root),
        int(min_uid),
    )


def effective_quota(user: Any, default_soft: Any, default_hard: Any) -> dict[str, int]:
    try:
        return usersfile.effective_quota(
            _plain(user), _plain(default_soft), _plain(default_hard)
        )
    except ValueError as e:
        raise AnsibleFilterError(str(e)) from None


def merge_overrides(existing_text: Any, users: Any) -> dict[str, Any]:
    try:
        return usersfile.merge_overrides(str(existing_text or ""), _plain(users))
    except ValueError as e:
        raise AnsibleFilterError(
            f"{e}; fix or remove the file on the hub host, then run the users playbook again"
        ) from None


def quota_from_output(text: Any) -> dict[str, int] | None:
    return usersfile.parse_quota_output(str(text))


def password_hash(password: Any, existing: Any = "") -> str:
    """sha512-crypt of `password`; the existing hash if it already is one of it.

    Reusing the existing hash (its salt) keeps a second run from changing anything.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # the standard library's, in Python 3.11 and 3.12

    password, existing = str(password), str(existing or "")
    if existing.startswith("$6$") and crypt.crypt(password, existing) == existing:
        return existing
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))


def _plain(value: Any) -> Any:
    """Ansible's tagged strings, maps and lists as plain Python ones."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "swarmhub_parse_users_file": parse_users_file,
            "swarmhub_parse_admins_file": parse_admins_file,
            "swarmhub_check_admins": check_admins,
            "swarmhub_check_users": check_users,
            "swarmhub_normalize_users": normalize_users,
            "swarmhub_user_passwords": user_passwords,
            "swarmhub_host_problems": host_problems,
            "swarmhub_effective_quota": effective_quota,
            "swarmhub_merge_overrides": merge_overrides,
            "swarmhub_quota_from_output": quota_from_output,
            "swarmhub_password_hash": password_hash,
        }
