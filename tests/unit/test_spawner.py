import asyncio
import copy
import logging
from importlib.metadata import entry_points
from pathlib import Path
from types import SimpleNamespace

import pytest
from docker.types import Mount
from tornado.web import HTTPError
from traitlets.config import Config

import swarmhub.hub.spawner as spawner_module
from swarmhub.common.accounts import Account, AccountError
from swarmhub.hub.service_spec import (
    DEFAULT_PIDS_LIMIT,
    container_args,
    home_mount,
    lost_hardening,
    service_create_kwargs,
    service_name_for,
)
from swarmhub.hub.spawner import SwarmUserSpawner, stop_reasons, wait_for_port

IMAGE = "10.213.7.11:5000/swarmhub/notebook:1"
ALICE = Account(name="alice", uid=1001, gid=1001, home="/home/alice")


def build(**overrides):
    kwargs = {
        "name": "jupyter-alice",
        "image": IMAGE,
        "account": ALICE,
        "home_root": "/srv/nfs/home",
        "network": "swarmhub",
        "env": {"JUPYTERHUB_API_TOKEN": "t0k3n", "HOME": "/root"},
        "args": None,
        "mem_limit": 1024**3,
        "cpu_limit": 1.5,
        "placement": {"constraints": ["node.role == worker"]},
        **overrides,
    }
    return service_create_kwargs(**kwargs)


# --- the service spec, as a plain function ---------------------------------------------


def test_container_runs_as_the_user_in_their_home():
    container = build()["task_template"]["ContainerSpec"]
    assert container["Image"] == IMAGE
    assert container["User"] == "1001:1001"
    assert container["Dir"] == "/home/alice"
    assert "Args" not in container or container["Args"] is None  # the image's CMD


def test_environment_says_who_runs_and_keeps_the_hubs_variables():
    env = build()["task_template"]["ContainerSpec"]["Env"]
    assert "JUPYTERHUB_API_TOKEN=t0k3n" in env
    # identity wins over whatever the hub passed
    assert "HOME=/home/alice" in env and "HOME=/root" not in env
    assert {"USER=alice", "NB_USER=alice", "NB_UID=1001", "NB_GID=1001"} <= set(env)


def test_home_is_bind_mounted_read_write_from_home_root():
    mounts = build()["task_template"]["ContainerSpec"]["Mounts"]
    assert mounts == [
        {
            "Target": "/home/alice",
            "Source": "/srv/nfs/home/alice",
            "Type": "bind",
            "ReadOnly": False,
        }
    ]


def test_extra_mounts_follow_the_home_and_keep_their_mode():
    data = Mount(target="/srv/data", source="/srv/nfs/data", type="bind", read_only=True)
    mounts = build(extra_mounts=[data])["task_template"]["ContainerSpec"]["Mounts"]
    assert [m["Target"] for m in mounts] == ["/home/alice", "/srv/data"]
    assert mounts[1]["Source"] == "/srv/nfs/data" and mounts[1]["ReadOnly"] is True


@pytest.mark.parametrize("name", ["../root", "a/b", ".."])
def test_a_username_that_is_not_a_single_path_component_is_refused(name):
    with pytest.raises(ValueError, match="cannot name a home directory"):
        home_mount(Account(name=name, uid=1001, gid=1001, home="/x"), "/srv/nfs/home")


def test_limits_are_nano_cpus_and_bytes():
    resources = build(mem_reservation=512 * 1024**2, cpu_reservation=0.1)["task_template"][
        "Resources"
    ]
    assert resources["Limits"] == {
        "NanoCPUs": 1_500_000_000,
        "MemoryBytes": 1073741824,
        "Pids": DEFAULT_PIDS_LIMIT,
    }
    assert resources["Reservations"] == {
        "NanoCPUs": 100_000_000,
        "MemoryBytes": 536870912,
    }


def test_no_limits_when_none_are_set():
    task = build(mem_limit=0, cpu_limit=None, pids_limit=0)["task_template"]
    assert not task.get("Resources", {}).get("Limits")


def test_placement_network_restart_and_endpoint():
    kwargs = build()
    task = kwargs["task_template"]
    assert kwargs["name"] == "jupyter-alice"
    assert task["Placement"] == {"Constraints": ["node.role == worker"]}
    assert task["Networks"] == [{"Target": "swarmhub"}]
    assert task["RestartPolicy"]["Condition"] == "none"
    assert kwargs["endpoint_spec"] == {"Mode": "dnsrr"}


