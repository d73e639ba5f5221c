"""What a server gets from its user's choices: environment (image, limits,
folder), project, shares (mounts and group ids), shared data."""

from __future__ import annotations

import asyncio
import os
import re

import pytest
from tornado.web import HTTPError

from swarmhub.hub.service_spec import DEFAULT_PIDS_LIMIT

ENVIRONMENTS = [
    {"name": "python", "image": "reg/notebook:1", "mem_limit": 2 * 1024**3, "cpu_limit": 1.0},
    {"name": "course", "image": "reg/course:1", "mem_limit": None, "cpu_limit": None},
]
SHARES = [
    {"name": "handouts", "path": "/srv/shares/handouts", "level": "public", "writers": ["@staff"]},
    {"name": "exam", "path": "/srv/shares/exam", "level": "secret", "readers": ["carl"]},
]


@pytest.fixture
def group_file(tmp_path):
    path = tmp_path / "group"
    path.write_text(
        "alice:x:1001:\nstaff:x:3000:alice\nshare-handouts:x:990:\n"
        "share-handouts-w:x:991:\nshare-exam:x:992:\nshare-exam-w:x:993:\n"
    )
    return str(path)


@pytest.fixture
def spawner(make_spawner, tmp_path, group_file):
    (tmp_path / "homes" / "alice").mkdir(parents=True)

    def make(**options):
        s = make_spawner(
            "alice",
            environments=ENVIRONMENTS,
            shares=SHARES,
            group_file=group_file,
            hub_home_root=str(tmp_path / "homes"),
            data_dir="/srv/data",
            project_limit=1,
        )
        s.user_options = options
        return s

    return make


def spec(swarm):
    container = swarm.created["task_template"]["ContainerSpec"]
    env = dict(item.split("=", 1) for item in container["Env"])
    mounts = {m["Target"]: (m["Source"], m["ReadOnly"]) for m in container["Mounts"]}
    return container, env, mounts


def started(spawner_, swarm):
    """Apply the options as start() does, then create the service."""
    spawner_.apply_options()
    asyncio.run(spawner_.create_object())
    return spec(swarm)


def test_environment_sets_image_limits_and_folder(spawner, swarm):
    s = spawner(environment="course")
    s.mem_limit = 123  # a previous start's limit must not stick
    container, env, _ = started(s, swarm)
    assert container["Image"] == "reg/course:1"
    # no memory or CPU limit: only the pids limit every server has
    assert swarm.created["task_template"]["Resources"]["Limits"] == {"Pids": DEFAULT_PIDS_LIMIT}
    assert env["SWARMHUB_ENV_DIR"] == env["SWARMHUB_WORKDIR"] == "/home/alice/course"
    assert env["JUPYTERHUB_DEFAULT_URL"] == "/lab/tree/course"


def test_unknown_environment_is_a_clear_400(spawner):
    with pytest.raises(HTTPError) as e:
        spawner(environment="gpu").apply_options()
    assert e.value.status_code == 400 and "python, course" in e.value.log_message


def test_shares_mounted_by_access_with_their_group_ids(spawner, swarm):
    container, env, mounts = started(spawner(), swarm)
    # alice writes handouts through @staff; the secret share is not there at all
    assert mounts["/srv/shares/handouts"] == ("/srv/shares/handouts", False)
    assert "/srv/shares/exam" not in mounts
    assert sorted(container["Groups"]) == ["990", "991"]
    assert "exam" not in str(container)
    assert mounts["/srv/data"] == ("/srv/data", True)


def test_project_folder_made_for_the_user_and_limit_enforced(spawner, swarm, tmp_path):
    _, env, mounts = started(spawner(project="thesis"), swarm)
    project = tmp_path / "homes" / "alice" / "projects" / "thesis"
    assert project.is_dir()
    if os.getuid() == 0:  # chown works only as root
        assert (project.stat().st_uid, project.stat().st_gid) == (1001, 1001)
    assert env["SWARMHUB_WORKDIR"] == "/home/alice/projects/thesis"
    # reached through the home's mount only: no mount source inside the home
    assert [src for src, _ in mounts.values() if src.startswith("/srv/nfs/home/")] == [
        "/srv/nfs/home/alice"
    ]
    with pytest.raises(HTTPError) as e:
        asyncio.run(spawner(project="other").create_object())
    assert e.value.status_code == 400 and "already have 1 projects" in e.value.log_message


