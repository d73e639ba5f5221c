"""Shared helpers for unit tests: realistic swarm task dicts and an in-memory swarm.

The task dicts copy the shape of the Docker Engine API's GET /tasks answer
(engine 20.10, API 1.41), trimmed of fields nothing here reads.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from docker.errors import NotFound
from jupyterhub import orm
from jupyterhub.objects import Hub

from swarmhub.hub.spawner import SwarmUserSpawner

OVERLAY_ID = "q8l0g9bv3wz5ux2p7h1k4mn6c"
INGRESS_ID = "4qvuz4ko70xaltuqbt8956gd1"
SERVICE_ID = "9mnpnzenvg8p8tdbtq4wvbkcz"
NODE_ID = "60gvrl6tm78dmak4yl7srz94v"


def network_attachment(name: str, network_id: str, addresses: Sequence[str]) -> dict[str, Any]:
    return {
        "Network": {
            "ID": network_id,
            "Version": {"Index": 18},
            "CreatedAt": "2026-11-22T09:58:40.112393219Z",
            "UpdatedAt": "2026-11-22T09:58:40.115071393Z",
            "Spec": {
                "Name": name,
                "Labels": {},
                "DriverConfiguration": {"Name": "overlay"},
                "Attachable": name != "ingress",
                "Ingress": name == "ingress",
                "IPAMOptions": {"Driver": {"Name": "default"}},
                "Scope": "swarm",
            },
            "DriverState": {
                "Name": "overlay",
                "Options": {"com.docker.network.driver.overlay.vxlanid_list": "4097"},
            },
            "IPAMOptions": {
                "Driver": {"Name": "default"},
                "Configs": [{"Subnet": "10.0.1.0/24", "Gateway": "10.0.1.1"}],
            },
        },
        "Addresses": list(addresses),
    }


_task_ids = (f"x5v6c2xc0ny3q6ffhe9sg{n:04d}" for n in itertools.count())


def swarm_task(
    *,
    state: str = "running",
    desired: str = "running",
    service_id: str = SERVICE_ID,
    task_id: str | None = None,
    created: str = "2026-11-22T10:15:02.123456789Z",
    message: str = "started",
    err: str | None = None,
    exit_code: int = 0,
    attachments: Iterable[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A task as GET /tasks returns it; by default running on the overlay at 10.0.1.5."""
    if attachments is None:
        attachments = [network_attachment("swarmhub", OVERLAY_ID, ["10.0.1.5/24"])]
    status: dict[str, Any] = {
        "Timestamp": "2026-11-22T10:15:03.482913517Z",
        "State": state,
        "Message": message,
        "ContainerStatus": {
            "ContainerID": "e5d62702a1b48d01c3e02ca1e0212a250801fa8d67caca0b6f35919ebc12f035",
            "PID": 0 if state != "running" else 4711,
            "ExitCode": exit_code,
        },
        "PortStatus": {},
    }
    if err is not None:
        status["Err"] = err
    return {
        "ID": task_id or next(_task_ids),
        "Version": {"Index": 1503},
        "CreatedAt": created,
        "UpdatedAt": "2026-11-22T10:15:03.501183921Z",
        "Labels": {},
        "Spec": {
            "ContainerSpec": {
                "Image": "10.213.7.11:5000/swarmhub/notebook:1",
                "User": "1001:1001",
                "Dir": "/home/alice",
                "Isolation": "default",
            },
            "Resources": {"Limits": {"NanoCPUs": 1000000000, "MemoryBytes": 1073741824}},
            "RestartPolicy": {"Condition": "none", "MaxAttempts": 0},
            "Placement": {"Constraints": ["node.role == worker"]},
            "Networks": [{"Target": OVERLAY_ID}],
            "ForceUpdate": 0,
        },
        "ServiceID": service_id,
        "Slot": 1,
        "NodeID": NODE_ID,
        "Status": status,
        "DesiredState": desired,
        "NetworksAttachments": list(attachments),
    }


def not_found(what: str) -> NotFound:
    """The error docker-py raises for a 404 answer (dockerspawner reads its response)."""
    response = requests.Response()
    response.status_code = 404
    return NotFound(f"{what} not found", response=response)


