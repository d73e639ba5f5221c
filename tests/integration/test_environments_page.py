"""The admins' environments page and API in a real JupyterHub 6.1.1, talking to
the real builder service over its unix socket (issue 15). The builds themselves
are stand-ins that end at once (the real builds, with podman, are tested apart):
here it is the hub's side that is under test: only admins, the log as
server-sent events, removal refused while a real server uses the environment.
"""

from __future__ import annotations

import html
import json
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from waitress import create_server

from swarmhub.common.environment_requests import Limits
from swarmhub.envbuild.builder import BuilderSettings, BuildResult
from swarmhub.envbuild.service import BuildService
from swarmhub.envbuild.web import create_app
from tests.hub_process import HubProcess

TIMEOUT = 30.0
ADMIN_TOKEN = "admin-service-" + "8" * 32
IMAGE = "r:5000/swarmhub/env-{}@sha256:" + "e" * 64

HUB_SETTINGS = """\
c.JupyterHub.spawner_class = "simple"
c.Spawner.args = ["--allow-root"]
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {{"alice", "bob", "carl"}}
# a login lands on the home page, starting no server (carl's is the one started)
c.JupyterHub.default_url = "/hub/home"
c.Authenticator.admin_users = {{"alice"}}
c.JupyterHub.services = [{{"name": "minter", "api_token": "{admin_token}"}}]
c.JupyterHub.load_roles = [
    {{"name": "minter", "scopes": ["tokens", "admin:users", "servers"], "services": ["minter"]}}
]
from swarmhub.hub.environments_page import environments_handlers  # noqa: E402
from swarmhub.hub.projects_handlers import PROJECTS_TEMPLATES  # noqa: E402

c.JupyterHub.extra_handlers = environments_handlers(
    "{socket}", [{{"name": "python", "image": "r:5000/notebook@sha256:1"}}]
)
c.JupyterHub.template_paths = [PROJECTS_TEMPLATES]
"""


def stand_in_build(settings, request, report):
    report("fetching", f"Looking up {request.ref} in {request.repo_url}")
    report("building", "Step 1/2 : FROM notebook")
    if "broken" in request.name:
        from swarmhub.envbuild.builder import BuildFailed

        report("building", "ERROR: No matching distribution found for nope")
        raise BuildFailed("The build failed: ERROR: No matching distribution found for nope")
    return BuildResult(commit="d" * 40, image=IMAGE.format(request.name), seconds=1)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[HubProcess, BuildService]]:
    work = tmp_path_factory.mktemp("environments-hub")
    # a unix socket's path must be short (108 bytes): not under pytest's deep tmp
    sockets = Path(tempfile.mkdtemp(prefix="envb-", dir="/tmp"))
    socket_path = str(sockets / "api.sock")
    service = BuildService(
        BuilderSettings(registry="r:5000", notebook_image="r:5000/notebook@sha256:1"),
        work / "state",
        deploy_names=["python"],
        run=stand_in_build,
    )
    server = create_server(create_app(service, Limits()), unix_socket=socket_path)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    hub = HubProcess(work)
    hub.start(HUB_SETTINGS.format(admin_token=ADMIN_TOKEN, socket=socket_path), 60)
    yield hub, service
    hub.stop()
    server.close()


