"""SwarmUserSpawner: each user's server is a swarm service running as the user's own uid/gid.

Differences from dockerspawner's SwarmSpawner, and why:
- the server's address is its task's IP on the overlay network, read from the swarm
  API: the service name's VIP needs IPVS, and with dnsrr the name keeps resolving to a
  removed task for a while;
- start polls the task quickly (no 1 s sleeps with backoff) and fails fast with the
  task's own error text;
- removing the service waits until its tasks are gone, so a restart never talks to
  the old container, except tasks on a node the swarm has given up (down): nothing
  there can be waited for;
- a server whose task is on a node that is down counts as stopped (poll), so the
  hub stops routing to it and offers a restart, which lands on a live node; the
  user's page then says why (stop_reasons, templates/not_running.html);
- the service spec is built by a plain function (service_create_kwargs) with the
  home directory mounted as the user, and swarm told not to restart the container:
  the hub, not swarm, decides when a server runs;
- the container is hardened: every capability dropped (an empty bounding set) and a
  pids limit, both swarm service fields since API 1.41 (engine 20.10). An older
  engine drops them silently, so the spawner reads the service back and refuses to
  run a server that lost them. No-new-privileges cannot be asked per service on
  20.10: the nodes' engines set it for every container (role docker).
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from docker.errors import NotFound
from docker.types import (
    Mount,
)
from dockerspawner import SwarmSpawner
from tornado.web import HTTPError
from traitlets import Any as AnyTrait
from traitlets import Dict, Float, Int, List, Unicode, default

from ..common.accounts import Account, account_from_auth_state, ensure_unprivileged, lookup_account
from ..common.environment_catalog import CatalogError
from .environments import (
    Environment,
    UnknownEnvironment,
    built_environments,
    choose_environment,
    environments_form,
    options_from_form,
    parse_environments,
)
from .projects import (
    PROJECTS_FOLDER,
    HomeMissing,
    ProjectError,
    ensure_project,
    list_projects,
)
from .service_spec import (
    CONTAINER_HOME_ROOT,
    DEFAULT_PIDS_LIMIT,
    SERVER_LABEL,
    container_args,
    lost_hardening,
    server_label,
    service_create_kwargs,
    service_name_for,
    share_mounts,
)
from .shares import (
    AUTH_SYS_MAX_GROUPS,
    accessible_shares,
    group_ids,
    groups_past_auth_sys,
    parse_shares,
    user_groups,
)
from .swarm_tasks import (
    current_task,
    failure_for_user,
    hostname_of,
    is_terminal,
    node_is_lost,
    progress_of,
    task_address,
    task_error,
    task_state,
    unplaceable,
)


class SharedRead:
    """One answer of the swarm's API, shared by every server's spawner and read
    again once older than the max_age asked for: polling N servers then costs one
    call per max_age, not N."""

    def __init__(self) -> None:
        self.value: Any = None
        self.read_at: float | None = None

    async def get(self, read: Callable[[], Awaitable[Any]], max_age: float) -> Any:
        now = asyncio.get_running_loop().time()
        if self.read_at is None or now - self.read_at >= max_age:
            self.value = await read()
            self.read_at = now
        return self.value


# Why a server stopped without anyone asking (its node went down), by (user name,
# server name), until its next start. Not on the spawner: JupyterHub drops a
# stopped server's spawner object, and the user's page comes after that.
_STOP_REASONS: dict[tuple[str, str], str] = {}


def stop_reasons(user: Any) -> dict[str, str]:
    """{server name: why it stopped} of a user, for the "not running" page (the
    hub's template variable stop_reasons)."""
    if user is None:
        return {}
    return {server: why for (name, server), why in _STOP_REASONS.items() if name == user.name}


class ServerCannotStart(RuntimeError):
    """A start that cannot succeed, with a message for the user: JupyterHub shows an
    exception's jupyterhub_message (and nothing else) on the failed spawn's page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.jupyterhub_message = message


async def wait_for_port(host: str, port: int, timeout: float, interval: float) -> bool:
    """True once host:port accepts a TCP connection; False if it has not within timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            connecting = asyncio.open_connection(host, port)
            _reader, writer = await asyncio.wait_for(connecting, timeout=max(interval, 1.0))
        except (OSError, TimeoutError):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(interval)
        else:
            writer.close()
            return True


class SwarmUserSpawner(SwarmSpawner):
    """Runs each user server as a swarm service, as the user's own uid/gid, home from NFS."""

    # Shared by every spawner (node_state_ttl): the swarm's nodes by ID, and the
    # tasks meant to run, by service ID.
    _nodes = SharedRead()
    _running_tasks = SharedRead()

    passwd_file = Unicode(
        "/etc/passwd",
        help="""The hub host's passwd file (mounted read-only into the hub container).

        Users without an entry here (and without uid/gid in their auth_state)
        cannot start a server.
        """,
    ).tag(config=True)

    home_root = Unicode(
        "/home",
        help="""Directory holding users' homes on the swarm nodes (NFS mount of the hub's /home).

        home_root/USER is bind-mounted at /home/USER in the user's container.
        """,
    ).tag(config=True)

    min_uid = Int(
        1000,
        help="""Lowest uid a user server may run as; lower uids are system accounts.""",
    ).tag(config=True)

    task_poll_interval = Float(
        0.2,
        help="""Seconds between looks at the swarm task while starting or stopping a server.""",
    ).tag(config=True)

    stop_wait_timeout = Float(
        60,
        help="""Longest wait, in seconds, for a removed service's containers to stop.

        After that the stop completes anyway, with a warning in the log.
        """,
    ).tag(config=True)

    node_state_ttl = Float(
        5,
        help="""Seconds the swarm's node list is reused before it is read again. One
        read serves every server's poll, however many servers run.""",
    ).tag(config=True)

    unplaceable_timeout = Float(
        15,
        help="""Seconds a new server may wait for a node with room (or one meeting its
        constraints) before its start fails saying so, rather than at start_timeout.""",
    ).tag(config=True)

    progress_events: List[dict[str, Any]] = List(
        help="""The spawn page's events of the current start (see progress).""",
    )

    environments = List(
        Dict(),
        help="""Environments users choose from: dicts with name, image, description,
        mem_limit and mem_reservation (bytes), cpu_limit, seed_from (a folder in the
        image). The first is the default. Each server of environment E starts in
        HOME/E, seeded from the image's seed_from folder on its first start and never
        overwritten after.
        Empty: the configured image, no choice.
        """,
    ).tag(config=True)

    built_environments_file = Unicode(
        "",
        help="""The environment builder's catalog (read-only here): the environments it
        has built are offered after these, read at each start. Empty: none.""",
    ).tag(config=True)

    shares = List(
        Dict(),
        help="""Shared folders: dicts with name, path (on the nodes), level
        (public|private|secret), readers, writers (usernames or "@unixgroup").""",
    ).tag(config=True)

    group_file = Unicode(
        "/etc/group",
        help="""The hub host's group file: share groups and users' unix groups.""",
    ).tag(config=True)

    hub_home_root = Unicode(
        "",
        help="""Where the hub host's /home is mounted in the hub container. The hub
        makes HOME/projects there; empty turns projects off.""",
    ).tag(config=True)

    project_limit = Int(
        5,
        help="""Most projects (folders in HOME/projects) a user may have.""",
    ).tag(config=True)

    data_dir = Unicode(
        "",
        help="""Folder on the nodes mounted read-only at the same path in every server
        (the shared data); empty for none.""",
    ).tag(config=True)

    pids_limit = Int(
        DEFAULT_PIDS_LIMIT,
        help="""Most processes and threads one server may run at once (the container's
        pids cgroup limit, swarm's Resources.Limits.Pids); 0 for no limit.""",
    ).tag(config=True)

    node_images = AnyTrait(
        None,
        help="""The built environments' images on the nodes (node_images.NodeImages):
        only those offered; None: every built environment with an image.""",
    ).tag(config=True)

    node = Unicode(
        "",
        help="""Hostname of the swarm node the server runs on (kept in the server's
        state; the stats service reads it).""",
    )

    @default("object_name")
    def _object_name_default(self) -> str:
        return service_name_for(self.prefix, self.escaped_name, self.name or "")

    @default("options_form")
    def _default_options_form(self) -> Any:
        if len(self.environments) < 2 and not (self.hub_home_root or self.built_environments_file):
            return ""
        return _render_options_form

    def options_from_form(self, formdata: dict[str, list[str]]) -> dict[str, str]:
        return options_from_form(formdata)

    def all_environments(self) -> list[dict[str, Any]]:
        """The deploy's environments, then those built from git that have an image."""
        names = [e["name"] for e in self.environments]
        try:
            built = built_environments(self.built_environments_file, names)
        except (CatalogError, OSError, ValueError, KeyError, TypeError) as e:
            self.log.error("The built environments are not offered: %s", e)
            built = []
        if self.node_images is not None:  # only those whose image every node has
            on_nodes = self.node_images.ready()
            built = [env for env in built if env["image"] in on_nodes]
        return [*self.environments, *built]

    def chosen_environment(self) -> Environment | None:
        """The environment this server runs, from user_options (None: none configured)."""
        if not self.environments:
            return None
        envs = parse_environments(self.all_environments())
        try:
            return choose_environment(envs, self.user_options.get("environment"))
        except UnknownEnvironment as e:
            raise HTTPError(400, str(e)) from None

    def project(self) -> str:
        return str(self.user_options.get("project") or "")

    def get_state(self) -> dict[str, Any]:
        state: dict[str, Any] = super().get_state()
        if self.node:
            state["node"] = self.node
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.node = state.get("node", "")

    def clear_state(self) -> None:
        super().clear_state()
        self.node = ""

    @property
    def stop_reason(self) -> str:
        """Why this server last stopped without being asked ("" if it did not)."""
        return _STOP_REASONS.get((self.user.name, self.name or ""), "")

    @stop_reason.setter
    def stop_reason(self, why: str) -> None:
        if why:
            _STOP_REASONS[(self.user.name, self.name or "")] = why
        else:
            _STOP_REASONS.pop((self.user.name, self.name or ""), None)

    async def start(self) -> tuple[str, int]:
        self.stop_reason = ""
        self.progress_events = []
        self.apply_options()
        ip, port = await self._start_service()
        return ip, port

    def apply_options(self) -> None:
        """The chosen environment's image and limits; refuse what cannot start."""
        env = self.chosen_environment()
        if env is not None:
            # DockerSpawner.start also checks user_options["image"] against these
            self.allowed_images = {env.name: env.image}
            self.image = env.image
            # the environment's limits, none where it sets none (not the last start's)
            self.mem_limit = env.mem_limit
            self.cpu_limit = env.cpu_limit
            self.mem_guarantee = env.mem_reservation
        if self.project() and not self.hub_home_root:
            raise HTTPError(400, "Projects are turned off on this hub.")

    async def resolve_account(self) -> Account:
        """The account to run as: auth_state's uid/gid if stored, else the hub's passwd."""
        auth_state = await self.user.get_auth_state()
        account = account_from_auth_state(self.user.name, auth_state, self.home_root)
        if account is None:
            account = lookup_account(self.user.name, self.passwd_file)
        return ensure_unprivileged(account, self.min_uid)

    def server_env(self, account: Account) -> dict[str, str]:
        """Where the server starts: its environment's folder or its project's."""
        home = posixpath.join(CONTAINER_HOME_ROOT, account.name)
        env = self.chosen_environment()
        extra: dict[str, str] = {}
        if env is not None:
            extra["SWARMHUB_ENVIRONMENT"] = env.name
            extra["SWARMHUB_ENV_DIR"] = posixpath.join(home, env.name)
            extra["SWARMHUB_SEED_FROM"] = env.seed_from
        if self.project():
            extra["SWARMHUB_WORKDIR"] = posixpath.join(home, PROJECTS_FOLDER, self.project())
        elif env is not None:
            extra["SWARMHUB_WORKDIR"] = extra["SWARMHUB_ENV_DIR"]
        return extra

    def start_url(self, account: Account) -> str:
        """The JupyterLab page a server opens on (the file browser at its folder)."""
        if self.project():
            return f"/lab/tree/{PROJECTS_FOLDER}/{self.project()}"
        env = self.chosen_environment()
        return f"/lab/tree/{env.name}" if env is not None else ""

    def prepare_projects(self, account: Account) -> None:
        """HOME/projects/PROJECT made on the hub, as the user's, for a project's server.

        Never a mount of its own: a bind mount's source is resolved by the
        node's engine as root, so a link the user put at HOME/projects would
        send it anywhere. Projects are reached through the home's own mount.
        """
        if not self.hub_home_root or not self.project():
            return  # a server without a project needs nothing of ~/projects
        try:
            ensure_project(
                Path(self.hub_home_root),
                account.name,
                self.project(),
                account.uid,
                account.gid,
                self.project_limit,
            )
        except HomeMissing as e:
            raise HTTPError(500, str(e)) from None
        except ProjectError as e:
            self.log.warning("Projects of %s refused: %s", account.name, e)
            raise HTTPError(400, str(e)) from None

    def share_access(self, account: Account) -> tuple[list[Mount], list[int]]:
        """Mounts and supplementary gids for the shares this user may see."""
        shares = parse_shares(self.shares)
        if not shares:
            return [], []
        groups = user_groups(account.name, account.gid, self.group_file)
        accesses = accessible_shares(shares, account.name, set(groups))
        wanted = [a.share.read_group for a in accesses]
        wanted += [a.share.write_group for a in accesses if a.writable]
        gids = group_ids(self.group_file, wanted)
        missing = sorted(set(wanted) - set(gids))
        if missing:
            # the shares role makes these groups; without them unix modes would refuse
            self.log.warning("Share groups missing on the hub host: %s", ", ".join(missing))
        self.log.info(
            "Server %s gets shares %s",
            self.service_name,
            ", ".join(f"{a.share.name}({'rw' if a.writable else 'ro'})" for a in accesses)
            or "none",
        )
        dropped = groups_past_auth_sys(gids)
        if dropped:
            self.log.warning(
                "Server %s gets %d share groups; NFS carries %d: over NFS it loses %s",
                self.service_name,
                len(gids),
                AUTH_SYS_MAX_GROUPS,
                ", ".join(dropped),
            )
        return share_mounts(accesses), sorted(set(gids.values()))

    async def create_object(self) -> dict[str, Any]:
        account = await self.resolve_account()
        self.prepare_projects(account)
        mounts: list[Mount] = []
        if self.data_dir:
            mounts.append(
                Mount(target=self.data_dir, source=self.data_dir, type="bind", read_only=True)
            )
        share_mounts_, gids = self.share_access(account)
        mounts += share_mounts_
        self.notebook_dir = posixpath.join(CONTAINER_HOME_ROOT, account.name)
        self.default_url = self.start_url(account)
        kwargs = service_create_kwargs(
            name=self.service_name,
            image=self.image,
            account=account,
            home_root=self.home_root,
            network=self.network_name,
            env={**self.get_env(), **self.server_env(account)},
            args=container_args(self.cmd, self.get_args()),
            mem_limit=self.mem_limit,
            cpu_limit=self.cpu_limit,
            mem_reservation=self.mem_guarantee,
            cpu_reservation=self.cpu_guarantee,
            pids_limit=self.pids_limit,
            extra_mounts=[*mounts, *self.mounts],
            groups=gids,
            placement=self.extra_placement_spec,
            extra_container_spec=self.extra_container_spec,
            extra_resources_spec=self.extra_resources_spec,
            extra_task_spec=self.extra_task_spec,
            extra_endpoint_spec=self.extra_endpoint_spec,
            labels={SERVER_LABEL: server_label(self.user.name, self.name or "")},
        )
        self.log.info(
            "Creating service %s as uid %s gid %s on network %s",
            self.service_name,
            account.uid,
            account.gid,
            self.network_name,
        )
        created: dict[str, Any] = await self.docker("create_service", **kwargs)
        await self.check_hardening(created["ID"], kwargs["task_template"])
        return created

    async def check_hardening(self, service_id: str, sent: Mapping[str, Any]) -> None:
        """Remove the new service and refuse the start if the engine dropped hardening."""
        service = await self.docker("inspect_service", service_id)
        kept = service.get("Spec", {}).get("TaskTemplate", {})
        lost = lost_hardening(sent, kept)
        if not lost:
            return
        self.log.error(
            "The swarm manager ignored %s for service %s: its API is older than 1.41 "
            "(Docker 20.10); the server is not started",
            ", ".join(lost),
            self.service_name,
        )
        try:
            await self.docker("remove_service", service_id)
        except NotFound:
            pass
        raise HTTPError(
            500,
            "This hub's Docker engine is too old to isolate servers "
            f"(it ignores {', '.join(lost)}); an administrator must upgrade it.",
        )

    async def service_tasks(self, service_id: str) -> list[dict[str, Any]]:
        """The service's tasks; none once the service is gone."""
        try:
            tasks: list[dict[str, Any]] = await self.docker(
                "tasks", filters={"service": service_id}
            )
            return tasks
        except NotFound:
            return []

    async def start_object(self) -> None:
        """Wait until the service's task runs; fail with a message naming the cause if
        it cannot: the task's own error, or no node able to take it (given up after
        unplaceable_timeout, not the whole start_timeout)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        last_report = ""
        unplaceable_since = None
        while True:
            task = current_task(await self.service_tasks(self.service_id))
            if task is not None:
                # log each change once: a task stuck in "pending" says why in its Err
                report = task_error(task)
                if report != last_report:
                    self.log.info("Server %s: %s", self.service_name, report)
                    last_report = report
                    self.add_progress(*progress_of(task))
                if task_state(task) == "running":
                    self.node = await self.node_hostname(task.get("NodeID", ""))
                    return
                if is_terminal(task):
                    raise ServerCannotStart(failure_for_user(task, self.describe_server()))
                if not unplaceable(task):
                    unplaceable_since = None
                elif unplaceable_since is None:
                    unplaceable_since = loop.time()
                elif loop.time() - unplaceable_since >= self.unplaceable_timeout:
                    raise ServerCannotStart(failure_for_user(task, self.describe_server()))
            if loop.time() >= deadline:
                detail = task_error(task) if task is not None else "no task was created"
                raise TimeoutError(
                    f"Server {self.service_name} not running after {self.start_timeout} s: {detail}"
                )
            await asyncio.sleep(self.task_poll_interval)

    def describe_server(self) -> str:
        """The server in a user's words: "a server of environment 'python' (…)"."""
        env = self.chosen_environment()
        if env is None:
            return "your server"
        reserves = (
            f" (it reserves {env.mem_reservation / 2**30:.1f} GiB of memory)"
            if env.mem_reservation
            else ""
        )
        return f"a server of environment '{env.name}'{reserves}"

    def add_progress(self, percent: int, message: str) -> None:
        """One more event for the spawn page (progress), unless it says the same."""
        if not self.progress_events or self.progress_events[-1]["message"] != message:
            self.progress_events.append({"progress": percent, "message": message})

    async def progress(self) -> AsyncIterator[dict[str, Any]]:
        """The spawn page's events as the task moves (JupyterHub stops reading when
        the spawn ends)."""
        sent = 0
        while True:
            for event in self.progress_events[sent:]:
                yield event
            sent = len(self.progress_events)
            await asyncio.sleep(0.5)

    async def _start_service(self) -> tuple[str, int]:
        ip, port = await super().start()
        # JupyterHub's own readiness check backs off exponentially (0.2 s, doubling)
        # once start() returns, so a server that comes up between two of its tries
        # waits for the next one; polling the port here at task_poll_interval hands
        # the hub a server that answers its first try. If the port stays closed,
        # the hub's check reports it as usual.
        if not await wait_for_port(ip, port, self.http_timeout, self.task_poll_interval):
            self.log.warning(
                "Server %s at %s:%s does not accept connections", self.service_name, ip, port
            )
        return ip, port

    async def node_hostname(self, node_id: str) -> str:
        """The hostname of a swarm node ("" if it cannot be read)."""
        if not node_id:
            return ""
        try:
            node = await self.docker("inspect_node", node_id)
        except NotFound:
            return ""
        return hostname_of(node)

    async def swarm_nodes(self, max_age: float | None = None) -> Mapping[str, Mapping[str, Any]]:
        """The swarm's nodes by ID, read again when older than max_age (node_state_ttl)."""

        async def read() -> dict[str, Mapping[str, Any]]:
            return {node["ID"]: node for node in await self.docker("nodes")}

        ttl = self.node_state_ttl if max_age is None else max_age
        nodes: Mapping[str, Mapping[str, Any]] = await SwarmUserSpawner._nodes.get(read, ttl)
        return nodes

    async def running_tasks(self) -> Mapping[str, list[Mapping[str, Any]]]:
        """Every swarm task meant to run, by service ID (read once per node_state_ttl)."""

        async def read() -> dict[str, list[Mapping[str, Any]]]:
            by_service: dict[str, list[Mapping[str, Any]]] = {}
            for task in await self.docker("tasks", filters={"desired-state": "running"}):
                by_service.setdefault(task.get("ServiceID", ""), []).append(task)
            return by_service

        by_service: Mapping[str, list[Mapping[str, Any]]]
        by_service = await SwarmUserSpawner._running_tasks.get(read, self.node_state_ttl)
        return by_service

    async def lost_node(self, task: Mapping[str, Any] | None, max_age: float | None = None) -> str:
        """The hostname of the node the task is on if the swarm has given that node up."""
        node_id = (task or {}).get("NodeID")
        if not node_id:
            return ""
        node = (await self.swarm_nodes(max_age)).get(node_id)
        return (hostname_of(node) or node_id[:12]) if node_is_lost(node) else ""

    async def get_ip_and_port(self) -> tuple[str, int]:
        """The running task's IP on the overlay network, and the notebook port."""
        task = current_task(await self.service_tasks(self.service_id))
        if task is None:
            raise RuntimeError(f"Service {self.service_name} has no task")
        ip = task_address(task, self.network_name)
        if ip is None:
            raise RuntimeError(
                f"Task of service {self.service_name} has no IPv4 address "
                f"on network {self.network_name!r}"
            )
        return ip, self.port

    async def poll(self) -> int | str | None:
        """None while the server runs or starts; otherwise why it stopped.

        A task on a node the swarm gave up counts as stopped: the node's containers
        cannot be reached, and swarm does not move a task whose restart policy is none.
        """
        # the common case, answered from the snapshot every server's poll shares:
        # a task meant to run, and running, on a live node
        if self.object_id:
            task = current_task((await self.running_tasks()).get(self.object_id, []))
            running = task is not None and task_state(task) == "running"
            if running and not await self.lost_node(task):
                return None
        if await self.get_object() is None:
            return 0
        task = current_task(await self.service_tasks(self.service_id))
        if task is None:
            return None
        if is_terminal(task):
            return task_error(task)
        lost = await self.lost_node(task)
        if not lost:
            return None
        self.log.warning(
            "Server %s counted as stopped: its node %s is down (%s)",
            self.service_name,
            lost,
            task_error(task),
        )
        self.stop_reason = (
            f"The computer your server ran on ({lost}) stopped answering, so your server "
            "stopped. Your files are kept on the hub; unsaved changes in open notebooks "
            "may be lost. Start your server again: it will run on another computer."
        )
        return f"node {lost} is down"

    async def remove_object(self) -> None:
        """Remove the service, then wait (bounded) until its containers have stopped."""
        if not self.object_id and await self.get_object() is None:
            return
        service_id = self.object_id
        live = [t["ID"] for t in await self.service_tasks(service_id) if not is_terminal(t)]
        self.log.info("Removing service %s (id: %s)", self.service_name, service_id[:7])
        try:
            await self.docker("remove_service", service_id)
        except NotFound:
            self.log.debug("Service %s was already removed", service_id[:7])
        await self.wait_for_tasks_to_end(live)

    async def wait_for_tasks_to_end(self, task_ids: Sequence[str]) -> None:
        """Wait until each task is gone or terminal, at most stop_wait_timeout seconds.

        Tasks are inspected one by one: after removal the engine no longer accepts
        the service, not even its ID, as a task filter. A task on a node that is
        down is not waited for: its node's engine cannot stop it until it is back,
        and swarm removes it then.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.stop_wait_timeout
        pending = list(task_ids)
        while pending:
            still_live = []
            for task_id in pending:
                try:
                    task = await self.docker("inspect_task", task_id)
                except NotFound:
                    continue
                if is_terminal(task):
                    continue
                lost = await self.lost_node(task)
                if lost:
                    self.log.info(
                        "Task %s of service %s is on node %s, which is down: not waited for",
                        task_id[:12],
                        self.service_name,
                        lost,
                    )
                    continue
                still_live.append(task_id)
            pending = still_live
            if pending and loop.time() >= deadline:
                self.log.warning(
                    "Tasks %s of removed service %s still not stopped after %s s",
                    ", ".join(t[:12] for t in pending),
                    self.service_name,
                    self.stop_wait_timeout,
                )
                return
            if pending:
                await asyncio.sleep(self.task_poll_interval)


async def _render_options_form(spawner: SwarmUserSpawner) -> str:
    """The spawn form for one user: environments, and the user's projects."""
    projects: list[str] = []
    if spawner.hub_home_root:
        try:
            projects = list_projects(Path(spawner.hub_home_root), spawner.user.name)
        except ProjectError as e:
            # the form still offers the environments; starting a project says why
            spawner.log.warning("Projects of %s not listed: %s", spawner.user.name, e)
    envs = parse_environments(spawner.all_environments()) if spawner.environments else []
    return environments_form(envs, projects)
