"""The users playbook's rules: the same as restuser's, applied to a users file.

The users role (roles/users) calls these through its filter plugin, on the control
machine: check_users before anything else (so a bad file changes nothing),
host_problems against the hub host's accounts read beforehand, then
merge_overrides for the quota overrides file that restuser reads. Messages name the
entry and say what to do; they never contain a password.
"""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Iterable, Mapping
from typing import Any, TypeGuard

from ..common.accounts import MARK_GROUP, PRIVILEGED_GROUPS, UID_FLOOR
from .errors import RestuserError
from .names import DEFAULT_RESERVED_NAMES, DEFAULT_RESERVED_PREFIXES, check_name
from .quota import Quota, format_size, make_quota, parse_overrides, parse_size, read_overrides_data

STATES = ("present", "absent")
PRESENT_KEYS = frozenset({"name", "state", "uid", "groups", "password", "quota", "comment"})
ABSENT_KEYS = frozenset({"name", "state", "remove_home"})
# uids from here on are nobody (65534) and beyond: never a person's
UID_CEILING = 65533
MIN_PASSWORD_LENGTH = 8


def check_users(
    entries: object,
    default_soft: object = 0,
    default_hard: object = 0,
    reserved_names: Collection[str] = DEFAULT_RESERVED_NAMES,
    reserved_prefixes: Iterable[str] = DEFAULT_RESERVED_PREFIXES,
) -> list[str]:
    """Everything wrong with a users list, one message per problem ([] if it is good).

    The default quota is checked too, and each user's own quota over it (a soft limit
    of its own must not exceed the default hard one, and so on).
    """
    try:
        make_quota(
            default_soft, default_hard, "swarmhub_quota_soft/swarmhub_quota_hard (group_vars)"
        )
    except ValueError as e:
        return [str(e)]
    if entries is None:
        return []
    if not isinstance(entries, list):
        return [f"the users list must be a list of entries, not {_kind(entries)}"]
    problems: list[str] = []
    seen_names: dict[str, int] = {}
    seen_uids: dict[int, str] = {}
    prefixes = tuple(reserved_prefixes)
    for number, entry in enumerate(entries, start=1):
        where = f"entry {number}"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: must be a map with at least a name, not {_kind(entry)}")
            continue
        name = entry.get("name")
        if not isinstance(name, str):
            problems.append(f"{where}: has no name (give each entry `name: USER`)")
            continue
        where = f"entry {number} ({name!r})"
        try:
            check_name(name, reserved_names, prefixes)
        except RestuserError as e:
            problems.append(f"{where}: {e.detail}")
        if name in seen_names:
            problems.append(
                f"{where}: {name!r} is listed twice (entries {seen_names[name]} and {number}); "
                "keep one entry per user"
            )
        else:
            seen_names[name] = number
        state = entry.get("state", "present")
        if state not in STATES:
            problems.append(f"{where}: state must be present or absent, not {state!r}")
            continue
        allowed = PRESENT_KEYS if state == "present" else ABSENT_KEYS
        unknown = sorted(str(key) for key in entry if key not in allowed)
        if unknown:
            problems.append(
                f"{where}: unknown or misplaced key(s) {', '.join(unknown)}; "
                f"{'an absent' if state == 'absent' else 'a present'} user may have "
                f"{', '.join(sorted(allowed))}"
            )
        if state == "absent":
            if not isinstance(entry.get("remove_home", False), bool):
                problems.append(f"{where}: remove_home must be true or false")
            continue
        problems.extend(
            _check_present(entry, where, reserved_names, prefixes, default_soft, default_hard)
        )
        uid = entry.get("uid")
        if _is_int(uid):
            if uid in seen_uids:
                problems.append(
                    f"{where}: uid {uid} is also given to {seen_uids[uid]!r}; uids must differ"
                )
            else:
                seen_uids[uid] = name
    names = set(seen_names)
    for number, entry in enumerate(entries, start=1):
        groups = entry.get("groups") if isinstance(entry, Mapping) else None
        for group in groups if isinstance(groups, list) else []:
            if group in names:
                problems.append(
                    f"entry {number} ({entry.get('name')!r}): group {group!r} is the personal "
                    f"group of user {group!r}; use a group of its own for sharing"
                )
    return problems