def test_a_linked_projects_folder_refuses_the_start_and_touches_nothing(spawner, swarm, tmp_path):
    victim = tmp_path / "homes" / "bob"
    victim.mkdir()
    (tmp_path / "homes" / "alice" / "projects").symlink_to(victim)
    with pytest.raises(HTTPError) as e:
        started(spawner(project="thesis"), swarm)
    assert e.value.status_code == 400 and "symbolic link" in e.value.log_message
    assert list(victim.iterdir()) == []
    assert swarm.created is None
    # his link is his business: a server without a project still starts
    _, env, mounts = started(spawner(), swarm)
    assert env["SWARMHUB_WORKDIR"] == "/home/alice/python"
    assert list(victim.iterdir()) == []


def test_default_environment_and_its_limits(spawner, swarm):
    container, env, _ = started(spawner(), swarm)
    assert container["Image"] == "reg/notebook:1"
    assert swarm.created["task_template"]["Resources"]["Limits"] == {
        "NanoCPUs": 1_000_000_000,
        "MemoryBytes": 2 * 1024**3,
        "Pids": DEFAULT_PIDS_LIMIT,
    }
    assert env["SWARMHUB_WORKDIR"] == "/home/alice/python"


# --- environments built from git (issue 15) ------------------------------------


def built_catalog(tmp_path):
    """The builder's catalog: one built, one whose first build failed, one named as
    a deploy's environment."""
    from swarmhub.common.environment_catalog import Catalog
    from swarmhub.common.environment_requests import EnvironmentRequest

    catalog = Catalog(tmp_path / "catalog.json")
    for name, image in (("pandas", "reg/env-pandas@sha256:1"), ("broken", ""), ("course", "x")):
        catalog.add(
            EnvironmentRequest(
                name=name,
                repo_url=f"https://git.example.org/{name}.git",
                ref="main",
                display_name=f"{name.title()} env",
                description="pandas 2" if name == "pandas" else "",
                mem_limit=3 << 30,
                cpu_limit=0.5,
            ),
            "admin",
            "t0",
        )
        catalog.update_build(name, state="building", commit="c" * 40)
        catalog.finish(name, "t1", image=image)
    catalog.save()
    return str(catalog.path)


def test_built_environments_are_offered_after_the_deploys_and_start_with_their_limits(
    spawner, swarm, tmp_path
):
    s = spawner(environment="pandas")
    s.built_environments_file = built_catalog(tmp_path)
    form = asyncio.run(s.options_form(s))
    options = re.findall(r'<option value="([^"]+)"', form)
    assert options[:3] == ["python", "course", "pandas"]  # no broken, one course
    assert "Pandas env: pandas 2" in form
    container, env, _ = started(s, swarm)
    assert container["Image"] == "reg/env-pandas@sha256:1"
    limits = swarm.created["task_template"]["Resources"]["Limits"]
    assert limits["MemoryBytes"] == 3 << 30 and limits["NanoCPUs"] == 500_000_000
    assert env["SWARMHUB_ENV_DIR"] == "/home/alice/pandas"


def test_a_built_environment_without_an_image_is_not_startable(spawner, tmp_path):
    s = spawner(environment="broken")
    s.built_environments_file = built_catalog(tmp_path)
    with pytest.raises(HTTPError) as e:
        s.apply_options()
    assert e.value.status_code == 400 and "no environment 'broken'" in e.value.log_message


def test_a_built_environment_is_offered_once_its_image_is_on_every_node(spawner, tmp_path):
    class Nodes:  # node_images.NodeImages as the spawner uses it
        on_nodes: set[str] = set()

        def ready(self):
            return set(self.on_nodes)

    s = spawner(environment="pandas")
    s.built_environments_file = built_catalog(tmp_path)
    s.node_images = Nodes()
    with pytest.raises(HTTPError) as e:
        s.apply_options()
    assert "no environment 'pandas'" in e.value.log_message
    Nodes.on_nodes = {"reg/env-pandas@sha256:1"}
    s.apply_options()
    assert s.image == "reg/env-pandas@sha256:1"


def test_an_unreadable_catalog_leaves_the_deploys_environments(spawner, tmp_path, caplog):
    (tmp_path / "catalog.json").write_text("{not json")
    s = spawner(environment="course")
    s.built_environments_file = str(tmp_path / "catalog.json")
    s.apply_options()
    assert s.image == "reg/course:1"
    assert "The built environments are not offered" in caplog.text
