"""The catalog of environments built from git, and its queue (issue 15, Must 4):
it survives a restart, builds wait in order, a failed rebuild keeps the old image."""

from __future__ import annotations

import json

import pytest

from swarmhub.common.environment_catalog import Catalog, CatalogError
from swarmhub.common.environment_requests import EnvironmentRequest

IMAGE = "10.213.7.11:5000/swarmhub/env-{}@sha256:" + "b" * 64


def request(name: str, ref: str = "main") -> EnvironmentRequest:
    return EnvironmentRequest(
        name=name,
        repo_url=f"https://git.example.org/{name}.git",
        ref=ref,
        display_name=name.title(),
        description="",
        mem_limit=2 << 30,
        cpu_limit=1.0,
    )


def test_the_catalog_comes_back_as_it_was_after_a_restart(tmp_path):
    path = tmp_path / "environments" / "catalog.json"
    catalog = Catalog.load(path)
    catalog.add(request("pandas"), "alice", "2026-12-01T10:00:00Z")
    catalog.update_build("pandas", state="building", commit="c" * 40, started_at="t1")
    catalog.finish("pandas", "2026-12-01T10:03:00Z", image=IMAGE.format("pandas"))
    catalog.save()

    again = Catalog.load(path)
    env = again.get("pandas")
    assert (env.added_by, env.image, env.commit) == ("alice", IMAGE.format("pandas"), "c" * 40)
    assert env.build.state == "built" and env.build.finished_at == "2026-12-01T10:03:00Z"
    assert [e.as_dict() for e in again] == [e.as_dict() for e in catalog]
    # the hub reads it: everyone may, nobody but the builder writes
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert not [p for p in path.parent.iterdir() if p.name != "catalog.json"]  # no leftovers


def test_builds_wait_in_the_order_they_came_at_most_n_at_once(tmp_path):
    catalog = Catalog(tmp_path / "c.json")
    for i, name in enumerate(["c", "a", "b"]):
        catalog.add(request(name), "alice", f"2026-12-01T10:00:0{i}Z")
    assert [e.name for e in catalog.next_builds(2)] == ["c", "a"]
    catalog.update_build("c", state="building")
    assert [e.name for e in catalog.next_builds(2)] == ["a"]
    catalog.update_build("a", state="building")
    assert catalog.next_builds(2) == []
    assert [e.name for e in catalog.queue()] == ["b"]


def test_a_failed_rebuild_keeps_the_image_users_start_from(tmp_path):
    catalog = Catalog(tmp_path / "c.json")
    catalog.add(request("pandas"), "alice", "t0")
    catalog.update_build("pandas", state="building", commit="1" * 40)
    catalog.finish("pandas", "t1", image=IMAGE.format("pandas"))
    catalog.rebuild("pandas", "v2", "t2")
    env = catalog.get("pandas")
    assert (env.build.number, env.build.state, env.request.ref) == (2, "queued", "v2")
    assert env.usable and env.image == IMAGE.format("pandas")
    catalog.update_build("pandas", state="building", commit="2" * 40)
    env = catalog.finish("pandas", "t3", message="pip: no matching distribution")
    assert env.build.state == "failed" and env.build.message.startswith("pip:")
    assert (env.image, env.commit) == (IMAGE.format("pandas"), "1" * 40)


def test_changes_that_make_no_sense_are_refused(tmp_path):
    catalog = Catalog(tmp_path / "c.json")
    catalog.add(request("pandas"), "alice", "t0")
    with pytest.raises(CatalogError, match="called 'pandas' already"):
        catalog.add(request("pandas"), "bob", "t1")
    with pytest.raises(CatalogError, match="queued already"):
        catalog.rebuild("pandas", "v2", "t1")
    catalog.update_build("pandas", state="building")
    with pytest.raises(CatalogError, match="being built"):
        catalog.remove("pandas")
    with pytest.raises(CatalogError, match="no built environment 'nope'"):
        catalog.get("nope")


def test_a_build_running_when_the_builder_stopped_is_failed_saying_so(tmp_path):
    catalog = Catalog(tmp_path / "c.json")
    catalog.add(request("pandas"), "alice", "t0")
    catalog.update_build("pandas", state="building")
    [env] = catalog.interrupted("t9")
    assert env.build.state == "failed" and "interrupted" in env.build.message
    assert catalog.building() == []


def test_a_catalog_of_another_version_is_not_read_as_this_one(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"version": 99, "environments": []}))
    with pytest.raises(CatalogError, match="version 99"):
        Catalog.load(path)
