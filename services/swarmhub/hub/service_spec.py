"""The swarm service of one user server, as plain data: its name, its labels, and
the keyword arguments of docker's create_service (service_create_kwargs), with
the home mounted as the user, every capability dropped and a pids limit; and
the check that an engine kept that hardening (lost_hardening). No Docker call
and no JupyterHub object here: the spawner (spawner.py) builds the spec from
its settings and sends it."""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Mapping, Sequence
from typing import Any

from docker.types import (
    ContainerSpec,
    EndpointSpec,
    Mount,
    Placement,
    Resources,
    RestartPolicy,
    TaskTemplate,
)

from ..common.accounts import Account
from .shares import Access, share_mount_target

# Used when no Spawner.cmd is configured but extra arguments must be passed: container
# args replace the image's CMD, so the command has to be spelled out again.
DEFAULT_COMMAND = ("jupyterhub-singleuser",)
# Where homes live inside user containers, whatever home_root is on the nodes.
CONTAINER_HOME_ROOT = "/home"
# Docker refuses longer service names.
MAX_SERVICE_NAME = 63
# Every capability dropped: the container runs as the user's uid, so its effective
# set is empty anyway; dropping ALL also empties the bounding set, so no file
# capability or setuid binary can give one back.
DROPPED_CAPABILITIES = ("ALL",)
# Most processes and threads a server may run at once (a pids cgroup limit): JupyterLab
# and a few kernels use a few hundred at most, a fork bomb is stopped at this.
DEFAULT_PIDS_LIMIT = 1024
_SERVICE_HASH_LENGTH = 6
# Every user server's service carries it, valued server_label(user, server):
# swarmhub.hub.orphans finds them by it and matches them to the hub's servers.
SERVER_LABEL = "swarmhub.server"


def server_label(username: str, server_name: str) -> str:
    """USER/SERVER ("" for the default server): neither may hold a "/"."""
    return f"{username}/{server_name}"


def service_name_for(prefix: str, username: str, server_name: str) -> str:
    """The swarm service name of a user's server, unique per (user, server).

    Default server: PREFIX-USER. Named server: PREFIX-USER--SERVER-HASH, where SERVER
    is the name made safe (it may lose case and characters) and HASH is of the exact
    name, so "Lab" and "lab" stay apart. Usernames never contain "--" nor end in
    "-" (the hub's username_pattern), so no default server's name can be a named one's.
    """
    if not server_name:
        return f"{prefix}-{username}"[:MAX_SERVICE_NAME]
    digest = hashlib.sha256(f"{username}/{server_name}".encode()).hexdigest()[:_SERVICE_HASH_LENGTH]
    safe = re.sub(r"[^a-z0-9]+", "-", server_name.lower()).strip("-") or "server"
    head = f"{prefix}-{username}--"
    room = MAX_SERVICE_NAME - len(head) - len(digest) - 1
    if room < 1:
        # only with a very long prefix: keep the user part whole, drop the readable name
        return f"{prefix}-{username}--{digest}"[-MAX_SERVICE_NAME:]
    return f"{head}{safe[:room].rstrip('-') or 'server'}-{digest}"


def container_args(cmd: Sequence[str] | None, extra_args: Sequence[str]) -> list[str] | None:
    """The container's args (its CMD), or None to keep the image's own CMD.

    Unlike stock dockerspawner this never inspects the image for its CMD: the image
    need not be present on the manager the hub talks to.
    """
    if cmd:
        return [*cmd, *extra_args]
    if extra_args:
        return [*DEFAULT_COMMAND, *extra_args]
    return None


def identity_env(account: Account) -> dict[str, str]:
    """Environment telling the image who runs it (it has no passwd entry for the uid)."""
    return {
        "HOME": posixpath.join(CONTAINER_HOME_ROOT, account.name),
        "USER": account.name,
        "NB_USER": account.name,
        "NB_UID": str(account.uid),
        "NB_GID": str(account.gid),
    }


def home_mount(account: Account, home_root: str) -> Mount:
    """Bind mount of the user's home on the node (NFS) to /home/USER, read-write."""
    if "/" in account.name or account.name in {"", ".", ".."}:
        raise ValueError(f"username {account.name!r} cannot name a home directory")
    return Mount(
        target=posixpath.join(CONTAINER_HOME_ROOT, account.name),
        source=posixpath.join(home_root, account.name),
        type="bind",
        read_only=False,
    )


