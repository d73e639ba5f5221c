"""The one username rule (swarmhub.usernames): what it accepts, that everything that
checks a name uses it, that made-up names always pass it, and that it keeps swarm
service names apart."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from swarmhub import usernames
from swarmhub.authenticators import SwarmhubSharedPasswordAuthenticator
from swarmhub.backup.accounts import check_username
from swarmhub.backup.errors import BackupError
from swarmhub.restuser import RestuserError, check_name
from swarmhub.restuser.usersfile import check_users
from swarmhub.spawner import service_name_for
from swarmhub.usernames import is_valid, system_username

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


# --- each wing imports only what is copied with it -------------------------------------


def swarmhub_imports(path: Path) -> set[str]:
    """The swarmhub modules a file imports (absolute names)."""
    package = ["swarmhub", *path.relative_to(SERVICES).parent.parts]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                names = [module] if node.module else [f"{module}.{a.name}" for a in node.names]
            else:
                names = [node.module or ""]
            found.update(n for n in names if n.startswith("swarmhub"))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("swarmhub"))
    return found


def stdlib_or(path: Path, allowed: set[str]) -> set[str]:
    """Top-level imports of a file that are neither the standard library nor allowed."""
    import sys

    tops = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            tops.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            tops.add(node.module.split(".")[0])
    return {t for t in tops if t not in sys.stdlib_module_names and t not in allowed}


@pytest.mark.parametrize(
    "wing, shipped_with",
    [
        # roles/restuser/tasks/install.yml copies these next to restuser/
        ("restuser", {"swarmhub", "swarmhub.accounts", "swarmhub.usernames"}),
        # script/lib/build-images copies these next to backup/
        ("backup", {"swarmhub", "swarmhub.safefs", "swarmhub.usernames"}),
    ],
)
def test_wings_import_only_what_they_are_shipped_with(wing, shipped_with):
    for path in sorted((SERVICES / wing).glob("*.py")):
        outside = {
            m for m in swarmhub_imports(path) if not m.startswith(f"swarmhub.{wing}")
        } - shipped_with
        assert not outside, f"{path.name} imports {outside}, not shipped with {wing}"


def test_the_rule_is_standard_library_only_and_imports_nothing_of_ours():
    path = SERVICES / "usernames.py"
    assert swarmhub_imports(path) == set()
    assert stdlib_or(path, set()) == set()


def test_shipping_lists_name_the_rule():
    root = SERVICES.parents[1]
    assert "usernames.py" in (root / "roles/restuser/tasks/install.yml").read_text()
    assert re.search(
        r"services/swarmhub/usernames\.py", (root / "script/lib/build-images").read_text()
    )
