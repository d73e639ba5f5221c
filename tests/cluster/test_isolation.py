"""Issue 8: a student's links cannot turn the hub (root, every home mounted) on
another user's files or on the hub's own data. bob attacks from his server,
through nginx, with the page and the API, as a student would."""

from __future__ import annotations

import json
import time

import pytest

from tests.cluster import jupyter_ui, trial
from tests.cluster.trial import PUBLIC_URL, on_host

CANARY = "canary-isolation.txt"
# What bob's link may point at, as the hub container sees the hub host:
# every home, the hub's data and secrets, the root, another user's home.
TARGETS = {
    "homes": ("/srv/homes", ["ann", "cara", "dora"]),
    "hub-data": ("/srv/jupyterhub", ["data", "secrets"]),
    "root": ("/", ["etc", "srv", "home"]),
    "ann": ("/srv/homes/ann", [CANARY, "projects"]),
}
REFUSED = "symbolic link or a file"


def guarded_state() -> str:
    """Checksums of what bob must not reach: a canary file in every other home
    (written now and then only read), the homes' names, the hub's secrets and
    the hub's database being there."""
    return on_host(
        "hub",
        f"ls /home; sha256sum /home/*/{CANARY} | grep -v /home/bob/; "
        "find /srv/jupyterhub/secrets -type f -exec sha256sum {} + | sort; "
        "test -s /srv/jupyterhub/data/jupyterhub.sqlite && echo db-present",
    )


@pytest.fixture
def bob_server(first_deploy, new_page):
    """bob, logged in, with his default server running; canaries in other homes."""
    for user in ("ann", "cara", "dora"):
        on_host(
            "hub",
            f"id {user} >/dev/null 2>&1 || exit 0; echo {user}-canary > /home/{user}/{CANARY}; "
            f"chown {user}: /home/{user}/{CANARY}",
        )
    page = new_page()
    jupyter_ui.log_in_to_hub(page, "bob@example.org")
    # room for the named server "attack" (the named-server limit counts stopped ones)
    model = jupyter_ui.hub_api(page, "GET", "/users/bob?include_stopped_servers=1").json()
    for server in model["servers"]:
        if server:
            remove_named(page, server)
    if not jupyter_ui.server_state(page, "bob").get("ready"):
        jupyter_ui.start_server(page, "bob")
    trial.exec_in_server("bob", "rm -f ~/projects; mkdir -p ~/projects")
    yield page
    # ([f]: pkill must not match its own shell's command line)
    trial.exec_in_server(
        "bob", "pkill -f '[f]lip-projects'; rm -f ~/projects; mkdir -p ~/projects", check=False
    )
    remove_named(page, "attack")


def remove_named(page, server: str) -> None:
    """Stop and forget bob's named server (the named-server test counts them),
    once any start of it has settled (a pending start cannot be deleted)."""
    cookies = page.context.cookies(f"{PUBLIC_URL}/hub/")
    xsrf = next((c["value"] for c in cookies if c["name"] == "_xsrf" and c["path"] == "/hub/"), "")
    deadline = time.monotonic() + 180
    while True:
        reply = page.request.fetch(
            f"{PUBLIC_URL}/hub/api/users/bob/servers/{server}",
            method="DELETE",
            headers={"X-XSRFToken": xsrf, "Content-Type": "application/json"},
            data=json.dumps({"remove": True}),
        )
        servers = jupyter_ui.hub_api(page, "GET", "/users/bob").json()["servers"]
        if reply.status in (204, 404) and server not in servers:
            return
        assert time.monotonic() < deadline, f"bob's server {server}: {reply.status} {reply.text()}"
        time.sleep(1)


def link_projects(target: str) -> None:
    trial.exec_in_server("bob", f"rm -rf ~/projects && ln -s {target} ~/projects")


@pytest.mark.parametrize("name", list(TARGETS))
def test_a_linked_projects_folder_is_refused_by_page_api_and_spawn(bob_server, name):
    page = bob_server
    target, victims = TARGETS[name]
    before = guarded_state()
    link_projects(target)

    listed = jupyter_ui.hub_api(page, "GET", "/users/bob/projects")
    assert listed.status == 400 and REFUSED in listed.json()["message"]
    for victim in victims:
        deleted = jupyter_ui.hub_api(page, "DELETE", f"/users/bob/projects/{victim}")
        assert deleted.status in (400, 404), deleted.text()
        assert deleted.status == 404 or REFUSED in deleted.json()["message"]
    page.goto(f"{PUBLIC_URL}/hub/projects")
    assert REFUSED in page.content()
    for victim in victims:  # the page shows none of the hub's view of the target
        assert f"<td>{victim}</td>" not in page.content()
    started = jupyter_ui.request_server(page, "bob", "attack", project=victims[0])
    assert started.status == 400 and REFUSED in started.json()["message"]

    assert guarded_state() == before
    assert on_host("hub", "readlink /home/bob/projects") == target  # his link, left alone


def test_a_project_holding_links_is_deleted_without_following_them(bob_server):
    page = bob_server
    before = guarded_state()
    trial.exec_in_server(
        "bob",
        "mkdir -p ~/projects/p/deep && ln -s /srv/homes/ann ~/projects/p/to-ann "
        f"&& ln -s /srv/homes/ann/{CANARY} ~/projects/p/deep/canary && ln -s / ~/projects/p/root",
    )
    assert jupyter_ui.hub_api(page, "DELETE", "/users/bob/projects/p").status == 204
    assert on_host("hub", "ls -A /home/bob/projects") == ""
    assert guarded_state() == before


def test_a_link_flipped_while_the_hub_works_never_reaches_another_tree(bob_server):
    """bob's server flips ~/projects between a folder holding 'ann' and a link
    to every home, while he lists, deletes and starts projects: the hub either
    works in his own folder or refuses, and never follows the link."""
    page = bob_server
    before = guarded_state()
    flip = (
        "end=$(( $(date +%s) + 90 )); while [ $(date +%s) -lt $end ]; do "
        "rm -rf ~/projects; mkdir -p ~/projects/ann; rm -rf ~/projects; "
        "ln -s /srv/homes ~/projects; done"
    )
    trial.exec_in_server(
        "bob", f"nohup sh -c '# flip-projects\n{flip}' >/dev/null 2>&1 &", check=True
    )
    statuses: dict[str, set[int]] = {"list": set(), "delete": set(), "start": set()}
    deadline = time.monotonic() + 60
    rounds = 0
    while rounds < 40 and time.monotonic() < deadline:
        rounds += 1
        statuses["list"].add(jupyter_ui.hub_api(page, "GET", "/users/bob/projects").status)
        statuses["delete"].add(jupyter_ui.hub_api(page, "DELETE", "/users/bob/projects/ann").status)
        if rounds % 10 == 0:
            reply = jupyter_ui.request_server(page, "bob", "attack", project="ann")
            statuses["start"].add(reply.status)
            if reply.status in (201, 202):
                remove_named(page, "attack")
    trial.exec_in_server("bob", "pkill -f '[f]lip-projects'", check=False)
    print(f"\n{rounds} rounds; answers: {statuses}")
    assert statuses["list"] <= {200, 400}
    assert statuses["delete"] <= {204, 400, 404}
    assert statuses["start"] <= {201, 202, 400}
    assert guarded_state() == before
