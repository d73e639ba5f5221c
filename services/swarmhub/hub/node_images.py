"""Built environments' images on every node before anyone may choose them, and off
the nodes once their environment is gone.

Swarm workers never pull for a task: the hub sends no registry login with a service
(roles/registry) and servers name their image by digest. So an image built from git
is first copied onto every node that runs servers, by a swarm global job: on each
node, a container of the notebook image (every node has it) asks the node's engine,
through its socket and with the node's own registry login, to pull it
(node_image_job.py). Until that job has completed on every node, the environment is
not offered. When an environment is removed or rebuilt, a job of the same kind
removes its old image from the nodes; an engine keeps an image a container still
uses. The registry keeps its copy (its API deletes nothing: registry_delete_enabled).

A thread of the hub's process looks every few seconds (docker's client blocks).
After a hub restart every image is pulled again: a node that has it answers at once.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docker.errors import DockerException
from docker.types import ContainerSpec, Mount, Placement, RestartPolicy, ServiceMode, TaskTemplate

from ..common.environment_catalog import Catalog, CatalogError

# a child of the hub's own logger: its lines go where the hub's go
log = logging.getLogger("JupyterHub.node_images")

JOB_SCRIPT = (Path(__file__).with_name("node_image_job.py")).read_text()
JOB_LABEL = "swarmhub.node-image-job"
SUCCEEDED = {"complete"}
ENDED = SUCCEEDED | {"failed", "rejected", "shutdown", "orphaned", "remove"}
# a job no node took (no node matches the constraints) counts as done after this
NO_TASK_GRACE_S = 30.0
# a pull that failed is tried again after this
RETRY_AFTER_S = 60.0


@dataclass
class Job:
    action: str  # pull or remove
    image: str
    service_id: str
    started: float


@dataclass
class NodeImages:
    client: Any  # docker.APIClient of the swarm manager
    catalog_file: str
    job_image: str  # an image every node has, with python3 (the notebook image)
    constraints: list[str] = field(default_factory=list)  # where servers may run
    interval_s: float = 5.0
    # images on every node: the only built ones users may choose
    _ready: set[str] = field(default_factory=set)
    _jobs: dict[str, Job] = field(default_factory=dict)
    _failures: dict[str, str] = field(default_factory=dict)
    _retry_at: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __deepcopy__(self, memo: dict[int, Any]) -> NodeImages:
        # one live watcher, shared: traitlets copies config values (the spawner's
        # trait, the page's handler arguments)
        return self

    def ready(self) -> set[str]:
        with self._lock:
            return set(self._ready)

    def state(self, image: str) -> str:
        """What the page shows of an image: on the nodes, being copied, or why not."""
        with self._lock:
            if image in self._ready:
                return "on every node"
            if image in self._failures:
                return f"not on the nodes: {self._failures[image]}"
            return "being copied to the nodes"

    def start(self) -> None:
        # jobs a previous hub process left (it stopped while they ran)
        for service in self.client.services(filters={"label": JOB_LABEL}):
            self.client.remove_service(service["ID"])
        threading.Thread(target=self._run, name="node-images", daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                self.sync_once()
            except Exception:  # keep watching: the next round may find the engine back
                log.exception("Copying built images to the nodes failed this round")
            time.sleep(self.interval_s)

    def sync_once(self) -> None:
        try:
            wanted = {env.image for env in Catalog.load(Path(self.catalog_file)) if env.usable}
        except (CatalogError, OSError) as e:
            log.error("The builder's catalog cannot be read: %s", e)
            return
        self._finish_jobs()
        busy = {job.image for job in self._jobs.values()}
        with self._lock:
            gone = self._ready - wanted
            self._ready -= gone
        now = time.monotonic()
        for image in sorted(wanted - self.ready() - busy):
            if self._retry_at.get(image, 0.0) <= now:
                self._try_job("pull", image)
        for image in sorted(gone - busy):
            self._try_job("remove", image)

    def _try_job(self, action: str, image: str) -> None:
        """Start a job; one the manager refuses is shown and tried again later, and
        holds up no other image."""
        try:
            self._start_job(action, image)
        except DockerException as e:
            log.error("The %s of %s could not start: %s", action, image, e)
            with self._lock:
                self._failures[image] = f"the swarm manager refused the job: {e}"
                self._retry_at[image] = time.monotonic() + RETRY_AFTER_S

    def _start_job(self, action: str, image: str) -> None:
        spec = ContainerSpec(
            self.job_image,
            command=["python3", "-c", JOB_SCRIPT, action, image],
            user="root",  # owns the engine's socket and the login: no capability needed
            mounts=[
                Mount("/var/run/docker.sock", "/var/run/docker.sock", type="bind"),
                Mount(
                    "/root/.docker/config.json",
                    "/root/.docker/config.json",
                    type="bind",
                    read_only=True,
                ),
            ],
            cap_drop=["ALL"],  # and no new privileges: the nodes' engines' default
        )
        template = TaskTemplate(
            spec,
            restart_policy=RestartPolicy("none"),
            placement=Placement(constraints=self.constraints),
        )
        created = self.client.create_service(
            template,
            name=f"swarmhub-{action}-{image.rsplit('@', 1)[-1].replace('sha256:', '')[:12]}",
            labels={JOB_LABEL: action},
            mode=ServiceMode("global-job"),
        )
        log.info("Started %s of %s on every node (job %s)", action, image, created["ID"][:12])
        self._jobs[created["ID"]] = Job(action, image, created["ID"], time.monotonic())

    def _finish_jobs(self) -> None:
        for service_id, job in list(self._jobs.items()):
            tasks = self.client.tasks(filters={"service": service_id})
            states = [t["Status"]["State"] for t in tasks]
            waited = time.monotonic() - job.started
            if any(s not in ENDED for s in states) or (not tasks and waited < NO_TASK_GRACE_S):
                continue
            failed = [
                t["Status"].get("Err") or t["Status"]["State"]
                for t in tasks
                if t["Status"]["State"] not in SUCCEEDED
            ]
            self.client.remove_service(service_id)
            del self._jobs[service_id]
            with self._lock:
                if job.action == "pull" and not failed:
                    self._ready.add(job.image)
                    self._failures.pop(job.image, None)
                elif failed:
                    self._failures[job.image] = "; ".join(sorted(set(failed)))
                    self._retry_at[job.image] = time.monotonic() + RETRY_AFTER_S
            if failed:
                log.error(
                    "%s of %s failed on %d node(s): %s", job.action, job.image, len(failed), failed
                )
            else:
                log.info("%s of %s done on %d node(s)", job.action, job.image, len(tasks))
