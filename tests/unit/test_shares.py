import pytest

from swarmhub.hub.shares import (
    accessible_shares,
    group_ids,
    groups_past_auth_sys,
    parse_shares,
    user_groups,
)

SHARES = parse_shares(
    [
        {"name": "handouts", "path": "/srv/shares/handouts", "level": "public", "writers": ["ann"]},
        {
            "name": "grades",
            "path": "/srv/shares/grades",
            "level": "private",
            "readers": ["@tas"],
            "writers": ["ann"],
        },
        {"name": "exam", "path": "/srv/shares/exam", "level": "secret", "readers": ["carl"]},
    ]
)


def access(user, groups=()):
    return {a.share.name: a.writable for a in accessible_shares(SHARES, user, set(groups))}


def test_levels():
    # writer everywhere she is listed; public readable by all
    assert access("ann") == {"handouts": True, "grades": True}
    # a reader through a unix group reads, cannot write
    assert access("bob", ["tas"]) == {"handouts": False, "grades": False}
    # secret: only its reader sees it at all
    assert access("carl") == {"handouts": False, "exam": False}
    assert access("dan") == {"handouts": False}


@pytest.mark.parametrize(
    "entry, complaint",
    [
        ({"name": "Bad", "path": "/s", "level": "public"}, "lower-case"),
        ({"name": "a", "path": "rel", "level": "public"}, "absolute"),
        ({"name": "a", "path": "/s", "level": "hidden"}, "level"),
        ({"name": "a", "path": "/s", "level": "public", "readers": "bob"}, "list of names"),
    ],
)
def test_bad_shares_are_refused(entry, complaint):
    with pytest.raises(ValueError, match=complaint):
        parse_shares([entry])


def test_groups_from_the_group_file(tmp_path):
    group = tmp_path / "group"
    group.write_text(
        "root:x:0:\nann:x:1001:\ntas:x:2000:bob,carl\nshare-grades:x:999:\nbroken line\n"
    )
    assert user_groups("bob", 1002, str(group)) == {"tas": 2000}
    assert user_groups("ann", 1001, str(group)) == {"ann": 1001}
    assert group_ids(str(group), ["share-grades", "share-nope"]) == {"share-grades": 999}


def test_groups_past_the_16_that_nfs_carries_are_named():
    gids = {f"share-s{i}": 2000 + i for i in range(18)}
    assert groups_past_auth_sys(gids) == ["share-s16", "share-s17"]
    assert groups_past_auth_sys(dict(list(gids.items())[:16])) == []