def test_swarmspawner_extra_specs_override_ours():
    kwargs = build(
        extra_container_spec={"hostname": "nb", "workdir": "/tmp"},
        extra_resources_spec={"cpu_limit": 250_000_000},
        extra_endpoint_spec={"mode": "vip"},
    )
    container = kwargs["task_template"]["ContainerSpec"]
    assert container["Hostname"] == "nb" and container["Dir"] == "/tmp"
    assert kwargs["task_template"]["Resources"]["Limits"]["NanoCPUs"] == 250_000_000
    assert kwargs["endpoint_spec"]["Mode"] == "vip"


# --- hardening: capabilities and pids (API 1.41, engine 20.10) ----------------------------


def test_every_capability_is_dropped():
    container = build()["task_template"]["ContainerSpec"]
    # the engine then empties the bounding set too (CapBnd 0 in /proc/self/status)
    assert container["CapabilityDrop"] == ["ALL"]
    assert "CapabilityAdd" not in container


def test_processes_are_limited_by_default_and_the_limit_is_configurable():
    assert build()["task_template"]["Resources"]["Limits"]["Pids"] == DEFAULT_PIDS_LIMIT
    assert build(pids_limit=300)["task_template"]["Resources"]["Limits"]["Pids"] == 300


def test_pids_limit_stands_beside_memory_and_cpu_overrides():
    kwargs = build(extra_resources_spec={"mem_limit": 5}, pids_limit=64)
    assert kwargs["task_template"]["Resources"]["Limits"] == {
        "NanoCPUs": 1_500_000_000,
        "MemoryBytes": 5,
        "Pids": 64,
    }


def test_nothing_is_lost_when_the_engine_keeps_the_template():
    sent = build()["task_template"]
    assert lost_hardening(sent, copy.deepcopy(sent)) == []


def test_an_engine_before_api_1_41_is_caught_dropping_the_hardening():
    sent = build()["task_template"]
    kept = copy.deepcopy(sent)
    del kept["ContainerSpec"]["CapabilityDrop"]
    del kept["Resources"]["Limits"]["Pids"]
    assert lost_hardening(sent, kept) == ["ContainerSpec.CapabilityDrop", "Resources.Limits.Pids"]
    assert lost_hardening(sent, {}) == ["ContainerSpec.CapabilityDrop", "Resources.Limits.Pids"]


def test_an_engine_may_spell_what_it_keeps_its_own_way():
    sent = build()["task_template"]
    kept = copy.deepcopy(sent)
    kept["ContainerSpec"]["CapabilityDrop"] = ["all"]
    assert lost_hardening(sent, kept) == []


def test_a_field_not_asked_for_is_not_missed():
    sent = build(pids_limit=0)["task_template"]
    kept = copy.deepcopy(sent)
    assert lost_hardening(sent, kept) == []


def test_spawner_sends_its_pids_limit(make_spawner, swarm):
    spawner = make_spawner("alice", pids_limit=200)
    asyncio.run(spawner.create_object())
    assert swarm.created["task_template"]["Resources"]["Limits"]["Pids"] == 200
    assert swarm.created["task_template"]["ContainerSpec"]["CapabilityDrop"] == ["ALL"]


def test_the_server_is_told_to_ignore_config_in_the_home(make_spawner, swarm):
    asyncio.run(make_spawner("alice", disable_user_config=True).create_object())
    env = swarm.created["task_template"]["ContainerSpec"]["Env"]
    assert "JUPYTERHUB_DISABLE_USER_CONFIG=1" in env


def test_a_server_the_engine_would_run_unhardened_is_removed_and_refused(
    make_spawner, swarm, caplog
):
    swarm.ignores_hardening = True
    spawner = make_spawner("alice")
    with caplog.at_level(logging.ERROR), pytest.raises(HTTPError) as e:
        asyncio.run(spawner.create_object())
    assert e.value.status_code == 500 and "too old" in e.value.log_message
    assert "CapabilityDrop" in caplog.text and "1.41" in caplog.text
    assert swarm.services == {}  # the service it made is gone
    assert swarm.method_names()[-1] == "remove_service"


