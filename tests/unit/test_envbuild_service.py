"""The builder's queue and API (issue 15, Musts 3 to 5), with a stand-in for the
build itself (the real builds are in the integration tier): builds wait in order,
at most N at once; a page follows a build's log as it comes; a failed build's
log stays readable, across a restart too; bad requests change nothing."""

from __future__ import annotations

import threading
import time

import pytest

from swarmhub.common.environment_requests import Limits
from swarmhub.envbuild.builder import BuilderSettings, BuildFailed, BuildResult
from swarmhub.envbuild.service import BuildService
from swarmhub.envbuild.web import create_app

SETTINGS = BuilderSettings(registry="r:5000", notebook_image="r:5000/nb@sha256:" + "a" * 64)
IMAGE = "r:5000/swarmhub/env-{}@sha256:" + "b" * 64


class StandInBuilds:
    """Builds that report a line, then wait until the test lets them end."""

    def __init__(self) -> None:
        self.release: dict[str, threading.Event] = {}
        self.started: list[str] = []
        self.fail: set[str] = set()

    def __call__(self, settings, request, report):
        self.started.append(request.name)
        gate = self.release.setdefault(request.name, threading.Event())
        report("fetching", f"Looking up {request.ref}")
        report("building", "Step 1/3 : FROM notebook")
        assert gate.wait(10), "the test never let the build end"
        if request.name in self.fail:
            report("building", "ERROR: No matching distribution found for nope")
            raise BuildFailed("The build failed: ERROR: No matching distribution found for nope")
        return BuildResult(commit="c" * 40, image=IMAGE.format(request.name), seconds=3)

    def finish(self, name: str) -> None:
        self.release.setdefault(name, threading.Event()).set()


def wait_for(condition, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def site(tmp_path):
    builds = StandInBuilds()
    service = BuildService(
        SETTINGS, tmp_path / "state", at_once=1, deploy_names=["python"], run=builds
    )
    client = create_app(service, Limits()).test_client()
    yield service, client, builds
    for gate in builds.release.values():
        gate.set()
    service.wait_idle()


def add(client, name: str, **fields):
    body = {
        "name": name,
        "repo_url": f"https://git.example.org/{name}.git",
        "ref": "main",
        "added_by": "alice",
        **fields,
    }
    return client.post("/api/environments", json=body)


def listed(client) -> dict[str, dict]:
    return {e["request"]["name"]: e for e in client.get("/api/environments").json["environments"]}


def test_builds_wait_in_order_and_each_ends_built_with_its_image(site):
    service, client, builds = site
    assert add(client, "pandas").status_code == 202
    assert add(client, "stats").status_code == 202
    wait_for(lambda: builds.started == ["pandas"], "the first build")
    envs = listed(client)
    assert envs["pandas"]["build"]["state"] == "building"
    assert (envs["stats"]["build"]["state"], envs["stats"]["queue_position"]) == ("queued", 1)

    builds.finish("pandas")
    wait_for(lambda: builds.started == ["pandas", "stats"], "the second build")
    builds.finish("stats")
    service.wait_idle()
    envs = listed(client)
    for name in ("pandas", "stats"):
        assert envs[name]["build"]["state"] == "built"
        assert envs[name]["image"] == IMAGE.format(name)
        assert envs[name]["added_by"] == "alice"
        assert envs[name]["build"]["message"].startswith("Built commit cccccccccccc")


def test_a_page_follows_the_log_as_it_comes_and_sees_the_end(site):
    service, client, builds = site
    add(client, "pandas")
    wait_for(lambda: builds.started, "the build")
    seen, since = [], 0
    while len(seen) < 2:  # as a page does: ask from where it got to, waiting for more
        first = client.get(f"/api/environments/pandas/log?since={since}&wait=5").json
        seen += [line["message"] for line in first["lines"]]
        since = first["next"]
    assert seen == ["Looking up main", "Step 1/3 : FROM notebook"]
    assert first["state"] == "building"
    # nothing new: the request waits, and returns when the build ends
    threading.Timer(0.3, builds.finish, args=("pandas",)).start()
    started = time.monotonic()
    rest = client.get(f"/api/environments/pandas/log?since={first['next']}&wait=5").json
    assert time.monotonic() - started >= 0.2
    service.wait_idle()
    rest = client.get(f"/api/environments/pandas/log?since={first['next']}").json
    assert rest["state"] == "built" and rest["lines"][-1]["phase"] == "built"


def test_a_failed_build_keeps_its_log_across_a_restart_and_changes_nothing_else(site, tmp_path):
    service, client, builds = site
    builds.fail.add("broken")
    add(client, "broken")
    builds.finish("broken")
    service.wait_idle()
    env = listed(client)["broken"]
    assert env["build"]["state"] == "failed" and env["image"] == ""
    assert "No matching distribution found for nope" in env["build"]["message"]

    again = BuildService(SETTINGS, tmp_path / "state", run=builds)
    log = again.log_since("broken", 0)
    messages = [line["message"] for line in log["lines"]]
    assert "ERROR: No matching distribution found for nope" in messages
    assert log["lines"][-1]["phase"] == "failed" and log["state"] == "failed"


def test_a_build_cut_by_a_restart_is_failed_saying_so(site, tmp_path):
    service, client, builds = site
    add(client, "pandas")
    wait_for(lambda: builds.started, "the build")
    again = BuildService(SETTINGS, tmp_path / "state", run=StandInBuilds())
    env = again.catalog.get("pandas")
    assert env.build.state == "failed" and "interrupted" in env.build.message


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"repo_url": "http://git.example.org/x.git"}, 400, "http:// URLs are not allowed"),
        ({"mem_limit": "64G"}, 400, "Memory must be from"),
        ({"name": "python"}, 400, "called 'python' already"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(site, fields, status, words):
    service, client, builds = site
    answer = add(client, fields.pop("name", "pandas"), **fields)
    assert answer.status_code == status and words in answer.json["error"]
    assert client.get("/api/environments").json["environments"] == []
    assert builds.started == []


def test_names_taken_unknown_environments_and_removing_while_building(site):
    service, client, builds = site
    add(client, "pandas")
    assert add(client, "pandas").status_code == 409
    wait_for(lambda: builds.started, "the build")
    busy = client.delete("/api/environments/pandas")
    assert busy.status_code == 409 and "being built" in busy.json["error"]
    assert client.delete("/api/environments/nope").status_code == 404
    builds.finish("pandas")
    service.wait_idle()
    assert client.delete("/api/environments/pandas").status_code == 200
    assert listed(client) == {}


def test_a_rebuild_at_a_new_ref_keeps_the_old_image_until_it_is_built(site):
    service, client, builds = site
    add(client, "pandas")
    builds.finish("pandas")
    service.wait_idle()
    builds.release["pandas"] = threading.Event()
    answer = client.post("/api/environments/pandas/builds", json={"ref": "v2"})
    assert answer.status_code == 202
    wait_for(lambda: builds.started == ["pandas", "pandas"], "the rebuild")
    env = listed(client)["pandas"]
    assert env["build"]["number"] == 2 and env["request"]["ref"] == "v2"
    assert env["image"] == IMAGE.format("pandas")  # still usable meanwhile
    bad = client.post("/api/environments/pandas/builds", json={"ref": "a..b"})
    assert bad.status_code == 400 and bad.json["field"] == "ref"
