"""The users playbook's rules (swarmhub.restuser.usersfile), as plain functions."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from swarmhub.restuser import DEFAULT_RESERVED_NAMES
from swarmhub.restuser.usersfile import (
    check_users,
    effective_quota,
    host_problems,
    merge_overrides,
    normalize_users,
    parse_quota_output,
)

ROOT = Path(__file__).resolve().parents[2]
GIB = 1024 * 1024


def test_a_good_file_has_no_problems():
    entries = [
        {"name": "ann"},
        {
            "name": "bob",
            "uid": 2001,
            "groups": ["physics", "course-a"],
            "password": "correct horse battery",
            "quota": {"soft": "10G", "hard": "12G"},
            "comment": "Bob Example",
        },
        {"name": "cyd", "state": "absent"},
        {"name": "dee", "state": "absent", "remove_home": True},
        {"name": "eve", "quota": {"hard": "8G"}},
    ]
    assert check_users(entries, "5G", "6G") == []
    assert check_users([]) == [] and check_users(None) == []


@pytest.mark.parametrize(
    "entries, expected",
    [
        ({"name": "ann"}, "the users list must be a list of entries, not a map"),
        (["ann"], "entry 1: must be a map with at least a name, not text"),
        ([{"uid": 2000}], "entry 1: has no name"),
        ([{"name": "Ann"}], "entry 1 ('Ann'): 'Ann' is not a valid user name"),
        ([{"name": "1ann"}], "'1ann' is not a valid user name"),
        ([{"name": "a" * 33}], "is not a valid user name"),
        ([{"name": "root"}], "entry 1 ('root'): 'root' is reserved for the system"),
        ([{"name": "jovyan"}], "'jovyan' is reserved"),
        ([{"name": "systemd-x"}], "'systemd-x' is reserved"),
        (
            [{"name": "ann"}, {"name": "bob"}, {"name": "ann"}],
            "entry 3 ('ann'): 'ann' is listed twice (entries 1 and 3); keep one entry per user",
        ),
        ([{"name": "ann", "uid": 999}], "uid must be a whole number from 1000 to 65533"),
        ([{"name": "ann", "uid": 65534}], "uid must be a whole number from 1000"),
        ([{"name": "ann", "uid": "2000"}], "uid must be a whole number"),
        ([{"name": "ann", "uid": True}], "uid must be a whole number"),
        (
            [{"name": "ann", "uid": 2000}, {"name": "bob", "uid": 2000}],
            "entry 2 ('bob'): uid 2000 is also given to 'ann'; uids must differ",
        ),
        ([{"name": "ann", "groups": "physics"}], "groups must be a list of group names"),
        ([{"name": "ann", "groups": ["sudo"]}], "'sudo' is a system group"),
        ([{"name": "ann", "groups": ["docker"]}], "'docker' is a system group"),
        ([{"name": "ann", "groups": ["Phys"]}], "'Phys' is not a valid group name"),
        (
            [{"name": "ann", "groups": ["bob"]}, {"name": "bob"}],
            "group 'bob' is the personal group of user 'bob'",
        ),
        ([{"name": "ann", "password": "short"}], "password must be text of at least 8"),
        ([{"name": "ann", "password": 12345678}], "password must be text"),
        ([{"name": "ann", "quota": "10G"}], "quota must be a map with soft and/or hard"),
        ([{"name": "ann", "quota": {"soft": "10"}}], "'10' has no unit"),
        ([{"name": "ann", "quota": {"sfot": "1G"}}], "quota must be a map with soft and/or hard"),
        (
            [{"name": "ann", "quota": {"soft": "13G", "hard": "12G"}}],
            "soft limit 13G is above the hard limit 12G",
        ),
        # an own soft limit above the default hard one
        ([{"name": "ann", "quota": {"soft": "7G"}}], "soft limit 7G is above the hard limit 6G"),
        ([{"name": "ann", "state": "gone"}], "state must be present or absent, not 'gone'"),
        ([{"name": "ann", "remove_home": True}], "unknown or misplaced key(s) remove_home"),
        ([{"name": "ann", "state": "absent", "uid": 2000}], "misplaced key(s) uid"),
        ([{"name": "ann", "state": "absent", "remove_home": "yes"}], "remove_home must be true"),
        ([{"name": "ann", "pasword": "x" * 10}], "unknown or misplaced key(s) pasword"),
        ([{"name": "ann", "comment": "a:b"}], "comment must be text without ':'"),
    ],
)
def test_bad_entries_are_named_and_explained(entries, expected):
    problems = check_users(entries, "5G", "6G")
    assert any(expected in problem for problem in problems), problems


def test_every_problem_is_reported_at_once():
    entries = [{"name": "root"}, {"name": "Bad"}, {"name": "ok", "uid": 5}]
    assert len(check_users(entries)) == 3


def test_a_bad_default_quota_is_reported_first():
    assert check_users([{"name": "ann"}], "6G", "5G") == [
        "swarmhub_quota_soft/swarmhub_quota_hard (group_vars): the soft limit 6G is above "
        "the hard limit 5G; the soft limit must be at most the hard one"
    ]


def test_problems_never_show_a_password():
    secret = "hunter2"  # too short: refused, but never shown
    problems = check_users([{"name": "ann", "password": secret}, {"name": "ann"}])
    assert problems and not any(secret in problem for problem in problems)


def test_normalized_entries_have_every_key():
    users = normalize_users(
        [
            {"name": "ann"},
            {"name": "bob", "uid": 2001, "groups": ["x"], "quota": {"soft": "10240M"}},
            {"name": "cyd", "state": "absent", "remove_home": True},
        ]
    )
    assert users == [
        {
            "name": "ann",
            "state": "present",
            "uid": None,
            "groups": [],
            "comment": None,
            "quota": None,
            "remove_home": False,
            "password": None,
        },
        {
            "name": "bob",
            "state": "present",
            "uid": 2001,
            "groups": ["x"],
            "comment": None,
            "quota": {"soft": "10G"},
            "remove_home": False,
            "password": None,
        },
        {
            "name": "cyd",
            "state": "absent",
            "uid": None,
            "groups": [],
            "comment": None,
            "quota": None,
            "remove_home": True,
            "password": None,
        },
    ]


def test_effective_quota_is_the_own_over_the_default():
    assert effective_quota({"name": "a", "quota": None}, "5G", "6G") == {
        "soft_kib": 5 * GIB,
        "hard_kib": 6 * GIB,
    }
    assert effective_quota({"name": "a", "quota": {"hard": "20G"}}, "5G", "6G") == {
        "soft_kib": 5 * GIB,
        "hard_kib": 20 * GIB,
    }


# getent's maps: name -> the other fields
PASSWD = {
    "root": ["x", "0", "0", "root", "/root", "/bin/bash"],
    "svc": ["x", "998", "998", "", "/var/lib/svc", "/usr/sbin/nologin"],
    "carol": ["x", "1001", "1001", "", "/home/carol", "/bin/bash"],
    "olduser": ["x", "1500", "1500", "", "/srv/olduser", "/bin/bash"],
    "sam": ["x", "1600", "1600", "", "/home/sam", "/bin/bash"],
    "dina": ["x", "1601", "1601", "", "/home/dina", "/bin/bash"],
}
GROUP = {
    "root": ["x", "0", ""],
    "users": ["x", "100", ""],
    "staffers": ["x", "1200", "carol"],
    "carol": ["x", "1001", ""],
    "sudo": ["x", "27", "sam"],
    "docker": ["x", "1999", "dina,ghost"],
    "swarmhub-users": ["x", "1100", "carol,sam,dina"],
}


def present(name, **keys):
    return normalize_users([{"name": name, **keys}])[0]


@pytest.mark.parametrize(
    "user, homes, expected",
    [
        (present("dora"), [], []),
        (present("carol"), [], []),
        (present("carol", uid=1001), [], []),
        (present("staffers"), [], ["'staffers' is already the name of a group"]),
        (present("dora"), ["dora"], ["/home/dora already exists but there is no user 'dora'"]),
        (present("dora", uid=1001), [], ["uid 1001 is taken by 'carol'"]),
        (present("svc"), [], ["'svc' is a system account (uid 998 is below 1000)"]),
        (present("carol", uid=2000), [], ["'carol' exists with uid 1001, the users file says"]),
        (present("olduser"), [], ["exists with the home /srv/olduser, not /home/olduser"]),
        (present("dora", groups=["users"]), [], ["group 'users' is a system group"]),
        (present("dora", groups=["staffers", "newgroup"]), [], []),
        (normalize_users([{"name": "svc", "state": "absent"}])[0], [], ["system account"]),
        (normalize_users([{"name": "zed", "state": "absent"}])[0], [], []),
        # restuser would refuse them at login whatever the file says
        (present("sam"), [], ["'sam' is a member of sudo on the hub host"]),
        (present("dina"), [], ["'dina' is a member of docker on the hub host"]),
    ],
)
def test_host_problems(user, homes, expected):
    problems = host_problems([user], PASSWD, GROUP, homes)
    assert len(problems) == len(expected), problems
    for problem, text in zip(problems, expected, strict=True):
        assert text in problem


def test_overrides_are_merged_batch_by_batch():
    first = merge_overrides(
        "",
        normalize_users(
            [{"name": "ann", "quota": {"soft": "10G", "hard": "12G"}}, {"name": "bob"}]
        ),
    )
    assert first == {"ann": {"soft": "10G", "hard": "12G"}}
    existing = json.dumps({**first, "cyd": {"hard": "8G"}})
    second = merge_overrides(
        existing,
        normalize_users(
            [
                {"name": "bob", "quota": {"hard": "20G"}},
                {"name": "ann"},  # listed without a quota: back to the default
            ]
        ),
    )
    assert second == {"bob": {"hard": "20G"}, "cyd": {"hard": "8G"}}
    gone = merge_overrides(
        json.dumps(second), normalize_users([{"name": "bob", "state": "absent"}])
    )
    assert gone == {"cyd": {"hard": "8G"}}


def test_a_broken_overrides_file_is_not_overwritten():
    with pytest.raises(ValueError, match="current quota overrides file"):
        merge_overrides('{"ann": {"soft": "lots"}}', normalize_users([{"name": "bob"}]))


# `quota -u -w -v -p --filesystem=/home ann`, as quota-tools 4.06 prints it
QUOTA_OUTPUT = """\
Disk quotas for user ann (uid 1001):
     Filesystem  blocks   quota   limit   grace   files   quota   limit   grace
      /dev/sdb1      24  5242880 6291456       0       6       0       0       0