@pytest.mark.parametrize(
    "cmd, extra, expected",
    [
        (None, [], None),
        ([], [], None),
        (None, ["--debug"], ["jupyterhub-singleuser", "--debug"]),
        (["start-notebook.sh"], ["--debug"], ["start-notebook.sh", "--debug"]),
    ],
)
def test_container_args_keep_the_image_cmd_unless_needed(cmd, extra, expected):
    assert container_args(cmd, extra) == expected


# --- the spawner class -----------------------------------------------------------------


def test_jupyterhub_finds_the_spawner_by_its_entry_point_name():
    (entry,) = entry_points(group="jupyterhub.spawners", name="swarmhub")
    assert entry.load() is SwarmUserSpawner


def test_configurable_traits_have_help_and_defaults():
    traits = SwarmUserSpawner.class_traits(config=True)
    for name in ("passwd_file", "home_root", "task_poll_interval", "stop_wait_timeout"):
        assert traits[name].help, name
    spawner = SwarmUserSpawner()
    assert spawner.passwd_file == "/etc/passwd"
    assert 0.1 <= spawner.task_poll_interval <= 0.25
    assert spawner.stop_wait_timeout == 60


def test_traits_load_from_config():
    config = Config()
    config.SwarmUserSpawner.home_root = "/mnt/homes"
    config.SwarmUserSpawner.stop_wait_timeout = 5.0
    spawner = SwarmUserSpawner(config=config)
    assert spawner.home_root == "/mnt/homes"
    assert spawner.stop_wait_timeout == 5.0


def test_service_name_for_default_and_named_servers(make_spawner):
    assert make_spawner("alice").object_name == "jupyter-alice"
    named = make_spawner("alice", server_name="gpu").object_name
    assert named.startswith("jupyter-alice--gpu-")


def test_service_names_never_clash():
    # user "a-b"'s default server and user "a"'s server "b"; case of server names
    names = {
        service_name_for("jupyter", "a-b", ""),
        service_name_for("jupyter", "a", "b"),
        service_name_for("jupyter", "a", "B"),
        service_name_for("jupyter", "a", "b-"),
        service_name_for("jupyter", "a", "b.c"),
        service_name_for("jupyter", "a", "b-c"),
    }
    assert len(names) == 6


def test_service_names_fit_docker_limit():
    name = service_name_for("jupyter", "u" * 32, "x" * 200)
    assert len(name) <= 63
    assert name.startswith("jupyter-" + "u" * 32 + "--")


def test_usernames_escaped_like_dockerspawner(make_spawner):
    # so names stay valid DNS labels
    assert make_spawner("first.last").object_name == "jupyter-first-2elast"


def test_account_from_auth_state_wins_over_passwd(make_spawner):
    spawner = make_spawner("alice", auth_state={"uid": 5001, "gid": 5002})
    account = asyncio.run(spawner.resolve_account())
    assert (account.uid, account.gid) == (5001, 5002)


def test_account_from_passwd_without_auth_state(make_spawner):
    account = asyncio.run(make_spawner("bob").resolve_account())
    assert (account.uid, account.gid) == (1002, 100)


def test_user_without_account_cannot_spawn(make_spawner, swarm):
    spawner = make_spawner("carol")
    with pytest.raises(AccountError, match="no system account on the hub host"):
        asyncio.run(spawner.start())
    assert "create_service" not in swarm.method_names()


def test_system_account_cannot_spawn(make_spawner):
    with pytest.raises(AccountError, match="system account"):
        asyncio.run(make_spawner("www-data").resolve_account())


