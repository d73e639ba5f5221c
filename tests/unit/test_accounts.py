import pytest

from swarmhub.common.accounts import (
    Account,
    AccountError,
    account_from_auth_state,
    ensure_unprivileged,
    lookup_account,
)


def test_lookup_finds_the_users_line(passwd_file):
    assert lookup_account("alice", str(passwd_file)) == Account(
        name="alice", uid=1001, gid=1001, home="/home/alice"
    )


def test_lookup_keeps_a_shared_primary_group(passwd_file):
    assert lookup_account("bob", str(passwd_file)).gid == 100


def test_unknown_user_is_told_how_to_get_an_account(passwd_file):
    with pytest.raises(AccountError) as e:
        lookup_account("carol", str(passwd_file))
    message = str(e.value)
    assert "'carol' has no system account on the hub host" in message
    assert "./script/deploy users.yml" in message
    assert str(passwd_file) in message


def test_name_must_match_whole_not_as_prefix(tmp_path):
    passwd = tmp_path / "passwd"
    passwd.write_text("alice2:x:1003:1003::/home/alice2:/bin/bash\n")
    with pytest.raises(AccountError, match="no system account"):
        lookup_account("alice", str(passwd))


def test_missing_passwd_file_names_the_path(tmp_path):
    missing = tmp_path / "nope" / "passwd"
    with pytest.raises(AccountError, match="cannot read the hub host's passwd file") as e:
        lookup_account("alice", str(missing))
    assert str(missing) in str(e.value)


@pytest.mark.parametrize(
    "line, complaint",
    [
        ("alice:x:1001:1001:/home/alice:/bin/bash", "expected 7"),
        ("alice:x:one:1001::/home/alice:/bin/bash", "must be numbers"),
        ("alice:x:1001:", "expected 7"),
    ],
)
def test_malformed_entry_of_the_user_is_an_error_with_its_line(tmp_path, line, complaint):
    passwd = tmp_path / "passwd"
    passwd.write_text(f"root:x:0:0:root:/root:/bin/bash\n{line}\n")
    with pytest.raises(AccountError, match=complaint) as e:
        lookup_account("alice", str(passwd))
    assert f"{passwd}:2" in str(e.value)


def test_malformed_entries_of_others_do_not_matter(tmp_path):
    passwd = tmp_path / "passwd"
    passwd.write_text("\n# a comment\nbroken line\n+nis\nalice:x:1001:1001::/home/alice:/bin/sh\n")
    assert lookup_account("alice", str(passwd)).uid == 1001


@pytest.mark.parametrize("auth_state", [None, {}, {"uid": 1001}, {"google_user": {}}])
def test_auth_state_without_ids_gives_no_account(auth_state):
    assert account_from_auth_state("alice", auth_state, "/home") is None


def test_auth_state_ids_make_an_account_with_home_under_home_root():
    account = account_from_auth_state("alice", {"uid": 2001, "gid": 2002}, "/srv/home")
    assert account == Account(name="alice", uid=2001, gid=2002, home="/srv/home/alice")


@pytest.mark.parametrize("uid", ["2001", True, 20.5])
def test_auth_state_ids_must_be_integers(uid):
    with pytest.raises(AccountError, match="non-numeric uid/gid"):
        account_from_auth_state("alice", {"uid": uid, "gid": 2002}, "/home")


def test_system_accounts_are_refused():
    root = Account(name="root", uid=0, gid=0, home="/root")
    with pytest.raises(AccountError, match=r"'root' maps to a system account \(uid 0"):
        ensure_unprivileged(root, 1000)


def test_regular_accounts_pass_even_with_a_low_gid():
    bob = Account(name="bob", uid=1000, gid=100, home="/home/bob")
    assert ensure_unprivileged(bob, 1000) is bob
