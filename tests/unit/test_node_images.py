"""Built environments' images reach every node before users may choose them, and
leave the nodes with their environment (issue 15, Must 2). The swarm manager is a
stand-in that records the jobs; the cluster test runs them on real nodes."""

from __future__ import annotations

import pytest

from swarmhub.common.environment_catalog import Catalog
from swarmhub.common.environment_requests import EnvironmentRequest
from swarmhub.hub import node_images as module
from swarmhub.hub.node_images import JOB_LABEL, NodeImages

IMAGE = "10.213.7.11:5000/swarmhub/env-{}@sha256:" + "b" * 64
NOTEBOOK = "10.213.7.11:5000/swarmhub/notebook@sha256:" + "a" * 64


class Manager:
    """A swarm manager's API as NodeImages uses it: jobs, and their tasks' states."""

    def __init__(self) -> None:
        self.created: dict[str, dict] = {}
        self.task_states: dict[str, list[tuple[str, str]]] = {}

    def create_service(self, template, name, labels, mode):
        service_id = f"id{len(self.created)}"
        self.created[service_id] = {"ID": service_id, "template": template, "name": name,
                                     "labels": labels, "mode": mode}  # fmt: skip
        self.task_states[service_id] = [("running", "")]
        return {"ID": service_id}

    def tasks(self, filters):
        return [{"Status": {"State": s, "Err": e}} for s, e in self.task_states[filters["service"]]]

    def remove_service(self, service_id):
        del self.created[service_id]

    def services(self, filters):
        return [s for s in self.created.values() if filters["label"] in s["labels"]]

    def job(self, action: str) -> tuple[str, dict]:
        (found,) = [(i, s) for i, s in self.created.items() if s["labels"][JOB_LABEL] == action]
        return found


def catalog_with(path, *names: str) -> None:
    catalog = Catalog.load(path)
    for name in names:
        request = EnvironmentRequest(name=name, repo_url=f"https://git.example.org/{name}.git",
                                     ref="main", display_name=name, description="",
                                     mem_limit=1 << 30, cpu_limit=1.0)  # fmt: skip
        catalog.add(request, "alice", "t0")
        catalog.finish(name, "t1", image=IMAGE.format(name))
    catalog.save()


@pytest.fixture
def setup(tmp_path):
    manager = Manager()
    path = tmp_path / "catalog.json"
    images = NodeImages(manager, str(path), NOTEBOOK, constraints=["node.role == worker"])
    return manager, path, images


def test_a_built_image_is_offered_only_once_every_node_pulled_it(setup):
    manager, path, images = setup
    catalog_with(path, "pandas")
    images.sync_once()
    service_id, job = manager.job("pull")
    spec = job["template"]["ContainerSpec"]
    assert spec["Image"] == NOTEBOOK
    assert spec["Command"][:2] == ["python3", "-c"] and spec["Command"][3:] == [
        "pull",
        IMAGE.format("pandas"),
    ]
    assert spec["CapabilityDrop"] == ["ALL"]
    assert {m["Target"]: m["ReadOnly"] for m in spec["Mounts"]} == {
        "/var/run/docker.sock": False,
        "/root/.docker/config.json": True,
    }
    assert job["template"]["Placement"]["Constraints"] == ["node.role == worker"]
    assert "GlobalJob" in job["mode"]
    assert (
        images.ready() == set()
        and images.state(IMAGE.format("pandas")) == "being copied to the nodes"
    )

    images.sync_once()  # still running on a node: no second job
    assert len(manager.created) == 1
    manager.task_states[service_id] = [("complete", ""), ("complete", "")]
    images.sync_once()
    assert images.ready() == {IMAGE.format("pandas")}
    assert images.state(IMAGE.format("pandas")) == "on every node"
    assert manager.created == {}  # the finished job is gone


def test_a_failed_pull_is_shown_and_tried_again_later(setup, monkeypatch):
    manager, path, images = setup
    catalog_with(path, "pandas")
    images.sync_once()
    service_id, _ = manager.job("pull")
    manager.task_states[service_id] = [("complete", ""), ("failed", "task: non-zero exit (1)")]
    images.sync_once()
    assert images.ready() == set()
    assert images.state(IMAGE.format("pandas")) == "not on the nodes: task: non-zero exit (1)"
    assert manager.created == {}  # not at once again
    clock = module.time.monotonic() + module.RETRY_AFTER_S + 1
    monkeypatch.setattr(module.time, "monotonic", lambda: clock)
    images.sync_once()
    assert manager.job("pull")


def test_a_removed_environment_leaves_the_nodes_and_the_form_at_once(setup):
    manager, path, images = setup
    catalog_with(path, "pandas", "numpy")
    images.sync_once()
    for service_id in list(manager.created):
        manager.task_states[service_id] = [("complete", "")]
    images.sync_once()
    assert images.ready() == {IMAGE.format("pandas"), IMAGE.format("numpy")}

    catalog = Catalog.load(path)
    catalog.remove("numpy")
    catalog.save()
    images.sync_once()
    assert images.ready() == {IMAGE.format("pandas")}
    _, job = manager.job("remove")
    assert job["template"]["ContainerSpec"]["Command"][3:] == ["remove", IMAGE.format("numpy")]


def test_jobs_a_previous_hub_left_are_removed_at_start(setup, monkeypatch):
    manager, _, images = setup
    manager.created["old"] = {"ID": "old", "labels": {JOB_LABEL: "pull"}}
    manager.created["user"] = {"ID": "user", "labels": {"other": "x"}}
    monkeypatch.setattr(images, "_run", lambda: None)  # no watching thread here
    images.start()
    assert list(manager.created) == ["user"]


def test_config_copies_share_the_one_watcher(setup):
    import copy

    _, _, images = setup
    assert copy.deepcopy({"kwargs": [images]})["kwargs"][0] is images


def test_a_job_the_manager_refuses_is_shown_and_holds_up_no_other_image(setup):
    from docker.errors import APIError

    manager, path, images = setup
    catalog_with(path, "numpy", "pandas")
    create = manager.create_service

    def refuse_numpy(template, name, labels, mode):
        if "env-numpy" in template["ContainerSpec"]["Command"][4]:
            raise APIError("409 Conflict: name conflicts with an existing object")
        return create(template, name, labels, mode)

    manager.create_service = refuse_numpy
    images.sync_once()
    _, job = manager.job("pull")
    assert job["template"]["ContainerSpec"]["Command"][4] == IMAGE.format("pandas")
    assert images.state(IMAGE.format("numpy")).startswith(
        "not on the nodes: the swarm manager refused the job: 409 Conflict"
    )
