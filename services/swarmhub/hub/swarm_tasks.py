"""Pure functions over swarm task dicts, as the Docker API returns them (GET /tasks).

No I/O here: the spawner fetches tasks and asks these functions what they mean.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

Task = Mapping[str, Any]

# States a task never leaves (swarmkit api/types.proto TaskState).
TERMINAL_STATES = frozenset({"complete", "shutdown", "failed", "rejected", "orphaned", "remove"})
# Terminal states that mean the task could not run, as opposed to having been stopped.
FAILED_STATES = frozenset({"failed", "rejected"})


def task_state(task: Task) -> str:
    """The task's current state, lower case ("" if the API gave none)."""
    return str(task.get("Status", {}).get("State", "")).lower()


def is_terminal(task: Task) -> bool:
    """True once the task has finished for good (its container is stopped or never ran)."""
    return task_state(task) in TERMINAL_STATES


def current_task(tasks: Iterable[Task]) -> Task | None:
    """The task that stands for the service now: the newest one meant to run.

    Swarm keeps old tasks of a service around for a while; prefer the ones whose
    desired state is "running", then the most recently created.
    """
    tasks = list(tasks)
    if not tasks:
        return None
    # CreatedAt is RFC 3339 in UTC with a fixed layout, so strings sort by time
    return max(
        tasks,
        key=lambda t: (t.get("DesiredState") == "running", str(t.get("CreatedAt", ""))),
    )


def task_address(task: Task, network: str) -> str | None:
    """The task's IPv4 address on `network` (a network ID or name), without prefix length."""
    for attachment in task.get("NetworksAttachments") or []:
        net = attachment.get("Network", {})
        if network not in (net.get("ID"), net.get("Spec", {}).get("Name")):
            continue
        for address in attachment.get("Addresses") or []:
            interface = ipaddress.ip_interface(address)
            if interface.version == 4:
                return str(interface.ip)
    return None


def task_error(task: Task) -> str:
    """A one-line account of why a task is not running, for logs and the spawn page."""
    status = task.get("Status", {})
    state = task_state(task) or "unknown"
    parts = [f"task {str(task.get('ID', '?'))[:12]} {state}"]
    err = status.get("Err")
    if err:
        parts.append(f": {err}")
    message = status.get("Message")
    if message:
        parts.append(f" (status: {message})" if err else f": {message}")
    exit_code = status.get("ContainerStatus", {}).get("ExitCode")
    if exit_code:
        parts.append(f", exit code {exit_code}")
    node = task.get("NodeID")
    if node:
        parts.append(f", on node {node[:12]}")
    return "".join(parts)


# Node states (swarmkit NodeStatus) in which a node's tasks are lost: swarm marks a
# node "down" once its heartbeats stop. "disconnected" is not here: it can be brief.
LOST_NODE_STATES = frozenset({"down"})


def node_is_lost(node: Mapping[str, Any] | None) -> bool:
    """True when the swarm gave the node up: its tasks run nowhere any more."""
    if node is None:
        return False
    return str(node.get("Status", {}).get("State", "")).lower() in LOST_NODE_STATES


def hostname_of(node: Mapping[str, Any] | None) -> str:
    """The node's hostname ("" if unknown)."""
    if node is None:
        return ""
    return str(node.get("Description", {}).get("Hostname", ""))


# What the swarm scheduler says of a task no node can take (swarmkit's
# scheduler: "no suitable node (insufficient resources on 2 nodes)").
NO_SUITABLE_NODE = "no suitable node"

# Where a starting task is, as the user's spawn page says it, and how far along.
PROGRESS = {
    "new": (10, "Your server is being created"),
    "allocated": (15, "Your server is being created"),
    "pending": (20, "Waiting for a computer with room for your server"),
    "assigned": (35, "A computer was chosen for your server"),
    "accepted": (40, "A computer was chosen for your server"),
    "preparing": (50, "Getting the environment's image on its computer"),
    "ready": (65, "Starting your server"),
    "starting": (70, "Starting your server"),
    "running": (85, "Your server is running; waiting for Jupyter to answer"),
}


def unplaceable(task: Task) -> str:
    """The scheduler's reason when no node can take the task ("" otherwise)."""
    err = str(task.get("Status", {}).get("Err", ""))
    if task_state(task) == "pending" and err.startswith(NO_SUITABLE_NODE):
        return err
    return ""


def progress_of(task: Task) -> tuple[int, str]:
    """(percent, sentence) for the spawn page, from the task's state."""
    return PROGRESS.get(task_state(task), (10, "Your server is being created"))


def failure_for_user(task: Task, what: str) -> str:
    """Why `what` (e.g. "a server of environment 'python'") could not start, in
    words a user can act on, with the swarm's own text for the administrators."""
    err = str(task.get("Status", {}).get("Err", ""))
    detail = task_error(task)
    if unplaceable(task):
        if "insufficient resources" in err:
            return (
                f"No computer in the cluster has room for {what} now ({err}). Try again "
                f"later or choose a smaller environment; if it keeps happening, tell "
                f"the hub's administrators."
            )
        return f"No computer in the cluster can run {what} ({err}); tell the hub's administrators."
    if "No such image" in err or "pull access denied" in err or "manifest unknown" in err:
        return (
            f"The image of {what} could not be fetched by the computer chosen for it "
            f"(the cluster's registry may be down): {detail}. Tell the hub's "
            "administrators."
        )
    return f"{what[0].upper()}{what[1:]} failed to start: {detail}"