def _check_present(
    entry: Mapping[str, Any],
    where: str,
    reserved_names: Collection[str],
    prefixes: tuple[str, ...],
    default_soft: object,
    default_hard: object,
) -> list[str]:
    problems = []
    uid = entry.get("uid")
    if uid is not None and (not _is_int(uid) or not UID_FLOOR <= uid <= UID_CEILING):
        problems.append(
            f"{where}: uid must be a whole number from {UID_FLOOR} to {UID_CEILING} "
            f"(uids below {UID_FLOOR} belong to system accounts), not {uid!r}"
        )
    groups = entry.get("groups", [])
    if not isinstance(groups, list):
        problems.append(f"{where}: groups must be a list of group names, e.g. [physics]")
    else:
        for group in groups:
            if not isinstance(group, str):
                problems.append(f"{where}: group {group!r} is not a name")
                continue
            try:
                check_name(group, reserved_names, prefixes)
            except RestuserError as e:
                detail = e.detail.replace("user name", "group name")
                if e.error == "reserved-name":
                    # e.g. sudo, docker, adm: membership would give the user the system
                    detail = (
                        f"{group!r} is a system group; membership could give the user "
                        "power over the hub host: use a group of your own"
                    )
                problems.append(f"{where}: {detail}")
    password = entry.get("password")
    if password is not None and (
        not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH
    ):
        # never show the password itself, not even a wrong one
        problems.append(
            f"{where}: password must be text of at least {MIN_PASSWORD_LENGTH} characters "
            "(keep the users file in ansible-vault)"
        )
    quota = entry.get("quota")
    if quota is not None:
        if not isinstance(quota, Mapping) or not quota or set(quota) - {"soft", "hard"}:
            problems.append(
                f"{where}: quota must be a map with soft and/or hard, e.g. {{soft: 10G, hard: 12G}}"
            )
        else:
            try:
                own = _quota_of(entry, where)
                effective_quota({"name": entry["name"], "quota": own}, default_soft, default_hard)
            except ValueError as e:
                problems.append(str(e))
    comment = entry.get("comment")
    if comment is not None and (not isinstance(comment, str) or set(comment) & set(":\n")):
        problems.append(f"{where}: comment must be text without ':' or line breaks")
    return problems


def check_admins(
    names: object,
    allow_none: bool = False,
    reserved_names: Collection[str] = DEFAULT_RESERVED_NAMES,
    reserved_prefixes: Iterable[str] = DEFAULT_RESERVED_PREFIXES,
) -> list[str]:
    """Everything wrong with a new admin list (hub user names), [] if it is good."""
    if not isinstance(names, list):
        return [f"the admin list must be a list of user names, not {_kind(names)}"]
    if not names and not allow_none:
        return [
            "the admin list is empty: nobody could manage the hub; to really remove "
            "every admin, add -e admins_allow_none=true"
        ]
    problems = []
    seen: set[str] = set()
    for name in names:
        if not isinstance(name, str):
            problems.append(f"{name!r} is not a user name")
            continue
        try:
            check_name(name, reserved_names, tuple(reserved_prefixes))
        except RestuserError as e:
            problems.append(e.detail)
        if name in seen:
            problems.append(f"{name!r} is listed twice")
        seen.add(name)
    return problems