class FakeSwarm:
    """The few Docker API calls the spawner makes, answered from memory, and recorded.

    `task_snapshots` scripts what successive `tasks` calls return (the last one
    repeats); `task_fates` scripts what successive `inspect_task` calls return per task
    ID, where None stands for "task gone" (404).
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.services: dict[str, str] = {}  # name -> ID
        self.task_snapshots: list[list[dict[str, Any]]] = [[]]
        self.task_fates: dict[str, list[dict[str, Any] | None]] = {}
        self.created: dict[str, Any] | None = None
        self.specs: dict[str, dict[str, Any]] = {}  # ID -> Spec as the engine keeps it
        # like an engine before API 1.41: ignores the capability and pids fields
        self.ignores_hardening = False
        self.node_states: dict[str, str] = {NODE_ID: "ready"}  # node ID -> Status.State

    def add_service(self, name: str, service_id: str = SERVICE_ID) -> None:
        self.services[name] = service_id

    def method_names(self) -> list[str]:
        return [name for name, _, _ in self.calls]

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((method, args, kwargs))
        return getattr(self, method)(*args, **kwargs)

    def _service_id(self, name_or_id: str) -> str:
        for name, service_id in self.services.items():
            if name_or_id in (name, service_id):
                return service_id
        raise not_found(f"service {name_or_id}")

    def inspect_service(self, name_or_id: str) -> dict[str, Any]:
        service_id = self._service_id(name_or_id)
        name = next(n for n, i in self.services.items() if i == service_id)
        return {"ID": service_id, "Spec": {"Name": name, **self.specs.get(service_id, {})}}

    def create_service(self, **kwargs: Any) -> dict[str, Any]:
        self.created = kwargs
        self.add_service(kwargs["name"])
        template = copy.deepcopy(dict(kwargs["task_template"]))
        if self.ignores_hardening:
            # what the 20.10 engine's adjustForAPIVersion does for clients before 1.41
            template.get("ContainerSpec", {}).pop("CapabilityDrop", None)
            template.get("Resources", {}).get("Limits", {}).pop("Pids", None)
        self.specs[SERVICE_ID] = {"TaskTemplate": template}
        return {"ID": SERVICE_ID}

    def remove_service(self, service_id: str) -> bool:
        name = next((n for n, i in self.services.items() if i == service_id), None)
        if name is None:
            raise not_found(f"service {service_id}")
        del self.services[name]
        return True

    def tasks(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        if "service" not in filters:
            # every task meant to run (the polls' shared snapshot): the current
            # snapshot, not taking a scripted step
            assert filters == {"desired-state": "running"}, filters
            live = [s for s in self.services.values()]
            return [
                t
                for t in self.task_snapshots[0]
                if t["DesiredState"] == "running" and t["ServiceID"] in live
            ]
        # like the engine: the service filter must name an existing service
        service_id = self._service_id(filters["service"])
        snapshot = self.task_snapshots[0]
        if len(self.task_snapshots) > 1:
            self.task_snapshots.pop(0)
        return [t for t in snapshot if t["ServiceID"] == service_id]

    def inspect_node(self, node_id: str) -> dict[str, Any]:
        return {"ID": node_id, "Description": {"Hostname": f"host-of-{node_id[:5]}"}}

    def nodes(self) -> list[dict[str, Any]]:
        return [
            {**self.inspect_node(node_id), "Status": {"State": state}}
            for node_id, state in self.node_states.items()
        ]

    def inspect_task(self, task_id: str) -> dict[str, Any]:
        fates = self.task_fates.get(task_id, [None])
        fate = fates[0]
        if len(fates) > 1:
            fates.pop(0)
        if fate is None:
            raise not_found(f"task {task_id}")
        return fate


class StubUser:
    """The part of jupyterhub.user.User a spawner touches."""

    def __init__(self, name: str, auth_state: dict[str, Any] | None = None) -> None:
        self.name = name
        self.escaped_name = name
        self.url = f"/user/{name}/"
        self._auth_state = auth_state

    async def get_auth_state(self) -> dict[str, Any] | None:
        return self._auth_state


class InMemorySwarmSpawner(SwarmUserSpawner):
    """SwarmUserSpawner whose Docker calls go to a FakeSwarm instead of an engine."""

    swarm: FakeSwarm

    async def docker(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.swarm.call(method, *args, **kwargs)


PASSWD = """\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
alice:x:1001:1001:Alice Example,,,:/home/alice:/bin/bash
bob:x:1002:100:Bob Example,,,:/home/bob:/bin/bash
"""


@pytest.fixture
def api():
    """Builders of Docker API answers, and the IDs they use (test modules cannot
    import conftest reliably, so helpers travel as a fixture)."""
    return SimpleNamespace(
        task=swarm_task,
        attachment=network_attachment,
        OVERLAY_ID=OVERLAY_ID,
        INGRESS_ID=INGRESS_ID,
        SERVICE_ID=SERVICE_ID,
        NODE_ID=NODE_ID,
    )


@pytest.fixture
def passwd_file(tmp_path):
    path = tmp_path / "passwd"
    path.write_text(PASSWD)
    return path


@pytest.fixture
def swarm():
    return FakeSwarm()


@pytest.fixture
def make_spawner(swarm, passwd_file):
    """Build an in-memory spawner for a user; keyword arguments set its traits."""

    def make(
        username: str = "alice",
        server_name: str = "",
        auth_state: dict[str, Any] | None = None,
        **traits: Any,
    ) -> InMemorySwarmSpawner:
        traits = {
            "image": "10.213.7.11:5000/swarmhub/notebook:1",
            "network_name": "swarmhub",
            "use_internal_ip": True,
            "passwd_file": str(passwd_file),
            "home_root": "/srv/nfs/home",
            "task_poll_interval": 0,
            "node_state_ttl": 0,
            **traits,
        }
        spawner = InMemorySwarmSpawner(
            user=StubUser(username, auth_state),
            hub=Hub(),
            orm_spawner=orm.Spawner(name=server_name),
            **traits,
        )
        spawner.swarm = swarm
        return spawner

    return make