"""
OVER_QUOTA = """\
Disk quotas for user ann (uid 1001):
     Filesystem  blocks   quota   limit   grace   files   quota   limit   grace
/dev/mapper/vg-home 5300000* 5242880 6291456 1795000000      6       0       0       0
"""


def test_quota_output_is_read():
    assert parse_quota_output(QUOTA_OUTPUT) == {"soft_kib": 5 * GIB, "hard_kib": 6 * GIB}
    assert parse_quota_output(OVER_QUOTA) == {"soft_kib": 5 * GIB, "hard_kib": 6 * GIB}
    assert parse_quota_output("Disk quotas for user ann (uid 1001): none\n") is None
    assert parse_quota_output("") is None


def test_the_role_refuses_the_names_restuser_refuses():
    # the users role's filter is a thin layer over these same functions
    spec = importlib.util.spec_from_file_location(
        "swarmhub_users_filters", ROOT / "roles/users/filter_plugins/swarmhub_users.py"
    )
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    filters = plugin.FilterModule().filters()
    for name in sorted(DEFAULT_RESERVED_NAMES)[:20] + ["projects", "systemd-x", "Bad", "1a"]:
        entries = [{"name": name}]
        assert filters["swarmhub_check_users"](entries) == check_users(entries)
        assert filters["swarmhub_check_users"](entries), name
    assert filters["swarmhub_check_users"]([{"name": "teacher"}], 0, 0, ["teacher"])
    assert filters["swarmhub_check_users"]([{"name": "teacher"}]) == []


def test_the_example_users_file_is_valid():
    example = yaml.safe_load((ROOT / "roles/users/files/users.example.yml").read_text())
    assert check_users(example["users"], "5G", "6G") == []


def test_an_unchanged_password_keeps_its_hash():
    spec = importlib.util.spec_from_file_location(
        "swarmhub_users_filters", ROOT / "roles/users/filter_plugins/swarmhub_users.py"
    )
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    first = plugin.password_hash("correct horse battery", "")
    assert first.startswith("$6$") and "correct" not in first
    assert plugin.password_hash("correct horse battery", first) == first
    changed = plugin.password_hash("another password", first)
    assert changed.startswith("$6$") and changed != first
    # a hash of another scheme (yescrypt, Debian's passwd default) is replaced once
    assert plugin.password_hash("x" * 10, "$y$j9T$abc$def").startswith("$6$")
    # the parsed file never quotes its text (it may hold passwords)
    parsed = plugin.parse_users_file('users:\n  - name: a\n    password: "s3cr\n', "f.yml")
    assert parsed["problems"][0].startswith("f.yml: not valid YAML at line")
    assert "s3cr" not in parsed["problems"][0]