def normalize_users(entries: list[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Checked entries with every key filled in, for the tasks (password as given)."""
    users = []
    for entry in entries or []:
        state = entry.get("state", "present")
        user: dict[str, Any] = {
            "name": entry["name"],
            "state": state,
            "uid": entry.get("uid"),
            "groups": list(entry.get("groups", [])),
            "comment": entry.get("comment"),
            "quota": None,
            "remove_home": bool(entry.get("remove_home", False)),
            "password": entry.get("password"),
        }
        if state == "present" and entry.get("quota") is not None:
            user["quota"] = _quota_of(entry, entry["name"])
        users.append(user)
    return users


def _quota_of(entry: Mapping[str, Any], where: str) -> dict[str, str]:
    # a missing soft or hard is filled in from the default by restuser and the role
    quota = entry["quota"]
    soft, hard = quota.get("soft"), quota.get("hard")
    if soft is not None and hard is not None:
        checked = make_quota(soft, hard, f"{where}: quota")
        return checked.as_json()
    result = {}
    for key, value in (("soft", soft), ("hard", hard)):
        if value is not None:
            result[key] = format_size(parse_size(value, f"{where}: quota {key}"))
    return result


def effective_quota(
    user: Mapping[str, Any], default_soft: object, default_hard: object
) -> dict[str, int]:
    """The KiB limits the user gets: its own quota over the defaults (as restuser does)."""
    own = user.get("quota") or {}
    quota = make_quota(
        own.get("soft", default_soft), own.get("hard", default_hard), f"{user['name']!r}: quota"
    )
    return {"soft_kib": quota.soft_kib, "hard_kib": quota.hard_kib}


def host_problems(
    users: list[Mapping[str, Any]],
    passwd: Mapping[str, list[Any]],
    group: Mapping[str, list[Any]],
    existing_homes: Collection[str],
    home_root: str = "/home",
    min_uid: int = UID_FLOOR,
) -> list[str]:
    """What the hub host's accounts make impossible, found before anything changes.

    `passwd` and `group` are getent's maps (name -> the remaining fields), and
    `existing_homes` the names whose home_root/NAME exists. The same refusals as
    restuser: system accounts, homes outside the home root, names held by a group,
    left-over homes; and what only a users file can get wrong (uids, groups).
    """
    problems = []
    uids = {_int(fields[1]): name for name, fields in passwd.items() if len(fields) >= 5}
    for user in users:
        name = user["name"]
        fields = passwd.get(name)
        if user["state"] == "absent":
            if fields is not None and _int(fields[1]) < min_uid:
                problems.append(
                    f"{name!r} is a system account (uid {fields[1]}); the users playbook "
                    "removes only people: take it out of the users file"
                )
            continue
        home = posixpath.join(home_root, name)
        if fields is None:
            if name in group:
                problems.append(
                    f"{name!r} is already the name of a group on the hub host; a user "
                    "needs its own group of that name: choose another user name"
                )
            if name in existing_homes:
                problems.append(
                    f"{home} already exists but there is no user {name!r}; it may belong to "
                    "a removed account: move it away (or restore the account) first"
                )
            if user.get("uid") is not None and user["uid"] in uids:
                problems.append(
                    f"{name!r}: uid {user['uid']} is taken by {uids[user['uid']]!r} on the hub "
                    "host; choose another uid or leave it out"
                )
        else:
            uid = _int(fields[1])
            if uid < min_uid:
                problems.append(
                    f"{name!r} is a system account (uid {uid} is below {min_uid}); it cannot "
                    "be a hub user: take it out of the users file"
                )
                continue
            if user.get("uid") is not None and user["uid"] != uid:
                problems.append(
                    f"{name!r} exists with uid {uid}, the users file says {user['uid']}; uids "
                    "are never changed (files in the home would lose their owner): remove "
                    "the uid from the entry or make it match"
                )
            if posixpath.normpath(fields[4]) != home:
                problems.append(
                    f"{name!r} exists with the home {fields[4]}, not {home}; the hub only "
                    "serves users with their home there: fix the account by hand first"
                )
            privileged = sorted(
                group_name
                for group_name, group_fields in group.items()
                if len(group_fields) >= 3
                and name in str(group_fields[2]).split(",")
                and group_name != MARK_GROUP
                and (group_name in PRIVILEGED_GROUPS or _int(group_fields[1]) < UID_FLOOR)
                and _int(group_fields[1]) != _int(fields[2])
            )
            if privileged:
                problems.append(
                    f"{name!r} is a member of {', '.join(privileged)} on the hub host; "
                    "restuser never lets such an account log in to the hub: take it out of "
                    "the users file (or out of those groups)"
                )
        for group_name in user.get("groups", []):
            group_fields = group.get(group_name)
            if group_fields is not None and _int(group_fields[1]) < min_uid:
                problems.append(
                    f"{name!r}: group {group_name!r} is a system group on the hub host "
                    f"(gid {group_fields[1]}); use a group of your own"
                )
    return problems


def merge_overrides(existing_text: str, users: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The overrides file's new content: the old one with this batch's users updated.

    Users of the batch with a quota get it; those without one (or absent) lose their
    override and get the default; everybody else keeps what they had, as written.
    ValueError if the current file is broken (then nothing is written).
    """
    source = "the current quota overrides file"
    data = read_overrides_data(existing_text, source)
    parse_overrides(data, Quota(), source)  # checks every entry
    current = {str(name): dict(entry) for name, entry in (data or {}).items()}
    for user in users:
        if user["state"] == "present" and user.get("quota"):
            current[user["name"]] = dict(user["quota"])
        else:
            current.pop(user["name"], None)
    return dict(sorted(current.items()))


def parse_quota_output(text: str) -> dict[str, int] | None:
    """The block limits (KiB) in the output of `quota -w -v -p -u -f FS USER`, or None.

    The last eight fields of a filesystem's line are: blocks (with '*' when over the
    soft limit), soft limit, hard limit, grace, files, soft, hard, grace; -p makes the
    graces numbers, -w keeps the line whole.
    """
    for line in reversed(text.splitlines()):
        fields = line.split()
        if len(fields) < 9:
            continue
        blocks, soft, hard = fields[-8].rstrip("*"), fields[-7], fields[-6]
        if blocks.isdigit() and soft.isdigit() and hard.isdigit():
            return {"soft_kib": int(soft), "hard_kib": int(hard)}
    return None


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(text: object) -> int:
    try:
        return int(str(text))
    except ValueError:
        return -1


def _kind(value: object) -> str:
    return {dict: "a map", list: "a list", str: "text", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )
