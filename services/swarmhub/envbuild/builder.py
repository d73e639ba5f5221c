"""One build of an environment: check the reference, run repo2docker (pinned, with
swarmhub's engine and buildpacks), check the image, and say at each step what is
happening, as BinderHub's build API does: fetching, building, pushing, then built
or failed.

Runs as the builder's account (rootless podman). Nothing here is trusted from
the repository: its URL and ref were checked (common/environment_requests), git
may speak https (and what the operator allows) only, and the build is stopped
past its time limit.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..common.environment_requests import COMMIT, EnvironmentRequest
from .buildpack import BASE_ARG
from .engine import push_command

# What a person watching the build sees, in order (BinderHub's phases).
PHASES = ("waiting", "fetching", "building", "pushing", "checking", "built", "failed")
TAIL_LINES = 200
Report = Callable[[str, str], None]  # (phase, line)


class BuildFailed(Exception):
    """A build that did not give an environment, with the reason a person reads."""


@dataclass(frozen=True)
class BuilderSettings:
    registry: str  # host:port of the cluster's registry
    notebook_image: str  # the cluster's notebook image, by digest
    timeout_s: int = 1800
    git_timeout_s: int = 60
    schemes: tuple[str, ...] = ("https",)
    repo2docker: str = "repo2docker"
    push: bool = True


# git's settings in every build: no prompt, no credential helper, no system or user
# config, and only the allowed transports (never ext::, file:// or a local path).
GIT_SAFETY = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_ASKPASS": "/bin/false",
    "SSH_ASKPASS": "/bin/false",
    "GIT_PROTOCOL_FROM_USER": "0",
}


def git_env(schemes: Sequence[str], base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of git (and of repo2docker, whose git clones): `base` (by
    default only PATH, HOME and the CA settings) with GIT_SAFETY and the allowed
    transports."""
    if base is None:
        base = {
            name: os.environ[name]
            for name in ("PATH", "HOME", "SSL_CERT_FILE", "GIT_SSL_CAINFO", "LANG")
            if name in os.environ
        }
    return {**base, **GIT_SAFETY, "GIT_ALLOW_PROTOCOL": ":".join(schemes)}


def resolve_ref(url: str, ref: str, settings: BuilderSettings) -> str:
    """The commit `ref` names in the repository (a commit is taken as it is: git
    names commits only by their branches and tags; fetching it says if it exists)."""
    if COMMIT.match(ref):
        return ref
    try:
        proc = subprocess.run(
            # the peeled line of an annotated tag (v1^{}) holds its commit
            ["git", "ls-remote", "--", url, ref, f"{ref}^{{}}"],
            capture_output=True,
            text=True,
            timeout=settings.git_timeout_s,
            env=git_env(settings.schemes),
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise BuildFailed(
            f"The repository {url} did not answer within {settings.git_timeout_s} s."
        ) from None
    if proc.returncode != 0:
        reason = _last(proc.stderr)
        raise BuildFailed(f"{url} is not a git repository the builder can read: {reason}")
    return pick_ref(proc.stdout, ref, url)


def pick_ref(listing: str, ref: str, url: str) -> str:
    """The commit of `ref` in `git ls-remote` output: a branch, a tag (peeled to its
    commit), or HEAD."""
    refs: dict[str, str] = {}
    for line in listing.splitlines():
        commit, _, name = line.partition("\t")
        refs[name] = commit
    for name in (
        ref,
        f"refs/heads/{ref}",
        f"refs/tags/{ref}^{{}}",
        f"refs/tags/{ref}",
    ):
        if name in refs:
            return refs[name]
    raise BuildFailed(f"There is no branch or tag {ref!r} in {url}.")


def image_name(settings: BuilderSettings, name: str, commit: str) -> str:
    return f"{settings.registry}/swarmhub/env-{name}:{commit[:12]}"


def repo2docker_config(settings: BuilderSettings) -> str:
    """repo2docker's settings for one build (a config file: its traitlets)."""
    return "\n".join(
        [
            "from repo2docker import contentproviders",
            "from swarmhub.envbuild.buildpack import BUILDPACKS, NotebookBuildPack",
            "# git only: the other providers ask outside services at every build",
            "c.Repo2Docker.content_providers = [contentproviders.Git]",
            "c.Repo2Docker.buildpacks = BUILDPACKS",
            "c.Repo2Docker.default_buildpack = NotebookBuildPack",
            f"c.Repo2Docker.base_image = {settings.notebook_image!r}",
            f"c.Repo2Docker.extra_build_args = {{{BASE_ARG!r}: {settings.notebook_image!r}}}",
            "",
        ]
    )


def repo2docker_command(
    settings: BuilderSettings, request: EnvironmentRequest, commit: str, config: str
) -> list[str]:
    command = [
        settings.repo2docker,
        "--config",
        config,
        "--engine",
        "swarmhub-podman",
        "--json-logs",
        "--no-run",
        "--user-id",
        "1000",
        "--user-name",
        "jovyan",
        "--ref",
        commit,
        "--image-name",
        image_name(settings, request.name, commit),
    ]
    return [*command, request.repo_url]


def parse_line(line: str, phase: str) -> tuple[str, str]:
    """(phase, text) of one line of repo2docker's --json-logs output."""
    try:
        record = json.loads(line)
    except ValueError:
        return phase, line.rstrip("\n")
    if not isinstance(record, dict):
        return phase, line.rstrip("\n")
    text = str(record.get("message", "")).rstrip("\n")
    new = str(record.get("phase") or phase)
    return (new if new in PHASES else phase), text


@dataclass(frozen=True)
class BuildResult:
    commit: str
    image: str  # by digest when pushed, else by tag
    seconds: float


def run_build(
    settings: BuilderSettings,
    request: EnvironmentRequest,
    report: Report,
    clock: Callable[[], float] = time.monotonic,
) -> BuildResult:
    """Build `request` once; each line goes to report(phase, line) as it comes.
    Raises BuildFailed saying why (the log has the rest)."""
    started = clock()
    report("fetching", f"Looking up {request.ref} in {request.repo_url}")
    commit = resolve_ref(request.repo_url, request.ref, settings)
    report("fetching", f"{request.ref} is commit {commit}")
    with tempfile.TemporaryDirectory(prefix="swarmhub-envbuild-") as tmp:
        digest_file = str(Path(tmp) / "digest")
        config = Path(tmp) / "repo2docker_config.py"
        config.write_text(repo2docker_config(settings))
        command = repo2docker_command(settings, request, commit, str(config))
        phase = "fetching"
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            start_new_session=True,  # the timeout stops podman's children too
            env=git_env(settings.schemes, dict(os.environ)),
        )
        assert proc.stdout is not None
        timer = _stop_at_deadline(proc, started + settings.timeout_s - clock())
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        try:
            for line in proc.stdout:
                phase, text = parse_line(line, phase)
                tail.append(text)
                report(phase if phase != "failed" else "building", text)
            returncode = proc.wait()
        finally:
            timer.cancel()
        if returncode != 0 and clock() - started >= settings.timeout_s:
            raise BuildFailed(
                f"The build ran past its time limit ({settings.timeout_s // 60} min) and was "
                "stopped."
            )
        if returncode != 0:
            raise BuildFailed(failure_message(list(tail), returncode))
        name = image_name(settings, request.name, commit)
        report("checking", "Checking that the image runs the way the cluster's servers run")
        check_image(name, settings.notebook_image)
        digest = push(name, digest_file, report) if settings.push else ""
    image = f"{name.rsplit(':', 1)[0]}@{digest}" if digest else name
    return BuildResult(commit=commit, image=image, seconds=clock() - started)