def test_create_object_sends_the_users_service_spec(make_spawner, swarm, api):
    spawner = make_spawner("alice", server_name="gpu", mem_limit="2G", cpu_limit=0.5)
    spawner.extra_placement_spec = {"constraints": ["node.role == worker"]}
    service = asyncio.run(spawner.create_object())

    created = swarm.created
    assert created["name"] == service_name_for("jupyter", "alice", "gpu")
    container = created["task_template"]["ContainerSpec"]
    assert container["User"] == "1001:1001"
    assert container["Mounts"][0]["Source"] == "/srv/nfs/home/alice"
    env = dict(item.split("=", 1) for item in container["Env"])
    assert env["JUPYTERHUB_SERVER_NAME"] == "gpu"
    assert env["JUPYTERHUB_API_TOKEN"] == spawner.api_token
    assert env["NB_UID"] == "1001"
    assert created["task_template"]["Resources"]["Limits"] == {
        "NanoCPUs": 500_000_000,
        "MemoryBytes": 2 * 1024**3,
        "Pids": DEFAULT_PIDS_LIMIT,
    }
    assert created["task_template"]["Placement"]["Constraints"] == ["node.role == worker"]
    assert "inspect_image" not in swarm.method_names()
    # the ID the engine gave is the one kept, so a stop removes this very service
    spawner.object_id = service["ID"]
    asyncio.run(spawner.stop())
    assert created["name"] not in swarm.services


def test_start_waits_for_the_task_and_returns_its_overlay_address(make_spawner, swarm, api):
    swarm.task_snapshots = [
        [],
        [api.task(state="pending", attachments=[])],
        [api.task(state="starting")],
        [
            api.task(
                state="running",
                attachments=[
                    api.attachment("ingress", api.INGRESS_ID, ["10.255.0.7/16"]),
                    api.attachment("swarmhub", api.OVERLAY_ID, ["10.0.1.23/24"]),
                ],
            )
        ],
    ]
    spawner = make_spawner("alice")
    assert asyncio.run(spawner.start()) == ("10.0.1.23", 8888)
    assert spawner.object_id == api.SERVICE_ID
    assert swarm.method_names().count("tasks") >= 4


def test_start_object_returns_when_the_task_runs_not_before(make_spawner, swarm, api):
    swarm.add_service("jupyter-alice")
    swarm.task_snapshots = [
        [api.task(state="starting")],
        [api.task(state="running")],
        [api.task(state="failed", err="must not be looked at")],
    ]
    spawner = make_spawner("alice")
    spawner.object_id = api.SERVICE_ID
    asyncio.run(spawner.start_object())
    assert swarm.method_names().count("tasks") == 2


@pytest.mark.parametrize("state", ["rejected", "failed"])
def test_an_image_that_cannot_be_pulled_fails_the_start_saying_so(make_spawner, swarm, api, state):
    swarm.task_snapshots = [
        [api.task(state="pending")],
        [api.task(state=state, err="No such image: 10.213.7.11:5000/swarmhub/notebook:1")],
    ]
    with pytest.raises(RuntimeError, match=f"{state}: No such image") as e:
        asyncio.run(make_spawner("alice").start())
    assert str(e.value).startswith("The image of your server could not be fetched")
    # what JupyterHub shows on the failed spawn's page
    assert e.value.jupyterhub_message == str(e.value)
    assert "registry may be down" in str(e.value)


def test_a_server_that_exits_at_once_fails_the_start_with_its_error(make_spawner, swarm, api):
    swarm.task_snapshots = [[api.task(state="failed", err="task: non-zero exit (1)", exit_code=1)]]
    with pytest.raises(RuntimeError) as e:
        asyncio.run(make_spawner("alice").start())
    assert str(e.value).startswith("Your server failed to start: task ")
    assert "non-zero exit (1)" in str(e.value)


def environment(name="big", mem_reservation=2**40):
    image = "10.213.7.11:5000/swarmhub/notebook:1"
    return {"name": name, "image": image, "mem_limit": 2**40, "mem_reservation": mem_reservation}


def test_a_server_no_node_has_room_for_fails_soon_naming_the_cause(make_spawner, swarm, api):
    no_room = "no suitable node (insufficient resources on 2 nodes)"
    swarm.task_snapshots = [[api.task(state="pending", err=no_room, message="pending")]]
    spawner = make_spawner("alice", environments=[environment()], unplaceable_timeout=0.05)
    spawner.user_options = {"environment": "big"}
    with pytest.raises(RuntimeError) as e:
        asyncio.run(asyncio.wait_for(spawner.start(), timeout=10))
    message = str(e.value)
    assert message.startswith("No computer in the cluster has room for a server of environment")
    assert "'big' (it reserves 1024.0 GiB of memory)" in message
    assert no_room in message
    # swarm was asked to reserve the environment's memory
    assert swarm.created["task_template"]["Resources"]["Reservations"]["MemoryBytes"] == 2**40


