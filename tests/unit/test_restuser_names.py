"""restuser's name rule: generated bad names are refused and create nothing."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_restuser_useradd import etc_snapshot, make_root, tree_snapshot

from swarmhub.restuser import DEFAULT_RESERVED_NAMES, RestuserError, check_name, create_app

FIRST = string.ascii_lowercase + "_"
REST = string.ascii_lowercase + string.digits + "_-"

# No deadline: the tests must not depend on how fast this machine is. No example
# database: a run does not depend on what earlier runs stored.
PROPERTY = settings(deadline=None, database=None)


def is_good(name: str) -> bool:
    """The rule, written out independently of the implementation's regular expression."""
    return (
        1 <= len(name) <= 32
        and name[0] in FIRST
        and all(c in REST for c in name[1:])
        and "--" not in name
        and not name.endswith("-")
    )


good_names = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(string.ascii_lowercase),  # "_" starts only reserved names
    st.text(alphabet=REST, max_size=31),
).filter(
    lambda name: (
        is_good(name) and name not in DEFAULT_RESERVED_NAMES and not name.startswith("systemd-")
    )
)

PATH_TRICKS = [
    "..",
    ".",
    "../x",
    "../../etc/passwd",
    "/etc/passwd",
    "a/b",
    "alice/",
    "./alice",
    "alice/..",
    "%2e%2e",
    "alice\n",
    "\nalice",
    "alice\x00",
    "al\x00ice",
    "al ice",
    " alice",
    "alice\t",
    "ａlice",  # fullwidth a
    "alİce",
    "~alice",
    "$(id)",
    "alice;rm",
]

bad_names = st.one_of(
    # anything at all that breaks the rule: other characters, NUL, whitespace, unicode
    st.text(max_size=40).filter(lambda name: not is_good(name)),
    # good characters, wrong start
    st.builds(
        lambda first, rest: first + rest,
        st.sampled_from(string.digits + "-"),
        st.text(alphabet=REST, max_size=20),
    ),
    # good characters, too long
    st.text(alphabet=REST, min_size=33, max_size=80).map(lambda tail: "a" + tail),
    # a good name with one bad character put in somewhere
    st.builds(
        lambda name, bad, where: name[:where] + bad + name[where:],
        good_names,
        st.sampled_from("/.\x00 \t\n\r:@\\AZÄé$*?'\"`"),
        st.integers(min_value=0, max_value=32),
    ),
    # uppercase
    good_names.map(str.upper).filter(lambda name: not is_good(name)),
    st.just(""),
    st.sampled_from(PATH_TRICKS),
    # "--" somewhere, or a trailing "-" (a user's name could be another's server's)
    st.builds(
        lambda name, where: name[:where] + "--" + name[where:],
        good_names,
        st.integers(min_value=1, max_value=30),
    ).filter(lambda name: len(name) <= 32),
    good_names.map(lambda name: name[:31] + "-"),
)


def url_of(name: str) -> str:
    # every byte percent-encoded, so "/", "..", NUL and spaces reach the app as sent
    return "/users/" + "".join(f"%{byte:02X}" for byte in name.encode())


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    config = make_root(tmp_path_factory.mktemp("names") / "root")
    return config, create_app(config).test_client()


@settings(PROPERTY, max_examples=400)
@given(name=bad_names)
def test_bad_names_are_refused_and_create_nothing(root, name):
    config, client = root
    assert not is_good(name)
    etc = etc_snapshot(config)
    homes = tree_snapshot(config.host_path("/home"))

    for response in (client.post(url_of(name)), client.get(url_of(name))):
        assert response.status_code == 400, (name, response.get_json())
        assert response.get_json()["error"] == "invalid-name"
        assert response.get_json()["detail"].startswith(repr(name))

    assert etc_snapshot(config) == etc  # passwd, group, shadow, gshadow
    assert tree_snapshot(config.host_path("/home")) == homes


@pytest.fixture(scope="module")
def good_root(tmp_path_factory):
    config = make_root(tmp_path_factory.mktemp("good") / "root")
    return config, create_app(config).test_client()


@settings(PROPERTY, max_examples=40)
@given(name=good_names)
def test_good_names_are_accepted(good_root, name):
    # one root for all examples: a name may come up twice, which the idempotent POST
    # answers with 200
    config, client = good_root
    response = client.post(url_of(name))
    assert response.status_code in (200, 201), response.get_json()
    answer = response.get_json()
    assert answer["name"] == name
    assert answer["home"] == f"/home/{name}"
    assert answer["uid"] >= 1000
    assert client.get(url_of(name)).get_json() == answer
    lines = config.host_path("/etc/passwd").read_text().splitlines()
    assert [line for line in lines if line.startswith(f"{name}:")] == [
        f"{name}:x:{answer['uid']}:{answer['gid']}::/home/{name}:/bin/bash"
    ]


@pytest.mark.parametrize(
    "name",
    ["a", "_", "alice", "alice-smith_2", "x" * 32, "a0", "a-b", "z" * 30 + "-z"],
)
def test_the_rule_accepts(name):
    assert check_name(name, reserved_names=(), reserved_prefixes=()) == name


@pytest.mark.parametrize(
    "name",
    # "a-", "a--b": the rule of issue 8 (no "--", no trailing "-"; see test_usernames)
    [
        "",
        "x" * 33,
        "0alice",
        "-alice",
        "Alice",
        "alice\n",
        "ali.ce",
        "alice@example.org",
        "a-",
        "a--b",
    ],
)
def test_the_rule_refuses(name):
    with pytest.raises(RestuserError) as e:
        check_name(name, reserved_names=(), reserved_prefixes=())
    assert (e.value.status, e.value.error) == (400, "invalid-name")


def test_reserved_prefixes():
    for name in ("systemd-timesync", "_apt", "_chrony"):
        with pytest.raises(RestuserError) as e:
            check_name(name)
        assert (e.value.status, e.value.error) == (403, "reserved-name")
    assert check_name("systemd") == "systemd"
