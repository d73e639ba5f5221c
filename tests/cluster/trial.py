"""The trial cluster as the cluster tests see it: commands on its hosts,
deploys, and the state a user's server leaves behind.

The hosts are containers of this machine's Docker engine (script/cluster),
so "on the hub host" means `docker exec hub ...`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
GATEWAY = "10.213.7.1"  # this machine's address on the trial network (script/cluster)
PUBLIC_URL = "https://localhost:8443"
NODES = ("node1", "node2")


def run(
    args: list[str],
    timeout: float = 600,
    check: bool = True,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {proc.returncode}\n"
            f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def on_host(host: str, command: str, check: bool = True, timeout: float = 120) -> str:
    """Run a shell command on a trial host; return its stdout."""
    return run(["docker", "exec", host, "sh", "-c", command], timeout, check).stdout.strip()


@dataclass
class DeployResult:
    seconds: float
    output: str

    def recap(self) -> dict[str, dict[str, int]]:
        """PLAY RECAP counters by host."""
        counts = {}
        for host, fields in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", self.output, re.M):
            counts[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", fields)}
        return counts

    def roles_run(self) -> set[str]:
        """Roles whose tasks ran (fact gathering and plain tasks excluded)."""
        return set(re.findall(r"^TASK \[(\w+) : ", self.output, re.M))

    def tasks_of(self, role: str) -> list[str]:
        """The names of the tasks of `role` that ran, in order."""
        return re.findall(rf"^TASK \[{role} : (.*?)\] \**$", self.output, re.M)


def deploy(*args: str, log_name: str, timeout: float = 1500) -> DeployResult:
    """./script/deploy ARGS; its output is kept in test-artifacts/LOG_NAME."""
    ARTIFACTS.mkdir(exist_ok=True)
    start = time.monotonic()
    # each task's time, and the slowest at the end, in the kept log
    env = {**os.environ, "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks"}
    proc = run(["./script/deploy", *args], timeout=timeout, check=False, env=env)
    seconds = time.monotonic() - start
    output = proc.stdout + proc.stderr
    (ARTIFACTS / log_name).write_text(output)
    if proc.returncode != 0:
        raise AssertionError(f"./script/deploy {' '.join(args)} failed:\n{output[-6000:]}")
    return DeployResult(seconds, output)


def record_timing(name: str, seconds: float) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with (ARTIFACTS / "timings.txt").open("a") as timings:
        timings.write(f"{name} {seconds:.1f}\n")


def service_tasks(service: str) -> list[dict]:
    out = on_host(
        "hub", f"docker service ps --no-trunc --format '{{{{json .}}}}' {service}", check=False
    )
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def service_tasks_all() -> list[dict]:
    """Every running task of every swarm service."""
    out = on_host(
        "hub",
        "docker service ls -q | xargs -r docker service ps --no-trunc "
        "--filter desired-state=running --format '{{json .}}'",
        check=False,
    )
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def running_task(service: str) -> dict | None:
    tasks = [t for t in service_tasks(service) if t["CurrentState"].startswith("Running")]
    return tasks[0] if tasks else None


def exec_in_server(
    username: str, command: str, check: bool = True, service: str | None = None
) -> subprocess.CompletedProcess:
    """Run a command inside the user's server container (default server unless
    `service` names another), as the container's own user (the user's uid):
    what code in a notebook could do."""
    service = service or f"jupyter-{username}"
    task = running_task(service)
    assert task, f"{service} has no running task"
    node = task["Node"]
    container = on_host(
        node, f"docker ps -q --filter label=com.docker.swarm.service.name={service}"
    )
    assert container, f"no container of {service} on {node}"
    proc = run(
        ["docker", "exec", node, "docker", "exec", container, "sh", "-c", command], check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"in {service}: {command} exited {proc.returncode}: {proc.stderr}")
    return proc


def server_cwd(username: str, service: str | None = None) -> str:
    """The folder the user's Jupyter server runs in (docker exec starts elsewhere)."""
    # by process name (the script's, cut to 15 characters), not tini's arguments
    command = "readlink /proc/$(pgrep -o jupyterhub-sing)/cwd"
    return exec_in_server(username, command, service=service).stdout.strip()


def diagnostics() -> str:
    """What explains a failure: hosts, the hub's log, the swarm's services."""
    parts = []

    def section(title: str, args: list[str]) -> None:
        proc = run(args, timeout=60, check=False)
        parts.append(f"----- {title}\n{proc.stdout}{proc.stderr}")

    section("trial hosts", ["docker", "ps", "-a", "--filter", "label=swarmhub.trial=1"])
    section("swarm nodes", ["docker", "exec", "hub", "docker", "node", "ls"])
    section("swarm services", ["docker", "exec", "hub", "docker", "service", "ls"])
    section(
        "user server tasks",
        [
            "docker",
            "exec",
            "hub",
            "sh",
            "-c",
            "for s in $(docker service ls -q); do docker service ps --no-trunc $s; done",
        ],
    )
    section(
        "user server logs",
        [
            "docker",
            "exec",
            "hub",
            "sh",
            "-c",
            "for s in $(docker service ls -q); do docker service logs --tail 40 $s 2>&1; done",
        ],
    )
    section(
        "hub container log",
        ["docker", "exec", "hub", "docker", "logs", "--tail", "150", "jupyterhub"],
    )
    for host in ("proxy", "hub", *NODES):
        section(
            f"{host}: failed units and docker journal",
            [
                "docker",
                "exec",
                host,
                "sh",
                "-c",
                "systemctl --failed --no-legend; journalctl -u docker -u nginx --no-pager -n 30",
            ],
        )
    return "\n".join(parts)


def save_host_logs(folder: Path) -> None:
    """Each trial host's journal and the hub's container log, into FOLDER:
    what a failed or stopped run leaves for someone to read."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "diagnostics.txt").write_text(diagnostics())
    commands = {f"{host}-journal.log": [host, "journalctl", "--no-pager", "-n", "3000"]
                for host in ("proxy", "hub", *NODES)}  # fmt: skip
    commands["hub-jupyterhub.log"] = ["hub", "docker", "logs", "--tail", "3000", "jupyterhub"]
    for name, args in commands.items():
        proc = run(["docker", "exec", *args], timeout=60, check=False)
        (folder / name).write_text(proc.stdout + proc.stderr)


def hosts_exist() -> bool:
    proc = run(["docker", "ps", "-q", "--filter", "label=swarmhub.trial=1"], 30, check=False)
    return bool(proc.stdout.strip())


def home_checksum(username: str) -> str:
    """One checksum of a user's files on the hub's /home: all but the hidden folders,
    where Jupyter keeps its own state (runtime files, the lab's workspace), which a
    restart rewrites."""
    return on_host(
        "hub",
        f"cd /home/{username} && find . -path './.*' -prune -o -type f -print0"
        " | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum",
    )


def drill_files(username: str, size: int = 200_000) -> str:
    """Random bytes in ~/drill/data.bin of a user's running server; then the checksum
    of her home (home_checksum) a drill compares with at its end."""
    exec_in_server(username, f"mkdir -p ~/drill && head -c {size} /dev/urandom > ~/drill/data.bin")
    return home_checksum(username)


def wait_until(what: str, condition, timeout: float, interval: float = 1.0) -> float:
    """Seconds until condition() holds; fails saying what did not happen."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"not within {timeout:.0f}s: {what}"
        time.sleep(interval)
    return time.monotonic() - start