def test_a_constraint_no_node_meets_fails_soon_naming_the_cause(make_spawner, swarm, api):
    nobody = "no suitable node (scheduling constraints not satisfied on 2 nodes)"
    swarm.task_snapshots = [[api.task(state="pending", err=nobody, message="pending")]]
    spawner = make_spawner("alice", unplaceable_timeout=0.05)
    with pytest.raises(RuntimeError, match="No computer in the cluster can run your server"):
        asyncio.run(asyncio.wait_for(spawner.start(), timeout=10))


def test_a_task_placed_after_a_short_wait_starts(make_spawner, swarm, api):
    no_room = "no suitable node (insufficient resources on 2 nodes)"
    pending = api.task(state="pending", err=no_room, message="pending")
    swarm.task_snapshots = [[pending], [pending], [api.task(state="running")]]
    spawner = make_spawner("alice", unplaceable_timeout=60)
    assert asyncio.run(spawner.start()) == ("10.0.1.5", 8888)


def test_the_spawn_page_hears_each_step_once(make_spawner, swarm, api):
    swarm.task_snapshots = [
        [api.task(state="pending", message="pending")],
        [api.task(state="pending", message="pending")],
        [api.task(state="preparing", message="preparing")],
        [api.task(state="running")],
    ]
    spawner = make_spawner("alice")
    asyncio.run(spawner.start())
    assert [e["message"] for e in spawner.progress_events] == [
        "Waiting for a computer with room for your server",
        "Getting the environment's image on its computer",
        "Your server is running; waiting for Jupyter to answer",
    ]
    percents = [e["progress"] for e in spawner.progress_events]
    assert percents == sorted(percents)

    async def first_events():
        events = spawner.progress()
        return [await anext(events) for _ in range(3)]

    assert asyncio.run(first_events()) == spawner.progress_events


def test_start_gives_up_after_start_timeout_saying_why(make_spawner, swarm, api):
    swarm.task_snapshots = [
        [
            api.task(
                state="pending",
                err="no suitable node (scheduling constraints not satisfied on 2 nodes)",
            )
        ]
    ]
    with pytest.raises(TimeoutError, match="no suitable node"):
        asyncio.run(make_spawner("alice", start_timeout=0).start())


def test_address_must_be_on_the_configured_network(make_spawner, swarm, api):
    swarm.add_service("jupyter-alice")
    swarm.task_snapshots = [
        [api.task(attachments=[api.attachment("other", "n1", ["10.9.0.2/24"])])]
    ]
    spawner = make_spawner("alice")
    spawner.object_id = api.SERVICE_ID
    with pytest.raises(RuntimeError, match="no IPv4 address on network 'swarmhub'"):
        asyncio.run(spawner.get_ip_and_port())


def test_stop_removes_the_service_then_waits_for_its_task(make_spawner, swarm, api):
    swarm.add_service("jupyter-alice")
    task = api.task(state="running")
    swarm.task_snapshots = [[task]]
    swarm.task_fates = {task["ID"]: [task, api.task(state="running"), None]}
    spawner = make_spawner("alice")
    spawner.object_id = api.SERVICE_ID

    asyncio.run(spawner.stop())

    names = swarm.method_names()
    removal = names.index("remove_service")
    assert swarm.calls[removal][1] == (api.SERVICE_ID,)
    # the task is looked at by its ID after the removal until it is gone
    inspections = [i for i, name in enumerate(names) if name == "inspect_task"]
    assert len(inspections) == 3 and min(inspections) > removal
    assert spawner.object_id == ""
    assert "jupyter-alice" not in swarm.services


def test_stop_does_not_wait_for_tasks_that_had_already_ended(make_spawner, swarm, api):
    swarm.add_service("jupyter-alice")
    swarm.task_snapshots = [[api.task(state="failed", desired="shutdown")]]
    spawner = make_spawner("alice")
    spawner.object_id = api.SERVICE_ID
    asyncio.run(spawner.stop())
    assert "inspect_task" not in swarm.method_names()


