"""The one username rule (swarmhub.common.usernames): what it accepts, that everything that
checks a name uses it, that made-up names always pass it, and that it keeps swarm
service names apart."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from swarmhub.backup.accounts import check_username
from swarmhub.backup.errors import BackupError
from swarmhub.common import usernames
from swarmhub.common.usernames import is_valid, system_username
from swarmhub.hub.authenticators import SwarmhubSharedPasswordAuthenticator
from swarmhub.hub.service_spec import service_name_for
from swarmhub.restuser import RestuserError, check_name
from swarmhub.restuser.usersfile import check_users

PROPERTY = settings(deadline=None, database=None)
SERVICES = Path(__file__).resolve().parents[2] / "services" / "swarmhub"

FIRST = string.ascii_lowercase + "_"
REST = string.ascii_lowercase + string.digits + "_-"


def is_good(name: str) -> bool:
    """The rule written out without a regular expression."""
    return (
        1 <= len(name) <= 32
        and name[0] in FIRST
        and all(c in REST for c in name[1:])
        and "--" not in name
        and not name.endswith("-")
    )


ACCEPTED = ["a", "_", "alice", "alice-smith_2", "x" * 32, "a0", "a-b-c", "a_-_b", "_-a"]
REFUSED = [
    "",
    "x" * 33,
    "0alice",
    "-alice",
    "Alice",
    "alice\n",
    "ali.ce",
    "alice@example.org",
    "a-",
    "z" * 31 + "-",
    "a--b",
    "alice--lab-c9d549",
    "a---b",
    "_--",
]


@pytest.mark.parametrize("name", ACCEPTED)
def test_the_rule_accepts(name):
    assert is_valid(name) and usernames.problem(name) is None


@pytest.mark.parametrize("name", REFUSED)
def test_the_rule_refuses_everywhere(name):
    """The hub (username_pattern), restuser, the users file and the backup agree."""
    assert not is_valid(name)
    assert repr(name) in (usernames.problem(name) or "")
    auth = SwarmhubSharedPasswordAuthenticator(username_pattern=usernames.USERNAME_PATTERN)
    assert not auth.validate_username(name)
    with pytest.raises(RestuserError) as e:
        check_name(name, reserved_names=(), reserved_prefixes=())
    assert (e.value.status, e.value.error) == (400, "invalid-name")
    with pytest.raises(BackupError, match="is not a user name"):
        check_username(name)
    assert any("not a valid user name" in p for p in check_users([{"name": name}]))


@PROPERTY
@given(st.text(alphabet=REST + "A.\n", max_size=40))
def test_the_pattern_is_the_rule(name):
    assert is_valid(name) == is_good(name)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Ada", "ada"),
        ("ada.lovelace", "ada-lovelace"),
        ("ada-lovelace", "ada-lovelace"),
        ("o'brien+test", "o-brien-test"),
        ("2pac", "u2pac"),
        ("...", ""),
        ("a--b", "a-b"),
        ("a.-b", "a-b"),
        ("alice--lab-c9d549", "alice-lab-c9d549"),
        ("trailing-", "trailing"),
        ("-lead", "lead"),
    ],
)
def test_system_username(raw, expected):
    assert system_username(raw) == expected


@PROPERTY
@given(st.text(max_size=80), st.integers(min_value=9, max_value=32))
@example("a" * 24 + "-" + "b" * 20, 32)  # the hash cut right after a "-"
@example("a" * 23 + ".-.-" + "b" * 20, 32)
def test_made_up_names_always_pass_the_rule(raw, max_length):
    name = system_username(raw, max_length=max_length)
    assert name == "" or (is_valid(name) and len(name) <= max_length), name


def test_long_names_stay_apart():
    a, b = system_username("a" * 40 + "x"), system_username("a" * 40 + "y")
    assert a != b and is_valid(a) and is_valid(b)


# --- service names: the reason for the rule ------------------------------------------

valid_usernames = st.from_regex(r"[a-z_][a-z0-9_-]{0,31}", fullmatch=True).filter(is_valid)
server_names = st.one_of(st.just(""), st.text(max_size=40))


@settings(PROPERTY, max_examples=500)
@given(valid_usernames, server_names, valid_usernames, server_names)
@example("alice--lab-c9d549", "", "alice", "lab")  # the clash of issue 8, now refused
@example("alice", "Lab", "alice", "lab")
@example("a", "b", "a-b", "")
@example("bob", "x--y", "bob-x", "y")
@example("a" * 32, "a" * 40, "a" * 32, "a" * 41)
def test_no_two_servers_share_a_service_name(user_a, server_a, user_b, server_b):
    pairs_differ = (user_a, server_a) != (user_b, server_b)
    if not (is_valid(user_a) and is_valid(user_b)):
        # only the explicit counterexample gets here: the rule refuses its name
        assert "alice--lab-c9d549" in (user_a, user_b)
        return
    if pairs_differ:
        assert service_name_for("jupyter", user_a, server_a) != service_name_for(
            "jupyter", user_b, server_b
        )


def test_the_known_clash_needs_a_name_the_rule_refuses():
    # the same service name, which is why "alice--lab-c9d549" may not be a user
    assert service_name_for("jupyter", "alice--lab-c9d549", "") == service_name_for(
        "jupyter", "alice", "lab"
    )
    assert not is_valid("alice--lab-c9d549")
    with pytest.raises(RestuserError):
        check_name("alice--lab-c9d549")