def share_mounts(accesses: Sequence[Access]) -> list[Mount]:
    """One bind mount per share the user may see, read-only unless they may write."""
    return [
        Mount(
            target=share_mount_target(a.share),
            source=a.share.path,
            type="bind",
            read_only=not a.writable,
        )
        for a in accesses
    ]


def nano_cpus(cpus: float | None) -> int | None:
    """Swarm counts CPUs in billionths."""
    return round(cpus * 1e9) if cpus else None


def service_create_kwargs(
    *,
    name: str,
    image: str,
    account: Account,
    home_root: str,
    network: str,
    env: Mapping[str, str],
    args: list[str] | None = None,
    mem_limit: int | None = None,
    cpu_limit: float | None = None,
    mem_reservation: int | None = None,
    cpu_reservation: float | None = None,
    pids_limit: int | None = DEFAULT_PIDS_LIMIT,
    extra_mounts: Sequence[Mount] = (),
    groups: Sequence[int] = (),
    placement: Mapping[str, Any] | None = None,
    extra_container_spec: Mapping[str, Any] | None = None,
    extra_resources_spec: Mapping[str, Any] | None = None,
    extra_task_spec: Mapping[str, Any] | None = None,
    extra_endpoint_spec: Mapping[str, Any] | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for docker.APIClient.create_service for one user server.

    The extra_* mappings are dockerspawner's SwarmSpawner options; their keys
    override ours, as in SwarmSpawner. Every capability is dropped; pids_limit
    (None or 0: none) caps the server's processes and threads.
    """
    home = posixpath.join(CONTAINER_HOME_ROOT, account.name)
    container_kwargs: dict[str, Any] = {
        "image": image,
        "args": args,
        "env": {**env, **identity_env(account)},
        "user": f"{account.uid}:{account.gid}",
        "workdir": home,
        "mounts": [home_mount(account, home_root), *extra_mounts],
        "cap_drop": list(DROPPED_CAPABILITIES),
    }
    if groups:
        # supplementary groups: the unix side of share access
        container_kwargs["groups"] = [str(g) for g in groups]
    resources_kwargs: dict[str, Any] = {
        "mem_limit": mem_limit or None,
        "cpu_limit": nano_cpus(cpu_limit),
        "mem_reservation": mem_reservation or None,
        "cpu_reservation": nano_cpus(cpu_reservation),
    }
    task_kwargs: dict[str, Any] = {
        # a server that exits stays stopped; the hub notices through poll()
        "restart_policy": RestartPolicy(condition="none"),
        "placement": Placement(**(placement or {})),
        "networks": [network],
    }
    # dnsrr: no virtual IP, which needs IPVS in the kernel (not available everywhere)
    endpoint_kwargs: dict[str, Any] = {"mode": "dnsrr"}

    container_kwargs.update(extra_container_spec or {})
    resources_kwargs.update(extra_resources_spec or {})
    task_kwargs.update(extra_task_spec or {})
    endpoint_kwargs.update(extra_endpoint_spec or {})
    resources = Resources(**resources_kwargs)
    if pids_limit:
        # Limits.Pids (API 1.41): docker-py's Resources has no argument for it
        resources.setdefault("Limits", {})["Pids"] = int(pids_limit)
    task_template = TaskTemplate(
        container_spec=ContainerSpec(**container_kwargs),
        resources=resources,
        **task_kwargs,
    )
    return {
        "name": name,
        "task_template": task_template,
        "endpoint_spec": EndpointSpec(**endpoint_kwargs),
        "labels": dict(labels or {}),
    }


# Hardening fields of a task template an engine older than API 1.41 ignores silently.
_HARDENING_FIELDS = (
    ("ContainerSpec", "CapabilityDrop"),
    ("Resources", "Limits", "Pids"),
)


def lost_hardening(sent: Mapping[str, Any], kept: Mapping[str, Any]) -> list[str]:
    """The hardening fields of the task template we sent that the engine did not keep.

    `kept` is the service's Spec.TaskTemplate as the engine reports it. Engines
    before API 1.41 (Docker 20.10) drop CapabilityDrop and Limits.Pids without an
    error; a server must not run unhardened because of that.
    """
    # missing, not different: an engine may spell what it keeps its own way
    return [
        ".".join(path) for path in _HARDENING_FIELDS if _dig(sent, path) and not _dig(kept, path)
    ]


def _dig(mapping: Mapping[str, Any], path: Sequence[str]) -> Any:
    value: Any = mapping
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value