def push(image: str, digest_file: str, report: Report) -> str:
    """Push the checked image to the cluster's registry; its digest."""
    report("pushing", f"Pushing {image} to the cluster's registry")
    proc = subprocess.run(
        push_command(image, digest_file),
        capture_output=True,
        text=True,
        timeout=1800,
        stdin=subprocess.DEVNULL,
    )
    for line in (proc.stdout + proc.stderr).splitlines():
        report("pushing", line)
    if proc.returncode != 0:
        raise BuildFailed(f"Pushing to the cluster's registry failed: {_last(proc.stderr)}")
    return Path(digest_file).read_text().strip()


def _last(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def failure_message(tail: list[str], returncode: int) -> str:
    """What a person reads when a build failed: a refusal's own words, else pip's or
    apt's error, else the last error line of the log."""
    refusal = re.compile(
        r"RefusedRepository: (.*)|Error during build: "
        r"(The (?:repository describes|Dockerfile's last stage).*)"
    )
    for line in reversed(tail):
        refused = refusal.search(line)
        if refused:
            return refused.group(1) or refused.group(2)
    tools = [line.strip() for line in tail if line.lstrip().startswith(("ERROR:", "E: "))]
    errors = [line for line in tail if re.search(r"error|failed", line, re.IGNORECASE)]
    last = (tools or errors or [line for line in tail if line.strip()] or [""])[-1].strip()
    return f"The build failed: {last or f'repo2docker exited {returncode}'}"


def _stop_at_deadline(proc: subprocess.Popen[str], seconds: float) -> threading.Timer:
    """Kill the build's process group (repo2docker, podman and its steps) after `seconds`."""

    def kill() -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(max(0.0, seconds), kill)
    timer.daemon = True
    timer.start()
    return timer


def image_problem(built: dict[str, Any], base: dict[str, Any]) -> str | None:
    """Why the built image cannot be an environment, from `podman image inspect` of it
    and of the notebook image; None when it can: it holds the notebook image's
    layers first (it was built FROM it) and keeps its entrypoint and command."""
    base_layers = base.get("RootFS", {}).get("Layers") or []
    layers = built.get("RootFS", {}).get("Layers") or []
    if not base_layers or layers[: len(base_layers)] != base_layers:
        return (
            "The image was not built on the cluster's notebook image (its layers are not "
            f"the notebook image's): start the Dockerfile with FROM ${{{BASE_ARG}}}."
        )
    for key in ("Entrypoint", "Cmd"):
        if built.get("Config", {}).get(key) != base.get("Config", {}).get(key):
            return (
                f"The image changes the notebook image's {key.upper()}: servers must start "
                "the way the notebook image starts them; remove it from the Dockerfile."
            )
    return None


def check_image(image: str, notebook_image: str) -> None:
    """image_problem() of the local images, as BuildFailed."""
    proc = subprocess.run(
        ["podman", "image", "inspect", image, notebook_image],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        raise BuildFailed(f"Cannot inspect the built image: {proc.stderr.strip()}")
    built, base = json.loads(proc.stdout)
    problem = image_problem(built, base)
    if problem:
        raise BuildFailed(problem)