def test_stop_gives_up_waiting_after_stop_wait_timeout(make_spawner, swarm, api, caplog):
    swarm.add_service("jupyter-alice")
    task = api.task(state="running")
    swarm.task_snapshots = [[task]]
    swarm.task_fates = {task["ID"]: [task]}  # never stops
    spawner = make_spawner("alice", stop_wait_timeout=0)
    spawner.object_id = api.SERVICE_ID
    with caplog.at_level(logging.WARNING):
        asyncio.run(spawner.stop())
    assert "still not stopped" in caplog.text
    assert "jupyter-alice" not in swarm.services


def test_stop_of_a_service_already_gone_is_quiet(make_spawner, swarm, api):
    spawner = make_spawner("alice")
    spawner.object_id = api.SERVICE_ID
    asyncio.run(spawner.stop())
    assert spawner.object_id == ""


def test_start_replaces_a_leftover_service_after_its_task_ended(make_spawner, swarm, api):
    swarm.add_service("jupyter-alice", service_id="oldoldoldoldoldoldoldold1")
    leftover = api.task(state="running", service_id="oldoldoldoldoldoldoldold1")
    swarm.task_snapshots = [[leftover], [api.task(state="running")]]
    swarm.task_fates = {leftover["ID"]: [None]}
    spawner = make_spawner("alice")

    assert asyncio.run(spawner.start()) == ("10.0.1.5", 8888)
    names = swarm.method_names()
    assert (
        names.index("remove_service") < names.index("inspect_task") < names.index("create_service")
    )


def test_poll_reports_running_starting_stopped_and_gone(make_spawner, swarm, api):
    swarm.add_service("jupyter-alice")
    spawner = make_spawner("alice")
    swarm.task_snapshots = [
        [api.task(state="running")],
        [api.task(state="preparing")],
        [api.task(state="failed", err="task: non-zero exit (1)", exit_code=1)],
    ]
    assert asyncio.run(spawner.poll()) is None
    assert asyncio.run(spawner.poll()) is None
    assert "non-zero exit (1)" in asyncio.run(spawner.poll())
    swarm.services.clear()
    assert asyncio.run(spawner.poll()) == 0


def test_a_server_on_a_node_that_went_down_counts_as_stopped_and_says_why(make_spawner, swarm, api):
    swarm.add_service("jupyter-alice")
    swarm.task_snapshots = [[api.task(state="running")]]
    spawner = make_spawner("alice")
    assert asyncio.run(spawner.poll()) is None
    assert spawner.stop_reason == ""

    swarm.node_states[api.NODE_ID] = "down"  # swarm's verdict once heartbeats stop
    status = asyncio.run(spawner.poll())
    assert status == f"node host-of-{api.NODE_ID[:5]} is down"
    assert f"host-of-{api.NODE_ID[:5]}" in spawner.stop_reason
    assert "files are kept" in spawner.stop_reason


def test_a_known_server_on_a_node_that_went_down_counts_as_stopped_too(make_spawner, swarm, api):
    swarm.add_service("jupyter-alice")
    swarm.task_snapshots = [[api.task(state="running")]]
    spawner = make_spawner("alice")
    spawner.object_id = api.SERVICE_ID  # as after a start: the shared snapshot is used
    assert asyncio.run(spawner.poll()) is None
    swarm.node_states[api.NODE_ID] = "down"
    assert asyncio.run(spawner.poll()) == f"node host-of-{api.NODE_ID[:5]} is down"


def test_a_node_only_disconnected_for_a_moment_stops_nothing(make_spawner, swarm, api):
    swarm.add_service("jupyter-alice")
    swarm.task_snapshots = [[api.task(state="running")]]
    swarm.node_states[api.NODE_ID] = "disconnected"
    assert asyncio.run(make_spawner("alice").poll()) is None


def test_the_node_list_is_read_once_for_many_polls(make_spawner, swarm, api):
    swarm.add_service("jupyter-alice")
    swarm.task_snapshots = [[api.task(state="running")]]
    spawners = [make_spawner("alice", node_state_ttl=60) for _ in range(5)]

    for spawner in spawners:
        spawner.object_id = api.SERVICE_ID

    async def poll_all():
        SwarmUserSpawner._nodes.read_at = SwarmUserSpawner._running_tasks.read_at = None
        return [await s.poll() for s in spawners]

    assert asyncio.run(poll_all()) == [None] * 5
    # one read of the nodes and one of the tasks for all five, nothing per server
    assert swarm.method_names() == ["tasks", "nodes"]