def token_for(hub: HubProcess, user: str) -> str:
    r = requests.post(
        f"{hub.api_url}/users/{user}/tokens",
        json={"note": "test"},
        headers={"Authorization": f"token {ADMIN_TOKEN}"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 201, r.text
    return r.json()["token"]


def call(hub, method, path, token, **kw) -> requests.Response:
    return requests.request(
        method,
        f"{hub.url}/hub/{path}",
        headers={"Authorization": f"token {token}"},
        timeout=TIMEOUT,
        **kw,
    )


def logged_in(hub, user: str) -> requests.Session:
    """A browser's session of `user` (the dummy authenticator's login form)."""
    session = requests.Session()
    login = session.get(f"{hub.url}/hub/login", timeout=TIMEOUT)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', login.text)
    form = {"username": user, "password": "x", **({"_xsrf": xsrf[1]} if xsrf else {})}
    session.post(f"{hub.url}/hub/login", data=form, timeout=TIMEOUT)
    return session


def events(hub, name, token) -> list[dict]:
    """The build's events as a page's EventSource gets them, until the last."""
    seen = []
    with call(hub, "GET", f"api/environments/{name}/events", token, stream=True) as r:
        assert r.status_code == 200 and r.headers["Content-Type"] == "text/event-stream"
        for line in r.iter_lines(decode_unicode=True):
            if line and line.startswith("data: "):
                seen.append(json.loads(line[6:]))
                if seen[-1].get("final"):
                    break
    return seen


def test_someone_not_an_admin_gets_403_from_the_page_and_its_api(site):
    hub, service = site
    bob = token_for(hub, "bob")
    page = logged_in(hub, "bob").get(f"{hub.url}/hub/environments", timeout=TIMEOUT)
    assert page.status_code == 403 and "Add an environment" not in page.text
    assert "Only the hub's admins manage environments" in html.unescape(page.text)
    assert call(hub, "GET", "api/environments", bob).status_code == 403
    added = call(
        hub, "POST", "api/environments", bob,
        json={"name": "sneaky", "repo_url": "https://git.example.org/x.git"},
    )  # fmt: skip
    assert added.status_code == 403 and "Only the hub's admins" in added.json()["error"]
    assert call(hub, "GET", "api/environments/python/events", bob).status_code == 403
    assert service.environments() == []  # nothing reached the builder


def test_an_admin_adds_one_follows_its_build_and_sees_it_built(site):
    hub, service = site
    alice = token_for(hub, "alice")
    page = logged_in(hub, "alice").get(f"{hub.url}/hub/environments", timeout=TIMEOUT)
    assert page.status_code == 200 and "Add an environment" in page.text
    added = call(
        hub, "POST", "api/environments", alice,
        json={"name": "pandas", "repo_url": "https://git.example.org/pandas.git",
              "ref": "main", "added_by": "mallory"},
    )  # fmt: skip
    assert added.status_code == 202, added.text
    seen = events(hub, "pandas", alice)
    assert [e["phase"] for e in seen][:2] == ["fetching", "building"]
    assert seen[-1]["phase"] == "built" and seen[-1]["final"]
    listed = call(hub, "GET", "api/environments", alice).json()
    assert [d["name"] for d in listed["deploy"]] == ["python"]
    [env] = listed["environments"]
    # who added it is the hub's answer, not what the page sent
    assert env["added_by"] == "alice" and env["image"] == IMAGE.format("pandas")
    assert env["build"]["state"] == "built"


def test_a_failed_build_shows_its_log_and_adds_nothing_usable(site):
    hub, service = site
    alice = token_for(hub, "alice")
    call(
        hub, "POST", "api/environments", alice,
        json={"name": "broken", "repo_url": "https://git.example.org/broken.git"},
    )  # fmt: skip
    seen = events(hub, "broken", alice)
    assert any("No matching distribution" in e["message"] for e in seen)
    assert seen[-1]["phase"] == "failed"
    env = {
        e["request"]["name"]: e
        for e in call(hub, "GET", "api/environments", alice).json()["environments"]
    }["broken"]
    assert env["build"]["state"] == "failed" and env["image"] == ""


def test_bad_input_is_refused_naming_the_field_and_changes_nothing(site):
    hub, service = site
    alice = token_for(hub, "alice")
    before = service.environments()
    for body, field, words in [
        ({"name": "x", "repo_url": "http://git.example.org/x.git"}, "repo_url", "http://"),
        ({"name": "python", "repo_url": "https://git.example.org/x.git"}, "name", "already"),
        ({"name": "y", "repo_url": "https://git.example.org/y.git", "cpu_limit": "99"},
         "cpu_limit", "CPUs must be"),
    ]:  # fmt: skip
        answer = call(hub, "POST", "api/environments", alice, json=body)
        assert answer.status_code == 400, answer.text
        assert answer.json()["field"] == field and words in answer.json()["error"]
    assert service.environments() == before
    deploy = call(hub, "DELETE", "api/environments/python", alice)
    assert deploy.status_code == 409 and "the deploy's" in deploy.json()["error"]


def test_removal_is_refused_while_a_server_uses_it_then_done(site):
    hub, service = site
    alice = token_for(hub, "alice")
    call(
        hub, "POST", "api/environments", alice,
        json={"name": "stats", "repo_url": "https://git.example.org/stats.git"},
    )  # fmt: skip
    events(hub, "stats", alice)
    ops = {"Authorization": f"token {ADMIN_TOKEN}"}
    started = requests.post(
        f"{hub.api_url}/users/carl/server", json={"environment": "stats"}, headers=ops, timeout=60
    )
    assert started.status_code in (201, 202), started.text
    try:
        busy = call(hub, "DELETE", "api/environments/stats", alice)
        assert busy.status_code == 409
        assert "in use by 1 running server(s): carl" in busy.json()["error"]
        assert "stats" in [e["request"]["name"] for e in service.environments()]
    finally:
        requests.delete(f"{hub.api_url}/users/carl/server", headers=ops, timeout=60)
    for _ in range(60):
        gone = call(hub, "DELETE", "api/environments/stats", alice)
        if gone.status_code != 409:
            break
        time.sleep(1)
    assert gone.status_code == 200, gone.text
    assert "stats" not in [e["request"]["name"] for e in service.environments()]
