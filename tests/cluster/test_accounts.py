"""Issue 3: a first login makes the person's system account (restuser), once."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from tests.cluster import jupyter_ui, trial
from tests.cluster.trial import on_host

SKELETON_FILE = "/srv/skeldir/READ-ME-FIRST.txt"


def test_first_login_creates_the_system_user_from_the_skeleton_once(first_deploy, new_page):
    on_host("hub", f"echo 'from the skeleton' > {SKELETON_FILE}")
    assert on_host("hub", "getent passwd dora", check=False) == ""

    page = new_page()
    started = time.monotonic()
    jupyter_ui.log_in(page, "Dora@example.org")
    # the spawn form (or the lab) shows once the login, account included, is done
    page.wait_for_url("**/hub/spawn**", timeout=60_000)
    login_seconds = time.monotonic() - started
    trial.record_timing("first_login_s", login_seconds)
    print(f"\nfirst login of dora, restuser included: {login_seconds:.2f}s")

    entry = on_host("hub", "getent passwd dora").split(":")
    uid, gid, home = int(entry[2]), int(entry[3]), entry[5]
    assert uid >= 1000 and home == "/home/dora"
    assert on_host("hub", "stat -c '%u %g %a' /home/dora") == f"{uid} {gid} 700"
    assert on_host("hub", "cat /home/dora/READ-ME-FIRST.txt") == "from the skeleton"
    assert on_host("hub", "stat -c %u /home/dora/READ-ME-FIRST.txt") == str(uid)
    assert "created user dora" in on_host("hub", "journalctl -u swarmhub-restuser --no-pager")

    # a second login changes nothing on the hub host
    before = on_host("hub", "sha256sum /etc/passwd /etc/group /etc/shadow")
    again = new_page()
    jupyter_ui.log_in_to_hub(again, "dora@example.org")
    assert on_host("hub", "sha256sum /etc/passwd /etc/group /etc/shadow") == before

    # and the server runs as that uid
    jupyter_ui.wait_for_lab(again, "dora")
    assert trial.exec_in_server("dora", "id -u").stdout.strip() == str(uid)


def test_restuser_is_unreachable_from_a_users_server(first_deploy, new_page):
    page = new_page()
    jupyter_ui.log_in(page, "cara@example.org")
    jupyter_ui.wait_for_lab(page, "cara")
    # the socket is bind-mounted into the hub container only
    hub_has_it = on_host("hub", "docker exec jupyterhub ls /run/swarmhub-restuser")
    assert "restuser.sock" in hub_has_it
    probe = trial.exec_in_server(
        "cara", "ls /run/swarmhub-restuser; ls /var/run/docker.sock", check=False
    )
    assert probe.stderr.count("No such file") == 2, probe.stderr
    # nor any other socket on the server's own filesystem, wherever it is mounted
    sockets = trial.exec_in_server("cara", "find / -xdev -type s 2>/dev/null", check=False)
    assert sockets.stdout.split() == [], sockets.stdout


def test_an_operator_account_on_the_hub_is_not_adopted(first_deploy, new_page):
    # an account an operator made by hand on the hub host, with a home of files:
    # the hub must not hand it to whoever logs in with that name
    on_host(
        "hub",
        "id eve >/dev/null 2>&1 || { useradd -m -s /bin/bash eve && "
        "echo 'operator notes' > /home/eve/notes.txt && chown eve: /home/eve/notes.txt; }",
    )
    state = "getent passwd eve; id -nG eve; stat -c '%u %g %a' /home/eve; sha256sum /home/eve/*"
    before = on_host("hub", state)

    page = new_page()
    jupyter_ui.log_in(page, "eve@example.org")
    refusal = page.get_by_text("This hub cannot give you the account eve").first
    expect(refusal).to_be_visible(timeout=60_000)
    assert "Nothing was created" in page.content()
    assert on_host("hub", state) == before
    assert trial.running_task("jupyter-eve") is None


def test_two_google_accounts_never_share_one_name(first_deploy, new_page):
    # ada.lovelace@ and ada-lovelace@ both make the name ada-lovelace: the first
    # to log in keeps it, the second is refused and gets nothing
    first = new_page()
    jupyter_ui.log_in_to_hub(first, "ada.lovelace@example.org")
    account = on_host("hub", "getent passwd ada-lovelace")
    assert account, "the first login made no account"

    second = new_page()
    jupyter_ui.log_in(second, "ada-lovelace@example.org")
    refusal = second.get_by_text("The name ada-lovelace is already used by another Google")
    expect(refusal.first).to_be_visible(timeout=60_000)
    assert "jupyterhub-hub-login" not in {c["name"] for c in second.context.cookies()}
    logs = on_host("hub", "docker logs jupyterhub 2>&1 | grep 'Refused login of' || true")
    assert "ada-lovelace@example.org" in logs

    # the first keeps the name and the account, unchanged
    again = new_page()
    jupyter_ui.log_in_to_hub(again, "ada.lovelace@example.org")
    assert jupyter_ui.hub_api(again, "GET", "/user").json()["name"] == "ada-lovelace"
    assert on_host("hub", "getent passwd ada-lovelace") == account


def test_while_restuser_is_down_existing_users_log_in_and_new_ones_are_told(first_deploy, new_page):
    """Issue 11, drill 3: restuser stopped. ann (account and home exist) logs in
    and reaches her server; fay (allowed, never logged in) gets the page that
    says to retry, and nothing of hers is made."""
    page = new_page()
    jupyter_ui.log_in_to_hub(page, "ann@example.org")  # her account exists from here on
    page.context.clear_cookies()
    absent = "getent passwd fay || true; ls -d /home/fay 2>/dev/null || true"
    assert on_host("hub", absent) == ""
    on_host("hub", "systemctl stop swarmhub-restuser")
    try:
        started = time.monotonic()
        jupyter_ui.log_in(page, "ann@example.org")
        jupyter_ui.wait_for_lab(page, "ann")
        print(f"\nann in JupyterLab {time.monotonic() - started:.0f}s after logging in "
              "with restuser down")  # fmt: skip

        newcomer = new_page()
        jupyter_ui.log_in(newcomer, "fay@example.org")
        told = newcomer.get_by_text("Your account could not be set up").first
        expect(told).to_be_visible(timeout=60_000)
        assert "Nothing was created" in newcomer.content()
        assert on_host("hub", absent) == ""
    finally:
        on_host("hub", "systemctl start swarmhub-restuser")
    jupyter_ui.stop_server(page, "ann")