def test_stop_does_not_wait_for_a_task_on_a_node_that_is_down(make_spawner, swarm, api, caplog):
    swarm.add_service("jupyter-alice")
    task = api.task(state="running")
    swarm.task_snapshots = [[task]]
    swarm.task_fates = {task["ID"]: [task]}  # its engine is gone: it never reports an end
    swarm.node_states[api.NODE_ID] = "down"
    spawner = make_spawner("alice", stop_wait_timeout=3600)
    spawner.object_id = api.SERVICE_ID
    with caplog.at_level(logging.INFO):
        asyncio.run(asyncio.wait_for(spawner.stop(), timeout=10))
    assert "which is down: not waited for" in caplog.text
    assert "jupyter-alice" not in swarm.services


def test_a_new_start_forgets_why_the_last_server_stopped(make_spawner, swarm, api):
    swarm.task_snapshots = [[api.task(state="running")]]
    spawner = make_spawner("alice")
    spawner.stop_reason = "The computer your server ran on (node2) stopped answering"
    assert stop_reasons(SimpleNamespace(name="alice")) == {"": spawner.stop_reason}
    asyncio.run(spawner.start())
    assert spawner.stop_reason == ""
    assert stop_reasons(SimpleNamespace(name="alice")) == {}


def test_the_reason_outlives_the_spawner_object_jupyterhub_drops(make_spawner, swarm, api):
    swarm.add_service("jupyter-alice")
    swarm.task_snapshots = [[api.task(state="running")]]
    swarm.node_states[api.NODE_ID] = "down"
    asyncio.run(make_spawner("alice").poll())
    # the page is rendered after JupyterHub popped that spawner: the reason is the user's
    assert "stopped answering" in stop_reasons(SimpleNamespace(name="alice"))[""]
    assert stop_reasons(SimpleNamespace(name="bob")) == {}
    assert stop_reasons(None) == {}
    make_spawner("alice").stop_reason = ""


def render_not_running(**context):
    from jinja2 import ChoiceLoader, DictLoader, Environment, FileSystemLoader, PrefixLoader
    from jupyterhub._data import DATA_FILES_PATH

    ours = Path(spawner_module.__file__).with_name("templates")
    page = "{% block main %}{% endblock %}{% block script %}{% endblock %}"
    env = Environment(
        loader=ChoiceLoader([
            # JupyterHub's page.html needs the whole hub; its blocks are enough here
            DictLoader({"page.html": page}),
            PrefixLoader({"templates": FileSystemLoader(f"{DATA_FILES_PATH}/templates")}, "/"),
            FileSystemLoader(str(ours)),
        ]),
        autoescape=True,
    )  # fmt: skip
    return env.get_template("not_running.html").render(server_name="", spawn_url="/x", **context)


def test_the_not_running_page_says_why_the_server_stopped():
    why = "The computer your server ran on (node2) stopped answering <b>"
    page = render_not_running(stop_reasons={"": why}, failed=False)
    assert 'id="stop-reason"' in page
    assert "The computer your server ran on (node2) stopped answering &lt;b&gt;" in page
    assert "Would you like to start it?" in page
    assert 'id="stop-reason"' not in render_not_running(stop_reasons={}, failed=False)
    assert 'id="stop-reason"' not in render_not_running(stop_reasons={"": why}, failed=True)


def test_wait_for_port_sees_a_listening_server():
    async def scenario():
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await wait_for_port("127.0.0.1", port, timeout=5, interval=0.05)

    assert asyncio.run(scenario())


def test_wait_for_port_gives_up_on_a_closed_port():
    async def scenario():
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        return await wait_for_port("127.0.0.1", port, timeout=0.3, interval=0.05)

    assert not asyncio.run(scenario())


def test_every_server_service_carries_the_label_the_orphans_watch_finds(make_spawner, swarm, api):
    swarm.task_snapshots = [[api.task(state="running")]]
    asyncio.run(make_spawner("alice").start())
    assert swarm.created["labels"] == {"swarmhub.server": "alice/"}
    asyncio.run(make_spawner("alice", server_name="thesis").start())
    assert swarm.created["labels"] == {"swarmhub.server": "alice/thesis"}
